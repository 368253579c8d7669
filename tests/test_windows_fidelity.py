"""Issue 8, Windows fidelity: documented behaviour of the Windows Firewall COM API that the
model now shows, and what cefw does about it. The model's source for each behaviour is in
tests/winfw_model.py; the tests here drive cefw's Windows backend against it."""

from __future__ import annotations

import sys
import types
from pathlib import Path

import pytest

from cefw.apply.operations import audit, converge
from cefw.apply.state import StateDir, load_snapshot
from cefw.errors import ApplyFailed
from cefw.model import GROUP
from cefw.platforms.windows import com as wincom
from cefw.platforms.windows.backend import WindowsBackend
from test_windows_backend import CE, ce_rule, group_rule, plan
from winfw_model import (
    DISP_E_TYPEMISMATCH,
    E_INVALIDARG,
    NULL_BSTR,
    ComError,
    FwPolicy,
    add_foreign,
)


@pytest.fixture(scope="module")
def crowd() -> FwPolicy:
    policy = FwPolicy()
    add_foreign(policy, 2000)
    return policy


@pytest.fixture(params=["late", "early"])
def policy(request: pytest.FixtureRequest, crowd: FwPolicy) -> FwPolicy:
    """Every test runs under both bindings: late (IDispatch, any case) and early (a makepy
    wrapper: the type library's exact names)."""
    return crowd.clone(early=request.param == "early")


@pytest.fixture
def state(tmp_path: Path) -> StateDir:
    return StateDir(tmp_path / "state")


def backend(policy: FwPolicy) -> WindowsBackend:
    return WindowsBackend(policy, policy.new_rule, is_elevated=lambda: True,
                          null_bstr=policy.null_bstr)


def add(policy: FwPolicy, rules, state: StateDir):  # type: ignore[no-untyped-def]
    outcome = converge(backend(policy), rules, state, dry_run=False)
    policy.reset_counters()
    return outcome


# -- 9. the model follows the documentation ------------------------------------------------

def test_model_star_only_alone_in_remote_addresses(policy: FwPolicy) -> None:
    rule = policy.new_rule()
    rule.RemoteAddresses = "*"
    with pytest.raises(ComError) as refused:
        rule.RemoteAddresses = "10.0.1.10,*"
    assert refused.value.hresult == E_INVALIDARG


def test_model_single_ipv4_host_reads_back_with_its_default_mask(policy: FwPolicy) -> None:
    rule = policy.new_rule()
    rule.RemoteAddresses = "198.18.0.10,2001:db8::10"
    assert rule.RemoteAddresses == "198.18.0.10/255.255.255.255,2001:db8::10"


@pytest.mark.parametrize("address", ["127.0.0.1", "::1", "224.0.0.251", "255.255.255.255",
                                     "127.0.0.1-127.0.0.9"])
def test_model_refuses_loopback_multicast_broadcast(policy: FwPolicy, address: str) -> None:
    rule = policy.new_rule()
    with pytest.raises(ComError) as refused:
        rule.RemoteAddresses = address
    assert refused.value.hresult == E_INVALIDARG


def test_model_refuses_vt_null_for_strings_and_takes_a_null_bstr(policy: FwPolicy) -> None:
    rule = policy.new_rule()
    rule.ApplicationName = r"C:\x.exe"
    with pytest.raises(ComError) as refused:
        rule.ApplicationName = None
    assert refused.value.hresult == DISP_E_TYPEMISMATCH
    rule.ApplicationName = NULL_BSTR
    assert rule.ApplicationName is None
    rule.Interfaces = None  # a VARIANT property takes VT_NULL


def test_model_add_of_an_existing_rule_id_overwrites_it(policy: FwPolicy) -> None:
    rule = policy.new_rule()
    rule.Name, rule.Description = "cefw-model-id", "first"
    policy.Rules.Add(rule)
    count = policy.Rules.Count
    rule.Description = "second"  # the detached object keeps its rule id
    policy.Rules.Add(rule)
    assert policy.Rules.Count == count
    assert policy.Rules.Item("cefw-model-id").Description == "second"


def test_model_binding_modes_and_the_typelib_spelling(policy: FwPolicy) -> None:
    rule = policy.new_rule()
    assert rule.serviceName is None  # the type library's spelling: both bindings
    if policy.early:
        with pytest.raises(AttributeError):
            rule.ServiceName  # noqa: B018
        with pytest.raises(AttributeError):
            rule.servicename = "x"
    else:
        assert rule.ServiceName is None and rule.SERVICENAME is None


