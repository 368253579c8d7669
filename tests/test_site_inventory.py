"""The site inventory (docs/site.md): [[hosts]] and [[groups]] in the site file, the
zones that follow from them, and `cefw site plan`: a plan per host and group (identical
plans once) and the findings across hosts."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from cefw.bundle.collect import HostFacts, collect
from cefw.cli import main
from cefw.errors import InputError
from cefw.plan.fleet import plan_site
from cefw.plan.site import load
from cehost import PROGRAM_DIR, SA_CONFIG, sa_config, server


def write_site(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "site.toml"
    path.write_text(text, encoding="utf-8")
    return path


def bundle(ce_host, folder: Path, name: str, *, dialer_port: str = "9905",
           program_dir: str = PROGRAM_DIR, agent: bool = False) -> str:
    """A bundle of a small CE server (or an agent PC) under folder/bundles; returns its
    path relative to the site file."""
    if agent:
        host = ce_host(components=["AgentClientApp"])
    else:
        host = ce_host(components=["ServerAgent", "DialerServer", "ChatServer"], files={
            SA_CONFIG: sa_config(server("DialerServer", port=dialer_port))})
    (folder / "bundles").mkdir(exist_ok=True)
    target = folder / "bundles" / f"{name}.cefw.zip"
    target.write_bytes(collect(host.inputs(program_dir=program_dir),
                               HostFacts(name, ())).data)
    return f"bundles/{name}.cefw.zip"


def run(argv: list[str]) -> tuple[int, str]:
    out = io.StringIO()
    return main(argv, out=out), out.getvalue()


# -- the loader --------------------------------------------------------------------------------

INVENTORY = """\
[zones]
servers = ["198.18.0.99"]

[[hosts]]
name = "ce-core-01"
address = "198.18.0.10"
role = "core"

[[hosts]]
name = "db-01"
addresses = ["198.18.0.30", "198.18.0.31"]

[[groups]]
name = "agent-pcs"
addresses = ["198.19.0.0/16"]

[[groups]]
name = "recorders"
addresses = ["198.18.1.0/24"]
zone = "servers"

[[hosts]]
name = "pc-0001"
address = "198.19.0.1"
group = "agent-pcs"

[[hosts]]
name = "pc-far"
address = "198.20.0.1"
group = "agent-pcs"

