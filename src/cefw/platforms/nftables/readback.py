"""Reading cefw's nftables table back (`nft -j list table ...`) into cefw's Rules, so
the reconciler can compare it with the plan; and the other tables of the ruleset that
would drop what cefw's table accepts. Anything cefw would not have written shows up as
drift."""

from __future__ import annotations

import ipaddress
from collections import Counter
from collections.abc import Iterable, Sequence
from typing import Any

from ...addresses import Network, collapsed, parse_token
from ...apply.store import Stored
from ...errors import EnvironmentProblem
from ...findings import finding
from ...model import ANY, Finding, Ports, Rule
from ...ports import MAX_PORT, merge, overlaps
from ...record import Record
from .table import (
    FAMILY,
    HOSTS_SETS,
    INPUT,
    PRIORITY_VALUE,
    TABLE,
    Atom,
    Guard,
    atoms,
    by_family,
    decode_name,
    quote,
)

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
    protocol, ports, family, source, dest = "", None, "", None, ""
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
        elif field == "daddr" and name in ("ip", "ip6") and not dest:
            if right != f"@{HOSTS_SETS[name]}":  # gateway mode names the CE hosts' set only
                raise _Unparsable("a destination cefw does not write")
            dest = name
        else:
            raise _Unparsable(f"a match cefw does not write: {name} {field}")
    if ports is None:
        raise _Unparsable("no port match")
    if dest and family and family != dest:
        raise _Unparsable("source and destination of different families")
    return Atom(verdict, protocol, ports, family, source.addresses if source else (), dest)


class AddressSet(Record):
    version: int  # 4 or 6; 0 when empty
    addresses: tuple[str, ...]  # collapsed


def address_set(nets: list[Network]) -> AddressSet:
    versions = {n.version for n in nets}
    if len(versions) > 1:
        raise _Unparsable("IPv4 and IPv6 addresses in one match")
    return AddressSet(versions.pop() if versions else 0, collapsed(nets))


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


def canonical(rule: Rule, guard: Guard = INPUT) -> Rule:
    """The rule as the table reads back: see addresses.collapsed(). On the forward hook
    sources of a family no CE host has are not written (they reach none)."""
    remote = rule.remote_addresses
    if remote != (ANY,):
        keep = guard.families() if guard.forward else ("ip", "ip6")
        remote = tuple(a for family, part in by_family(tuple(remote)) if family in keep
                       for a in part)
    return _stored_rule(rule.name, rule.protocol.upper(), merge(rule.local_ports), remote)


def unmanaged(what: str, table: str = TABLE) -> Stored:
    """Something in cefw's table that cefw did not write: drift, removed by the next
    `cefw add` (which rewrites the table) or `cefw remove`."""
    name = f"[table {FAMILY} {table}] {what}"
    rule = Rule(name=name, display_name=name, protocol="", local_ports=(), program="",
                remote_addresses=(), profiles=(), components=(),
                description="not written by cefw")
    return Stored(("unmanaged", what), rule)


def rebuild(name: str, found: Sequence[Atom], misplaced: bool = False,
            guard: Guard = INPUT) -> Rule:
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
    expected_accepts, expected_drops = atoms(rule, guard=guard)
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


class _Table(Record):
    chain_rules: list[dict]
    sets: dict[str, AddressSet | None]  # None: not an address set cefw could write
    odd: list[Stored]  # chains, objects, flags cefw does not write


def parse_table(data: Any, table: str = TABLE, guard: Guard = INPUT) -> list[Stored]:
    """`nft -j list table inet <table>` -> the Stored rules (and unmanaged items).
    Objects of other tables are ignored, so a `list ruleset` parses the same."""
    found = _collect(data, table, guard)
    sets = {name: nets for name, nets in found.sets.items() if nets is not None}
    stored, used = _rules(found.chain_rules, sets, table, guard)
    odd = list(found.odd)
    if guard.forward:
        odd += _hosts_drift(found.sets, guard, table)
        used.update(HOSTS_SETS.values())
    odd += [unmanaged(f"set {name}", table) for name in found.sets if name not in used]
    out = stored + odd
    if not out:
        out.append(unmanaged("an empty table", table))
    return out


