"""Bundles (docs/bundle.md): `cefw collect` writes one zip holding what cefw reads from a
host, and every command plans from `--bundle FILE` exactly as from the host itself."""

from __future__ import annotations

import hashlib
import io
import json
import zipfile
from pathlib import Path

import pytest

from cefw import catalog
from cefw.bundle import layout as L
from cefw.bundle.collect import HostFacts, collect, registry_text
from cefw.bundle.expand import opened
from cefw.bundle.verify import verify_bytes
from cefw.cli import main
from cefw.examples import ROOT as EXAMPLES
from cefw.examples import load_example, names
from cefw.model import Origin
from cefw.plan.make import make_plan
from cefw.platforms.windows.backend import WindowsBackend
from cefw.platforms.windows.recorded import RecordedBackend, record
from cefw.registry import Lookup, RegValue, _wow_path, bundled
from cefw.registry.regfile import parse_reg_bytes
from cefw.registry.regwrite import encode, reg_text
from cehost import GEO, GEO_WOW, PROGRAM_DIR, SA_CONFIG, TAO_WOW, dword, expand_sz, sa_config
from winfw_model import FwPolicy

GOLDEN = Path(__file__).parent / "golden"
EXPORTS = {"rules.ps1": "powershell", "rules.cmd": "netsh", "rules.nft": "nft"}


def run(argv: list[str]) -> tuple[int, str]:
    out = io.StringIO()
    status = main(argv, out=out)
    return status, out.getvalue()


def collect_example(name: str, tmp_path: Path) -> Path:
    tmp_path.mkdir(parents=True, exist_ok=True)
    target = tmp_path / f"{name}.cefw.zip"
    assert run(["collect", "--example", name, "-o", str(target)])[0] == 0
    return target


def without_host_paths(document: dict) -> dict:
    host = dict(document["host"])
    host.pop("install_dir")
    host.pop("found_by")
    return {**document, "host": host}


# -- the golden plans, from a bundle ----------------------------------------------------------

@pytest.mark.parametrize("example", names())
def test_golden_plan_from_a_collected_bundle_equals_the_example(example: str,
                                                                tmp_path: Path) -> None:
    bundle = collect_example(example, tmp_path)
    site = str(EXAMPLES / example / "site.toml")
    status, text = run(["plan", "--bundle", str(bundle), "--site", site, "--format", "json"])
    assert status == 0
    from_bundle = json.loads(text)
    golden = json.loads((GOLDEN / example / "plan.json").read_text(encoding="utf-8"))
    assert without_host_paths(from_bundle) == without_host_paths(golden)
    assert from_bundle["host"]["found_by"].startswith(f"bundle {bundle} (collected ")
    assert from_bundle["host"]["found_by"].endswith(f" on {example})")
    for golden_name, fmt in EXPORTS.items():
        status, text = run(["export", "--bundle", str(bundle), "--site", site, "--format", fmt])
        assert status == 0
        assert text == (GOLDEN / example / golden_name).read_text(encoding="utf-8"), golden_name


def test_bundle_members_and_manifest(tmp_path: Path) -> None:
    bundle = collect_example("core-host", tmp_path)
    with zipfile.ZipFile(bundle) as archive:
        names_in = archive.namelist()
        manifest = json.loads(archive.read(L.MANIFEST))
        assert names_in[0] == L.MANIFEST
        for name in names_in[1:]:
            data = archive.read(name)
            assert manifest["members"][name] == {
                "sha256": hashlib.sha256(data).hexdigest(), "size": len(data)}
    assert list(manifest) == list(L.MANIFEST_KEYS)
    assert manifest["format"] == L.FORMAT
    assert manifest["created_by"]["tool"] == "cefw"
    assert manifest["host"] == {"name": "core-host", "addresses": []}
    assert manifest["program_dir"] == PROGRAM_DIR
    assert manifest["firewall"]["member"] is None and "offline" in manifest["firewall"]["absent"]
    assert set(names_in) == {
        L.MANIFEST, L.PROGRAMS, L.REGISTRY, "channels/channels.csv",
        "install/Services/ServerAgent/ServerAgent.Config.xml",
        "install/Tools/ServerManager/ServerManager.Config.xml",
        "install/Tomcat/conf/server.xml", "install/Tomcat/conf/catalina.properties",
        "install/Tomcat/RELEASE-NOTES"}
    with zipfile.ZipFile(bundle) as archive:
        listing = archive.read(L.PROGRAMS).decode().splitlines()
    assert r"Services\ServerAgent\ServerAgent.exe" in listing
    assert r"Tomcat\bin\tomcat8.exe" in listing
    assert r"Tomcat\webapps\StatisticsServer" + "\\" in listing  # a folder
    assert r"Tomcat\webapps\AgentObjects.war" in listing
    assert not any(line.lower().endswith(".xml") for line in listing)


