"""ServerAgent.Config.xml (docs/ce-formats.md) through cefw.readers.serveragent: the
spec's example, tolerant variants (case, comments, BOM), every TAO endpoint form inside
<Arguments>, identification of servers, and the errors for bad input."""

from __future__ import annotations

from pathlib import Path

import pytest

from cefw.errors import InputError
from cefw.model import Endpoint
from cefw.readers import serveragent
from cehost import PROGRAM_DIR, SA_CONFIG, codes, of, sa_config, server

SA_PATH = r"Services\ServerAgent\ServerAgent.Config.xml"

# ce-formats.md section 2, verbatim
SPEC_EXAMPLE = (Path(__file__).parent / "data" / "serveragent" / "spec-example.xml"
                ).read_text(encoding="utf-8")
SPEC_COMPONENTS = ["ServerAgent", "LicenseServer", "IVRConnectorServer.WS", "DialerServer",
                   "AgentFactory", "RuleServer"]


def read(host):
    return serveragent.read_config(host.context())


def one_server(ce_host, element: str, component: str, **host_args):
    """Read a config holding one <Server>, with `component` installed."""
    host = ce_host(components=["ServerAgent", component],
                   files={SA_CONFIG: sa_config(element)}, **host_args)
    reading = read(host).reading
    return of(reading.endpoints, component), of(reading.findings, component), reading


def ports_of(endpoints: list[Endpoint]) -> list[tuple[str, tuple]]:
    return sorted((e.protocol, e.ports) for e in endpoints)


# --- the spec's example ------------------------------------------------------------------

def test_spec_example(ce_host):
    host = ce_host(components=SPEC_COMPONENTS, files={SA_CONFIG: SPEC_EXAMPLE})
    result = read(host)
    endpoints = result.reading.endpoints
    assert result.found
    assert result.configured == {"LicenseServer", "IVRConnectorServer.WS", "DialerServer",
                                 "AgentFactory", "RuleServer"}

    [agent] = of(endpoints, "ServerAgent")
    assert agent.ports == ((9998, 9998),)
    assert agent.origin.kind == "file"
    assert agent.origin.path == SA_PATH
    assert agent.origin.where == "line 3, Agent/@Port"
    assert agent.program == PROGRAM_DIR + r"\Services\ServerAgent\ServerAgent.exe"

    [license_ep] = of(endpoints, "LicenseServer")
    assert (license_ep.protocol, license_ep.ports, license_ep.dynamic) == (
        "TCP", ((9900, 9900),), False)
    assert license_ep.origin.where == (
        "line 6, Servers/Server[@Name='LicenseServer']/Arguments "
        "(-ORBListenEndpoints iiop://:9900)")
    assert license_ep.program == PROGRAM_DIR + r"\Servers\LicenseServer\LicenseServer.exe"

    ws = of(endpoints, "IVRConnectorServer.WS")
    assert ports_of(ws) == [("TCP", ((9909, 9909),)), ("TCP", ((19970, 19970),))]
    [web] = [e for e in ws if e.ports == ((19970, 19970),)]
    assert web.label == "web services"
    assert web.origin.where == "line 10, Servers/Server[@Name='IVRConnectorServer.WS']/" \
                               "Endpoint/@Port"

    [dialer] = of(endpoints, "DialerServer")
    assert dialer.ports == ((9905, 9905),)
    assert dialer.origin.where == "line 12, Servers/Server[@Name='DialerServer']/@Port"

    [factory] = of(endpoints, "AgentFactory")
    assert factory.dynamic and factory.ports == () and factory.enabled
    assert factory.origin.kind == "file"

    [rule_server] = of(endpoints, "RuleServer")
    assert rule_server.enabled is False
    assert not rule_server.needs_rule
    assert codes(of(result.reading.findings, "RuleServer")) == ["server-disabled"]
    # nothing else is reported about a clean file
    assert codes(result.reading.findings) == ["server-disabled"]


