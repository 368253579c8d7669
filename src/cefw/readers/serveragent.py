"""ServerAgent.Config.xml (docs/ce-formats.md, "ServerAgent.Config.xml"): the Server
Agent's own port and how it starts every CE server of the host.

A server's ports are the union of its `Port` attribute, its `<Endpoint>` children and the
TAO endpoints in its `<Arguments>`; with none of them it uses dynamic ports.
"""

from __future__ import annotations

import ntpath

from .. import catalog
from ..errors import InputError
from ..findings import finding
from ..formats.xmlsafe import Node, parse_file
from ..model import Endpoint, Finding, Origin
from ..record import Record
from .common import default_endpoints, loopback_findings, port_attr, tao_listeners
from .context import EMPTY, HostContext, Inputs, Reading

FIX = ("correct ServerAgent.Config.xml (compare with the copy the CE installer wrote), "
       "or restore it from a backup")
_FALSE = {"false", "0", "no", "off"}


class ServerAgentReading(Record):
    reading: Reading
    found: bool  # the file exists
    configured: frozenset[str]  # component ids the file starts (any Enabled value)


def read(ctx: HostContext, inputs: Inputs) -> Reading:
    """The Server Agent's port, every <Server>'s ports, and the vendor defaults for the
    installed components the file does not mention. Nothing when no component the Server
    Agent starts is installed."""
    if not ctx.has(*SERVED):
        return EMPTY
    sa = read_config(ctx)
    rest = defaults_for_unconfigured(ctx, sa)
    return Reading(sa.reading.endpoints + rest.endpoints, sa.reading.findings + rest.findings)


SERVED = tuple(c.id for c in catalog.COMPONENTS if catalog.SERVERAGENT in c.config)


def read_config(ctx: HostContext) -> ServerAgentReading:
    path = ctx.find(catalog.SERVERAGENT_CONFIG)
    agent = catalog.BY_ID["ServerAgent"]
    agent_program = ctx.program(agent.program)
    if path is None:  # a folder or a FIFO there is refused by parse_file, not "not found"
        eps, fnd = ([], [])
        if "ServerAgent" in ctx.installed():
            eps, fnd = default_endpoints(agent, agent_program,
                                         f"{catalog.SERVERAGENT_CONFIG} not found")
        return ServerAgentReading(Reading(eps, fnd), False, frozenset())

    shown = ctx.display(path)
    root = parse_file(path, shown, FIX)
    endpoints: list[Endpoint] = []
    findings: list[Finding] = []
    configured: set[str] = set()

    if "ServerAgent" in ctx.installed():
        eps, fnd = _agent_port(root, shown, agent, agent_program)
        endpoints += eps
        findings += fnd
    first: dict[str, Node] = {}
    for server in root.iter("Server"):
        component, eps, fnd = _server(ctx, server, shown)
        if component is not None:
            configured.add(component)
            if component in first:
                findings.append(_duplicate(shown, component, first[component], server))
            first.setdefault(component, server)
        endpoints += eps
        findings += fnd
    return ServerAgentReading(Reading(endpoints, findings), True, frozenset(configured))


def _duplicate(shown: str, component: str, one: Node, other: Node) -> Finding:
    """The Server Agent starts a component once: of two entries, one is stale, and the
    rule (which holds the ports of both) opens a port nothing should listen on."""
    def entry(node: Node) -> str:
        port = node.get("Port")
        return f"line {node.line}" + (f" (Port={port.strip()!r})" if port else " (no Port)")

    return finding(
        "duplicate-server", component,
        f"{shown} has two <Server> entries for {component}: {entry(one)} and "
        f"{entry(other)}. The rule opens the ports of both; remove the stale entry, then "
        "run cefw add again.")


def _agent_port(root: Node, shown: str, agent: catalog.Component,
                program: str) -> tuple[list[Endpoint], list[Finding]]:
    node = next(root.iter("Agent"), None)
    found = port_attr(node, "Port", shown, FIX) if node is not None else None
    if node is None or found is None:
        return default_endpoints(agent, program, f"{shown} has no <Agent Port=...>")
    ports, written = found
    origin = Origin("file", shown, f"line {node.line}, {node.xpath()}/@{written}")
    return [Endpoint(agent.id, "TCP", (ports,), program, agent.sources, origin)], []


def _server(ctx: HostContext, node: Node, shown: str,
            ) -> tuple[str | None, list[Endpoint], list[Finding]]:
    name = (node.get("Name") or "").strip()
    path = (node.get("Path") or "").strip()
    place = f"line {node.line}, {node.xpath()}"
    component = _identify(ctx, name, path)
    if component is None:
        what = f"Name={name!r}" + (f", Path={path!r}" if path else "")
        return None, [], [finding(
            "unknown-server", "",
            f"{shown} {place} ({what}) matches no known CE component, so cefw opens "
            "nothing for it. If it is a CE server, name it by its component id "
            "(see `cefw components`) or fix its Path; if not, open its ports yourself.",
        )]

    program = _program(ctx, component, path)
    if not _installed(ctx, component, program):
        return component.id, [], [finding(
            "server-not-installed", component.id,
            f"{shown} {place} starts {program}, which is not installed on this host: no "
            "rule. Remove the entry or install the component.",
        )]

    enabled = (node.get("Enabled") or "true").strip().lower() not in _FALSE
    endpoints = _ports(node, shown, place, component, program, enabled)
    findings: list[Finding] = loopback_findings(endpoints)
    if not enabled:
        findings.append(finding(
            "server-disabled", component.id,
            f"{shown} {place} has Enabled=\"false\": the Server Agent does not start it, "
            "so it gets no rule. Run cefw add again after enabling it.",
        ))
    return component.id, endpoints, findings


