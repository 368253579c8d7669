"""Windows Firewall rules as COM values: one converter per INetFwRule property, each way,
and the Description cefw writes. Shared by the COM backend and the PowerShell and netsh
exports, so all three write the same thing.

Facts of the API these follow (tests/winfw_model.py behaves the same way):
- Windows reads `10.1.0.0/16` back as `10.1.0.0/255.255.0.0`: values are compared
  normalised (addresses.from_windows), never as text.
- Name and Description may not contain '|'; a rule may not be named "all".
- Program paths compare case-insensitively, after environment variables are expanded.
"""

from __future__ import annotations

import ntpath
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from ...addresses import from_windows, to_windows
from ...model import MANAGED_NOTE, PROFILES, Rule
from ...ports import PortSyntaxError, format_ports, parse_list
from ...record import Record

PROTOCOL_NUMBERS = {"TCP": 6, "UDP": 17}
PROTOCOL_NAMES = {6: "TCP", 17: "UDP"}
ANY_PROTOCOL = 256
PROFILE_BITS = {"domain": 1, "private": 2, "public": 4}
DIRECTIONS = {"in": 1, "out": 2}
ACTIONS = {"block": 0, "allow": 1}
MODIFY_GP_OVERRIDE, MODIFY_INBOUND_BLOCKED = 1, 2  # NET_FW_MODIFY_STATE

UNREADABLE_PORTS = ((0, 0),)  # LocalPorts cefw cannot parse (RPC, ...): never equal a plan


def description_text(rule: Rule) -> str:
    """The Description cefw writes (COM, PowerShell and netsh alike): the rule's
    description, else its display name with the "managed by cefw" note (a rule read back
    with no Description has neither, and keeps none). One line, no '|' (Windows refuses
    it in a Description)."""
    if rule.description or not rule.display_name:
        return _clean(rule.description)
    return _clean(f"{rule.display_name}. {MANAGED_NOTE}")


def profile_mask(profiles: Sequence[str]) -> int:
    return sum(PROFILE_BITS[p] for p in set(profiles))


def _text(value: object) -> str:
    return "" if value is None else str(value)


def _int(value: object) -> int:
    try:
        return int(value)  # type: ignore[call-overload]
    except (TypeError, ValueError):
        return -1


def _clean(text: str) -> str:
    return "".join(" " if ord(c) < 32 or ord(c) == 127 else "/" if c == "|" else c
                   for c in text)


def display_of(description: str) -> str:
    """The display name inside a Description cefw wrote (the note taken off)."""
    if not description.endswith(MANAGED_NOTE):
        return description
    head = description[: -len(MANAGED_NOTE)].rstrip()
    return head[:-1] if head.endswith(".") else head


def _ports(value: object) -> tuple[tuple[int, int], ...]:
    text = _text(value).strip()
    if text in ("", "*"):
        return ()
    try:
        return parse_list(text)
    except PortSyntaxError:
        return UNREADABLE_PORTS


def _program(value: object) -> str:
    r"""Windows compares program paths case-insensitively, and so does cefw. A path written
    with environment variables (%ProgramFiles(x86)%\..., as Windows' own rules and some
    installers write them) compares by what it expands to; an unknown variable stays as
    written."""
    text = _text(value)
    return ntpath.normcase(ntpath.normpath(ntpath.expandvars(text))) if text else ""


def _protocol(value: object) -> str:
    number = _int(value)
    return PROTOCOL_NAMES.get(number, str(number))


class Prop(Record):
    """One INetFwRule property cefw manages: the Rule field it holds, and a converter
    each way."""

    field: str
    to_com: Callable[[Rule], Any]
    from_com: Callable[[Any], Any]


# In the order cefw writes them: Protocol before the ports (Windows validates each write).
PROPS: dict[str, Prop] = {
    "Protocol": Prop("protocol", lambda r: PROTOCOL_NUMBERS[r.protocol.upper()], _protocol),
    "LocalPorts": Prop("local_ports", lambda r: format_ports(r.local_ports, empty="*"),
                       _ports),
    "ApplicationName": Prop("program", lambda r: r.program or None, _program),
    "RemoteAddresses": Prop("remote_addresses", lambda r: to_windows(r.remote_addresses),
                            lambda v: from_windows(_text(v) or "*")),
    "Profiles": Prop("profiles", lambda r: profile_mask(r.profiles),
                     lambda v: tuple(p for p in PROFILES if _int(v) & PROFILE_BITS[p])),
    "Direction": Prop("direction", lambda r: DIRECTIONS[r.direction],
                      lambda v: {1: "in", 2: "out"}.get(_int(v), "?")),
    "Action": Prop("action", lambda r: ACTIONS[r.action],
                   lambda v: {1: "allow", 0: "block"}.get(_int(v), "?")),
    "Enabled": Prop("enabled", lambda r: bool(r.enabled), bool),
    "Grouping": Prop("group", lambda r: r.group, _text),
    "Description": Prop("description", description_text, _text),
    "Name": Prop("name", lambda r: r.name, _text),
}
MANAGED_PROPS = tuple(PROPS)

