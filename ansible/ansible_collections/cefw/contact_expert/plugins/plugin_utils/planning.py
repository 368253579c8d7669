# Copyright: cefw maintainers
# MIT License (see LICENSE in the cefw repository)
"""Controller side of cefw.contact_expert: a host's gathered bundle planned with cefw's
library, the change set against what the host's firewall holds, the guard rails of
`cefw add`, and the texts Ansible shows (--diff).

cefw is imported inside the functions: the collection loads (and ansible-test's import
check passes) on a controller without cefw, and the task then says how to install it.
"""

from __future__ import annotations

import base64
import ipaddress
import json
import os
import tempfile

from ansible.errors import AnsibleActionFail

CEFW_FIX = "install cefw on the controller, beside Ansible: pip install cefw"
WINDOWS, LINUX = "windows", "linux"


def require_cefw():
    try:
        import cefw  # noqa: F401 pylint: disable=unused-import
    except ImportError as exc:
        raise AnsibleActionFail(f"cefw is not importable on the controller ({exc}): "
                                f"{CEFW_FIX}") from None


# -- zones ------------------------------------------------------------------------------

def _address_of(host, hostvars):
    """The address the host's zone entry uses: cefw_address, else ansible_host, else the
    inventory name, which must then be an address."""
    values = hostvars.get(host, {})
    for key in ("cefw_address", "ansible_host"):
        if values.get(key):
            return str(values[key])
    return str(host)


def inventory_zones(task_vars, servers=None, clients=None, servers_group="cefw_servers"):
    """{"servers": [...], "clients": [...]}: given lists win; else the addresses of the
    hosts in `servers_group` and the `cefw_clients` variable. A zone nobody names is left
    out (cefw: not known, rules open with a finding)."""
    zones = {}
    if servers is None:
        members = task_vars.get("groups", {}).get(servers_group)
        if members is not None:
            hostvars = task_vars.get("hostvars", {})
            servers = [_address_of(h, hostvars) for h in members]
    if clients is None:
        clients = task_vars.get("cefw_clients")
    for zone, value in (("servers", servers), ("clients", clients)):
        if value is None:
            continue
        if isinstance(value, str) or not isinstance(value, (list, tuple)):
            raise AnsibleActionFail(f"the {zone} zone must be a list of addresses or "
                                    f"networks, not {value!r}")
        zones[zone] = [_checked_address(zone, str(v)) for v in value]
    return zones


def _checked_address(zone, text):
    try:
        ipaddress.ip_network(text.strip(), strict=False)
    except ValueError:
        where = ("a host of the servers group: set cefw_address or ansible_host to its IP "
                 "address" if zone == "servers" else "cefw_clients")
        raise AnsibleActionFail(f"the {zone} zone: {text!r} is not an IP address or "
                                f"network; fix {where}") from None
    return text.strip()


def site_text(zones, profiles=None):
    """A site file (TOML) holding the zones: json.dumps of a string is a valid TOML basic
    string, so no value can break out of its quotes."""
    lines = ["[zones]"]
    for zone, addresses in zones.items():
        lines.append(f"{zone} = [{', '.join(json.dumps(a) for a in addresses)}]")
    if profiles:
        lines += ["", "[rules]", f"profiles = [{', '.join(json.dumps(p) for p in profiles)}]"]
    return "\n".join(lines) + "\n"


# -- the plan ---------------------------------------------------------------------------

class Planned:
    """A plan made from a host's bundle: the plan, and what the bundle says of the host."""

    def __init__(self, plan, manifest, firewall):
        self.plan = plan
        self.manifest = manifest
        self.firewall = firewall  # firewall.json of a Windows bundle, else None


