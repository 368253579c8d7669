"""The registry of a host as its bundle recorded it (docs/bundle.md, "registry.reg").

The collector writes each value in the view the program that reads it sees: the 32-bit
view under WOW6432Node, the 64-bit view under the plain path, whatever the source was (a
live registry, a hive, .reg exports). So this source looks up strictly by view, as the
live registry does: a 32-bit lookup never falls back to the plain path, a 64-bit lookup
reports a value found only in the 32-bit view (`other_view`).

A `; cefw-origin {json}` comment before a value names where the collector read it (the
live registry, `core.reg line 6`, a hive): that origin is given back, so a plan from the
bundle names the same places as a plan on the host.
"""

from __future__ import annotations

import json
from pathlib import Path

from ..errors import InputError
from ..model import Origin
from . import Lookup, RegValue, _wow_path
from .regfile import RegFileSource, _norm, parse_reg_bytes

ORIGIN_COMMENT = "; cefw-origin "  # = bundle.layout.ORIGIN_COMMENT (registry/ imports no CE)


class BundleRegistry:
    """registry.Source over a bundle's registry.reg."""

    def __init__(self, source: RegFileSource, origins: dict[tuple[str, str], Origin],
                 description: str) -> None:
        self._source = source
        self._origins = origins
        self.description = description

    def _get(self, raw_key: str, value: str) -> RegValue | None:
        found = self._source.raw(raw_key, value)
        if found is None:
            return None
        origin = self._origins.get((_norm(raw_key), value.lower()))
        return found._replace(origin=origin) if origin else found

    def lookup(self, key: str, value: str, view: int) -> Lookup:
        if view == 32:
            return Lookup(self._get(_wow_path(key), value), None)
        found = self._get(key, value)
        return Lookup(found, None if found else self._get(_wow_path(key), value))

    def values(self, key: str) -> dict[str, RegValue]:
        """Every value of `key` (64-bit view: the plain path), by name as written."""
        return {name: self._get(key, name) for name, value in self._source.values(key).items()
                if value is not None}  # type: ignore[misc]


def parse(data: bytes, shown: str, description: str) -> BundleRegistry:
    """registry.reg bytes; `shown` names it in errors and origins ("registry.reg in
    bundle X"), `description` is the source the collector read ("live registry")."""
    source = parse_reg_bytes(data, shown, shown)
    return BundleRegistry(source, _origins(source_text(data), shown), description)


def load(path: Path, shown: str, description: str) -> BundleRegistry:
    return parse(path.read_bytes(), shown, description)


def source_text(data: bytes) -> str:
    if data.startswith(b"\xff\xfe"):
        return data[2:].decode("utf-16-le", errors="replace")
    return data.decode("utf-8-sig", errors="replace")


def _origins(text: str, shown: str) -> dict[tuple[str, str], Origin]:
    found: dict[tuple[str, str], Origin] = {}
    for n, line in enumerate(text.split("\n"), 1):
        if not line.startswith(ORIGIN_COMMENT):
            continue
        try:
            item = json.loads(line[len(ORIGIN_COMMENT):])
            key, value, path, where = (item[k] for k in ("key", "value", "path", "where"))
            if not all(isinstance(v, str) and v.isprintable() for v in (key, value, path,
                                                                         where)):
                raise ValueError("not four printable strings")
        except (ValueError, KeyError, TypeError) as exc:
            raise InputError(shown, f"line {n}", f"a cefw-origin comment cannot be read "
                             f"({exc})", "collect the bundle again") from None
        found[(_norm(key), value.lower())] = Origin("registry", path, where)
    return found
