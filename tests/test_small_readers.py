"""The small readers: ServerManager.Config.xml, AgentClientApp.config.xml (section 3),
the Naming Service's TaoNamingServiceOptions (section 6) and the GeoCampaign ports
(section 1), the registry ones read from real .reg exports in both encodings."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cefw.errors import InputError
from cefw.readers import agentclient, geocampaign, naming, servermanager
from cefw.readers.context import Inputs
from cehost import (
    AC_CONFIG,
    GEO,
    GEO_WOW,
    PROGRAM_DIR,
    SM_CONFIG,
    TAO_PLAIN,
    TAO_WOW,
    Raw,
    codes,
    expand_sz,
    reg_export,
)

OPTIONS = "TaoNamingServiceOptions"
TAO_VALUE = rf"HKLM\{TAO_WOW}\{OPTIONS}"
NAMING_PROGRAM = PROGRAM_DIR + r"\Services\NamingService\NT_Naming_Service.exe"


def error(call, *args) -> InputError:
    with pytest.raises(InputError) as caught:
        call(*args)
    assert caught.value.fix
    return caught.value


# --- ServerManager -----------------------------------------------------------------------

SM_SPEC = """<!-- Tools\\ServerManager\\ServerManager.Config.xml -->
<ServerManagerConfig>
  <Listener Port="9997" />
</ServerManagerConfig>
"""


def sm(ce_host, text: str | bytes | None):
    files = {} if text is None else {SM_CONFIG: text}
    return servermanager.read(ce_host(components=["ServerManager"], files=files).context(),
                              Inputs())


def test_servermanager_spec_example(ce_host):
    reading = sm(ce_host, SM_SPEC)
    [ep] = reading.endpoints
    assert (ep.component, ep.protocol, ep.ports) == ("ServerManager", "TCP", ((9997, 9997),))
    assert ep.program == PROGRAM_DIR + r"\Tools\ServerManager\ServerManager.exe"
    assert ep.sources == ("server",)
    assert ep.origin.to_json() == {"kind": "file", "path": SM_CONFIG,
                                   "where": "line 3, Listener/@Port"}
    assert reading.findings == []


@pytest.mark.parametrize("text", [
    '\ufeff<?xml version="1.0" encoding="utf-8"?>\n<servermanagerconfig>\n'
    '  <listener port="9987"/>\n</servermanagerconfig>',
    "<SERVERMANAGERCONFIG>\n  <!-- <Listener Port=\"9997\"/> old -->\n"
    "  <LISTENER PORT=' 9987 '/>\n</SERVERMANAGERCONFIG>",
    "<ServerManagerConfig><Settings><Listener Port='9987'/></Settings></ServerManagerConfig>",
])
def test_servermanager_variants(ce_host, text):
    [ep] = sm(ce_host, text).endpoints
    assert ep.ports == ((9987, 9987),)
    assert ep.origin.kind == "file"


@pytest.mark.parametrize(("text", "why"), [
    (None, "not found"),
    ("<ServerManagerConfig/>", "names no port"),
    ("<ServerManagerConfig><Listener/></ServerManagerConfig>", "names no port"),
])
def test_servermanager_default(ce_host, text, why):
    reading = sm(ce_host, text)
    [ep] = reading.endpoints
    assert ep.ports == ((9997, 9997),)
    assert ep.origin.kind == "default" and why in ep.origin.where
    assert codes(reading.findings) == ["default-used"]
    assert "TCP 9997" in reading.findings[0].message


@pytest.mark.parametrize(("text", "where", "problem"), [
    ("<ServerManagerConfig>\n<Listener Port='nine'/></ServerManagerConfig>",
     "line 2, Listener/@Port", "not a port number"),
    ("<ServerManagerConfig>\n<Listener Port='65536'/></ServerManagerConfig>",
     "line 2, Listener/@Port", "not a port"),
    ("<ServerManagerConfig>\n<Listener Port='9997'></ServerManagerConfig>",
     "line 2, column 25", "not well-formed"),  # the mismatched end tag
    ('<!DOCTYPE x [<!ENTITY p "9997">]>\n<ServerManagerConfig><Listener Port="&p;"/>'
     "</ServerManagerConfig>", "line 1", "entit"),
])
def test_servermanager_errors(ce_host, text, where, problem):
    host = ce_host(components=["ServerManager"], files={SM_CONFIG: text})
    err = error(servermanager.read, host.context(), Inputs())
    assert (err.path, err.where) == (SM_CONFIG, where)
    assert problem in err.problem


# --- AgentClientApp ----------------------------------------------------------------------

AC_SPEC = """<configuration>
  <appSettings>
    <add key="ListenPort" value="19960" />
  </appSettings>