def plan_bundle(data, shown, *, site=None, zones=None, profiles=None, program_dir=None):
    """Plan from the bundle `data` (bytes), verified whole by cefw before anything is
    expanded. `site`: a site file on the controller; else `zones` from the inventory."""
    require_cefw()
    from cefw.bundle.expand import opened
    from cefw.errors import CefwError
    from cefw.plan.make import make_plan

    with tempfile.TemporaryDirectory(prefix="cefw-ansible-") as folder:
        path = os.path.join(folder, shown)
        with open(path, "wb") as handle:
            handle.write(data)
        site_path = site
        if site_path is None and zones is not None:
            site_path = os.path.join(folder, "inventory-site.toml")
            with open(site_path, "w", encoding="utf-8") as handle:
                handle.write(site_text(zones, profiles))
        try:
            with opened(_path(path)) as bundle:
                inputs = bundle.inputs(site=_path(site_path) if site_path else None,
                                       program_dir=program_dir)
                plan = make_plan(inputs)
                return Planned(plan, bundle.verified.manifest, bundle.firewall)
        except CefwError as exc:
            raise AnsibleActionFail(f"cefw: {_render(exc)}") from None


def _path(text):
    from pathlib import Path

    return Path(text)


def _render(exc):
    render = getattr(exc, "render", None)
    return render() if callable(render) else str(exc)


def decode_bundle(result, host):
    text = result.get("bundle")
    if not isinstance(text, str) or not text:
        raise AnsibleActionFail(f"{host}: the gather module returned no bundle")
    try:
        return base64.b64decode(text.encode("ascii"), validate=True)
    except ValueError:
        raise AnsibleActionFail(f"{host}: the gather module's bundle is not base64") from None


# -- the store, as gathered -------------------------------------------------------------

class Store:
    """What the host's firewall holds, as gathered, and the backend's rules for it."""

    def __init__(self, kind, backend, current, raw=None, applied=None):
        self.kind = kind
        self.backend = backend  # fields, normalise, cannot_hold (never written here)
        self.current = current  # [Stored]
        self.raw = raw or {}  # Windows: Stored.key -> the COM values read on the host
        self.last_applied = applied or {}  # name -> Rule cefw's last change wrote

    def applied(self, backend_name):
        """StateDir.applied, as the target's state folder holds it (gathered)."""
        del backend_name
        return self.last_applied


def windows_store(com_rules):
    """The group's rules as the Windows gather module read them through COM (the
    INetFwRule values, as cefw's COM backend reads them)."""
    require_cefw()
    from cefw.apply.store import Stored
    from cefw.platforms.windows.recorded import RecordedBackend
    from cefw.platforms.windows.values import MANAGED_PROPS, rule_from_com

    if not isinstance(com_rules, list):
        raise AnsibleActionFail("the Windows gather module returned no rule list")
    current, raw = [], {}
    for index, values in enumerate(com_rules):
        if not isinstance(values, dict) or any(p not in values for p in MANAGED_PROPS):
            raise AnsibleActionFail(f"the Windows gather module returned a rule without "
                                    f"the INetFwRule properties: {values!r}")
        current.append(Stored(index, rule_from_com(values)))
        raw[index] = values
    backend = RecordedBackend({"group": "Contact Expert", "rules": com_rules,
                               "profiles": {}, "active_profiles": []}, "gathered rules")
    return Store(WINDOWS, backend, current, raw)


def linux_store(rules, applied=None):
    require_cefw()
    from cefw.apply.store import Stored
    from cefw.model import Rule
    from cefw.platforms.nftables.backend import NftablesBackend

    if not isinstance(rules, list):
        raise AnsibleActionFail("the Linux gather module returned no rule list")
    current = [Stored(i, Rule.from_json(r)) for i, r in enumerate(rules)]
    last = {r["name"]: Rule.from_json(r) for r in applied or () if isinstance(r, dict)}
    return Store(LINUX, NftablesBackend(), current, applied=last)


# -- the decision -----------------------------------------------------------------------

class Decision:
    def __init__(self, desired, skipped, changes, refused):
        self.desired = desired
        self.skipped = skipped
        self.changes = changes
        self.refused = refused


def decide(plan, store, *, present=True, allow_removals=False, allow_widening=False):
    """The change set that makes the group hold the plan (`present`) or nothing
    (`absent`), and why cefw add's guard rails would refuse it ("" when they do not).
    absent is `cefw remove`: explicit, no guard."""
    from cefw.apply.operations import _restoring, refusal
    from cefw.apply.reconcile import diff
    from cefw.apply.store import split

    rules = plan.rules if present else ()
    desired, skipped = split(rules, store.backend)
    changes = diff(desired, store.current, store.backend.fields, store.backend.normalise)
    refused = ""
    if present:
        # as cefw add: a widening that only puts back what the last add wrote is excused
        excused = _restoring(store.backend, store, changes)
        refused = refusal(guard(plan, allow_removals, allow_widening), changes, store.current,
                          excused)
    return Decision(desired, skipped, changes, refused)