def component_of(ctx: HostContext, node: Node) -> catalog.Component | None:
    """The component a <Server> element starts (by Name, else Path), or None."""
    return _identify(ctx, (node.get("Name") or "").strip(), (node.get("Path") or "").strip())


def _identify(ctx: HostContext, name: str, path: str) -> catalog.Component | None:
    """By Name; when Name is unknown, by the file name and folder of Path."""
    component = catalog.by_name(name) if name else None
    if component is None and path:
        relative = _relative(ctx, path)
        component = (catalog.by_program(relative) if relative else None) or \
            catalog.by_program_tail(path)
    return component


def _relative(ctx: HostContext, path: str) -> str | None:
    """A Path attribute (relative to the Server Agent's folder, or absolute) as a path
    relative to the install dir."""
    if ntpath.isabs(path) or ntpath.splitdrive(path)[0]:
        return ctx.relative(path)
    joined = ntpath.normpath(ntpath.join(ntpath.dirname(catalog.SERVERAGENT_CONFIG), path))
    return None if joined.startswith("..") else joined


def _program(ctx: HostContext, component: catalog.Component, path: str) -> str:
    """The program the agent really starts: its Path when given, else the catalog's."""
    if not path:
        return ctx.program(component.program)
    if ntpath.isabs(path) or ntpath.splitdrive(path)[0]:
        return ntpath.normpath(path)
    return ctx.program(ntpath.join(ntpath.dirname(catalog.SERVERAGENT_CONFIG), path))


def _installed(ctx: HostContext, component: catalog.Component, program: str) -> bool:
    relative = ctx.relative(program)
    return ctx.exists(relative if relative is not None else component.program)


def _ports(node: Node, shown: str, place: str, component: catalog.Component, program: str,
           enabled: bool) -> list[Endpoint]:
    def origin(where: str) -> Origin:
        return Origin("file", shown, where)

    endpoints: list[Endpoint] = []
    orb_option = False  # an -ORBEndpoint/-ORBListenEndpoints option, any transport
    found = port_attr(node, "Port", shown, FIX)
    if found:
        ports, written = found
        endpoints.append(Endpoint(component.id, "TCP", (ports,), program, component.sources,
                                  origin(f"{place}/@{written}"), enabled=enabled))
    for child in node.find_all("Endpoint"):
        endpoints.append(_endpoint_child(child, shown, component, program, enabled))
    for args in node.find_all("Arguments"):
        where = f"line {args.line}, {args.xpath()}"
        found_tao, any_option = tao_listeners(
            args.text, component, program, lambda text, w=where: origin(f"{w} ({text})"),
            (shown, where), FIX, enabled=enabled)
        endpoints += found_tao
        orb_option = orb_option or any_option
    # TAO opens only the endpoints it is given: one on a local transport alone (uiop://)
    # means no network listener at all, not a dynamic one.
    if not endpoints and not orb_option:
        endpoints.append(Endpoint(component.id, "TCP", (), program, component.sources,
                                  origin(f"{place} (no Port, <Endpoint> or ORB endpoint)"),
                                  dynamic=True, enabled=enabled))
    return endpoints


def _endpoint_child(child: Node, shown: str, component: catalog.Component, program: str,
                    enabled: bool) -> Endpoint:
    where = f"line {child.line}, {child.xpath()}"
    protocol = (child.get("Protocol") or "TCP").strip().upper()
    if protocol not in ("TCP", "UDP"):
        raise InputError(shown, f"{where}/@Protocol", f"{protocol!r} is not TCP or UDP",
                         "write Protocol=\"TCP\" or Protocol=\"UDP\"")
    found = port_attr(child, "Port", shown, FIX, allow_range=True)
    if found is None:
        raise InputError(shown, where, "an <Endpoint> without a Port",
                         "add Port=\"<number>\" or remove the <Endpoint>")
    ports, written = found
    return Endpoint(component.id, protocol, (ports,), program, component.sources,
                    Origin("file", shown, f"{where}/@{written}"), enabled=enabled,
                    label=(child.get("Purpose") or "").strip())


def defaults_for_unconfigured(ctx: HostContext, sa: ServerAgentReading) -> Reading:
    """Installed components the Server Agent would start, with no entry in its file (or
    no file at all): the vendor table's ports, said to be defaults."""
    endpoints: list[Endpoint] = []
    findings: list[Finding] = []
    for cid in ctx.installed():
        component = catalog.BY_ID[cid]
        if cid == "ServerAgent" or component.config[:1] != (catalog.SERVERAGENT,):
            continue
        if cid in sa.configured:
            continue
        why = (f"{catalog.SERVERAGENT_CONFIG} has no <Server> for {cid}" if sa.found
               else f"{catalog.SERVERAGENT_CONFIG} not found")
        # Ports the registry configures (TelephonyConnectorServer.UCMA's 9000) are the
        # GeoCampaign reader's; only the agent-started ones are defaulted here.
        own = [d for d in component.defaults if not d.registry_value]
        eps, fnd = default_endpoints(component, ctx.program(component.program), why, own)
        endpoints += eps
        findings += fnd
    return Reading(endpoints, findings)
