"""From inputs to a Plan (cefw.plan.make.make_plan) on CE hosts built from the spec, and the
JSON contract of plan-json.md checked field by field. Bad input: an InputError naming the
file, the place and the fix, and exit status 2 through the CLI, never a traceback."""

from __future__ import annotations

import io
import json
import sys

import pytest

from cefw import catalog
from cefw.cli import main
from cefw.errors import InputError
from cefw.model import ANY
from cefw.readers.context import DEFAULT_PROGRAM_DIR
from cehost import (
    GEO,
    GEO_WOW,
    PROGRAM_DIR,
    SA_CONFIG,
    SM_CONFIG,
    TAO_WOW,
    Raw,
    codes,
    expand_sz,
    of,
    sa_config,
    server,
)

SITE = """[zones]
servers = ["10.0.1.10", "10.0.1.11"]
clients = ["10.20.0.0/16"]
"""
OPTIONS = "TaoNamingServiceOptions"
CORE = ["ServerAgent", "NamingService", "UCMARecorderService", "LicenseServer",
        "DialerServer", "RuleServer", "EmailServer", "TelephonyRecorder.CMAPI",
        "TelephonyRecorder.SIP", "TelephonyRecorder.UCMA", "TelephonyConnectorServer.UCMA",
        "ContactManagerService", "ServerManager"]
CORE_SA = sa_config(
    server("LicenseServer", args="-ORBListenEndpoints iiop://:9900"),
    server("DialerServer", port="9905"),
    server("RuleServer", port="9907", enabled="false"),
    server("EmailServer"),
    server("TelephonyConnectorServer.UCMA", port="9910"),
    server("NotACeServer", path=r"..\..\Servers\Custom\Custom.exe", port="9950"),
)
CHANNELS = """Channel,Recorder,ControlPort,MediaPort
Avaya-1,CMAPI,7001,40000-40099
Avaya-2,CMAPI,7002,40100-40199
SIP-trunk-A,SIP,7101,41000-41199
"""


def core_host(ce_host, **overrides):
    spec = {
        "components": CORE,
        "files": {SA_CONFIG: CORE_SA,
                  SM_CONFIG: "<ServerManagerConfig><Listener Port='9997'/></ServerManagerConfig>"},
        "registry": {TAO_WOW: {OPTIONS: expand_sz("-ORBEndpoint iiop://:9999 -m 1")},
                     GEO: {"Lync_Recorder_ApplicationPort": 9100, "Lync_Recorder_Port": "9971"}},
        "channels": CHANNELS,
        "site": SITE,
    }
    spec.update(overrides)
    return ce_host(**spec)


def rules_by_name(plan) -> dict:
    return {r.name: r for r in plan.rules}


# --- the JSON contract -------------------------------------------------------------------

ENDPOINT_FIELDS = {"component", "protocol", "ports", "dynamic", "enabled", "loopback_only",
                   "program", "sources", "origin"}
RULE_FIELDS = {"name", "display_name", "group", "direction", "action", "protocol",
               "local_ports", "program", "remote_addresses", "profiles", "components"}
FINDING_FIELDS = {"code", "severity", "component", "message"}
COMPONENT_IDS = {c.id for c in catalog.COMPONENTS}