def guard(plan, allow_removals, allow_widening):
    """cefw add's guard rails for this plan (the same as the command line's)."""
    from cefw.apply.operations import guard_for

    return guard_for(plan, allow_removals, allow_widening)


def refusal_message(refused):
    return (refused.replace("--allow-removals", "allow_removals: true")
            .replace("--allow-widening", "allow_widening: true")
            .replace("--site", "the site option or the inventory zones"))


# -- what Ansible shows -----------------------------------------------------------------

def rule_line(rule, fields):
    """One rule as a line of the --diff text: the fields this store holds."""
    from cefw.ports import format_ports

    parts = [rule.name + ":"]
    for field in fields:
        value = getattr(rule, field)
        if field == "local_ports":
            shown = format_ports(value, empty="any")
        elif field == "other_settings":
            if not value:
                continue
            shown = ", ".join(f"{k}={v!r}" for k, v in value)
        elif isinstance(value, tuple):
            shown = ",".join(str(v) for v in value) or "-"
        else:
            shown = str(value)
        if field in ("name", "display_name", "description"):
            continue
        parts.append(f"{field}={shown}")
    return " ".join(parts)


def ruleset_text(rules, fields):
    return "".join(rule_line(r, fields) + "\n" for r in sorted(rules, key=lambda r: r.name))


def diff_of(store, decision, host):
    """Ansible's --diff: the rule set before and after, one rule a line."""
    normalise = store.backend.normalise
    fields = store.backend.fields
    before = [s.rule for s in store.current]
    after = [normalise(r) for r in decision.desired]
    where = ("Windows Firewall group \"Contact Expert\"" if store.kind == WINDOWS
             else "nftables table inet contact_expert")
    return {"before": ruleset_text(before, fields), "after": ruleset_text(after, fields),
            "before_header": f"{host}: {where} (now)",
            "after_header": f"{host}: {where} (planned)"}


def findings_of(planned, decision, store_findings=()):
    found = [*planned.plan.findings, *(s.finding() for s in decision.skipped),
             *store_findings]
    return [f.to_json() for f in found]


def high(findings):
    return [f for f in findings if f.get("severity") == "high"]


def changes_json(decision):
    return decision.changes.to_json()


# -- Windows: the steps the apply module carries out ------------------------------------

def windows_steps(store, decision):
    """The change set as INetFwRule writes: creates and updates before deletes (the
    order of cefw's reconciler, kept), each with the values the rule held when gathered
    (`expected`: the module re-reads the rule and stops if it differs) and the
    properties to write."""
    from cefw.platforms.windows.values import ALL_PROPS, MANAGED_PROPS, com_values, normalise

    steps = []
    for change in decision.changes.changes:
        step = {"action": change.action, "name": change.name}
        if change.desired is not None:
            step["values"] = _json_values(com_values(change.desired))
        if change.current is not None:
            step["expected"] = store.raw[change.current.key]
        if change.action == "update":
            current, target = change.current.rule, normalise(change.desired)
            props = [p for p in MANAGED_PROPS
                     if _field(p) and getattr(current, _field(p)) != getattr(target, _field(p))]
            old, new = dict(current.other_settings), dict(target.other_settings)
            props += [p for p in ALL_PROPS if p not in MANAGED_PROPS
                      and p in step["values"] and old.get(p) != new.get(p)]
            step["props"] = props
            step["replace"] = "Protocol" in props
        steps.append(step)
    order = {"create": 0, "update": 1, "delete": 2}
    return sorted(steps, key=lambda s: order[s["action"]])  # stable: the diff's order kept


def _field(prop):
    from cefw.platforms.windows.values import FIELD_PROPS

    return {v: k for k, v in FIELD_PROPS.items()}.get(prop)


def _json_values(values):
    return {k: (list(v) if isinstance(v, tuple) else v) for k, v in values.items()}
