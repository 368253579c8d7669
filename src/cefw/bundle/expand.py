"""A verified bundle expanded into a private temporary folder, and the Inputs that point
the readers at it: the install folder (configuration files, and an empty file or folder
for each listed program), the channel export, the registry recorded in the bundle.

Nothing is written before verify.py has checked the whole zip. The folder is created by
mkdtemp (mode 0700), every file with O_CREAT|O_EXCL (never through an existing name or a
link), and folders that differ only in case are made once, under the first spelling.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from ..readers.context import Inputs
from . import layout as L
from .verify import Verified, registry_shown, verify_file

_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0) | getattr(
    os, "O_BINARY", 0)


class Opened:
    """An expanded bundle: `inputs` for make_plan; `firewall` the recorded firewall."""

    def __init__(self, verified: Verified, root: Path) -> None:
        self.verified = verified
        self.root = root
        manifest = verified.manifest
        self.path = verified.shown
        self.collected = manifest["collected"]
        self.host_name = manifest["host"]["name"]
        self.addresses: tuple[str, ...] = tuple(manifest["host"]["addresses"])
        self.install_dir = manifest["collected_from"]["install_dir"]
        self.found_by = (f"bundle {self.path} (collected {self.collected} on "
                         f"{self.host_name or 'a host it does not name'})")
        self.firewall: dict[str, Any] | None = verified.firewall

    def inputs(self, *, site: Path | None = None, program_dir: str | None = None) -> Inputs:
        channels = self.verified.channels
        return Inputs(
            install_dir=self.root / "install",
            program_dir=program_dir or self.verified.manifest["program_dir"],
            channels=self.root / "channels" / channels[len(L.CHANNELS):] if channels else None,
            site=site,
            found_by=self.found_by,
            bundle=self,
        )

    def registry(self) -> Any:
        from ..registry import bundled

        manifest = self.verified.manifest
        return bundled.parse(self.verified.members[L.REGISTRY], registry_shown(self.path),
                             manifest["collected_from"]["registry"])

    def recorded_backend(self) -> Any:
        from ..platforms.windows.recorded import RecordedBackend

        if self.firewall is None:
            return None
        return RecordedBackend(self.firewall, f"firewall recorded in {self.found_by}")


@contextmanager
def opened(path: Path) -> Iterator[Opened]:
    """Verify `path` whole, then expand it; the folder is removed afterwards."""
    verified = verify_file(path)
    root = Path(tempfile.mkdtemp(prefix="cefw-bundle-"))
    try:
        expand(verified, root)
        yield Opened(verified, root)
    finally:
        shutil.rmtree(root, ignore_errors=True)


def expand(verified: Verified, root: Path) -> None:
    tree = _Tree(root / "install")
    for name, data in verified.members.items():
        if name.startswith(L.INSTALL):
            tree.file(name[len(L.INSTALL):].split("/"), data)
        elif name.casefold() == L.JAR_MEMBER.casefold():
            jar_path = name[len(L.JAR):-(len(L.JAR_ENTRY) + 1)]
            tree.file(jar_path.split("/"), _jar(data))
        elif name.startswith(L.CHANNELS):
            (root / "channels").mkdir(mode=0o700)
            _write(root / "channels" / name[len(L.CHANNELS):], data)
    for line in verified.listing:
        parts = line.removesuffix("\\").split("\\")
        if line.endswith("\\"):
            tree.folder(parts)
        elif not tree.has(parts):
            tree.file(parts, b"")


def _jar(entry: bytes) -> bytes:
    """A catalina.jar holding only the ServerInfo.properties taken from the real one,
    written here (the reader opens a zip cefw itself made, never one from the bundle)."""
    import io

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as archive:
        archive.writestr(L.JAR_ENTRY, entry)
    return buffer.getvalue()


def _write(path: Path, data: bytes) -> None:
    fd = os.open(path, _FLAGS, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)


class _Tree:
    """Folders made once per case-insensitive name, under the first spelling seen."""

    def __init__(self, root: Path) -> None:
        root.mkdir(mode=0o700)
        self.root = root
        self.folders: dict[str, Path] = {"": root}
        self.files: set[str] = set()

    def folder(self, parts: list[str]) -> Path:
        current, key = self.root, ""
        for part in parts:
            key = f"{key}\\{part.casefold()}" if key else part.casefold()
            if key not in self.folders:
                path = current / part
                path.mkdir(mode=0o700)
                self.folders[key] = path
            current = self.folders[key]
        return current

    def has(self, parts: list[str]) -> bool:
        return "\\".join(parts).casefold() in self.files

    def file(self, parts: list[str], data: bytes) -> None:
        folder = self.folder(parts[:-1])
        self.files.add("\\".join(parts).casefold())
        _write(folder / parts[-1], data)