# -- 2. exact names under early binding; late binding forced -------------------------------

def test_add_audit_remove_work_under_both_bindings(policy: FwPolicy, state: StateDir) -> None:
    add(policy, plan(), state)
    assert sorted(v["Name"] for v in policy.group_values()) == sorted(r.name for r in plan())
    # a delete reads every property (serviceName included) before it removes the rule
    outcome = add(policy, plan()[1:], state)
    assert outcome.changes.count("delete") == 1
    assert audit(backend(policy), plan()[1:], []).in_sync
    add(policy, [], state)
    assert policy.group_values() == []


def test_the_com_adapter_forces_late_binding(monkeypatch: pytest.MonkeyPatch) -> None:
    """com.open_policy and com.new_rule use win32com.client.dynamic.Dispatch, never
    win32com.client.Dispatch (which would pick up a makepy wrapper from gencache)."""
    calls: list[tuple[str, str]] = []
    client = types.ModuleType("win32com.client")
    dynamic = types.ModuleType("win32com.client.dynamic")
    client.Dispatch = lambda name: calls.append(("early-capable", name))  # type: ignore[attr-defined]
    dynamic.Dispatch = lambda name: calls.append(("dynamic", name))  # type: ignore[attr-defined]
    client.dynamic = dynamic  # type: ignore[attr-defined]
    client.VARIANT = lambda vt, value: ("VARIANT", vt, value)  # type: ignore[attr-defined]
    pythoncom = types.ModuleType("pythoncom")
    pythoncom.VT_BSTR = 8  # type: ignore[attr-defined]
    package = types.ModuleType("win32com")
    package.client = client  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "win32com", package)
    monkeypatch.setitem(sys.modules, "win32com.client", client)
    monkeypatch.setitem(sys.modules, "win32com.client.dynamic", dynamic)
    monkeypatch.setitem(sys.modules, "pythoncom", pythoncom)
    wincom.open_policy()
    wincom.new_rule()
    assert calls == [("dynamic", "HNetCfg.FwPolicy2"), ("dynamic", "HNetCfg.FWRule")]
    assert wincom.null_bstr() == ("VARIANT", 8, None)  # VT_BSTR, a null BSTR


# -- 4. Remove of a missing name does nothing: cefw checks the rule is gone ---------------

def test_a_remove_that_removes_nothing_is_not_counted_as_deleted(policy: FwPolicy,
                                                                  state: StateDir) -> None:
    add(policy, plan(), state)
    before = policy.dump()
    policy.store.quiet_removes = 1  # Rules.Remove succeeds and leaves the rule in place
    with pytest.raises(ApplyFailed) as failed:
        converge(backend(policy), plan()[1:], state, dry_run=False)
    assert "still there" in failed.value.problem and "were undone" in failed.value.problem
    assert policy.dump() == before  # renamed back: the group is as it was
    policy.reset_counters()
    add(policy, plan()[1:], state)  # a normal run then deletes it, one Item lookup more
    assert "CE-DialerServer-TCP" not in [v["Name"] for v in policy.group_values()]


# -- 5. clearing a string passes a null BSTR ------------------------------------------------

def test_clearing_a_program_writes_a_null_bstr(policy: FwPolicy, state: StateDir) -> None:
    add(policy, plan(), state)
    anyprogram = plan()[0]._replace(program="")
    add(policy, [anyprogram, *plan()[1:]], state)
    assert group_rule(policy, anyprogram.name).ApplicationName is None
    add(policy, plan(), state)  # and back, with the undo path writing strings too
    assert group_rule(policy, anyprogram.name).ApplicationName == plan()[0].program


def test_rollback_restores_a_cleared_description(policy: FwPolicy, state: StateDir) -> None:
    """Undoing an update puts back a Description that was not set (None): a null BSTR."""
    policy.seed(Name="CE-DialerServer-TCP", Grouping=GROUP, Protocol=6, LocalPorts="1",
                Enabled=True, Profiles=3, Description=None,
                ApplicationName=rf"{CE}\Servers\DialerServer\DialerServer.exe")
    before = policy.dump()
    policy.fail_writes(3)  # the third property write of the update fails
    with pytest.raises(ApplyFailed):
        converge(backend(policy), plan()[:1], state, dry_run=False)
    assert policy.dump() == before


# -- 6. drift in properties cefw does not set ----------------------------------------------

