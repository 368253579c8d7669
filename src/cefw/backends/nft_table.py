"""The nftables table cefw writes, `inet contact_expert`: its layout, the one `nft -f`
transaction that replaces it whole, and the `nft -j` output read back into cefw's Rules.
Pure data and text: running nft is the backend's job (nftables.py).

Layout (one base chain on the input hook, policy accept, so every packet cefw has no
rule for is left to the host's own firewall):

    table inet contact_expert {
        set sources4_1 { type ipv4_addr; flags interval; elements = { 10.0.1.10, ... } }
        chain input {
            type filter hook input priority filter - 10; policy accept;
            iif "lo" accept                                      (the host talks to itself)
            ct state established,related accept                  (replies to its own traffic)
            tcp dport 9905 ip saddr @sources4_1 accept comment "CE-DialerServer-TCP"
            ...every rule's accepts: per port range, per address family...
            tcp dport 9905 drop comment "CE-DialerServer-TCP"
            ...every rule's drops: per port range...
        }
    }

All accepts come before all drops, so two rules sharing a port add up (a union) instead
of the first drop hiding the second accept. Each nft rule carries its cefw rule name as
comment; reading the table back rebuilds cefw's Rules from those comments, and anything
cefw would not have written shows up as drift.

Priority `filter - 10`: after conntrack (-200) and DNAT (-100), so `ct state` works and
ports are the ones the listeners bind; just before the usual `filter` (0) chains of
firewalld, iptables-nft and /etc/nftables.conf, so cefw's drops are decided first and
the order between the two tables is defined rather than left to chance. An accept here
does not overrule a drop in another table: see default_drop_findings().
"""

from __future__ import annotations

import ipaddress
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from functools import lru_cache
from typing import Any, NamedTuple

from ..addresses import Network, parse_token
from ..errors import CefwError, EnvironmentProblem
from ..findings import finding
from ..model import ANY, Finding, Ports, Rule
from ..ports import MAX_PORT, format_range, merge, overlaps
from .base import Stored

FAMILY = "inet"
TABLE = "contact_expert"
CHAIN = "input"
PRIORITY = "filter - 10"  # as nft lists it; the kernel stores -10
PRIORITY_VALUE = -10
COMMENT_MAX = 128  # bytes of a rule comment nft accepts
PROTOCOLS = ("TCP", "UDP")

# The two accepts at the top of the chain, as written and as `nft -j` reads them back.
LOOPBACK_COMMENT = "cefw: loopback, this host talking to itself"
REPLIES_COMMENT = "cefw: replies to this host's own connections"
HEAD = (
    ('iif "lo" accept', LOOPBACK_COMMENT,
     [{"match": {"op": "==", "left": {"meta": {"key": "iif"}}, "right": "lo"}},
      {"accept": None}]),
    ("ct state established,related accept", REPLIES_COMMENT,
     [{"match": {"op": "in", "left": {"ct": {"key": "state"}},
                 "right": ["established", "related"]}},
      {"accept": None}]),
)


# ---------------------------------------------------------------- rule <-> nft rules
#
# No anonymous sets: the kernel names and binds each one by walking every set of the
# batch, so a few thousand of them make one transaction take seconds (15 s for 2,000
# rules, measured). One nft rule per port range instead, and each list of remote
# addresses in a named set shared by every rule with that list: a plan has a handful of
# zone combinations, so a handful of sets, and the transaction grows linearly.


class Atom(NamedTuple):
    """One nft rule cefw writes: an accept from some sources, or the drop behind them,
    for one port range."""

    verdict: str  # "accept" | "drop"
    protocol: str  # "TCP" | "UDP"
    ports: Ports  # one range as cefw writes it; a hand-written rule may hold more
    family: str  # "ip" | "ip6" for an accept from addresses; "" = any source
    addresses: tuple[str, ...]  # () when family is ""

    def text(self) -> str:
        """The rule as nft would list it, addresses inline (for drift messages)."""
        text = f"{self.protocol.lower()} dport {_braced(format_range(r) for r in self.ports)}"
        if self.family:
            text += f" {self.family} saddr {_braced(self.addresses)}"
        return f"{text} {self.verdict}"


