"""Replace a configuration file safely: a backup beside it, then an atomic swap, refused
when someone changed the file since cefw read it.

The new content is written to a temporary file in the same folder (so the rename stays
on one file system), flushed to disk, and swapped in with os.replace, which is atomic on
Windows (MoveFileEx with MOVEFILE_REPLACE_EXISTING) and POSIX: a reader (the Server Agent
starting) sees the old file or the new one, never half of each.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
import time
from pathlib import Path

from ..errors import CefwError
from ..record import Record


class Snapshot(Record):
    """The file as cefw read it."""

    data: bytes
    digest: str
    mtime_ns: int
    size: int

    @classmethod
    def read(cls, path: Path) -> Snapshot:
        try:
            data = path.read_bytes()
            st = path.stat()
        except OSError as exc:
            raise CefwError(f"{path}: cannot read the file ({exc.strerror})",
                            "check the path and that cefw may read it") from None
        return cls(data, hashlib.sha256(data).hexdigest(), st.st_mtime_ns, st.st_size)


def _unchanged(path: Path, seen: Snapshot) -> bool:
    now = Snapshot.read(path)
    return (now.digest, now.mtime_ns, now.size) == (seen.digest, seen.mtime_ns, seen.size)


def _changed_error(path: Path) -> CefwError:
    return CefwError(f"{path} changed since cefw read it (someone or something else wrote "
                     "it): nothing was written",
                     "run cefw pin again, so it works from the file as it is now")


def backup_path(path: Path, stamp: str | None = None) -> Path:
    stamp = stamp or time.strftime("%Y%m%dT%H%M%S")
    candidate = path.with_name(f"{path.name}.cefw-{stamp}.bak")
    n = 1
    while candidate.exists():
        n += 1
        candidate = path.with_name(f"{path.name}.cefw-{stamp}-{n}.bak")
    return candidate


def _write_synced(path: Path, data: bytes, mode: str) -> None:
    with open(path, mode) as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())


def replace_file(path: Path, seen: Snapshot, new: bytes) -> Path:
    """Write `new` over `path`, which must still be exactly `seen`; return the backup."""
    if not _unchanged(path, seen):
        raise _changed_error(path)
    backup = backup_path(path)
    try:
        _write_synced(backup, seen.data, "xb")
        shutil.copystat(path, backup)
    except OSError as exc:
        raise CefwError(f"cannot write the backup {backup} ({exc.strerror}): nothing was "
                        "changed", "check that cefw may write to that folder (on Windows "
                        "an elevated prompt)") from None
    fd, temp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".cefw-tmp",
                                     dir=path.parent)
    temp = Path(temp_name)
    try:
        os.close(fd)
        _write_synced(temp, new, "wb")
        shutil.copymode(path, temp)
        # The last look, as close to the swap as possible.
        if not _unchanged(path, seen):
            raise _changed_error(path)
        os.replace(temp, path)
    except OSError as exc:
        raise CefwError(f"cannot replace {path} ({exc.strerror}): it was not changed",
                        "check that cefw may write to that folder (on Windows an elevated "
                        "prompt) and that no program holds the file open") from None
    finally:
        if temp.exists():
            temp.unlink()
    _sync_folder(path.parent)
    return backup


def _sync_folder(folder: Path) -> None:
    """Make the rename itself durable (POSIX; Windows has no directory handles for it)."""
    if os.name != "posix":
        return
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
