"""`cefw site plan`: a plan for every host and group of the site inventory (plan/site.py),
and the findings only a view across hosts shows (docs/site.md). Owner of the codes
`ha-port-mismatch`, `zone-uncovered`, `group-install-dirs-differ` and
`inventory-no-bundle`.

Each distinct bundle is verified, expanded and planned once: bundles are cached by their
SHA-256 (two paths holding the same bytes share one plan), and plans that are the same
apart from where they were read are stored once, under an id taken from their content.
A site of thousands of agent PCs sharing a few bundles costs a few plans plus a pass
over the inventory (bench/bench_site.py).
"""

from __future__ import annotations

import hashlib
import json
import ntpath
import re
from collections.abc import Iterable, Sequence
from pathlib import Path

from .. import catalog
from ..errors import InputError
from ..findings import finding
from ..model import SEVERITIES, Finding, Plan
from ..ports import format_ports
from ..record import Record
from .site import SERVERS, Member, Site

SHOWN_NAMES = 5  # host names spelled out in a message; the JSON lists all


class Entry(Record):
    """One inventory entry with the plan that stands for it."""

    member: Member
    bundle: str  # the bundle used, as written in the site file; "" = none
    bundle_from: str  # "host" (its own), "group" (its group's) or ""
    plan_id: str  # "" = no plan (no bundle)
    collected: str  # when the bundle was collected, "" = no bundle
    collected_on: str | None  # the host name the bundle records

    def to_json(self) -> dict[str, object]:
        m = self.member
        data: dict[str, object] = {"name": m.name, "kind": m.kind,
                                   "addresses": list(m.addresses), "zone": m.zone}
        if m.kind == "host":
            data["role"] = m.role or None
            data["group"] = m.group or None
        data.update({"bundle": self.bundle or None, "bundle_from": self.bundle_from or None,
                     "collected": self.collected or None, "collected_on": self.collected_on,
                     "plan": self.plan_id or None})
        return data


class SiteFinding(Record):
    finding: Finding
    hosts: tuple[str, ...]  # the hosts and groups it is about

    def to_json(self) -> dict[str, object]:
        return {**self.finding.to_json(), "hosts": list(self.hosts)}


class SitePlan(Record):
    site: Site
    entries: tuple[Entry, ...]  # groups, then hosts, in site file order
    plans: dict[str, Plan]  # plan id -> plan, each distinct plan once
    findings: tuple[SiteFinding, ...]

    def to_json(self) -> dict[str, object]:
        return {
            "schema": "cefw.site/1",
            "site": self.site.path,
            "zones": {z: list(a) for z, a in self.site.zones.items()},
            "groups": [e.to_json() for e in self.entries if e.member.kind == "group"],
            "hosts": [e.to_json() for e in self.entries if e.member.kind == "host"],
            "plans": {pid: plan_document(plan) for pid, plan in self.plans.items()},
            "findings": [f.to_json() for f in self.findings],
        }


def plan_document(plan: Plan) -> dict[str, object]:
    """A plan as the site document stores it: where it was read (install_dir, found_by)
    belongs to each host's entry, not to the plan they share."""
    doc = plan.to_json()
    host = dict(doc["host"])  # type: ignore[call-overload]
    host.pop("install_dir")
    host.pop("found_by")
    return {**doc, "host": host}


class _Planned(Record):
    plan_id: str
    collected: str
    collected_on: str | None


class _Planner:
    """Plans each distinct bundle once, by content."""

    def __init__(self, site: Site) -> None:
        self.site = site
        self.digests: dict[Path, str] = {}
        self.by_digest: dict[str, _Planned] = {}
        self.plans: dict[str, Plan] = {}

    def entry(self, member: Member, groups: dict[str, Member]) -> Entry:
        source, owner = member, "host" if member.kind == "host" else "group"
        if not member.bundle and member.group:
            source, owner = groups[member.group.lower()], "group"
        if not source.bundle or source.bundle_path is None:
            return Entry(member, "", "", "", "", None)
        planned = self._planned(source)
        return Entry(member, source.bundle, owner, planned.plan_id, planned.collected,
                     planned.collected_on)

    def _planned(self, source: Member) -> _Planned:
        path = source.bundle_path
        assert path is not None
        digest = self.digests.get(path)
        if digest is None:
            digest = self.digests[path] = _sha256(path, source, self.site.path)
        planned = self.by_digest.get(digest)
        if planned is None:
            planned = self.by_digest[digest] = self._plan(path)
        return planned

    def _plan(self, path: Path) -> _Planned:
        from ..bundle.expand import opened
        from .make import make_plan

        with opened(path) as bundle:
            plan = make_plan(bundle.inputs(), self.site)
            collected, on = bundle.collected, bundle.host_name
        document = json.dumps(plan_document(plan), sort_keys=True).encode()
        plan_id = "plan-" + hashlib.sha256(document).hexdigest()[:12]
        self.plans.setdefault(plan_id, plan)
        return _Planned(plan_id, collected, on)


