"""The store contract: what a firewall platform gives the reconciler, and what the
reconciler hands back. One module, imported by both sides, so nothing imports in a
circle.

A backend owns exactly one group of rules (Windows: the rule group "Contact Expert";
nftables: the table `inet contact_expert`) and never reads anything else for change.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Protocol

from ..findings import finding
from ..model import Finding, Rule
from ..record import Record

CREATE, UPDATE, DELETE = "create", "update", "delete"

# Drift kinds reported by audit, from the change that would repair them.
MISSING, CHANGED, EXTRA, DUPLICATE = "missing", "changed", "extra", "duplicate"


class Stored(Record):
    """A rule as read back from the store, with the backend's own handle to it."""

    key: object  # opaque to reconciliation (a COM rule object, an nftables rule name...)
    rule: Rule  # normalised by the backend (see Backend.normalise)


class Change(Record):
    action: str  # CREATE | UPDATE | DELETE
    name: str
    desired: Rule | None  # CREATE, UPDATE
    current: Stored | None  # UPDATE, DELETE
    drift: str  # MISSING | CHANGED | EXTRA | DUPLICATE
    detail: str  # "local_ports 9905 -> 9915", "not in the plan", ...
    widens: str = ""  # an update that lets more in: "remote_addresses 10.0.1.10 -> any"

    def to_json(self) -> dict[str, object]:
        data: dict[str, object] = {
            "action": self.action,
            "name": self.name,
            "drift": self.drift,
            "detail": self.detail,
            "widens": self.widens or None,
        }
        if self.desired is not None:
            data["rule"] = self.desired.to_json()
        if self.current is not None:
            data["current"] = self.current.rule.to_json()
        return data


class ChangeSet(Record):
    changes: tuple[Change, ...]
    unchanged: tuple[str, ...]

    def __bool__(self) -> bool:  # "is there anything to do"
        return bool(self.changes)

    def count(self, action: str) -> int:
        return sum(1 for c in self.changes if c.action == action)

    @property
    def removals(self) -> tuple[Change, ...]:
        """Deletes of rules the plan no longer has (a duplicate's delete keeps the rule)."""
        return tuple(c for c in self.changes if c.action == DELETE and c.drift == EXTRA)

    @property
    def widening(self) -> tuple[Change, ...]:
        return tuple(c for c in self.changes if c.widens)

    def summary(self) -> str:
        return (f"{self.count(CREATE)} to create, {self.count(UPDATE)} to update, "
                f"{self.count(DELETE)} to delete, {len(self.unchanged)} unchanged")

    def to_json(self) -> dict[str, object]:
        return {
            "changes": [c.to_json() for c in self.changes],
            "unchanged": list(self.unchanged),
            "counts": {
                CREATE: self.count(CREATE),
                UPDATE: self.count(UPDATE),
                DELETE: self.count(DELETE),
                "unchanged": len(self.unchanged),
            },
        }


class Skipped(Record):
    """A planned rule the backend cannot express, and why (a sentence)."""

    rule: Rule
    backend: str
    reason: str

    def finding(self) -> Finding:
        component = self.rule.components[0] if self.rule.components else ""
        return finding("backend-cannot-enforce", component,
                       f"{self.backend}: rule {self.rule.name} is left out: {self.reason}")


def split(rules: Sequence[Rule], backend: Backend) -> tuple[list[Rule], list[Skipped]]:
    """The rules `backend` can hold, and the ones it cannot, with its reason."""
    kept: list[Rule] = []
    skipped: list[Skipped] = []
    for rule in rules:
        reason = backend.cannot_hold(rule)
        if reason:
            skipped.append(Skipped(rule, backend.name, reason))
        else:
            kept.append(rule)
    return kept, skipped


class Backend(Protocol):
    name: str  # "windows", "nftables"
    fields: tuple[str, ...]  # the Rule fields this store holds; only these are compared

    def check_ready(self, *, write: bool) -> None:
        """Raise EnvironmentProblem (exit 2) when cefw may not read (or, with `write`,
        change) the store: not elevated, not root, no firewall service."""

    def normalise(self, rule: Rule) -> Rule:
        """The rule as this store would read it back, so planned and stored rules compare
        equal when the store holds the same thing (e.g. program path case on Windows)."""

    def cannot_hold(self, rule: Rule) -> str:
        """Why this store cannot express `rule` ("" when it can): nftables cannot bind a
        rule to a program, so a rule without ports is left out there."""

    def read(self) -> list[Stored]:
        """Every rule of cefw's group, in one pass over the store."""

    def apply(self, changes: ChangeSet, desired: Sequence[Rule]) -> None:
        """Carry out `changes` (creates and updates before deletes). All or nothing: on
        failure the store is back as it was and ApplyFailed is raised (RollbackFailed if
        that was impossible)."""

    def describe(self, changes: ChangeSet, desired: Sequence[Rule]) -> str:
        """What `apply` would send, for --dry-run (nftables: the transaction text)."""

    def store_findings(self, desired: Sequence[Rule]) -> list[Finding]:
        """The store's own state for audit, for the planned rules: firewall off in a
        profile they use, local rules overridden by Group Policy, ..."""


class RuleWriter(Protocol):
    """What a backend that writes one rule at a time (Windows Firewall) gives
    reconcile.apply_itemwise, which turns these primitives into an all-or-nothing change.

    `update` and `delete` may return a callable that undoes exactly what they did (a
    store holding more than a Rule's fields, like Windows, puts back every property);
    when they return None the inverse primitive is used. A primitive that fails must
    leave its own rule as it was, or raise RollbackFailed when it could not."""

    def create(self, rule: Rule) -> object: ...

    def update(self, key: object, current: Rule, desired: Rule) -> object: ...

    def delete(self, key: object) -> object: ...


Undo = Callable[[], object]
