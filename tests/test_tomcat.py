"""The Tomcat reader (WebService): server.xml, catalina.properties, the version, webapps."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from cefw.errors import InputError
from cefw.formats import javaprops
from cefw.model import Endpoint
from cefw.plan import policy
from cefw.readers import tomcat
from cefw.readers.context import HostContext

DATA = Path(__file__).resolve().parent / "data" / "tomcat"
STOCK_DIR = DATA / "stock"  # shipped with the tests (see its README.md): never skipped
STOCK = sorted(STOCK_DIR.glob("server-*.xml"))
PROGRAM = r"C:\CE\Tomcat\bin\tomcat8.exe"
ACTIVE_AJP = {"8.5.50", "9.0.30"}  # the last releases that ship an active AJP connector


def host(tmp_path: Path, server_xml: str | bytes | Path | None = None, *,
         properties: str | None = None, notes: str | None = None,
         jar: dict[str, str] | bytes | None = None, webapps: tuple[str, ...] = (),
         tomcat_dir: str = "Tomcat") -> HostContext:
    """A CE host tree in tmp_path: Tomcat\\bin\\tomcat8.exe plus what the test gives."""
    root = tmp_path / "ce"
    base = root / tomcat_dir
    (base / "bin").mkdir(parents=True)
    (base / "bin" / "tomcat8.exe").write_bytes(b"MZ")
    conf = base / "conf"
    conf.mkdir()
    if isinstance(server_xml, Path):
        shutil.copyfile(server_xml, conf / "server.xml")
    elif isinstance(server_xml, str):
        (conf / "server.xml").write_text(server_xml, encoding="utf-8")
    elif isinstance(server_xml, bytes):
        (conf / "server.xml").write_bytes(server_xml)
    if properties is not None:
        (conf / "catalina.properties").write_bytes(properties.encode("latin-1"))
    if notes is not None:
        (base / "RELEASE-NOTES").write_text(notes, encoding="latin-1")
    if jar is not None:
        (base / "lib").mkdir()
        _write_jar(base / "lib" / "catalina.jar", jar)
    for name in webapps:
        target = base / "webapps" / name
        target.parent.mkdir(exist_ok=True)
        if name.lower().endswith(".war"):
            target.write_bytes(b"PK\x05\x06" + bytes(18))
        else:
            target.mkdir()
    return HostContext(install_dir=root, program_dir=r"C:\CE")


def _write_jar(path: Path, content: dict[str, str] | bytes) -> None:
    if isinstance(content, bytes):
        path.write_bytes(content)
        return
    body = "".join(f"{k}={v}\n" for k, v in content.items())
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("META-INF/MANIFEST.MF", "Manifest-Version: 1.0\n")
        archive.writestr(tomcat.SERVER_INFO, "# Tomcat's ServerInfo\n" + body)


def notes_for(version: str) -> str:
    return ("================================================================\n"
            f"                     Apache Tomcat Version {version}\n"
            "                            Release Notes\n")


def server(*connectors: str, attrs: str = 'port="8005" shutdown="SHUTDOWN"') -> str:
    body = "\n".join(f"    {c}" for c in connectors)
    return (f'<?xml version="1.0" encoding="UTF-8"?>\n<Server {attrs}>\n'
            f'  <Service name="Catalina">\n{body}\n  </Service>\n</Server>\n')


def read(ctx: HostContext):
    return tomcat.read_tomcat(ctx, PROGRAM)


def by_port(endpoints: list[Endpoint]) -> dict[int, Endpoint]:
    return {e.ports[0][0]: e for e in endpoints if e.ports}


def codes(reading) -> list[str]:
    return [f.code for f in reading.findings]


def line_of(text: str, needle: str, after: int = 0) -> int:
    """1-based line of the first `needle` outside XML comments."""
    stripped = re.sub(r"<!--.*?-->", lambda m: re.sub(r"[^\n]", " ", m.group()), text,
                      flags=re.S)
    return stripped.count("\n", 0, stripped.index(needle, after)) + 1


# -- the stock server.xml of each Tomcat release ------------------------------------------

def test_the_stock_files_are_shipped():
    # An empty list would make the test below a silent skip.
    assert {p.stem for p in STOCK} >= {f"server-{v}" for v in ACTIVE_AJP} and len(STOCK) >= 8


@pytest.mark.parametrize("path", STOCK, ids=[p.stem for p in STOCK])
def test_stock_server_xml(tmp_path, path):
    version = path.stem.removeprefix("server-")
    text = path.read_text(encoding="utf-8")
    reading = read(host(tmp_path, path, notes=notes_for(version)))
    ports = by_port(reading.endpoints)

    shutdown = ports[8005]
    assert (shutdown.label, shutdown.loopback_only, shutdown.bind) == (
        "shutdown", True, "localhost")
    assert not shutdown.needs_rule
    assert shutdown.origin.where == f"line {line_of(text, '<Server port=')}, Server/@port"

    http = ports[8080]
    assert (http.label, http.bind, http.loopback_only, http.dynamic) == ("HTTP", "", False,
                                                                         False)
    assert http.origin.kind == "file"
    assert http.origin.path == r"Tomcat\conf\server.xml"
    line = line_of(text, '<Connector port="8080"')
    assert http.origin.where == f"line {line}, Service[@name='Catalina']/Connector/@port"
    assert http.sources == ("server", "client") and http.program == PROGRAM

    if version in ACTIVE_AJP:
        ajp = ports[8009]
        assert (ajp.label, ajp.bind, ajp.loopback_only) == ("AJP", "", False)
        assert sorted(ports) == [8005, 8009, 8080]
        assert codes(reading) == ["ajp-exposed"]
        assert reading.findings[0].severity == "high"
        assert f"Tomcat {version}" in reading.findings[0].message
    else:
        assert sorted(ports) == [8005, 8080]  # AJP and 8443 exist only in comments
        assert codes(reading) == []
    assert len(reading.endpoints) == len(ports)


def test_stock_ajp_with_unknown_version_counts_as_all_addresses(tmp_path):
    reading = read(host(tmp_path, STOCK_DIR / "server-9.0.30.xml"))
    assert by_port(reading.endpoints)[8009].loopback_only is False
    (ajp,) = [f for f in reading.findings if f.code == "ajp-exposed"]
    assert "version is unknown" in ajp.message
    assert "counts as listening on all addresses" in ajp.message


def test_stock_ajp_connector_follows_the_version_not_the_file(tmp_path):
    # The 9.0.30 file under a 9.0.31 runtime: same XML, AJP now defaults to loopback.
    reading = read(host(tmp_path, STOCK_DIR / "server-9.0.30.xml",
                        jar={"server.number": "9.0.31.0"}))
    ajp = by_port(reading.endpoints)[8009]
    assert (ajp.loopback_only, ajp.bind) == (True, "127.0.0.1")
    assert codes(reading) == ["loopback-only"]


# -- the Tomcat version ---------------------------------------------------------------------

def test_version_from_release_notes(tmp_path):
    ctx = host(tmp_path, notes=notes_for("8.5.51"))
    version = tomcat.tomcat_version(ctx)
    assert version.number == (8, 5, 51)
    assert version.text == r"8.5.51 (Tomcat\RELEASE-NOTES)"


@pytest.mark.parametrize(("info", "expected"), [
    ({"server.info": "Apache Tomcat/9.0.30", "server.number": "9.0.30.0"}, (9, 0, 30)),
    ({"server.info": "Apache Tomcat/10.1.59"}, (10, 1, 59)),
    ({"server.number": "7.0.109.0"}, (7, 0, 109)),
    ({"server.info": "Apache Tomcat/10.0.0-M1", "server.built": "x"}, (10, 0, 0)),
])
def test_version_from_catalina_jar(tmp_path, info, expected):
    ctx = host(tmp_path, jar=info)
    version = tomcat.tomcat_version(ctx)
    assert version.number == expected
    assert version.text.endswith(r"(Tomcat\lib\catalina.jar)")


def test_jar_wins_over_release_notes_and_a_broken_jar_falls_back(tmp_path):
    ctx = host(tmp_path / "a", jar={"server.number": "9.0.31.0"}, notes=notes_for("9.0.30"))
    assert tomcat.tomcat_version(ctx).number == (9, 0, 31)
    broken = host(tmp_path / "b", jar=b"not a zip file", notes=notes_for("8.5.50"))
    assert tomcat.tomcat_version(broken).number == (8, 5, 50)
    bare = host(tmp_path / "c", jar=b"PK\x05\x06" + bytes(18))  # an empty zip
    assert tomcat.tomcat_version(bare).number is None
    assert "unknown" in tomcat.tomcat_version(bare).text


@pytest.mark.parametrize(("version", "loopback"), [
    ("7.0.99", False), ("7.0.100", True), ("8.0.53", False), ("8.5.50", False),
    ("8.5.51", True), ("9.0.30", False), ("9.0.31", True), ("10.0.0", True),
    ("11.0.25", True), ("6.0.53", False),
])
def test_ajp_default_bind_by_version(tmp_path, version, loopback):
    xml = server('<Connector port="8009" protocol="AJP/1.3" redirectPort="8443" />')
    reading = read(host(tmp_path, xml, notes=notes_for(version)))
    ajp = by_port(reading.endpoints)[8009]
    assert ajp.loopback_only is loopback
    assert ("ajp-exposed" in codes(reading)) is not loopback


def test_zipfile_is_imported_only_when_the_jar_exists(tmp_path):
    # start-up budget: `cefw plan` on a host without catalina.jar must not pay for zipfile
    ctx = host(tmp_path, server('<Connector port="8080" />'))
    code = (
        "import sys; from pathlib import Path; from cefw.readers.context import HostContext; "
        "from cefw.readers import tomcat; "
        f"ctx = HostContext(Path({str(ctx.install_dir)!r}), 'C:\\\\CE'); "
        "r = tomcat.read_tomcat(ctx, 'x'); print(len(r.endpoints), 'zipfile' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout.split()
    assert out == ["2", "False"]


# -- portOffset -----------------------------------------------------------------------------

def test_port_offset_applies_to_every_port(tmp_path):
    xml = server('<Connector port="8080" />',
                 '<Connector port="8009" protocol="AJP/1.3" address="127.0.0.1" />',
                 '<Connector port="0" />',
                 attrs='port="8005" portOffset="100" shutdown="SHUTDOWN"')
    reading = read(host(tmp_path, xml))
    ports = by_port(reading.endpoints)
    assert sorted(ports) == [8105, 8109, 8180]
    assert ports[8180].origin.where.endswith("/Connector/@port, portOffset 100")
    assert ports[8105].origin.where == "line 2, Server/@port, portOffset 100"
    (dynamic,) = [e for e in reading.endpoints if e.dynamic]
    assert "portOffset" not in dynamic.origin.where  # 0 stays 0: a free port


def test_port_offset_past_65535_is_an_error(tmp_path):
    xml = server('<Connector port="65500" />', attrs='port="-1" portOffset="100"')
    with pytest.raises(InputError) as err:
        read(host(tmp_path, xml))
    assert "65600" in err.value.problem and "portOffset" in err.value.fix
    assert err.value.where == "line 4, Service[@name='Catalina']/Connector/@port"


@pytest.mark.parametrize("offset", ["-10", "ten", "1.5", ""])
def test_bad_port_offset_is_an_error(tmp_path, offset):
    xml = server('<Connector port="8080" />', attrs=f'port="8005" portOffset="{offset}"')
    with pytest.raises(InputError) as err:
        read(host(tmp_path, xml))
    assert err.value.where == "line 2, Server/@portOffset"
    assert "port offset" in err.value.problem


# -- ${name} from catalina.properties ---------------------------------------------------------

def test_properties_substituted_with_their_origin(tmp_path):
    ctx = host(tmp_path, DATA / "server-properties.xml",
               properties=(DATA / "catalina.properties").read_text(encoding="latin-1"))
    reading = read(ctx)
    ports = by_port(reading.endpoints)
    assert sorted(ports) == [8109, 8180, 8543]
    http = ports[8180]
    assert http.origin.where == (
        "line 5, Service[@name='Catalina']/Connector/@port, "
        r"${http.port} from Tomcat\conf\catalina.properties line 6, "
        r"portOffset 100 (${port.offset} from Tomcat\conf\catalina.properties line 5)")
    assert r"${https.port} from Tomcat\conf\catalina.properties line 7" in (
        ports[8543].origin.where)  # a value continued on the next line
    assert (ports[8543].label, ports[8543].bind) == ("HTTPS", "")
    ajp = ports[8109]
    assert (ajp.bind, ajp.loopback_only) == ("127.0.0.1", True)
    assert not any(e.label == "shutdown" for e in reading.endpoints)  # -1 from properties
    assert "ajp-exposed" not in codes(reading)


def test_default_syntax_with_unknown_or_new_version(tmp_path):
    xml = server('<Connector port="${http.port:-8081}" />',
                 '<Connector port="${ajp.port:-8010}" address="${ajp.bind:-127.0.0.1}" '
                 'protocol="AJP/1.3" />')
    for name, extra in (("unknown", {}), ("new", {"notes": notes_for("9.0.35")})):
        reading = read(host(tmp_path / name, xml, properties="ajp.port=8019\n", **extra))
        ports = by_port(reading.endpoints)
        assert sorted(ports) == [8005, 8019, 8081]
        assert "${http.port:-8081}: http.port not defined, default '8081'" in (
            ports[8081].origin.where)
        assert r"${ajp.port:-8010}: ajp.port from Tomcat\conf\catalina.properties line 1" in (
            ports[8019].origin.where)
        assert ports[8019].loopback_only


@pytest.mark.parametrize("version", ["9.0.34", "8.5.54", "7.0.109"])
def test_default_syntax_before_it_existed_is_an_error(tmp_path, version):
    xml = server('<Connector port="${http.port:-8081}" />')
    with pytest.raises(InputError) as err:
        read(host(tmp_path, xml, notes=notes_for(version)))
    assert "8.5.55 / 9.0.35" in err.value.problem
    assert f"Tomcat {version}" in err.value.problem
    assert "http.port=value" in err.value.fix


def test_default_syntax_on_an_old_version_uses_the_literal_name(tmp_path):
    # Tomcat 9.0.30 looks up the whole "http.port:-8081": defined, it is used.
    xml = server('<Connector port="${http.port:-8081}" />')
    reading = read(host(tmp_path, xml, properties="http.port\\:-8081=8090\n",
                        notes=notes_for("9.0.30")))
    assert 8090 in by_port(reading.endpoints)


def test_unresolved_property_is_an_error_naming_file_line_and_fix(tmp_path):
    xml = server('<Connector port="8080" />', '<Connector port="${ajp.port}" '
                 'protocol="AJP/1.3" />')
    with pytest.raises(InputError) as err:
        read(host(tmp_path, xml, properties="http.port=8080\n"))
    exc = err.value
    assert exc.path == r"Tomcat\conf\server.xml"
    assert exc.where == "line 5, Service[@name='Catalina']/Connector/@port"
    assert "${ajp.port}" in exc.problem
    assert r"Tomcat\conf\catalina.properties" in exc.problem
    assert r"define it in Tomcat\conf\catalina.properties" in exc.fix
    assert "ajp.port=value" in exc.fix
    assert "line 5" in exc.render()


def test_unresolved_property_without_a_properties_file(tmp_path):
    xml = server('<Connector port="8080" address="${bind.address}" />')
    with pytest.raises(InputError) as err:
        read(host(tmp_path, xml))
    assert "does not exist" in err.value.problem
    assert err.value.where.endswith("/Connector/@address")


def test_properties_in_attributes_cefw_does_not_use_are_left_to_tomcat(tmp_path):
    # ${catalina.base} is set by Tomcat at start-up, never in catalina.properties.
    xml = server('<Connector port="8080" />',
                 '<Engine name="Catalina"><Valve directory="${catalina.base}/logs" /></Engine>')
    assert sorted(by_port(read(host(tmp_path, xml)).endpoints)) == [8005, 8080]


def test_substituted_value_that_is_not_a_port(tmp_path):
    xml = server('<Connector port="${http.port}" />')
    with pytest.raises(InputError) as err:
        read(host(tmp_path, xml, properties="http.port=eighty\n"))
    assert "'eighty'" in err.value.problem
    assert r"${http.port} from Tomcat\conf\catalina.properties line 1" in err.value.problem


def test_malformed_unicode_escape_in_properties(tmp_path):
    with pytest.raises(InputError) as err:
        read(host(tmp_path, server('<Connector port="8080" />'),
                  properties="a=1\nb=\\u12g4\n"))
    assert err.value.path == r"Tomcat\conf\catalina.properties"
    assert err.value.where == "line 2"
    assert "\\uXXXX" in err.value.problem


def test_properties_parser_follows_java():
    text = ("# comment \\\n"
            "  ! another\n"
            "a=1\n"
            "b : 2\n"
            "c    3\n"
            "d\n"
            "e=  spaced value  \n"
            "f=one \\\n"
            "     two \\\\\n"
            "g=\\t\\n\\u0041\\=\\:\\#\n"
            "h\\ key=x\n"
            "i:=j\n"
            "k==\n"
            "a=last wins\r\n"
            "l=end\\")
    props = javaprops.parse_properties(text)
    values = {k: v for k, (v, _) in props.items()}
    assert values == {
        "a": "last wins", "b": "2", "c": "3", "d": "", "e": "spaced value  ",
        "f": "one two \\", "g": "\t\nA=:#", "h key": "x", "i": "=j", "k": "=", "l": "end",
    }
    assert props["f"][1] == 8 and props["a"][1] == 14 and props["l"][1] == 15


# -- addresses, labels, connectors ---------------------------------------------------------

@pytest.mark.parametrize(("address", "bind", "loopback"), [
    ("127.0.0.1", "127.0.0.1", True), ("127.0.1.1", "127.0.1.1", True),
    ("::1", "::1", True), ("0:0:0:0:0:0:0:1", "0:0:0:0:0:0:0:1", True),
    ("localhost", "localhost", True), ("LocalHost", "LocalHost", True),
    ("::ffff:127.0.0.1", "::ffff:127.0.0.1", True),
    ("0.0.0.0", "", False), ("::", "", False), ("0:0:0:0:0:0:0:0", "", False),
    ("10.0.1.20", "10.0.1.20", False), ("fe80::1", "fe80::1", False),
    ("ce-web01.example.org", "ce-web01.example.org", False),
])
def test_connector_address_variants(tmp_path, address, bind, loopback):
    xml = server(f'<Connector port="8080" address="{address}" />',
                 f'<Connector port="8009" protocol="AJP/1.3" address="{address}" />')
    reading = read(host(tmp_path, xml, notes=notes_for("9.0.31")))
    for port in (8080, 8009):
        endpoint = by_port(reading.endpoints)[port]
        assert (endpoint.bind, endpoint.loopback_only) == (bind, loopback)
    assert ("ajp-exposed" in codes(reading)) is not loopback


def test_case_insensitive_names_services_and_ignored_connectors(tmp_path):
    ctx = host(tmp_path, DATA / "server-ce.xml", tomcat_dir="TOMCAT")
    conf = tmp_path / "ce" / "TOMCAT" / "conf"
    (conf / "server.xml").rename(conf / "SERVER.XML")
    conf.rename(conf.with_name("CONF"))
    reading = read(ctx)
    ports = by_port(reading.endpoints)
    assert sorted(ports) == [8005, 8009, 8080, 8090, 8443]  # not 9999 (in Engine), not 8091
    assert ports[8005].bind == "127.0.0.1" and ports[8005].loopback_only
    assert ports[8080].label == "HTTP"
    assert (ports[8443].label, ports[8443].bind) == ("HTTPS", "")
    assert (ports[8009].label, ports[8009].loopback_only) == ("AJP", True)
    assert ports[8090].bind == "10.0.1.20"
    assert ports[8090].origin.where == "line 17, Service[@name='Statistics']/Connector/@port"
    assert ports[8090].origin.path == r"TOMCAT\CONF\SERVER.XML"
    assert ports[8080].origin.where.endswith("service[@Name='Catalina']/CONNECTOR/@PORT")
    assert codes(reading) == []


def test_https_label_and_custom_protocol(tmp_path):
    xml = server('<Connector port="8443" SSLEnabled="TRUE" />',
                 '<Connector port="8444" scheme="https" />',
                 '<Connector port="8445" protocol="org.apache.coyote.http2.Http2Protocol" />',
                 '<Connector port="8446" protocol="com.example.MyProtocol" />')
    ports = by_port(read(host(tmp_path, xml)).endpoints)
    assert [ports[p].label for p in (8443, 8444, 8445, 8446)] == [
        "HTTPS", "HTTPS", "HTTP", "com.example.MyProtocol"]


def test_connectors_on_the_same_port_and_bind_merge(tmp_path):
    xml = server('<Connector port="8443" SSLEnabled="true" />',
                 '<Connector port="8443" protocol="AJP/1.3" address="0.0.0.0" secret="x" />',
                 '<Connector port="8443" address="127.0.0.1" />')
    endpoints = read(host(tmp_path, xml, notes=notes_for("9.0.40"))).endpoints
    on_8443 = [e for e in endpoints if e.ports == ((8443, 8443),)]
    assert [(e.bind, e.label) for e in on_8443] == [("", "HTTPS+AJP"),
                                                     ("127.0.0.1", "HTTP")]
    assert on_8443[0].origin.where.startswith("line 4,")  # the first connector's


def test_port_zero_is_a_dynamic_endpoint(tmp_path):
    xml = server('<Connector port="0" />', '<Connector port="0" address="::1" />')
    reading = read(host(tmp_path, xml))
    dynamic = [e for e in reading.endpoints if e.dynamic]
    assert [(e.ports, e.loopback_only, e.label) for e in dynamic] == [
        ((), False, "HTTP"), ((), True, "HTTP")]
    # policy owns `dynamic-port`: one finding, for the listener reachable from the network
    (note,) = [f for f in policy.endpoint_findings(reading.endpoints)
               if f.code == "dynamic-port"]
    assert "WebService (HTTP)" in note.message and "line 4" in note.message


# -- the shutdown port ----------------------------------------------------------------------

def test_shutdown_on_all_addresses_is_a_finding(tmp_path):
    xml = server('<Connector port="8080" />',
                 attrs='port="8005" address="0.0.0.0" shutdown="SHUTDOWN"')
    reading = read(host(tmp_path, xml))
    shutdown = by_port(reading.endpoints)[8005]
    assert (shutdown.bind, shutdown.loopback_only) == ("", False)
    (exposed,) = [f for f in reading.findings if f.code == "tomcat-shutdown-exposed"]
    assert exposed.severity == "high"
    assert 'address="127.0.0.1"' in exposed.message and 'port="-1"' in exposed.message


def test_shutdown_disabled_or_defaulted(tmp_path):
    off = read(host(tmp_path / "off", server('<Connector port="8080" />',
                                              attrs='port="-1" address="0.0.0.0"')))
    assert [e.label for e in off.endpoints] == ["HTTP"]
    assert codes(off) == []
    bare = read(host(tmp_path / "bare", server('<Connector port="8080" />', attrs="")))
    shutdown = by_port(bare.endpoints)[8005]
    assert shutdown.loopback_only
    assert "Tomcat's default 8005" in shutdown.origin.where


def test_shutdown_port_zero_is_dynamic(tmp_path):
    # StandardServer opens a ServerSocket on port 0: a free port, still on localhost.
    local = read(host(tmp_path / "a", server('<Connector port="8080" />', attrs='port="0"')))
    (shutdown,) = [e for e in local.endpoints if e.label == "shutdown"]
    assert (shutdown.dynamic, shutdown.ports, shutdown.loopback_only) == (True, (), True)
    assert codes(local) == []
    wide = read(host(tmp_path / "b", server('<Connector port="8080" />',
                                            attrs='port="0" address="10.0.1.20"')))
    assert sorted(codes(wide)) == ["tomcat-shutdown-exposed"]
    assert [f.code for f in policy.endpoint_findings(wide.endpoints)] == ["dynamic-port"]


# -- webapps --------------------------------------------------------------------------------

@pytest.mark.parametrize(("entries", "expected"), [
    (("StatisticsServer", "AgentObjects"), ["StatisticsServer", "AgentObjects"]),
    (("statisticsserver.WAR",), ["StatisticsServer"]),
    (("AGENTOBJECTS", "agentobjects.war"), ["AgentObjects"]),
    (("ROOT", "manager", "StatisticsServer.zip"), []),
])
def test_web_applications_add_dynamic_endpoints(tmp_path, entries, expected):
    reading = read(host(tmp_path, server('<Connector port="8080" />'), webapps=entries))
    apps = [e for e in reading.endpoints if e.dynamic]
    assert [e.label for e in apps] == expected
    for endpoint in apps:
        assert endpoint.ports == () and endpoint.needs_rule
        assert endpoint.origin.path.lower().startswith("tomcat\\webapps\\")
    dynamic = [f for f in policy.endpoint_findings(reading.endpoints)
               if f.code == "dynamic-port"]
    assert [f.message.split(" picks")[0] for f in dynamic] == [
        f"WebService ({app})" for app in expected]
    # No documented way to pin a web application's ports: the finding says so and does
    # not advise a pin (`cefw pin` refuses them in the same words).
    assert all("cannot be pinned" in f.message and "Pin a static" not in f.message
               for f in dynamic)


def test_web_application_named_file_without_war_is_not_an_app(tmp_path):
    ctx = host(tmp_path, server('<Connector port="8080" />'), webapps=("ROOT",))
    (tmp_path / "ce" / "Tomcat" / "webapps" / "StatisticsServer").write_text("not a dir")
    assert not [e for e in read(ctx).endpoints if e.dynamic]


# -- AJP secrets ------------------------------------------------------------------------------

@pytest.mark.parametrize(("version", "attrs", "exposed", "words"), [
    ("9.0.31", 'secretRequired="false"', True, 'secretRequired="false"'),
    ("9.0.31", 'secretRequired="FALSE" secret=""', True, 'secretRequired="false"'),
    ("9.0.31", 'secretRequired="false" secret="s3cret"', False, ""),
    ("9.0.31", 'secret="s3cret"', False, ""),
    ("9.0.31", 'requiredSecret="s3cret"', False, ""),  # the deprecated alias
    ("9.0.31", "", True, "refuses to start"),
    ("9.0.30", 'requiredSecret="s3cret"', False, ""),
    ("9.0.30", 'secret="s3cret"', True, "knows only requiredSecret"),
    (None, 'secret="s3cret"', False, ""),
])
def test_ajp_secret_rules(tmp_path, version, attrs, exposed, words):
    xml = server(f'<Connector port="8009" protocol="AJP/1.3" address="0.0.0.0" {attrs} />')
    extra = {"notes": notes_for(version)} if version else {}
    reading = read(host(tmp_path, xml, **extra))
    found = [f for f in reading.findings if f.code == "ajp-exposed"]
    assert bool(found) is exposed
    if exposed:
        assert words in found[0].message
        assert 'address="127.0.0.1"' in found[0].message and "secret" in found[0].message


# -- server.xml absent ------------------------------------------------------------------------

@pytest.mark.parametrize(("notes", "ajp_loopback"), [(None, False), ("8.5.50", False),
                                                     ("9.0.31", True)])
def test_absent_server_xml_uses_vendor_defaults(tmp_path, notes, ajp_loopback):
    extra = {"notes": notes_for(notes)} if notes else {}
    reading = read(host(tmp_path, None, **extra))
    ports = by_port(reading.endpoints)
    assert sorted(ports) == [8005, 8009, 8080, 8443]
    assert all(e.origin.kind == "default" for e in reading.endpoints)
    assert all("server.xml not found" in e.origin.describe() for e in reading.endpoints)
    assert ports[8005].loopback_only and not ports[8080].loopback_only
    assert not ports[8443].loopback_only
    assert ports[8009].loopback_only is ajp_loopback
    assert codes(reading) == ["default-used"]


# -- bad input ---------------------------------------------------------------------------------

@pytest.mark.parametrize("name", ["billion-laughs.xml", "external-entity.xml"])
def test_hostile_xml_is_refused(tmp_path, name):
    with pytest.raises(InputError) as err:
        read(host(tmp_path, DATA / name))
    assert err.value.path == r"Tomcat\conf\server.xml"
    assert "entities" in err.value.problem


def test_malformed_xml(tmp_path):
    with pytest.raises(InputError) as err:
        read(host(tmp_path, DATA / "malformed.xml"))
    assert err.value.path == r"Tomcat\conf\server.xml"
    assert err.value.where.startswith("line 6,")
    assert "not well-formed" in err.value.problem


def test_root_element_must_be_server(tmp_path):
    with pytest.raises(InputError) as err:
        read(host(tmp_path, '<Service name="x"><Connector port="80"/></Service>'))
    assert "<Service>, not <Server>" in err.value.problem


@pytest.mark.parametrize(("connector", "problem"), [
    ('<Connector port="http" />', "'http' is not a port number"),
    ('<Connector port="70000" />', "70000 is not a port in 1-65535"),
    ('<Connector port="-1" />', "-1 is not a port in 1-65535"),
    ('<Connector port=" 8080" />', "' 8080' is not a port number"),
    ('<Connector port="" />', "'' is not a port number"),
    ('<Connector port="80.5" />', "'80.5' is not a port number"),
    ('<Connector protocol="HTTP/1.1" />', "has no port attribute"),
])
def test_bad_connector_ports(tmp_path, connector, problem):
    with pytest.raises(InputError) as err:
        read(host(tmp_path, server(connector)))
    assert problem in err.value.problem
    assert err.value.where.startswith("line 4, Service[@name='Catalina']/Connector")
    assert "1-65535" in err.value.fix or "port=" in err.value.fix


@pytest.mark.parametrize("port", ["-2", "65536", "SHUTDOWN"])
def test_bad_shutdown_ports(tmp_path, port):
    with pytest.raises(InputError) as err:
        read(host(tmp_path, server('<Connector port="8080" />', attrs=f'port="{port}"')))
    assert err.value.where == "line 2, Server/@port"
    assert "-1 to disable" in err.value.fix
