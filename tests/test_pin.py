"""`cefw pin`: static ports written into ServerAgent.Config.xml, the rest of the file kept
byte for byte; the safe replace; and, end to end on a copy of the bundled core-host, the
plan and `cefw add` after the pin."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

import cefw
from cefw import catalog, pin
from cefw.apply.operations import converge
from cefw.apply.reconcile import CREATE, DELETE
from cefw.apply.state import StateDir
from cefw.cli import main
from cefw.errors import CefwError, InputError
from cefw.formats.xmledit import Document
from cefw.pin import choose, replace, serveragent
from cefw.plan.make import make_plan
from cefw.readers.context import DEFAULT_PROGRAM_DIR, HostContext, Inputs
from winfw_model import FwPolicy

EXAMPLE = Path(cefw.__file__).parent / "examples" / "core-host"
CONFIG = "install/Services/ServerAgent/ServerAgent.Config.xml"
FIX = "fix it"


def edit(text: str, ports: dict[str, int], *, encoding: str = "utf-8", bom: bytes = b"",
         style: str | None = None, tmp: Path = Path(".")) -> tuple[bytes, bytes, Document]:
    before = bom + text.encode(encoding)
    doc = Document(before, "ServerAgent.Config.xml", FIX)
    ctx = HostContext(tmp, DEFAULT_PROGRAM_DIR)
    serveragent.pin(doc, ctx, ports, style)
    serveragent.verify(doc, ctx, ports)
    return before, doc.render(), doc


def only_inserted(before: bytes, after: bytes, inserted: bytes) -> None:
    """`after` is `before` with exactly `inserted` added at one place."""
    assert after.count(inserted) == 1
    start = after.index(inserted)
    assert after[:start] + after[start + len(inserted):] == before


MIXED = (
    '<?xml version="1.0" encoding="{enc}"?>\r\n'
    "<!-- kept: a comment with <Server Name='AgentFactory'/> inside -->\r\n"
    "<ServerAgentConfig>\r\n"
    "\t<Agent Port='9998'/>\r\n"
    "\t<Servers>\r\n"
    "\t\t<Server Name='DialerServer'   Path='..\\..\\Servers\\DialerServer\\DialerServer.exe' "
    "Port='9905'/>\r\n"
    "\t\t<Server Name='AgentFactory' "
    "Path='..\\..\\Servers\\AgentFactory\\AgentFactoryLoader.exe'/>\r\n"
    "\t\t<Server Name=\"ChatServer\" Path='é\\ChatServer.exe'></Server>\r\n"
    "\t</Servers>\r\n"
    "</ServerAgentConfig>\r\n")


@pytest.mark.parametrize(("encoding", "bom"), [
    ("utf-8", b""), ("utf-8", b"\xef\xbb\xbf"), ("utf-16-le", b"\xff\xfe"),
    ("utf-16-be", b"\xfe\xff")])
def test_a_port_attribute_is_added_in_the_file_s_own_quotes(encoding: str, bom: bytes) -> None:
    text = MIXED.format(enc="utf-16" if "16" in encoding else "utf-8")
    before, after, _ = edit(text, {"AgentFactory": 9920}, encoding=encoding, bom=bom)
    # single quotes like the element's own attributes; BOM, CRLF, tabs, comment kept
    only_inserted(before, after, " Port='9920'".encode(encoding))
    assert after.startswith(bom + "<?xml".encode(encoding))
    # the open (not self-closing) element too, quoted like the attribute before it
    before, after, _ = edit(text, {"ChatServer": 9921}, encoding=encoding, bom=bom)
    only_inserted(before, after, " Port='9921'".encode(encoding))


def test_an_existing_port_is_replaced_in_place() -> None:
    text = MIXED.format(enc="utf-8")
    before, after, doc = edit(text, {"DialerServer": 9930})
    assert after == before.replace(b"Port='9905'", b"Port='9930'")
    assert "DialerServer" in doc.edits[0][1] or doc.edits[0][1] == "9930"


ARGS_HOUSE = (
    "<?xml version=\"1.0\"?>\n"
    "<ServerAgentConfig>\n"
    "    <Servers>\n"
    "        <Server Name=\"LicenseServer\" Path=\"a\\LicenseServer.exe\">\n"
    "            <Arguments>-ORBListenEndpoints iiop://:9900</Arguments>\n"
    "        </Server>\n"
    "        <Server Name=\"SDServer\" Path=\"a\\SDServer.exe\">\n"
    "            <Arguments>-ORBEndpoint iiop://1.2@:9904</Arguments>\n"
    "        </Server>\n"
    "        <Server Name=\"AgentFactory\" Path=\"a\\AgentFactoryLoader.exe\" />\n"
    "        <Server Name=\"EmailServer\" Path=\"a\\EmailServer.exe\">\n"
    "            <Arguments>-ORBDottedDecimalAddresses 1 # keep this comment</Arguments>\n"
    "        </Server>\n"
    "        <Server Name=\"ChatServer\" Path=\"a\\ChatServer.exe\">\n"
    "            <Arguments>-ORBListenEndpoints iiop://1.2@host/portspan=1</Arguments>\n"
    "        </Server>\n"
    "        <Server Name=\"EmailConnectorServer\" Path=\"a\\EmailConnectorServerLoader.exe\">\n"
    "            <Endpoint Protocol=\"UDP\" Port=\"7000\"/>\n"
    "        </Server>\n"
    "    </Servers>\n"
    "</ServerAgentConfig>\n")


def test_a_file_that_pins_by_arguments_gets_arguments() -> None:
    before, after, _ = edit(ARGS_HOUSE, {"AgentFactory": 9920, "EmailServer": 9921,
                                         "ChatServer": 9922, "EmailConnectorServer": 9923})
    text = after.decode()
    # self-closing -> open element, indented one level deeper in the file's 4 spaces
    assert ('        <Server Name="AgentFactory" Path="a\\AgentFactoryLoader.exe">\n'
            "            <Arguments>-ORBListenEndpoints iiop://:9920</Arguments>\n"
            "        </Server>\n") in text
    # appended before the TAO comment, which would otherwise swallow it
    assert ("<Arguments>-ORBDottedDecimalAddresses 1 -ORBListenEndpoints iiop://:9921 "
            "# keep this comment</Arguments>") in text
    # an endpoint without a port gets one; its version prefix and options are kept
    assert "<Arguments>-ORBListenEndpoints iiop://1.2@host:9922/portspan=1</Arguments>" in text
    # an open element without <Arguments>: one inserted before its other children
    assert ('<Server Name="EmailConnectorServer" Path="a\\EmailConnectorServerLoader.exe">\n'
            "            <Arguments>-ORBListenEndpoints iiop://:9923</Arguments>\n"
            '            <Endpoint Protocol="UDP" Port="7000"/>\n') in text
    # nothing else moved
    untouched = [line for line in before.decode().splitlines()
                 if "AgentFactory" not in line and "Arguments" not in line
                 and "EmailConnectorServer" not in line]
    assert all(line in text.splitlines() for line in untouched)


def test_style_option_and_lower_case_files() -> None:
    lower = ('<serveragentconfig>\n  <servers>\n'
             '    <server name="DialerServer" path="x\\DialerServer.exe"/>\n'
             "  </servers>\n</serveragentconfig>\n")
    _, after, _ = edit(lower, {"DialerServer": 9920})
    assert b'<server name="DialerServer" path="x\\DialerServer.exe" port="9920"/>' in after
    _, after, _ = edit(lower, {"DialerServer": 9920}, style="arguments")
    assert (b'<server name="DialerServer" path="x\\DialerServer.exe">\n'
            b"      <arguments>-ORBListenEndpoints iiop://:9920</arguments>\n"
            b"    </server>\n") in after


def test_entities_are_refused_before_anything_is_written(tmp_path: Path) -> None:
    host = tmp_path / "host"
    shutil.copytree(EXAMPLE, host)
    config = host / CONFIG
    hostile = config.read_bytes().replace(
        b"<ServerAgentConfig>",
        b'<!DOCTYPE x [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;">]>\n'
        b"<ServerAgentConfig>", 1)
    config.write_bytes(hostile)
    with pytest.raises(InputError, match="declares entities"):
        Document(hostile, "ServerAgent.Config.xml", FIX)
    code = main(["pin", *_inputs(host)])
    assert code == 2
    assert config.read_bytes() == hostile
    assert sorted(p.name for p in config.parent.iterdir()) == [
        "ServerAgent.Config.xml", "ServerAgent.exe"]


def test_markup_inside_arguments_is_not_spliced_blind() -> None:
    text = ARGS_HOUSE.replace("iiop://1.2@host/portspan=1",
                              "iiop://host/portspan=1&amp;hostname_in_ior=x")
    with pytest.raises(CefwError, match="holds XML markup"):
        edit(text, {"ChatServer": 9920})


# ---------------------------------------------------------------- choosing ports


def test_ports_are_free_known_and_outside_the_dynamic_range() -> None:
    plan = make_plan(_example_inputs())
    used = {p for ep in plan.endpoints for low, high in ep.ports for p in range(low, high + 1)}
    ports, warnings = choose.choose(4, plan.endpoints)
    assert ports == [9920, 9921, 9922, 9923] and warnings == []
    assert not set(ports) & (used | choose.well_known())
    # A range around the used ports and the vendor's own skips both.
    ports, _ = choose.choose(3, plan.endpoints, within=(9903, 9999))
    assert ports == [9914, 9915, 9916]
    ports, warnings = choose.choose(1, plan.endpoints, within=(49152, 49160))
    assert ports == [49152] and "excludedportrange" in warnings[0]
    with pytest.raises(CefwError, match="already used"):
        choose.choose(1, plan.endpoints, port=9905)
    with pytest.raises(CefwError, match="vendor table"):
        choose.choose(1, plan.endpoints, port=19960)  # AgentClientApp, not here
    with pytest.raises(CefwError, match="one port"):
        choose.choose(2, plan.endpoints, port=9930)
    with pytest.raises(CefwError, match="free port"):
        choose.choose(3, plan.endpoints, within=(9905, 9907))


# ---------------------------------------------------------------- the safe replace


def test_concurrent_change_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "ServerAgent.Config.xml"
    path.write_bytes(b"<a/>\n")
    seen = replace.Snapshot.read(path)
    path.write_bytes(b"<b/>\n")  # someone saved the file after cefw read it
    with pytest.raises(CefwError, match="changed since cefw read it"):
        replace.replace_file(path, seen, b"<c/>\n")
    assert path.read_bytes() == b"<b/>\n"
    assert [p.name for p in tmp_path.iterdir()] == [path.name]

    # ... and a change between the first check and the swap (the last look).
    seen = replace.Snapshot.read(path)
    real = replace._write_synced

    def racing(target: Path, data: bytes, mode: str) -> None:
        real(target, data, mode)
        if target.suffix == ".cefw-tmp":
            path.write_bytes(b"<racer/>\n")

    monkeypatch.setattr(replace, "_write_synced", racing)
    with pytest.raises(CefwError, match="changed since cefw read it"):
        replace.replace_file(path, seen, b"<c/>\n")
    assert path.read_bytes() == b"<racer/>\n"
    assert not list(tmp_path.glob("*.cefw-tmp"))


def test_replace_keeps_a_backup(tmp_path: Path) -> None:
    path = tmp_path / "ServerAgent.Config.xml"
    path.write_bytes(b"\xef\xbb\xbf<a/>\r\n")
    path.chmod(0o640)
    seen = replace.Snapshot.read(path)
    backup = replace.replace_file(path, seen, b"\xef\xbb\xbf<a x='1'/>\r\n")
    assert path.read_bytes() == b"\xef\xbb\xbf<a x='1'/>\r\n"
    assert backup.read_bytes() == b"\xef\xbb\xbf<a/>\r\n"
    assert backup.name.startswith("ServerAgent.Config.xml.cefw-") and backup.suffix == ".bak"
    assert path.stat().st_mode & 0o777 == 0o640
    second = replace.replace_file(path, replace.Snapshot.read(path), b"<b/>")
    assert second != backup  # never overwrites an earlier backup


# ---------------------------------------------------------------- end to end, on a copy


def _inputs(host: Path) -> list[str]:
    return ["--install-dir", str(host / "install"), "--registry", str(host / "registry.reg"),
            "--channels", str(host / "channels.csv"), "--site", str(host / "site.toml"),
            "--program-dir", DEFAULT_PROGRAM_DIR]


def _example_inputs(host: Path = EXAMPLE) -> Inputs:
    return Inputs(install_dir=host / "install", registry=(host / "registry.reg",),
                  channels=host / "channels.csv", site=host / "site.toml",
                  program_dir=DEFAULT_PROGRAM_DIR)


def _plan_json(host: Path, capsys: pytest.CaptureFixture[str]) -> dict:
    capsys.readouterr()
    assert main(["plan", *_inputs(host), "--json"]) == 0
    return json.loads(capsys.readouterr().out)


def test_dry_run_prints_a_diff_and_writes_nothing(tmp_path: Path,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    host = tmp_path / "host"
    shutil.copytree(EXAMPLE, host)
    before = (host / CONFIG).read_bytes()
    assert main(["pin", "--dry-run", *_inputs(host)]) == 0
    out = capsys.readouterr().out
    assert "--- a/Services/ServerAgent/ServerAgent.Config.xml\n" in out
    assert ('-    <Server Name="AgentFactory" Path="..\\..\\Servers\\AgentFactory\\'
            'AgentFactoryLoader.exe" />\n') in out
    assert ('+    <Server Name="AgentFactory" Path="..\\..\\Servers\\AgentFactory\\'
            'AgentFactoryLoader.exe" Port="9920" />\n') in out
    assert "would pin" in out and "StatisticsServer is a Tomcat web application" in out
    assert (host / CONFIG).read_bytes() == before
    assert len(list((host / CONFIG).parent.iterdir())) == 2


def test_pin_then_plan_and_add_on_a_copy(tmp_path: Path,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    host = tmp_path / "host"
    shutil.copytree(EXAMPLE, host)
    config = host / CONFIG
    original = config.read_bytes()
    before = _plan_json(host, capsys)
    dynamic = {f["component"] for f in before["findings"] if f["code"] == "dynamic-port"}
    assert dynamic == {"AgentFactory", "EmailConnectorServer", "EmailServer", "ChatServer",
                       "WebService"}

    # The firewall as `cefw add` leaves it before the pin (Windows model: program rules).
    policy = FwPolicy()
    from cefw.platforms.windows.backend import WindowsBackend

    backend = WindowsBackend(policy, policy.new_rule, is_elevated=lambda: True)
    state = StateDir(tmp_path / "state")
    converge(backend, make_plan(_example_inputs(host)).rules, state, dry_run=False)

    assert main(["pin", *_inputs(host)]) == 0
    out = capsys.readouterr().out
    assert "restart the Server Agent service (it restarts AgentFactory, EmailConnectorServer, "\
        "EmailServer, ChatServer)" in out
    backups = list(config.parent.glob("ServerAgent.Config.xml.cefw-*.bak"))
    assert len(backups) == 1 and backups[0].read_bytes() == original
    now = config.read_bytes()
    assert now.startswith(b"\xef\xbb\xbf")  # the BOM stays
    for port in range(9920, 9924):
        now = now.replace(f' Port="{port}"'.encode(), b"", 1)
    assert now == original  # only the four attributes were added

    after = _plan_json(host, capsys)
    pinned = {e["component"]: e["ports"] for e in after["endpoints"]
              if e["component"] in ("AgentFactory", "EmailConnectorServer", "EmailServer",
                                    "ChatServer")}
    assert pinned == {"AgentFactory": [[9920, 9920]], "EmailConnectorServer": [[9921, 9921]],
                      "EmailServer": [[9922, 9922]], "ChatServer": [[9923, 9923]]}
    left = [f for f in after["findings"] if f["code"] == "dynamic-port"]
    assert {f["component"] for f in left} == {"WebService"}
    assert all("cannot be pinned" in f["message"] for f in left)
    assert not [f for f in after["findings"] if f["code"] == "port-conflict"]

    # `cefw add` narrows the rules: port rules created, the any-port rules deleted.
    outcome = converge(backend, make_plan(_example_inputs(host)).rules, state, dry_run=False)
    changes = {(c.action, c.name) for c in outcome.changes.changes}
    for component in ("AgentFactory", "EmailConnectorServer", "EmailServer", "ChatServer"):
        assert (CREATE, f"CE-{component}-TCP") in changes
        assert (DELETE, f"CE-{component}-TCP-dynamic") in changes
    assert (DELETE, "CE-WebService-TCP-dynamic") not in changes
    agent = next(r for r in policy.Rules if r.Name == "CE-AgentFactory-TCP")
    assert agent.LocalPorts == "9920"
    # Pinning again finds nothing to do.
    capsys.readouterr()
    assert main(["pin", *_inputs(host)]) == 0
    assert "nothing to pin" in capsys.readouterr().out


def test_unpinnable_components_are_refused_plainly(capsys: pytest.CaptureFixture[str]) -> None:
    for name, words in (("StatisticsServer", "no documented|neither the vendor nor Tomcat"),
                        ("AgentObjects", "neither the vendor nor Tomcat"),
                        ("NamingService", "TaoNamingServiceOptions"),
                        ("WebService", "server.xml"),
                        ("NoSuchServer", "not a CE component")):
        assert main(["pin", name, "--dry-run", "--example", "core-host"]) == 2
        assert pytest.importorskip("re").search(words, capsys.readouterr().err), name
    assert main(["pin", "DialerServer", "--dry-run", "--example", "core-host"]) == 0
    assert "already listens on static TCP 9905" in capsys.readouterr().out
    assert main(["pin", "DialerServer", "--port", "9931", "--dry-run", "--example",
                 "core-host"]) == 0
    assert '+    <Server Name="DialerServer"' in capsys.readouterr().out
    assert tuple(pin.WEB_APPS.values()) == catalog.TOMCAT_DYNAMIC_APPS
