"""`cefw export --format registry-pol`: the plan's rules as a Registry.pol file, the
registry half of a Group Policy object ([MS-GPREG] section 2.2.1, "Registry Policy
Message Syntax"), holding one [MS-GPFAS] 2.2.2.19 rule string per rule (gpfas.py).

The file format ([MS-GPREG] 2.2.1):
    Header = "PReg" (0x67655250 little-endian) then Version = 1 (a 32-bit LE number);
    Body   = entries "[" Key ";" Value ";" Type ";" Size ";" Data "]", where "[", ";", "]",
             Key and Value are UTF-16LE (Key and Value NUL-terminated), Type and Size are
             32-bit LE numbers, and Data is Size bytes (a REG_SZ: UTF-16LE with its NUL).
    Key   = 1*IdCharacter (%x20-5B / %x5D-7E, segments joined by "\\");
    Value = 1*259 ValueCharacter (SP / VCHAR: printable ASCII);
    Data  = at most 65535 octets.

What cefw writes, and what it never writes:
- only values under Software\\Policies\\Microsoft\\WindowsFirewall\\FirewallRules, one per
  rule, named by the rule id (wszRuleId is the value name, [MS-GPFAS] 2.2.2.19);
- never a "**DelVals." / "**DeleteValues" entry: the client applies every GPO's
  Registry.pol into the same key, and a DelVals would delete the rules other GPOs
  deliver there. Nothing about profiles (firewall on/off, default actions, local merge)
  either: those belong to whoever owns the host's firewall policy.
- one file per role (CE servers, agent PCs): a GPO of its own for each, linked to the
  servers' or the PCs' OU.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable, Sequence

from ... import catalog
from ...errors import CefwError, InputError
from ...model import Plan, Rule
from ...record import Record
from .gpfas import RULES_KEY, rule_string

SIGNATURE = b"PReg"
FILE_VERSION = 1
REG_SZ, REG_DWORD = 1, 4
MAX_VALUE_NAME = 259
MAX_DATA = 65535
ROLES = {"core": catalog.CORE, "agent": catalog.AGENT}


class PolEntry(Record):
    key: str
    value: str
    type: int
    data: bytes


def _u16(text: str) -> bytes:
    return text.encode("utf-16-le")


def encode(entries: Iterable[PolEntry]) -> bytes:
    """A Registry.pol file holding `entries`, in order."""
    out = [SIGNATURE, struct.pack("<I", FILE_VERSION)]
    for e in entries:
        out += [_u16("["), _u16(e.key + "\0"), _u16(";"), _u16(e.value + "\0"), _u16(";"),
                struct.pack("<I", e.type), _u16(";"), struct.pack("<I", len(e.data)),
                _u16(";"), e.data, _u16("]")]
    return b"".join(out)


def decode(data: bytes, path: str = "Registry.pol") -> list[PolEntry]:
    """Read a Registry.pol file (untrusted: every length is checked against the data)."""
    if data[:4] != SIGNATURE or len(data) < 8:
        raise InputError(path, "header", "not a Registry.pol file (no PReg signature)",
                         "give the Registry.pol of a GPO (Machine\\Registry.pol)")
    (version,) = struct.unpack_from("<I", data, 4)
    if version != FILE_VERSION:
        raise InputError(path, "header", f"Registry.pol version {version}, not 1", "")
    entries: list[PolEntry] = []
    at = 8
    while at < len(data):
        def bad(problem: str, where: int) -> InputError:
            return InputError(path, f"byte {where}", problem,
                              "the file is damaged: export it again")

        def expect(char: str) -> None:
            nonlocal at
            if data[at:at + 2] != _u16(char):
                raise bad(f"expected {char!r}", at)
            at += 2

        def text() -> str:
            nonlocal at
            end = at
            while end + 1 < len(data) and data[end:end + 2] != b"\0\0":
                end += 2
            if end + 1 >= len(data):
                raise bad("a name runs past the end of the file", at)
            value = data[at:end].decode("utf-16-le", errors="replace")
            at = end + 2
            return value

        def number() -> int:
            nonlocal at
            if at + 4 > len(data):
                raise bad("truncated", at)
            (n,) = struct.unpack_from("<I", data, at)
            at += 4
            return int(n)

        expect("[")
        key = text()
        expect(";")
        value = text()
        expect(";")
        kind = number()
        expect(";")
        size = number()
        expect(";")
        if at + size > len(data):
            raise bad(f"data of {size} bytes runs past the end of the file", at)
        payload = data[at:at + size]
        at += size
        expect("]")
        entries.append(PolEntry(key, value, kind, payload))
    return entries


def sz(entry: PolEntry) -> str:
    """A REG_SZ entry's text (its terminating NUL dropped)."""
    return entry.data.decode("utf-16-le").split("\0", 1)[0]


def _check_id(rule: Rule) -> None:
    # [MS-GPREG] 2.2.1: Value = 1*259ValueCharacter, ValueCharacter = SP / VCHAR
    if (not rule.name or len(rule.name) > MAX_VALUE_NAME
            or any(not 32 <= ord(c) <= 126 for c in rule.name)):
        raise InputError(f"rule {rule.name}", "rule id",
                         "a Registry.pol value name must be 1 to 259 printable ASCII "
                         "characters ([MS-GPREG] 2.2.1)",
                         "rename the component or channel this rule is named after")


def entries_for(rules: Sequence[Rule]) -> list[PolEntry]:
    out = []
    for rule in rules:
        _check_id(rule)
        data = _u16(rule_string(rule) + "\0")
        if len(data) > MAX_DATA:
            raise InputError(f"rule {rule.name}", "rule string",
                             f"{len(data)} bytes: Registry.pol data holds at most 65535 "
                             "([MS-GPREG] 2.2.1)", "split the rule's remote addresses")
        out.append(PolEntry(RULES_KEY, rule.name, REG_SZ, data))
    return out


def rules_of_role(plan: Plan, role: str | None) -> tuple[str, list[Rule]]:
    """The role this file is for and its rules. Without --role, the host's role; a host
    that is both a CE server and an agent PC needs --role (one GPO per role)."""
    if role is None:
        if len(plan.host.roles) != 1:
            what = " and ".join(plan.host.roles) or "no CE component"
            raise CefwError(f"this host has {what}: a Registry.pol is for one role",
                            "pass --role core (CE servers) or --role agent (agent PCs)")
        role = plan.host.roles[0]
    wanted = ROLES[role]
    rules = [r for r in plan.rules
             if any(catalog.BY_ID[c].role == wanted for c in r.components
                    if c in catalog.BY_ID)]
    return role, rules


def render(plan: Plan, *, role: str | None = None, **_options: object) -> bytes:
    """The Registry.pol for the plan's rules of one role."""
    _role, rules = rules_of_role(plan, role)
    return encode(entries_for(rules))