HAND_EDITS = dict(LocalAddresses="198.18.5.5", RemotePorts="1-65535", InterfaceTypes="Wireless",
                  Interfaces=("Ethernet 2",), EdgeTraversal=True, EdgeTraversalOptions=1,
                  serviceName="Spooler", LocalUserOwner="S-1-5-21-1",
                  LocalUserAuthorizedList="O:LSD:(A;;CC;;;S-1-5-21-2)",
                  RemoteUserAuthorizedList="O:LSD:(A;;CC;;;S-1-5-21-3)",
                  RemoteMachineAuthorizedList="O:LSD:(A;;CC;;;S-1-5-21-4)", SecureFlags=1)


def hand_edit(policy: FwPolicy, name: str) -> None:
    rule = group_rule(policy, name)
    for prop, value in HAND_EDITS.items():
        setattr(rule, prop, value)


def test_audit_reports_and_add_resets_unplanned_properties(policy: FwPolicy,
                                                          state: StateDir) -> None:
    add(policy, plan(), state)
    hand_edit(policy, "CE-DialerServer-TCP")
    report = audit(backend(policy), plan(), [])
    [change] = report.changes.changes
    assert change.name == "CE-DialerServer-TCP" and change.drift == "changed"
    assert "EdgeTraversal=True" in change.detail and "-> plan: cefw's defaults" in change.detail
    assert "LocalAddresses='198.18.5.5/255.255.255.255'" in change.detail
    assert report.exit_status == 1

    outcome = add(policy, plan(), state)
    assert outcome.changes.count("update") == 1
    values = group_rule(policy, "CE-DialerServer-TCP").values()
    assert (values["LocalAddresses"], values["RemotePorts"], values["InterfaceTypes"]) == (
        "*", "*", "All")
    assert values["EdgeTraversal"] is False and values["EdgeTraversalOptions"] == 0
    assert values["Interfaces"] is None and values["serviceName"] is None
    assert values["SecureFlags"] == 0 and values["LocalUserOwner"] is None
    assert audit(backend(policy), plan(), []).in_sync

    # restore: the snapshot of that add holds the hand edits and puts them back
    rules = load_snapshot(outcome.snapshot)
    edited = next(r for r in rules if r.name == "CE-DialerServer-TCP")
    assert dict(edited.other_settings)["EdgeTraversal"] is True
    add(policy, rules, state)
    values = group_rule(policy, "CE-DialerServer-TCP").values()
    assert values["EdgeTraversal"] is True and values["serviceName"] == "Spooler"
    assert values["Interfaces"] == ("Ethernet 2",) and values["SecureFlags"] == 1


def test_a_failed_reset_rolls_the_unplanned_properties_back(policy: FwPolicy,
                                                            state: StateDir) -> None:
    add(policy, plan(), state)
    hand_edit(policy, "CE-DialerServer-TCP")
    before = policy.dump()
    trial = policy.clone()
    add(trial, plan(), state)
    for position in (1, 5, 12):  # early, middle, last of the resets
        store = policy.clone()
        store.fail_writes(position)
        with pytest.raises(ApplyFailed):
            converge(backend(store), plan(), state, dry_run=False)
        assert store.dump() == before, position


def test_a_protocol_change_keeps_nothing_unplanned(policy: FwPolicy, state: StateDir) -> None:
    add(policy, plan(), state)
    hand_edit(policy, "CE-DialerServer-TCP")
    udp = ce_rule("DialerServer", "UDP")._replace(name="CE-DialerServer-TCP")
    add(policy, [udp, *plan()[1:]], state)
    values = group_rule(policy, "CE-DialerServer-TCP").values()
    assert values["Protocol"] == 17 and values["EdgeTraversal"] is False


# -- guard rail 6: allow rules outside the group that undo cefw's scoping -----------------

DIALER = rf"{CE}\Servers\DialerServer\DialerServer.exe"