def test_the_same_host_at_the_same_time_gives_the_same_bytes(tmp_path: Path,
                                                            monkeypatch) -> None:
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1795000000")
    first = collect_example("recorder-host", tmp_path / "a").read_bytes()
    second = collect_example("recorder-host", tmp_path / "b").read_bytes()
    assert first == second
    manifest = json.loads(zipfile.ZipFile(io.BytesIO(first)).read(L.MANIFEST))
    assert manifest["collected"] == "2026-11-18T11:06:40Z"


def test_a_host_with_catalina_jar_keeps_its_version_and_case(ce_host, tmp_path: Path) -> None:
    jar = io.BytesIO()
    with zipfile.ZipFile(jar, "w") as archive:
        archive.writestr("org/apache/catalina/util/ServerInfo.properties",
                         "server.info=Apache Tomcat/9.0.30\nserver.number=9.0.30.0\n")
        archive.writestr("org/apache/catalina/Big.class", b"\0" * 200_000)
    host = ce_host(components=["WebService"], path_case=str.lower, files={
        r"Tomcat\conf\server.xml": '<Server port="8005"><Service name="Catalina">'
        '<Connector port="8009" protocol="AJP/1.3"/></Service></Server>',
        r"Tomcat\lib\catalina.jar": jar.getvalue(),
        r"Tomcat\RELEASE-NOTES": "Apache Tomcat Version 8.5.99\n"})
    direct = make_plan(host.inputs())
    collected = collect(host.inputs(), HostFacts("web-01", ("198.18.0.5",)))
    members = zipfile.ZipFile(io.BytesIO(collected.data)).namelist()
    assert "jar/tomcat/lib/catalina.jar/" + L.JAR_ENTRY in members  # the disk's spelling
    assert "install/tomcat/conf/server.xml" in members
    assert len(collected.data) < 5_000  # the entry, not the 200 kB jar
    bundle = tmp_path / "web.zip"
    bundle.write_bytes(collected.data)
    with opened(bundle) as bundle_host:
        from_bundle = make_plan(bundle_host.inputs())
    assert from_bundle.endpoints == direct.endpoints
    assert from_bundle.findings == direct.findings
    assert any("9.0.30" in f.message for f in direct.findings)  # read from the jar


# -- the registry: both views, strictly --------------------------------------------------------

class FakeLive:
    """A live registry's behaviour (registry.live.LiveRegistry) over two dicts of views."""

    description = "live registry"

    def __init__(self, views: dict[int, dict[str, dict[str, RegValue]]]) -> None:
        self.views = views

    def values(self, key: str, view: int = 64) -> dict[str, RegValue]:
        return dict(self.views[view].get(key.lower(), {}))

    def lookup(self, key: str, value: str, view: int) -> Lookup:
        found = self.values(key, view).get(value)
        other = self.values(key, 32).get(value) if found is None and view == 64 else None
        return Lookup(found, other)


def live_value(key: str, name: str, view: int, kind: str, data: object) -> RegValue:
    return RegValue(kind, data, Origin("registry", f"HKLM\\{key}\\{name}",
                                      f"live registry, {view}-bit view ({kind})"))