def _braced(items: Iterable[str]) -> str:
    values = list(items)
    return values[0] if len(values) == 1 else "{ " + ", ".join(values) + " }"


def _as_written(nets: Iterable[Network]) -> tuple[str, ...]:
    """Sorted, networks inside another dropped (nft refuses overlapping set elements),
    neighbours left apart: two servers stay two, as the site file lists them."""
    kept: list[Network] = []
    for net in sorted(set(nets), key=lambda n: (n.network_address, n.prefixlen)):
        if not any(net.subnet_of(k) for k in kept):  # type: ignore[arg-type]
            kept.append(net)
    return tuple(_show(n) for n in kept)


def _show(net: Network) -> str:
    return str(net.network_address) if net.prefixlen == net.max_prefixlen else str(net)


def collapse(nets: Iterable[Network]) -> tuple[str, ...]:
    """The one form in which the table's addresses compare: neighbours merged into the
    fewest prefixes, IPv4 first, a single host without its prefix. nft may merge
    neighbours itself ({10.0.1.10, 10.0.1.11, 10.0.2.0/24} can read back as
    {10.0.1.10/31, 10.0.2.0/24}), so the written form need not come back as is; the
    addresses meant always do, and this form is unique to them."""
    nets = list(nets)
    out: list[str] = []
    for version in (4, 6):
        chosen = [n for n in nets if n.version == version]
        out += [_show(n) for n in ipaddress.collapse_addresses(chosen)]  # type: ignore[type-var]
    return tuple(out)


@lru_cache(maxsize=4096)
def by_family(addresses: tuple[str, ...], merged: bool = True,
              ) -> tuple[tuple[str, tuple[str, ...]], ...]:
    """(("ip", IPv4 part), ("ip6", IPv6 part)), empty parts left out; collapsed, or
    `merged=False` as written. Cached: a plan has a handful of address lists (its zone
    combinations) shared by all its rules, and ipaddress is slow."""
    nets = [ipaddress.ip_network(a, strict=False) for a in addresses]
    out = []
    for family, version in (("ip", 4), ("ip6", 6)):
        mine = [n for n in nets if n.version == version]
        chosen = collapse(mine) if merged else _as_written(mine)
        if chosen:
            out.append((family, chosen))
    return tuple(out)


def atoms(rule: Rule, *, merged: bool = True) -> tuple[list[Atom], list[Atom]]:
    """A rule's accepts (per port range, per address family) and drops (per port range).
    `merged=False` keeps the addresses as the plan lists them: what is written, for
    people to read; the default is the form read-back compares in."""
    protocol, ranges = rule.protocol.upper(), merge(rule.local_ports)
    drops = [Atom("drop", protocol, (r,), "", ()) for r in ranges]
    if rule.remote_addresses == (ANY,):
        return [Atom("accept", protocol, (r,), "", ()) for r in ranges], drops
    accepts = [Atom("accept", protocol, (r,), family, chosen)
               for family, chosen in by_family(tuple(rule.remote_addresses), merged)
               for r in ranges]
    return accepts, drops


def encode_name(name: str) -> str:
    """A rule name as a comment nft can hold and give back unchanged: `%`, `"` and
    control characters become %XX (nft has no escape for a quote)."""
    if not _UNSAFE.search(name):
        return name
    return _UNSAFE.sub(lambda m: f"%{ord(m.group()):02X}", name)


_UNSAFE = re.compile(r'[%"\x00-\x1f\x7f]')


def decode_name(comment: str) -> str:
    return re.sub(r"%([0-9A-F]{2})", lambda m: chr(int(m.group(1), 16)), comment)


def quote(text: str) -> str:
    return f'"{text}"'


class Layout(NamedTuple):
    """The table's contents: named address sets and the chain's rules, in order."""

    sets: dict[str, tuple[str, tuple[str, ...]]]  # name -> (family, elements)
    rules: list[str]  # nft rule text, comment included