# --- tolerance ---------------------------------------------------------------------------

LOWER = r"""<?xml version="1.0" encoding="utf-8"?>
<serveragentconfig>
  <agent port="9988"/>
  <servers>
    <server name="dialerserver" path="..\..\servers\dialerserver\dialerserver.exe" port="9915"/>
    <SERVER NAME="LICENSESERVER" PATH="..\..\SERVERS\LICENSESERVER\LICENSESERVER.EXE">
      <ARGUMENTS>-ORBENDPOINT IIOP://:9920</ARGUMENTS>
      <ENDPOINT PROTOCOL="udp" PORT="9921"/>
    </SERVER>
    <Server name="agentFactory" ENABLED="FALSE"/>
  </servers>
</serveragentconfig>
"""


@pytest.mark.parametrize("path_case", [str, str.lower, str.upper])
def test_names_values_and_install_paths_in_any_case(ce_host, path_case):
    host = ce_host(components=["ServerAgent", "DialerServer", "LicenseServer",
                               "AgentFactory"],
                   files={SA_CONFIG: LOWER}, path_case=path_case)
    reading = read(host).reading
    assert of(reading.endpoints, "ServerAgent")[0].ports == ((9988, 9988),)
    assert of(reading.endpoints, "DialerServer")[0].ports == ((9915, 9915),)
    assert ports_of(of(reading.endpoints, "LicenseServer")) == [
        ("TCP", ((9920, 9920),)), ("UDP", ((9921, 9921),))]
    [factory] = of(reading.endpoints, "AgentFactory")
    assert factory.enabled is False
    assert codes(reading.findings) == ["server-disabled"]
    # origins spell attributes as written
    assert of(reading.endpoints, "DialerServer")[0].origin.where == (
        "line 5, servers/server[@name='dialerserver']/@port")


def test_comments_holding_old_entries_are_ignored(ce_host):
    text = sa_config(
        "<!-- moved in 2023, kept for reference:",
        server("RuleServer", port="9917"),
        "-->",
        server("RuleServer", port="9907"),
        "<!-- <Server Name=\"Ghost\" Path=\"x.exe\" Port=\"1\"/> -->",
        agent='<!-- <Agent Port="1111"/> --><Agent Port="9998" />',
    )
    host = ce_host(components=["ServerAgent", "RuleServer"], files={SA_CONFIG: text})
    reading = read(host).reading
    assert [(e.component, e.ports) for e in reading.endpoints] == [
        ("ServerAgent", ((9998, 9998),)), ("RuleServer", ((9907, 9907),))]
    assert reading.findings == []


@pytest.mark.parametrize("encode", [
    lambda t: ("\ufeff" + t).encode("utf-8"),
    lambda t: "\ufeff".encode("utf-16-le") + t.replace('"utf-8"', '"utf-16"').encode(
        "utf-16-le"),
    lambda t: t.replace("\n", "\r\n").encode("utf-8"),
])
def test_bom_and_encodings(ce_host, encode):
    text = sa_config(server("DialerServer", port="9905"))
    host = ce_host(components=["ServerAgent", "DialerServer"],
                   files={SA_CONFIG: encode(text)})
    reading = read(host).reading
    assert [(e.component, e.ports) for e in reading.endpoints] == [
        ("ServerAgent", ((9998, 9998),)), ("DialerServer", ((9905, 9905),))]


# --- ports: Port, <Endpoint>, TAO --------------------------------------------------------

def test_union_of_port_endpoint_children_and_tao(ce_host):
    element = server("TelephonyServer", port="9911",
                     args="-ORBEndpoint iiop://:9912 -ORBListenEndpoints iiop://:9913",
                     endpoints=['Protocol="TCP" Port="9914"', 'Protocol="UDP" Port="5000-5010"',
                                'Port="9915"'])
    eps, findings, _ = one_server(ce_host, element, "TelephonyServer")
    assert ports_of(eps) == [("TCP", ((9911, 9911),)), ("TCP", ((9912, 9913),)),
                             ("TCP", ((9914, 9914),)), ("TCP", ((9915, 9915),)),
                             ("UDP", ((5000, 5010),))]
    assert all(not e.dynamic and e.enabled for e in eps)
    assert findings == []


