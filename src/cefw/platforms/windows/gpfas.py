"""Firewall rules as Group Policy stores them: the rule strings of [MS-GPFAS] section
2.2.2.19 ("Firewall Rule and the Firewall Rule Grammar Rule"), written and read back.

A Group Policy rule is a REG_SZ value under
HKLM\\Software\\Policies\\Microsoft\\WindowsFirewall\\FirewallRules: the value's name is
the rule id (FW_RULE.wszRuleId, [MS-FASP] 2.2.37), its data a string

    v2.10|Action=Allow|Active=TRUE|Dir=In|Protocol=6|Profile=Domain|LPort=9905|
    LPort2_10=9100-9199|RA4=10.0.1.10|RA4=10.20.0.0/16|App=C:\\...|Name=...|Desc=...|
    EmbedCtxt=Contact Expert|

(one line, without the breaks). Facts of the grammar this module follows:
- "v" VERSION first; VERSION = MAJOR "." MINOR, here 2.10: the first schema with
  LPort2_10, the only token that carries a port range (2.2.2.19; PORT-RANGE-VAL =
  BEGINPORT "-" ENDPORT and PORT-VAL = SINGLEPORT, 2.2.2.2). A single port goes in LPort=.
- Every field ends in "|", so no value may hold "|". STR-VAL / APP-VAL are 1*ALPHANUM:
  not empty. Control characters have no place in a one-line value: refused too.
- Profile= once per profile; a rule with no Profile= applies to ALL profiles (2.2.2.19).
- RA4= / RA6= once per entry: a single address bare (SINGLEADDRV4, 2.2.2.9), a subnet
  as address "/" prefix length, which MUST be less than 32 (2.2.2.10; 128 for IPv6,
  2.2.2.12): a /32 host is therefore always written bare. No RA4/RA6 = any address.
- Active= absent means FALSE (2.2.2.19): cefw always writes Active=TRUE.
- LPort tokens only after Protocol=6 or 17 (2.2.2.19, last paragraph).
"""

from __future__ import annotations

import ipaddress
import ntpath
from collections.abc import Iterable, Sequence

from ...errors import InputError
from ...findings import finding
from ...model import ANY, PROFILES, Finding, Rule
from ...ports import format_range, overlaps
from ...record import Record
from .values import PROTOCOL_NAMES, PROTOCOL_NUMBERS, description_text

VERSION = "2.10"
RULES_KEY = r"Software\Policies\Microsoft\WindowsFirewall\FirewallRules"
POLICY_KEY = r"Software\Policies\Microsoft\WindowsFirewall"
PROFILE_TOKENS = {"domain": "Domain", "private": "Private", "public": "Public"}
PROFILE_KEYS = {"domain": "DomainProfile", "private": "PrivateProfile",
                "public": "PublicProfile"}  # [MS-GPFAS] 2.2.3.13: not StandardProfile


class Unwritable(InputError):
    """A rule value the grammar cannot carry."""


def _check(rule: Rule, field: str, value: str) -> str:
    bad = next((c for c in value if c == "|" or ord(c) < 32 or ord(c) == 127), None)
    if bad is not None:
        shown = "'|'" if bad == "|" else f"control character U+{ord(bad):04X}"
        raise Unwritable(
            f"rule {rule.name}", field,
            f"{shown} cannot be written into a Group Policy firewall rule ([MS-GPFAS] "
            f"2.2.2.19: every field ends at '|'): {value!r}",
            "rename the folder or value in CE's configuration that this comes from, or "
            "deploy this rule with `cefw add` / the PowerShell export instead")
    return value


def rule_string(rule: Rule) -> str:
    """The [MS-GPFAS] 2.2.2.19 string for one of cefw's allow rules; Unwritable when a
    value holds '|' or a control character."""
    protocol = PROTOCOL_NUMBERS.get(rule.protocol.upper())
    if protocol is None:
        raise Unwritable(f"rule {rule.name}", "Protocol",
                         f"protocol {rule.protocol!r} is not TCP or UDP", "")
    fields = [f"v{VERSION}", f"Action={rule.action.capitalize()}",
              f"Active={'TRUE' if rule.enabled else 'FALSE'}",
              f"Dir={rule.direction.capitalize()}", f"Protocol={protocol}"]
    fields += [f"Profile={PROFILE_TOKENS[p]}" for p in PROFILES if p in rule.profiles]
    for first, last in rule.local_ports:  # () = any port: no LPort token at all
        if first == last:
            fields.append(f"LPort={first}")
        else:
            fields.append(f"LPort2_10={format_range((first, last))}")
    if rule.remote_addresses != (ANY,):
        for address in rule.remote_addresses:
            net = ipaddress.ip_network(address)
            fields.append(f"RA{net.version}={address}")  # canonical: a host is bare
    if rule.program:
        fields.append(f"App={_check(rule, 'App', rule.program)}")
    _check(rule, "Name", rule.display_name)
    _check(rule, "Desc", rule.description)
    for token, value in (("Name", rule.display_name or rule.name),
                         ("Desc", description_text(rule)),
                         ("EmbedCtxt", rule.group)):
        if value:  # STR-VAL is 1*ALPHANUM: an empty value is left out
            fields.append(f"{token}={_check(rule, token, value)}")
    return "|".join(fields) + "|"


# -- reading back ----------------------------------------------------------------------

class PolicyRule(Record):
    """The parts of a Group Policy rule that decide whether it blocks a CE listener."""

    id: str
    action: str  # "Allow" | "Block" | "ByPass" | "" (absent)
    active: bool
    direction: str  # "In" | "Out" | ""
    protocol: int | None  # None: no Protocol= token, every protocol
    local_ports: tuple[tuple[int, int], ...]  # () with no LPort token: every port
    port_keywords: tuple[str, ...]  # RPC, IPHTTPSIn, ...: ports cefw cannot compare
    profiles: tuple[str, ...]  # every profile when no Profile= token
    remote: tuple[str, ...]  # RA4/RA6 entries as written; () = any address
    app: str
    name: str