</configuration>
"""


def ac(ce_host, text: str | None):
    files = {} if text is None else {AC_CONFIG: text}
    return agentclient.read(ce_host(components=["AgentClientApp"], files=files).context(),
                            Inputs())


def test_agentclient_spec_example(ce_host):
    reading = ac(ce_host, AC_SPEC)
    [ep] = reading.endpoints
    assert (ep.component, ep.protocol, ep.ports) == ("AgentClientApp", "TCP",
                                                     ((19960, 19960),))
    assert ep.program == PROGRAM_DIR + r"\Servers\AgentClientApp.Net\AgentClientApp.exe"
    assert ep.origin.to_json() == {
        "kind": "file", "path": AC_CONFIG,
        "where": "line 3, appSettings/add[@key='ListenPort']/@value"}
    assert reading.findings == []


def test_agentclient_tolerates_case_comments_and_other_keys(ce_host):
    text = ('\ufeff<?xml version="1.0" encoding="utf-8"?>\n<Configuration>\n'
            "  <startup><supportedRuntime version='v4.0'/></startup>\n"
            "  <APPSETTINGS>\n"
            "    <add key='ServerAddress' value='ce-core-01'/>\n"
            "    <!-- <add key='ListenPort' value='19960'/> before the move -->\n"
            "    <ADD KEY='listenport' VALUE='19961'/>\n"
            "  </APPSETTINGS>\n</Configuration>\n")
    [ep] = ac(ce_host, text).endpoints
    assert ep.ports == ((19961, 19961),)
    assert ep.origin.where == "line 7, APPSETTINGS/ADD[@KEY='listenport']/@VALUE"


@pytest.mark.parametrize("text", [
    None, "<configuration/>",
    "<configuration><appSettings><add key='Other' value='1'/></appSettings></configuration>",
])
def test_agentclient_default(ce_host, text):
    reading = ac(ce_host, text)
    [ep] = reading.endpoints
    assert ep.ports == ((19960, 19960),) and ep.origin.kind == "default"
    assert codes(reading.findings) == ["default-used"]


@pytest.mark.parametrize("value", ["", "x", "0", "70000", "19960-19961"])
def test_agentclient_bad_port(ce_host, value):
    text = f"<configuration><appSettings>\n<add key='ListenPort' value='{value}'/>" \
           "</appSettings></configuration>"
    host = ce_host(components=["AgentClientApp"], files={AC_CONFIG: text})
    if not value:  # a blank value is no value: the default, said so
        reading = agentclient.read(host.context(), Inputs())
        assert codes(reading.findings) == ["default-used"]
        return
    err = error(agentclient.read, host.context(), Inputs())
    assert err.path == AC_CONFIG
    assert err.where == "line 2, appSettings/add[@key='ListenPort']/@value"


# --- Naming Service via the registry -----------------------------------------------------

def ns(ce_host, options: str | Raw | int | None, *, key: str = TAO_WOW, version: int = 5,
       **host_args):
    registry = host_args.pop("registry", None)
    if registry is None and options is not None:
        data = options if isinstance(options, Raw | int) else expand_sz(
            options, ansi=version == 4)
        registry = {key: {OPTIONS: data}}
    host = ce_host(components=["NamingService"], registry=registry,
                   registry_version=version, **host_args)
    return naming.read(host.context(), Inputs())


def summary(reading) -> list[tuple]:
    return [(e.protocol, e.ports, e.dynamic, e.loopback_only, e.bind)
            for e in reading.endpoints]


@pytest.mark.parametrize("version", [5, 4])
def test_naming_hex2_value_in_both_encodings(ce_host, version):
    reading = ns(ce_host, "-ORBEndPoint iiop://:9999 -ORBDottedDecimalAddresses 1",
                 version=version)
    [ep] = reading.endpoints
    assert (ep.component, ep.protocol, ep.ports) == ("NamingService", "TCP", ((9999, 9999),))
    assert ep.program == NAMING_PROGRAM
    assert ep.sources == ("server", "client")
    assert ep.origin.kind == "registry"
    assert ep.origin.path == TAO_VALUE
    assert ep.origin.where == ("registry.reg line 4 (REG_EXPAND_SZ): "
                               "-ORBEndPoint iiop://:9999")
    assert reading.findings == []


def test_naming_reg_sz_under_the_plain_path_of_a_32_bit_export(ce_host):
    reading = ns(ce_host, "-ORBListenEndpoints iiop://:9899", key=TAO_PLAIN)
    [ep] = reading.endpoints
    assert ep.ports == ((9899, 9899),)
    assert ep.origin.path == rf"HKLM\{TAO_PLAIN}\{OPTIONS}"


def test_naming_reg_sz_written_as_a_quoted_string(ce_host):
    reading = ns(ce_host, None, registry={TAO_WOW: {OPTIONS: "-ORBEndpoint iiop://:9898"}})
    [ep] = reading.endpoints
    assert ep.ports == ((9898, 9898),)
    assert "(REG_SZ)" in ep.origin.where


def test_naming_non_ascii_in_a_regedit4_export(ce_host):
    options = "-ORBEndpoint iiop://:9999 -ORBSvcConf 'C:\\CE\\Konfigur\u00e4tion\\x.conf'"
    reading = ns(ce_host, options, version=4)
    assert summary(reading) == [("TCP", ((9999, 9999),), False, False, "")]


@pytest.mark.parametrize(("options", "expected"), [
    ("-ORBEndpoint iiop://:9999", [("TCP", ((9999, 9999),), False, False, "")]),
    ("-ORBEndpoint iiop://127.0.0.1:9999", [("TCP", ((9999, 9999),), False, True,
                                             "127.0.0.1")]),
    ("-ORBEndpoint iiop://[::1]:9999", [("TCP", ((9999, 9999),), False, True, "::1")]),
    ("-ORBEndpoint iiop://10.0.1.10:9999", [("TCP", ((9999, 9999),), False, False,
                                             "10.0.1.10")]),
    ("-ORBEndpoint iiop://:9999/portspan=4", [("TCP", ((9999, 10002),), False, False, "")]),
    ("-ORBEndpoint 'iiop://:9999;iiop://:9990' -orbendpoint iiop://0.0.0.0:9991",
     [("TCP", ((9990, 9991), (9999, 9999)), False, False, "")]),
    ("-ORBEndpoint iiop://", [("TCP", (), True, False, "")]),
    ("-ORBDottedDecimalAddresses 1", [("TCP", (), True, False, "")]),
    ("", [("TCP", (), True, False, "")]),
    ("-ORBEndpoint uiop://ns", []),  # a local transport only: no network listener
    ("-ORBEndpoint iiop://:9999 # -m 1", [("TCP", ((9999, 9999),), False, False, "")]),
])
def test_naming_endpoint_forms(ce_host, options, expected):
    reading = ns(ce_host, options)
    assert summary(reading) == expected
    loopback = [f for f in reading.findings if f.code == "loopback-only"]
    assert len(loopback) == sum(e.loopback_only for e in reading.endpoints)
    for f in loopback:
        assert f.severity == "info"
        assert "127.0.0.1" in f.message or "::1" in f.message


@pytest.mark.parametrize(("options", "port"), [
    ("-ORBEndpoint iiop://:9999 -m 1", 10013),
    ("-m 1 -ORBEndpoint iiop://:9999", 10013),
    ("-ORBEndpoint iiop://:9999 -m 0 -m 1", 10013),
    ("-ORBEndpoint iiop://:9999 -m 1 -ORBMulticastDiscoveryEndpoint 239.255.0.1:10020",
     10020),
])
def test_naming_multicast_discovery_opens_udp(ce_host, options, port):
    reading = ns(ce_host, options)
    [tcp, udp] = reading.endpoints
    assert tcp.ports == ((9999, 9999),)
    assert (udp.protocol, udp.ports, udp.label) == ("UDP", ((port, port),),
                                                    "multicast discovery")
    assert udp.origin.kind == "registry" and "-m 1" in udp.origin.where
    assert codes(reading.findings) == ["tao-multicast"]


@pytest.mark.parametrize("options", ["-ORBEndpoint iiop://:9999 -m 0",
                                     "-ORBEndpoint iiop://:9999 -m 1 -m 0",
                                     "-ORBEndpoint iiop://:9999"])
def test_naming_multicast_off(ce_host, options):
    reading = ns(ce_host, options)
    assert [e.protocol for e in reading.endpoints] == ["TCP"]
    assert reading.findings == []


@pytest.mark.parametrize("registry", [None, {GEO: {"Other": 1}}])
def test_naming_absent_value_is_the_default_said_so(ce_host, registry):
    reading = ns(ce_host, None, registry=registry)
    [ep] = reading.endpoints
    assert ep.ports == ((9999, 9999),)
    assert ep.origin.kind == "default" and ep.origin.path == ""
    assert OPTIONS in ep.origin.where
    [note] = reading.findings
    assert (note.code, note.severity, note.component) == ("default-used", "info",
                                                          "NamingService")
    assert "TCP 9999" in note.message


def test_naming_value_deleted_by_a_later_export_is_absent(ce_host):
    host = ce_host(components=["NamingService"],
                   registry={TAO_WOW: {OPTIONS: expand_sz("-ORBEndpoint iiop://:9000")}},
                   extra_registry=[reg_export({TAO_WOW: {OPTIONS: Raw("-")}})])
    reading = naming.read(host.context(), Inputs())
    assert [e.origin.kind for e in reading.endpoints] == ["default"]


def test_naming_later_export_wins(ce_host):
    host = ce_host(components=["NamingService"],
                   registry={TAO_WOW: {OPTIONS: expand_sz("-ORBEndpoint iiop://:9000")}},
                   extra_registry=[reg_export({TAO_PLAIN: {OPTIONS: expand_sz(
                       "-ORBEndpoint iiop://:9001")}}, version=4)])
    # Both spellings are the 32-bit view; the WOW6432Node one is what a 64-bit
    # machine's 32-bit program reads, so it is preferred.
    assert summary(naming.read(host.context(), Inputs())) == [("TCP", ((9000, 9000),), False, False,
                                                     "")]


@pytest.mark.parametrize(("data", "problem"), [
    (Raw("dword:0000270f"), "must be a string"),
    (Raw("hex(7):2d,00,00,00,00,00"), "must be a string"),
    (expand_sz("-ORBEndpoint iiop://:%NS_PORT%"), "not a port number"),
    (expand_sz("-ORBEndpoint iiop://:70000"), "not a port"),
    (expand_sz("-ORBEndpoint 'iiop://:9999"), "quote"),
    (expand_sz("-ORBEndpoint"), "has no value"),
    (expand_sz("-ORBEndpoint iiop://:9999 -m 1 -ORBMulticastDiscoveryEndpoint :x"),
     "not a port number"),
    (expand_sz("-ORBEndpoint htiop://:80"), "htiop"),
])
def test_naming_bad_values(ce_host, data, problem):
    host = ce_host(components=["NamingService"], registry={TAO_WOW: {OPTIONS: data}})
    err = error(naming.read, host.context(), Inputs())
    assert err.path == TAO_VALUE
    assert err.where.startswith("registry.reg line 4 (")
    assert problem in err.problem


# Property: whatever the option text, written as hex(2) in either encoding it reads back
# through the .reg parser exactly as the TAO parser reads the text itself.
words = st.sampled_from(["-ORBEndpoint", "-ORBListenEndpoints", "iiop://:9999",
                         "iiop://127.0.0.1:9000", "'iiop://:1;iiop://h:2'",
                         "iiop://:9100/portspan=3", "-ORBDottedDecimalAddresses", "1",
                         "# note", '"a b"', "\u00e9t\u00e9", "\\\\server\\share"])


@settings(max_examples=40, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(words, max_size=8), st.sampled_from([4, 5]))
def test_naming_through_reg_matches_the_text(ce_host, parts, version):
    from cefw.formats import tao

    text = " ".join(parts)
    try:
        wanted = tao.endpoints_in(text)
    except tao.TaoSyntaxError:
        with pytest.raises(InputError):
            ns(ce_host, text, version=version)
        return
    reading = ns(ce_host, text, version=version)
    got_ports = sorted(r for e in reading.endpoints for r in e.ports)
    want_ports = sorted(e.ports for _o, e in wanted[0] if e.ports)
    from cefw.ports import merge

    assert merge(got_ports) == merge(want_ports)


# --- GeoCampaign -------------------------------------------------------------------------

UCMA = "UCMARecorderService"
CONNECTOR = "TelephonyConnectorServer.UCMA"


def geo(ce_host, values: dict, *, key: str = GEO, version: int = 5,
        components=(UCMA, CONNECTOR)):
    host = ce_host(components=list(components), registry={key: values} if values else None,
                   registry_version=version)
    return geocampaign.read(host.context(), Inputs())


def ports(reading) -> dict[tuple[str, str], tuple[tuple[int, int], str]]:
    return {(e.component, e.label): (e.ports[0], e.origin.kind) for e in reading.endpoints}


@pytest.mark.parametrize("version", [5, 4])
def test_geocampaign_dword_and_reg_sz(ce_host, version):
    reading = geo(ce_host, {"Lync_Recorder_ApplicationPort": 9101,
                            "Lync_Recorder_Port": " 9972 ",
                            "Lync_Connector_ApplicationPort": expand_sz("9001",
                                                                        ansi=version == 4)},
                  version=version)
    assert ports(reading) == {
        (UCMA, "application port"): ((9101, 9101), "registry"),
        (UCMA, "recorder port"): ((9972, 9972), "registry"),
        (CONNECTOR, "UCMA application port"): ((9001, 9001), "registry"),
    }
    assert reading.findings == []
    by_label = {e.label: e for e in reading.endpoints}
    assert by_label["application port"].origin.path == rf"HKLM\{GEO}\Lync_Recorder_ApplicationPort"
    assert by_label["application port"].origin.where == "registry.reg line 4 (REG_DWORD)"
    assert by_label["recorder port"].origin.where == "registry.reg line 5 (REG_SZ)"
    assert by_label["application port"].program == (
        PROGRAM_DIR + r"\Services\UCMARecorderService\UCMARecorderService.exe")


def test_geocampaign_absent_values_are_defaults_said_so(ce_host):
    reading = geo(ce_host, {"Lync_Recorder_Port": 9972})
    assert ports(reading) == {
        (UCMA, "application port"): ((9100, 9100), "default"),
        (UCMA, "recorder port"): ((9972, 9972), "registry"),
        (CONNECTOR, "UCMA application port"): ((9000, 9000), "default"),
    }
    assert codes(reading.findings) == ["default-used", "default-used"]
    assert "Lync_Recorder_ApplicationPort" in reading.findings[0].message


def test_geocampaign_value_only_in_the_32_bit_view(ce_host):
    reading = geo(ce_host, {"Lync_Recorder_ApplicationPort": 9101}, key=GEO_WOW,
                  components=[UCMA])
    app = {e.label: e for e in reading.endpoints}["application port"]
    assert app.ports == ((9100, 9100),) and app.origin.kind == "default"
    wrong = [f for f in reading.findings if f.code == "registry-wrong-view"]
    assert len(wrong) == 1
    assert wrong[0].component == UCMA and "WOW6432Node" in wrong[0].message
    assert sorted(codes(reading.findings)) == ["default-used", "default-used",
                                               "registry-wrong-view"]


def test_geocampaign_only_for_installed_components(ce_host):
    reading = geo(ce_host, {"Lync_Recorder_ApplicationPort": 9101,
                            "Lync_Connector_ApplicationPort": 9001}, components=[CONNECTOR])
    assert ports(reading) == {(CONNECTOR, "UCMA application port"): ((9001, 9001),
                                                                      "registry")}
    assert geo(ce_host, {"Lync_Recorder_Port": 1}, components=["DialerServer"]) == ([], [])


@pytest.mark.parametrize(("data", "problem"), [
    (0, "not a port"),
    (70000, "not a port"),
    (0xFFFFFFFF, "not a port"),
    ("nine", "not a port number"),
    ("", "not a port number"),
    ("9100 9101", "not a port number"),
    (Raw("hex:8c,23"), "not a port number"),
    (Raw("hex(7):39,00,00,00,00,00"), "not a port number"),
])
def test_geocampaign_bad_values(ce_host, data, problem):
    host = ce_host(components=[UCMA], registry={GEO: {"Lync_Recorder_Port": data}})
    err = error(geocampaign.read, host.context(), Inputs())
    assert err.path == rf"HKLM\{GEO}\Lync_Recorder_Port"
    assert err.where.startswith("registry.reg line 4")
    assert problem in err.problem


def test_naming_old_value_in_a_reg_comment_is_ignored(ce_host):
    text = ("Windows Registry Editor Version 5.00\r\n\r\n"
            f"[HKEY_LOCAL_MACHINE\\{TAO_WOW}]\r\n"
            ';"TaoNamingServiceOptions"="-ORBEndpoint iiop://:9000"\r\n'
            f'"{OPTIONS}"={expand_sz("-ORBEndpoint iiop://:9999")}\r\n'
            '; "TaoNamingServiceOptions"=-\r\n')
    reading = ns(ce_host, None, registry=text)
    [ep] = reading.endpoints
    assert ep.ports == ((9999, 9999),)
    assert ep.origin.where.startswith("registry.reg line 5 (REG_EXPAND_SZ)")


@pytest.mark.parametrize("version", [5, 4])
def test_geocampaign_dwords_in_a_wow6432node_and_plain_export(ce_host, version):
    """A 64-bit export holds both views: the plain key is what the 64-bit programs read."""
    host = ce_host(components=[UCMA], registry_version=version, registry={
        GEO_WOW: {"Lync_Recorder_ApplicationPort": 1111, "Lync_Recorder_Port": 2222},
        GEO: {"Lync_Recorder_ApplicationPort": 9101, "Lync_Recorder_Port": 9972}})
    reading = geocampaign.read(host.context(), Inputs())
    assert sorted(e.ports for e in reading.endpoints) == [((9101, 9101),), ((9972, 9972),)]
    assert reading.findings == []