[[hosts]]
name = "operator"
address = "198.21.0.5"
zone = "clients"
"""


def test_zones_follow_from_the_inventory(tmp_path: Path) -> None:
    site = load(write_site(tmp_path, INVENTORY))
    assert site.zones == {
        "servers": ("198.18.0.10", "198.18.0.30", "198.18.0.31", "198.18.0.99",
                    "198.18.1.0/24"),
        "clients": ("198.19.0.0/16", "198.20.0.1", "198.21.0.5"),  # pc-0001 is inside
    }
    by_name = {m.name: m for m in (*site.hosts, *site.groups)}
    assert by_name["pc-far"].zone == "clients" and by_name["pc-far"].group == "agent-pcs"
    assert by_name["ce-core-01"].role == "core" and by_name["db-01"].zone == "servers"
    assert by_name["recorders"].zone == "servers"


def test_a_single_host_plan_uses_the_same_zones(tmp_path: Path) -> None:
    path = write_site(tmp_path, INVENTORY)
    status, text = run(["plan", "--example", "agent-pc", "--site", str(path), "--json"])
    rule = json.loads(text)["rules"][0]
    assert status == 0 and rule["remote_addresses"] == list(load(path).zones["servers"])


@pytest.mark.parametrize(("text", "where", "problem"), [
    ('[[hosts]]\naddress = "198.18.0.1"\n', "[[hosts]] #1", "needs a name"),
    ('[[hosts]]\nname = "a"\n', "[[hosts]] #1 (a)", "needs address"),
    ('[[hosts]]\nname = "a"\naddress = "198.18.0.1"\naddresses = ["198.18.0.2"]\n',
     "[[hosts]] #1 (a)", "one of them"),
    ('[[hosts]]\nname = "a"\naddress = "ce-core-01"\n', "[[hosts]] #1 (a) address",
     "not an IP address"),
    ('[[hosts]]\nname = "a"\naddresses = []\n', "[[hosts]] #1 (a) addresses",
     "non-empty list"),
    ('[[hosts]]\nname = "a"\naddress = "198.18.0.1"\ngroup = "nope"\n',
     "[[hosts]] #1 (a) group", "no [[groups]] entry is named 'nope'"),
    ('[[hosts]]\nname = "a"\naddress = "198.18.0.1"\nzone = "dmz"\n',
     "[[hosts]] #1 (a) zone", "'dmz' is not a zone"),
    ('[[hosts]]\nname = "a"\naddress = "198.18.0.1"\nport = 1\n', "[[hosts]] #1 (a)",
     "unknown key 'port'"),
    ('[[groups]]\nname = "a"\naddresses = ["198.19.0.0/16"]\nrole = "x"\n',
     "[[groups]] #1 (a)", "unknown key 'role'"),
    ('[[hosts]]\nname = "A"\naddress = "198.18.0.1"\n[[groups]]\nname = "a"\n'
     'addresses = ["198.19.0.0/16"]\n', "[[hosts]] #1 (A)", "already used by [[groups]] #1"),
    ('hosts = "x"\n', "hosts", "array of tables"),
    ('[[hosts]]\nname = "a"\naddress = "198.18.0.1"\nbundle = 3\n',
     "[[hosts]] #1 (a) bundle", "must be a string"),
])
def test_inventory_errors_name_the_file_the_place_and_the_fix(tmp_path: Path, text: str,
                                                             where: str, problem: str) -> None:
    with pytest.raises(InputError) as caught:
        load(write_site(tmp_path, text))
    error = caught.value
    assert error.path == str(tmp_path / "site.toml") and error.where == where
    assert problem in error.problem and error.fix


# -- site plan ------------------------------------------------------------------------------------

def test_identical_plans_are_stored_once(ce_host, tmp_path: Path) -> None:
    first = bundle(ce_host, tmp_path, "ce-core-01")
    second = bundle(ce_host, tmp_path, "ce-core-02")  # same configuration, another host
    agent = bundle(ce_host, tmp_path, "agent-pc", agent=True)
    site = write_site(tmp_path, f"""\
[[hosts]]
name = "ce-core-01"
address = "198.18.0.10"
bundle = "{first}"

[[hosts]]
name = "ce-core-02"
address = "198.18.0.11"
bundle = "{second}"

[[groups]]
name = "agent-pcs"
addresses = ["198.19.0.0/16"]
bundle = "{agent}"

[[hosts]]
name = "pc-0001"
address = "198.19.0.1"
group = "agent-pcs"
""")
    status, text = run(["site", "plan", "--site", str(site), "--json"])
    doc = json.loads(text)
    assert status == 0 and doc["schema"] == "cefw.site/1"
    hosts = {h["name"]: h for h in doc["hosts"]}
    assert hosts["ce-core-01"]["plan"] == hosts["ce-core-02"]["plan"]
    assert hosts["ce-core-01"]["collected_on"] == "ce-core-01"
    assert hosts["ce-core-02"]["collected_on"] == "ce-core-02"
    assert hosts["pc-0001"]["bundle_from"] == "group" and hosts["pc-0001"]["bundle"] == agent
    assert hosts["pc-0001"]["plan"] == doc["groups"][0]["plan"]
    assert len(doc["plans"]) == 2
    core = doc["plans"][hosts["ce-core-01"]["plan"]]
    assert core["schema"] == "cefw.plan/1" and "found_by" not in core["host"]
    dialer = next(r for r in core["rules"] if r["name"] == "CE-DialerServer-TCP")
    assert dialer["remote_addresses"] == ["198.18.0.10", "198.18.0.11"]
    chat = next(r for r in core["rules"] if r["name"] == "CE-ChatServer-TCP-dynamic")
    assert chat["remote_addresses"] == ["198.18.0.10", "198.18.0.11", "198.19.0.0/16"]
    assert doc["findings"] == []
    status, table = run(["site", "plan", "--site", str(site)])
    assert status == 0
    for heading in ("Inventory", "Plans (each distinct plan once)", "agent-pcs: 1 member(s)",
                    "Findings across hosts: none"):
        assert heading in table


def test_servers_of_one_role_on_different_ports(ce_host, tmp_path: Path) -> None:
    primary = bundle(ce_host, tmp_path, "ce-core-01", dialer_port="9905")
    secondary = bundle(ce_host, tmp_path, "ce-core-02", dialer_port="9915")
    other = bundle(ce_host, tmp_path, "ce-lab", dialer_port="9925")
    site = write_site(tmp_path, f"""\