def _sha256(path: Path, member: Member, site_path: str) -> str:
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError as exc:
        raise InputError(site_path, f"{member.where} bundle",
                         f"cannot read the bundle {member.bundle} ({exc.strerror})",
                         "collect it (cefw collect, Export-CEHostBundle), or correct the "
                         "path: it is relative to the site file's folder") from None


def plan_site(site: Site) -> SitePlan:
    planner = _Planner(site)
    groups = {g.name.lower(): g for g in site.groups}
    entries = tuple(planner.entry(m, groups) for m in (*site.groups, *site.hosts))
    plans = planner.plans
    findings = [*_no_bundle(entries), *_ha_ports(entries, plans),
                *_uncovered(entries, plans, site), *_install_dirs(entries, plans)]
    rank = {s: i for i, s in enumerate(SEVERITIES)}
    findings.sort(key=lambda f: rank[f.finding.severity])  # stable within a severity
    return SitePlan(site, entries, plans, tuple(findings))


def _names(names: Sequence[str]) -> str:
    shown = ", ".join(names[:SHOWN_NAMES])
    more = len(names) - SHOWN_NAMES
    return f"{shown} and {more:,} more" if more > 0 else shown


# -- a host or group without a bundle -------------------------------------------------------

def _no_bundle(entries: Sequence[Entry]) -> list[SiteFinding]:
    out = []
    orphans: dict[str, list[str]] = {}  # group -> members without any bundle
    for entry in entries:
        member = entry.member
        if entry.plan_id:
            continue
        if member.kind == "host" and member.group:
            orphans.setdefault(member.group, []).append(member.name)
            continue
        what = (f"the group {member.name}" if member.kind == "group"
                else f"the host {member.name}")
        out.append((member, what))
    found = []
    for member, what in out:
        members = orphans.get(member.name, [])
        extra = (f", nor for its {len(members):,} member(s) without a bundle of their own"
                 if members else "")
        found.append(SiteFinding(finding(
            "inventory-no-bundle", "",
            f"{what} ({member.where}) has no bundle: there is no plan for it{extra}, and "
            f"nothing is known of the CE ports it opens. Collect one (Export-CEHostBundle on "
            f"{'a PC that stands for the group' if member.kind == 'group' else 'the host'}, "
            f"or cefw collect) and set bundle = \"...\" in {member.where}."),
            (member.name, *members)))
    return found


# -- CE servers of one role that disagree ----------------------------------------------------

def _role_of(entry: Entry, plan: Plan) -> str:
    if entry.member.role:
        return f"role {entry.member.role!r}"
    return "the same components (" + ", ".join(plan.host.components) + ")"


def _ha_ports(entries: Sequence[Entry], plans: dict[str, Plan]) -> list[SiteFinding]:
    """CE servers of one role (an HA primary and secondary; without `role`, servers
    with the same installed components) must open each component on the same ports:
    their clients reach either of them the same way."""
    roles: dict[str, dict[str, list[str]]] = {}  # role -> plan id -> host names
    for entry in entries:
        member = entry.member
        if member.kind != "host" or member.zone != SERVERS or not entry.plan_id:
            continue
        role = _role_of(entry, plans[entry.plan_id])
        roles.setdefault(role, {}).setdefault(entry.plan_id, []).append(member.name)
    found = []
    for role, by_plan in roles.items():
        if len(by_plan) < 2:
            continue  # one host, or every host of the role with the same plan
        ports: dict[str, dict[str, list[str]]] = {}  # rule -> ports shown -> hosts
        for plan_id, hosts in by_plan.items():
            for rule in plans[plan_id].rules:
                shown = format_ports(rule.local_ports, empty="dynamic")
                ports.setdefault(rule.name, {}).setdefault(shown, []).extend(hosts)
        for rule_name, variants in ports.items():
            if len(variants) < 2:
                continue
            component, protocol = _rule_parts(rule_name, plans, by_plan)
            told = "; ".join(f"{protocol} {shown} on {_names(hosts)}"
                             for shown, hosts in sorted(variants.items()))
            hosts = tuple(h for group in variants.values() for h in group)
            found.append(SiteFinding(finding(
                "ha-port-mismatch", component,
                f"CE servers of {role} open {component} on different ports: {told}. Their "
                "clients (agent PCs and the other CE servers) must reach each of them the "
                "same way, and a failover to a server on another port fails: configure "
                f"{component} on the same port on every one of them."), hosts))
    return found


