"""`cefw diff`: what differs between two plans, in the admin's words."""

from __future__ import annotations

from typing import Any

from ..plan.compare import Diff

_FIELD = {"local_ports": "local ports", "remote_addresses": "Source addresses",
          "profiles": "profiles", "program": "program", "protocol": "protocol",
          "enabled": "enabled", "direction": "direction", "action": "action",
          "group": "group"}


def _value(field: str, value: Any) -> str:
    if value is None:
        return "-"
    if field == "local_ports":
        return ",".join(f"{a}" if a == b else f"{a}-{b}" for a, b in value) or "any"
    if isinstance(value, list):
        return ", ".join(str(v) for v in value) or "-"
    return str(value)


def _ports(ranges: list) -> str:
    return _value("local_ports", ranges) if ranges else "none"


def render(view: Diff, **options: object) -> str:
    out = [f"A: {view.a.label}", f"B: {view.b.label}"]
    if view.same:
        return "\n".join([*out, "Same rules, listeners and findings.", ""])
    out.append(f"Rules: {len(view.rules_added)} only in B, {len(view.rules_removed)} "
               f"only in A, {len(view.rules_changed)} changed")
    for r in view.rules_added:
        out.append(f"  + {r['name']}: {r['protocol']} {_value('local_ports', r['local_ports'])}"
                   f" from {_value('remote_addresses', r['remote_addresses'])}")
    for r in view.rules_removed:
        out.append(f"  - {r['name']}: {r['protocol']} "
                   f"{_value('local_ports', r['local_ports'])}")
    for change in view.rules_changed:
        out.append(f"  ~ {change.name}")
        for field, a, b in change.fields:
            out.append(f"      {_FIELD.get(field, field)}: {_value(field, a)} -> "
                       f"{_value(field, b)}")
    if view.ports_moved:
        out.append(f"Listeners whose port moved: {len(view.ports_moved)}")
        for m in view.ports_moved:
            where = m.origin.get("path", "")
            if m.origin.get("where"):
                where += f": {m.origin['where']}"
            out.append(f"  {m.listener} {m.protocol}: {_ports(m.before)} -> "
                       f"{_ports(m.after)}" + (f" (B: {where})" if where else ""))
    for title, listed in (("Listeners only in B", view.listeners_added),
                          ("Listeners only in A", view.listeners_removed)):
        if listed:
            out.append(f"{title}: {len(listed)}")
            for ep in listed:
                label = f" ({ep['label']})" if ep.get("label") else ""
                ports = "dynamic" if ep.get("dynamic") else _ports(ep.get("ports", []))
                out.append(f"  {ep['component']}{label} {ep['protocol']} {ports}")
    if view.findings_new or view.findings_gone:
        out.append(f"Findings: {len(view.findings_new)} new in B, {len(view.findings_gone)} "
                   "gone")
        for mark, listed in (("+", view.findings_new), ("-", view.findings_gone)):
            for f in listed:
                who = f" {f['component']}" if f.get("component") else ""
                out.append(f"  {mark} {f['severity']} {f['code']}{who}: {f['message']}")
    return "\n".join([*out, ""])
