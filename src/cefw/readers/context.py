"""What every reader is given: the inputs (Inputs), the CE host being read (HostContext:
where its files are, which components are installed, how paths are written for the
rules), and what a reader returns (Reading).

cefw reads from `install_dir`, a local folder (the live install on Windows, or a copy of
it anywhere). Copies made on Windows and read on Linux keep Windows' case-insensitivity
in spirit: `servers\\dialerserver\\DIALERSERVER.EXE` is found for
`Servers\\DialerServer\\DialerServer.exe`.

Rules name programs by their Windows path under `program_dir`: the install dir itself
on Windows; for a copy, the directory it was copied from (--program-dir, or the site
file's [host] program_dir, or the vendor's default with a finding saying so).
"""

from __future__ import annotations

import ntpath
import os
from functools import lru_cache
from pathlib import Path
from typing import NamedTuple

from .. import catalog
from ..errors import InputError
from ..model import Endpoint, Finding
from ..registry import NoRegistry, Source

DEFAULT_PROGRAM_DIR = r"C:\Program Files (x86)\Geomant\Contact Expert"


class Inputs(NamedTuple):
    """What the administrator pointed cefw at (the command line, or a bundled example)."""

    install_dir: Path | None = None
    program_dir: str | None = None
    registry: tuple[Path, ...] = ()
    hive: Path | None = None
    channels: Path | None = None
    site: Path | None = None
    found_by: str = "--install-dir"  # how install_dir was chosen, for the plan's header
    # An opened bundle (bundle.expand.Opened) when the inputs come from one: its registry
    # and the install folder it records.
    bundle: object | None = None


class Reading(NamedTuple):
    """What one reader found."""

    endpoints: list[Endpoint]
    findings: list[Finding]


EMPTY = Reading([], [])
"""A reader whose components are not installed finds nothing."""


class HostContext:
    def __init__(self, install_dir: Path, program_dir: str,
                 registry: Source | None = None) -> None:
        self.install_dir = install_dir
        self.program_dir = program_dir
        self.registry: Source = registry or NoRegistry()
        self._root = str(install_dir)
        self._listing: dict[str, dict[str, str]] = {}
        self._found: dict[str, str | None] = {}
        self._installed: tuple[str, ...] | None = None

    # -- files -------------------------------------------------------------------------
    def _entries(self, folder: str) -> dict[str, str]:
        """lower-case name -> real name, one listing per folder."""
        cached = self._listing.get(folder)
        if cached is None:
            try:
                names = os.listdir(folder)
            except PermissionError:
                # Not "not installed": the components in it would silently lose their
                # rules.
                raise InputError(folder, "", "cefw may not read this folder (permission "
                                 "denied), so the CE components in it cannot be found",
                                 "run cefw elevated (as an administrator) or as root, or "
                                 "give it read access to the folder") from None
            except OSError:  # missing, or a file where a folder was looked for
                names = []
            cached = {}
            for name in sorted(names):  # exact-case duplicates: first in sorted order
                cached.setdefault(name.lower(), name)
            self._listing[folder] = cached
        return cached

    def find(self, relative: str) -> Path | None:
        """The local file or folder for an install-relative Windows path, matched
        case-insensitively; None when it does not exist. Plain strings and a cache:
        readers ask for the same paths many times, and pathlib arithmetic showed up as
        a third of the time of a plan."""
        found = self._lookup(relative)
        return Path(found) if found is not None else None

    def _lookup(self, relative: str) -> str | None:
        key = relative.replace("/", "\\").lower()
        if key not in self._found:
            self._found[key] = self._walk(relative)
        return self._found[key]

    def _walk(self, relative: str) -> str | None:
        current = self._root
        for part in _parts(relative):
            if part == "..":
                current = os.path.dirname(current)
                continue
            real = self._entries(current).get(part.lower())
            if real is None:
                return None
            current = os.path.join(current, real)
        return current

    def exists(self, relative: str) -> bool:
        return self._lookup(relative) is not None

    def display(self, path: Path) -> str:
        """A local path as an install-relative Windows path, for origins and messages."""
        try:
            rel = path.relative_to(self.install_dir)
        except ValueError:
            return str(path)
        return "\\".join(rel.parts)

    # -- programs ----------------------------------------------------------------------
    def program(self, relative: str) -> str:
        """The Windows path of an install-relative program, for rules."""
        return _program(self.program_dir, relative)

    def relative(self, windows_path: str) -> str | None:
        """An absolute Windows path under program_dir -> install-relative; else None."""
        full = ntpath.normpath(windows_path)
        root = ntpath.normpath(self.program_dir)
        if full.lower().startswith(root.lower().rstrip("\\") + "\\"):
            return full[len(root.rstrip("\\")) + 1:]
        return None

    # -- components --------------------------------------------------------------------
    def installed(self) -> tuple[str, ...]:
        """Installed component ids, catalog order: a component is installed when its
        program file exists (docs/ce-formats.md, "Components")."""
        if self._installed is None:
            self._installed = tuple(c.id for c in catalog.COMPONENTS
                                    if self.program_of(c.id) is not None)
        return self._installed

    def has(self, *component_ids: str) -> bool:
        """Whether any of these components is installed."""
        installed = self.installed()
        return any(cid in installed for cid in component_ids)

    def program_of(self, component_id: str) -> str | None:
        """The install-relative program of an installed component, else None. Tomcat's
        service program is the catalog's tomcat8.exe or the tomcatN.exe of another major
        release (never tomcatNw.exe, the tray monitor)."""
        program = catalog.BY_ID[component_id].program
        if self.exists(program):
            return program
        if component_id != "WebService":
            return None
        folder = self._lookup(r"Tomcat\bin")
        if folder is None or not os.path.isdir(folder):
            return None
        for name in sorted(self._entries(folder).values()):
            lower = name.lower()
            if lower.startswith("tomcat") and lower.endswith(".exe") and lower[6:-4].isdigit():
                return f"Tomcat\\bin\\{name}"
        return None


@lru_cache(maxsize=512)
def _program(program_dir: str, relative: str) -> str:
    return ntpath.normpath(ntpath.join(program_dir, relative.replace("/", "\\")))


def _parts(relative: str) -> list[str]:
    return [p for p in relative.replace("/", "\\").split("\\") if p not in ("", ".")]


def roles_of(components: tuple[str, ...]) -> tuple[str, ...]:
    roles = {catalog.BY_ID[c].role for c in components}
    return tuple(r for r in (catalog.CORE, catalog.AGENT) if r in roles)