def check_contract(data: dict) -> None:
    """plan-json.md, field by field (extra fields are allowed, none may be missing)."""
    assert data["schema"] == "cefw.plan/1"
    assert isinstance(data["host"]["roles"], list)
    assert set(data["host"]["roles"]) <= {"core", "agent"}
    assert isinstance(data["host"]["install_dir"], str)
    for e in data["endpoints"]:
        assert set(e) >= ENDPOINT_FIELDS
        assert e["component"] in COMPONENT_IDS
        assert e["protocol"] in ("TCP", "UDP")
        assert all(isinstance(b, bool) for b in (e["dynamic"], e["enabled"],
                                                 e["loopback_only"]))
        assert e["ports"] == sorted(e["ports"])
        for pair in e["ports"]:
            assert isinstance(pair, list) and len(pair) == 2 and 1 <= pair[0] <= pair[1] <= 65535
        for a, b in zip(e["ports"], e["ports"][1:], strict=False):
            assert b[0] > a[1] + 1  # merged
        if e["dynamic"]:
            assert e["ports"] == []
        assert set(e["sources"]) <= {"server", "client"} and e["sources"]
        assert set(e["origin"]) == {"kind", "path", "where"}
        assert e["origin"]["kind"] in ("file", "registry", "channels", "default")
        if e["origin"]["kind"] == "default":
            assert e["origin"]["path"] == ""
        else:
            assert e["origin"]["path"]
    for r in data["rules"]:
        assert set(r) >= RULE_FIELDS
        assert r["group"] == "Contact Expert"
        assert (r["direction"], r["action"]) == ("in", "allow")
        assert r["protocol"] in ("TCP", "UDP")
        assert all(isinstance(p, list) and len(p) == 2 for p in r["local_ports"])
        assert r["remote_addresses"] and r["profiles"]
        assert set(r["profiles"]) <= {"domain", "private", "public"}
        assert set(r["components"]) <= COMPONENT_IDS
    names = [r["name"] for r in data["rules"]]
    assert len(names) == len(set(names))
    for f in data["findings"]:
        assert set(f) >= FINDING_FIELDS
        assert f["severity"] in ("high", "medium", "low", "info")
        assert f["message"]


def test_plan_json_contract_on_a_core_host(ce_host):
    host = core_host(ce_host)
    data = json.loads(json.dumps(host.plan().to_json()))
    check_contract(data)
    assert data["host"]["roles"] == ["core"]
    assert data["host"]["install_dir"] == str(host.install_dir)
    assert {e["origin"]["kind"] for e in data["endpoints"]} == {
        "file", "registry", "channels", "default"}

    [dialer] = [e for e in data["endpoints"] if e["component"] == "DialerServer"]
    assert dialer == {
        "component": "DialerServer", "protocol": "TCP", "ports": [[9905, 9905]],
        "dynamic": False, "enabled": True, "loopback_only": False,
        "program": PROGRAM_DIR + r"\Servers\DialerServer\DialerServer.exe",
        "sources": ["server"],
        "origin": {"kind": "file", "path": SA_CONFIG,
                   "where": "line 8, Servers/Server[@Name='DialerServer']/@Port"},
    }
    [rule] = [r for r in data["rules"] if r["name"] == "CE-DialerServer-TCP"]
    assert {k: rule[k] for k in RULE_FIELDS} == {
        "name": "CE-DialerServer-TCP",
        "display_name": "Contact Expert - DialerServer (TCP 9905)",
        "group": "Contact Expert", "direction": "in", "action": "allow", "protocol": "TCP",
        "local_ports": [[9905, 9905]],
        "program": PROGRAM_DIR + r"\Servers\DialerServer\DialerServer.exe",
        "remote_addresses": ["10.0.1.10", "10.0.1.11"], "profiles": ["domain", "private"],
        "components": ["DialerServer"],
    }
    [multicast] = [f for f in data["findings"] if f["code"] == "tao-multicast"]
    assert multicast["severity"] == "low" and multicast["component"] == "NamingService"


