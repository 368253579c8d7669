"""GeoCampaign registry values (64-bit view): the UCMA Recorder Service's application and
recorder ports and the UCMA TelephonyConnectorServer's application port."""

from __future__ import annotations

from .. import catalog
from ..errors import InputError
from ..findings import finding
from ..model import Endpoint, Finding, Origin
from ..ports import PortSyntaxError, parse_port
from ..registry import RegValue, value_path
from .common import default_endpoints
from .context import HostContext, Inputs, Reading


def read(ctx: HostContext, inputs: Inputs) -> Reading:
    endpoints: list[Endpoint] = []
    findings: list[Finding] = []
    for cid in ctx.installed():
        component = catalog.BY_ID[cid]
        program = ctx.program(component.program)
        for default in component.defaults:
            if default.registry_value:
                eps, fnd = _one(ctx, component, program, default)
                endpoints += eps
                findings += fnd
    return Reading(endpoints, findings)


def _one(ctx: HostContext, component: catalog.Component, program: str,
         default: catalog.DefaultPort) -> tuple[list[Endpoint], list[Finding]]:
    name = default.registry_value
    found = ctx.registry.lookup(catalog.GEOCAMPAIGN_KEY, name, catalog.GEOCAMPAIGN_VIEW)
    where = value_path(catalog.GEOCAMPAIGN_KEY, name)
    if found.value is not None:
        port = _port(found.value)
        origin = found.value.origin
        return [Endpoint(component.id, default.protocol, ((port, port),), program,
                         component.sources, Origin("registry", origin.path, origin.where),
                         label=default.label)], []
    eps, fnd = default_endpoints(component, program,
                                 f"{where} not found ({ctx.registry.description})", [default])
    if found.other_view is not None:
        fnd.append(finding(
            "registry-wrong-view", component.id,
            f"{name} is set in the 32-bit view ({found.other_view.origin.path}), which the "
            f"64-bit {component.id} does not read: it runs on the default port "
            f"{default.port}. Move the value to {where} (64-bit regedit), then run cefw "
            "add again.",
        ))
    return eps, fnd


def _port(value: RegValue) -> int:
    origin = value.origin
    fix = (f"set {origin.path} to a port number 1-65535 (REG_DWORD, or a REG_SZ holding "
           "the number)")
    data = value.data
    try:
        if isinstance(data, int) and not isinstance(data, bool):
            return parse_port(str(data))
        if isinstance(data, str):
            return parse_port(data)
    except PortSyntaxError as exc:
        raise InputError(origin.path, origin.where, str(exc), fix) from None
    raise InputError(origin.path, origin.where, f"a {value.type} is not a port number", fix)
