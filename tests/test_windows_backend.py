"""The Windows backend, reconciliation and the safety net, against a model of the Windows
Firewall COM API (winfw_model) holding 5,000 rules that are not cefw's: built-ins,
other programs' rules, and look-alikes named like cefw's rules in other groups."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from cefw.apply.operations import audit, converge
from cefw.apply.reconcile import CREATE, DELETE, DUPLICATE, EXTRA, MISSING, UPDATE, diff
from cefw.apply.state import StateDir, load_snapshot
from cefw.errors import ApplyFailed, CefwError, EnvironmentProblem, RollbackFailed
from cefw.model import ANY, GROUP, Rule
from cefw.platforms.windows import com as wincom
from cefw.platforms.windows.backend import WindowsBackend
from cefw.platforms.windows.values import (
    FIELDS,
    com_values,
    description_text,
    normalise,
    rule_from_com,
)
from winfw_model import (
    E_ACCESSDENIED,
    ComError,
    FwPolicy,
    add_foreign,
)

CE = r"C:\Program Files (x86)\Geomant\Contact Expert"
SERVERS = ("10.0.1.10", "10.0.1.11", "10.0.1.20")
CLIENTS = ("10.20.0.0/16",)


def ce_rule(component: str, protocol: str = "TCP", ports=((9905, 9905),),
            remote: tuple[str, ...] = SERVERS, program: str = "", suffix: str = "") -> Rule:
    name = f"CE-{component}-{protocol}{suffix}"
    shown = ",".join(f"{a}" if a == b else f"{a}-{b}" for a, b in ports) or "dynamic ports"
    display = f"{GROUP} - {component} ({protocol} {shown})"
    return Rule(name=name, display_name=display, protocol=protocol, local_ports=ports,
                program=program or rf"{CE}\Servers\{component}\{component}.exe",
                remote_addresses=remote, profiles=("domain", "private"),
                components=(component,))


def plan() -> list[Rule]:
    return [
        ce_rule("DialerServer"),
        ce_rule("NamingService", ports=((9999, 9999),), remote=(*SERVERS, *CLIENTS),
                program=rf"{CE}\Services\NamingService\NT_Naming_Service.exe"),
        ce_rule("UCMARecorderService", ports=((9100, 9100), (9971, 9971))),
        ce_rule("TelephonyRecorder.CMAPI", "UDP", ports=((40000, 40199),)),
        ce_rule("EmailServer", ports=(), suffix="-dynamic", remote=(*SERVERS, *CLIENTS)),
        ce_rule("WebService", ports=((8080, 8080),), remote=(ANY,),
                program=rf"{CE}\Tomcat\bin\tomcat8.exe"),
    ]


@pytest.fixture(scope="module")
def crowd() -> FwPolicy:
    """5,000 foreign rules, built once; every test works on a clone."""
    policy = FwPolicy()
    add_foreign(policy, 5000)
    return policy


@pytest.fixture
def policy(crowd: FwPolicy) -> FwPolicy:
    return crowd.clone()


@pytest.fixture
def state(tmp_path: Path) -> StateDir:
    return StateDir(tmp_path / "state")


def backend(policy: FwPolicy, elevated: bool = True, group: str = GROUP) -> WindowsBackend:
    return WindowsBackend(policy, policy.new_rule, is_elevated=lambda: elevated, group=group,
                          null_bstr=policy.null_bstr)


def names_in_group(policy: FwPolicy) -> list[str]:
    return sorted(v["Name"] for v in policy.group_values())


def group_rule(policy: FwPolicy, name: str):  # type: ignore[no-untyped-def]
    """The stored rule of cefw's group with that name (Rules.Item may find a look-alike)."""
    return next(r for r in policy.store.rules
                if r._values["Grouping"] == GROUP and r._values["Name"] == name)


def applied(policy: FwPolicy, rules: list[Rule], state: StateDir):  # type: ignore[no-untyped-def]
    outcome = converge(backend(policy), rules, state, dry_run=False)
    policy.reset_counters()
    return outcome


# -- the model behaves as Windows documents ----------------------------------------------

def test_model_new_rule_starts_disabled_with_any_protocol(policy: FwPolicy) -> None:
    rule = policy.new_rule()
    assert rule.Enabled is False and rule.Protocol == 256


