"""Errors an administrator can act on.

Every error cefw raises on purpose is a CefwError: the CLI prints its message (never a
traceback) and exits with its status. Exit status 2 always means "nothing was changed in
any firewall"; 3 means a write failed and so did the rollback (the message says where the
saved rules are).
"""

from __future__ import annotations


class CefwError(Exception):
    exit_status = 2

    def __init__(self, problem: str, fix: str = "") -> None:
        super().__init__(problem)
        self.problem = problem
        self.fix = fix

    def render(self) -> str:
        text = f"cefw: error: {self.problem}"
        if self.fix:
            text += f"\n  fix: {self.fix}"
        return text


class InputError(CefwError):
    """A source file, registry value or option cefw cannot use.

    `path` is the file (or registry value), `where` the place inside it ("line 12,
    Server[@Name='X']/@Port", "value Lync_Recorder_Port"), `problem` what is wrong and
    `fix` what to do about it.
    """

    def __init__(self, path: str, where: str, problem: str, fix: str) -> None:
        self.path = path
        self.where = where
        super().__init__(problem, fix)

    def render(self) -> str:
        place = self.path
        if self.where:
            place = f"{place}: {self.where}" if place else self.where
        text = f"cefw: error: {place}: {self.problem}" if place else f"cefw: error: {self.problem}"
        if self.fix:
            text += f"\n  fix: {self.fix}"
        return text


class EnvironmentProblem(CefwError):
    """The machine is not in a state to do the job: not elevated / not root, another
    cefw run holds the lock, the firewall service is unreachable."""


class Refused(CefwError):
    """A change a guard rail stops (it would delete most of the group, or let more hosts
    in) and the command line did not ask for explicitly. Nothing was written."""


class ApplyFailed(CefwError):
    """A write failed part way and every earlier write was undone."""


class RollbackFailed(CefwError):
    """A write failed and undoing the earlier writes failed too."""

    exit_status = 3