def test_core_host_plan(ce_host):
    plan = core_host(ce_host).plan()
    assert plan.host.components == tuple(CORE_ORDER)
    rules = rules_by_name(plan)
    expected = {
        "CE-ServerAgent-TCP": ((9998, 9998),),
        "CE-NamingService-TCP": ((9999, 9999),),
        "CE-NamingService-UDP": ((10013, 10013),),
        "CE-UCMARecorderService-TCP": ((9100, 9100), (9971, 9971)),
        "CE-LicenseServer-TCP": ((9900, 9900),),
        "CE-DialerServer-TCP": ((9905, 9905),),
        "CE-TelephonyRecorder.CMAPI-TCP": ((7001, 7002),),
        "CE-TelephonyRecorder.CMAPI-UDP": ((40000, 40199),),
        "CE-TelephonyRecorder.SIP-TCP": ((7101, 7101),),
        "CE-TelephonyRecorder.SIP-UDP": ((41000, 41199),),
        "CE-TelephonyConnectorServer.UCMA-TCP": ((9000, 9000), (9910, 9910)),
        "CE-EmailServer-TCP-dynamic": (),
        "CE-ServerManager-TCP": ((9997, 9997),),
    }
    assert {n: r.local_ports for n, r in rules.items()} == expected
    assert list(rules) == list(expected)  # catalog order
    # who may connect: server-only vs server+client components
    assert rules["CE-NamingService-TCP"].remote_addresses == (
        "10.0.1.10", "10.0.1.11", "10.20.0.0/16")
    assert rules["CE-DialerServer-TCP"].remote_addresses == ("10.0.1.10", "10.0.1.11")
    assert rules["CE-EmailServer-TCP-dynamic"].remote_addresses == (
        "10.0.1.10", "10.0.1.11", "10.20.0.0/16")
    # the 9000 of the UCMA connector came from nowhere: the default, said so
    [default_9000] = [e for e in of(plan.endpoints, "TelephonyConnectorServer.UCMA")
                      if e.ports == ((9000, 9000),)]
    assert default_9000.origin.kind == "default"
    found = {(f.code, f.component) for f in plan.findings}
    assert found >= {("server-disabled", "RuleServer"), ("dynamic-port", "EmailServer"),
                     ("tao-multicast", "NamingService"),
                     ("default-used", "TelephonyConnectorServer.UCMA")}
    assert [f.code for f in plan.findings if f.code == "unknown-server"] == ["unknown-server"]
    assert "unscoped-rule" not in codes(plan.findings)
    assert "port-conflict" not in codes(plan.findings)
    severities = [f.severity for f in plan.findings]
    rank = {"high": 0, "medium": 1, "low": 2, "info": 3}
    assert severities == sorted(severities, key=rank.__getitem__)


CORE_ORDER = [c.id for c in catalog.COMPONENTS if c.id in CORE]


def test_disabled_server_is_an_endpoint_without_a_rule(ce_host):
    plan = core_host(ce_host).plan()
    [rule_server] = of(plan.endpoints, "RuleServer")
    assert rule_server.enabled is False
    assert rule_server.to_json()["enabled"] is False
    assert not any("RuleServer" in r.name for r in plan.rules)
    assert ("server-disabled", "RuleServer") in {(f.code, f.component) for f in plan.findings}


def test_dynamic_server(ce_host):
    plan = core_host(ce_host).plan()
    [email] = of(plan.endpoints, "EmailServer")
    assert (email.dynamic, email.ports, email.origin.kind) == (True, (), "file")
    rule = rules_by_name(plan)["CE-EmailServer-TCP-dynamic"]
    assert rule.local_ports == () and rule.program.endswith(r"\Servers\EmailServer\EmailServer.exe")
    [finding] = [f for f in plan.findings if f.code == "dynamic-port"]
    assert finding.component == "EmailServer"


def test_unknown_server_is_in_the_plan_findings(ce_host):
    plan = core_host(ce_host).plan()
    [unknown] = [f for f in plan.findings if f.code == "unknown-server"]
    assert "NotACeServer" in unknown.message and "Custom.exe" in unknown.message
    assert not any(9950 in (low, high) for r in plan.rules for low, high in r.local_ports)


def test_listens_on_nothing_means_no_endpoint(ce_host):
    plan = core_host(ce_host).plan()
    for cid in ("ContactManagerService", "TelephonyRecorder.UCMA"):
        assert cid in plan.host.components
        assert of(plan.endpoints, cid) == []


def test_loopback_only_listener_gets_no_rule(ce_host):
    host = ce_host(components=["ServerAgent", "SDServer"], files={SA_CONFIG: sa_config(
        server("SDServer", args="-ORBEndpoint 'iiop://127.0.0.1:9904;iiop://[::1]:9904'"))})
    plan = host.plan()
    sd = of(plan.endpoints, "SDServer")
    assert [(e.loopback_only, e.bind) for e in sd] == [(True, "127.0.0.1"), (True, "::1")]
    assert all(e.to_json()["loopback_only"] is True for e in sd)
    assert "CE-SDServer-TCP" not in rules_by_name(plan)
    assert [(f.code, f.severity) for f in plan.findings if f.component == "SDServer"] == [
        ("loopback-only", "info")] * 2