def _hosts_drift(sets: dict[str, AddressSet | None], guard: Guard,
                 table: str) -> list[Stored]:
    """Gateway mode: the CE hosts' sets must hold exactly the CE hosts (each family's
    set present only when there are hosts of that family)."""
    want = dict(by_family(guard.hosts))
    out = []
    for family, name in HOSTS_SETS.items():
        have = sets.get(name)
        wanted = want.get(family)
        if name not in sets and wanted is None:
            continue
        if have is None or wanted is None or have.addresses != wanted:
            shown = ("nothing (it is missing)" if name not in sets else
                     ", ".join(have.addresses) or "nothing" if have else
                     "something cefw does not write")
            out.append(unmanaged(f"set {name} holds {shown}; the CE hosts are "
                                 f"{', '.join(wanted or ()) or 'none of this family'}", table))
    return out


def _collect(data: Any, table: str, guard: Guard = INPUT) -> _Table:
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
            have_chain = have_chain or body.get("name") == guard.chain
            found.odd.extend(_check_chain(body, table, guard))
        elif kind == "rule":
            if body.get("chain") == guard.chain:
                found.chain_rules.append(body)
        elif kind == "set":
            found.sets[str(body.get("name"))] = _address_set(body)
        else:
            found.odd.append(unmanaged(f"{kind} {body.get('name', '')}".strip(), table))
    if not have_chain:
        found.odd.append(unmanaged(f"no chain {guard.chain}", table))
    return found


class Contents(Record):
    """What cefw's table holds, by object, for the backend's two-step replacement."""

    flags: bool  # the table has flags (dormant...): replace it whole instead
    sets: dict[str, tuple[str, ...] | None]  # name -> canonical addresses, None: not cefw's
    others: list[tuple[str, str]]  # (kind, name) of chains, maps, counters...


def contents(data: Any, table: str = TABLE) -> Contents:
    """`nft -j list table inet <table>` -> its objects."""
    found = Contents(False, {}, [])
    for obj in data.get("nftables", []):
        if not isinstance(obj, dict) or len(obj) != 1:
            continue
        kind, body = next(iter(obj.items()))
        if not isinstance(body, dict) or body.get("family") != FAMILY:
            continue
        if kind == "table" and body.get("name") == table:
            found = found._replace(flags=bool(body.get("flags")))
        elif body.get("table") != table or kind in ("table", "rule", "metainfo"):
            continue
        elif kind == "set":
            nets = _address_set(body)
            found.sets[str(body.get("name"))] = nets.addresses if nets else None
        else:
            found.others.append((kind, str(body.get("name"))))
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


def _check_chain(body: dict, table: str, guard: Guard = INPUT) -> list[Stored]:
    name = body.get("name", "")
    if name != guard.chain:
        return [unmanaged(f"chain {name}", table)]
    have = {k: body.get(k) for k in ("type", "hook", "prio", "policy")}
    want = {"type": "filter", "hook": guard.hook, "prio": PRIORITY_VALUE, "policy": "accept"}
    if have != want:
        shown = " ".join(f"{k} {v}" for k, v in have.items())
        return [unmanaged(f"chain {guard.chain} is `{shown}`, cefw writes `type filter hook "
                          f"{guard.hook} prio {PRIORITY_VALUE} policy accept`", table)]
    return []


def _rules(bodies: list[dict], sets: dict[str, AddressSet], table: str,
           guard: Guard = INPUT) -> tuple[list[Stored], set[str]]:
    """The chain's rules grouped by comment into cefw Rules; everything else as
    unmanaged items. Also the names of the address sets the rules use."""
    out: list[Stored] = []
    expected_head = guard.head()
    head = [(body.get("comment"), body.get("expr")) for body in bodies[:len(expected_head)]]
    start = len(expected_head)
    if head != [(comment, exprs) for _, comment, exprs in expected_head]:
        what = "reply accept is not the first rule" if guard.forward else (
            "loopback and reply accepts are not the first rules")
        out.append(unmanaged(f"the {what} of chain {guard.chain}", table))
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
                                                  name in shadowing, guard))
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


def default_drop_findings(objects: Iterable[Any], table: str = TABLE,
                          hook: str = "input") -> list[Finding]:
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
            if body.get("hook") == hook and body.get("family") in ("ip", "ip6", "inet"):
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
                f"table {family} {owner}, chain {chain} ({hook} hook) {how}: an accept in "
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
