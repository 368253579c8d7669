"""Small pieces every reader needs: a port attribute read with a precise error, the
vendor default for an absent source, TAO options turned into Endpoints."""

from __future__ import annotations

from collections.abc import Callable, Iterable

from .. import catalog
from ..errors import InputError
from ..findings import finding
from ..formats import tao
from ..formats.xmlsafe import Node, parse_file
from ..model import Endpoint, Finding, Origin
from ..ports import PortSyntaxError, format_ports, merge, parse_port, parse_range
from ..record import Record
from .context import HostContext, Reading


def port_attr(node: Node, name: str, file: str, fix: str, *,
              allow_range: bool = False) -> tuple[tuple[int, int], str] | None:
    """The port (or range) in attribute `name` of `node`, and the attribute as written;
    None when the attribute is absent or blank."""
    found = node.attr(name)
    if found is None or not found[1].strip():
        return None
    written, value = found
    try:
        ports = parse_range(value) if allow_range else (parse_port(value),) * 2
    except PortSyntaxError as exc:
        raise InputError(file, f"line {node.line}, {node.xpath()}/@{written}", str(exc),
                         fix) from None
    return ports, written  # type: ignore[return-value]


def default_endpoints(component: catalog.Component, program: str, why: str,
                      only: Iterable[catalog.DefaultPort] | None = None,
                      ) -> tuple[list[Endpoint], list[Finding]]:
    """The vendor table's ports for `component`, marked as defaults, and a finding that
    says which source was absent. A component whose default is dynamic gets a dynamic
    endpoint."""
    defaults = tuple(only) if only is not None else component.defaults
    endpoints = [
        Endpoint(component.id, d.protocol, ((d.port, d.port),), program, component.sources,
                 Origin("default", "", why), label=d.label)
        for d in defaults
    ]
    if not defaults and component.dynamic:
        endpoints.append(Endpoint(component.id, "TCP", (), program, component.sources,
                                  Origin("default", "", why), dynamic=True))
    shown = ", ".join(f"{d.protocol} {d.port}" for d in defaults) or "dynamic ports"
    return endpoints, [default_used(component.id,
                                    f"{why}: using the vendor table's default ({shown}).")]


def default_used(component_id: str, message: str) -> Finding:
    """`default-used`, owned here: a reader took the vendor table's ports because the
    source was absent; `message` says which source and which ports."""
    return finding("default-used", component_id, message)


def loopback_only(component_id: str, message: str) -> Finding:
    """`loopback-only`, owned here: a listener no other host can reach needs no rule."""
    return finding("loopback-only", component_id, message)


class TaoListeners(Record):
    endpoints: list[Endpoint]
    any_option: bool  # an -ORBEndpoint/-ORBListenEndpoints option was there, any transport


def tao_listeners(options: str, component: catalog.Component, program: str,
                  origin: Callable[[str], Origin], place: tuple[str, str], fix: str, *,
                  enabled: bool = True) -> TaoListeners:
    """The listeners a TAO program opens from its option string, wherever the string is
    kept (a registry value, a <Server>'s <Arguments>). `place` is (file or value, where
    inside it) for errors; `origin` turns the options as written into an Origin. An
    endpoint on a transport cefw cannot express (sciop://) is an error; a local one
    (uiop://, shmiop://) opens no network listener."""
    path, where = place
    try:
        found, unsupported, any_option = tao.endpoints_in(options)
    except (tao.TaoSyntaxError, PortSyntaxError) as exc:
        raise InputError(path, where, f"cannot read the TAO options: {exc}", fix) from None
    for _option, odd in unsupported:
        if not odd.local_only:
            raise InputError(path, where, f"endpoint {odd.text!r} uses the {odd.scheme} "
                             "transport, which cefw cannot turn into a TCP/UDP rule",
                             "use iiop:// (TCP) or diop:// (UDP) endpoints; " + fix)
    return TaoListeners(tao_endpoints(found, component, program, origin, enabled=enabled),
                        any_option)


def tao_endpoints(found: Iterable[tuple[str, tao.TaoEndpoint]], component: catalog.Component,
                  program: str, origin: Callable[[str], Origin], *,
                  enabled: bool = True) -> list[Endpoint]:
    """TAO listen endpoints -> Endpoints: one per (protocol, bind) with its ports
    merged; an endpoint without a port is a dynamic listener. `origin` turns the
    options as written (`-ORBListenEndpoints iiop://:9900`) into an Origin."""
    grouped: dict[tuple[str, str, bool], list[tuple[str, tao.TaoEndpoint]]] = {}
    for option, ep in found:
        bind = "" if ep.all_interfaces else ep.host
        grouped.setdefault((ep.protocol, bind, ep.ports is None), []).append((option, ep))
    endpoints = []
    for (protocol, bind, dynamic), items in grouped.items():
        written = "; ".join(f"{option} {ep.text}" for option, ep in items)
        ports = () if dynamic else merge(ep.ports for _, ep in items if ep.ports)
        endpoints.append(Endpoint(
            component.id, protocol, ports, program, component.sources, origin(written),
            dynamic=dynamic, enabled=enabled, loopback_only=items[0][1].loopback, bind=bind,
        ))
    return endpoints


def loopback_findings(endpoints: Iterable[Endpoint]) -> list[Finding]:
    """An info finding for each enabled TAO listener bound to loopback: it needs no rule,
    and no other host can reach it, which for a CE server is worth saying."""
    return [loopback_only(
        ep.component,
        f"{ep.component} listens on {ep.bind} {ep.protocol} "
        f"{format_ports(ep.ports, empty='(a dynamic port)')} only "
        f"({ep.origin.describe()}): no rule, and no other host can connect to it. If CE "
        "servers or clients must reach it, bind it to all addresses (iiop://:<port>).")
        for ep in endpoints if ep.loopback_only and ep.enabled]


def file_port(ctx: HostContext, component_id: str, config: str, fix: str,
              select: Callable[[Node], Iterable[tuple[Node, str]]]) -> Reading:
    """A component whose port sits in one XML file: `select` yields (element, attribute)
    pairs holding its ports. The file or the element absent: the vendor default. Nothing
    when the component is not installed."""
    if not ctx.has(component_id):
        return Reading([], [])
    component = catalog.BY_ID[component_id]
    program = ctx.program(component.program)
    path = ctx.find(config)
    if path is None or not path.is_file():
        return Reading(*default_endpoints(component, program, f"{config} not found"))
    shown = ctx.display(path)
    root = parse_file(path, shown, fix)
    endpoints = []
    for node, attribute in select(root):
        found = port_attr(node, attribute, shown, fix)
        if found is None:
            continue
        ports, written = found
        origin = Origin("file", shown, f"line {node.line}, {node.xpath()}/@{written}")
        endpoints.append(Endpoint(component.id, "TCP", (ports,), program, component.sources,
                                  origin))
    if not endpoints:
        return Reading(*default_endpoints(component, program, f"{shown} names no port"))
    return Reading(endpoints, [])
