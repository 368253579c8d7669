"""Reconciliation: desired rules (the plan) against the rules a store holds in cefw's
group. The same code for every backend.

The change set is ordered make-before-break: creates and updates first, deletes last,
so no wanted port is ever closed while cefw works. Identity is the rule name; a changed
port is an update of the rule of that name, never a second rule.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from ..errors import ApplyFailed, CefwError, RollbackFailed
from ..model import Rule
from ..ports import format_ports
from .store import (
    CHANGED,
    CREATE,
    DELETE,
    DUPLICATE,
    EXTRA,
    MISSING,
    UPDATE,
    Backend,
    Change,
    ChangeSet,
    RuleWriter,
    Stored,
)

__all__ = ["CHANGED", "CREATE", "DELETE", "DUPLICATE", "EXTRA", "MISSING", "UPDATE",
           "Change", "ChangeSet", "apply_itemwise", "changes_for", "diff", "field_diff"]


def _show(field: str, value: object) -> str:
    if field == "local_ports":
        return format_ports(value)  # type: ignore[arg-type]
    if isinstance(value, tuple):
        return ",".join(str(v) for v in value) or "-"
    return str(value)


def field_diff(fields: Sequence[str], current: Rule, desired: Rule) -> list[str]:
    """`local_ports 9905 -> 9915` for each compared field that differs."""
    out = []
    for field in fields:
        old, new = getattr(current, field), getattr(desired, field)
        if old != new:
            out.append(f"{field} {_show(field, old)} -> {_show(field, new)}")
    return out


def diff(desired: Sequence[Rule], current: Sequence[Stored], fields: Sequence[str],
         normalise: Callable[[Rule], Rule]) -> ChangeSet:
    """The changes that turn `current` into `desired`, make-before-break."""
    by_name: dict[str, list[Stored]] = {}
    for stored in current:
        by_name.setdefault(stored.rule.name, []).append(stored)

    creates, updates, deletes, unchanged = [], [], [], []
    wanted = set()
    for rule in desired:
        wanted.add(rule.name)
        candidates = by_name.get(rule.name, [])
        if not candidates:
            creates.append(Change(CREATE, rule.name, rule, None, MISSING, "not in the firewall"))
            continue
        target = normalise(rule)
        # Keep the copy that already matches, if any; every other copy is a duplicate.
        keep = next((s for s in candidates if not field_diff(fields, s.rule, target)),
                    candidates[0])
        for extra in candidates:
            if extra is not keep:
                deletes.append(Change(DELETE, rule.name, None, extra, DUPLICATE,
                                      "a second rule with this name"))
        changed = field_diff(fields, keep.rule, target)
        if changed:
            updates.append(Change(UPDATE, rule.name, rule, keep, CHANGED, "; ".join(changed)))
        else:
            unchanged.append(rule.name)
    for name, stored_list in by_name.items():
        if name not in wanted:
            for stored in stored_list:
                deletes.append(Change(DELETE, name, None, stored, EXTRA, "not in the plan"))
    return ChangeSet(tuple(creates + updates + deletes), tuple(unchanged))


def changes_for(backend: Backend, desired: Sequence[Rule]) -> ChangeSet:
    return diff(desired, backend.read(), backend.fields, backend.normalise)


def apply_itemwise(store: RuleWriter, changes: ChangeSet) -> None:
    """Apply change by change; on the first failure undo what was done, newest first,
    so the store holds exactly the rules it held before."""
    undo: list[Callable[[], object]] = []
    for position, change in enumerate(changes.changes):
        try:
            undo.append(_perform(store, change))
        except BaseException as exc:  # any store failure, and Ctrl+C: never stop half-way
            reason = (exc.problem if isinstance(exc, CefwError)
                      else f"{exc}" or type(exc).__name__)
            problem = (f"writing rule {change.name!r} ({change.action}, change "
                       f"{position + 1} of {len(changes.changes)}) failed: {reason}")
            try:
                for step in reversed(undo):
                    step()
            except Exception as undo_exc:
                raise RollbackFailed(
                    f"{problem}; undoing the {len(undo)} earlier change(s) failed too: "
                    f"{undo_exc}",
                    "restore the group from the snapshot cefw saved before the change "
                    "(path above) with `cefw restore`",
                ) from None
            if isinstance(exc, RollbackFailed):  # the failed step could not undo itself
                raise RollbackFailed(
                    f"{problem}. The {len(undo)} earlier change(s) were undone, but this "
                    "rule could not be put back as it was", exc.fix) from None
            raise ApplyFailed(
                f"{problem}. The {len(undo)} earlier change(s) were undone: the firewall "
                "holds exactly the rules it held before",
                "fix the cause above and run the command again",
            ) from None


def _perform(store: RuleWriter, change: Change) -> Callable[[], object]:
    """Do one change; return what undoes it (the store's own undo when it gives one)."""
    if change.action == CREATE:
        assert change.desired is not None
        key = store.create(change.desired)
        return lambda: store.delete(key)
    assert change.current is not None
    current = change.current
    if change.action == UPDATE:
        assert change.desired is not None
        desired = change.desired
        own = store.update(current.key, current.rule, desired)
        if callable(own):
            return own
        return lambda: store.update(current.key, desired, current.rule)
    own = store.delete(current.key)
    if callable(own):
        return own
    return lambda: store.create(current.rule)
