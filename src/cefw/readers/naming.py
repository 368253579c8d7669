"""The TAO Naming Service (NT_Naming_Service.exe): its options live in the registry
value HKLM\\SOFTWARE\\ACE\\TAO\\TaoNamingServiceOptions, read in the 32-bit view because
the service is a 32-bit program (docs/ce-formats.md, "TAO options")."""

from __future__ import annotations

import re

from .. import catalog
from ..errors import InputError
from ..findings import finding
from ..formats import tao
from ..model import Endpoint, Finding, Origin
from ..ports import PortSyntaxError, parse_port
from ..registry import RegValue, as_text, value_path
from .common import default_endpoints, loopback_findings, tao_listeners
from .context import EMPTY, HostContext, Inputs, Reading

MULTICAST_PORT = 10013  # TAO's default multicast discovery port (UDP)
MULTICAST_OPTIONS = {"-m"}
MULTICAST_ENDPOINT = {"-orbmulticastdiscoveryendpoint"}
FIX = ("correct TaoNamingServiceOptions (e.g. -ORBEndpoint iiop://:9999) with regedit "
       "under HKLM\\SOFTWARE\\WOW6432Node\\ACE\\TAO, then restart the Naming Service")


def read(ctx: HostContext, inputs: Inputs) -> Reading:
    if not ctx.has("NamingService"):
        return EMPTY
    component = catalog.BY_ID["NamingService"]
    program = ctx.program(component.program)
    found = ctx.registry.lookup(catalog.TAO_KEY, catalog.TAO_VALUE, catalog.TAO_VIEW)
    if found.value is None:
        where = value_path(catalog.TAO_KEY, catalog.TAO_VALUE)
        return Reading(*default_endpoints(
            component, program, f"{where} not found ({ctx.registry.description})"))
    return _from_value(found.value, component, program)


def _from_value(value: RegValue, component: catalog.Component, program: str) -> Reading:
    origin = value.origin
    text = as_text(value) if value.type in ("REG_SZ", "REG_EXPAND_SZ") else None
    if text is None:
        raise InputError(origin.path, origin.where,
                         f"the options must be a string (REG_EXPAND_SZ or REG_SZ), not "
                         f"{value.type}", FIX)
    def origin_of(written: str) -> Origin:
        return Origin("registry", origin.path, f"{origin.where}: {written}")

    endpoints, any_option = tao_listeners(text, component, program, origin_of,
                                          (origin.path, origin.where), FIX)
    try:
        multicast = _multicast(tao.split_options(text))
    except (tao.TaoSyntaxError, PortSyntaxError) as exc:
        raise InputError(origin.path, origin.where, f"cannot read the TAO options: {exc}",
                         FIX) from None
    findings: list[Finding] = loopback_findings(endpoints)
    if not any_option:
        # No endpoint option at all: TAO listens on an ephemeral port. (With only local
        # transports, uiop:// or shmiop://, it opens no network listener.)
        endpoints.append(Endpoint(component.id, "TCP", (), program, component.sources,
                                  origin_of("no -ORBEndpoint/-ORBListenEndpoints option"),
                                  dynamic=True))
    if multicast:
        port, written = multicast
        endpoints.append(Endpoint(component.id, "UDP", ((port, port),), program,
                                  component.sources, origin_of(written),
                                  label="multicast discovery"))
        findings.append(finding(
            "tao-multicast", component.id,
            f"the Naming Service answers multicast discovery ({written}) on UDP {port}; "
            "CE clients that find it by its address do not need it: remove -m 1 to close "
            "the port.",
        ))
    return Reading(endpoints, findings)


def _atoi(text: str) -> int:
    digits = re.match(r"\s*[+-]?\d+", text)
    return int(digits.group()) if digits else 0


def _multicast(tokens: list[str]) -> tuple[int, str] | None:
    """(UDP port, options as written) when multicast discovery is on (`-m 1`).

    Unlike the -ORB options, the service's own switches are case-sensitive (ACE_Get_Opt)
    and `-m` takes a number read with atoi: anything but a leading non-zero is off."""
    switch = [(o, v) for o, v in tao.option_values(tokens, MULTICAST_OPTIONS) if o == "-m"]
    if not switch or _atoi(switch[-1][1]) == 0:
        return None
    written = f"{switch[-1][0]} {switch[-1][1]}"
    port = MULTICAST_PORT
    for option, value in tao.option_values(tokens, MULTICAST_ENDPOINT):
        port = parse_port(value.rsplit(":", 1)[-1])
        written += f" {option} {value}"
    return port, written