def parse_rule(rule_id: str, text: str) -> PolicyRule:
    """Read a rule string (any version; unknown tokens ignored, as a newer schema may
    add them). Lenient: a value cefw cannot read is kept so it never hides a block."""
    fields = [f for f in text.split("|") if f]
    tokens: dict[str, list[str]] = {}
    for field in fields[1:]:  # fields[0] is "v2.xx"
        key, _, value = field.partition("=")
        tokens.setdefault(key.lower(), []).append(value)

    def one(key: str) -> str:
        return (tokens.get(key) or [""])[0]

    ports: list[tuple[int, int]] = []
    keywords: list[str] = []
    for value in tokens.get("lport", []) + tokens.get("lport2_10", []):
        first, dash, last = value.partition("-")
        if first.isdigit() and (not dash or last.isdigit()):
            ports.append((int(first), int(last if dash else first)))
        else:
            keywords.append(value)
    protocol = one("protocol")
    profiles = tuple(p for p in PROFILES
                     if PROFILE_TOKENS[p].lower() in {v.lower() for v in tokens.get("profile", [])})
    return PolicyRule(
        id=rule_id, action=one("action"), active=one("active").upper() == "TRUE",
        direction=one("dir"), protocol=int(protocol) if protocol.isdigit() else None,
        local_ports=tuple(sorted(ports)), port_keywords=tuple(keywords),
        profiles=profiles or PROFILES,
        remote=tuple(tokens.get("ra4", []) + tokens.get("ra6", [])),
        app=one("app"), name=one("name"))


def blocks(policy: PolicyRule, rule: Rule) -> tuple[tuple[int, int], ...] | None:
    """The ports of `rule` a Group Policy block rule stops (block beats allow in Windows
    Firewall), or None when it does not touch the rule."""
    if policy.action.lower() != "block" or not policy.active or policy.direction != "In":
        return None
    if policy.protocol is not None and PROTOCOL_NAMES.get(policy.protocol) != rule.protocol:
        return None
    if not set(policy.profiles) & set(rule.profiles):
        return None
    # A rule for another program does not touch CE's (an unexpanded %VAR% path might
    # still be the same program: kept).
    if (policy.app and rule.program and "%" not in policy.app
            and ntpath.normcase(ntpath.normpath(policy.app))
            != ntpath.normcase(ntpath.normpath(rule.program))):
        return None
    if not _remote_overlap(policy.remote, rule.remote_addresses):
        return None
    planned = rule.local_ports or ((1, 65535),)
    if not policy.local_ports and not policy.port_keywords:
        return planned
    if not policy.local_ports:
        return None  # only keyword ports (RPC, ...): not CE's static ports
    shared = overlaps(planned, policy.local_ports)
    return shared or None


def _remote_overlap(remote: Sequence[str], planned: Sequence[str]) -> bool:
    if not remote or tuple(planned) == (ANY,):
        return True
    mine = [ipaddress.ip_network(a) for a in planned]
    for entry in remote:
        try:
            first, dash, last = entry.partition("-")
            if dash:
                theirs = list(ipaddress.summarize_address_range(
                    ipaddress.ip_address(first), ipaddress.ip_address(last)))
            else:
                theirs = [ipaddress.ip_network(entry, strict=False)]
        except (ValueError, TypeError):
            return True  # a keyword (LocalSubnet, DNS...): it may well hold CE's clients
        if any(t.version == m.version and t.overlaps(m) for t in theirs for m in mine):
            return True
    return False


def delivered_findings(source: object, rules: Iterable[Rule]) -> list[Finding]:
    """What the rules Group Policy delivered do to the plan: block rules on CE's ports,
    and AllowLocalPolicyMerge = 0 (local rules, which `cefw add` writes, are ignored).
    `source` is a registry.Source with values() (live, hive, .reg, bundle)."""
    values = getattr(source, "values", None)
    if values is None:
        return []
    rules = list(rules)
    found: list[Finding] = []
    for name, value in sorted(values(RULES_KEY).items()):
        if value.type not in ("REG_SZ", "REG_EXPAND_SZ") or not isinstance(value.data, str):
            continue
        policy = parse_rule(name, value.data)
        for rule in rules:
            ports = blocks(policy, rule)
            if ports:
                shown = ",".join(format_range(r) for r in ports)
                found.append(finding(
                    "gpo-block-rule", rule.components[0] if rule.components else "",
                    f"the Group Policy rule {policy.name or name!r} (id {name}, "
                    f"{value.origin.describe()}) blocks {rule.protocol} {shown} inbound, "
                    f"which {rule.name} allows: in Windows Firewall a block rule wins over "
                    "any allow rule. Narrow or remove the block rule in its GPO."))
    used = {p for r in rules for p in r.profiles}
    for profile in PROFILES:
        if profile not in used:
            continue
        key = f"{POLICY_KEY}\\{PROFILE_KEYS[profile]}"
        merge = next((v for n, v in values(key).items()
                      if n.lower() == "allowlocalpolicymerge"), None)
        if merge is not None and merge.data == 0:
            found.append(finding(
                "gpo-local-rules-ignored", "",
                f"Group Policy sets AllowLocalPolicyMerge = 0 for the {profile} profile "
                f"({merge.origin.describe()}): the computer's local rules, which `cefw add` "
                "writes, are ignored there. Deploy the rules through the GPO instead "
                "(`cefw export --format registry-pol` or the PowerShell export with "
                "--policy-store), or allow local rule merging in the GPO."))
    return found