# The properties cefw does not plan, with what a rule cefw writes holds in them: any local
# address, any remote port, every interface, no edge traversal, no service, no app
# container, user or machine lists, no IPsec demands. Any other value was put there by
# hand or by another tool, and may widen the rule (edge traversal lets Teredo traffic in
# from the Internet; an interface list or LocalAddresses can move the rule): audit
# reports it as drift, add resets it, a snapshot keeps it and restore puts it back.
# Names as the type library spells them (INetFwRule: `serviceName`; INetFwRule2:
# EdgeTraversalOptions; INetFwRule3: the rest): pywin32's early-bound (makepy) wrappers
# accept only that spelling.
OTHER_DEFAULTS: dict[str, Any] = {
    "LocalAddresses": "*", "RemotePorts": "*", "InterfaceTypes": "All", "Interfaces": None,
    "EdgeTraversal": False, "EdgeTraversalOptions": 0, "serviceName": None,
    "LocalAppPackageId": None, "LocalUserOwner": None, "LocalUserAuthorizedList": None,
    "RemoteUserAuthorizedList": None, "RemoteMachineAuthorizedList": None, "SecureFlags": 0,
}
OTHER_PROPS = tuple(OTHER_DEFAULTS)
OTHER_FIELD = "other_settings"
# Everything an INetFwRule holds: read before a rule is removed, so that a rollback puts
# back exactly what was there, not only what cefw manages.
ALL_PROPS = (*MANAGED_PROPS, *OTHER_PROPS, "IcmpTypesAndCodes")
# BSTR properties: clearing one takes a null BSTR, never None (VT_NULL), see com.null_bstr.
STRING_PROPS = frozenset({
    "Name", "Description", "ApplicationName", "serviceName", "LocalPorts", "RemotePorts",
    "LocalAddresses", "RemoteAddresses", "IcmpTypesAndCodes", "InterfaceTypes", "Grouping",
    "LocalAppPackageId", "LocalUserOwner", "LocalUserAuthorizedList",
    "RemoteUserAuthorizedList", "RemoteMachineAuthorizedList"})
FIELD_PROPS = {prop.field: name for name, prop in PROPS.items()}
# The Rule fields Windows holds (not `components`), other_settings last.
FIELDS = (*FIELD_PROPS, OTHER_FIELD)


def _is_default(prop: str, value: object) -> bool:
    if prop in ("LocalAddresses", "RemotePorts"):
        return _text(value).strip() in ("", "*")
    if prop == "InterfaceTypes":
        return _text(value).strip().lower() in ("", "all")
    return not value  # None, "", (), False, 0


def _plain(value: object) -> object:
    """A COM value as JSON can hold it (snapshots): a SAFEARRAY of names as a tuple."""
    if isinstance(value, (list, tuple)):
        return tuple(str(v) for v in value)
    if isinstance(value, (bool, int, str)) or value is None:
        return value
    return str(value)


def other_settings(values: Mapping[str, Any]) -> tuple[tuple[str, object], ...]:
    """The unplanned properties that differ from what cefw writes."""
    return tuple((prop, _plain(values[prop])) for prop in OTHER_PROPS
                 if prop in values and not _is_default(prop, values[prop]))


def changed_other_props(current: Rule, desired: Rule) -> list[str]:
    old, new = dict(current.other_settings), dict(desired.other_settings)
    return [p for p in OTHER_PROPS if old.get(p) != new.get(p)]


def com_values(rule: Rule) -> dict[str, Any]:
    """Every INetFwRule property cefw writes for `rule`: the managed ones, and the others
    at cefw's defaults unless the rule carries them (a rule restored from a snapshot)."""
    values = {name: prop.to_com(rule) for name, prop in PROPS.items()}
    values.update(OTHER_DEFAULTS)
    values.update(rule.other_settings)
    return values


def rule_from_com(values: Mapping[str, Any]) -> Rule:
    """A rule as read from the store, every field in the form cefw compares."""
    fields = {prop.field: prop.from_com(values[name]) for name, prop in PROPS.items()}
    return Rule(display_name=display_of(fields["description"]), components=(),
                other_settings=other_settings(values), **fields)


def normalise(rule: Rule) -> Rule:
    """`rule` as Windows would read it back: written, then read, by the same two
    functions that write and read the store, so plan and store compare alike."""
    return rule_from_com(com_values(rule))._replace(components=rule.components)


def cannot_hold(rule: Rule) -> str:
    """Why Windows cannot hold `rule`, or ""."""
    if not rule.name or "|" in rule.name or rule.name.strip().lower() == "all":
        return "Windows Firewall refuses a rule name that is empty, holds '|' or is 'all'"
    if rule.protocol.upper() not in PROTOCOL_NUMBERS:
        return f"protocol {rule.protocol!r} is not TCP or UDP"
    if not rule.remote_addresses:
        return "it allows no remote address"
    if not rule.profiles or not set(rule.profiles) <= set(PROFILE_BITS):
        return f"profiles {rule.profiles!r} are not a non-empty set of {PROFILES}"
    if rule.direction not in DIRECTIONS or rule.action not in ACTIONS:
        return f"direction {rule.direction!r} / action {rule.action!r} are unknown"
    return ""
