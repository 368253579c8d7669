"""Part 5 of issue 9, the words: what an administrator reads says "the firewall" and "the
plan", never the developer's "store", "converge" or "make before break"; audit names
each side; a dry run says "Would change"; addresses show as the site file writes them;
every command takes --json."""

from __future__ import annotations

import io
import json
import re
from pathlib import Path

import pytest

from cefw.cli import COMMANDS, build_parser, main
from cefw.platforms.windows import com as wincom
from winfw_model import FwPolicy

EXAMPLES = ("core-host", "agent-pc", "recorder-host")
# Microsoft's own parameter (New-NetFirewallRule -PolicyStore) and cefw's option named
# after it are the admin's words, not cefw's jargon.
MICROSOFT = re.compile(r"-?-policy[-_]store|PolicyStore", re.IGNORECASE)
FORBIDDEN = re.compile(r"\b(stor(e|es|ed|ing)|converg\w*|make[- ]before[- ]break|"
                       r"no longer (in the plan|planned))\b", re.IGNORECASE)


def forbidden(text: str) -> list[str]:
    return [m.group(0) for m in FORBIDDEN.finditer(MICROSOFT.sub("", text))]


@pytest.fixture
def windows(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys):  # type: ignore[no-untyped-def]
    """`cefw ...` against the Windows Firewall model, as test_windows_backend does:
    returns (status, stdout + stderr)."""
    policy = FwPolicy()
    monkeypatch.setattr(wincom, "open_policy", lambda: policy)
    monkeypatch.setattr(wincom, "new_rule", policy.new_rule)
    monkeypatch.setattr(wincom, "is_elevated", lambda: True)
    state = str(tmp_path / "state")

    def run(*argv: str) -> tuple[int, str]:
        out = io.StringIO()
        status = main([*argv, "--backend", "windows", "--state-dir", state], out)
        return status, out.getvalue() + capsys.readouterr().err

    run.policy = policy  # type: ignore[attr-defined]
    return run


def _help(argv: list[str], capsys) -> str:  # type: ignore[no-untyped-def]
    with pytest.raises(SystemExit) as done:
        main(argv)
    assert done.value.code == 0
    return capsys.readouterr().out


def test_help_texts_use_the_admins_words(capsys) -> None:  # type: ignore[no-untyped-def]
    texts = {"cefw --help": _help(["--help"], capsys)}
    for name in COMMANDS:
        texts[f"cefw {name} --help"] = _help([name, "--help"], capsys)
    assert len(texts) == len(COMMANDS) + 1
    assert {where: forbidden(text) for where, text in texts.items() if forbidden(text)} == {}
    assert "make the firewall hold the plan" in texts["cefw --help"]


@pytest.mark.parametrize("example", EXAMPLES)
def test_outputs_use_the_admins_words(example: str, windows, capsys) -> None:  # type: ignore[no-untyped-def]
    seen = []
    for argv in (["plan"], ["plan", "--wide"], ["plan", "--format", "markdown"]):
        out = io.StringIO()
        assert main([*argv, "--example", example], out) == 0
        seen.append(out.getvalue())
    for argv in (["add", "--dry-run"], ["audit"], ["add"], ["audit"], ["remove", "--dry-run"],
                 ["restore", "--dry-run"]):
        status, text = windows(*argv, *(["--example", example] if argv[0] != "restore"
                                        else []))
        assert status in (0, 1), text
        seen.append(text)
    for fmt in ("powershell", "netsh", "nft"):
        out = io.StringIO()
        assert main(["export", "--example", example, "--format", fmt], out) == 0
        seen.append(out.getvalue())
    assert [forbidden(text) for text in seen] == [[] for _ in seen]
    assert any("CE-" in text for text in seen)  # the scan read real output


def test_readme_prose_uses_the_admins_words() -> None:
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")
    # The Design section names modules (apply/store.py): identifiers, not prose.
    prose = readme.split("## Design", 1)[0] + readme.split("## Dependencies", 1)[1]
    assert forbidden(prose) == []


def test_audit_names_each_side(windows) -> None:  # type: ignore[no-untyped-def]
    windows("add", "--example", "core-host")
    policy = windows.policy
    rule = next(r for r in policy.store.rules if r._values["Name"] == "CE-SDServer-TCP")
    rule.LocalPorts = "1"
    stray = next(r for r in policy.store.rules if r._values["Name"] == "CE-DialerServer-TCP")
    stray.Name = "CE-OldServer-TCP"
    status, text = windows("audit", "--example", "core-host")
    assert status == 1
    assert ("Drift between the plan (what CE's configuration needs) and the firewall (what "
            "Windows Firewall holds in the group Contact Expert)") in text
    assert "changed   CE-SDServer-TCP: local ports firewall: 1 -> plan: 9904" in text
    assert "missing   CE-DialerServer-TCP: in the plan, not in the firewall" in text
    assert "extra     CE-OldServer-TCP: in the firewall, not in the plan" in text
    assert "no longer" not in text
    status, text = windows("audit", "--example", "core-host", "--json")
    drift = {d["name"]: d["detail"] for d in json.loads(text[:text.rindex("}") + 1])["drift"]}
    assert drift["CE-OldServer-TCP"] == "in the firewall, not in the plan"


