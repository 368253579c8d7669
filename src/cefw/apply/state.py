"""The state folder: a lock so two cefw runs never change a firewall at once, a
snapshot of the group's rules before every write (the way back, `cefw restore`), and the
inputs of the last successful `cefw add` (reused by a run given none).

Windows: %ProgramData%\\cefw. Elsewhere: /var/lib/cefw as root, else
~/.local/state/cefw. `--state-dir` or CEFW_STATE_DIR override both.

Snapshots are pruned to the newest KEEP (20; --keep-snapshots or CEFW_KEEP_SNAPSHOTS),
always keeping the newest one not written by a restore (what a plain `cefw restore`
uses). A folder cefw cannot write (read-only, full, a folder where the lock file goes) is
exit 2 naming the folder, and nothing half-written is left in it.
"""

from __future__ import annotations

import errno
import json
import os
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from pathlib import Path

from ..errors import EnvironmentProblem
from ..model import Rule
from ..record import Record


def default_dir() -> Path:
    env = os.environ.get("CEFW_STATE_DIR")
    if env:
        return Path(env)
    if sys.platform == "win32":
        return Path(os.environ.get("PROGRAMDATA", r"C:\ProgramData")) / "cefw"
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        return Path("/var/lib/cefw")
    return Path.home() / ".local" / "state" / "cefw"


KEEP = 20  # snapshots kept per backend by default
RESTORE = "restore"  # the command recorded with a snapshot a restore wrote


class SnapshotInfo(Record):
    """One snapshot, for `cefw restore --list`."""

    path: Path
    time: str  # local time it was taken, "2026-11-30 07:42:34"
    command: str  # the command that was about to write: add, remove, restore ("" = older cefw)
    rules: int  # how many rules it holds (-1: unreadable)

    def to_json(self) -> dict[str, object]:
        return {"path": str(self.path), "time": self.time, "command": self.command or None,
                "rules": self.rules}