def test_model_refuses_ports_before_protocol(policy: FwPolicy) -> None:
    rule = policy.new_rule()
    with pytest.raises(ComError):
        rule.LocalPorts = "9905"
    rule.Protocol = 6
    rule.LocalPorts = "9905"
    assert rule.LocalPorts == "9905"


def test_model_reads_prefixes_back_in_mask_notation(policy: FwPolicy) -> None:
    rule = policy.new_rule()
    rule.RemoteAddresses = "10.0.1.10,10.1.0.0/16,fe80::/64"
    # A single IPv4 host has the default mask 255.255.255.255 (put_RemoteAddresses).
    assert rule.RemoteAddresses == "10.0.1.10/255.255.255.255,10.1.0.0/255.255.0.0,fe80::/64"


def test_model_remove_by_name_takes_the_first_rule_of_that_name(policy: FwPolicy) -> None:
    mine = policy.seed(Name="CE-DialerServer-TCP", Grouping=GROUP)
    policy.Rules.Remove("CE-DialerServer-TCP")
    assert mine in policy.store.rules  # a look-alike of another group went instead


def test_model_add_keeps_the_built_object_detached(policy: FwPolicy) -> None:
    rule = policy.new_rule()
    rule.Name = "x"
    policy.Rules.Add(rule)
    rule.Name = "y"  # no effect on the store, no write
    assert policy.Rules.Item("x").Name == "x" and policy.counters()["writes"] == 1


# -- values: what is written reads back equal --------------------------------------------

@pytest.mark.parametrize("rule", plan(), ids=lambda r: r.name)
def test_a_written_rule_reads_back_as_its_normal_form(rule: Rule) -> None:
    policy = FwPolicy()
    obj = policy.new_rule()
    for prop, value in com_values(rule).items():
        if value is not None and not (prop == "LocalPorts" and value == "*"):
            setattr(obj, prop, value)
    policy.Rules.Add(obj)
    stored = policy.Rules.Item(rule.name)
    assert rule_from_com({p: getattr(stored, p) for p in com_values(rule)}) == normalise(
        rule)._replace(components=())


def test_normal_form_ignores_program_case_and_mask_notation() -> None:
    rule = ce_rule("DialerServer", remote=("10.1.0.0/16",))
    read = rule_from_com({**com_values(rule), "RemoteAddresses": "10.1.0.0/255.255.0.0",
                          "ApplicationName": rule.program.upper().replace("\\", "/")})
    assert not [f for f in FIELDS if getattr(read, f) != getattr(normalise(rule), f)]


def test_description_holds_display_name_and_the_managed_note() -> None:
    rule = ce_rule("DialerServer")._replace(display_name="a|b\nc")
    text = description_text(rule)
    assert text.startswith("a/b c. Managed by cefw") and "|" not in text


# -- add: converge the group to the plan ---------------------------------------------------

def test_first_add_creates_the_plan_in_one_enumeration(policy: FwPolicy,
                                                       state: StateDir) -> None:
    foreign_before, _ = policy.dump()
    outcome = converge(backend(policy), plan(), state, dry_run=False)
    assert outcome.applied and outcome.changes.count(CREATE) == len(plan())
    counters = policy.counters()
    assert counters["enumerations"] == 1
    assert counters["writes"] == 2 * len(plan())  # Add under a temporary name + rename
    assert names_in_group(policy) == sorted(r.name for r in plan())
    assert all(v["Enabled"] is True for v in policy.group_values())
    assert policy.dump()[0] == foreign_before


def test_second_add_writes_nothing(policy: FwPolicy, state: StateDir) -> None:
    applied(policy, plan(), state)
    outcome = converge(backend(policy), plan(), state, dry_run=False)
    assert not outcome.applied and not outcome.changes
    assert outcome.changes.unchanged == tuple(r.name for r in plan())
    assert policy.counters()["writes"] == 0 and policy.counters()["enumerations"] == 1


def test_dry_run_writes_nothing_and_shows_the_operations(policy: FwPolicy,
                                                         state: StateDir) -> None:
    applied(policy, plan()[1:], state)
    changed = [plan()[0], plan()[1]._replace(local_ports=((9998, 9998),))]
    before = policy.dump()
    outcome = converge(backend(policy, elevated=False), changed, state, dry_run=True)
    assert policy.counters()["writes"] == 0 and policy.dump() == before
    assert outcome.dry_run and not outcome.applied
    assert [c.action for c in outcome.changes.changes] == [CREATE, UPDATE] + [DELETE] * 4
    assert "create 'CE-DialerServer-TCP': Rules.Add" in outcome.preview
    assert "LocalPorts '9999' -> '9998'" in outcome.preview
    assert "rename that exact rule to a temporary name" in outcome.preview