def test_portspan_rule_covers_the_range(ce_host):
    host = ce_host(components=["ServerAgent", "TelephonyRecorderServer"],
                   files={SA_CONFIG: sa_config(server(
                       "TelephonyRecorderServer",
                       args="-ORBListenEndpoints iiop://:9908/portspan=3"))})
    rule = rules_by_name(host.plan())["CE-TelephonyRecorderServer-TCP"]
    assert rule.local_ports == ((9908, 9910),)


# --- defaults, never passed off as read --------------------------------------------------

def test_absent_registry_value_is_the_default_with_a_finding(ce_host):
    host = core_host(ce_host, registry={GEO: {"Lync_Recorder_ApplicationPort": 9100,
                                              "Lync_Recorder_Port": 9971}})
    plan = host.plan()
    [naming] = of(plan.endpoints, "NamingService")
    assert naming.ports == ((9999, 9999),)
    assert naming.to_json()["origin"]["kind"] == "default"
    assert OPTIONS in naming.origin.where
    assert ("default-used", "NamingService") in {(f.code, f.component) for f in plan.findings}
    assert rules_by_name(plan)["CE-NamingService-TCP"].local_ports == ((9999, 9999),)


def test_no_registry_source_at_all(ce_host):
    plan = core_host(ce_host, registry=None).plan()
    defaults = {(e.component, e.ports) for e in plan.endpoints if e.origin.kind == "default"}
    assert defaults >= {("NamingService", ((9999, 9999),)),
                        ("UCMARecorderService", ((9100, 9100),)),
                        ("UCMARecorderService", ((9971, 9971),)),
                        ("TelephonyConnectorServer.UCMA", ((9000, 9000),))}
    used = [f.component for f in plan.findings if f.code == "default-used"]
    assert sorted(used) == sorted(["NamingService", "UCMARecorderService",
                                   "UCMARecorderService", "TelephonyConnectorServer.UCMA"])


def test_registry_wrong_view_in_the_plan(ce_host):
    host = core_host(ce_host, registry={TAO_WOW: {OPTIONS: expand_sz("-ORBEndpoint iiop://:9999")},
                                        GEO_WOW: {"Lync_Recorder_Port": 9972}})
    plan = host.plan()
    assert ("registry-wrong-view", "UCMARecorderService") in {
        (f.code, f.component) for f in plan.findings}
    assert rules_by_name(plan)["CE-UCMARecorderService-TCP"].local_ports == (
        (9100, 9100), (9971, 9971))


def test_missing_serveragent_config_gives_defaults_for_everything_it_starts(ce_host):
    plan = core_host(ce_host, files={}).plan()
    rules = rules_by_name(plan)
    assert rules["CE-ServerAgent-TCP"].local_ports == ((9998, 9998),)
    assert rules["CE-DialerServer-TCP"].local_ports == ((9905, 9905),)
    assert rules["CE-RuleServer-TCP"].local_ports == ((9907, 9907),)
    assert rules["CE-EmailServer-TCP-dynamic"].local_ports == ()
    assert rules["CE-ServerManager-TCP"].local_ports == ((9997, 9997),)
    assert all(e.origin.kind != "file" for e in plan.endpoints)


def test_program_dir_from_the_site_or_assumed(ce_host):
    host = ce_host(components=["ServerAgent"],
                   site='[zones]\nservers = []\n[host]\nprogram_dir = "D:\\\\CE"\n')
    plan = host.plan(program_dir=None)
    assert plan.host.program_dir == r"D:\CE"
    assert [e.program for e in plan.endpoints] == [r"D:\CE\Services\ServerAgent\ServerAgent.exe"]
    assert "program-dir-assumed" not in codes(plan.findings)

    if sys.platform == "win32":  # there the install dir is the program dir
        return
    plan = ce_host(components=["ServerAgent"]).plan(program_dir=None)
    assert plan.host.program_dir == DEFAULT_PROGRAM_DIR
    assert "program-dir-assumed" in codes(plan.findings)