[zones]
clients = ["198.19.0.0/16"]

[[hosts]]
name = "ce-core-01"
address = "198.18.0.10"
role = "core"
bundle = "{primary}"

[[hosts]]
name = "ce-core-02"
address = "198.18.0.11"
role = "core"
bundle = "{secondary}"

[[hosts]]
name = "ce-lab"
address = "198.18.0.50"
role = "lab"
bundle = "{other}"
""")
    result = plan_site(load(site))
    found = [f for f in result.findings if f.finding.code == "ha-port-mismatch"]
    assert len(found) == 1
    assert found[0].finding.component == "DialerServer"
    assert found[0].finding.severity == "high"
    assert set(found[0].hosts) == {"ce-core-01", "ce-core-02"}  # not the lab server
    message = found[0].finding.message
    assert "TCP 9905 on ce-core-01" in message and "TCP 9915 on ce-core-02" in message


def test_without_a_role_servers_with_the_same_components_are_compared(ce_host,
                                                                      tmp_path: Path) -> None:
    a = bundle(ce_host, tmp_path, "a", dialer_port="9905")
    b = bundle(ce_host, tmp_path, "b", dialer_port="9906")
    site = write_site(tmp_path, f"""\
[zones]
clients = ["198.19.0.0/16"]
[[hosts]]
name = "a"
address = "198.18.0.1"
bundle = "{a}"
[[hosts]]
name = "b"
address = "198.18.0.2"
bundle = "{b}"
""")
    codes = [f.finding.code for f in plan_site(load(site)).findings]
    assert codes == ["ha-port-mismatch"]


def test_a_component_no_zone_covers(ce_host, tmp_path: Path) -> None:
    core = bundle(ce_host, tmp_path, "ce-core-01")
    site = write_site(tmp_path, f"""\
[[hosts]]
name = "ce-core-01"
address = "198.18.0.10"
bundle = "{core}"
""")
    found = [f for f in plan_site(load(site)).findings if f.finding.code == "zone-uncovered"]
    assert [f.finding.component for f in found] == ["ChatServer"]  # clients connect to it
    assert found[0].hosts == ("ce-core-01",)
    assert "clients zone" in found[0].finding.message and "[[groups]]" in found[0].finding.message


def test_a_group_whose_members_install_ce_elsewhere(ce_host, tmp_path: Path) -> None:
    group = bundle(ce_host, tmp_path, "agents", agent=True)
    moved = bundle(ce_host, tmp_path, "pc-d", agent=True,
                   program_dir=r"D:\Program Files (x86)\Geomant\Contact Expert")
    odd = bundle(ce_host, tmp_path, "pc-odd", agent=True, program_dir=r"E:\CE")
    text = f"""\
