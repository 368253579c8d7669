"""`cefw plan` end to end: the bundled examples in every format, and every kind of bad
input giving one clear message, exit status 2 and no traceback."""

from __future__ import annotations

import csv
import io
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from cefw.cli import main
from cefw.examples import ROOT as EXAMPLES

EXAMPLE_NAMES = ("core-host", "agent-pc", "recorder-host")


def run(*argv: str) -> tuple[int, str]:
    out = io.StringIO()
    status = main(list(argv), out=out)
    return status, out.getvalue()


def run_process(*argv: str) -> subprocess.CompletedProcess[str]:
    """A real process: proves the console entry point, exit status and stderr."""
    return subprocess.run([sys.executable, "-m", "cefw", *argv], capture_output=True,
                          text=True, timeout=60)


# -- the bundled examples --------------------------------------------------------------

@pytest.mark.parametrize("name", EXAMPLE_NAMES)
def test_every_example_plans_as_json_following_the_contract(name: str) -> None:
    status, text = run("plan", "--example", name, "--format", "json")
    assert status == 0
    plan = json.loads(text)
    assert plan["schema"] == "cefw.plan/1"
    assert set(plan) >= {"host", "endpoints", "rules", "findings"}
    assert plan["host"]["roles"] and plan["host"]["install_dir"]
    for ep in plan["endpoints"]:
        assert set(ep) >= {"component", "protocol", "ports", "dynamic", "enabled",
                           "loopback_only", "program", "sources", "origin"}
        assert ep["protocol"] in ("TCP", "UDP")
        assert ep["origin"]["kind"] in ("file", "registry", "channels", "default")
        assert ep["ports"] == sorted(ep["ports"])
        assert (ep["ports"] == []) == ep["dynamic"]
    for rule in plan["rules"]:
        assert set(rule) >= {"name", "display_name", "group", "direction", "action",
                             "protocol", "local_ports", "program", "remote_addresses",
                             "profiles", "components"}
        assert rule["group"] == "Contact Expert"
        assert (rule["direction"], rule["action"]) == ("in", "allow")
    for finding in plan["findings"]:
        assert set(finding) >= {"code", "severity", "component", "message"}
    names = [r["name"] for r in plan["rules"]]
    assert len(names) == len(set(names))


def test_core_host_plan_reads_every_source() -> None:
    plan = json.loads(run("plan", "--example", "core-host", "--json")[1])
    kinds = {ep["origin"]["kind"] for ep in plan["endpoints"]}
    assert kinds == {"file", "registry", "channels"}  # nothing fell back to a default
    rules = {r["name"]: r for r in plan["rules"]}
    assert rules["CE-DialerServer-TCP"]["local_ports"] == [[9905, 9905]]
    assert rules["CE-DialerServer-TCP"]["remote_addresses"] == [
        "10.0.1.10", "10.0.1.11", "10.0.1.20"]
    # Client-scoped: the Naming Service is reached by agent PCs too.
    assert "10.20.0.0/16" in rules["CE-NamingService-TCP"]["remote_addresses"]
    assert rules["CE-UCMARecorderService-TCP"]["local_ports"] == [[9100, 9100], [9971, 9971]]
    assert rules["CE-TelephonyRecorder.CMAPI-UDP"]["local_ports"] == [[40000, 40199]]
    assert rules["CE-AgentFactory-TCP-dynamic"]["local_ports"] == []
    assert rules["CE-DialerServer-TCP"]["program"].endswith(
        r"\Servers\DialerServer\DialerServer.exe")
    # Tomcat's shutdown port is loopback only: listed, but no rule opens it.
    shutdown = [ep for ep in plan["endpoints"] if ep.get("label") == "shutdown"]
    assert shutdown and shutdown[0]["loopback_only"]
    assert [8005, 8005] not in rules["CE-WebService-TCP"]["local_ports"]


@pytest.mark.parametrize("name", EXAMPLE_NAMES)
def test_every_example_plans_as_csv_one_row_per_listener(name: str) -> None:
    status, text = run("plan", "--example", name, "--format", "csv")
    assert status == 0
    rows = list(csv.DictReader(io.StringIO(text)))
    plan = json.loads(run("plan", "--example", name, "--json")[1])
    assert len(rows) == len(plan["endpoints"])
    opened = {r["rule"] for r in rows if r["rule"]}
    assert opened == {r["name"] for r in plan["rules"]}


@pytest.mark.parametrize("name", EXAMPLE_NAMES)
def test_every_example_plans_as_markdown_and_table(name: str) -> None:
    plan = json.loads(run("plan", "--example", name, "--json")[1])
    status, markdown = run("plan", "--example", name, "--format", "markdown")
    assert status == 0
    assert markdown.startswith("# Contact Expert firewall plan")
    for rule in plan["rules"]:
        assert f"| {rule['name']} |" in markdown
    status, table = run("plan", "--example", name)
    assert status == 0
    for rule in plan["rules"]:
        assert rule["name"] in table
    assert "Findings" in table or not plan["findings"]


def test_plan_via_a_real_process_and_the_console_entry_point() -> None:
    done = run_process("plan", "--example", "core-host", "--format", "json")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["schema"] == "cefw.plan/1"


def test_command_line_options_override_the_example(tmp_path: Path) -> None:
    site = tmp_path / "site.toml"
    site.write_text('[zones]\nservers = ["192.0.2.1"]\nclients = ["198.51.100.0/24"]\n')
    plan = json.loads(run("plan", "--example", "agent-pc", "--site", str(site), "--json")[1])
    assert plan["rules"][0]["remote_addresses"] == ["192.0.2.1"]


