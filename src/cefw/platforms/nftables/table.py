"""The nftables table cefw writes, `inet contact_expert`: its layout, the one `nft -f`
transaction that replaces it whole, and the `nft -j` output read back into cefw's Rules.
Pure data and text: running nft is the backend's job (backend.py), reading the table
back is readback.py's.

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

Gateway mode (`--hook forward`, on a Linux router in front of the CE servers): the
table `inet contact_expert_fwd`, chain `forward` on the forward hook, same priority and
policy accept. Every rule match also names the CE hosts (`ip daddr @ce_hosts4`,
`ip6 daddr @ce_hosts6`), so only packets to a CE port on a CE host are judged: accepted
from the rule's zones, dropped from everyone else; every other forwarded packet is left
to the router's own rules. The head is only the replies accept (no loopback here).

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

import hashlib
import ipaddress
import re
from collections.abc import Iterable, Sequence
from functools import lru_cache

from ...addresses import canonical_networks, collapsed
from ...errors import CefwError
from ...model import ANY, Plan, Ports, Rule
from ...ports import MAX_PORT, format_range, merge
from ...record import Record

FAMILY = "inet"
TABLE = "contact_expert"
FORWARD_TABLE = "contact_expert_fwd"
CHAIN = "input"
HOOKS = ("input", "forward")
HOSTS_SETS = {"ip": "ce_hosts4", "ip6": "ce_hosts6"}  # forward: the CE hosts, per family
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

# The forward hook has no loopback; established packets are those of connections the
# chain (or the router, for connections cefw does not judge) already let through.
FORWARD_HEAD = ((HEAD[1][0], "cefw: packets of connections already allowed", HEAD[1][2]),)


class Guard(Record):
    """What the table protects: this host (the input hook), or the CE hosts behind this
    router (the forward hook: only packets to `hosts` are judged)."""

    hook: str = "input"
    hosts: tuple[str, ...] = ()  # forward: the CE hosts' addresses (canonical)

    @property
    def chain(self) -> str:
        return self.hook

    @property
    def forward(self) -> bool:
        return self.hook == "forward"

    def head(self) -> tuple[tuple[str, str, list], ...]:
        return FORWARD_HEAD if self.forward else HEAD

    def families(self) -> tuple[str, ...]:
        """The address families of the CE hosts: "ip", "ip6"."""
        return tuple(family for family, _ in by_family(self.hosts))


INPUT = Guard()


# ---------------------------------------------------------------- rule <-> nft rules
#
# No anonymous sets: the kernel names and binds each one by walking every set of the
# batch, so a few thousand of them make one transaction take seconds (15 s for 2,000
# rules, measured). One nft rule per port range instead, and each list of remote
# addresses in a named set shared by every rule with that list: a plan has a handful of
# zone combinations, so a handful of sets, and the transaction grows linearly.


class Atom(Record):
    """One nft rule cefw writes: an accept from some sources, or the drop behind them,
    for one port range."""

    verdict: str  # "accept" | "drop"
    protocol: str  # "TCP" | "UDP"
    ports: Ports  # one range as cefw writes it; a hand-written rule may hold more
    family: str  # "ip" | "ip6" for an accept from addresses; "" = any source
    addresses: tuple[str, ...]  # () when family is ""
    dest: str = ""  # forward hook: the family of its `daddr @ce_hosts` match

    def text(self) -> str:
        """The rule as nft would list it, addresses inline (for drift messages)."""
        text = f"{self.protocol.lower()} dport {_braced(format_range(r) for r in self.ports)}"
        if self.family:
            text += f" {self.family} saddr {_braced(self.addresses)}"
        if self.dest:
            text += f" {self.dest} daddr @{HOSTS_SETS[self.dest]}"
        return f"{text} {self.verdict}"


def _braced(items: Iterable[str]) -> str:
    values = list(items)
    return values[0] if len(values) == 1 else "{ " + ", ".join(values) + " }"


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
        chosen = collapsed(mine) if merged else canonical_networks(mine)
        if chosen:
            out.append((family, chosen))
    return tuple(out)


def atoms(rule: Rule, *, merged: bool = True,
          guard: Guard = INPUT) -> tuple[list[Atom], list[Atom]]:
    """A rule's accepts (per port range, per address family) and drops (per port range).
    `merged=False` keeps the addresses as the plan lists them: what is written, for
    people to read; the default is the form read-back compares in."""
    protocol, ranges = rule.protocol.upper(), merge(rule.local_ports)
    if guard.forward:
        return _forward_atoms(rule, protocol, ranges, merged, guard.families())
    drops = [Atom("drop", protocol, (r,), "", ()) for r in ranges]
    if rule.remote_addresses == (ANY,):
        return [Atom("accept", protocol, (r,), "", ()) for r in ranges], drops
    accepts = [Atom("accept", protocol, (r,), family, chosen)
               for family, chosen in by_family(tuple(rule.remote_addresses), merged)
               for r in ranges]
    return accepts, drops


def _forward_atoms(rule: Rule, protocol: str, ranges: Ports, merged: bool,
                   families: tuple[str, ...]) -> tuple[list[Atom], list[Atom]]:
    """Each match also names the CE hosts of one family; a source of a family the CE
    hosts do not have can never reach them, so it has no accept."""
    drops = [Atom("drop", protocol, (r,), "", (), f) for f in families for r in ranges]
    if rule.remote_addresses == (ANY,):
        return [Atom("accept", protocol, (r,), "", (), f) for f in families
                for r in ranges], drops
    accepts = [Atom("accept", protocol, (r,), family, chosen, family)
               for family, chosen in by_family(tuple(rule.remote_addresses), merged)
               if family in families for r in ranges]
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


class Layout(Record):
    """The table's contents: named address sets and the chain's rules, in order."""

    sets: dict[str, tuple[str, tuple[str, ...]]]  # name -> (family, elements)
    rules: list[str]  # nft rule text, comment included


def layout(rules: Sequence[Rule], guard: Guard = INPUT) -> Layout:
    """The head accepts, every accept of every rule, then every drop: accepts first
    so rules that share a port add up instead of one's drop hiding the other's accept.
    Written as atoms() describes them, without building the atoms: this is the hot path
    of a 2,000-rule apply."""
    sets: dict[tuple[str, tuple[str, ...]], str] = {}
    lines = [f"{text} comment {quote(comment)}" for text, comment, _ in guard.head()]
    drops: list[str] = []
    # forward: each match ends with its family's CE hosts; input: one "any host" entry
    targets = ([(f, f" {f} daddr @{HOSTS_SETS[f]}") for f in guard.families()]
               if guard.forward else [("", "")])
    for rule in rules:
        comment = quote(encode_name(rule.name))
        dports = [f"{rule.protocol.lower()} dport {format_range(r)}"
                  for r in merge(rule.local_ports)]
        drops += [f"{d}{dest} drop comment {comment}" for _, dest in targets for d in dports]
        if rule.remote_addresses == (ANY,):
            lines += [f"{d}{dest} accept comment {comment}" for _, dest in targets
                      for d in dports]
            continue
        for family, addresses in by_family(tuple(rule.remote_addresses), False):
            dest = next((text for f, text in targets if f in ("", family)), None)
            if dest is None:
                continue  # no CE host of this family: these sources reach none
            source = addresses[0]
            if len(addresses) > 1:
                key = (family, addresses)
                if key not in sets:  # named once per address list, not once per rule
                    sets[key] = _set_name(family, addresses)
                source = "@" + sets[key]
            lines += [f"{d} {family} saddr {source}{dest} accept comment {comment}"
                      for d in dports]
    named = {name: key for key, name in sets.items()}
    for family, hosts in by_family(guard.hosts, False) if guard.forward else ():
        named[HOSTS_SETS[family]] = (family, hosts)
    return Layout(named, lines + drops)


def _set_name(family: str, addresses: tuple[str, ...]) -> str:
    """Named for its contents, so a set whose addresses have not changed keeps its name
    from one run to the next and `cefw add` can leave it in place (see backend.apply)."""
    digest = hashlib.sha256(",".join(addresses).encode("ascii")).hexdigest()[:8]
    return f"{_SET_PREFIX[family]}{digest}"


_SET_PREFIX = {"ip": "sources4_", "ip6": "sources6_"}
_SET_TYPE = {"ip": "ipv4_addr", "ip6": "ipv6_addr"}


def transaction(rules: Sequence[Rule], table: str = TABLE, guard: Guard = INPUT) -> str:
    """One `nft -f` batch: create the table if absent (so the delete cannot fail), delete
    it, write it anew. The kernel commits all of it or none, so no packet ever sees a
    moment without either the old or the new rules. No rules: only the deletion."""
    lines = [f"table {FAMILY} {table} {{}}", f"delete table {FAMILY} {table}"]
    if rules:
        table_layout = layout(rules, guard)
        lines += _block(table, table_layout.sets, table_layout.rules, guard)
    return "\n".join(lines) + "\n"


def _block(table: str, sets: dict[str, tuple[str, tuple[str, ...]]],
           rules: Sequence[str] | None, guard: Guard = INPUT) -> list[str]:
    """`table inet <table> { sets... chain <hook> {...} }`; rules None: sets only."""
    lines = [f"table {FAMILY} {table} {{"]
    for name, (family, elements) in sets.items():
        lines += [f"\tset {name} {{", f"\t\ttype {_SET_TYPE[family]}",
                  "\t\tflags interval", f"\t\telements = {{ {', '.join(elements)} }}",
                  "\t}"]
    if rules is not None:
        lines += [f"\tchain {guard.chain} {{",
                  f"\t\ttype filter hook {guard.hook} priority {PRIORITY}; policy accept;"]
        lines += [f"\t\t{line}" for line in rules]
        lines.append("\t}")
    return [*lines, "}"]


class Steps(Record):
    """`cefw add`'s two transactions: `sets` adds the address sets the new rules need
    and the table lacks ("" when none), `swap` replaces everything else; `undo` takes
    the first back out if the second fails."""

    sets: str
    swap: str
    undo: str


def steps(rules: Sequence[Rule], present: dict[str, tuple[str, ...] | None],
          others: Sequence[tuple[str, str]], *, exists: bool, table: str = TABLE,
          guard: Guard = INPUT) -> Steps:
    """The live replacement of an existing (or absent) table, in two transactions.

    Why not transaction() alone: the kernel publishes a new interval set's contents for
    lookups only after the commit has switched to the new rules, so for a moment a rule
    using a set created in the same transaction does not match at all, and its drop
    behind it drops a packet its accept allows (measured in tests/test_nftables_netns.py
    on Linux 6.18: 164 packets dropped in 300 replacements). Committing the sets first,
    while nothing uses them yet, closes that moment; a set whose addresses did not change
    keeps its name (named for its contents) and is not touched at all.

    `present`: the table's sets, name -> canonical addresses (None: not one cefw
    writes); `others`: its other objects as (kind, name), chains included; `exists`:
    whether the table is there at all."""
    table_layout = layout(rules, guard)
    wanted = table_layout.sets
    same = {name for name, (_family, elements) in wanted.items()
            if name in present and present[name] == canonical_set(elements)}
    new = {name: wanted[name] for name in wanted if name not in present}
    changed = {name: wanted[name] for name in wanted if name in present and name not in same}
    head = f"table {FAMILY} {table} {{}}"
    first = "\n".join([head, *_block(table, new, None)]) + "\n" if new else ""
    chains = [name for kind, name in others if kind == "chain"]
    lines = [head]
    lines += [f"flush chain {FAMILY} {table} {name}" for name in chains]
    lines += [f"delete chain {FAMILY} {table} {name}" for name in chains]
    lines += [f"delete {kind} {FAMILY} {table} {name}" for kind, name in others
              if kind != "chain"]
    lines += [f"delete set {FAMILY} {table} {name}" for name in present if name not in same]
    lines += _block(table, changed, table_layout.rules, guard)
    if not exists:  # the first step made the table: take it away again
        undo = f"{head}\ndelete table {FAMILY} {table}\n"
    else:
        undo = "".join(f"delete set {FAMILY} {table} {name}\n" for name in new)
    return Steps(first, "\n".join(lines) + "\n", undo if first else "")


def canonical_set(elements: Iterable[str]) -> tuple[str, ...]:
    """A set's addresses in the one form both the plan and `nft -j` compare in."""
    return tuple(collapsed(ipaddress.ip_network(e, strict=False) for e in elements))