def test_would_change_in_a_dry_run_changed_after(windows) -> None:  # type: ignore[no-untyped-def]
    _, text = windows("add", "--dry-run", "--example", "agent-pc")
    assert "Would change (windows): 1 to create" in text and "Changed" not in text
    _, text = windows("add", "--dry-run", "--example", "agent-pc", "--json")
    assert json.loads(text[:text.rindex("}") + 1])["dry_run"] is True
    _, text = windows("add", "--example", "agent-pc")
    assert "Changed (windows): 1 to create" in text and "Would change" not in text
    _, text = windows("add", "--example", "agent-pc", "--json")
    assert json.loads(text[:text.rindex("}") + 1])["dry_run"] is False


def test_a_dry_run_restore_never_says_restoring(windows) -> None:  # type: ignore[no-untyped-def]
    windows("add", "--example", "agent-pc")
    status, text = windows("restore", "--dry-run")
    assert status == 0 and "restoring" not in text.lower() and "putting back" not in text
    assert "would put back the 0 rule(s) saved in" in text
    assert "Would change (windows): 0 to create, 0 to update, 1 to delete" in text
    assert "- delete  CE-AgentClientApp-TCP: in the firewall, not in the snapshot" in text
    assert len(windows.policy.group_values()) == 1  # nothing was written
    status, text = windows("remove", "--dry-run")
    assert "- delete  CE-AgentClientApp-TCP: one of cefw's rules" in text


# -- addresses as the site file writes them --------------------------------------------

@pytest.fixture
def site(tmp_path: Path) -> Path:
    path = tmp_path / "site.toml"
    path.write_text('[zones]\nservers = ["198.18.0.10/32", "2001:DB8:0::A", "198.18.0.11"]\n'
                    "clients = []\n", encoding="utf-8")
    return path


def test_people_see_the_addresses_as_written_json_keeps_canonical(
        site: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "400")  # the wide table on one line per row

    def plan(*extra: str) -> str:
        out = io.StringIO()
        assert main(["plan", "--example", "core-host", "--site", str(site), *extra], out) == 0
        return out.getvalue()

    written = "198.18.0.10/32, 2001:DB8:0::A, 198.18.0.11"
    assert f"Zones (as in the site file): servers = {written}; clients = [] (nobody)" in plan()
    assert f"servers ({written})" in plan("--wide")
    assert f"servers ({written})" in plan("--format", "markdown")
    data = json.loads(plan("--json"))
    rule = next(r for r in data["rules"] if r["name"] == "CE-ServerAgent-TCP")
    assert rule["remote_addresses"] == ["198.18.0.10", "198.18.0.11", "2001:db8::a"]
    assert data["zones"][0] == {"name": "servers", "written": written.split(", "),
                                "addresses": rule["remote_addresses"]}
    out = io.StringIO()
    main(["why", "9999", "--example", "core-host", "--site", str(site)], out)
    assert f"servers ({written}), clients (nobody: [] in the site file)" in out.getvalue()
    assert f"from servers ({written}); profiles" in out.getvalue()


def test_the_legend_explains_the_dash() -> None:
    for extra in ([], ["--wide"], ["--format", "markdown"]):
        out = io.StringIO()
        main(["plan", "--example", "agent-pc", *extra], out)
        assert '"-" = nobody' in out.getvalue()


# -- --json on every command -----------------------------------------------------------

ARGS = {"why": ["9998"], "diff": ["a.json"], "export": ["--format", "nft", "-o", "ce.nft"],
        "collect": ["-o", "ce.cefw.zip"], "site": ["plan", "--site", "site.toml"]}


@pytest.mark.parametrize("name", list(COMMANDS))
def test_every_command_takes_json(name: str) -> None:
    args = build_parser(name).parse_args([name, *ARGS.get(name, []), "--json"])
    assert args.json if "json" in vars(args) else args.format == "json"


def test_export_and_report_print_their_summary_as_json(tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    out = io.StringIO()
    target = tmp_path / "ce.nft"
    assert main(["export", "--example", "core-host", "-f", "nft", "-o", str(target),
                 "--json"], out) == 0
    summary = json.loads(out.getvalue())
    held = len(set(re.findall(r'accept comment "(CE-[^"]+)"', target.read_text())))
    assert summary["schema"] == "cefw.export/1" and summary["held"] == held
    assert summary["planned"] == held + len(summary["left_out"]) == 27
    assert capsys.readouterr().err == ""
    out = io.StringIO()
    assert main(["report", "--example", "agent-pc", "-o", str(tmp_path / "r.html"),
                 "--json"], out) == 0
    assert json.loads(out.getvalue())["rules"] == 1
    assert main(["export", "--example", "core-host", "-f", "nft", "--json"]) == 2
    assert "add -o FILE" in capsys.readouterr().err


def test_pin_json(capsys) -> None:  # type: ignore[no-untyped-def]
    out = io.StringIO()
    assert main(["pin", "--dry-run", "--example", "core-host", "--json"], out) == 0
    found = json.loads(out.getvalue())
    assert found["dry_run"] is True and found["backup"] is None
    assert [p["component"] for p in found["pinned"]] == [
        "AgentFactory", "EmailConnectorServer", "EmailServer", "ChatServer"]
    assert found["diff"].startswith("--- a/Services/ServerAgent/ServerAgent.Config.xml")
    out = io.StringIO()
    assert main(["pin", "--dry-run", "--example", "agent-pc", "--json"], out) == 0
    assert json.loads(out.getvalue())["pinned"] == []
