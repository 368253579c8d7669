"""The plan as one self-contained HTML file for the change board (`cefw report`).

Inline CSS, no script, no external request (a Content-Security-Policy meta tag says so
to the browser), light and dark (prefers-color-scheme), printable. It holds a header
(host, roles, cefw version, date, each input file with its SHA-256), an SVG flow diagram
(who connects -> CE components -> ports, one edge per rule), the rules, the listeners
with where each port came from, and the findings with what to do.

Every value from CE's files goes through `_e` (html.escape with quotes): a program path
holding `<script>`, quotes or `]]>` stays text. The SVG is inline and also valid XML.
"""

from __future__ import annotations

from collections.abc import Sequence
from html import escape
from typing import Any

from ..model import ANY, GROUP, Endpoint, Plan, Rule
from ..ports import format_ports
from . import rows

CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:"

# Diagram geometry (pixels). Columns: who connects, components, ports.
_ROW = 26
_BOX_H = 20
_COL_X = (10, 250, 600)
_COL_W = (150, 260, 230)
_TOP = 30

_CSS = """
:root { color-scheme: light dark; --fg: #1b1f24; --bg: #ffffff; --muted: #59636e;
  --line: #d0d7de; --zone: #cfe2ff; --zone-b: #1f6feb; --comp: #d3f4dc; --comp-b: #1a7f37;
  --port: #ffe3c2; --port-b: #bc4c00; --off: #eaeef2; --off-b: #6e7781;
  --high: #cf222e; --medium: #9a6700; --low: #0969da; --info: #59636e; }
@media (prefers-color-scheme: dark) {
  :root { --fg: #e6edf3; --bg: #0d1117; --muted: #9198a1; --line: #30363d;
    --zone: #0c2d6b; --zone-b: #4493f8; --comp: #0f3d1f; --comp-b: #3fb950;
    --port: #5a2d00; --port-b: #f0883e; --off: #21262d; --off-b: #8b949e;
    --high: #ff7b72; --medium: #d29922; --low: #58a6ff; --info: #9198a1; } }
body { font: 14px/1.45 system-ui, "Segoe UI", sans-serif; color: var(--fg);
  background: var(--bg); margin: 2em auto; max-width: 72em; padding: 0 1em; }
h1 { font-size: 1.5em; margin: 0 0 .3em; } h2 { font-size: 1.2em; margin-top: 1.6em; }
table { border-collapse: collapse; width: 100%; margin: .5em 0; }
th, td { text-align: left; vertical-align: top; padding: .25em .6em;
  border-bottom: 1px solid var(--line); }
th { font-weight: 600; } code, .mono { font-family: ui-monospace, Consolas, monospace;
  font-size: .92em; overflow-wrap: anywhere; }
.port { white-space: nowrap; } .muted { color: var(--muted); }
dl.head { display: grid; grid-template-columns: max-content auto; gap: .2em 1em; }
dl.head dt { font-weight: 600; } dl.head dd { margin: 0; }
.sev-high { color: var(--high); font-weight: 700; } .sev-medium { color: var(--medium); }
.sev-low { color: var(--low); } .sev-info { color: var(--info); }
svg.flow { width: 100%; height: auto; max-width: 860px; display: block; }
svg.flow text { font: 12px system-ui, "Segoe UI", sans-serif; fill: var(--fg); }
svg.flow .zone rect { fill: var(--zone); stroke: var(--zone-b); }
svg.flow .comp rect { fill: var(--comp); stroke: var(--comp-b); }
svg.flow .port rect { fill: var(--port); stroke: var(--port-b); }
svg.flow .off rect { fill: var(--off); stroke: var(--off-b); stroke-dasharray: 2 2; }
svg.flow .dynamic rect { stroke-dasharray: 5 3; }
svg.flow .edge { fill: none; stroke: var(--muted); stroke-width: 1.3; }
svg.flow .edge.off { stroke-dasharray: 2 3; }
svg.flow .head { font-weight: 600; fill: var(--muted); }
.legend span { margin-right: 1.2em; }
@media print { body { margin: 0; max-width: none; font-size: 11px; }
  h2 { break-after: avoid; } tr, svg.flow { break-inside: avoid; }
  a { color: inherit; text-decoration: none; } }
"""


def _e(value: object) -> str:
    """Text for HTML and for XML (the SVG): &, <, >, both quotes escaped."""
    return escape(str(value), quote=True)