@pytest.mark.parametrize(("args", "expected"), [
    ("-ORBEndpoint iiop://:9900", [("", ((9900, 9900),), False, False)]),
    ("-ORBEndPoint iiop://0.0.0.0:9900", [("", ((9900, 9900),), False, False)]),
    ("-orblistenendpoints iiop://[::]:9900", [("", ((9900, 9900),), False, False)]),
    ("-ORBEndpoint iiop://:9900/portspan=10", [("", ((9900, 9909),), False, False)]),
    ("-ORBEndpoint iiop://1.2@:9900/hostname_in_ior=ce-core-01",
     [("", ((9900, 9900),), False, False)]),
    ("-ORBEndpoint iiop://10.0.1.10:9900", [("10.0.1.10", ((9900, 9900),), False, False)]),
    ("-ORBEndpoint iiop://127.0.0.1:9900", [("127.0.0.1", ((9900, 9900),), False, True)]),
    ("-ORBEndpoint iiop://[::1]:9900", [("::1", ((9900, 9900),), False, True)]),
    ("-ORBEndpoint iiop://localhost:9900", [("localhost", ((9900, 9900),), False, True)]),
    ("-ORBEndpoint iiop://", [("", (), True, False)]),
    ("-ORBEndpoint iiop://ce-core-01", [("ce-core-01", (), True, False)]),
    ("-ORBDottedDecimalAddresses 1", [("", (), True, False)]),  # no endpoint: dynamic
    ("", [("", (), True, False)]),
    # several endpoints in one option, repeated options, quotes and comments
    ("-ORBListenEndpoints \"iiop://:9900; iiop://:9901\" -ORBEndpoint iiop://:9905 "
     "# -ORBEndpoint iiop://:1", [("", ((9900, 9901), (9905, 9905)), False, False)]),
    ("-ORBEndpoint 'iiop://:9900,127.0.0.1:9950'",
     [("", ((9900, 9900),), False, False), ("127.0.0.1", ((9950, 9950),), False, True)]),
])
def test_tao_endpoints_in_arguments(ce_host, args, expected):
    eps, findings, _ = one_server(ce_host, server("SDServer", args=args), "SDServer")
    got = [(e.bind, e.ports, e.dynamic, e.loopback_only) for e in eps]
    assert got == expected
    # a loopback listener is said so (info): no rule, and nobody else can connect
    assert codes(findings) == ["loopback-only"] * sum(e.loopback_only for e in eps)
    assert all(e.origin.kind == "file" and e.origin.path == SA_PATH for e in eps)


def test_a_local_transport_alone_opens_no_network_listener(ce_host):
    """TAO opens only the endpoints it is given: uiop:// alone is no TCP listener."""
    eps, findings, _ = one_server(
        ce_host, server("SDServer", args="-ORBEndpoint uiop:///tmp/sd"), "SDServer")
    assert eps == []
    assert findings == []


def test_tao_origin_names_the_option_as_written(ce_host):
    eps, _, _ = one_server(
        ce_host, server("SDServer", args="-ORBEndpoint iiop://1.2@:9904/portspan=2"),
        "SDServer")
    [ep] = eps
    assert ep.origin.where == ("line 6, Servers/Server[@Name='SDServer']/Arguments "
                               "(-ORBEndpoint iiop://1.2@:9904/portspan=2)")


# --- identification ----------------------------------------------------------------------

@pytest.mark.parametrize("name", ["DialerServer", "dialerserver", "DIALERSERVER",
                                  " DialerServer "])
def test_name_identifies_the_component_in_any_case(ce_host, name):
    eps, _, _ = one_server(ce_host, server(name, port="9905",
                                           path=r"..\..\Servers\DialerServer\DialerServer.exe"),
                           "DialerServer")
    assert [e.ports for e in eps] == [((9905, 9905),)]


