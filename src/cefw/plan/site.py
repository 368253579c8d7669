"""The site file: who may connect (zones), as plain data, firewalld-style.

    [zones]
    servers = ["10.0.1.10", "10.0.1.11"]   # CE servers (core, recorder, database hosts)
    clients = ["10.20.0.0/16"]             # agent, operator and administrator PCs

    [rules]                                # optional
    profiles = ["domain", "private"]       # Windows profiles the rules apply in

    [host]                                 # optional, for a copied install folder
    program_dir = 'C:\\Program Files (x86)\\Geomant\\Contact Expert'

A zone that is absent means "not known": rules for it stay open to any address, with a
finding. A zone that is present but empty means "nobody".

The inventory (docs/site.md): the site's hosts and groups, each with its addresses and
the bundle that stands for it (`cefw collect`, Export-CEHostBundle). The zones follow
from it, and [zones] adds to them: a host's addresses go to `servers` (CE servers), a
group's to `clients` (agent PCs), unless `zone` says otherwise; a host in a group goes
where its group goes.

    [[hosts]]
    name = "ce-core-01"
    address = "10.0.1.10"                      # or addresses = [...]
    role = "core"                              # optional: hosts of one role are compared
    bundle = "bundles/ce-core-01.cefw.zip"     # optional, relative to the site file

    [[groups]]
    name = "agent-pcs"
    addresses = ["10.20.0.0/16"]
    bundle = "bundles/agent-pc.cefw.zip"       # one PC stands for the group

    [[hosts]]
    name = "pc-0042"
    address = "10.20.0.42"
    group = "agent-pcs"                        # a member; its own bundle is optional
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from pathlib import Path

from .. import catalog
from ..addresses import AddressSyntaxError, canonical
from ..errors import InputError
from ..model import ANY, DEFAULT_PROFILES, PROFILES
from ..record import Record

ZONES = tuple(catalog.SOURCE_ZONES.values())  # ("servers", "clients")
SERVERS, CLIENTS = ZONES
FIX = "see the site file example in `cefw --help` or README.md"
FIX_INVENTORY = "see docs/site.md for [[hosts]] and [[groups]]"
HOST_KEYS = {"name", "address", "addresses", "role", "bundle", "group", "zone"}
GROUP_KEYS = {"name", "address", "addresses", "bundle", "zone"}


class Member(Record):
    """A [[hosts]] or [[groups]] entry of the inventory."""

    kind: str  # "host" | "group"
    name: str
    addresses: tuple[str, ...]  # canonical
    zone: str  # SERVERS | CLIENTS: where its addresses go
    bundle: str  # as written in the site file; "" = none
    bundle_path: Path | None  # resolved against the site file's folder
    role: str = ""  # hosts: "" = not given
    group: str = ""  # hosts: the group it belongs to, "" = none
    where: str = ""  # "[[hosts]] #3 (ce-core-01)", for messages


class Site(Record):
    zones: dict[str, tuple[str, ...]]  # zone -> canonical addresses; absent = unknown
    profiles: tuple[str, ...]
    program_dir: str  # "" = not given
    path: str  # the file, for messages; "" without a site file
    written: dict[str, tuple[str, ...]] | None = None  # zone -> addresses as written
    hosts: tuple[Member, ...] = ()
    groups: tuple[Member, ...] = ()

    @property
    def given(self) -> bool:
        return bool(self.path)


NO_SITE = Site({}, DEFAULT_PROFILES, "", "")


def load(path: Path) -> Site:
    import tomllib

    shown = str(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8-sig"))
    except OSError as exc:
        raise InputError(shown, "", f"cannot read the site file ({exc.strerror})",
                         "check the --site path") from None
    except UnicodeDecodeError as exc:
        raise InputError(shown, "", f"not UTF-8 text ({exc.reason})",
                         "save the site file as UTF-8") from None
    except tomllib.TOMLDecodeError as exc:
        raise InputError(shown, "", f"not valid TOML ({exc})", _toml_fix(path, exc)) from None
    _only(data, {"zones", "rules", "host", "hosts", "groups"}, shown, "")
    zones = _zones(_table(data, "zones", shown), shown)
    groups = _members(data, "groups", path, GROUP_KEYS, {})
    hosts = _members(data, "hosts", path, HOST_KEYS, {g.name.lower(): g for g in groups})
    _unique(groups + hosts, shown)
    zones = _inventory_zones(zones, groups + hosts)
    rules = _table(data, "rules", shown)
    _only(rules, {"profiles"}, shown, "[rules]")
    host = _table(data, "host", shown)
    _only(host, {"program_dir"}, shown, "[host]")
    program_dir = host.get("program_dir", "")
    if not isinstance(program_dir, str):
        raise InputError(shown, "[host] program_dir", "must be a string",
                         "write program_dir = 'C:\\Program Files (x86)\\Geomant\\...'")
    # Zones as the admin wrote them, for people: [zones], then each inventory entry's.
    written: dict[str, list[str]] = {n: list(v) for n, v in data.get("zones", {}).items()}
    for member in groups + hosts:
        written.setdefault(member.zone, []).extend(member.addresses)
    return Site(zones, _profiles(rules, shown), program_dir, shown,
                {name: tuple(value) for name, value in written.items()}, hosts, groups)


def _toml_fix(path: Path, exc: Exception) -> str:
    """The fix for the two mistakes people make in a site file, read off the line TOML
    stopped at: a Windows path in double quotes, an address without quotes."""
    import re

    match = re.search(r"at line (\d+)", str(exc))
    try:
        lines = path.read_text(encoding="utf-8-sig").splitlines()
        line = lines[int(match.group(1)) - 1] if match else ""
    except (OSError, UnicodeDecodeError, IndexError):
        line = ""
    if "\\" in line and '"' in line:
        return ("use single quotes for Windows paths: program_dir = 'D:\\CE' (in double "
                "quotes a backslash starts an escape)")
    if re.search(r"[\[,]\s*[0-9A-Fa-f:.]+[./:]", line) and '"' not in line:
        return 'quote each address: servers = ["10.0.1.10", "10.20.0.0/16"]'
    return FIX


def _table(data: dict, name: str, shown: str) -> dict:
    table = data.get(name, {})
    if not isinstance(table, dict):
        raise InputError(shown, name, f"{name} must be a table ([{name}])", FIX)
    return table


def _only(table: dict, allowed: set[str], shown: str, where: str) -> None:
    for key in table:
        if key not in allowed:
            raise InputError(shown, where or "top level", f"unknown key {key!r}",
                             f"use only {', '.join(sorted(allowed))} here ({FIX})")


def _zones(table: dict, shown: str) -> dict[str, tuple[str, ...]]:
    _only(table, set(ZONES), shown, "[zones]")
    zones = {}
    for name, value in table.items():
        where = f"[zones] {name}"
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise InputError(shown, where, "must be a list of address strings",
                             f'write {name} = ["10.0.1.10", "10.20.0.0/16"]')
        for index, token in enumerate(value):
            _plain_address(token, shown, f"{where}[{index}]")
        try:
            zones[name] = canonical(value)
        except AddressSyntaxError as exc:
            raise InputError(shown, where, str(exc),
                             "use IPv4/IPv6 addresses, prefixes (10.20.0.0/16) or ranges "
                             "(10.0.1.10-10.0.1.19); host names are not resolved") from None
        _no_special(zones[name], shown, where)
    return zones


# Who may connect is a remote host: loopback, multicast and broadcast addresses are never
# one, and Windows Firewall refuses them in RemoteAddresses, so an apply would roll back
# with an opaque HRESULT. Refused here, where the file and the zone can be named.
_SPECIAL = (("loopback", "127.0.0.0/8"), ("loopback", "::1/128"),
            ("multicast", "224.0.0.0/4"), ("multicast", "ff00::/8"),
            ("broadcast", "255.255.255.255/32"))


def _no_special(addresses: tuple[str, ...], shown: str, where: str) -> None:
    for address in addresses:
        if address == ANY:
            continue
        net = ipaddress.ip_network(address)
        mapped = getattr(net.network_address, "ipv4_mapped", None)
        for kind, text in _SPECIAL:
            special = ipaddress.ip_network(text)
            # A wider prefix or range that merely holds such addresses (0.0.0.0/0) is
            # not refused: only one that lies wholly inside them.
            inside = net.version == special.version and net.subnet_of(special)  # type: ignore[arg-type]
            if inside or (mapped is not None and kind == "loopback" and mapped.is_loopback):
                raise InputError(shown, where, f"{address} is a {kind} address: it is never "
                                 "a remote host that connects to CE, and Windows Firewall "
                                 "refuses it in a rule's remote addresses",
                                 "remove it from the zone; list the addresses of the CE "
                                 "servers and PCs that connect")


def _plain_address(token: str, shown: str, where: str) -> None:
    """What canonical() would pass but no firewall takes: "" (which would silently mean
    nobody) and an IPv6 address with a zone (`fe80::1%eth0`, which nft refuses late)."""
    if not token.strip():
        raise InputError(shown, where, "an empty address",
                         "remove the empty string; an empty list (servers = []) means "
                         "nobody may connect")
    if "%" in token:
        address, _, zone = token.partition("%")
        raise InputError(shown, where, f"{token!r} is an IPv6 address with a zone "
                         f"(%{zone.split('/')[0]}): firewall rules take no zone",
                         f"write the address without it ({address.strip()}) or a prefix")


def _members(data: dict, table: str, path: Path, allowed: set[str],
             groups: dict[str, Member]) -> tuple[Member, ...]:
    """[[hosts]] or [[groups]]: each entry checked, its addresses canonical, its bundle
    path resolved against the site file's folder (not opened here)."""
    shown = str(path)
    entries = data.get(table, [])
    if not isinstance(entries, list) or not all(isinstance(e, dict) for e in entries):
        raise InputError(shown, table, f"{table} must be an array of tables ([[{table}]])",
                         FIX_INVENTORY)
    kind = table[:-1]
    out = []
    for index, entry in enumerate(entries, 1):
        where = f"[[{table}]] #{index}"
        name = entry.get("name")
        if not isinstance(name, str) or not name.strip() or not name.isprintable():
            raise InputError(shown, where, "needs a name (a non-empty string)",
                             f'write name = "{"ce-core-01" if kind == "host" else "agent-pcs"}"')
        where = f"{where} ({name})"
        _only(entry, allowed, shown, where)
        group = _text(entry, "group", shown, where)
        if group and group.lower() not in groups:
            raise InputError(shown, f"{where} group", f"no [[groups]] entry is named {group!r}",
                             "add the group, or correct the name")
        zone = _text(entry, "zone", shown, where)
        if zone and zone not in ZONES:
            raise InputError(shown, f"{where} zone", f"{zone!r} is not a zone",
                             f"write zone = \"{SERVERS}\" or zone = \"{CLIENTS}\"")
        if not zone:
            zone = (groups[group.lower()].zone if group
                    else SERVERS if kind == "host" else CLIENTS)
        bundle = _text(entry, "bundle", shown, where)
        out.append(Member(kind, name, _addresses(entry, shown, where), zone, bundle,
                          (path.parent / bundle) if bundle else None,
                          _text(entry, "role", shown, where), groups[group.lower()].name
                          if group else "", where))
    return tuple(out)


