"""What a PC should be able to reach on a CE server, from a plan (`cefw.plan/1` JSON,
docs/plan-json.md): one Check per TCP port, expected open when one of the plan's rules
lets this PC in, closed otherwise. UDP and dynamic ports cannot be proven by a TCP
connect: they are listed as such.
"""

from __future__ import annotations

import ipaddress

from .. import catalog
from ..addresses import networks
from ..model import ANY
from ..ports import format_ports
from ..record import Record

ZONE_SOURCE = {zone: source for source, zone in catalog.SOURCE_ZONES.items()}


class Check(Record):
    port: int
    components: str  # "DialerServer", "IVRConnectorServer.WS (web services)"
    rules: tuple[str, ...]  # the plan's rules covering this port (none: no rule)
    expect_open: bool
    ids: tuple[str, ...] = ()  # the component ids, for advice

    def started_by_server_agent(self) -> bool:
        return any(catalog.SERVERAGENT in catalog.BY_ID[c].config for c in self.ids
                   if c in catalog.BY_ID and c != "ServerAgent")


class Unprovable(Record):
    what: str  # "UDP 40000-40099 TelephonyRecorder.CMAPI (channel Avaya-1)"
    why: str


class Identity(Record):
    """Who this PC is to the plan: a site zone (--as), or its own address."""

    zone: str | None = None
    address: str | None = None

    def describe(self) -> str:
        return f"as {self.zone}" if self.zone else f"from {self.address}"


def _rule_sources(plan: dict) -> dict[tuple[str, str], set[str]]:
    sources: dict[tuple[str, str], set[str]] = {}
    for ep in plan["endpoints"]:
        sources.setdefault((ep["component"], ep["protocol"]), set()).update(ep["sources"])
    return sources


def admits(rule: dict, identity: Identity, sources: dict[tuple[str, str], set[str]]) -> bool:
    remote = rule["remote_addresses"]
    if remote == [ANY]:
        return True
    if identity.zone:
        source = ZONE_SOURCE[identity.zone]
        return any(source in sources.get((c, rule["protocol"]), set())
                   for c in rule["components"])
    if identity.address is None:
        return False
    ip = ipaddress.ip_address(identity.address)
    return any(ip in net for net in networks(remote))


def _who(ep: dict) -> str:
    return f"{ep['component']} ({ep['label']})" if ep.get("label") else ep["component"]


def checks(plan: dict, identity: Identity) -> tuple[list[Check], list[Unprovable]]:
    sources = _rule_sources(plan)
    tcp_rules = [r for r in plan["rules"] if r["protocol"] == "TCP" and r["local_ports"]]
    by_port: dict[int, list[str]] = {}
    ids: dict[int, list[str]] = {}
    unprovable: list[Unprovable] = []
    for ep in plan["endpoints"]:
        if not ep["enabled"] or ep["loopback_only"]:
            continue
        if ep["dynamic"]:
            unprovable.append(Unprovable(
                f"TCP (dynamic) {_who(ep)}",
                "its port is picked at run time and no documented setting fixes it"
                if ep.get("label") in catalog.TOMCAT_DYNAMIC_APPS else
                "its port is picked at run time; pin it (`cefw pin`) to make it provable"))
        elif ep["protocol"] != "TCP":
            shown = format_ports(tuple(tuple(r) for r in ep["ports"]))  # type: ignore[misc]
            unprovable.append(Unprovable(
                f"{ep['protocol']} {shown} {_who(ep)}",
                "UDP has no handshake: a connect proves nothing (recording media is "
                "proven by a call being recorded)"))
        else:
            for low, high in ep["ports"]:
                for port in range(low, high + 1):
                    names = by_port.setdefault(port, [])
                    if _who(ep) not in names:
                        names.append(_who(ep))
                        ids.setdefault(port, []).append(ep["component"])
    found = []
    for port in sorted(by_port):
        covering = [r for r in tcp_rules
                    if any(low <= port <= high for low, high in r["local_ports"])]
        found.append(Check(port, ", ".join(by_port[port]), tuple(r["name"] for r in covering),
                           any(admits(r, identity, sources) for r in covering),
                           tuple(ids[port])))
    return found, unprovable
