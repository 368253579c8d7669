"""Part 5 of issue 9: the edges an administrator meets (a closed pipe, a missing output
folder, the export summary, options that do not go together)."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from pathlib import Path

import pytest

from cefw.cli import main


def run(*argv: str) -> tuple[int, str]:
    out = io.StringIO()
    return main(list(argv), out=out), out.getvalue()


@pytest.mark.parametrize("argv", [["plan", "--example", "core-host"],
                                  ["plan", "--example", "core-host", "--json"],
                                  ["components"]])
def test_a_closed_pipe_exits_quietly(argv: list[str]) -> None:
    """`cefw plan | head -1`: the reader went away; no traceback, no message, status 0."""
    read, write = os.pipe()
    os.close(read)
    done = subprocess.run([sys.executable, "-m", "cefw", *argv], stdout=write,
                          stderr=subprocess.PIPE, text=True, timeout=60)
    os.close(write)
    assert done.returncode == 0 and done.stderr == ""


def test_head_1_through_a_real_shell_pipe() -> None:
    done = subprocess.run(f"{sys.executable} -m cefw plan --example core-host | head -1",
                          shell=True, capture_output=True, text=True, timeout=60)
    assert done.stdout == "Contact Expert host: roles core\n" and done.stderr == ""


def test_export_to_a_missing_folder_exits_2(tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    status = main(["export", "--example", "core-host", "--format", "nft",
                   "-o", str(tmp_path / "missing" / "ce.nft")])
    assert status == 2
    assert "does not exist" in capsys.readouterr().err


def test_the_export_summary_counts_what_the_script_holds(tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    target = tmp_path / "ce.nft"
    assert main(["export", "--example", "core-host", "--format", "nft",
                 "-o", str(target)]) == 0
    err = capsys.readouterr().err
    import re

    # The rules the script holds: their names in accept comments, each once.
    held = len(set(re.findall(r'accept comment "(CE-[^"]+)"', target.read_text())))
    assert f"the script holds {held} of the plan's 27 rule(s); 5 left out" in err
    assert "CE-AgentFactory-TCP-dynamic" in err and "nftables cannot match a program" in err
    target = tmp_path / "ce.cmd"
    assert main(["export", "--example", "agent-pc", "--format", "netsh",
                 "-o", str(target)]) == 0
    written = target.read_text().count("advfirewall firewall add rule")
    assert f"the script holds {written} of the plan's 1 rule(s)" in capsys.readouterr().err


def test_policy_store_with_netsh_is_refused(capsys) -> None:  # type: ignore[no-untyped-def]
    status = main(["export", "--example", "agent-pc", "--format", "netsh",
                   "--policy-store", "CORP\\CE Servers"])
    assert status == 2
    assert "--policy-store works with --format powershell only" in capsys.readouterr().err


@pytest.mark.parametrize(("text", "fix"), [
    ('[host]\nprogram_dir = "D:\\CE"\n', "use single quotes for Windows paths"),
    ("[zones]\nservers = [198.18.0.10]\n", "quote each address"),
    ("[zones]\nservers = [2001:db8::1]\n", "quote each address"),
])
def test_site_file_mistakes_get_the_fix_that_works(tmp_path: Path, capsys, text: str,  # type: ignore[no-untyped-def]
                                                   fix: str) -> None:
    site = tmp_path / "site.toml"
    site.write_text(text, "utf-8")
    assert main(["plan", "--example", "agent-pc", "--site", str(site)]) == 2
    assert f"fix: {fix}" in capsys.readouterr().err


@pytest.mark.parametrize("value", ["CE", "Program Files\\CE", "/opt/ce", "D:CE"])
def test_program_dir_must_be_an_absolute_windows_path(capsys, value: str) -> None:  # type: ignore[no-untyped-def]
    assert main(["plan", "--example", "agent-pc", "--program-dir", value]) == 2
    assert "is not an absolute Windows path" in capsys.readouterr().err


@pytest.mark.parametrize("value", ["D:\\CE", "C:/CE", "\\\\srv\\share\\CE"])
def test_absolute_windows_paths_are_taken(value: str) -> None:
    status, text = run("plan", "--example", "agent-pc", "--program-dir", value, "--json")
    assert status == 0 and value.replace("\\", "\\\\") in text


def test_zones_open_to_everyone_and_the_public_profile_get_findings(tmp_path: Path) -> None:
    import json

    site = tmp_path / "site.toml"
    site.write_text('[zones]\nservers = ["0.0.0.0/0"]\nclients = ["::/0"]\n'
                    '[rules]\nprofiles = ["domain", "private", "public"]\n', "utf-8")
    plan = json.loads(run("plan", "--example", "agent-pc", "--site", str(site), "--json")[1])
    codes = [f["code"] for f in plan["findings"]]
    assert codes.count("zone-open-to-all") == 2 and "public-profile" in codes
    site.write_text('[zones]\nservers = ["198.18.0.10"]\nclients = ["198.18.32.0/20"]\n')
    plan = json.loads(run("plan", "--example", "agent-pc", "--site", str(site), "--json")[1])
    assert not {"zone-open-to-all", "public-profile"} & {f["code"] for f in plan["findings"]}


def test_markdown_escapes_what_github_and_azure_devops_would_take_for_html() -> None:
    status, text = run("plan", "--example", "core-host", "--format", "markdown")
    assert status == 0
    assert "iiop://:&lt;port&gt;" in text and "&lt;Endpoint&gt;" in text
    assert "<port>" not in text and "<Endpoint>" not in text


def test_components_shows_the_vendors_table() -> None:
    from cefw import catalog

    status, text = run("components")
    assert status == 0
    assert text.splitlines()[0].split() == ["Component", "Role", "Ports", "Source"]
    assert "ServerAgent                     core  TCP 9998" in text
    assert "  configured in: ServerAgent.Config.xml; program: Services\\ServerAgent" in text
    assert len([line for line in text.splitlines() if not line.startswith(" ")]) == \
        len(catalog.COMPONENTS) + 1
