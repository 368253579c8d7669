"""Reconciliation: desired rules (the plan) against the rules a store holds in cefw's
group. The same code for every backend.

The change set is ordered make-before-break: creates and updates first, deletes last,
so no wanted port is ever closed while cefw works. Identity is the rule name; a changed
port is an update of the rule of that name, never a second rule.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from ..addresses import widened
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
           "Change", "ChangeSet", "apply_itemwise", "changes_for", "diff", "field_diff",
           "widens"]


def _show(field: str, value: object) -> str:
    if field == "local_ports":
        return format_ports(value)  # type: ignore[arg-type]
    if field == "other_settings":  # (property, value) pairs; none = cefw's defaults
        return ", ".join(f"{k}={v!r}" for k, v in value) or "cefw's defaults"  # type: ignore[attr-defined]
    if isinstance(value, tuple):
        return ",".join(str(v) for v in value) or "-"
    return str(value)


def field_diff(fields: Sequence[str], current: Rule, desired: Rule,
               wanted: str = "plan") -> list[str]:
    """`local ports firewall: 9905 -> plan: 9915` for each compared field that differs:
    the admin reads which side is the firewall and which the plan (or the snapshot)."""
    out = []
    for field in fields:
        old, new = getattr(current, field), getattr(desired, field)
        if old != new:
            out.append(f"{field.replace('_', ' ')} firewall: {_show(field, old)} -> "
                       f"{wanted}: {_show(field, new)}")
    return out


def widens(fields: Sequence[str], current: Rule, desired: Rule) -> str:
    """How an update lets more hosts connect ("" when it does not): remote addresses that
    were not allowed before, or a profile added (a Windows rule then applies on networks
    it did not apply on). Only the fields the store holds are looked at."""
    out = []
    if "remote_addresses" in fields:
        how = widened(current.remote_addresses, desired.remote_addresses)
        if how:
            out.append(f"remote_addresses {_show('remote_addresses', current.remote_addresses)}"
                       f" -> {_show('remote_addresses', desired.remote_addresses)} ({how})")
    if "profiles" in fields:
        added = [p for p in desired.profiles if p not in current.profiles]
        if added:
            out.append(f"profile{'s' if len(added) > 1 else ''} {','.join(added)} added")
    return "; ".join(out)


def diff(desired: Sequence[Rule], current: Sequence[Stored], fields: Sequence[str],
         normalise: Callable[[Rule], Rule], wanted: str | None = "plan") -> ChangeSet:
    """The changes that turn `current` into `desired`, make-before-break. `wanted` names
    the desired side in the details people read ("plan", "snapshot"); None for `cefw
    remove`, whose desired side is nothing."""
    side = wanted or "plan"
    stray = f"in the firewall, not in the {wanted}" if wanted else "one of cefw's rules"
    by_name: dict[str, list[Stored]] = {}
    for stored in current:
        by_name.setdefault(stored.rule.name, []).append(stored)

    creates, updates, deletes, unchanged = [], [], [], []
    planned = set()
    for rule in desired:
        planned.add(rule.name)
        candidates = by_name.get(rule.name, [])
        if not candidates:
            creates.append(Change(CREATE, rule.name, rule, None, MISSING,
                                  f"in the {side}, not in the firewall"))
            continue
        target = normalise(rule)
        # Keep the copy that already matches, if any; every other copy is a duplicate.
        keep = next((s for s in candidates if not field_diff(fields, s.rule, target)),
                    candidates[0])
        for extra in candidates:
            if extra is not keep:
                deletes.append(Change(DELETE, rule.name, None, extra, DUPLICATE,
                                      "a second rule with this name in the firewall"))
        changed = field_diff(fields, keep.rule, target, side)
        if changed:
            updates.append(Change(UPDATE, rule.name, rule, keep, CHANGED, "; ".join(changed),
                                  widens(fields, keep.rule, target)))
        else:
            unchanged.append(rule.name)
    for name, stored_list in by_name.items():
        if name not in planned:
            for stored in stored_list:
                deletes.append(Change(DELETE, name, None, stored, EXTRA, stray))
    return ChangeSet(tuple(creates + updates + deletes), tuple(unchanged))


def changes_for(backend: Backend, desired: Sequence[Rule],
                wanted: str | None = "plan") -> ChangeSet:
    return diff(desired, backend.read(), backend.fields, backend.normalise, wanted)


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