@pytest.mark.parametrize(("path", "program"), [
    (r"..\..\Servers\DialerServer\DialerServer.exe",
     PROGRAM_DIR + r"\Servers\DialerServer\DialerServer.exe"),
    ("../../servers/dialerserver/DIALERSERVER.EXE",
     PROGRAM_DIR + r"\servers\dialerserver\DIALERSERVER.EXE"),
    (PROGRAM_DIR + r"\Servers\DialerServer\DialerServer.exe",
     PROGRAM_DIR + r"\Servers\DialerServer\DialerServer.exe"),
    (r"D:\Elsewhere\DialerServer\DialerServer.exe", r"D:\Elsewhere\DialerServer\DialerServer.exe"),
])
def test_unknown_name_is_identified_by_the_file_and_folder_of_path(ce_host, path, program):
    eps, _findings, reading = one_server(ce_host, server("Dialer (site A)", port="9905",
                                                        path=path), "DialerServer")
    [ep] = eps
    assert ep.ports == ((9905, 9905),)
    assert ep.program == program
    assert "unknown-server" not in codes(reading.findings)


@pytest.mark.parametrize(("folder", "component"), [
    ("TelephonyRecorder.CMAPI", "TelephonyRecorder.CMAPI"),
    ("TelephonyRecorder.SIP", "TelephonyRecorder.SIP"),
])
def test_programs_with_the_same_file_name_are_told_apart_by_folder(ce_host, folder, component):
    path = rf"..\..\Servers\TelephonyRecorderServer\{folder}\TelephonyRecorderLoader.exe"
    eps, _, _ = one_server(ce_host, server("Recorder", port="7000", path=path), component)
    assert [e.ports for e in eps] == [((7000, 7000),)]


@pytest.mark.parametrize("element", [
    '<Server Name="MyCustomServer" Path="..\\..\\Servers\\Custom\\Custom.exe" Port="9950" />',
    '<Server Name="MyCustomServer" Port="9950" />',
    '<Server Path="..\\..\\Servers\\Custom\\Custom.exe" Port="9950" />',
    '<Server Port="9950" />',
])
def test_an_unknown_server_is_reported_never_dropped_silently(ce_host, element):
    host = ce_host(components=["ServerAgent"], files={SA_CONFIG: sa_config(element)})
    result = read(host)
    assert [e.component for e in result.reading.endpoints] == ["ServerAgent"]
    [found] = result.reading.findings
    assert found.code == "unknown-server"
    assert found.severity == "medium"
    assert "line 5" in found.message and SA_PATH in found.message
    if "MyCustomServer" in element:
        assert "MyCustomServer" in found.message
    if "Custom.exe" in element:
        assert "Custom.exe" in found.message


def test_a_server_whose_program_is_missing_is_reported(ce_host):
    host = ce_host(components=["ServerAgent"],
                   files={SA_CONFIG: sa_config(server("DialerServer", port="9905"))})
    result = read(host)
    assert [e.component for e in result.reading.endpoints] == ["ServerAgent"]
    assert codes(result.reading.findings) == ["server-not-installed"]
    assert result.configured == {"DialerServer"}  # so no default is invented for it


@pytest.mark.parametrize("value", ["false", "False", "FALSE", " false ", "0", "no", "off"])
def test_disabled_server(ce_host, value):
    eps, findings, _ = one_server(ce_host, server("DialerServer", port="9905", enabled=value),
                                  "DialerServer")
    [ep] = eps
    assert ep.enabled is False and not ep.needs_rule
    assert ep.ports == ((9905, 9905),)
    assert codes(findings) == ["server-disabled"]
    assert findings[0].severity == "info"