def vendor_rules(policy: FwPolicy) -> None:
    """What the vendor's Add-CEFirewallRules and an old netsh guide leave behind, and
    rules that must not be reported."""
    # reported: the CE program from anywhere; a program-less port rule from anywhere
    policy.seed(Name="Contact Expert DialerServer", Grouping="Geomant", Protocol=6,
                LocalPorts="9905", ApplicationName=DIALER, Enabled=True, Profiles=0x7FFFFFFF)
    policy.seed(Name="CE Naming (netsh)", Protocol=6, LocalPorts="9990-10000", Enabled=True,
                Profiles=1, RemoteAddresses="LocalSubnet")
    # not reported: disabled, outbound, block, another program, narrower, other ports,
    # a profile the CE rules do not use
    common = dict(Protocol=6, LocalPorts="9905", Profiles=3)
    policy.seed(Name="off", ApplicationName=DIALER, Enabled=False, **common)
    policy.seed(Name="out", Direction=2, Enabled=True, **common)
    policy.seed(Name="block", Action=0, Enabled=True, **common)
    policy.seed(Name="other program", ApplicationName=r"C:\Other\x.exe", Enabled=True,
                **common)
    policy.seed(Name="narrower", ApplicationName=DIALER, Enabled=True,
                RemoteAddresses="10.0.1.10", **common)
    policy.seed(Name="other ports", Protocol=6, LocalPorts="445", Enabled=True, Profiles=3)
    policy.seed(Name="public only", Protocol=6, LocalPorts="9905", Enabled=True, Profiles=4)


def test_audit_names_each_allow_rule_outside_the_group_that_lets_in_more(
        policy: FwPolicy, state: StateDir) -> None:
    vendor_rules(policy)
    add(policy, plan(), state)
    report = audit(backend(policy), plan(), [])
    found = [f for f in report.findings if f.code == "foreign-allow-rule"]
    assert [f.severity for f in found] == ["high", "high"]
    vendor, netsh = (f.message for f in found)
    assert "'Contact Expert DialerServer' (group 'Geomant'" in vendor
    assert "than cefw's CE-DialerServer-TCP" in vendor
    assert "Remove-NetFirewallRule -DisplayName 'Contact Expert DialerServer'" in vendor
    assert "'CE Naming (netsh)'" in netsh and "LocalSubnet" in netsh
    assert "CE-NamingService-TCP" in netsh
    assert report.exit_status == 1 and report.in_sync


def test_add_reports_them_first_and_never_changes_them(policy: FwPolicy, tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch,
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    import io

    from cefw.cli import main

    vendor_rules(policy)
    foreign_before = policy.dump()[0]
    monkeypatch.setattr(wincom, "open_policy", lambda: policy)
    monkeypatch.setattr(wincom, "new_rule", policy.new_rule)
    monkeypatch.setattr(wincom, "null_bstr", policy.null_bstr)
    monkeypatch.setattr(wincom, "is_elevated", lambda: True)
    policy.firewall_enabled[2] = False
    policy.CurrentProfileTypes = 4 | 1  # a NIC in Public, another in Domain
    out = io.StringIO()
    status = main(["add", "--example", "core-host", "--backend", "windows",
                   "--state-dir", str(tmp_path / "state")], out)
    err = capsys.readouterr().err
    assert status == 0 and "Changed (windows)" in out.getvalue()
    head = err.index("before changing anything")
    assert head < err.index("restart")  # said first, the vendor's note after the change
    assert "[high] foreign-allow-rule:" in err and "'Contact Expert DialerServer'" in err
    assert "[high] firewall-off:" in err and "private profile" in err
    assert "[high] profile-not-covered:" in err and "in the Public profile" in err
    assert policy.dump()[0] == foreign_before  # read-only outside the group


# -- guard rail 5: the active profile --------------------------------------------------------

@pytest.mark.parametrize(("active", "reported"), [(1, False), (3, False), (4, True), (5, True),
                                                  (0, False)])
def test_an_active_profile_the_rules_do_not_cover_is_high(policy: FwPolicy, active: int,
                                                          reported: bool) -> None:
    policy.CurrentProfileTypes = active  # rules: domain and private
    found = [f for f in backend(policy).store_findings(plan())
             if f.code == "profile-not-covered"]
    assert bool(found) == reported
    if reported:
        assert found[0].severity == "high" and "Set-NetConnectionProfile" in found[0].message


def test_not_elevated_add_stops_before_the_report(policy: FwPolicy, tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    import io

    from cefw.cli import main

    vendor_rules(policy)
    monkeypatch.setattr(wincom, "open_policy", lambda: policy)
    monkeypatch.setattr(wincom, "is_elevated", lambda: False)
    status = main(["add", "--example", "core-host", "--backend", "windows",
                   "--state-dir", str(tmp_path / "state")], io.StringIO())
    err = capsys.readouterr().err
    assert status == 2 and "not running elevated" in err
    assert "before changing anything" not in err and policy.counters()["writes"] == 0