def _text(entry: dict, key: str, shown: str, where: str) -> str:
    value = entry.get(key, "")
    if not isinstance(value, str) or not value.isprintable():
        raise InputError(shown, f"{where} {key}", "must be a string on one line",
                         f'write {key} = "..."')
    return value.strip()


def _addresses(entry: dict, shown: str, where: str) -> tuple[str, ...]:
    given = [k for k in ("address", "addresses") if k in entry]
    if len(given) != 1:
        raise InputError(shown, where, "needs address = \"...\" or addresses = [...] (one of "
                         "them)", 'write address = "10.0.1.10" or addresses = ["10.20.0.0/16"]')
    value = entry[given[0]]
    values = [value] if given[0] == "address" else value
    if not isinstance(values, list) or not values or not all(
            isinstance(v, str) for v in values):
        raise InputError(shown, f"{where} {given[0]}", "must be an address string"
                         if given[0] == "address" else "must be a non-empty list of address "
                         "strings", 'write address = "10.0.1.10" or addresses = ["10.20.0.0/16"]')
    try:
        return canonical(values)
    except AddressSyntaxError as exc:
        raise InputError(shown, f"{where} {given[0]}", str(exc),
                         "use IPv4/IPv6 addresses, prefixes (10.20.0.0/16) or ranges "
                         "(10.0.1.10-10.0.1.19); host names are not resolved") from None