def test_changed_port_updates_one_rule_in_place(policy: FwPolicy, state: StateDir) -> None:
    applied(policy, plan(), state)
    target = group_rule(policy, "CE-DialerServer-TCP")
    count = len(policy.store.rules)
    new_plan = [ce_rule("DialerServer", ports=((9915, 9915),)), *plan()[1:]]
    outcome = converge(backend(policy), new_plan, state, dry_run=False)
    assert [(c.action, c.name) for c in outcome.changes.changes] == [
        (UPDATE, "CE-DialerServer-TCP")]
    assert "local ports firewall: 9905 -> plan: 9915" in outcome.changes.changes[0].detail
    assert len(policy.store.rules) == count  # updated, not added
    assert target._values["LocalPorts"] == "9915" and target in policy.store.rules
    assert policy.counters()["writes"] == 2  # LocalPorts and Description, nothing else


def test_hand_edited_rule_is_repaired_property_by_property(policy: FwPolicy,
                                                           state: StateDir) -> None:
    applied(policy, plan(), state)
    target = group_rule(policy, "CE-NamingService-TCP")
    target.Enabled, target.Action, target.Profiles = False, 0, 4
    target.RemoteAddresses = "*"
    policy.reset_counters()
    converge(backend(policy), plan(), state, dry_run=False)
    assert policy.counters()["writes"] == 4
    assert (target.Enabled, target.Action, target.Profiles) == (True, 1, 3)
    assert target.RemoteAddresses == ("10.0.1.10/255.255.255.255,10.0.1.11/255.255.255.255,"
                                      "10.0.1.20/255.255.255.255,10.20.0.0/255.255.0.0")


def test_protocol_change_replaces_the_rule(policy: FwPolicy, state: StateDir) -> None:
    policy.seed(Name="CE-DialerServer-TCP", Grouping=GROUP, Protocol=17, LocalPorts="9905",
                Enabled=True)
    outcome = converge(backend(policy), plan()[:1], state, dry_run=False)
    assert [c.action for c in outcome.changes.changes] == [UPDATE]
    [values] = policy.group_values()
    assert (values["Name"], values["Protocol"], values["LocalPorts"]) == (
        "CE-DialerServer-TCP", 6, "9905")


def test_duplicates_extras_and_leftovers_are_deleted_exactly(policy: FwPolicy,
                                                             state: StateDir) -> None:
    applied(policy, plan(), state)
    keep = group_rule(policy, "CE-DialerServer-TCP")
    # A look-alike of another group comes first in enumeration order, so Remove(name)
    # would take it; then a stale copy, a rule no longer planned, a half-made leftover.
    first = policy.store.rules[0]
    assert (first._values["Name"], first._values["Grouping"]) == ("CE-DialerServer-TCP", None)
    policy.seed(Name="CE-DialerServer-TCP", Grouping=GROUP, Protocol=6, LocalPorts="9905",
                Description="old copy", Enabled=True)
    policy.seed(Name="CE-ChatServer-TCP-dynamic", Grouping=GROUP, Protocol=6, Enabled=True)
    policy.seed(Name="cefw-pending-0123456789abcdef", Grouping=GROUP, Protocol=6)
    foreign_before = policy.dump()[0]
    outcome = converge(backend(policy), plan(), state, dry_run=False)
    drift = sorted((c.drift, c.name) for c in outcome.changes.changes)
    assert drift == [(DUPLICATE, "CE-DialerServer-TCP"), (EXTRA, "CE-ChatServer-TCP-dynamic"),
                     (EXTRA, "cefw-pending-0123456789abcdef")]
    assert names_in_group(policy) == sorted(r.name for r in plan())
    assert policy.dump()[0] == foreign_before
    assert policy.store.rules[0] is first and keep in policy.store.rules


def test_remove_deletes_the_group_and_nothing_else(policy: FwPolicy, state: StateDir) -> None:
    foreign_before = policy.dump()[0]
    applied(policy, plan(), state)
    outcome = converge(backend(policy), [], state, dry_run=False)
    assert outcome.changes.count(DELETE) == len(plan())
    assert policy.group_values() == []
    assert policy.dump()[0] == foreign_before
    lookalikes = [r for r in policy.store.rules if r._values["Name"] == "CE-DialerServer-TCP"]
    assert len(lookalikes) >= 2  # other groups' rules of that name all survived