# --- channels ----------------------------------------------------------------------------

def test_channels_missing_and_recorder_missing(ce_host):
    plan = core_host(ce_host, channels=None).plan()
    missing = sorted(f.component for f in plan.findings if f.code == "channels-missing")
    assert missing == ["TelephonyRecorder.CMAPI", "TelephonyRecorder.SIP"]
    assert not any("TelephonyRecorder" in r.name and "Server" not in r.name for r in plan.rules)

    components = [c for c in CORE if c != "TelephonyRecorder.SIP"]
    plan = core_host(ce_host, components=components).plan()
    assert ("channel-recorder-missing", "TelephonyRecorder.SIP") in {
        (f.code, f.component) for f in plan.findings}
    assert "CE-TelephonyRecorder.SIP-TCP" not in rules_by_name(plan)


def test_two_thousand_channels(ce_host):
    lines = ["Channel,Recorder,ControlPort,MediaPort"]
    for i in range(2000):
        recorder = "CMAPI" if i % 2 == 0 else "SIP"
        media = 20000 + i * 10
        lines.append(f"ch-{i},{recorder},{10000 + i},{media}-{media + 9}")
    host = ce_host(components=["TelephonyRecorder.CMAPI", "TelephonyRecorder.SIP"],
                   channels="\n".join(lines) + "\n", site=SITE)
    plan = host.plan()
    recorder_eps = [e for e in plan.endpoints if e.origin.kind == "channels"]
    assert len(recorder_eps) == 4000
    rules = rules_by_name(plan)
    assert set(rules) == {"CE-TelephonyRecorder.CMAPI-TCP", "CE-TelephonyRecorder.CMAPI-UDP",
                          "CE-TelephonyRecorder.SIP-TCP", "CE-TelephonyRecorder.SIP-UDP"}
    cmapi_tcp = rules["CE-TelephonyRecorder.CMAPI-TCP"].local_ports
    assert len(cmapi_tcp) == 1000 and cmapi_tcp[0] == (10000, 10000)
    assert cmapi_tcp[-1] == (11998, 11998)
    # media ranges are adjacent within a recorder only every other channel: 1000 ranges
    cmapi_udp = rules["CE-TelephonyRecorder.CMAPI-UDP"].local_ports
    assert len(cmapi_udp) == 1000 and cmapi_udp[1] == (20020, 20029)
    covered = sum(b - a + 1 for r in rules.values() for a, b in r.local_ports)
    assert covered == 2000 + 2000 * 10
    assert "port-conflict" not in codes(plan.findings)


def test_two_thousand_channels_with_one_clash(ce_host):
    lines = ["Channel,Recorder,ControlPort,MediaPort"]
    lines += [f"ch-{i},CMAPI,{10000 + i}," for i in range(2000)]
    lines.append("clash,SIP,10500,")
    host = ce_host(components=["TelephonyRecorder.CMAPI", "TelephonyRecorder.SIP"],
                   channels="\n".join(lines) + "\n")
    conflicts = [f for f in host.plan().findings if f.code == "port-conflict"]
    assert len(conflicts) == 1
    assert "channel ch-500" in conflicts[0].message and "channel clash" in conflicts[0].message


# --- sites -------------------------------------------------------------------------------

def test_no_site_means_any_address_and_a_finding(ce_host):
    plan = core_host(ce_host, site=None).plan()
    assert plan.rules and all(r.remote_addresses == (ANY,) for r in plan.rules)
    assert codes(plan.findings).count("unscoped-rule") == 1
    assert all(r.to_json()["remote_addresses"] == ["any"] for r in plan.rules)