def layout(rules: Sequence[Rule]) -> Layout:
    """The two head accepts, every accept of every rule, then every drop: accepts first
    so rules that share a port add up instead of one's drop hiding the other's accept.
    Written as atoms() describes them, without building the atoms: this is the hot path
    of a 2,000-rule apply."""
    sets: dict[tuple[str, tuple[str, ...]], str] = {}
    lines = [f"{text} comment {quote(comment)}" for text, comment, _ in HEAD]
    drops: list[str] = []
    for rule in rules:
        comment = quote(encode_name(rule.name))
        dports = [f"{rule.protocol.lower()} dport {format_range(r)}"
                  for r in merge(rule.local_ports)]
        drops += [f"{d} drop comment {comment}" for d in dports]
        if rule.remote_addresses == (ANY,):
            lines += [f"{d} accept comment {comment}" for d in dports]
            continue
        for family, addresses in by_family(tuple(rule.remote_addresses), False):
            source = addresses[0]
            if len(addresses) > 1:
                source = "@" + sets.setdefault((family, addresses), _set_name(family, sets))
            lines += [f"{d} {family} saddr {source} accept comment {comment}" for d in dports]
    named = {name: key for key, name in sets.items()}
    return Layout(named, lines + drops)


def _set_name(family: str, sets: dict[tuple[str, tuple[str, ...]], str]) -> str:
    return f"{_SET_PREFIX[family]}{1 + sum(1 for f, _ in sets if f == family)}"


_SET_PREFIX = {"ip": "sources4_", "ip6": "sources6_"}
_SET_TYPE = {"ip": "ipv4_addr", "ip6": "ipv6_addr"}


def transaction(rules: Sequence[Rule], table: str = TABLE) -> str:
    """One `nft -f` batch: create the table if absent (so the delete cannot fail), delete
    it, write it anew. The kernel commits all of it or none, so no packet ever sees a
    moment without either the old or the new rules. No rules: only the deletion."""
    lines = [f"table {FAMILY} {table} {{}}", f"delete table {FAMILY} {table}"]
    if rules:
        table_layout = layout(rules)
        lines.append(f"table {FAMILY} {table} {{")
        for name, (family, elements) in table_layout.sets.items():
            lines += [f"\tset {name} {{", f"\t\ttype {_SET_TYPE[family]}",
                      "\t\tflags interval", f"\t\telements = {{ {', '.join(elements)} }}",
                      "\t}"]
        lines += [f"\tchain {CHAIN} {{",
                  f"\t\ttype filter hook input priority {PRIORITY}; policy accept;"]
        lines += [f"\t\t{line}" for line in table_layout.rules]
        lines += ["\t}", "}"]
    return "\n".join(lines) + "\n"


def render_script(rules: Sequence[Rule], table: str = TABLE) -> str:
    """`cefw export --format nft`: the transaction `cefw add` would send, as a script."""
    from .. import __version__

    check_table_name(table)
    usable, _ = enforceable(rules)
    header = [
        "#!/usr/sbin/nft -f",
        f"# Contact Expert inbound rules, written by cefw {__version__}.",
        f"# Load as root with `nft -f <this file>`: it replaces table {FAMILY} {table}",
        "# in one atomic step and touches no other table. For each CE port: accept from",
        "# the hosts that use it, drop from everyone else; other traffic is left to the",
        "# host's own firewall. A host whose firewall drops inbound traffic by default",
        "# must accept these ports there as well (see README).",
    ]
    left_out = len(rules) - len(usable)
    if left_out:
        header.append(f"# {left_out} rule(s) without a port are left out: nftables cannot "
                      "bind a rule to a program.")
    return "\n".join(header) + "\n" + transaction(usable, table)


# ---------------------------------------------------------------- what the table holds


def check_table_name(table: str) -> None:
    if not re.fullmatch(r"[A-Za-z][A-Za-z0-9_]{0,30}", table):
        raise CefwError(f"{table!r} is not a usable nftables table name",
                        "use letters, digits and _ (for example contact_expert)")


