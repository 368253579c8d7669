"""The state folder: a lock so two cefw runs never change a firewall at once, and a
snapshot of the group's rules before every write (the way back, `cefw restore`).

Windows: %ProgramData%\\cefw. Elsewhere: /var/lib/cefw as root, else
~/.local/state/cefw. `--state-dir` or CEFW_STATE_DIR override both.
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from ..errors import EnvironmentProblem
from ..model import Rule


def default_dir() -> Path:
    env = os.environ.get("CEFW_STATE_DIR")
    if env:
        return Path(env)
    if sys.platform == "win32":
        return Path(os.environ.get("PROGRAMDATA", r"C:\ProgramData")) / "cefw"
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        return Path("/var/lib/cefw")
    return Path.home() / ".local" / "state" / "cefw"


class StateDir:
    def __init__(self, path: Path | None = None) -> None:
        self.path = path or default_dir()

    def _ensure(self) -> None:
        try:
            self.path.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise EnvironmentProblem(
                f"cannot create the state folder {self.path} ({exc.strerror})",
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
        handle = open(path, "a+")  # noqa: SIM115 - held across the yield
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
            handle.seek(0)
            handle.truncate()
            handle.write(f"pid {os.getpid()} since {time.strftime('%Y-%m-%d %H:%M:%S')}")
            handle.flush()
            yield
        finally:
            handle.close()  # closing releases the lock

    def save_snapshot(self, backend: str, rules: Sequence[Rule]) -> Path:
        """The group's rules before a change, as JSON (Rule.to_json)."""
        self._ensure()
        # One clock reading, microseconds of that second: names sort in time order, so
        # latest_snapshot() finds the newest even with two snapshots in one second.
        now = time.time_ns()
        stamp = (time.strftime("%Y%m%dT%H%M%S", time.localtime(now // 1_000_000_000))
                 + f"-{now // 1000 % 1_000_000:06d}")
        path = self.path / f"{backend}-before-{stamp}.json"
        payload = {"schema": "cefw.snapshot/1", "backend": backend,
                   "rules": [r.to_json() for r in rules]}
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(payload, indent=2), encoding="utf-8")
        os.replace(tmp, path)  # never a half-written snapshot
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

    def latest_snapshot(self, backend: str) -> Path | None:
        if not self.path.is_dir():
            return None
        found = sorted(self.path.glob(f"{backend}-before-*.json"))
        return found[-1] if found else None


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
