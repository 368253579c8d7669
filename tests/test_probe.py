"""`cefw probe` without namespaces: what is expected from a plan, plan files, targets.
(The firewall itself is proven in test_probe_netns.py.)"""

from __future__ import annotations

import json
import socket
from pathlib import Path

import pytest

from cefw.cli import main
from cefw.probe.expect import Identity, checks
from cefw.readers.context import DEFAULT_PROGRAM_DIR


def _plan(capsys: pytest.CaptureFixture[str], *args: str) -> dict:
    assert main(["plan", "--example", "core-host", "--json", *args]) == 0
    return json.loads(capsys.readouterr().out)


def test_expectations_follow_the_rules(capsys: pytest.CaptureFixture[str]) -> None:
    plan = _plan(capsys)
    clients, unprovable = checks(plan, Identity(zone="clients"))
    by_port = {c.port: c for c in clients}
    assert by_port[9999].expect_open and by_port[9911].expect_open  # Source: Client
    assert not by_port[9905].expect_open  # DialerServer: servers only
    assert by_port[9905].rules == ("CE-DialerServer-TCP",)
    assert all(c.expect_open for c in checks(plan, Identity(zone="servers"))[0])
    # By address: the agent network 10.20.0.0/16 is the clients zone of the example.
    agent = {c.port: c.expect_open for c in checks(plan, Identity(address="10.20.3.4"))[0]}
    assert agent == {c.port: c.expect_open for c in clients}
    outsider = checks(plan, Identity(address="192.0.2.1"))[0]
    assert not any(c.expect_open for c in outsider)
    whats = [u.what for u in unprovable]
    assert "UDP 40000-40099 TelephonyRecorder.CMAPI (channel Avaya-1)" in whats
    assert "TCP (dynamic) AgentFactory" in whats
    assert any("no documented setting" in u.why for u in unprovable
               if "StatisticsServer" in u.what)


def test_plan_file_and_loopback_listener(tmp_path: Path,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    open_port = listener.getsockname()[1]
    closed = socket.socket()
    closed.bind(("127.0.0.1", 0))  # bound, not listening: the kernel answers with a reset
    closed_port = closed.getsockname()[1]
    try:
        def endpoint(component: str, port: int) -> dict:
            return {"component": component, "protocol": "TCP", "ports": [[port, port]],
                    "dynamic": False, "enabled": True, "loopback_only": False,
                    "program": "x.exe", "sources": ["server", "client"],
                    "origin": {"kind": "default", "path": "", "where": ""}}

        def rule(component: str, port: int) -> dict:
            return {"name": f"CE-{component}-TCP", "protocol": "TCP",
                    "local_ports": [[port, port]], "remote_addresses": ["any"],
                    "components": [component]}

        plan = {"schema": "cefw.plan/1", "host": {},
                "endpoints": [endpoint("DialerServer", open_port),
                              endpoint("RuleServer", closed_port)],
                "rules": [rule("DialerServer", open_port), rule("RuleServer", closed_port)],
                "findings": []}
        path = tmp_path / "plan.json"
        path.write_text(json.dumps(plan), encoding="utf-8")
        code = main(["probe", "--plan", str(path), "--target", "127.0.0.1", "--json"])
        found = {r["components"]: r for r in json.loads(capsys.readouterr().out)["results"]}
        assert code == 1
        assert found["DialerServer"]["verdict"] == "open" and found["DialerServer"]["ok"]
        assert found["RuleServer"]["verdict"] == "refused"
        assert "the Server Agent service starts it" in found["RuleServer"]["check"]
    finally:
        listener.close()
        closed.close()


def test_bad_inputs_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "plan.json"
    bad.write_text('{"schema": "other"}', encoding="utf-8")
    assert main(["probe", "--plan", str(bad), "--target", "127.0.0.1"]) == 2
    assert "not a cefw plan" in capsys.readouterr().err
    assert main(["probe", "--example", "core-host", "--target", "10.0.0.0/8"]) == 2
    assert "is a network" in capsys.readouterr().err
    site = tmp_path / "site.toml"
    site.write_text('[zones]\nservers = ["10.0.1.10-10.0.1.19"]\n', encoding="utf-8")
    assert main(["probe", "--example", "core-host", "--site", str(site)]) == 2
    assert "is a network, not a host" in capsys.readouterr().err
    assert main(["probe", "--install-dir", str(tmp_path), "--program-dir",
                 DEFAULT_PROGRAM_DIR]) == 2
    with pytest.raises(SystemExit):
        main(["probe", "--example", "core-host", "--timeout", "0"])
