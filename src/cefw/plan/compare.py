"""`cefw diff A B`: two plans side by side. HA primary against secondary, before against
after an upgrade: rules added, removed and changed, listeners whose port moved, findings
new and gone.

Plans are compared as their JSON documents (`cefw.plan/1`): a plan saved with
`cefw plan --json` and a plan made now compare the same way, and the fields compared are
the contract's (docs/plan-json.md), not Python objects.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ..errors import InputError
from ..record import Record

SCHEMA = "cefw.plan/1"
# Rule fields worth a line when they differ (the display name and description follow
# the ports and say nothing new).
RULE_FIELDS = ("protocol", "local_ports", "remote_addresses", "profiles", "program",
               "enabled", "direction", "action", "group")


class Side(Record):
    label: str  # what the admin gave: a file name, a folder, "this host"
    plan: dict[str, Any]  # a cefw.plan/1 document


class RuleChange(Record):
    name: str
    fields: tuple[tuple[str, Any, Any], ...]  # (field, in A, in B)


class PortMove(Record):
    listener: str  # "DialerServer", "WebService (HTTP)"
    protocol: str
    before: list[list[int]]
    after: list[list[int]]
    origin: dict[str, str]  # where B's port came from


class Diff(Record):
    a: Side
    b: Side
    rules_added: tuple[dict, ...]
    rules_removed: tuple[dict, ...]
    rules_changed: tuple[RuleChange, ...]
    ports_moved: tuple[PortMove, ...]
    listeners_added: tuple[dict, ...]
    listeners_removed: tuple[dict, ...]
    findings_new: tuple[dict, ...]
    findings_gone: tuple[dict, ...]

    @property
    def same(self) -> bool:
        return not any(self[2:])

    @property
    def exit_status(self) -> int:
        return 0 if self.same else 1

    def to_json(self) -> dict[str, object]:
        return {
            "schema": "cefw.diff/1", "a": self.a.label, "b": self.b.label,
            "same": self.same,
            "rules": {"added": list(self.rules_added), "removed": list(self.rules_removed),
                      "changed": [{"name": c.name, "fields": {f: {"a": x, "b": y}
                                                              for f, x, y in c.fields}}
                                  for c in self.rules_changed]},
            "listeners": {"port_moved": [m._asdict() for m in self.ports_moved],
                          "added": list(self.listeners_added),
                          "removed": list(self.listeners_removed)},
            "findings": {"new": list(self.findings_new), "gone": list(self.findings_gone)},
        }


def load_plan_file(path: Path) -> dict[str, Any]:
    """A plan saved with `cefw plan --json`; anything else is refused with the fix."""
    fix = "save a plan with: cefw plan --json > plan.json"
    try:
        data = json.loads(path.read_text(encoding="utf-8-sig"))
    except OSError as exc:
        raise InputError(str(path), "", f"cannot read the plan ({exc.strerror})", fix) from None
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InputError(str(path), "", f"not a JSON plan ({exc})", fix) from None
    if not isinstance(data, dict) or data.get("schema") != SCHEMA:
        found = data.get("schema") if isinstance(data, dict) else None
        raise InputError(str(path), "schema", f"expected {SCHEMA!r}, found {found!r}", fix)
    for key in ("rules", "endpoints", "findings"):
        if not isinstance(data.get(key), list) or not all(
                isinstance(item, dict) for item in data[key]):
            raise InputError(str(path), key, "must be a list of objects", fix)
    return data


def _listener_key(ep: dict) -> tuple[str, str, str, str]:
    # A component's listener is the same one on both sides when its label and protocol
    # match; a dynamic one has no port to move.
    return (str(ep.get("component", "")), str(ep.get("label", "")),
            str(ep.get("protocol", "")), "dynamic" if ep.get("dynamic") else "")


def _finding_key(f: dict, install_dir: str) -> tuple[str, str, str]:
    # A message may name the folder the configuration was read from: two hosts' copies
    # in two folders have the same finding.
    message = str(f.get("message", ""))
    if install_dir:
        message = message.replace(install_dir, "<install folder>")
    return (str(f.get("code", "")), str(f.get("component", "")), message)


def _install_dir(side: Side) -> str:
    host = side.plan.get("host")
    return str(host.get("install_dir", "")) if isinstance(host, dict) else ""


def compare(a: Side, b: Side) -> Diff:
    rules_a = {r["name"]: r for r in a.plan["rules"]}
    rules_b = {r["name"]: r for r in b.plan["rules"]}
    changed = []
    for name in rules_a.keys() & rules_b.keys():
        fields = tuple((f, rules_a[name].get(f), rules_b[name].get(f)) for f in RULE_FIELDS
                       if rules_a[name].get(f) != rules_b[name].get(f))
        if fields:
            changed.append(RuleChange(name, fields))
    order_b = {name: i for i, name in enumerate(rules_b)}
    changed.sort(key=lambda c: order_b[c.name])

    eps_a: dict[tuple, list[dict]] = {}
    eps_b: dict[tuple, list[dict]] = {}
    for ep in a.plan["endpoints"]:
        eps_a.setdefault(_listener_key(ep), []).append(ep)
    for ep in b.plan["endpoints"]:
        eps_b.setdefault(_listener_key(ep), []).append(ep)
    moved = []
    for key, listed in eps_b.items():
        before = sorted(p for ep in eps_a.get(key, []) for p in ep.get("ports", []))
        after = sorted(p for ep in listed for p in ep.get("ports", []))
        if key in eps_a and before != after:
            shown = f"{key[0]} ({key[1]})" if key[1] else key[0]
            moved.append(PortMove(shown, key[2], before, after, listed[0].get("origin", {})))

    fa = {_finding_key(f, _install_dir(a)): f for f in a.plan["findings"]}
    fb = {_finding_key(f, _install_dir(b)): f for f in b.plan["findings"]}
    return Diff(
        a, b,
        tuple(r for n, r in rules_b.items() if n not in rules_a),
        tuple(r for n, r in rules_a.items() if n not in rules_b),
        tuple(changed), tuple(moved),
        tuple(ep for k, eps in eps_b.items() if k not in eps_a for ep in eps),
        tuple(ep for k, eps in eps_a.items() if k not in eps_b for ep in eps),
        tuple(f for k, f in fb.items() if k not in fa),
        tuple(f for k, f in fa.items() if k not in fb),
    )
