"""Registry values, whichever way they reach cefw: live (winreg), from `.reg` exports or
from an offline SOFTWARE hive. Readers ask for a value in a view (32 or 64 bit, the
bitness of the CE program that reads it) and get a RegValue whose origin says exactly
where it was found.

Offline sources hold raw key paths (`SOFTWARE\\WOW6432Node\\ACE\\TAO`); `lookup` maps a
view onto them (docs/ce-formats.md): a 32-bit value lives under WOW6432Node on a
64-bit machine, or under the plain path in a 32-bit export (`reg export /reg:32`) or on
a 32-bit Windows; a 64-bit value lives under the plain path only.

Back ends: regfile (.reg exports), hive (offline SOFTWARE hives), live (winreg). See
docs/ce-formats.md, "Registry".
"""

from __future__ import annotations

from typing import Protocol

from ..model import Origin
from ..record import Record

HKLM = "HKLM"

# Registry value types, shared by every back end (.reg files, hives, the live registry).
TYPE_NAMES = {
    0: "REG_NONE",
    1: "REG_SZ",
    2: "REG_EXPAND_SZ",
    3: "REG_BINARY",
    4: "REG_DWORD",
    5: "REG_DWORD_BIG_ENDIAN",
    6: "REG_LINK",
    7: "REG_MULTI_SZ",
    8: "REG_RESOURCE_LIST",
    9: "REG_FULL_RESOURCE_DESCRIPTOR",
    10: "REG_RESOURCE_REQUIREMENTS_LIST",
    11: "REG_QWORD",
}

DEFAULT_NAME = "(Default)"  # how regedit shows the `@` value; our value name for it is ""


def type_name(code: int) -> str:
    """Registry type number -> name (REG_SZ, ...); unknown types as REG_TYPE_0x<hex>."""
    return TYPE_NAMES.get(code) or f"REG_TYPE_0x{code:x}"


class RegValue(Record):
    type: str  # "REG_SZ", "REG_EXPAND_SZ", "REG_DWORD", "REG_QWORD", "REG_MULTI_SZ", ...
    data: object  # str for *_SZ, int for DWORD/QWORD, list[str] for MULTI_SZ, bytes else
    origin: Origin


class Lookup(Record):
    value: RegValue | None  # found in the view the program reads
    other_view: RegValue | None  # found only in the other view: the program won't see it


class OfflineSource(Protocol):
    description: str  # "registry export core.reg", "SOFTWARE hive ..."

    def raw(self, key: str, value: str) -> RegValue | None:
        """`key` is a path under HKLM, `SOFTWARE\\...`, matched case-insensitively.
        None when the key or value is absent (or deleted by a later export)."""


class Source(Protocol):
    description: str

    def lookup(self, key: str, value: str, view: int) -> Lookup:
        """`key` is `SOFTWARE\\...` as the program names it (no WOW6432Node)."""


def _wow_path(key: str) -> str:
    head, _, rest = key.partition("\\")
    return f"{head}\\WOW6432Node\\{rest}"


class Offline:
    """Offline sources (hive first, then .reg files in order: a later one wins, as when
    regedit imports them in that order) seen through a view."""

    def __init__(self, sources: list[OfflineSource]) -> None:
        self.sources = sources
        self.description = ", ".join(s.description for s in sources)

    def _raw(self, key: str, value: str) -> RegValue | None:
        found = None
        for source in self.sources:
            hit = source.raw(key, value)
            if hit is not None:
                found = hit
            elif _deletes(source, key, value):
                found = None  # a later export's `"name"=-` or `[-key]` removes it
        return found

    def values(self, key: str) -> dict[str, RegValue]:
        """Every value of `key` (64-bit view, no WOW6432Node: for keys Windows shares
        between the views, such as Software\\Policies), by name as written; later
        sources win and their deletions count, as in lookup()."""
        found: dict[str, RegValue] = {}
        for source in self.sources:
            listed = getattr(source, "values", None)
            if listed is None:
                continue
            for name, value in listed(key).items():
                match = next((n for n in found if n.lower() == name.lower()), name)
                found.pop(match, None)
                if value is not None:
                    found[name] = value
        return found

    def lookup(self, key: str, value: str, view: int) -> Lookup:
        plain = self._raw(key, value)
        wow = self._raw(_wow_path(key), value)
        if view == 32:
            return Lookup(wow or plain, None)
        return Lookup(plain, None if plain else wow)


def _deletes(source: OfflineSource, key: str, value: str) -> bool:
    """Sources that can delete (.reg exports) say so with an optional `deletes`."""
    deletes = getattr(source, "deletes", None)
    return bool(deletes and deletes(key, value))


class NoRegistry:
    """No registry source: on Linux without --registry or --hive."""

    description = "no registry source"

    def values(self, key: str) -> dict[str, RegValue]:
        return {}

    def lookup(self, key: str, value: str, view: int) -> Lookup:
        return Lookup(None, None)


def value_path(key: str, value: str) -> str:
    return f"{HKLM}\\{key}\\{value}"


def as_text(value: RegValue) -> str | None:
    """The value as a string (REG_SZ / REG_EXPAND_SZ unexpanded, numbers as decimal)."""
    data = value.data
    if isinstance(data, str):
        return data
    if isinstance(data, int):
        return str(data)
    if isinstance(data, list):
        return " ".join(data)
    return None