def enforceable(rules: Sequence[Rule]) -> tuple[list[Rule], list[Finding]]:
    """The rules the table can hold, and a finding for each one it cannot."""
    usable: list[Rule] = []
    skipped: list[Finding] = []
    for rule in rules:
        problem = _cannot_hold(rule)
        if problem:
            component = rule.components[0] if rule.components else ""
            skipped.append(finding("backend-cannot-enforce", component,
                                   f"{rule.name}: {problem}"))
        else:
            usable.append(rule)
    return usable, skipped


def _cannot_hold(rule: Rule) -> str:
    """Why the table cannot hold `rule`, or ""."""
    if not rule.protocol and not rule.local_ports:
        return ("not a rule cefw wrote (something found in its nftables table and saved "
                "in a snapshot); it is not restored.")
    if not rule.local_ports:
        return ("the rule names no port (it is bound to a program that picks its ports at "
                "run time) and nftables cannot match a program, so it is left out: a "
                "port-less drop would cut the host off. Pin a static port to have it "
                "enforced.")
    if rule.protocol.upper() not in PROTOCOLS:
        return f"protocol {rule.protocol!r} is not TCP or UDP; it is left out."
    if any(not 1 <= low <= high <= MAX_PORT for low, high in rule.local_ports):
        return "a port outside 1-65535; it is left out."
    if rule.remote_addresses != (ANY,):
        try:
            for address in rule.remote_addresses:
                ipaddress.ip_network(address, strict=False)
        except ValueError:
            return (f"remote address {address!r} is not an IP address or prefix; it is "
                    "left out.")
    if len(encode_name(rule.name).encode("utf-8")) > COMMENT_MAX:
        raise CefwError(
            f"rule name {rule.name!r} is longer than the {COMMENT_MAX} bytes an nftables "
            "comment holds, so cefw could not recognise the rule again",
            "shorten the name it comes from (a component or recording channel name)")
    return ""


# ---------------------------------------------------------------- reading back


class _Unparsable(ValueError):
    pass


def _ports(right: Any) -> Ports:
    if isinstance(right, dict) and "set" in right:
        return merge(r for item in right["set"] for r in _ports(item))
    if isinstance(right, dict) and "range" in right:
        low, high = right["range"]
        return ((_port(low), _port(high)),)
    return ((_port(right), _port(right)),)


def _port(value: Any) -> int:
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= MAX_PORT:
        return value
    raise _Unparsable(f"not a port: {value!r}")


def _nets(right: Any) -> list[Network]:
    """An address, prefix, range or anonymous set of them, as `nft -j` prints it."""
    try:
        if isinstance(right, dict) and "set" in right:
            return [n for item in right["set"] for n in _nets(item)]
        if isinstance(right, dict) and "elem" in right:  # an element with a comment...
            return _nets(right["elem"]["val"])
        if isinstance(right, dict) and "prefix" in right:
            prefix = right["prefix"]
            return [ipaddress.ip_network(f"{prefix['addr']}/{prefix['len']}", strict=False)]
        if isinstance(right, dict) and "range" in right:
            return parse_token("{}-{}".format(*right["range"]), strict=False)
        if isinstance(right, str) and not right.startswith("@"):
            return parse_token(right, strict=False)
    except (ValueError, KeyError, TypeError) as exc:
        raise _Unparsable(str(exc)) from None
    raise _Unparsable(f"not an address: {right!r}")


def _verdict(expr: Any) -> str:
    if isinstance(expr, dict) and len(expr) == 1:
        key = next(iter(expr))
        if key in ("accept", "drop") and expr[key] is None:
            return key
    raise _Unparsable("not an accept or drop")


