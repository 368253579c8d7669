"""The guard rails of `cefw add`, shared by every backend (apply/operations.converge):
a change that would delete most of the group, or delete rules while the plan finds no CE
component, or let more hosts connect, is refused (exit 2, nothing written) unless the
command line asks for it; `remove` and `restore` are explicit and pass."""

from __future__ import annotations

from pathlib import Path

import pytest

from cefw.addresses import widened
from cefw.apply.operations import Guard, converge
from cefw.apply.state import StateDir
from cefw.errors import Refused
from cefw.model import ANY, GROUP, Rule
from cefw.platforms.windows.backend import WindowsBackend
from winfw_model import FwPolicy

CE = r"C:\Program Files (x86)\Geomant\Contact Expert"
SERVERS = ("198.18.1.10", "198.18.1.11")
CLIENTS = ("198.19.0.0/16",)


def rule(component: str, port: int, remote: tuple[str, ...] = SERVERS,
         profiles: tuple[str, ...] = ("domain", "private")) -> Rule:
    return Rule(name=f"CE-{component}-TCP", display_name=f"{GROUP} - {component}",
                protocol="TCP", local_ports=((port, port),),
                program=rf"{CE}\Servers\{component}\{component}.exe",
                remote_addresses=remote, profiles=profiles, components=(component,))


PLAN = [rule(f"Server{i}", 9900 + i) for i in range(6)]
FOUND = Guard("6 CE component(s) in D:\\CE", 6)
NOTHING = Guard("no CE component in D:\\CE\\Services", 0)


@pytest.fixture
def policy() -> FwPolicy:
    return FwPolicy()


@pytest.fixture
def state(tmp_path: Path) -> StateDir:
    return StateDir(tmp_path / "state")


def backend(policy: FwPolicy) -> WindowsBackend:
    return WindowsBackend(policy, policy.new_rule, is_elevated=lambda: True)


def held(policy: FwPolicy) -> list[dict]:
    return sorted((dict(v) for v in policy.group_values()), key=lambda v: v["Name"])


def installed(policy: FwPolicy, state: StateDir, rules: list[Rule] = PLAN) -> list[dict]:
    assert converge(backend(policy), rules, state, dry_run=False, guard=FOUND).applied
    return held(policy)


# -- removals --------------------------------------------------------------------------

def test_a_plan_that_finds_nothing_may_not_empty_the_group(policy, state) -> None:  # type: ignore[no-untyped-def]
    before = installed(policy, state)
    with pytest.raises(Refused) as refused:
        converge(backend(policy), [], state, dry_run=False, guard=NOTHING)
    message = refused.value.problem
    assert "no CE component in D:\\CE\\Services" in message  # what the plan found
    assert "delete 6 of the 6 rule(s) the group holds" in message  # what the group holds
    assert "CE-Server0-TCP" in message and "--allow-removals" in message
    assert held(policy) == before
    assert len(state.snapshots("windows")) == 1  # only the first add's: nothing new written


def test_deleting_more_than_half_is_refused_and_half_is_not(policy, state) -> None:  # type: ignore[no-untyped-def]
    installed(policy, state)
    with pytest.raises(Refused, match="delete 4 of the 6"):
        converge(backend(policy), PLAN[:2], state, dry_run=False, guard=FOUND)
    outcome = converge(backend(policy), PLAN[:3], state, dry_run=False, guard=FOUND)
    assert outcome.applied and outcome.changes.count("delete") == 3


def test_one_stale_rule_while_components_are_found_passes(policy, state) -> None:  # type: ignore[no-untyped-def]
    installed(policy, state)
    outcome = converge(backend(policy), PLAN[:5], state, dry_run=False, guard=FOUND)
    assert outcome.applied and [c.name for c in outcome.changes.removals] == ["CE-Server5-TCP"]


def test_a_single_stale_rule_with_nothing_found_is_refused(policy, state) -> None:  # type: ignore[no-untyped-def]
    installed(policy, state)
    with pytest.raises(Refused, match="no CE component"):
        converge(backend(policy), PLAN[:5], state, dry_run=False, guard=NOTHING)


def test_allow_removals_lets_it_through(policy, state) -> None:  # type: ignore[no-untyped-def]
    installed(policy, state)
    outcome = converge(backend(policy), [], state, dry_run=False,
                       guard=NOTHING._replace(allow_removals=True))
    assert outcome.applied and held(policy) == []


def test_remove_and_restore_pass_no_guard(policy, state) -> None:  # type: ignore[no-untyped-def]
    installed(policy, state)
    assert converge(backend(policy), [], state, dry_run=False, command="remove").applied
    assert held(policy) == []


def test_a_dry_run_says_it_would_be_refused_and_writes_nothing(policy, state) -> None:  # type: ignore[no-untyped-def]
    before = installed(policy, state)
    outcome = converge(backend(policy), [], state, dry_run=True, guard=NOTHING)
    assert "delete 6 of the 6" in outcome.refused
    assert outcome.to_json()["refused"] == outcome.refused
    assert held(policy) == before


# -- widening --------------------------------------------------------------------------