def test_live_registry_views_survive_the_bundle(ce_host, tmp_path: Path, monkeypatch) -> None:
    """The 32-bit view has the TAO options; GeoCampaign's recorder port sits only in the
    32-bit view (which the 64-bit service does not read: registry-wrong-view); the
    application port only in the 64-bit view. A strict bundle keeps all of that."""
    tao, geo = catalog.TAO_KEY, catalog.GEOCAMPAIGN_KEY
    live = FakeLive({
        32: {tao.lower(): {"TaoNamingServiceOptions": live_value(
            tao, "TaoNamingServiceOptions", 32, "REG_EXPAND_SZ", "-ORBEndpoint iiop://:9991")},
             geo.lower(): {"Lync_Recorder_Port": live_value(
                 geo, "Lync_Recorder_Port", 32, "REG_DWORD", 9971)}},
        64: {geo.lower(): {"Lync_Recorder_ApplicationPort": live_value(
            geo, "Lync_Recorder_ApplicationPort", 64, "REG_DWORD", 9100)}},
    })
    host = ce_host(components=["ServerAgent", "NamingService", "UCMARecorderService"])
    monkeypatch.setattr("cefw.plan.make.registry_source", lambda inputs: (
        inputs.bundle.registry() if inputs.bundle is not None else live))
    direct = make_plan(host.inputs())
    collected = collect(host.inputs(), HostFacts(None, ()), registry=live)
    bundle = tmp_path / "b.zip"
    bundle.write_bytes(collected.data)
    with opened(bundle) as bundle_host:
        from_bundle = make_plan(bundle_host.inputs())
    assert from_bundle.endpoints == direct.endpoints
    assert from_bundle.findings == direct.findings
    assert "registry-wrong-view" in [f.code for f in direct.findings]
    tao_ep = next(e for e in direct.endpoints if e.component == "NamingService")
    assert tao_ep.origin.where.startswith("live registry, 32-bit view (REG_EXPAND_SZ)")


def test_offline_views_are_resolved_as_the_program_sees_them(ce_host, tmp_path: Path) -> None:
    host = ce_host(components=["NamingService", "UCMARecorderService"], registry={
        TAO_WOW: {"TaoNamingServiceOptions": expand_sz("-ORBEndpoint iiop://:9999")},
        GEO_WOW: {"Lync_Recorder_Port": dword(9971)},
        GEO: {"Lync_Recorder_ApplicationPort": dword(9100)}})
    direct = make_plan(host.inputs())
    bundle = tmp_path / "b.zip"
    bundle.write_bytes(collect(host.inputs(), HostFacts(None, ())).data)
    with opened(bundle) as bundle_host:
        assert make_plan(bundle_host.inputs()) == direct._replace(host=make_plan(
            bundle_host.inputs()).host)
    assert direct.host.install_dir != ""


def test_regwrite_round_trips_every_type() -> None:
    values = {
        "sz": RegValue("REG_SZ", 'C:\\a "quoted" \\path', Origin("registry", "p", "w")),
        "lines": RegValue("REG_SZ", "two\r\nlines", Origin("registry", "p", "w")),
        "expand": RegValue("REG_EXPAND_SZ", "%ProgramFiles%\\CE", Origin("registry", "p", "w")),
        "dword": RegValue("REG_DWORD", 0xFFFFFFFE, Origin("registry", "p", "w")),
        "qword": RegValue("REG_QWORD", 2**40 + 5, Origin("registry", "p", "w")),
        "multi": RegValue("REG_MULTI_SZ", ["a", "b c", "é"], Origin("registry", "p", "w")),
        "binary": RegValue("REG_BINARY", b"\x00\x01\xff", Origin("registry", "p", "w")),
        "none": RegValue("REG_NONE", b"", Origin("registry", "p", "w")),
        "": RegValue("REG_SZ", "default", Origin("registry", "p", "w")),
    }
    text = reg_text([(r"SOFTWARE\X", [(n, v, []) for n, v in values.items()])])
    source = parse_reg_bytes(encode(text), "x.reg")
    for name, value in values.items():
        back = source.raw(r"SOFTWARE\X", name)
        assert back is not None and (back.type, back.data) == (value.type, value.data), name


def test_registry_text_keeps_origins_and_both_views() -> None:
    live = FakeLive({32: {catalog.TAO_KEY.lower(): {"TaoNamingServiceOptions": live_value(
        catalog.TAO_KEY, "TaoNamingServiceOptions", 32, "REG_SZ", "-ORBEndpoint iiop://:1")}},
        64: {}})
    source = bundled.parse(registry_text(live), "registry.reg in bundle x", "live registry")
    found = source.lookup(catalog.TAO_KEY, "TaoNamingServiceOptions", 32).value
    assert found is not None and found.origin == Origin(
        "registry", r"HKLM\SOFTWARE\ACE\TAO\TaoNamingServiceOptions",
        "live registry, 32-bit view (REG_SZ)")
    assert source.lookup(catalog.TAO_KEY, "TaoNamingServiceOptions", 64) == Lookup(None, found)
    raw = source._source.raw(_wow_path(catalog.TAO_KEY), "TaoNamingServiceOptions")
    assert raw is not None and raw.origin.where.startswith("registry.reg in bundle x line ")


