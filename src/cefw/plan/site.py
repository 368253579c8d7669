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
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import NamedTuple

from .. import catalog
from ..addresses import AddressSyntaxError, canonical
from ..errors import InputError
from ..model import DEFAULT_PROFILES, PROFILES

ZONES = tuple(catalog.SOURCE_ZONES.values())  # ("servers", "clients")
FIX = "see the site file example in `cefw --help` or README.md"


class Site(NamedTuple):
    zones: dict[str, tuple[str, ...]]  # zone -> canonical addresses; absent = unknown
    profiles: tuple[str, ...]
    program_dir: str  # "" = not given
    path: str  # the file, for messages; "" without a site file

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
        raise InputError(shown, "", f"not valid TOML ({exc})", FIX) from None
    _only(data, {"zones", "rules", "host"}, shown, "")
    zones = _zones(_table(data, "zones", shown), shown)
    rules = _table(data, "rules", shown)
    _only(rules, {"profiles"}, shown, "[rules]")
    host = _table(data, "host", shown)
    _only(host, {"program_dir"}, shown, "[host]")
    program_dir = host.get("program_dir", "")
    if not isinstance(program_dir, str):
        raise InputError(shown, "[host] program_dir", "must be a string",
                         "write program_dir = 'C:\\Program Files (x86)\\Geomant\\...'")
    return Site(zones, _profiles(rules, shown), program_dir, shown)


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
        try:
            zones[name] = canonical(value)
        except AddressSyntaxError as exc:
            raise InputError(shown, where, str(exc),
                             "use IPv4/IPv6 addresses, prefixes (10.20.0.0/16) or ranges "
                             "(10.0.1.10-10.0.1.19); host names are not resolved") from None
    return zones


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