def parse_atom(exprs: Any, sets: dict[str, AddressSet] | None = None) -> Atom:
    """An nft rule's expressions (from `nft -j`) as the Atom cefw would have written;
    _Unparsable when cefw never writes such a rule. `sets`: the table's named address
    sets, for `ip saddr @name`."""
    if not isinstance(exprs, list) or not exprs:
        raise _Unparsable("no expressions")
    verdict = _verdict(exprs[-1])
    protocol, ports, family, source = "", None, "", None
    for expr in exprs[:-1]:
        try:
            match = expr["match"]
            payload = match["left"]["payload"]
            name, field, right = payload["protocol"], payload["field"], match["right"]
        except (KeyError, TypeError):
            raise _Unparsable("not a port or address match") from None
        if match.get("op") not in ("==", "in"):
            raise _Unparsable("not an equality match")
        if field == "dport" and name in ("tcp", "udp") and ports is None:
            protocol, ports = name.upper(), _ports(right)
        elif field == "saddr" and name in ("ip", "ip6") and source is None:
            family, source = name, _source(right, sets or {})
            if source.version not in (0, 4 if name == "ip" else 6):
                raise _Unparsable("address of the wrong family")
        else:
            raise _Unparsable(f"a match cefw does not write: {name} {field}")
    if ports is None:
        raise _Unparsable("no port match")
    return Atom(verdict, protocol, ports, family, source.addresses if source else ())


class AddressSet(NamedTuple):
    version: int  # 4 or 6; 0 when empty
    addresses: tuple[str, ...]  # collapsed


def address_set(nets: list[Network]) -> AddressSet:
    versions = {n.version for n in nets}
    if len(versions) > 1:
        raise _Unparsable("IPv4 and IPv6 addresses in one match")
    return AddressSet(versions.pop() if versions else 0, collapse(nets))


def _source(right: Any, sets: dict[str, AddressSet]) -> AddressSet:
    if isinstance(right, str) and right.startswith("@"):
        if right[1:] not in sets:
            raise _Unparsable(f"no address set {right}")
        return sets[right[1:]]
    return address_set(_nets(right))


def _stored_rule(name: str, protocol: str, ports: Ports,
                 remote: tuple[str, ...]) -> Rule:
    """A Rule as the table holds it: the fields nftables cannot store are blank."""
    return Rule(name=name, display_name=name, protocol=protocol, local_ports=ports,
                program="", remote_addresses=remote, profiles=(), components=())


def canonical(rule: Rule) -> Rule:
    """The rule as the table reads back: see collapse() for its addresses."""
    remote = rule.remote_addresses
    if remote != (ANY,):
        remote = tuple(a for _, part in by_family(tuple(remote)) for a in part)
    return _stored_rule(rule.name, rule.protocol.upper(), merge(rule.local_ports), remote)


def unmanaged(what: str, table: str = TABLE) -> Stored:
    """Something in cefw's table that cefw did not write: drift, removed by the next
    `cefw add` (which rewrites the table) or `cefw remove`."""
    name = f"[table {FAMILY} {table}] {what}"
    rule = Rule(name=name, display_name=name, protocol="", local_ports=(), program="",
                remote_addresses=(), profiles=(), components=(),
                description="not written by cefw")
    return Stored(("unmanaged", what), rule)


def rebuild(name: str, found: Sequence[Atom], misplaced: bool = False) -> Rule:
    """The cefw Rule a group of nft rules with one comment stands for: the ports of its
    drops and the addresses of its first accept of each address family. When the group
    is not exactly what cefw writes for that Rule, the difference is appended to the
    remote addresses, so it never compares equal to a planned rule (drift) and the
    audit says what is wrong."""
    protocols = sorted({a.protocol for a in found})
    drops = [a for a in found if a.verdict == "drop"]
    accepts = [a for a in found if a.verdict == "accept"]
    ports = merge(r for a in (drops or accepts) for r in a.ports)
    remote: tuple[str, ...] = ()
    if accepts and not accepts[0].family:
        remote = (ANY,)
    elif accepts:  # each family's part is collapsed already, so joined they are too
        firsts = {a.family: a for a in reversed(accepts) if a.family}
        remote = tuple(x for family in ("ip", "ip6") if family in firsts
                       for x in firsts[family].addresses)
    rule = _stored_rule(name, "+".join(protocols), ports, remote)
    expected_accepts, expected_drops = atoms(rule)
    expected = Counter([*expected_accepts, *expected_drops])
    have = Counter(found)
    notes = [f"missing `{a.text()}`" for a in expected if a not in have]
    notes += [f"unexpected `{a.text()}`" for a in have if a not in expected]
    if not notes and have != expected:
        notes.append("a rule written twice")
    if misplaced:
        notes.append("its drop comes before an accept for the same port")
    if notes:
        rule = rule._replace(remote_addresses=(
            *remote, f"(table differs from what cefw writes: {'; '.join(notes)})"))
    return rule