def test_forgetting_the_site_file_is_refused_naming_each_rule(policy, state) -> None:  # type: ignore[no-untyped-def]
    before = installed(policy, state)
    open_to_all = [r._replace(remote_addresses=(ANY,)) for r in PLAN]
    with pytest.raises(Refused) as refused:
        converge(backend(policy), open_to_all, state, dry_run=False, guard=FOUND)
    message = refused.value.problem
    assert "lets more hosts connect through 6 rule(s)" in message
    assert ("CE-Server3-TCP: remote_addresses 198.18.1.10,198.18.1.11 -> any "
            "(to any address)") in message
    assert "--site" in message and "--allow-widening" in message
    assert held(policy) == before


def test_allow_widening_lets_it_through_and_the_change_is_marked(policy, state) -> None:  # type: ignore[no-untyped-def]
    installed(policy, state)
    wider = [PLAN[0]._replace(remote_addresses=(*SERVERS, *CLIENTS)), *PLAN[1:]]
    outcome = converge(backend(policy), wider, state, dry_run=False,
                       guard=FOUND._replace(allow_widening=True))
    assert outcome.applied
    (change,) = outcome.changes.changes
    assert change.widens.endswith("(adds 198.19.0.0/16)")
    assert outcome.to_json()["changes"][0]["widens"] == change.widens  # type: ignore[index]


def test_a_profile_added_widens(policy, state) -> None:  # type: ignore[no-untyped-def]
    installed(policy, state)
    public = [PLAN[0]._replace(profiles=("domain", "private", "public")), *PLAN[1:]]
    with pytest.raises(Refused, match="profile public added"):
        converge(backend(policy), public, state, dry_run=False, guard=FOUND)


def test_narrowing_is_not_widening(policy, state) -> None:  # type: ignore[no-untyped-def]
    installed(policy, state, [r._replace(remote_addresses=(ANY,)) for r in PLAN])
    narrower = [PLAN[0]._replace(profiles=("domain",)), *PLAN[1:]]
    outcome = converge(backend(policy), narrower, state, dry_run=False, guard=FOUND)
    assert outcome.applied and not outcome.changes.widening


@pytest.mark.parametrize(("before", "after", "how"), [
    (("198.18.1.10",), (ANY,), "to any address"),
    ((ANY,), ("198.18.1.10",), ""),
    (("198.18.0.0/16",), ("198.18.1.10", "198.18.2.0/24"), ""),  # inside: narrower
    (("198.18.1.10",), ("198.18.1.10", "198.18.1.11"), "adds 198.18.1.11"),
    (("198.18.1.0/24",), ("198.18.0.0/16",), "adds 198.18.0.0/16"),  # a superset
    (("198.18.1.10",), ("2001:db8::1",), "adds 2001:db8::1"),  # not a subset either
    (("LocalSubnet",), ("198.18.1.10",), "adds 198.18.1.10"),  # cannot be proven inside
])
def test_widened(before, after, how) -> None:  # type: ignore[no-untyped-def]
    assert widened(before, after) == how


# -- no bundled example changes this machine's firewall -------------------------------------

def _documented_commands() -> list[str]:
    import re

    from cefw import cli

    root = Path(__file__).resolve().parents[1]
    lines = [line for block in re.findall(r"```sh\n(.*?)```",
                                          (root / "README.md").read_text("utf-8"), re.S)
             for line in block.splitlines()]
    lines += [e for c in cli.COMMANDS.values() for e in c.examples]
    lines += cli.build_parser().format_help().splitlines()
    return [line.split(" #", 1)[0] for line in lines if "cefw " in line]


def test_no_documented_command_changes_the_firewall_with_an_example() -> None:
    import re

    commands = _documented_commands()
    assert len(commands) > 20
    # Every `cefw add|remove|restore ...` up to the end of that shell command.
    changing = [m.group(0) for c in commands
                for m in re.finditer(r"cefw (?:add|remove|restore)\b[^|&;]*", c)]
    with_example = [c for c in changing if "--example" in c]
    assert with_example  # the check reads what it should
    assert [c for c in with_example if "--dry-run" not in c] == []


# -- widening is judged against what cefw last wrote -----------------------------------

def test_putting_back_a_hand_narrowed_rule_is_not_widening(policy, state) -> None:  # type: ignore[no-untyped-def]
    """Someone removed a server from a rule by hand: the next add puts it back as the
    last successful add wrote it, which lets in no more than cefw allowed."""
    installed(policy, state)
    narrowed = policy.Rules.Item("CE-Server0-TCP")
    narrowed.RemoteAddresses = SERVERS[0]
    outcome = converge(backend(policy), PLAN, state, dry_run=False, guard=FOUND)
    assert outcome.applied and [c.name for c in outcome.changes.changes] == ["CE-Server0-TCP"]
    assert outcome.changes.changes[0].widens  # still marked: it does let a host in again


def test_widening_beyond_what_cefw_last_wrote_is_still_refused(policy, state) -> None:  # type: ignore[no-untyped-def]
    installed(policy, state)
    narrowed = policy.Rules.Item("CE-Server0-TCP")
    narrowed.RemoteAddresses = SERVERS[0]
    wider = [rule("Server0", 9900, remote=(ANY,)), *PLAN[1:]]
    with pytest.raises(Refused, match="to any address"):
        converge(backend(policy), wider, state, dry_run=False, guard=FOUND)
