"""The plan as rows of text, shared by the table, Markdown and CSV renderers so that
every format shows the same columns."""

from __future__ import annotations

from .. import catalog
from ..model import ANY, GROUP, Endpoint, Plan, Rule
from ..ports import format_ports

Table = tuple[tuple[str, ...], list[tuple[str, ...]]]  # (headers, rows)


def who(sources: tuple[str, ...]) -> str:
    return ", ".join(catalog.SOURCE_ZONES.get(s, s) for s in sources) or "-"


def status(ep: Endpoint) -> str:
    if not ep.enabled:
        return "disabled: no rule"
    if ep.loopback_only:
        return "loopback only: no rule"
    return "dynamic" if ep.dynamic else "open"


def ports(ep: Endpoint) -> str:
    return "dynamic" if ep.dynamic else format_ports(ep.ports)


def addresses(rule: Rule) -> str:
    return "any" if rule.remote_addresses == (ANY,) else ", ".join(rule.remote_addresses)


def endpoints(plan: Plan) -> Table:
    headers = ("Component", "Proto", "Ports", "Bind", "Who connects", "Status", "Port from")
    rows = [(ep.component + (f" ({ep.label})" if ep.label else ""), ep.protocol, ports(ep),
             ep.bind or "all", who(ep.sources), status(ep), ep.origin.describe())
            for ep in plan.endpoints]
    return headers, rows


def rules(plan: Plan) -> Table:
    headers = ("Rule", "Proto", "Local ports", "Remote addresses", "Profiles", "Program")
    rows = [(r.name, r.protocol, format_ports(r.local_ports), addresses(r),
             ",".join(r.profiles), r.program) for r in plan.rules]
    return headers, rows


def findings(plan: Plan) -> Table:
    headers = ("Severity", "Code", "Component", "What to do")
    rows = [(f.severity, f.code, f.component or "-", f.message) for f in plan.findings]
    return headers, rows


def header_lines(plan: Plan) -> list[str]:
    host = plan.host
    return [
        f"Contact Expert host: roles {', '.join(host.roles) or 'none found'}",
        f"Configuration read from: {host.install_dir} ({host.found_by})",
        f"Programs under: {host.program_dir}",
        f"Installed components: {', '.join(host.components) or 'none'}",
    ]


def counts(plan: Plan) -> str:
    sev: dict[str, int] = {}
    for f in plan.findings:
        sev[f.severity] = sev.get(f.severity, 0) + 1
    shown = ", ".join(f"{n} {s}" for s, n in sev.items()) or "none"
    return (f"{len(plan.endpoints)} listeners, {len(plan.rules)} rules in group "
            f"\"{GROUP}\", findings: {shown}")

