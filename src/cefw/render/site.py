"""A site plan (plan/fleet.py) as tables for a terminal (rich): the inventory, each
distinct plan with its rules, and the findings across hosts. Group members are counted,
not listed one by one: `--format json` lists every host."""

from __future__ import annotations

import io
from collections import Counter

from ..model import GROUP
from . import rows
from .table import _wide_table as _rich_table


def _inventory(site_plan) -> rows.Table:  # type: ignore[no-untyped-def]
    headers = ("Name", "Kind", "Zone", "Addresses", "Role", "Bundle", "Plan")
    body: list[tuple[str, ...]] = []
    members: dict[str, list] = {}
    for entry in site_plan.entries:
        m = entry.member
        if m.kind == "host" and m.group:
            members.setdefault(m.group, []).append(entry)
            continue
        body.append((m.name, m.kind, m.zone, ", ".join(m.addresses), m.role or "-",
                     entry.bundle or "none", entry.plan_id or "-"))
    for group, entries in members.items():
        own = sum(1 for e in entries if e.bundle_from == "host")
        none = sum(1 for e in entries if not e.plan_id)
        plans = len({e.plan_id for e in entries if e.plan_id})
        body.append((f"{group}: {len(entries):,} member(s)", "hosts", entries[0].member.zone,
                     f"{len(entries):,} host(s)", "-",
                     f"{own:,} own, {len(entries) - own - none:,} the group's, {none:,} none",
                     f"{plans} distinct"))
    return headers, body


def _plans(site_plan) -> rows.Table:  # type: ignore[no-untyped-def]
    used = Counter(e.plan_id for e in site_plan.entries if e.plan_id)
    headers = ("Plan", "Used by", "Roles", "Programs under", "Components", "Rules",
               "Findings")
    body = []
    for plan_id, plan in site_plan.plans.items():
        severities = Counter(f.severity for f in plan.findings)
        body.append((plan_id, f"{used[plan_id]:,}", ", ".join(plan.host.roles) or "none",
                     plan.host.program_dir, str(len(plan.host.components)),
                     str(len(plan.rules)),
                     ", ".join(f"{n} {s}" for s, n in severities.items()) or "none"))
    return headers, body


def _findings(site_plan) -> rows.Table:  # type: ignore[no-untyped-def]
    headers = ("Severity", "Code", "Component", "Hosts", "What to do")
    body = [(f.finding.severity, f.finding.code, f.finding.component or "-",
             f"{len(f.hosts):,}", f.finding.message) for f in site_plan.findings]
    return headers, body


def render(site_plan, *, width: int = 180, color: bool = False,  # type: ignore[no-untyped-def]
           **options: object) -> str:
    from rich.console import Console
    from rich.markup import escape

    stream = io.StringIO()
    console = Console(file=stream, highlight=False, soft_wrap=False, width=width,
                      force_terminal=color, color_system="auto" if color else None)
    site = site_plan.site
    hosts = sum(1 for e in site_plan.entries if e.member.kind == "host")
    console.print(escape(f"Site {site.path}: {len(site.groups):,} group(s), {hosts:,} "
                         f"host(s), {len(site_plan.plans)} distinct plan(s)"))
    for zone, addresses in site.zones.items():
        shown = ", ".join(addresses[:8]) + (f" and {len(addresses) - 8:,} more"
                                            if len(addresses) > 8 else "")
        console.print(escape(f"Zone {zone}: {shown or 'nobody'}"))
    console.print()
    console.print(_rich_table("Inventory", _inventory(site_plan)))
    console.print(_rich_table("Plans (each distinct plan once)", _plans(site_plan)))
    for plan_id, plan in site_plan.plans.items():
        console.print(_rich_table(f'{plan_id}: rules (group "{GROUP}", inbound allow)',
                                  rows.rules(plan)))
    if site_plan.findings:
        console.print(_rich_table("Findings across hosts", _findings(site_plan), style_col=0))
    else:
        console.print("Findings across hosts: none")
    console.print(escape("Each plan's own listeners and findings: cefw plan --bundle FILE "
                         "--site SITE, or --format json"))
    return stream.getvalue()