class StateDir:
    def __init__(self, path: Path | None = None, keep: int | None = None) -> None:
        self.path = path or default_dir()
        self.keep = keep if keep is not None else keep_from_env()

    def _problem(self, what: str, exc: OSError) -> EnvironmentProblem:
        return EnvironmentProblem(
            f"cannot {what} in the state folder {self.path} ({_reason(exc)}); nothing was "
            "changed",
            "run elevated / as root, free space there, or point --state-dir "
            "(CEFW_STATE_DIR) at a writable folder")

    def _ensure(self) -> None:
        try:
            self.path.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise EnvironmentProblem(
                f"cannot create the state folder {self.path} ({_reason(exc)})",
                "run elevated / as root, or point --state-dir (CEFW_STATE_DIR) at a "
                "writable folder",
            ) from None

    @contextmanager
    def lock(self, backend: str) -> Iterator[None]:
        """Held for the whole read-compare-write; a second run is refused at once
        rather than queued, so nobody wonders why cefw hangs. The OS releases the lock
        if cefw dies, so a crash never leaves it stuck."""
        self._ensure()
        path = self.path / f"{backend}.lock"
        try:
            handle = open(path, "a+")  # noqa: SIM115 - held across the yield
        except OSError as exc:
            if path.is_dir():
                raise EnvironmentProblem(
                    f"the lock path {path} in the state folder {self.path} is a folder; "
                    "nothing was changed",
                    f"remove the folder {path} (cefw keeps a lock file there)") from None
            raise self._problem("create the lock file", exc) from None
        try:
            handle.seek(0)  # Windows locks a byte range from the current position
            if not _try_lock(handle):
                try:
                    holder = handle.read().strip() or "another process"
                except OSError:  # Windows: the holder's byte is locked against reading
                    holder = "another process"
                raise EnvironmentProblem(
                    f"another cefw run is changing the {backend} firewall right now "
                    f"({holder}, lock {path})",
                    "wait for it to finish, then run this command again",
                )
            note = f"pid {os.getpid()} since {time.strftime('%Y-%m-%d %H:%M:%S')}"
            try:  # unbuffered: a note a full disk refused must not be flushed again later
                os.ftruncate(handle.fileno(), 0)
                os.lseek(handle.fileno(), 0, os.SEEK_SET)
                os.write(handle.fileno(), note.encode())
            except OSError as exc:  # a full disk: the lock is held, the note is not needed
                if exc.errno != errno.ENOSPC:
                    raise self._problem("write the lock file", exc) from None
            yield
        finally:
            handle.close()  # closing releases the lock

    def write_json(self, name: str, payload: object) -> Path:
        """Write `name` whole or not at all: a temporary file renamed into place, removed
        again when the write fails (a full disk leaves nothing behind)."""
        self._ensure()
        path = self.path / name
        tmp = path.with_name(path.name + ".tmp")
        try:
            with open(tmp, "w", encoding="utf-8") as handle:
                handle.write(json.dumps(payload, indent=2))
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(tmp, path)
        except OSError as exc:
            with suppress(OSError):
                tmp.unlink()
            raise self._problem(f"write {name}", exc) from None
        return path

    def read_json(self, name: str) -> object | None:
        """A JSON file cefw wrote, or None when there is none (or it is unreadable)."""
        try:
            return json.loads((self.path / name).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None

    def save_applied(self, backend: str, rules: Sequence[Rule]) -> None:
        """The rules the last successful `cefw add` made the group hold: what a later
        change is judged against for widening (a hand-narrowed rule put back as planned
        lets no more hosts in than cefw allowed)."""
        self.write_json(f"{backend}-applied.json", {
            "schema": "cefw.applied/1", "backend": backend,
            "rules": [r.to_json() for r in rules]})

    def applied(self, backend: str) -> dict[str, Rule]:
        """The rules of save_applied by name; {} when none were saved or the file is not
        one cefw wrote (then the firewall itself is the baseline)."""
        data = self.read_json(f"{backend}-applied.json")
        try:
            return {r.name: r for r in (Rule.from_json(x) for x in data["rules"])}  # type: ignore[index]
        except (KeyError, TypeError, ValueError):
            return {}

    def save_snapshot(self, backend: str, rules: Sequence[Rule], command: str = "") -> Path:
        """The group's rules before a change, as JSON (Rule.to_json), with the command
        about to change them; then older snapshots beyond `keep` are pruned."""
        # One clock reading, microseconds of that second: names sort in time order, so
        # latest_snapshot() finds the newest even with two snapshots in one second.
        now = time.time_ns()
        local = time.localtime(now // 1_000_000_000)
        stamp = time.strftime("%Y%m%dT%H%M%S", local) + f"-{now // 1000 % 1_000_000:06d}"
        payload = {"schema": "cefw.snapshot/1", "backend": backend,
                   "time": time.strftime("%Y-%m-%d %H:%M:%S", local), "command": command,
                   "rules": [r.to_json() for r in rules]}
        path = self.write_json(f"{backend}-before-{stamp}.json", payload)
        self.prune(backend)
        return path

    def mark(self, backend: str) -> str | None:
        """The backend's fingerprint saved when cefw last left its store in sync."""
        try:
            return (self.path / f"{backend}.in-sync").read_text(encoding="utf-8")
        except OSError:
            return None

    def save_mark(self, backend: str, mark: str | None) -> None:
        """Remember `mark` (None: forget it). Losing it costs one full read, no more."""
        path = self.path / f"{backend}.in-sync"
        try:
            if mark is None:
                path.unlink(missing_ok=True)
                return
            tmp = path.with_suffix(".tmp")
            tmp.write_text(mark, encoding="utf-8")
            os.replace(tmp, path)
        except OSError:
            pass

    def snapshots(self, backend: str) -> list[Path]:
        """Oldest first."""
        if not self.path.is_dir():
            return []
        try:
            return sorted(self.path.glob(f"{backend}-before-*.json"))
        except OSError:
            return []

    def describe(self, backend: str) -> list[SnapshotInfo]:
        """Every snapshot, newest first."""
        return [_info(p) for p in reversed(self.snapshots(backend))]

    def latest_snapshot(self, backend: str) -> Path | None:
        """The newest snapshot not written by a restore: a plain `cefw restore` run twice
        puts back the same rules, it does not undo itself."""
        for info in self.describe(backend):
            if info.command != RESTORE:
                return info.path
        return None

    def prune(self, backend: str) -> list[Path]:
        """Delete all but the newest `keep` snapshots (and never the newest one a plain
        restore would use). Returns what was deleted."""
        found = self.snapshots(backend)
        if len(found) <= self.keep:
            return []
        keep = set(found[len(found) - self.keep:])
        latest = self.latest_snapshot(backend)
        if latest is not None:
            keep.add(latest)
        gone = []
        for path in found:
            if path not in keep:
                with suppress(OSError):  # a snapshot that will not go stays: no harm
                    path.unlink()
                    gone.append(path)
        return gone


def keep_from_env() -> int:
    text = os.environ.get("CEFW_KEEP_SNAPSHOTS", "")
    try:
        value = int(text) if text else KEEP
    except ValueError:
        value = KEEP
    return max(value, 1)


def _info(path: Path) -> SnapshotInfo:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        rules = len(data["rules"])
        command = str(data.get("command", ""))
        when = str(data.get("time", ""))
    except (OSError, ValueError, KeyError, TypeError):
        rules, command, when = -1, "", ""
    if not when:  # older snapshots: the time is in the name
        stamp = path.stem.rpartition("-before-")[2][:15]
        try:
            when = time.strftime("%Y-%m-%d %H:%M:%S", time.strptime(stamp, "%Y%m%dT%H%M%S"))
        except ValueError:
            when = "?"
    return SnapshotInfo(path, when, command, rules)


def _reason(exc: OSError) -> str:
    if exc.errno == errno.ENOSPC:
        return "the disk is full"
    if exc.errno in (errno.EROFS,):
        return "read-only file system"
    return exc.strerror or str(exc)


def load_snapshot(path: Path) -> list[Rule]:
    from ..errors import InputError

    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return [Rule.from_json(r) for r in data["rules"]]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise InputError(str(path), "", f"not a cefw snapshot ({exc})",
                         "pass a file cefw wrote into its state folder") from None


def _try_lock(handle) -> bool:  # type: ignore[no-untyped-def]
    if sys.platform == "win32":
        import msvcrt

        try:
            msvcrt.locking(handle.fileno(), msvcrt.LK_NBLCK, 1)
            return True
        except OSError:
            return False
    import fcntl

    try:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        return True
    except OSError:
        return False