def _unique(members: tuple[Member, ...], shown: str) -> None:
    seen: dict[str, Member] = {}
    for member in members:
        first = seen.setdefault(member.name.lower(), member)
        if first is not member:
            raise InputError(shown, member.where, f"the name {member.name!r} is already used "
                             f"by {first.where}", "give every host and group its own name")


def _inventory_zones(zones: dict[str, tuple[str, ...]],
                     members: tuple[Member, ...]) -> dict[str, tuple[str, ...]]:
    """[zones] plus the addresses of the inventory, each zone collapsed once."""
    if not members:
        return zones
    found: dict[str, list[str]] = {z: list(zones[z]) for z in zones}
    for member in members:
        found.setdefault(member.zone, []).extend(member.addresses)
    return {zone: canonical(addresses) for zone, addresses in found.items()}


def _profiles(rules: dict, shown: str) -> tuple[str, ...]:
    value = rules.get("profiles", list(DEFAULT_PROFILES))
    if (not isinstance(value, list) or not value
            or any(not isinstance(p, str) or p.lower() not in PROFILES for p in value)):
        raise InputError(shown, "[rules] profiles",
                         f"must be a non-empty list of {', '.join(PROFILES)}",
                         'write profiles = ["domain", "private"]')
    chosen = {p.lower() for p in value}
    return tuple(p for p in PROFILES if p in chosen)


