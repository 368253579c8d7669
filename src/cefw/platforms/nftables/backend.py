"""nftables backend: runs nft to list cefw's table (`nft -j`) and to replace it whole in
one atomic `nft -f` transaction; skips the listing when the kernel's ruleset generation
proves the table as cefw left it (fingerprint); checks that nft is installed and that
this process may administer the network; turns nft's failures into cefw's errors. What
the table holds, and how it is written: table.py; how it is read back: readback.py.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Sequence
from typing import Any, Protocol

from ...apply.store import ChangeSet, Stored
from ...errors import ApplyFailed, EnvironmentProblem
from ...model import Finding, Rule
from .generation import network_namespace, ruleset_generation
from .readback import canonical, contents, default_drop_findings, parse_table
from .table import (
    FAMILY,
    FORWARD_TABLE,
    HOOKS,
    TABLE,
    Guard,
    Steps,
    cannot_hold,
    check_table_name,
    steps,
    transaction,
)

INSTALL_FIX = ("install nftables (Debian/Ubuntu: apt-get install nftables; Fedora/RHEL: "
               "dnf install nftables)")
ROOT_FIX = ("run cefw as root (sudo cefw ...): nftables can only be read and changed by "
            "root (with CAP_NET_ADMIN)")


class Result(Protocol):
    returncode: int
    stdout: str
    stderr: str


Runner = Callable[[Sequence[str], str | None], Result]
"""Runs one nft command line (argv, stdin text) and returns its result. Tests pass their
own to count transactions, inject failures or run nft inside a network namespace."""


def run_nft(argv: Sequence[str], stdin: str | None) -> Result:
    import subprocess

    env = {**os.environ, "LC_ALL": "C"}  # nft's messages in English: they are matched
    try:
        return subprocess.run(list(argv), input=stdin, capture_output=True,
                              encoding="utf-8", errors="replace", env=env, check=False)
    except FileNotFoundError:
        raise EnvironmentProblem(f"the nft program was not found ({argv[0]})",
                                 INSTALL_FIX) from None
    except OSError as exc:
        raise EnvironmentProblem(f"cannot run {argv[0]} ({exc.strerror})",
                                 INSTALL_FIX) from None


# ---------------------------------------------------------------- the backend


class NftablesBackend:
    """This host's own table (the input hook), or with hook="forward" the gateway
    table of a router in front of the CE servers `destinations` (see table.py). Each
    has its own table, lock and snapshots (name "nftables" / "nftables-forward"), so a
    router can hold both."""

    fields = ("protocol", "local_ports", "remote_addresses")  # all a table can hold

    def __init__(self, table: str | None = None, nft: str = "nft",
                 runner: Runner | None = None, hook: str = "input",
                 destinations: Sequence[str] = (),
                 generation: Callable[[], int | None] | None = None) -> None:
        if hook not in HOOKS:
            raise ValueError(f"hook {hook!r} is not one of {HOOKS}")
        self.table = table or (FORWARD_TABLE if hook == "forward" else TABLE)
        check_table_name(self.table)
        self.guard = Guard(hook, tuple(destinations) if hook == "forward" else ())
        self.name = "nftables" if hook == "input" else "nftables-forward"
        self.nft = nft
        self.runner: Runner = runner or run_nft
        # The ruleset generation is asked of the kernel from this process, so of its
        # network namespace: right when nft runs here too (the default runner). A runner
        # that runs nft elsewhere brings its own, or the table is read every time.
        self.generation = generation or (ruleset_generation if runner is None else None)
        self._made: tuple[Sequence[Rule], int, str] | None = None
        self._commits = 0  # transactions the last apply committed (1, or 2: sets first)

    # -- checks

    def check_ready(self, *, write: bool) -> None:
        if self.runner is run_nft and shutil.which(self.nft) is None:
            raise EnvironmentProblem(f"the nft program was not found ({self.nft})",
                                     INSTALL_FIX)
        if not _may_admin_network():
            doing = "change" if write else "read"
            raise EnvironmentProblem(f"cefw must run as root to {doing} the nftables "
                                     "ruleset", ROOT_FIX)

    def normalise(self, rule: Rule) -> Rule:
        return canonical(rule, self.guard)

    def cannot_hold(self, rule: Rule) -> str:
        return cannot_hold(rule)

    # -- the store

    def read(self) -> list[Stored]:
        data = self._listing()
        return [] if data is None else parse_table(data, self.table, self.guard)  # no table

    def _listing(self) -> Any:
        """`nft -j list table` as JSON, or None when there is no table."""
        import json

        result = self._run(["-j", "list", "table", FAMILY, self.table], None)
        if result.returncode != 0:
            if "No such file or directory" in result.stderr:
                return None
            raise EnvironmentProblem(f"nft could not list table {FAMILY} {self.table}: "
                                     f"{_first_error(result.stderr)}", INSTALL_FIX)
        try:
            return json.loads(result.stdout)
        except ValueError as exc:
            raise EnvironmentProblem(f"nft -j printed something that is not JSON ({exc})",
                                     "update nftables (0.9.3 or newer)") from None

    def steps(self, desired: Sequence[Rule]) -> Steps:
        """The transactions that replace the table: the address sets first, then the rest
        (table.steps says why); the whole table in one when there is nothing to keep it
        for (no rules) or it holds something two steps cannot take apart (table flags)."""
        data = self._listing() if desired else None
        found = contents(data, self.table) if data is not None else None
        if not desired or (found is not None and found.flags):
            return Steps("", transaction(desired, self.table, self.guard), "")
        if found is None:
            return steps(desired, {}, [], exists=False, table=self.table, guard=self.guard)
        return steps(desired, found.sets, found.others, exists=True, table=self.table,
                     guard=self.guard)

    def fingerprint(self, desired: Sequence[Rule]) -> str | None:
        """The table as cefw would write it for `desired`, and the kernel's ruleset
        generation now (generation.py). Equal to the one saved after cefw last wrote or
        read this table in sync, it proves the table unchanged since: any transaction,
        a hand edit included, moves the generation on. None: no generation to trust."""
        generation = self.generation() if self.generation else None
        if generation is None:
            return None
        import hashlib

        digest = hashlib.sha256(self._transaction(desired).encode()).hexdigest()
        return f"{self.table} {network_namespace()} {generation} {digest}"

    def fingerprint_after_apply(self, before: str) -> str | None:
        """`before` (taken before the table was read) moved on by cefw's own transactions
        alone (one, or two when the sets went first); None when anyone else's was
        committed in between."""
        table, namespace, generation, digest = before.split(" ")
        now = self.generation() if self.generation else None
        if now != int(generation) + self._commits:
            return None
        return f"{table} {namespace} {now} {digest}"

    def describe(self, changes: ChangeSet, desired: Sequence[Rule]) -> str:
        planned = self.steps(desired)
        if not planned.sets:
            return planned.swap
        return (f"# 1 of 2: the address sets the new rules use, committed first\n"
                f"{planned.sets}# 2 of 2: the rules\n{planned.swap}")

    def _transaction(self, desired: Sequence[Rule]) -> str:
        """transaction(desired): the table cefw would write, whose hash the fingerprint
        holds; made once per run (60 ms for 20,000 nft rules)."""
        if self._made is None or self._made[0] is not desired or \
                self._made[1] != len(desired):
            self._made = (desired, len(desired),
                          transaction(desired, self.table, self.guard))
        return self._made[2]

    def apply(self, changes: ChangeSet, desired: Sequence[Rule]) -> None:
        planned = self.steps(desired)
        self._commits = 0
        for text in (planned.sets, planned.swap):
            if not text:
                continue
            result = self._run(["-f", "-"], text)
            self._commits += result.returncode == 0
            if result.returncode != 0:
                if text is planned.swap and planned.undo:  # take the new sets out again
                    self._run(["-f", "-"], planned.undo)
                raise ApplyFailed(
                    f"nft refused the transaction, so the kernel applied none of it (table "
                    f"{FAMILY} {self.table} is as it was): {result.stderr.strip()}",
                    "fix the cause above and run the command again; `--dry-run` prints "
                    "the transaction")

    def store_findings(self, desired: Sequence[Rule]) -> list[Finding]:
        import json

        result = self._run(["-j", "list", "ruleset"], None)
        if result.returncode != 0:
            return []  # read() already proved nft works; nothing more to say
        try:
            objects = json.loads(result.stdout).get("nftables", [])
        except (ValueError, AttributeError):
            return []
        return default_drop_findings(objects, self.table, self.guard.hook)

    # -- helpers

    def _run(self, args: list[str], stdin: str | None) -> Result:
        result = self.runner([self.nft, *args], stdin)
        if result.returncode != 0 and "Operation not permitted" in result.stderr:
            raise EnvironmentProblem(
                f"nft was refused access to the ruleset: {_first_error(result.stderr)}",
                ROOT_FIX)
        return result


def _may_admin_network() -> bool:
    """Whether this process holds CAP_NET_ADMIN, all nft needs: what root normally has,
    and what a container or a capability-less root lacks."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("CapEff:"):
                    return bool(int(line.split()[1], 16) & (1 << 12))
    except (OSError, ValueError, IndexError):
        pass
    return not hasattr(os, "geteuid") or os.geteuid() == 0  # no /proc: trust the uid


def _first_error(stderr: str) -> str:
    lines = [line.strip() for line in stderr.splitlines() if line.strip()]
    errors = [line for line in lines if "Error" in line or "error" in line]
    return (errors or lines or ["(no message)"])[0]
