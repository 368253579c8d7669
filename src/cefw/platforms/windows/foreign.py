"""Rules outside cefw's group that undo least privilege (issue 8, guard rail 6).

In Windows Firewall rules have no order: "If conflicting rules match the same network
traffic, the actions determine the order of precedence. Allow-bypass rules take
precedence over block rules, and block rules take precedence over allow rules" ([MS-FASP]
2.2.34 FW_RULE_ACTION). Among allow rules any match lets a packet in, so cefw's scoped
rule means nothing while an older rule lets the same traffic in from anywhere: the
vendor's own Add-CEFirewallRules rules, a netsh rule from an install guide. cefw only
reports them (audit and add, high severity), naming each: it never changes a rule outside
its group.

A foreign rule is reported when it is enabled, inbound, allow, shares a profile with a
CE rule, and lets in more than that CE rule does:
- it is for the same CE program and allows other ports or other remote addresses; or
- it is for any program, its protocol and local ports overlap the CE rule's, and its
  remote addresses are not all inside the CE rule's.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Sequence
from typing import Any

from ...addresses import Network, from_windows
from ...findings import finding
from ...model import ANY, GROUP, Finding, Rule
from ...record import Record
from .values import (
    ANY_PROTOCOL,
    PROFILE_BITS,
    PROTOCOL_NAMES,
    PROTOCOL_NUMBERS,
    UNREADABLE_PORTS,
    _int,
    _ports,
    _program,
    _text,
    profile_mask,
)

ALL_PROFILES = 0x7FFFFFFF


class _Planned(Record):
    """A CE rule, in the form the comparison needs (computed once per run)."""

    rule: Rule
    mask: int
    program: str
    protocol: int
    nets: tuple[Network, ...] | None  # None = any address


class _Other(Record):
    """An enabled inbound allow rule outside the group (parsed once)."""

    obj: Any
    mask: int
    program: str  # "" = any program
    protocol: int
    ports: tuple[tuple[int, int], ...]  # () = any port
    remote: tuple[str, ...]


def scan(objects: Iterable[Any], desired: Sequence[Rule], group: str = GROUP) -> list[Finding]:
    """Findings for the rules (COM objects) outside the group. Each rule's properties are
    read only as far as needed: disabled, outbound, block, or another program's rule
    stop the reading early."""
    planned = [_planned(r) for r in desired]
    programs = {p.program for p in planned if p.program}
    out = []
    for obj in objects:
        other = _read(obj, programs)
        if other is None:
            continue
        wider = [p.rule for p in planned if _lets_in_more(other, p)]
        if wider:
            out.append(_finding(other, wider, group))
    return out


def _planned(rule: Rule) -> _Planned:
    nets = (None if rule.remote_addresses == (ANY,)
            else tuple(ipaddress.ip_network(a) for a in rule.remote_addresses))
    return _Planned(rule, profile_mask(rule.profiles), _program(rule.program),
                    PROTOCOL_NUMBERS.get(rule.protocol.upper(), -1), nets)


def _read(obj: Any, programs: set[str]) -> _Other | None:
    if not obj.Enabled or _int(obj.Direction) != 1 or _int(obj.Action) != 1:
        return None
    program = _program(obj.ApplicationName)
    if program and program not in programs:  # another program's rule: never CE traffic
        return None
    return _Other(obj, _int(obj.Profiles), program, _int(obj.Protocol),
                  _ports(obj.LocalPorts), from_windows(_text(obj.RemoteAddresses) or "*"))


def _lets_in_more(other: _Other, planned: _Planned) -> bool:
    if other.mask != ALL_PROFILES and not other.mask & planned.mask:
        return False
    rule = planned.rule
    wider_remote = _wider(other.remote, planned.nets)
    if other.program:  # the same CE program (others were left out by _read)
        if other.program != planned.program:
            return False
        more_ports = bool(rule.local_ports) and (
            not other.ports or other.ports == UNREADABLE_PORTS
            or not _inside(other.ports, rule.local_ports))
        return more_ports or wider_remote or other.protocol != planned.protocol
    same_protocol = other.protocol in (ANY_PROTOCOL, planned.protocol)
    return same_protocol and _overlap(other.ports, rule.local_ports) and wider_remote


def _overlap(ports: tuple[tuple[int, int], ...], planned: tuple[tuple[int, int], ...]) -> bool:
    if ports == UNREADABLE_PORTS:  # RPC, IPHTTPS...: keywords, not CE's ports
        return False
    if not ports:
        return True
    if not planned:  # a program-bound CE rule: only a rule for the same program matches
        return False
    return any(a <= d and c <= b for a, b in ports for c, d in planned)


def _inside(ports: tuple[tuple[int, int], ...], planned: tuple[tuple[int, int], ...]) -> bool:
    return all(any(c <= a and b <= d for c, d in planned) for a, b in ports)


def _wider(remote: tuple[str, ...], allowed: tuple[Network, ...] | None) -> bool:
    """True when `remote` holds an address outside `allowed` (keywords count as wider:
    LocalSubnet or Internet cannot be proven narrower)."""
    if allowed is None:
        return False
    if remote == (ANY,):
        return True
    for item in remote:
        try:
            net = ipaddress.ip_network(item)
        except ValueError:
            return True
        if not any(net.version == a.version and net.subnet_of(a)  # type: ignore[arg-type]
                   for a in allowed):
            return True
    return False


def _finding(found: _Other, wider: Sequence[Rule], group: str) -> Finding:
    obj = found.obj  # Name and Grouping are read for the rules reported only
    name, other = _text(obj.Name), _text(obj.Grouping)
    protocol = found.protocol
    shown_protocol = PROTOCOL_NAMES.get(protocol, "any protocol" if protocol == ANY_PROTOCOL
                                        else f"protocol {protocol}")
    ports = _text(obj.LocalPorts) or "*"
    remote = _text(obj.RemoteAddresses) or "*"
    program = _text(obj.ApplicationName) or "any program"
    profiles = ("all" if found.mask == ALL_PROFILES else ",".join(
        p for p, bit in PROFILE_BITS.items() if found.mask & bit))
    ce = ", ".join(r.name for r in wider[:3]) + (f" and {len(wider) - 3} more"
                                                  if len(wider) > 3 else "")
    message = (
        f"the enabled inbound allow rule {name!r} (group {other!r}, outside {group!r}: "
        f"{program}, {shown_protocol} local ports {'any' if ports == '*' else ports}, from "
        f"{'any address' if remote == '*' else remote}, profiles {profiles}) lets in more "
        f"than cefw's {ce}. Windows Firewall admits a packet that any allow rule matches, "
        "so cefw's narrower rule has no effect while this one is enabled. cefw never "
        "changes rules outside its group: once `cefw audit` shows cefw's rules in place, "
        f"remove it by its exact name (Remove-NetFirewallRule -DisplayName {_ps(name)}) "
        "or disable it")
    component = wider[0].components[0] if wider[0].components else ""
    return finding("foreign-allow-rule", component, message)


def _ps(text: str) -> str:
    """A PowerShell single-quoted literal, for the admin to copy."""
    return "'" + text.replace("'", "''") + "'"