@pytest.mark.parametrize("value", ["true", "True", "1", "yes", ""])
def test_enabled_server(ce_host, value):
    eps, findings, _ = one_server(ce_host, server("DialerServer", port="9905", enabled=value),
                                  "DialerServer")
    assert [e.enabled for e in eps] == [True]
    assert findings == []


def test_disabled_server_without_ports_is_disabled_and_dynamic(ce_host):
    eps, findings, _ = one_server(ce_host, server("EmailServer", enabled="false"),
                                  "EmailServer")
    [ep] = eps
    assert (ep.dynamic, ep.enabled, ep.needs_rule) == (True, False, False)
    assert codes(findings) == ["server-disabled"]


# --- absent pieces: defaults, never passed off as read ----------------------------------

def test_missing_file_gives_vendor_defaults(ce_host):
    host = ce_host(components=["ServerAgent", "DialerServer", "AgentFactory",
                               "TelephonyConnectorServer.UCMA", "TelephonyRecorder.CMAPI"])
    ctx = host.context()
    result = serveragent.read_config(ctx)
    assert not result.found
    [agent] = result.reading.endpoints
    assert agent.ports == ((9998, 9998),)
    assert agent.origin.kind == "default" and agent.origin.path == ""
    assert "ServerAgent.Config.xml not found" in agent.origin.where
    assert codes(result.reading.findings) == ["default-used"]

    rest = serveragent.defaults_for_unconfigured(ctx, result)
    got = {(e.component, e.ports, e.dynamic) for e in rest.endpoints}
    # 9000 of the UCMA connector is the registry's (GeoCampaign reader), CMAPI's are
    # the channels': neither is defaulted here
    assert got == {("DialerServer", ((9905, 9905),), False), ("AgentFactory", (), True),
                   ("TelephonyConnectorServer.UCMA", ((9910, 9910),), False)}
    assert all(e.origin.kind == "default" for e in rest.endpoints)
    assert sorted(codes(rest.findings)) == ["default-used"] * 3


def test_installed_component_without_a_server_entry_gets_its_default(ce_host):
    host = ce_host(components=["ServerAgent", "DialerServer", "CampaignServer"],
                   files={SA_CONFIG: sa_config(server("DialerServer", port="9915"))})
    ctx = host.context()
    result = serveragent.read_config(ctx)
    rest = serveragent.defaults_for_unconfigured(ctx, result)
    [campaign] = rest.endpoints
    assert (campaign.component, campaign.ports) == ("CampaignServer", ((9906, 9906),))
    assert campaign.origin.kind == "default"
    assert "no <Server> for CampaignServer" in campaign.origin.where
    [note] = rest.findings
    assert (note.code, note.component) == ("default-used", "CampaignServer")


@pytest.mark.parametrize("agent", ["<Agent />", '<Agent Port="" />', ""])
def test_agent_without_a_port_uses_the_default(ce_host, agent):
    host = ce_host(components=["ServerAgent"], files={SA_CONFIG: sa_config(agent=agent)})
    result = read(host)
    [ep] = result.reading.endpoints
    assert ep.ports == ((9998, 9998),) and ep.origin.kind == "default"
    assert codes(result.reading.findings) == ["default-used"]


def test_agent_port_is_not_read_when_the_agent_is_not_installed(ce_host):
    host = ce_host(components=["DialerServer"],
                   files={SA_CONFIG: sa_config(server("DialerServer", port="9905"))})
    reading = read(host).reading
    assert [e.component for e in reading.endpoints] == ["DialerServer"]


# --- bad input ---------------------------------------------------------------------------

def error_of(ce_host, text: str | bytes, components=("ServerAgent", "DialerServer", "SDServer"),
             ) -> InputError:
    host = ce_host(components=list(components), files={SA_CONFIG: text})
    with pytest.raises(InputError) as caught:
        read(host)
    assert caught.value.path == SA_PATH
    assert caught.value.fix
    return caught.value


@pytest.mark.parametrize("port", ["abc", "0", "65536", "99999", "-1", "9905.0", "9 905",
                                  "0x2701", "٩٩٠٥"])