# -- the firewall, recorded on a live host -------------------------------------------------------

def seeded_policy() -> FwPolicy:
    policy = FwPolicy()
    policy.seed(Name="CE-DialerServer-TCP", Grouping="Contact Expert", Enabled=True,
                Protocol=6, LocalPorts="9915", Profiles=3, Description="old",
                ApplicationName=PROGRAM_DIR + r"\Servers\DialerServer\DialerServer.exe",
                RemoteAddresses="198.18.0.0/255.255.0.0")
    policy.seed(Name="CE-Stale-TCP", Grouping="Contact Expert", Enabled=True, Protocol=6,
                LocalPorts="1234", Profiles=3)
    policy.seed(Name="Someone else's", Grouping="Other", Enabled=True, Protocol=6,
                LocalPorts="80")
    policy.firewall_enabled[2] = False
    policy.CurrentProfileTypes = 1
    return policy


def test_live_collection_records_the_group_and_the_state(ce_host, tmp_path: Path) -> None:
    host = ce_host(components=["ServerAgent", "DialerServer"], files={
        SA_CONFIG: sa_config('<Server Name="DialerServer" '
                             'Path="..\\..\\Servers\\DialerServer\\DialerServer.exe" '
                             'Port="9905" />')})
    policy = seeded_policy()
    backend = WindowsBackend(policy, policy.new_rule, is_elevated=lambda: True)
    collected = collect(host.inputs(program_dir=None), HostFacts("ce-core-01", ("198.18.0.10",)),
                        firewall=lambda registry: record(backend, registry), live=True)
    manifest = collected.manifest
    assert manifest["firewall"]["member"] == L.FIREWALL and manifest["firewall"]["absent"] is None
    assert manifest["program_dir"] == str(host.install_dir)  # live: the folder itself
    doc = json.loads(zipfile.ZipFile(io.BytesIO(collected.data)).read(L.FIREWALL))
    assert [r["Name"] for r in doc["rules"]] == ["CE-DialerServer-TCP", "CE-Stale-TCP"]
    assert set(doc["rules"][0]) == set(__import__(
        "cefw.platforms.windows.values", fromlist=["MANAGED_PROPS"]).MANAGED_PROPS)
    assert doc["profiles"]["private"]["enabled"] is False
    assert doc["active_profiles"] == ["domain"]

    # audit from the bundle = audit of the live firewall, drift and findings alike
    plan = make_plan(host.inputs(program_dir=PROGRAM_DIR))
    from cefw.apply.operations import audit

    live_report = audit(backend, plan.rules, plan.findings)
    recorded = RecordedBackend(doc, "firewall recorded in bundle")
    from_bundle = audit(recorded, plan.rules, plan.findings)
    assert from_bundle.to_json() == {**live_report.to_json(), "backend": "bundle"}
    assert {c.drift for c in live_report.changes.changes} == {"changed", "extra", "missing"}
    assert "firewall-off" in [f.code for f in live_report.findings]


def test_audit_bundle_compares_with_the_recorded_firewall(ce_host, tmp_path: Path,
                                                         capsys) -> None:
    host = ce_host(components=["ServerAgent", "DialerServer"])
    policy = seeded_policy()
    backend = WindowsBackend(policy, policy.new_rule, is_elevated=lambda: True)
    bundle = tmp_path / "live.zip"
    bundle.write_bytes(collect(host.inputs(), HostFacts("h", ()), live=True,
                               firewall=lambda reg: record(backend, reg)).data)
    status, text = run(["audit", "--bundle", str(bundle), "--json"])
    report = json.loads(text)
    assert status == 1 and report["backend"] == "bundle"
    assert {d["name"] for d in report["drift"] if d["kind"] == "extra"} == {"CE-Stale-TCP"}
    assert "firewall-off" in {f["code"] for f in report["findings"]}
    assert run(["add", "--bundle", str(bundle), "--backend", "nftables", "--dry-run"])[0] == 0
    capsys.readouterr()


def test_audit_of_an_offline_bundle_says_what_is_missing(tmp_path: Path, capsys) -> None:
    bundle = collect_example("agent-pc", tmp_path)
    assert run(["audit", "--bundle", str(bundle)])[0] == 2
    err = capsys.readouterr().err
    assert "holds no firewall record" in err and "--backend" in err