def _rule_parts(rule_name: str, plans: dict[str, Plan],
                by_plan: dict[str, list[str]]) -> tuple[str, str]:
    for plan_id in by_plan:
        for rule in plans[plan_id].rules:
            if rule.name == rule_name:
                return (rule.components[0] if rule.components else rule_name), rule.protocol
    return rule_name, ""


# -- components no zone covers ----------------------------------------------------------------

def _uncovered(entries: Sequence[Entry], plans: dict[str, Plan],
               site: Site) -> list[SiteFinding]:
    used_by: dict[str, list[str]] = {}
    for entry in entries:
        if entry.plan_id:
            used_by.setdefault(entry.plan_id, []).append(entry.member.name)
    missing: dict[str, tuple[set[str], list[str]]] = {}  # component -> (zones, hosts)
    for plan_id, plan in plans.items():
        for endpoint in plan.endpoints:
            if not endpoint.needs_rule:
                continue
            # As policy._scope: a zone the site does not give leaves the rule open to
            # any address; zones given but all empty leave it out.
            zones = {catalog.SOURCE_ZONES.get(s, s) for s in endpoint.sources}
            absent = {z for z in zones if z not in site.zones}
            if not absent and any(site.zones[z] for z in zones):
                continue
            wanted, hosts = missing.setdefault(endpoint.component, (set(), []))
            wanted.update(absent or zones)
            if used_by.get(plan_id) and used_by[plan_id][0] not in hosts:
                hosts.extend(used_by[plan_id])
    found = []
    for component, (zones, hosts) in missing.items():
        shown = " or ".join(sorted(zones))
        found.append(SiteFinding(finding(
            "zone-uncovered", component,
            f"{component} (in the bundle of {_names(hosts)}) is reached from the {shown} zone, "
            "which the site gives no address: its rule is open to any address (no zone) or "
            f"left out (an empty zone). Add the hosts that connect ({_who(zones)}, or "
            f"[zones] {sorted(zones)[0]} = [...]) to {site.path}."), tuple(hosts)))
    return found


def _who(zones: set[str]) -> str:
    return " and ".join(("[[groups]] of agent PCs" if z == "clients" else "[[hosts]] of CE "
                         "servers") for z in sorted(zones))


# -- a group whose members install CE in different folders -------------------------------------

_X86 = re.compile(r"^[a-z]:\\program files \(x86\)\\(.+)$", re.I)
_X64 = re.compile(r"^[a-z]:\\program files\\(.+)$", re.I)


def _env_form(folders: Iterable[str]) -> str | None:
    """%ProgramFiles(x86)%\\rest (or %ProgramFiles%\\rest) when every folder is that one on
    its own system drive: then one path names the programs on every member."""
    forms = set()
    for folder in folders:
        x86, x64 = _X86.match(folder), _X64.match(folder)
        if x86:
            forms.add(f"%ProgramFiles(x86)%\\{x86.group(1)}".lower())
        elif x64:
            forms.add(f"%ProgramFiles%\\{x64.group(1)}".lower())
        else:
            return None
    if len(forms) != 1:
        return None
    for folder in folders:  # in the spelling of the first folder
        x86, x64 = _X86.match(folder), _X64.match(folder)
        return (f"%ProgramFiles(x86)%\\{x86.group(1)}" if x86
                else f"%ProgramFiles%\\{x64.group(1)}" if x64 else None)
    return None


def _install_dirs(entries: Sequence[Entry], plans: dict[str, Plan]) -> list[SiteFinding]:
    folders: dict[str, dict[str, tuple[str, list[str]]]] = {}  # group -> key -> (dir, hosts)
    for entry in entries:
        member = entry.member
        group = member.name if member.kind == "group" else member.group
        if not group or not entry.plan_id:
            continue
        folder = plans[entry.plan_id].host.program_dir
        key = ntpath.normcase(ntpath.normpath(folder))
        folders.setdefault(group, {}).setdefault(key, (folder, []))[1].append(member.name)
    found = []
    for group, seen in folders.items():
        if len(seen) < 2:
            continue
        told = "; ".join(f"{folder} ({_names(hosts)})" for folder, hosts in seen.values())
        env = _env_form([folder for folder, _ in seen.values()])
        fix = (f"name the programs in the environment-variable form {env}, which resolves "
               f"on each member (cefw export --program-dir '{env}')" if env else
               "install CE in one folder on every member, or split the group by folder "
               "(one GPO each)")
        found.append(SiteFinding(finding(
            "group-install-dirs-differ", "",
            f"the members of the group {group} install CE in different folders: {told}. A "
            "firewall rule names its program by its full path, so one Group Policy for the "
            f"group cannot fit them all: {fix}."),
            tuple(h for _, hosts in seen.values() for h in hosts)))
    return found