def render(plan: Plan, *, inputs: Sequence[Any] = (), version: str = "",
           generated: str = "", install_shown: str = "", **options: object) -> str:
    """`inputs`: plan.inputs.InputFile rows; `version`: cefw's; `generated`: the date;
    `install_shown`: the install folder as the header shows it (default: the plan's)."""
    host = plan.host
    title = f"Contact Expert firewall plan: {', '.join(host.roles) or 'no CE role'} host"
    parts = [
        "<!DOCTYPE html>", '<html lang="en">', "<head>", '<meta charset="utf-8">',
        f'<meta http-equiv="Content-Security-Policy" content="{CSP}">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        '<meta name="color-scheme" content="light dark">',
        f"<title>{_e(title)}</title>", f"<style>{_CSS}</style>", "</head>", "<body>",
        f"<h1>{_e(title)}</h1>",
        _header(plan, inputs, version, generated, install_shown or plan.host.install_dir),
        "<h2>Who connects to what</h2>", _legend(), diagram(plan),
        f'<h2 id="rules">Rules (group &quot;{_e(GROUP)}&quot;, inbound allow)</h2>',
        _rules(plan), '<h2 id="listeners">Listeners and where each port came from</h2>',
        _listeners(plan), '<h2 id="findings">Findings</h2>', _findings(plan),
        f'<p class="muted">{_e(rows.counts(plan))}</p>', "</body>", "</html>", ""]
    return "\n".join(parts)


def _header(plan: Plan, inputs: Sequence[Any], version: str, generated: str,
            install_dir: str) -> str:
    host = plan.host
    items = [("Roles", ", ".join(host.roles) or "none found"),
             ("Configuration read from", f"{install_dir} ({host.found_by})"),
             ("Programs under", host.program_dir),
             ("Installed components", ", ".join(host.components) or "none"),
             ("cefw version", version), ("Date", generated)]
    dl = "".join(f"<dt>{_e(k)}</dt><dd>{_e(v)}</dd>" for k, v in items)
    files = "".join(
        f"<tr><td>{_e(f.role)}</td><td class=\"mono\">{_e(f.path)}</td>"
        f"<td class=\"mono\">{_e(f.sha256 or 'a folder')}</td></tr>" for f in inputs)
    table = ("<table><thead><tr><th>Input</th><th>File</th><th>SHA-256</th></tr></thead>"
             f"<tbody>{files}</tbody></table>") if inputs else ""
    return f'<dl class="head">{dl}</dl>{table}'


def _legend() -> str:
    return ('<p class="legend muted"><span>Left: who connects (the vendor\'s '
            '&quot;Source&quot;, as the site file\'s zones)</span><span>Middle: CE '
            'components</span><span>Right: the ports each rule opens; dashed: a port '
            'picked at run time (the rule binds the program, any port); dotted grey: '
            'loopback only or disabled, no rule</span><span>Hover an edge or a box for '
            'details.</span></p>')


def _zones_of(rule: Rule, sources: tuple[str, ...]) -> list[str]:
    if rule.remote_addresses == (ANY,):
        return ["any address"]
    return [rows.who((s,)) for s in sources] or [rows.addresses(rule)]