def test_without_a_site_file_rules_are_open_and_a_finding_says_so(tmp_path: Path) -> None:
    copy = tmp_path / "agent"
    shutil.copytree(EXAMPLES / "agent-pc" / "install", copy)
    status, text = run("plan", "--install-dir", str(copy), "--json")
    assert status == 0
    plan = json.loads(text)
    assert plan["rules"][0]["remote_addresses"] == ["any"]
    codes = {f["code"] for f in plan["findings"]}
    assert {"unscoped-rule", "program-dir-assumed"} <= codes
    assert plan["host"]["found_by"] == "--install-dir"


# -- bad input ---------------------------------------------------------------------------

def _core_copy(tmp_path: Path) -> Path:
    copy = tmp_path / "core"
    shutil.copytree(EXAMPLES / "core-host" / "install", copy)
    return copy


BILLION_LAUGHS = """<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;">
<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]>
<ServerAgentConfig><Agent Port="9998"/><Servers>&lol3;</Servers></ServerAgentConfig>
"""
EXTERNAL_ENTITY = """<?xml version="1.0"?>
<!DOCTYPE x [<!ENTITY secret SYSTEM "file:///etc/passwd">]>
<ServerAgentConfig><Agent Port="&secret;"/></ServerAgentConfig>
"""


def _agent_config(copy: Path) -> Path:
    return copy / "Services" / "ServerAgent" / "ServerAgent.Config.xml"


@pytest.mark.parametrize(("content", "expected"), [
    ("<ServerAgentConfig><Agent Port='9998'></ServerAgentConfig>", "line 1"),
    (BILLION_LAUGHS, "refused"),
    (EXTERNAL_ENTITY, "refused"),
    ("<ServerAgentConfig><Agent Port='99999'/></ServerAgentConfig>", "Agent/@Port"),
    ("<ServerAgentConfig><Agent Port='ninety'/></ServerAgentConfig>", "not a port number"),
    ("<ServerAgentConfig><Servers><Server Name='DialerServer' Port='0'/></Servers>"
     "</ServerAgentConfig>", "Server[@Name='DialerServer']/@Port"),
])
def test_bad_serveragent_config_is_refused_clearly(tmp_path: Path, content: str,
                                                   expected: str) -> None:
    copy = _core_copy(tmp_path)
    _agent_config(copy).write_text(content)
    done = run_process("plan", "--install-dir", str(copy))
    assert done.returncode == 2
    assert "Traceback" not in done.stderr
    assert "ServerAgent.Config.xml" in done.stderr
    assert expected in done.stderr
    assert "fix:" in done.stderr
    assert done.stdout == ""


def test_entity_expansion_is_refused_without_expanding(tmp_path: Path) -> None:
    copy = _core_copy(tmp_path)
    _agent_config(copy).write_text(BILLION_LAUGHS.replace("lol3;</Servers>", "lol3;</Servers>"))
    status, out = run("plan", "--install-dir", str(copy), "--json")
    assert status == 2
    assert "lollol" not in out


def test_unresolved_tomcat_property_is_an_error_naming_it(tmp_path: Path) -> None:
    copy = _core_copy(tmp_path)
    server_xml = copy / "Tomcat" / "conf" / "server.xml"
    text = server_xml.read_text().replace('port="8080"', 'port="${ce.http.port}"', 1)
    server_xml.write_text(text)
    done = run_process("plan", "--install-dir", str(copy))
    assert done.returncode == 2
    assert "ce.http.port" in done.stderr and "server.xml" in done.stderr
    assert "catalina.properties" in done.stderr
    assert "Traceback" not in done.stderr


def test_a_reg_file_that_is_not_an_export_is_refused(tmp_path: Path) -> None:
    bogus = tmp_path / "notes.reg"
    bogus.write_text("just some notes\nTaoNamingServiceOptions=-ORBEndpoint iiop://:9999\n")
    done = run_process("plan", "--example", "core-host", "--registry", str(bogus))
    assert done.returncode == 2
    assert "notes.reg" in done.stderr and "fix:" in done.stderr
    assert "Traceback" not in done.stderr


def test_a_missing_install_directory_is_refused(tmp_path: Path) -> None:
    done = run_process("plan", "--install-dir", str(tmp_path / "nowhere"))
    assert done.returncode == 2
    assert "nowhere" in done.stderr and "--install-dir" in done.stderr
    assert "Traceback" not in done.stderr


def test_no_install_directory_on_linux_asks_for_one() -> None:
    if sys.platform == "win32":
        pytest.skip("on Windows cefw looks for the install directory itself")
    done = run_process("plan")
    assert done.returncode == 2
    assert "--install-dir" in done.stderr and "--example core-host" in done.stderr


def test_bad_channel_port_names_the_line_and_column(tmp_path: Path) -> None:
    channels = tmp_path / "channels.csv"
    channels.write_text("Channel,Recorder,ControlPort,MediaPort\nA,CMAPI,7001,40000-70000\n")
    done = run_process("plan", "--example", "core-host", "--channels", str(channels))
    assert done.returncode == 2
    assert "channels.csv: line 2, MediaPort" in done.stderr
    assert "Traceback" not in done.stderr


def test_bad_site_file_is_refused(tmp_path: Path) -> None:
    site = tmp_path / "site.toml"
    site.write_text('[zones]\nservers = ["10.0.1.300"]\n')
    done = run_process("plan", "--example", "core-host", "--site", str(site))
    assert done.returncode == 2
    assert "site.toml: [zones] servers" in done.stderr and "fix:" in done.stderr


def test_unknown_example_is_refused() -> None:
    status, _ = run("plan", "--example", "no-such-host")
    assert status == 2