[[hosts]]
name = "ce-core-01"
address = "198.18.0.10"
bundle = "{bundle(ce_host, tmp_path, 'core')}"
[[groups]]
name = "agent-pcs"
addresses = ["198.19.0.0/16"]
bundle = "{group}"
[[hosts]]
name = "pc-0001"
address = "198.19.0.1"
group = "agent-pcs"
[[hosts]]
name = "pc-0002"
address = "198.19.0.2"
group = "agent-pcs"
bundle = "{moved}"
"""
    found = [f for f in plan_site(load(write_site(tmp_path, text))).findings
             if f.finding.code == "group-install-dirs-differ"]
    assert len(found) == 1 and set(found[0].hosts) == {"agent-pcs", "pc-0001", "pc-0002"}
    assert r"%ProgramFiles(x86)%\Geomant\Contact Expert" in found[0].finding.message
    text += f'[[hosts]]\nname = "pc-0003"\naddress = "198.19.0.3"\ngroup = "agent-pcs"\n' \
            f'bundle = "{odd}"\n'
    found = [f for f in plan_site(load(write_site(tmp_path, text))).findings
             if f.finding.code == "group-install-dirs-differ"]
    assert "%ProgramFiles" not in found[0].finding.message
    assert "install CE in one folder on every member" in found[0].finding.message


def test_entries_without_a_bundle(ce_host, tmp_path: Path) -> None:
    agent = bundle(ce_host, tmp_path, "agent", agent=True)
    site = write_site(tmp_path, f"""\
[[hosts]]
name = "db-01"
address = "198.18.0.30"
[[groups]]
name = "agent-pcs"
addresses = ["198.19.0.0/16"]
[[groups]]
name = "operators"
addresses = ["198.20.0.0/24"]
bundle = "{agent}"
[[hosts]]
name = "pc-0001"
address = "198.19.0.1"
group = "agent-pcs"
[[hosts]]
name = "pc-0002"
address = "198.19.0.2"
group = "agent-pcs"
[[hosts]]
name = "op-1"
address = "198.20.0.1"
group = "operators"
""")
    result = plan_site(load(site))
    found = {f.hosts[0]: f for f in result.findings if f.finding.code == "inventory-no-bundle"}
    assert set(found) == {"db-01", "agent-pcs"}  # op-1 has its group's bundle
    assert found["agent-pcs"].hosts == ("agent-pcs", "pc-0001", "pc-0002")
    assert "its 2 member(s) without a bundle of their own" in found["agent-pcs"].finding.message
    entries = {e.member.name: e for e in result.entries}
    assert entries["db-01"].plan_id == "" and entries["op-1"].bundle_from == "group"


def test_a_missing_bundle_names_the_site_file_and_the_entry(tmp_path: Path, capsys) -> None:
    site = write_site(tmp_path, '[[hosts]]\nname = "a"\naddress = "198.18.0.1"\n'
                                'bundle = "bundles/nope.zip"\n')
    assert run(["site", "plan", "--site", str(site)])[0] == 2
    err = capsys.readouterr().err
    assert f"{site}: [[hosts]] #1 (a) bundle: cannot read the bundle bundles/nope.zip" in err


def test_a_hostile_bundle_in_the_inventory_is_refused(tmp_path: Path, capsys) -> None:
    (tmp_path / "bundles").mkdir()
    import zipfile

    with zipfile.ZipFile(tmp_path / "bundles" / "evil.zip", "w") as archive:
        archive.writestr("../../evil.txt", "x")
    site = write_site(tmp_path, '[[hosts]]\nname = "a"\naddress = "198.18.0.1"\n'
                                'bundle = "bundles/evil.zip"\n')
    assert run(["site", "plan", "--site", str(site)])[0] == 2
    assert "member '../../evil.txt'" in capsys.readouterr().err


def test_bundles_are_planned_once_by_content(ce_host, tmp_path: Path, monkeypatch) -> None:
    core = bundle(ce_host, tmp_path, "core")
    copy = tmp_path / "bundles" / "copy.cefw.zip"
    copy.write_bytes((tmp_path / core).read_bytes())
    opened: list[Path] = []
    import cefw.bundle.expand as expand

    real = expand.opened

    def spy(path: Path):  # type: ignore[no-untyped-def]
        opened.append(path)
        return real(path)

    monkeypatch.setattr(expand, "opened", spy)
    lines = []
    for n in range(40):
        name = "copy.cefw.zip" if n % 2 else "core.cefw.zip"
        lines += ["[[hosts]]", f'name = "h{n}"', f'address = "198.18.0.{n + 1}"',
                  'role = "core"', f'bundle = "bundles/{name}"']
    result = plan_site(load(write_site(tmp_path, "\n".join(lines) + "\n")))
    assert len(opened) == 1 and len(result.plans) == 1
