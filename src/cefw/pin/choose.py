"""Which static ports to give the components being pinned.

A port is free when no listener of the plan uses it (any protocol, enabled or not, the
channel ranges included), when it is not one of the vendor table's well-known CE ports
(another CE host or a later install may use them) and, unless asked for, when it lies
outside the Windows dynamic (ephemeral) range 49152-65535, from which Windows hands out
ports to any program that asks for one.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from .. import catalog
from ..errors import CefwError
from ..model import Endpoint, PortRange

WINDOWS_DYNAMIC = (49152, 65535)
"""Windows' default dynamic port range since Vista (`netsh int ipv4 show dynamicport tcp`)."""

DEFAULT_RANGE = (9920, 9989)
"""Beside CE's own 99xx block (9900-9913 used by the servers, 9997-9999 by ServerManager,
ServerAgent and the Naming Service), leaving 9914-9919 for CE's own growth."""

TAO_MULTICAST = 10013  # the Naming Service's multicast discovery default (formats/tao.py)


def well_known() -> set[int]:
    """Every port the vendor table names, for any component."""
    ports = {d.port for c in catalog.COMPONENTS for d in c.defaults}
    ports.add(TAO_MULTICAST)
    return ports


def used(endpoints: Iterable[Endpoint]) -> list[PortRange]:
    return [r for ep in endpoints for r in ep.ports]


def _taken(port: int, ranges: Sequence[PortRange]) -> bool:
    return any(low <= port <= high for low, high in ranges)


def choose(count: int, endpoints: Sequence[Endpoint], *, port: int | None = None,
           within: PortRange | None = None) -> tuple[list[int], list[str]]:
    """`count` free ports and warnings. `port` (one component only) is checked, not
    searched; `within` replaces the default range."""
    ranges = used(endpoints)
    known = well_known()
    if port is not None:
        if count != 1:
            raise CefwError(f"--port {port} gives one port, but {count} components are to "
                            "be pinned", "name one component, or use --range A-B")
        if _taken(port, ranges):
            raise CefwError(f"port {port} is already used by a listener of this host "
                            "(see `cefw plan`)", "choose another --port, or leave it out "
                            "and let cefw choose a free one")
        if port in known:
            raise CefwError(f"port {port} is one of the vendor table's CE ports "
                            "(`cefw components`)", "choose another --port")
        return [port], _dynamic_warning([port])
    low, high = within or DEFAULT_RANGE
    chosen = [p for p in range(low, high + 1)
              if not _taken(p, ranges) and p not in known
              and (within is not None or not WINDOWS_DYNAMIC[0] <= p <= WINDOWS_DYNAMIC[1])]
    if len(chosen) < count:
        raise CefwError(f"only {len(chosen)} free port(s) in {low}-{high}, {count} needed",
                        "give a wider --range A-B")
    return chosen[:count], _dynamic_warning(chosen[:count])


def _dynamic_warning(ports: list[int]) -> list[str]:
    inside = [p for p in ports if WINDOWS_DYNAMIC[0] <= p <= WINDOWS_DYNAMIC[1]]
    if not inside:
        return []
    shown = ", ".join(map(str, inside))
    return [f"port(s) {shown} lie in Windows' dynamic range {WINDOWS_DYNAMIC[0]}-"
            f"{WINDOWS_DYNAMIC[1]}: another program may hold them when the server starts. "
            f"Reserve them: netsh int ipv4 add excludedportrange protocol=tcp "
            f"startport={inside[0]} numberofports=1 (one line per port)"]