def render(plan: Plan, **options: object) -> str:
    """`cefw export --format nft`: the transaction `cefw add` would send, as a script."""
    return render_script(plan.rules)


def render_script(rules: Sequence[Rule], table: str = TABLE) -> str:
    from ... import __version__

    check_table_name(table)
    usable = [rule for rule in rules if not cannot_hold(rule)]
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


@lru_cache(maxsize=4096)  # rules share their zones' addresses: each is checked once
def _is_network(address: str) -> bool:
    try:
        ipaddress.ip_network(address, strict=False)
    except ValueError:
        return False
    return True


def cannot_hold(rule: Rule) -> str:
    """Why the table cannot hold `rule`, or ""."""
    if not rule.protocol and not rule.local_ports:
        return ("it is not a rule cefw wrote (something found in its nftables table and "
                "saved in a snapshot), so it is not restored")
    if not rule.local_ports:
        return ("it names no port (it is bound to a program that picks its ports at run "
                "time) and nftables cannot match a program: a port-less drop would cut the "
                "host off. Pin a static port to have it enforced")
    if rule.protocol.upper() not in PROTOCOLS:
        return f"protocol {rule.protocol!r} is not TCP or UDP"
    if any(not 1 <= low <= high <= MAX_PORT for low, high in rule.local_ports):
        return "a port is outside 1-65535"
    if rule.remote_addresses != (ANY,):
        for address in rule.remote_addresses:
            if not _is_network(address):
                return f"remote address {address!r} is not an IP address or prefix"
    if len(encode_name(rule.name).encode("utf-8")) > COMMENT_MAX:
        raise CefwError(
            f"rule name {rule.name!r} is longer than the {COMMENT_MAX} bytes an nftables "
            "comment holds, so cefw could not recognise the rule again",
            "shorten the name it comes from (a component or recording channel name)")
    return ""


def left_out(plan: Plan) -> list[tuple[str, str]]:
    """(rule, why) for each rule the script leaves out: the export summary counts them."""
    return [(rule.name, why) for rule in plan.rules if (why := cannot_hold(rule))]
