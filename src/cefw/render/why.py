"""`cefw why`: the chain from a port to its rule, a few lines per listener."""

from __future__ import annotations

from .. import catalog
from ..plan.explain import Explanation, Link, describe_rule
from . import rows


def render(view: Explanation, **options: object) -> str:
    if not view.links:
        what = {"port": f"port {view.target}", "rule": f"rule {view.target}",
                "component": f"component {view.target}"}[view.kind]
        return (f"No CE listener on {what} in this host's configuration: cefw opens "
                "nothing for it. (`cefw plan` lists every listener.)\n")
    out: list[str] = []
    for link in view.links:
        out += [*_chain(view, link), ""]
    return "\n".join(out)


def _zone(view: Explanation, zone: str) -> str:
    """The zone with its addresses as the site file writes them."""
    for z in view.zones:
        if z.name == zone:
            return f"{zone} ({', '.join(z.written) or 'nobody: [] in the site file'})"
    return f"{zone} (not in the site file: any address)" if view.zones else zone


def _chain(view: Explanation, link: Link) -> list[str]:
    ep = link.endpoint
    label = f" ({ep.label})" if ep.label else ""
    sources = ", ".join(ep.sources) or "-"
    zones = ", ".join(_zone(view, catalog.SOURCE_ZONES.get(s, s)) for s in ep.sources) or "-"
    lines = [
        f"{ep.protocol} {rows.ports(ep)}: {ep.component}{label}",
        f"  listener:  {ep.program}" + (f", bound to {ep.bind}" if ep.bind else ""),
        f"  port from: {_origin(link)}",
        f"  Source:    {sources} (the vendor's column) -> site zone(s) {zones}",
    ]
    if link.rule is not None:
        empty = {z.name for z in view.zones if not z.written}
        who = ", ".join(_zone(view, zone) for s in ep.sources
                        if (zone := catalog.SOURCE_ZONES.get(s, s)) not in empty)
        lines.append(f"  rule:      {describe_rule(link.rule, who)}")
    else:
        lines.append(f"  no rule:   {link.no_rule}")
    for f in link.findings:
        lines.append(f"  finding:   {f.severity} {f.code}: {f.message}")
    return lines


def _origin(link: Link) -> str:
    origin = link.endpoint.origin
    if origin.kind == "default":
        component = catalog.BY_ID.get(link.endpoint.component)
        where = f" ({origin.where})" if origin.where else ""
        known = " for " + component.id if component else ""
        return f"the vendor table's default{known}{where}"
    if origin.kind == "registry":
        return f"registry value {origin.path} ({origin.where})"
    return origin.describe()
