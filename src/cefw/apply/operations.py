"""add / remove / audit / restore: plan and store brought together, for any backend.

Order of work for a change: check the backend may be written, take the lock, read the
group once, compute the change set, save a snapshot, apply (all or nothing). A dry run
reads and computes, then stops: it neither locks nor writes.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from ..errors import Refused, RollbackFailed
from ..model import Finding, Plan, Rule
from ..record import Record
from .reconcile import changes_for, diff, widens
from .state import StateDir
from .store import Backend, ChangeSet, Skipped, Stored, split


class Outcome(Record):
    backend: str
    changes: ChangeSet
    applied: bool  # something was written
    dry_run: bool
    snapshot: Path | None  # the rules before the change, when something was written
    skipped: tuple[Skipped, ...]  # planned rules this backend cannot express
    preview: str = ""  # dry run: what would be sent (backend's own words)
    refused: str = ""  # dry run: why the real run would be refused (a guard rail)
    inputs: tuple[str, ...] = ()  # how the inputs differ from the last successful add

    def to_json(self) -> dict[str, object]:
        return {
            "schema": "cefw.outcome/1",
            "backend": self.backend,
            "dry_run": self.dry_run,
            "applied": self.applied,
            "snapshot": str(self.snapshot) if self.snapshot else None,
            **self.changes.to_json(),
            "skipped": [{**s.finding().to_json(), "rule": s.rule.name} for s in self.skipped],
            "refused": self.refused or None,
            "inputs_changed": list(self.inputs),
        }


class Guard(Record):
    """The guard rails of `cefw add` (remove and restore are explicit and pass none).

    A change is refused unless the command line asks for it when it would delete rules
    while the plan finds no CE component, or delete more than half of the group's rules
    (`--allow-removals`: a wrong --install-dir must not empty the group), or when an
    update lets more hosts connect than before (`--allow-widening`: a re-run without
    --site must not open scoped rules to any address)."""

    found: str  # what the plan found, for people: "no CE component in D:\\CE\\Services"
    components: int  # how many CE components the plan found
    allow_removals: bool = False
    allow_widening: bool = False


def guard_for(plan: Plan, allow_removals: bool = False,
              allow_widening: bool = False) -> Guard:
    """cefw add's guard rails for `plan`, with what the plan found in people's words."""
    components = plan.host.components
    where = plan.host.install_dir
    if components:
        shown = ", ".join(components[:6]) + (" ..." if len(components) > 6 else "")
        found = (f"{len(components)} CE component(s) ({shown}) in {where}, "
                 f"{len(plan.rules)} rule(s)")
    else:
        found = f"no CE component in {where}"
    return Guard(found, len(components), allow_removals, allow_widening)


REMOVALS_FIX = ("check --install-dir (the CE folder that holds Servers, Services and "
                "Tomcat); if these rules really must go, run again with --allow-removals "
                "(`cefw remove` deletes the whole group)")
WIDENING_FIX = ("pass the site file the rules were made with (--site), or, if more hosts "
                "must really be let in, run again with --allow-widening")


def refusal(guard: Guard | None, changes: ChangeSet, current: Sequence[Stored],
            excused: frozenset[str] = frozenset()) -> str:
    """Why a guard rail stops `changes` ("" when none does): what the plan found and
    what the group holds, each widening rule and how it widens. `excused`: rules whose
    update only puts back what the last successful add wrote (a hand edit undone)."""
    if guard is None:
        return ""
    reasons = []
    removed = changes.removals
    held = len({s.rule.name for s in current})
    if (removed and not guard.allow_removals
            and (guard.components == 0 or 2 * len(removed) > held)):
        names = _names([c.name for c in removed])
        reasons.append(f"the plan finds {guard.found}, and this change would delete "
                       f"{len(removed)} of the {held} rule(s) the group holds ({names}). "
                       f"Fix: {REMOVALS_FIX}.")
    widening = [c for c in changes.widening if c.name not in excused]
    if widening and not guard.allow_widening:
        lines = "".join(f"\n    {c.name}: {c.widens}" for c in widening)
        reasons.append(f"this change lets more hosts connect through {len(widening)} "
                       f"rule(s):{lines}\n  Fix: {WIDENING_FIX}.")
    return "\n  ".join(reasons)


def _names(names: list[str], most: int = 8) -> str:
    shown = ", ".join(names[:most])
    return shown + (f" and {len(names) - most} more" if len(names) > most else "")


def converge(backend: Backend, rules: Sequence[Rule], state: StateDir, *,
             dry_run: bool, guard: Guard | None = None, command: str = "add",
             wanted: str | None = "plan") -> Outcome:
    """Make the group hold exactly `rules`: `cefw add` (and, with no rules, `cefw
    remove`; with a snapshot's rules, `cefw restore`). With a `guard`, a change it stops
    raises Refused before anything is written (a dry run reports it in `refused`).
    `command` is recorded with the snapshot; `wanted` names `rules` in what people read
    (reconcile.diff)."""
    desired, skipped = split(rules, backend)
    backend.check_ready(write=not dry_run)
    if dry_run:
        current = backend.read()
        changes = diff(desired, current, backend.fields, backend.normalise, wanted)
        preview = backend.describe(changes, desired) if changes else ""
        return Outcome(backend.name, changes, False, True, None, tuple(skipped), preview,
                       refusal(guard, changes, current, _restoring(backend, state, changes)))
    with state.lock(backend.name):
        # A backend with a fingerprint (nftables) proves cheaply that its store is as
        # cefw left it with these very rules: then there is nothing to read or do.
        fingerprint = getattr(backend, "fingerprint", None)
        mark = fingerprint(desired) if fingerprint else None
        if mark is not None and state.mark(backend.name) == mark:
            in_sync = ChangeSet((), tuple(rule.name for rule in desired))
            return Outcome(backend.name, in_sync, False, False, None, tuple(skipped))
        current = backend.read()
        changes = diff(desired, current, backend.fields, backend.normalise, wanted)
        if not changes:
            state.save_mark(backend.name, mark)
            if guard is not None:
                state.save_applied(backend.name, desired)
            return Outcome(backend.name, changes, False, False, None, tuple(skipped))
        refused = refusal(guard, changes, current, _restoring(backend, state, changes))
        if refused:
            raise Refused(f"nothing was changed: {refused}")
        snapshot = state.save_snapshot(backend.name, [s.rule for s in current], command)
        state.save_mark(backend.name, None)
        try:
            backend.apply(changes, desired)
        except RollbackFailed as exc:  # name the snapshot: it is the way back now
            raise RollbackFailed(exc.problem, (
                f"the group's rules as they were before are saved in {snapshot}; fix the "
                f"cause, then run `cefw restore --snapshot {snapshot}`")) from None
        if mark is not None:
            state.save_mark(backend.name, backend.fingerprint_after_apply(mark))  # type: ignore[attr-defined]
        if guard is not None:
            state.save_applied(backend.name, desired)
    return Outcome(backend.name, changes, True, False, snapshot, tuple(skipped))


def _restoring(backend: Backend, state: StateDir, changes: ChangeSet) -> frozenset[str]:
    """Widening updates that let in no more than the last successful `cefw add` wrote:
    the firewall was narrowed by hand (an accept deleted) and the add puts it back."""
    applied = state.applied(backend.name)
    if not applied:
        return frozenset()
    return frozenset(
        c.name for c in changes.widening
        if c.name in applied and c.desired is not None
        and not widens(backend.fields, backend.normalise(applied[c.name]),
                       backend.normalise(c.desired)))


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
        drift = [{"kind": c.drift, "name": c.name, "detail": c.detail,
                  "widens": c.widens or None} for c in self.changes.changes]
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
