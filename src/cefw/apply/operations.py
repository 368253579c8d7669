"""add / remove / audit / restore: plan and store brought together, for any backend.

Order of work for a change: check the backend may be written, take the lock, read the
group once, compute the change set, save a snapshot, apply (all or nothing). A dry run
reads and computes, then stops: it neither locks nor writes.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from ..errors import RollbackFailed
from ..model import Finding, Rule
from ..record import Record
from .reconcile import changes_for, diff
from .state import StateDir
from .store import Backend, ChangeSet, Skipped, split


class Outcome(Record):
    backend: str
    changes: ChangeSet
    applied: bool  # something was written
    dry_run: bool
    snapshot: Path | None  # the rules before the change, when something was written
    skipped: tuple[Skipped, ...]  # planned rules this backend cannot express
    preview: str = ""  # dry run: what would be sent (backend's own words)

    def to_json(self) -> dict[str, object]:
        return {
            "schema": "cefw.outcome/1",
            "backend": self.backend,
            "dry_run": self.dry_run,
            "applied": self.applied,
            "snapshot": str(self.snapshot) if self.snapshot else None,
            **self.changes.to_json(),
            "skipped": [{**s.finding().to_json(), "rule": s.rule.name} for s in self.skipped],
        }


def converge(backend: Backend, rules: Sequence[Rule], state: StateDir, *,
             dry_run: bool) -> Outcome:
    """Make the group hold exactly `rules`: `cefw add` (and, with no rules, `cefw
    remove`)."""
    desired, skipped = split(rules, backend)
    backend.check_ready(write=not dry_run)
    if dry_run:
        changes = changes_for(backend, desired)
        preview = backend.describe(changes, desired) if changes else ""
        return Outcome(backend.name, changes, False, True, None, tuple(skipped), preview)
    with state.lock(backend.name):
        # A backend with a fingerprint (nftables) proves cheaply that its store is as
        # cefw left it with these very rules: then there is nothing to read or do.
        fingerprint = getattr(backend, "fingerprint", None)
        mark = fingerprint(desired) if fingerprint else None
        if mark is not None and state.mark(backend.name) == mark:
            in_sync = ChangeSet((), tuple(rule.name for rule in desired))
            return Outcome(backend.name, in_sync, False, False, None, tuple(skipped))
        current = backend.read()
        changes = diff(desired, current, backend.fields, backend.normalise)
        if not changes:
            state.save_mark(backend.name, mark)
            return Outcome(backend.name, changes, False, False, None, tuple(skipped))
        snapshot = state.save_snapshot(backend.name, [s.rule for s in current])
        state.save_mark(backend.name, None)
        try:
            backend.apply(changes, desired)
        except RollbackFailed as exc:  # name the snapshot: it is the way back now
            raise RollbackFailed(exc.problem, (
                f"the group's rules as they were before are saved in {snapshot}; fix the "
                f"cause, then run `cefw restore --snapshot {snapshot}`")) from None
        if mark is not None:
            state.save_mark(backend.name, backend.fingerprint_after_apply(mark))  # type: ignore[attr-defined]
    return Outcome(backend.name, changes, True, False, snapshot, tuple(skipped))


class AuditReport(Record):
    backend: str
    changes: ChangeSet  # what `cefw add` would do: the drift
    findings: tuple[Finding, ...]  # the plan's findings, then the store's

    @property
    def in_sync(self) -> bool:
        return not self.changes

    @property
    def exit_status(self) -> int:
        """0 in sync and nothing severe; 1 drift or a high-severity finding."""
        high = any(f.severity == "high" for f in self.findings)
        return 1 if (self.changes or high) else 0

    def to_json(self) -> dict[str, object]:
        drift = [{"kind": c.drift, "name": c.name, "detail": c.detail}
                 for c in self.changes.changes]
        return {
            "schema": "cefw.audit/1",
            "backend": self.backend,
            "in_sync": self.in_sync,
            "drift": drift,
            "unchanged": list(self.changes.unchanged),
            "findings": [f.to_json() for f in self.findings],
            "exit_status": self.exit_status,
        }


def audit(backend: Backend, rules: Sequence[Rule],
          plan_findings: Sequence[Finding]) -> AuditReport:
    desired, skipped = split(rules, backend)
    backend.check_ready(write=False)
    changes = changes_for(backend, desired)
    findings = (*plan_findings, *(s.finding() for s in skipped),
                *backend.store_findings(desired))
    return AuditReport(backend.name, changes, tuple(findings))
