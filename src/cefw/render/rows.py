"""The plan as rows of text, shared by the table, Markdown and CSV renderers so that
every format shows the same columns."""

from __future__ import annotations

import ntpath
import re

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


def zone_text(plan: Plan, zone: str) -> str:
    """"servers (10.0.1.10, 10.0.1.11)": a zone with its addresses as the site file
    writes them (the rules hold them in canonical form); "servers (nobody)" for `[]`."""
    for z in plan.zones:
        if z.name == zone:
            return f"{zone} ({', '.join(z.written) or 'nobody'})"
    return zone


def rule_remote(plan: Plan, rule: Rule, sources: tuple[str, ...]) -> str:
    """Who a rule lets in, for people: its zones with their written addresses."""
    if rule.remote_addresses == (ANY,):
        return "any"
    if sources:
        return ", ".join(zone_text(plan, catalog.SOURCE_ZONES.get(s, s)) for s in sources)
    return addresses(rule)


def zones_line(plan: Plan) -> str:
    """The site file's zones as written, said once under the tables."""
    if not plan.zones:
        return "Zones: no site file zones; rules for an unknown zone are open to any address."
    return "Zones (as in the site file): " + "; ".join(
        f"{z.name} = {', '.join(z.written) or '[] (nobody)'}" for z in plan.zones)


def rules(plan: Plan) -> Table:
    headers = ("Rule", "Proto", "Local ports", "Remote addresses", "Profiles", "Program")
    sources = rule_sources(plan)
    rows = [(r.name, r.protocol, format_ports(r.local_ports),
             rule_remote(plan, r, sources[r.name]), ",".join(r.profiles), r.program)
            for r in plan.rules]
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



# -- the compact view (the default table): short cells that fit 80 and 120 columns ----

def port_cell(ep: Endpoint) -> str:
    """"TCP 9998", "UDP 40000-40099", "TCP dynamic": one cell that is never split."""
    return f"{ep.protocol} {ports(ep)}"


def rule_port_cell(rule: Rule) -> str:
    return f"{rule.protocol} {format_ports(rule.local_ports) if rule.local_ports else 'any'}"


def source_cell(ep: Endpoint, plan: Plan | None = None) -> str:
    """Who connects (the vendor's "Source"), or why nobody may: no rule."""
    if not ep.enabled:
        return "disabled: no rule"
    if ep.loopback_only:
        return "loopback only"
    return who(_peopled(plan, ep.sources))


def _peopled(plan: Plan | None, sources: tuple[str, ...]) -> tuple[str, ...]:
    """The sources whose zone holds somebody: a zone written as `[]` means nobody, so
    a listener only it would use shows "-"."""
    if plan is None:
        return sources
    empty = {z.name for z in plan.zones if not z.written}
    return tuple(s for s in sources if catalog.SOURCE_ZONES.get(s, s) not in empty)


def short_origin(ep: Endpoint) -> str:
    """Where the port came from, in a few words: the file and line (the full place is in
    --wide, `cefw why` and the JSON)."""
    origin = ep.origin
    line = _line_of(origin.where)
    if origin.kind == "default":
        return "vendor default"
    if origin.kind == "registry":
        return ntpath.basename(origin.path)  # the value's name: Lync_Recorder_Port
    name = ntpath.basename(origin.path)
    return f"{name} line {line}" if line else name


def _line_of(where: str) -> str:
    match = re.match(r"line (\d+)", where)
    return match.group(1) if match else ""


def relative_program(program: str, program_dir: str) -> str:
    """A rule's program relative to the install folder (full paths stay in JSON and the
    exports); a program elsewhere keeps its full path."""
    root = program_dir.rstrip("\\") + "\\"
    if program.lower().startswith(root.lower()):
        return program[len(root):]
    return program