def test_foreign_rules_unchanged_by_add_update_remove(policy: FwPolicy,
                                                      state: StateDir) -> None:
    foreign_before = policy.dump()[0]
    for rules in (plan(), [ce_rule("DialerServer", ports=((9915, 9915),))], []):
        converge(backend(policy), rules, state, dry_run=False)
        assert policy.dump()[0] == foreign_before


def test_empty_group_filter_is_refused(policy: FwPolicy, state: StateDir) -> None:
    with pytest.raises(CefwError, match="empty group filter"):
        converge(backend(policy, group=""), [], state, dry_run=False)
    assert policy.counters()["writes"] == 0


# -- safety: all or nothing, lock, elevation, snapshot ------------------------------------

def messy(policy: FwPolicy, icmp: bool = True) -> None:
    """A group needing every kind of change, including a rule to delete that holds
    properties cefw does not manage (they must come back exactly on rollback)."""
    policy.seed(Name="CE-NamingService-TCP", Grouping=GROUP, Protocol=6, LocalPorts="9999",
                RemoteAddresses="*", Enabled=True, Profiles=3,
                ApplicationName=rf"{CE}\Services\NamingService\NT_Naming_Service.exe")
    policy.seed(Name="CE-UCMARecorderService-TCP", Grouping=GROUP, Protocol=17,
                LocalPorts="9100", Enabled=True)
    policy.seed(Name="CE-Old-TCP", Grouping=GROUP, Protocol=6, LocalPorts="9000,9001",
                RemotePorts="5000", LocalAddresses="10.0.0.5", EdgeTraversal=True,
                InterfaceTypes="Lan", Enabled=False, Description="hand made",
                ServiceName="svc", Interfaces=("Ethernet 2",))
    if icmp:  # not a Rule cefw can express: only the in-process rollback restores it
        policy.seed(Name="CE-Old-TCP", Grouping=GROUP, Protocol=1, IcmpTypesAndCodes="8:*")


def test_failure_at_every_write_leaves_the_store_exactly_as_before(
        policy: FwPolicy, state: StateDir) -> None:
    messy(policy)
    trial = policy.clone()
    converge(backend(trial), plan(), state, dry_run=False)
    writes = trial.counters()["writes"]
    # 4 creates x 2 (Add, rename) + 1 update x 2 properties + 1 replace (2 + 2)
    # + 2 deletes x 2 (rename, Remove)
    assert writes == 18
    before = policy.dump()
    for position in range(1, writes + 1):
        store = policy.clone()
        store.fail_writes(position)
        with pytest.raises(ApplyFailed) as failed:
            converge(backend(store), plan(), state, dry_run=False)
        assert failed.value.exit_status == 2
        assert "were undone" in failed.value.problem
        assert store.dump() == before, f"store changed after a failure at write {position}"


def test_snapshot_is_saved_before_writing(policy: FwPolicy, state: StateDir) -> None:
    messy(policy)
    before = sorted(r.rule for r in backend(policy).read())
    outcome = converge(backend(policy), plan(), state, dry_run=False)
    assert outcome.snapshot is not None and outcome.snapshot.is_file()
    assert sorted(load_snapshot(outcome.snapshot)) == before
    again = converge(backend(policy), plan(), state, dry_run=False)
    assert again.snapshot is None  # nothing to change, nothing saved


def test_failed_rollback_exits_3_and_names_the_snapshot(policy: FwPolicy,
                                                         state: StateDir) -> None:
    messy(policy, icmp=False)
    trial = policy.clone()
    converge(backend(trial), plan(), StateDir(state.path / "trial"), dry_run=False)
    last = trial.counters()["writes"]
    policy.fail_writes(last, last + 1)  # the last write fails, then its own undo
    with pytest.raises(RollbackFailed) as failed:
        converge(backend(policy), plan(), state, dry_run=False)
    assert failed.value.exit_status == 3
    snapshot = state.latest_snapshot("windows")
    assert snapshot is not None and str(snapshot) in failed.value.fix
    # The way back: converge to the snapshot (cefw restore).
    policy.fail_writes()
    converge(backend(policy), load_snapshot(snapshot), state, dry_run=False)
    assert sorted(r.rule for r in backend(policy).read()) == sorted(load_snapshot(snapshot))