# -- every command takes --bundle ------------------------------------------------------------

@pytest.mark.parametrize("argv", [
    ["plan"], ["plan", "--format", "markdown"], ["export", "--format", "powershell"],
    ["export", "--format", "nft"],
    ["add", "--dry-run", "--backend", "nftables"],
    ["remove", "--dry-run", "--backend", "nftables"],
])
def test_every_host_command_takes_a_bundle(argv: list[str], tmp_path: Path) -> None:
    bundle = collect_example("core-host", tmp_path)
    status, text = run([*argv, "--bundle", str(bundle)])
    assert status == 0 and text


def test_registry_pol_export_from_a_bundle_equals_the_example(tmp_path: Path) -> None:
    bundle = collect_example("core-host", tmp_path)
    site = str(EXAMPLES / "core-host" / "site.toml")
    a, b = tmp_path / "a.pol", tmp_path / "b.pol"
    assert run(["export", "--example", "core-host", "--format", "registry-pol", "-o",
                str(a)])[0] == 0
    assert run(["export", "--bundle", str(bundle), "--site", site, "--format",
                "registry-pol", "-o", str(b)])[0] == 0
    assert a.read_bytes() == b.read_bytes()


@pytest.mark.parametrize("extra", [["--install-dir", "."], ["--registry", "x.reg"],
                                   ["--hive", "h"], ["--channels", "c.csv"],
                                   ["--example", "core-host"]])
def test_bundle_with_other_host_inputs_is_refused(extra: list[str], tmp_path: Path,
                                                  capsys) -> None:
    bundle = collect_example("agent-pc", tmp_path)
    assert run(["plan", "--bundle", str(bundle), *extra])[0] == 2
    assert "cannot be given with it" in capsys.readouterr().err


def test_the_expanded_folder_is_removed_afterwards(tmp_path: Path, monkeypatch) -> None:
    made: list[str] = []
    import tempfile

    real = tempfile.mkdtemp

    def spy(**kwargs: str) -> str:
        made.append(real(**kwargs))
        return made[-1]

    monkeypatch.setattr("cefw.bundle.expand.tempfile.mkdtemp", spy)
    bundle = collect_example("core-host", tmp_path)
    assert run(["plan", "--bundle", str(bundle)])[0] == 0
    assert len(made) == 1 and not Path(made[0]).exists()


def test_collect_writes_nothing_when_the_host_cannot_be_read(tmp_path: Path, capsys) -> None:
    target = tmp_path / "out.zip"
    assert run(["collect", "--install-dir", str(tmp_path / "missing"), "-o",
                str(target)])[0] == 2
    assert not target.exists() and list(tmp_path.iterdir()) == []
    assert "install directory does not exist" in capsys.readouterr().err


def test_collect_refuses_a_huge_configuration_file(ce_host, tmp_path: Path,
                                                   monkeypatch) -> None:
    monkeypatch.setattr(L, "MAX_MEMBER_SIZE", 1000)
    host = ce_host(components=["ServerAgent"], files={SA_CONFIG: sa_config() + " " * 2000})
    with pytest.raises(Exception, match="a bundle holds files of at most 1,000"):
        collect(host.inputs(), HostFacts(None, ()))


def test_collect_host_name_and_addresses(tmp_path: Path) -> None:
    target = tmp_path / "a.zip"
    assert run(["collect", "--example", "agent-pc", "--host-name", "pc-0001", "--address",
                "198.18.20.5", "--address", "2001:db8::5", "-o", str(target)])[0] == 0
    verified = verify_bytes(target.read_bytes(), str(target))
    assert verified.manifest["host"] == {"name": "pc-0001",
                                         "addresses": ["198.18.20.5", "2001:db8::5"]}
    assert run(["collect", "--example", "agent-pc", "--address", "pc-01", "-o",
                str(target)])[0] == 2


def test_example_inputs_untouched(tmp_path: Path) -> None:
    """Collecting reads: the example folder is the same afterwards."""
    before = sorted(p.name for p in (EXAMPLES / "core-host").rglob("*"))
    collect_example("core-host", tmp_path)
    assert sorted(p.name for p in (EXAMPLES / "core-host").rglob("*")) == before
    assert load_example("core-host").install_dir is not None