def test_empty_servers_zone(ce_host):
    plan = core_host(ce_host, site='[zones]\nservers = []\nclients = ["10.20.0.0/16"]\n').plan()
    rules = rules_by_name(plan)
    assert "CE-DialerServer-TCP" not in rules
    assert rules["CE-NamingService-TCP"].remote_addresses == ("10.20.0.0/16",)
    assert ("empty-zone", "DialerServer") in {(f.code, f.component) for f in plan.findings}


# --- stability ---------------------------------------------------------------------------

def test_a_changed_port_changes_the_rule_not_the_names(ce_host):
    before = core_host(ce_host).plan()
    changed = CORE_SA.replace('Port="9905"', 'Port="9915"').replace("iiop://:9900",
                                                                    "iiop://:9920/portspan=2")
    after = core_host(ce_host, files={SA_CONFIG: changed}).plan()
    assert [r.name for r in before.rules] == [r.name for r in after.rules]
    rules = rules_by_name(after)
    assert rules["CE-DialerServer-TCP"].local_ports == ((9915, 9915),)
    assert rules["CE-LicenseServer-TCP"].local_ports == ((9920, 9921),)


def test_planning_twice_gives_the_same_plan(ce_host):
    host = core_host(ce_host)
    assert host.plan().to_json() == host.plan().to_json()


@pytest.mark.parametrize("path_case", [str.lower, str.upper])
def test_install_tree_in_any_case_plans_the_same(ce_host, path_case):
    normal = core_host(ce_host).plan()
    other = core_host(ce_host, path_case=path_case).plan()
    assert [(r.name, r.local_ports) for r in other.rules] == [
        (r.name, r.local_ports) for r in normal.rules]
    assert other.host.components == normal.host.components


def test_port_conflict_between_two_components(ce_host):
    host = ce_host(components=["ServerAgent", "DialerServer", "CampaignServer"],
                   files={SA_CONFIG: sa_config(server("DialerServer", port="9905"),
                                               server("CampaignServer", args=(
                                                   "-ORBEndpoint iiop://:9900/portspan=10")))})
    [conflict] = [f for f in host.plan().findings if f.code == "port-conflict"]
    assert conflict.severity == "high"
    assert "TCP 9905" in conflict.message
    assert "DialerServer" in conflict.message and "CampaignServer" in conflict.message


def test_agent_pc(ce_host):
    host = ce_host(components=["AgentClientApp"], files={
        r"Servers\AgentClientApp.Net\AgentClientApp.config.xml":
            "<configuration><appSettings><add key='ListenPort' value='19961'/></appSettings>"
            "</configuration>"}, site=SITE)
    plan = host.plan()
    data = plan.to_json()
    check_contract(data)
    assert data["host"]["roles"] == ["agent"]
    [rule] = plan.rules
    assert (rule.name, rule.local_ports, rule.remote_addresses) == (
        "CE-AgentClientApp-TCP", ((19961, 19961),), ("10.0.1.10", "10.0.1.11"))
    assert plan.findings == ()


def test_an_empty_install_dir_plans_nothing(ce_host):
    plan = ce_host().plan()
    assert plan.host.roles == () and plan.endpoints == () and plan.rules == ()


# --- bad input -------------------------------------------------------------------------