class _Table(NamedTuple):
    chain_rules: list[dict]
    sets: dict[str, AddressSet | None]  # None: not an address set cefw could write
    odd: list[Stored]  # chains, objects, flags cefw does not write


def parse_table(data: Any, table: str = TABLE) -> list[Stored]:
    """`nft -j list table inet <table>` -> the Stored rules (and unmanaged items).
    Objects of other tables are ignored, so a `list ruleset` parses the same."""
    found = _collect(data, table)
    sets = {name: nets for name, nets in found.sets.items() if nets is not None}
    stored, used = _rules(found.chain_rules, sets, table)
    odd = list(found.odd)
    odd += [unmanaged(f"set {name}", table) for name in found.sets if name not in used]
    out = stored + odd
    if not out:
        out.append(unmanaged("an empty table", table))
    return out


def _collect(data: Any, table: str) -> _Table:
    try:
        objects = [o for o in data["nftables"] if isinstance(o, dict) and len(o) == 1]
    except (KeyError, TypeError):
        raise EnvironmentProblem("nft -j printed JSON without an `nftables` list",
                                 "update nftables (0.9.3 or newer)") from None
    found = _Table([], {}, [])
    have_chain = False
    for obj in objects:
        kind, body = next(iter(obj.items()))
        if not isinstance(body, dict) or body.get("family") != FAMILY:
            continue
        if kind == "table":
            if body.get("name") == table and body.get("flags"):
                found.odd.append(unmanaged(f"table flags {body['flags']}", table))
        elif body.get("table") != table:
            continue
        elif kind == "chain":
            have_chain = have_chain or body.get("name") == CHAIN
            found.odd.extend(_check_chain(body, table))
        elif kind == "rule":
            if body.get("chain") == CHAIN:
                found.chain_rules.append(body)
        elif kind == "set":
            found.sets[str(body.get("name"))] = _address_set(body)
        else:
            found.odd.append(unmanaged(f"{kind} {body.get('name', '')}".strip(), table))
    if not have_chain:
        found.odd.append(unmanaged(f"no chain {CHAIN}", table))
    return found


def _address_set(body: dict) -> AddressSet | None:
    """A named set's addresses, or None if it is not a set cefw writes."""
    version = {"ipv4_addr": 4, "ipv6_addr": 6}.get(body.get("type"))  # type: ignore[arg-type]
    if version is None or body.get("flags") not in (["interval"], "interval"):
        return None
    try:
        found = address_set([n for item in body.get("elem", []) for n in _nets(item)])
    except _Unparsable:
        return None
    return found._replace(version=version) if found.version in (0, version) else None


def _check_chain(body: dict, table: str) -> list[Stored]:
    name = body.get("name", "")
    if name != CHAIN:
        return [unmanaged(f"chain {name}", table)]
    have = {k: body.get(k) for k in ("type", "hook", "prio", "policy")}
    want = {"type": "filter", "hook": "input", "prio": PRIORITY_VALUE, "policy": "accept"}
    if have != want:
        shown = " ".join(f"{k} {v}" for k, v in have.items())
        return [unmanaged(f"chain {CHAIN} is `{shown}`, cefw writes `type filter hook "
                          f"input prio {PRIORITY_VALUE} policy accept`", table)]
    return []


