"""What a firewall backend provides to reconciliation (reconcile.py), which is the same
code for every backend.

A backend owns exactly one group of rules (Windows: the rule group "Contact Expert";
nftables: the table `inet contact_expert`) and never reads anything else for change.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, NamedTuple, Protocol

from ..model import Finding, Rule

if TYPE_CHECKING:
    from ..reconcile import ChangeSet


class Stored(NamedTuple):
    """A rule as read back from the store, with the backend's own handle to it."""

    key: object  # opaque to reconciliation (a COM rule object, an nftables rule name...)
    rule: Rule  # normalised by the backend (see Backend.normalise)


class Backend(Protocol):
    name: str  # "windows", "nftables"
    fields: tuple[str, ...]  # the Rule fields this store holds; only these are compared

    def check_ready(self, *, write: bool) -> None:
        """Raise EnvironmentProblem (exit 2) when cefw may not read (or, with `write`,
        change) the store: not elevated, not root, no firewall service."""

    def normalise(self, rule: Rule) -> Rule:
        """The rule as this store would read it back, so planned and stored rules compare
        equal when the store holds the same thing (e.g. program path case on Windows)."""

    def enforceable(self, rules: Sequence[Rule]) -> tuple[list[Rule], list[Finding]]:
        """The rules this store can express; a finding for each it cannot (nftables
        cannot bind a rule to a program, so a rule without ports is left out there)."""

    def read(self) -> list[Stored]:
        """Every rule of cefw's group, in one pass over the store."""

    def apply(self, changes: ChangeSet, desired: Sequence[Rule]) -> None:
        """Carry out `changes` (creates and updates before deletes). All or nothing: on
        failure the store is back as it was and ApplyFailed is raised (RollbackFailed if
        that was impossible)."""

    def describe(self, changes: ChangeSet, desired: Sequence[Rule]) -> str:
        """What `apply` would send, for --dry-run (nftables: the transaction text)."""

    def store_findings(self) -> list[Finding]:
        """The store's own state for audit: firewall off in a profile, local rules
        overridden by Group Policy, ..."""