def bad_inputs(ce_host):
    """(label, host, overrides for Inputs) of every kind of bad input."""
    ok = {"components": ["ServerAgent", "NamingService", "UCMARecorderService",
                         "TelephonyRecorder.CMAPI", "DialerServer"]}
    entity = ('<?xml version="1.0"?>\n<!DOCTYPE x [<!ENTITY a "9905">]>\n'
              '<ServerAgentConfig><Agent Port="&a;"/></ServerAgentConfig>')
    return [
        ("malformed xml", ce_host(**ok, files={SA_CONFIG: "<ServerAgentConfig><Agent>"}), {},
         SA_CONFIG, "line 1"),
        ("port not a number", ce_host(**ok, files={SA_CONFIG: sa_config(
            server("DialerServer", port="99o5"))}), {}, SA_CONFIG, "line 5"),
        ("port out of range", ce_host(**ok, files={SA_CONFIG: sa_config(
            agent='<Agent Port="65536"/>')}), {}, SA_CONFIG, "line 3"),
        ("entity", ce_host(**ok, files={SA_CONFIG: entity}), {}, SA_CONFIG, "line 2"),
        ("reg not an export", ce_host(**ok, registry="[HKEY_LOCAL_MACHINE\\SOFTWARE]\r\n"),
         {}, "registry.reg", "line 1"),
        ("reg bad value", ce_host(**ok, registry={GEO: {"Lync_Recorder_Port": 0}}), {},
         "Lync_Recorder_Port", "line 4"),
        ("tao bad", ce_host(**ok, registry={TAO_WOW: {OPTIONS: expand_sz(
            "-ORBEndpoint iiop://:99999")}}), {}, OPTIONS, "line 4"),
        ("tao dword", ce_host(**ok, registry={TAO_WOW: {OPTIONS: Raw("dword:00000001")}}), {},
         OPTIONS, "line 4"),
        ("channels port", ce_host(**ok, channels="Channel,Recorder,ControlPort,MediaPort\n"
                                  "A,CMAPI,7001,40000\nB,CMAPI,70000,\n"), {}, "channels.csv",
         "line 3, ControlPort"),
        ("site address", ce_host(**ok, site='[zones]\nservers = ["ce-core-01"]\n'), {},
         "site.toml", "[zones] servers"),
        ("missing install dir", ce_host(**ok), {"install_dir": "MISSING"}, "nope",
         ""),
        ("install dir is a file", ce_host(**ok), {"install_dir": "FILE"}, "registry", ""),
    ]


def _resolve(host, overrides: dict) -> dict:
    out = dict(overrides)
    if out.get("install_dir") == "MISSING":
        out["install_dir"] = host.install_dir.parent / "nope"
    elif out.get("install_dir") == "FILE":
        target = host.install_dir.parent / "registry"
        target.write_text("x")
        out["install_dir"] = target
    return out


def test_bad_input_is_an_input_error_naming_the_place_and_the_fix(ce_host):
    for label, host, overrides, path_part, where_part in bad_inputs(ce_host):
        with pytest.raises(InputError) as caught:
            host.plan(**_resolve(host, overrides))
        err = caught.value
        assert path_part in err.path, label
        assert where_part in err.where, label
        assert err.problem and err.fix, label
        text = err.render()
        assert text.startswith("cefw: error: ") and "\n  fix: " in text, label


def cli_args(host, overrides: dict) -> list[str]:
    inputs = host.inputs(**overrides)
    args = ["plan", "--format", "json", "--install-dir", str(inputs.install_dir),
            "--program-dir", PROGRAM_DIR]
    for reg in inputs.registry:
        args += ["--registry", str(reg)]
    if inputs.channels:
        args += ["--channels", str(inputs.channels)]
    if inputs.site:
        args += ["--site", str(inputs.site)]
    return args


def test_bad_input_exits_2_through_the_cli_without_a_traceback(ce_host, capsys):
    for label, host, overrides, path_part, _where in bad_inputs(ce_host):
        out = io.StringIO()
        status = main(cli_args(host, _resolve(host, overrides)), out=out)
        captured = capsys.readouterr()
        assert status == 2, (label, captured.err)
        assert out.getvalue() == "", label
        assert captured.err.startswith("cefw: error: "), label
        assert path_part in captured.err and "fix:" in captured.err, label
        assert "Traceback" not in captured.err and "internal error" not in captured.err, label


def test_good_input_through_the_cli(ce_host, capsys):
    host = core_host(ce_host)
    out = io.StringIO()
    assert main(cli_args(host, {}), out=out) == 0
    data = json.loads(out.getvalue())
    check_contract(data)
    assert data == json.loads(json.dumps(host.plan().to_json()))


@pytest.mark.parametrize("name", ["core-host", "agent-pc", "recorder-host"])
def test_bundled_examples_keep_the_contract(name, capsys):
    out = io.StringIO()
    assert main(["plan", "--example", name, "--format", "json"], out=out) == 0
    check_contract(json.loads(out.getvalue()))
