"""The policy: endpoints + site zones -> rules, and the findings about them.

One rule per (component, protocol), bound to the component's program, holding every
port of that component and protocol; a component's dynamic listeners get a second,
program-bound rule without a port. The name (`CE-DialerServer-TCP`,
`CE-EmailServer-TCP-dynamic`) never holds a port, so a changed port updates the rule of
that name instead of adding one.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from .. import catalog
from ..addresses import canonical
from ..findings import finding
from ..model import ANY, GROUP, MANAGED_NOTE, Endpoint, Finding, Rule
from ..ports import format_ports, merge, overlaps
from .site import Site

_ORDER = {c.id: i for i, c in enumerate(catalog.COMPONENTS)}

# How to give a component a static port, by where its ports are configured.
_PIN_ADVICE = {
    catalog.SERVERAGENT: "a Port attribute or -ORBListenEndpoints iiop://:<port> on its "
                         "<Server> in ServerAgent.Config.xml",
    catalog.NAMING: "-ORBListenEndpoints iiop://:<port> in the TaoNamingServiceOptions "
                    "registry value",
    catalog.TOMCAT: "a fixed port in the <Connector port> of Tomcat's server.xml",
}


def rule_name(component: str, protocol: str, dynamic: bool) -> str:
    return f"CE-{component}-{protocol}" + ("-dynamic" if dynamic else "")


def build(endpoints: Sequence[Endpoint], site: Site) -> tuple[list[Rule], list[Finding]]:
    groups: dict[tuple[str, str, bool, str], list[Endpoint]] = {}
    for ep in endpoints:
        if ep.needs_rule:
            groups.setdefault((ep.component, ep.protocol, ep.dynamic, ep.program), []).append(ep)

    rules: list[Rule] = []
    findings: list[Finding] = []
    unknown_zone: dict[str, list[str]] = {}  # zone missing from the site -> rule names
    taken: set[str] = set()
    scopes: dict[tuple[str, ...], tuple[tuple[str, ...], list[str]]] = {}
    for key in sorted(groups, key=lambda k: (_ORDER.get(k[0], 999), k[1], k[2], k[3])):
        component, protocol, dynamic, program = key
        name = _unique(rule_name(component, protocol, dynamic), taken)
        sources = groups[key][0].sources
        if sources not in scopes:
            scopes[sources] = _scope(sources, site)
        remote, missing = scopes[sources]
        if remote == ():
            findings.append(finding(
                "empty-zone", component,
                f"{name}: the site file's {_zones_of(sources)} zone(s) are empty, so "
                f"nobody may connect and cefw leaves the rule out. Add the hosts that use "
                f"{component} to [zones] in {site.path}."))
            continue
        for zone in missing:
            unknown_zone.setdefault(zone, []).append(name)
        ports = () if dynamic else merge(r for ep in groups[key] for r in ep.ports)
        shown = "dynamic ports" if dynamic else format_ports(ports)
        display = f"{GROUP} - {component} ({protocol} {shown})"
        rules.append(Rule(
            name=name, display_name=display, protocol=protocol, local_ports=ports,
            program=program, remote_addresses=remote, profiles=site.profiles,
            components=(component,), description=f"{display}. {MANAGED_NOTE}",
        ))
    findings += _unscoped(rules, unknown_zone, site)
    findings += site_findings(site)
    return rules, findings


EVERYONE = (ANY, "0.0.0.0/0", "::/0")


def site_findings(site: Site) -> list[Finding]:
    """Site choices that open CE's ports wider than a company network: a zone holding
    every address, the public profile. The one owner of `zone-open-to-all` and
    `public-profile`."""
    out = []
    for zone, addresses in site.zones.items():
        wide = [a for a in addresses if a in EVERYONE]
        if wide:
            out.append(finding(
                "zone-open-to-all", "",
                f"{site.path}: [zones] {zone} holds {', '.join(wide)}: every rule for "
                f"{zone} is open to every address, as if there were no site file. List the "
                f"addresses or networks of the {zone} instead."))
    if "public" in site.profiles:
        out.append(finding(
            "public-profile", "",
            f"{site.path or 'the rules'}: [rules] profiles includes public: CE's ports are "
            "open on any untrusted network this machine joins. Use profiles = [\"domain\", "
            "\"private\"] unless the host's only network is a public one."))
    return out


def _unique(name: str, taken: set[str]) -> str:
    """A component started from two program paths gets a second rule, `-2`."""
    candidate, n = name, 1
    while candidate in taken:
        n += 1
        candidate = f"{name}-{n}"
    taken.add(candidate)
    return candidate


def _zones_of(sources: Iterable[str]) -> str:
    return " and ".join(f"'{catalog.SOURCE_ZONES[s]}'" for s in sources)


def _scope(sources: Sequence[str], site: Site) -> tuple[tuple[str, ...], list[str]]:
    """(remote addresses, zones the site does not define). A zone that is not defined
    leaves the rule open to any address: cefw cannot guess who those hosts are."""
    zones = [catalog.SOURCE_ZONES[s] for s in sources]
    missing = [z for z in zones if z not in site.zones]
    if missing:
        return (ANY,), missing
    addresses: list[str] = []
    for zone in zones:
        addresses += site.zones[zone]
    if not addresses:
        return (), []
    return canonical(addresses), []


def _unscoped(rules: list[Rule], unknown_zone: dict[str, list[str]],
              site: Site) -> list[Finding]:
    if not site.given:
        open_rules = [r.name for r in rules if r.remote_addresses == (ANY,)]
        if not open_rules:
            return []
        return [finding(
            "unscoped-rule", "",
            f"no site file: all {len(open_rules)} rules are open to any address. Pass "
            "--site with [zones] servers = [CE server addresses] and clients = [agent PC "
            "networks] to limit each port to the hosts that use it.")]
    return [finding(
        "unscoped-rule", "",
        f"{site.path} has no '{zone}' zone: {len(names)} rule(s) that those hosts use stay "
        f"open to any address ({', '.join(names)}). Add {zone} = [...] under [zones].")
        for zone, names in unknown_zone.items()]


def endpoint_findings(endpoints: Sequence[Endpoint]) -> list[Finding]:
    """Findings about the listeners themselves: dynamic ports, port conflicts. The one
    owner of `dynamic-port` and `port-conflict`."""
    return _dynamic(endpoints) + _conflicts(endpoints)


def _dynamic(endpoints: Sequence[Endpoint]) -> list[Finding]:
    """One `dynamic-port` finding per listener that picks its port at run time and gets a
    rule: a component's own listener, or a labelled one (a Tomcat application or
    connector)."""
    out: list[Finding] = []
    seen: set[tuple[str, str]] = set()
    for ep in endpoints:
        if not (ep.dynamic and ep.needs_rule) or (ep.component, ep.label) in seen:
            continue
        seen.add((ep.component, ep.label))
        component = catalog.BY_ID.get(ep.component)
        config = component.config[0] if component and component.config else ""
        advice = _PIN_ADVICE.get(config, "a static port in its configuration")
        what = f"{ep.component} ({ep.label})" if ep.label else ep.component
        if ep.label in catalog.TOMCAT_DYNAMIC_APPS:
            # The vendor page documents no setting for these ports: say so, do not advise
            # a pin that cannot be done (`cefw pin` refuses them with the same words).
            todo = ("No documented setting fixes the ports of a Tomcat web application, "
                    "so it cannot be pinned (`cefw pin` refuses it): keep the rule limited "
                    "to the site's zones.")
        elif config == catalog.SERVERAGENT:
            todo = (f"Pin a static port to tighten it: `cefw pin {ep.component}` writes "
                    f"{advice}.")
        else:
            todo = f"Pin a static port ({advice}) to tighten it."
        out.append(finding(
            "dynamic-port", ep.component,
            f"{what} picks its TCP port at run time ({ep.origin.describe()}), so its rule "
            f"({rule_name(ep.component, ep.protocol, True)}) allows any port for its "
            f"program. {todo}"))
    return out


def _listener(ep: Endpoint) -> tuple[str, str]:
    """Endpoints of one listener share this key: the same component's Port attribute and
    ORB endpoint describe one socket, but two recording channels are two sockets."""
    return (ep.component, ep.label if ep.label.startswith("channel ") else "")


def _conflicts(endpoints: Sequence[Endpoint]) -> list[Finding]:
    """Two listeners on overlapping ports of one protocol and overlapping binds: a sweep
    over ranges sorted by first port (thousands of channels stay fast)."""
    out: list[Finding] = []
    seen_pairs: set[tuple[tuple[str, str], tuple[str, str], str]] = set()
    for protocol in ("TCP", "UDP"):
        items = sorted(
            ((low, high, ep) for ep in endpoints
             if ep.enabled and not ep.dynamic and ep.protocol == protocol
             for low, high in ep.ports),
            key=lambda item: item[0])
        active: list[tuple[int, int, Endpoint]] = []
        for low, high, ep in items:
            active = [a for a in active if a[1] >= low]
            for a_low, a_high, other in active:
                a_key, b_key = _listener(other), _listener(ep)
                if a_key == b_key or not _binds_overlap(other.bind, ep.bind):
                    continue
                pair = (min(a_key, b_key), max(a_key, b_key), protocol)
                if pair in seen_pairs:
                    continue
                seen_pairs.add(pair)
                out.append(_conflict(other, ep, protocol,
                                     overlaps(((a_low, a_high),), ((low, high),))))
            active.append((low, high, ep))
    return out


def _binds_overlap(a: str, b: str) -> bool:
    return not a or not b or a.lower() == b.lower()


def _conflict(a: Endpoint, b: Endpoint, protocol: str, shared) -> Finding:  # type: ignore[no-untyped-def]
    def who(ep: Endpoint) -> str:
        label = f" {ep.label}" if ep.label.startswith("channel ") else ""
        return f"{ep.component}{label} ({ep.origin.describe()})"

    return finding(
        "port-conflict", b.component,
        f"{protocol} {format_ports(shared)} is used by {who(a)} and by {who(b)}: only one "
        "of them can listen. Give one of them another port.")
