"""`cefw diff A B`: rules added, removed and changed, listeners whose port moved,
findings new and gone; exit 0 same, 1 different, 2 bad input."""

from __future__ import annotations

import io
import json
import shutil
from pathlib import Path

from cefw.cli import main
from cefw.examples import ROOT as EXAMPLES
from cehost import SA_CONFIG, sa_config, server


def run(*argv: str) -> tuple[int, str]:
    out = io.StringIO()
    return main(list(argv), out=out), out.getvalue()


def save_plan(path: Path, *argv: str) -> Path:
    status, text = run("plan", *argv, "--json")
    assert status == 0
    path.write_text(text, "utf-8")
    return path


def test_the_same_plan_exits_0(tmp_path: Path) -> None:
    a = save_plan(tmp_path / "a.json", "--example", "core-host")
    status, text = run("diff", str(a), "--example", "core-host")
    assert status == 0 and "Same rules, listeners and findings." in text
    assert run("diff", str(a), str(a))[0] == 0


def test_a_moved_port_an_added_rule_and_a_new_finding(ce_host, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    site = '[zones]\nservers = ["198.18.0.10"]\nclients = ["198.18.32.0/20"]\n'
    before = ce_host(components=["ServerAgent", "DialerServer"],
                     files={SA_CONFIG: sa_config(server("DialerServer", port="9905"))},
                     site=site)
    a = tmp_path / "before.json"
    a.write_text(json.dumps(before.plan().to_json()), "utf-8")
    shutil.rmtree(before.install_dir)
    after = ce_host(components=["ServerAgent", "DialerServer", "RuleServer"],
                    files={SA_CONFIG: sa_config(server("DialerServer", port="9915"),
                                                server("RuleServer"))},
                    site=site)
    b = tmp_path / "after.json"
    b.write_text(json.dumps(after.plan().to_json()), "utf-8")
    status, text = run("diff", str(a), str(b))
    assert status == 1
    assert "  + CE-RuleServer-TCP-dynamic: TCP any from 198.18.0.10" in text
    assert "  ~ CE-DialerServer-TCP\n      local ports: 9905 -> 9915" in text
    assert "  DialerServer TCP: 9905 -> 9915 (B: " in text
    assert "+ low dynamic-port RuleServer" in text
    data = json.loads(run("diff", str(a), str(b), "--json")[1])
    assert data["schema"] == "cefw.diff/1" and data["same"] is False
    assert data["rules"]["changed"][0]["fields"]["local_ports"] == {
        "a": [[9905, 9905]], "b": [[9915, 9915]]}
    assert [m["after"] for m in data["listeners"]["port_moved"]] == [[[9915, 9915]]]
    assert [r["name"] for r in data["rules"]["added"]] == ["CE-RuleServer-TCP-dynamic"]
    assert [f["code"] for f in data["findings"]["new"]] == ["dynamic-port"]
    # The other way round: the rule is only in A, the finding gone.
    back = json.loads(run("diff", str(b), str(a), "--json")[1])
    assert [r["name"] for r in back["rules"]["removed"]] == ["CE-RuleServer-TCP-dynamic"]
    assert [f["code"] for f in back["findings"]["gone"]] == ["dynamic-port"]


def test_two_install_folders(tmp_path: Path) -> None:
    primary = tmp_path / "primary"
    shutil.copytree(EXAMPLES / "agent-pc" / "install", primary)
    secondary = tmp_path / "secondary"
    shutil.copytree(EXAMPLES / "agent-pc" / "install", secondary)
    status, _ = run("diff", str(primary), str(secondary))
    assert status == 0
    config = next(secondary.rglob("AgentClientApp.config.xml"))
    config.write_text(config.read_text("utf-8").replace("19960", "19961"), "utf-8")
    status, text = run("diff", str(primary), str(secondary))
    assert status == 1 and "19960 -> 19961" in text


def test_bad_input_exits_2(tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    broken = tmp_path / "broken.json"
    broken.write_text("{not json", "utf-8")
    other = tmp_path / "other.json"
    other.write_text('{"schema": "cefw.audit/1"}', "utf-8")
    for argv in ([str(broken), str(broken)], [str(other), str(other)],
                 [str(tmp_path / "missing.json"), str(other)]):
        assert run("diff", *argv)[0] == 2
    err = capsys.readouterr().err
    assert "cefw plan --json" in err and "Traceback" not in err