def ce_hosts(site: Site, given: Sequence[str] = ()) -> tuple[tuple[str, ...], str]:
    """The addresses of the CE hosts the rules protect, for rules written on a device in
    front of them (a router, a network firewall), and where they came from (for
    comments and messages): --destination when given, else the site's `servers` zone.

    The one place that answers "where are the CE servers": a host inventory in the site
    file, when it exists, is read here first and everything downstream follows."""
    if given:
        try:
            return canonical(given), "--destination"
        except AddressSyntaxError as exc:
            raise InputError("--destination", "", str(exc),
                             "give IPv4/IPv6 addresses or prefixes of the CE servers, for "
                             "example --destination 10.0.1.10") from None
    servers = site.zones.get("servers", ())
    if not servers:
        raise InputError(site.path or "--site", "[zones] servers",
                         "no CE server addresses: rules on a router or network firewall "
                         "need the addresses they protect",
                         "pass --destination ADDRESS (repeatable), or list the CE servers "
                         "under [zones] servers in the site file")
    return servers, f"the 'servers' zone of {site.path}"


def zones_for(site: Site, addresses: Sequence[str]) -> tuple[str, ...] | None:
    """The fewest site zones whose addresses together are exactly `addresses` (a rule's
    remote addresses), in ZONES order; None when no combination of zones is. Lets a
    platform name the zones (aerleon networks, firewalld ipsets) instead of listing
    the addresses again."""
    from itertools import combinations

    known = [z for z in ZONES if site.zones.get(z)]
    wanted = tuple(addresses)
    for size in range(1, len(known) + 1):
        for zones in combinations(known, size):
            if canonical([a for z in zones for a in site.zones[z]]) == wanted:
                return zones
    return None