def diagram(plan: Plan) -> str:
    """The flow diagram as SVG: one row per node, in the plan's order (deterministic)."""
    sources = rows.rule_sources(plan)
    components: list[str] = []
    for ep in plan.endpoints:
        if ep.component not in components:
            components.append(ep.component)
    zones: list[str] = []
    edges_in: list[tuple[str, str, str]] = []  # zone, component, tooltip
    right: list[tuple[str, str, str, str]] = []  # component, label, class, tooltip
    for rule in plan.rules:
        comp = rule.components[0] if rule.components else rule.name
        for zone in _zones_of(rule, sources[rule.name]):
            if zone not in zones:
                zones.append(zone)
            edges_in.append((zone, comp, f"{zone} -> {comp}: {rule.name}"))
        ports = format_ports(rule.local_ports, "")
        label = f"{rule.protocol} {ports}" if ports else f"{rule.protocol} any port (dynamic)"
        tip = (f"{rule.name}: {rule.protocol} {ports or 'any port'} from "
               f"{rows.rule_remote(plan, rule, sources[rule.name])} to {rule.program}")
        right.append((comp, label, "port dynamic" if not ports else "port", tip))
    for ep in plan.endpoints:
        if not ep.needs_rule:
            why = "disabled" if not ep.enabled else "loopback only"
            right.append((ep.component, f"{ep.protocol} {rows.ports(ep)} ({why})", "off",
                          f"{_what(ep)}: {why}, no rule ({ep.origin.describe()})"))

    rows_n = max(len(zones), len(components), len(right), 1)
    height = _TOP + _ROW * rows_n + 10
    first_zone = _TOP + (rows_n - len(zones)) * _ROW // 2  # the zones in the middle
    y_zone = {z: first_zone + i * _ROW for i, z in enumerate(zones)}
    y_comp = {c: _TOP + i * _ROW for i, c in enumerate(components)}
    out = [f'<svg class="flow" xmlns="http://www.w3.org/2000/svg" role="img" '
           f'viewBox="0 0 {_COL_X[2] + _COL_W[2] + 10} {height}" '
           f'aria-label="who connects to which CE component on which port">',
           "<title>Who connects to which CE component on which port</title>"]
    for x, head in zip(_COL_X, ("Who connects", "CE component", "Port (one per rule)"),
                       strict=True):
        out.append(f'<text class="head" x="{x}" y="{_TOP - 12}">{head}</text>')
    for zone, comp, tip in edges_in:
        out.append(_edge(_COL_X[0] + _COL_W[0], y_zone[zone], _COL_X[1], y_comp[comp],
                         "edge", tip))
    for i, (comp, _label, cls, tip) in enumerate(right):
        out.append(_edge(_COL_X[1] + _COL_W[1], y_comp[comp], _COL_X[2], _TOP + i * _ROW,
                         "edge off" if cls == "off" else "edge", tip))
    for zone in zones:
        out.append(_box(0, y_zone[zone], "zone", zone,
                        f"who connects: {rows.zone_text(plan, zone)}"))
    for comp in components:
        out.append(_box(1, y_comp[comp], "comp", comp, comp))
    for i, (_comp, label, cls, tip) in enumerate(right):
        out.append(_box(2, _TOP + i * _ROW, cls, label, tip))
    out.append("</svg>")
    return "\n".join(out)


def _what(ep: Endpoint) -> str:
    return f"{ep.component} ({ep.label})" if ep.label else ep.component


def _edge(x1: int, y1: int, x2: int, y2: int, cls: str, tip: str) -> str:
    y1, y2 = y1 + _BOX_H // 2, y2 + _BOX_H // 2
    mid = (x1 + x2) // 2
    return (f'<path class="{cls}" d="M{x1},{y1} C{mid},{y1} {mid},{y2} {x2},{y2}">'
            f"<title>{_e(tip)}</title></path>")


def _box(col: int, y: int, cls: str, label: str, tip: str) -> str:
    x, w = _COL_X[col], _COL_W[col]
    shown = label if len(label) <= w // 7 else label[: w // 7 - 1] + "…"
    return (f'<g class="{cls}"><title>{_e(tip)}</title>'
            f'<rect x="{x}" y="{y}" width="{w}" height="{_BOX_H}" rx="4"/>'
            f'<text x="{x + 6}" y="{y + 14}">{_e(shown)}</text></g>')


def _table(headers: Sequence[str], body: Sequence[Sequence[str]],
           classes: Sequence[str] = ()) -> str:
    head = "".join(f"<th>{_e(h)}</th>" for h in headers)
    lines = []
    for row in body:
        cells = "".join(
            f'<td class="{classes[i]}">{_e(c)}</td>' if i < len(classes) and classes[i]
            else f"<td>{_e(c)}</td>" for i, c in enumerate(row))
        lines.append(f"<tr>{cells}</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(lines)}</tbody></table>"


def _rules(plan: Plan) -> str:
    _, body = rows.rules(plan)
    return _table(("Rule", "Proto", "Local ports", "Source (remote addresses)", "Profiles",
                   "Program"), body, ("mono", "", "port", "", "", "mono"))


def _listeners(plan: Plan) -> str:
    headers = ("Component", "Proto", "Ports", "Bind", "Source", "Status", "Port from")
    _, body = rows.endpoints(plan)
    return _table(headers, body, ("", "", "port", "", "", "", "mono"))


def _findings(plan: Plan) -> str:
    if not plan.findings:
        return "<p>None.</p>"
    lines = "".join(
        f'<tr><td class="sev-{_e(f.severity)}">{_e(f.severity)}</td>'
        f"<td><code>{_e(f.code)}</code></td><td>{_e(f.component or '-')}</td>"
        f"<td>{_e(f.message)}</td></tr>" for f in plan.findings)
    return ("<table><thead><tr><th>Severity</th><th>Code</th><th>Component</th>"
            f"<th>What to do</th></tr></thead><tbody>{lines}</tbody></table>")