def _rules(bodies: list[dict], sets: dict[str, AddressSet],
           table: str) -> tuple[list[Stored], set[str]]:
    """The chain's rules grouped by comment into cefw Rules; everything else as
    unmanaged items. Also the names of the address sets the rules use."""
    out: list[Stored] = []
    head = [(body.get("comment"), body.get("expr")) for body in bodies[:len(HEAD)]]
    start = len(HEAD)
    if head != [(comment, exprs) for _, comment, exprs in HEAD]:
        out.append(unmanaged(f"the loopback and reply accepts are not the first rules of "
                             f"chain {CHAIN}", table))
        start = 0
    groups: dict[str, list[tuple[int, Atom]]] = {}
    handles: dict[str, list[int]] = {}
    used: set[str] = set()
    for position, body in enumerate(bodies[start:], start):
        comment = body.get("comment")
        try:
            atom: Atom | None = parse_atom(body.get("expr"), sets)
        except _Unparsable:
            atom = None
        if atom is None or not isinstance(comment, str):
            label = f" `{atom.text()}`" if atom else ""
            label += f" comment {quote(comment)}" if isinstance(comment, str) else ""
            out.append(unmanaged(f"rule handle {body.get('handle')}{label}", table))
            continue
        used.update(_set_names(body.get("expr")))
        name = decode_name(comment)
        groups.setdefault(name, []).append((position, atom))
        handles.setdefault(name, []).append(body.get("handle", 0))
    shadowing = _drops_before_accepts(groups)
    rules = [Stored(tuple(handles[name]), rebuild(name, [a for _, a in group],
                                                  name in shadowing))
             for name, group in groups.items()]
    return rules + out, used


def _set_names(exprs: list) -> list[str]:
    return [e["match"]["right"][1:] for e in exprs
            if isinstance(e.get("match", {}).get("right"), str)
            and e["match"]["right"].startswith("@")]


def _drops_before_accepts(groups: dict[str, list[tuple[int, Atom]]]) -> set[str]:
    """Names whose drop sits before an accept for the same protocol and port: that
    accept never sees a packet. cefw writes every accept first, so normally no drop
    comes before any accept and nothing needs comparing."""
    drops = [(p, a, name) for name, g in groups.items() for p, a in g if a.verdict == "drop"]
    if not drops:
        return set()
    first_drop = min(p for p, _, _ in drops)
    late = [(p, a) for g in groups.values() for p, a in g
            if a.verdict == "accept" and p > first_drop]
    return {name for p, drop, name in drops for q, accept in late
            if p < q and drop.protocol == accept.protocol
            and overlaps(drop.ports, accept.ports)}


# ---------------------------------------------------------------- other tables


def default_drop_findings(objects: Iterable[Any], table: str = TABLE) -> list[Finding]:
    """Input chains of other tables that drop what they do not accept: cefw's accept
    does not overrule them (every base chain on a hook sees the packet, and a drop
    anywhere is final), so the CE ports must be accepted there too."""
    chains: dict[tuple[str, str, str], dict] = {}
    verdicts: dict[tuple[str, str, str], str] = {}
    for obj in objects:
        if not isinstance(obj, dict):
            continue
        if "chain" in obj:
            body = obj["chain"]
            key = (body.get("family"), body.get("table"), body.get("name"))
            if body.get("hook") == "input" and body.get("family") in ("ip", "ip6", "inet"):
                chains[key] = body
        elif "rule" in obj:
            body = obj["rule"]
            key = (body.get("family"), body.get("table"), body.get("chain"))
            ending = _unconditional_end(body.get("expr"))
            if ending:
                verdicts[key] = ending
    out = []
    for key, body in chains.items():
        family, owner, chain = key
        if (family, owner) == (FAMILY, table):
            continue
        how = ("has policy drop" if body.get("policy") == "drop"
               else f"ends in an unconditional {verdicts[key]}" if key in verdicts else "")
        if how:
            out.append(finding(
                "host-firewall-drops", "",
                f"table {family} {owner}, chain {chain} (input hook) {how}: an accept in "
                f"cefw's table {FAMILY} {table} does not overrule it, so the CE ports are "
                "reachable only where that firewall accepts them too. Accept them there "
                "(see README, 'A host with its own firewall')."))
    return out


def _unconditional_end(exprs: Any) -> str:
    """"drop"/"reject" when a rule drops everything that reaches it (counters and
    logging aside), else ""."""
    if not isinstance(exprs, list) or not exprs:
        return ""
    if any(not isinstance(e, dict) or not set(e) <= {"counter", "log", "drop", "reject"}
           for e in exprs):
        return ""
    last = next(iter(exprs[-1]))
    return last if last in ("drop", "reject") else ""