def rule_sources(plan: Plan) -> dict[str, tuple[str, ...]]:
    """Rule name -> the vendor's Source of the listeners it opens (server, client)."""
    by_key: dict[tuple[str, str, bool, str], tuple[str, ...]] = {}
    for ep in plan.endpoints:
        if ep.needs_rule:
            by_key.setdefault((ep.component, ep.protocol, ep.dynamic, ep.program), ep.sources)
    out = {}
    for rule in plan.rules:
        key = (rule.components[0] if rule.components else "", rule.protocol,
               not rule.local_ports, rule.program)
        out[rule.name] = by_key.get(key, ())
    return out


def rule_who(rule: Rule, sources: tuple[str, ...]) -> str:
    if rule.remote_addresses == (ANY,):
        return "any address"
    return who(sources) if sources else addresses(rule)


def compact_endpoints(plan: Plan) -> Table:
    headers = ("Component", "Listener", "Port", "Source", "Port from")  # see COMPACT_NOTE
    body, previous = [], None
    for ep in plan.endpoints:
        # The component once per group: the eye finds where the next one starts.
        shown = ep.component if ep.component != previous else ""
        previous = ep.component
        label = ep.label.removeprefix("channel ")  # under a recorder: the channel's name
        body.append((shown, label, port_cell(ep), source_cell(ep, plan), short_origin(ep)))
    return headers, body


def compact_rules(plan: Plan, profiles: bool = True) -> Table:
    """`profiles`: a column for them (left out when every rule has the same ones)."""
    sources = rule_sources(plan)
    headers = ("Rule", "Port", "Source", *(("Profiles",) if profiles else ()), "Program")
    body = [(r.name, rule_port_cell(r), rule_who(r, _peopled(plan, sources[r.name])),
             *((",".join(r.profiles),) if profiles else ()),
             relative_program(r.program, plan.host.program_dir)) for r in plan.rules]
    return headers, body


def compact_findings(plan: Plan) -> Table:
    headers = ("Severity", "Code", "What to do")
    body = [(f.severity, f.code, f"{f.component}: {f.message}" if f.component else f.message)
            for f in plan.findings]
    return headers, body


LEGEND = ("Who connects (the vendor's column \"Source\") is shown as the site file's zones; "
          "\"-\" = nobody (no one is meant to connect: no rule)")

COMPACT_NOTE = ("Source: who connects (the vendor's column), as the site file's zones; "
                "\"-\" = nobody; loopback only and disabled listeners get no rule. Port "
                "from: a file and line, a registry value, or the vendor default. Programs "
                "are under the install folder. Full paths, addresses and places: --wide, "
                "`cefw why PORT`, --json.")


def narrow_endpoints(plan: Plan) -> tuple[Table, set[int]]:
    """The listeners for a narrow terminal (80 columns): one column names the listener
    and where its port came from, beside the port and the Source. A component with
    several listeners gets a heading row (their indices are returned, for a style)."""
    headers = ("Listener (port from)", "Port", "Source")
    groups: dict[str, list[Endpoint]] = {}
    for ep in plan.endpoints:
        groups.setdefault(ep.component, []).append(ep)
    body: list[tuple[str, ...]] = []
    headings: set[int] = set()
    for component, eps in groups.items():
        if len(eps) == 1 and not eps[0].label:
            ep = eps[0]
            body.append((f"{component} ({short_origin(ep)})", port_cell(ep),
                         source_cell(ep, plan)))
            continue
        headings.add(len(body))
        body.append((component, "", ""))
        for ep in eps:
            label = ep.label.removeprefix("channel ")
            what = f"{label} ({short_origin(ep)})" if label else f"({short_origin(ep)})"
            body.append((f"  {what}", port_cell(ep), source_cell(ep, plan)))
    return (headers, body), headings


def narrow_rules(plan: Plan, profiles: bool = True) -> Table:
    """The rules for a narrow terminal: the program on a line under the rule's name."""
    headers, body = compact_rules(plan, profiles)
    index = headers.index("Program")
    shown = [(f"{row[0]}\n  {row[index]}", *row[1:index], *row[index + 1:]) for row in body]
    return ("Rule, program", *headers[1:index], *headers[index + 1:]), shown
