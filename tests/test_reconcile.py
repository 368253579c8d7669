"""The reconciler shared by every backend: diff order, identity by name, duplicates,
rollback at every write position, the lock and the snapshots."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cefw.apply.reconcile import (
    CREATE,
    DELETE,
    DUPLICATE,
    EXTRA,
    MISSING,
    UPDATE,
    apply_itemwise,
    diff,
)
from cefw.apply.state import StateDir, load_snapshot
from cefw.apply.store import Stored
from cefw.errors import ApplyFailed, EnvironmentProblem
from cefw.model import Rule

FIELDS = ("protocol", "local_ports", "program", "remote_addresses", "profiles")


def rule(name: str, port: int, addresses: tuple[str, ...] = ("10.0.1.10",)) -> Rule:
    return Rule(name=name, display_name=name, protocol="TCP", local_ports=((port, port),),
                program=r"C:\CE\x.exe", remote_addresses=addresses,
                profiles=("domain", "private"), components=(name,))


def same(r: Rule) -> Rule:
    return r


class MemoryStore:
    """An item store that fails on the n-th write, like a store that loses its service
    or its permission half-way."""

    def __init__(self, rules: list[Rule], fail_at: int | None = None) -> None:
        self.rules: dict[int, Rule] = dict(enumerate(rules))
        self.next_key = len(rules)
        self.writes = 0
        self.fail_at = fail_at

    def _write(self) -> None:
        self.writes += 1
        if self.fail_at is not None and self.writes == self.fail_at:
            raise OSError("simulated store failure")

    def stored(self) -> list[Stored]:
        return [Stored(k, r) for k, r in self.rules.items()]

    def create(self, rule: Rule) -> object:
        self._write()
        self.next_key += 1
        self.rules[self.next_key] = rule
        return self.next_key

    def update(self, key: object, current: Rule, desired: Rule) -> None:
        self._write()
        self.rules[key] = desired  # type: ignore[index]

    def delete(self, key: object) -> None:
        self._write()
        del self.rules[key]  # type: ignore[arg-type]

    def content(self) -> list[Rule]:
        return sorted(self.rules.values())


def test_changes_are_ordered_make_before_break() -> None:
    current = [Stored(1, rule("CE-A-TCP", 1)), Stored(2, rule("CE-Old-TCP", 2)),
               Stored(3, rule("CE-B-TCP", 3))]
    desired = [rule("CE-A-TCP", 10), rule("CE-New-TCP", 4), rule("CE-B-TCP", 3)]
    changes = diff(desired, current, FIELDS, same)
    actions = [c.action for c in changes.changes]
    assert actions == [CREATE, UPDATE, DELETE]
    assert [c.name for c in changes.changes] == ["CE-New-TCP", "CE-A-TCP", "CE-Old-TCP"]
    assert changes.unchanged == ("CE-B-TCP",)
    assert changes.changes[1].detail == "local ports firewall: 1 -> plan: 10"
    assert changes.changes[0].detail == "in the plan, not in the firewall"
    assert changes.changes[2].detail == "in the firewall, not in the plan"
    assert changes.changes[2].drift == EXTRA
    assert changes.changes[0].drift == MISSING


def test_a_changed_port_updates_the_rule_of_that_name_and_adds_none() -> None:
    current = [Stored(1, rule("CE-DialerServer-TCP", 9905))]
    changes = diff([rule("CE-DialerServer-TCP", 9915)], current, FIELDS, same)
    assert [(c.action, c.name) for c in changes.changes] == [(UPDATE, "CE-DialerServer-TCP")]


def test_duplicates_keep_the_copy_that_already_matches() -> None:
    wanted = rule("CE-A-TCP", 1)
    current = [Stored(1, rule("CE-A-TCP", 99)), Stored(2, wanted), Stored(3, wanted)]
    changes = diff([wanted], current, FIELDS, same)
    assert [(c.action, c.current.key, c.drift) for c in changes.changes] == [
        (DELETE, 1, DUPLICATE), (DELETE, 3, DUPLICATE)]
    assert changes.unchanged == ("CE-A-TCP",)


def test_nothing_to_do_is_an_empty_change_set() -> None:
    rules = [rule("CE-A-TCP", 1), rule("CE-B-TCP", 2)]
    changes = diff(rules, [Stored(i, r) for i, r in enumerate(rules)], FIELDS, same)
    assert not changes
    assert changes.summary() == "0 to create, 0 to update, 0 to delete, 2 unchanged"


def test_only_compared_fields_count() -> None:
    planned = rule("CE-A-TCP", 1)
    stored = planned._replace(description="edited by hand", components=())
    assert not diff([planned], [Stored(1, stored)], FIELDS, same)


names = st.sampled_from([f"CE-C{i}-TCP" for i in range(6)])
rule_lists = st.lists(st.tuples(names, st.integers(1, 5)), max_size=8)


@settings(max_examples=200, deadline=None)
@given(current=rule_lists, desired=rule_lists)
def test_applying_the_diff_reaches_exactly_the_desired_rules(current, desired) -> None:
    wanted = {n: rule(n, p) for n, p in desired}  # one rule per name in a plan
    store = MemoryStore([rule(n, p) for n, p in current])
    changes = diff(list(wanted.values()), store.stored(), FIELDS, same)
    apply_itemwise(store, changes)
    assert store.content() == sorted(wanted.values())
    # ... and a second pass has nothing to do.
    assert not diff(list(wanted.values()), store.stored(), FIELDS, same)


def test_a_failure_at_every_write_position_leaves_the_store_as_it_was() -> None:
    before = [rule("CE-A-TCP", 1), rule("CE-Old-TCP", 2), rule("CE-Dup-TCP", 3),
              rule("CE-Dup-TCP", 3)]
    desired = [rule("CE-A-TCP", 10), rule("CE-New-TCP", 4), rule("CE-Dup-TCP", 3)]
    total = len(diff(desired, MemoryStore(before).stored(), FIELDS, same).changes)
    assert total == 4
    for position in range(1, total + 1):
        store = MemoryStore(before, fail_at=position)
        changes = diff(desired, store.stored(), FIELDS, same)
        with pytest.raises(ApplyFailed) as raised:
            apply_itemwise(store, changes)
        assert store.content() == sorted(before), f"failure at write {position}"
        assert f"change {position} of {total}" in raised.value.problem


def test_snapshot_round_trip(tmp_path: Path) -> None:
    state = StateDir(tmp_path)
    rules = [rule("CE-A-TCP", 1), rule("CE-B-TCP", 2, ("any",))]
    path = state.save_snapshot("windows", rules)
    assert load_snapshot(path) == rules
    assert state.latest_snapshot("windows") == path


LOCK_HOLDER = """
import sys, time
from pathlib import Path
from cefw.apply.state import StateDir
with StateDir(Path(sys.argv[1])).lock("nftables"):
    print("locked", flush=True)
    time.sleep(30)
"""


def test_a_second_run_is_refused_while_the_lock_is_held(tmp_path: Path) -> None:
    holder = subprocess.Popen([sys.executable, "-c", LOCK_HOLDER, str(tmp_path)],
                              stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
        with pytest.raises(EnvironmentProblem) as refused, \
                StateDir(tmp_path).lock("nftables"):
            pass
        assert "another cefw run" in refused.value.problem
        assert f"pid {holder.pid}" in refused.value.problem
    finally:
        holder.kill()
        holder.wait()
    with StateDir(tmp_path).lock("nftables"):  # released when the holder died
        pass