def test_a_second_run_at_the_same_time_is_refused(policy: FwPolicy, state: StateDir) -> None:
    holder = subprocess.Popen([sys.executable, "-c", textwrap.dedent(f"""
        import sys, time
        from pathlib import Path
        from cefw.apply.state import StateDir
        with StateDir(Path({str(state.path)!r})).lock("windows"):
            print("locked", flush=True)
            sys.stdin.readline()
        """)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
        with pytest.raises(EnvironmentProblem, match="another cefw run") as refused:
            converge(backend(policy), plan(), state, dry_run=False)
        assert refused.value.exit_status == 2
        assert policy.counters()["writes"] == 0
    finally:
        holder.communicate("\n", timeout=10)
    converge(backend(policy), plan(), state, dry_run=False)  # free again afterwards
    assert names_in_group(policy) == sorted(r.name for r in plan())


def test_not_elevated_is_refused_before_any_write(policy: FwPolicy, state: StateDir) -> None:
    with pytest.raises(EnvironmentProblem, match="administrator") as refused:
        converge(backend(policy, elevated=False), plan(), state, dry_run=False)
    assert refused.value.exit_status == 2 and "Run as administrator" in refused.value.fix
    assert policy.counters()["writes"] == 0
    assert not state.path.exists()  # not even a lock file


def test_access_denied_on_write_is_explained(policy: FwPolicy, state: StateDir) -> None:
    policy.store.deny_writes = True
    with pytest.raises(ApplyFailed, match="access denied"):
        converge(backend(policy), plan(), state, dry_run=False)
    assert policy.group_values() == []


def test_access_denied_on_read_says_elevate(state: StateDir) -> None:
    class Denied(FwPolicy):
        @property
        def Rules(self):  # type: ignore[override]
            raise ComError(E_ACCESSDENIED, "Access is denied.")

    with pytest.raises(EnvironmentProblem, match="not running elevated"):
        converge(backend(Denied()), plan(), state, dry_run=True)


def test_rules_windows_cannot_hold_are_left_out_with_a_finding(policy: FwPolicy,
                                                               state: StateDir) -> None:
    odd = [plan()[0]._replace(name="all"), plan()[0]._replace(name="CE-a|b")]
    outcome = converge(backend(policy), [*odd, plan()[1]], state, dry_run=False)
    assert [s.rule for s in outcome.skipped] == odd
    assert [s.finding().code for s in outcome.skipped] == ["backend-cannot-enforce"] * 2
    assert names_in_group(policy) == ["CE-NamingService-TCP"]


# -- audit ---------------------------------------------------------------------------------

def test_audit_in_sync(policy: FwPolicy, state: StateDir) -> None:
    applied(policy, plan(), state)
    report = audit(backend(policy, elevated=False), plan(), [])
    assert report.in_sync and report.exit_status == 0 and report.findings == ()
    assert policy.counters()["writes"] == 0


def test_audit_reports_every_kind_of_drift(policy: FwPolicy, state: StateDir) -> None:
    applied(policy, plan()[1:], state)
    group_rule(policy, "CE-NamingService-TCP").LocalPorts = "1234"
    policy.seed(Name="CE-WebService-TCP", Grouping=GROUP, Protocol=6, LocalPorts="8080")
    policy.seed(Name="CE-Gone-TCP", Grouping=GROUP, Protocol=6)
    report = audit(backend(policy), plan(), [])
    kinds = sorted((c.drift, c.name) for c in report.changes.changes)
    assert kinds == [("changed", "CE-NamingService-TCP"), (DUPLICATE, "CE-WebService-TCP"),
                     (EXTRA, "CE-Gone-TCP"), (MISSING, "CE-DialerServer-TCP")]
    assert report.exit_status == 1
    data = report.to_json()
    assert data["in_sync"] is False and {d["kind"] for d in data["drift"]} == {
        "changed", "duplicate", "extra", "missing"}
    json.dumps(data)


def test_audit_reports_the_firewalls_own_state(policy: FwPolicy, state: StateDir) -> None:
    applied(policy, plan(), state)
    policy.firewall_enabled[2] = False  # private: used by the rules
    policy.firewall_enabled[4] = False  # public: not used, not reported
    policy.block_all_inbound[1] = True
    policy.LocalPolicyModifyState = 1
    report = audit(backend(policy), plan(), [])
    codes = sorted(f.code for f in report.findings)
    assert codes == ["firewall-off", "gpo-override", "inbound-blocked"]
    assert "private" in next(f.message for f in report.findings if f.code == "firewall-off")
    assert report.in_sync and report.exit_status == 1  # high-severity findings


def test_audit_gpo_override_alone_is_not_high(policy: FwPolicy, state: StateDir) -> None:
    applied(policy, plan(), state)
    policy.LocalPolicyModifyState = 1
    report = audit(backend(policy), plan(), [])
    assert [f.code for f in report.findings] == ["gpo-override"] and report.exit_status == 0


# -- the reconciler alone --------------------------------------------------------------------

def test_diff_puts_creates_and_updates_before_deletes(policy: FwPolicy) -> None:
    messy(policy)
    current = backend(policy).read()
    changes = diff(plan(), current, FIELDS, normalise)
    actions = [c.action for c in changes.changes]
    assert actions == sorted(actions, key=[CREATE, UPDATE, DELETE].index)
    assert DELETE in actions and CREATE in actions and UPDATE in actions


# -- the thin adapter ------------------------------------------------------------------------

def test_wincom_explains_access_denied_and_other_failures() -> None:
    denied = wincom.explain(ComError(E_ACCESSDENIED, "Access is denied."), "reading")
    assert isinstance(denied, EnvironmentProblem) and "elevated" in denied.problem
    wrapped = ComError(wincom.DISP_E_EXCEPTION, "Exception occurred.")
    wrapped.excepinfo = (0, "FirewallAPI", "The parameter is incorrect.", None, 0,
                         wincom.E_INVALIDARG)
    assert wincom.hresult(wrapped) == wincom.E_INVALIDARG
    assert wincom.describe(wrapped) == "The parameter is incorrect. (HRESULT 0x80070057)"
    assert wincom.describe(ValueError("plain")) == "plain"


@pytest.mark.skipif(sys.platform == "win32", reason="pywin32 is there on Windows")
def test_wincom_without_windows_says_what_to_do() -> None:
    with pytest.raises(EnvironmentProblem, match="pywin32") as refused:
        wincom.open_policy()
    assert "--backend nftables" in refused.value.fix
    assert wincom.is_elevated() is False
    with pytest.raises(EnvironmentProblem):
        WindowsBackend().check_ready(write=False)


def test_latest_snapshot_is_the_newest_even_within_one_second(state: StateDir) -> None:
    paths = [state.save_snapshot("windows", plan()[:n]) for n in range(1, 30)]
    assert state.latest_snapshot("windows") == paths[-1]


# -- through the command line ------------------------------------------------------------

@pytest.fixture
def cli(policy: FwPolicy, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    """`cefw ...` on a machine whose Windows Firewall is the model: the thin adapter's
    three entry points are replaced, nothing else."""
    from cefw.cli import main

    elevated = {"value": True}
    monkeypatch.setattr(wincom, "open_policy", lambda: policy)
    monkeypatch.setattr(wincom, "new_rule", policy.new_rule)
    monkeypatch.setattr(wincom, "null_bstr", policy.null_bstr)
    monkeypatch.setattr(wincom, "is_elevated", lambda: elevated["value"])
    state_dir = str(tmp_path / "state")

    def run(*args: str, install_dir: Path | None = None) -> tuple[int, str]:
        import io

        out = io.StringIO()
        extra = ["--install-dir", str(install_dir)] if install_dir else []
        status = main([*args, "--example", "core-host", *extra, "--backend", "windows",
                       "--state-dir", state_dir], out)
        return status, out.getvalue()

    run.elevated = elevated  # type: ignore[attr-defined]
    return run


def test_cli_add_twice_audit_remove(cli, policy: FwPolicy,  # type: ignore[no-untyped-def]
                                    capsys: pytest.CaptureFixture[str]) -> None:
    foreign_before = policy.dump()[0]
    status, out = cli("add")
    assert status == 0 and "Changed (windows): 27 to create" in out
    assert "restart the entire application server" in capsys.readouterr().err
    created = policy.counters()
    # Two enumerations: the host report before the change (rules outside the group,
    # guard rail 6), then the group's rules read again under the lock.
    assert created["enumerations"] == 2 and created["writes"] == 54
    policy.reset_counters()

    status, out = cli("add")
    assert status == 0 and "In sync (windows): nothing to change (27 rule(s)" in out
    assert policy.counters()["writes"] == 0
    assert "restart" not in capsys.readouterr().err  # nothing changed, no restart

    status, out = cli("audit", "--format", "json")
    report = json.loads(out)
    assert report["in_sync"] is True and report["drift"] == []
    assert status == report["exit_status"]  # the plan's own findings decide the rest

    status, out = cli("remove")
    assert status == 0 and "27 to delete" in out
    assert policy.group_values() == [] and policy.dump()[0] == foreign_before


def test_cli_dry_run_writes_nothing(cli, policy: FwPolicy) -> None:  # type: ignore[no-untyped-def]
    status, out = cli("add", "--dry-run")
    assert status == 0 and "Dry run (windows): nothing was written." in out
    assert "Rules.Add" in out and policy.counters()["writes"] == 0
    assert policy.group_values() == []


def test_cli_changed_port_updates_one_rule(cli, policy: FwPolicy,  # type: ignore[no-untyped-def]
                                           tmp_path: Path) -> None:
    import shutil

    from cefw.examples import load_example

    copy = tmp_path / "install"
    shutil.copytree(load_example("core-host").install_dir, copy)
    cli("add", install_dir=copy)
    count = len(policy.store.rules)
    config = copy / "Services" / "ServerAgent" / "ServerAgent.Config.xml"
    config.write_text(config.read_text(encoding="utf-8").replace('Port="9905"', 'Port="9915"'),
                      encoding="utf-8")
    policy.reset_counters()
    status, out = cli("add", "--format", "json", install_dir=copy)
    outcome = json.loads(out)
    assert status == 0 and outcome["counts"] == {"create": 0, "update": 1, "delete": 0,
                                                 "unchanged": 26}
    assert outcome["changes"][0]["name"] == "CE-DialerServer-TCP"
    assert len(policy.store.rules) == count
    assert group_rule(policy, "CE-DialerServer-TCP").LocalPorts == "9915"


def test_cli_audit_drift_exits_1(cli, policy: FwPolicy) -> None:  # type: ignore[no-untyped-def]
    cli("add")
    group_rule(policy, "CE-SDServer-TCP").LocalPorts = "1"
    status, out = cli("audit")
    assert status == 1 and "changed   CE-SDServer-TCP: local ports firewall: 1 -> plan: 9904" in out


def test_cli_not_elevated_exits_2_and_changes_nothing(cli, policy: FwPolicy,  # type: ignore[no-untyped-def]
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    cli.elevated["value"] = False
    status, _ = cli("add")
    err = capsys.readouterr().err
    assert status == 2 and "not running elevated" in err and "Run as administrator" in err
    assert "Traceback" not in err and policy.counters()["writes"] == 0
    status, _ = cli("add", "--dry-run")  # reading needs no elevation
    assert status == 0


def test_cli_concurrent_run_is_refused(cli, policy: FwPolicy, tmp_path: Path,  # type: ignore[no-untyped-def]
                                       capsys: pytest.CaptureFixture[str]) -> None:
    with StateDir(tmp_path / "state").lock("windows"):
        status, _ = cli("add")
    assert status == 2 and "another cefw run" in capsys.readouterr().err
    assert policy.counters()["writes"] == 0


def test_cli_failed_rollback_exits_3(cli, policy: FwPolicy,  # type: ignore[no-untyped-def]
                                     capsys: pytest.CaptureFixture[str]) -> None:
    policy.fail_writes(3, 4)  # the second create's Add fails, then undoing the first
    status, _ = cli("add")
    err = capsys.readouterr().err
    assert status == 3 and "cefw restore --snapshot" in err


def test_cli_no_restart_note_on_an_agent_pc(policy: FwPolicy, tmp_path: Path,
                                           monkeypatch: pytest.MonkeyPatch,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    """The vendor's restart note is for CE application servers, not agent workstations."""
    import io

    from cefw.cli import main

    monkeypatch.setattr(wincom, "open_policy", lambda: policy)
    monkeypatch.setattr(wincom, "new_rule", policy.new_rule)
    monkeypatch.setattr(wincom, "null_bstr", policy.null_bstr)
    monkeypatch.setattr(wincom, "is_elevated", lambda: True)
    out = io.StringIO()
    status = main(["add", "--example", "agent-pc", "--backend", "windows",
                   "--state-dir", str(tmp_path / "state")], out)
    assert status == 0 and "Changed (windows): 1 to create" in out.getvalue()
    assert [r["Name"] for r in policy.group_values()] == ["CE-AgentClientApp-TCP"]
    assert "restart" not in capsys.readouterr().err