def test_bad_server_port(ce_host, port):
    error = error_of(ce_host, sa_config(server("DialerServer", port=port)))
    assert error.where == "line 5, Servers/Server[@Name='DialerServer']/@Port"
    assert "port" in error.problem


@pytest.mark.parametrize("port", ["x", "70000", "0"])
def test_bad_agent_port(ce_host, port):
    error = error_of(ce_host, sa_config(agent=f'<Agent Port="{port}" />'))
    assert error.where == "line 3, Agent/@Port"


@pytest.mark.parametrize(("endpoint", "where", "problem"), [
    ('Protocol="TCP" Port="x"', "Endpoint/@Port", "not a port number"),
    ('Protocol="UDP" Port="40100-40000"', "Endpoint/@Port", "ends before it starts"),
    ('Protocol="SCTP" Port="1"', "Endpoint/@Protocol", "not TCP or UDP"),
    ('Protocol="TCP"', "Endpoint", "without a Port"),
])
def test_bad_endpoint_child(ce_host, endpoint, where, problem):
    error = error_of(ce_host, sa_config(server("DialerServer", endpoints=[endpoint])))
    assert error.where.startswith("line 6, Servers/Server[@Name='DialerServer']/")
    assert error.where.endswith(where)
    assert problem in error.problem


@pytest.mark.parametrize(("args", "problem"), [
    ("-ORBEndpoint iiop://:99999", "not a port"),
    ("-ORBEndpoint iiop://:abc", "not a port number"),
    ("-ORBEndpoint \"iiop://:9904", "quote is never closed"),
    ("-ORBEndpoint", "has no value"),
    ("-ORBEndpoint iiop://:9904/portspan=0", "portspan"),
    ("-ORBEndpoint sciop://:9904", "sciop transport"),
])
def test_bad_tao_arguments(ce_host, args, problem):
    error = error_of(ce_host, sa_config(server("SDServer", args=args)))
    assert error.where == "line 6, Servers/Server[@Name='SDServer']/Arguments"
    assert problem in error.problem


@pytest.mark.parametrize(("text", "where"), [
    ("<ServerAgentConfig>\n  <Agent Port=\"9998\">\n</ServerAgentConfig>", "line 3, column 3"),
    # the second Name
    ("<ServerAgentConfig><Server Name='x' Name='y'/></ServerAgentConfig>", "line 1, column 37"),
    ("not xml at all", "line 1, column 1"),
])
def test_malformed_xml(ce_host, text, where):
    error = error_of(ce_host, text)
    assert error.where == where
    assert "not well-formed" in error.problem


def test_empty_file(ce_host):
    error = error_of(ce_host, "  \n")
    assert "empty" in error.problem


BOMB = """<?xml version="1.0"?>
<!DOCTYPE ServerAgentConfig [
  <!ENTITY a "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa">
  <!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">
  <!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;">
]>
<ServerAgentConfig><Agent Port="9998"/><Servers>
  <Server Name="&c;" Port="9905"/></Servers></ServerAgentConfig>
"""
XXE = """<?xml version="1.0"?>
<!DOCTYPE ServerAgentConfig [ <!ENTITY port SYSTEM "file:///etc/hostname"> ]>
<ServerAgentConfig><Agent Port="&port;"/></ServerAgentConfig>
"""


@pytest.mark.parametrize("text", [BOMB, XXE])
def test_entity_tricks_are_refused(ce_host, text):
    error = error_of(ce_host, text)
    assert "entit" in error.problem
    assert "DOCTYPE" in error.fix
    assert error.where.startswith("line ")


def test_a_config_that_is_a_folder_is_refused_as_one(ce_host):
    # Issue 8: "not found" hid it (and its ports); a folder or FIFO there is said to be one.
    host = ce_host(components=["ServerAgent"])
    host.path(SA_CONFIG).mkdir(parents=True)
    with pytest.raises(InputError, match="is a folder, not a file"):
        read(host)
