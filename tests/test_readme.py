"""README.md stays true: its commands parse (and those on bundled examples run), its
findings table lists every code, and its test command is the one CI runs."""

from __future__ import annotations

import io
import re
import shlex
from pathlib import Path

import pytest

from cefw.cli import build_parser, main
from cefw.findings import CODES

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text(encoding="utf-8")


def _shell_commands() -> list[str]:
    # sh blocks, and the PowerShell ones of the Windows workflow (parsed; they need Windows
    # to run)
    blocks = re.findall(r"```(?:sh|powershell)\n(.*?)```", README, re.S)
    commands = []
    for block in blocks:
        for line in block.splitlines():
            line = line.split(" #", 1)[0].split(" |", 1)[0].strip()
            if line.startswith("cefw "):
                commands.append(line)
    return commands


COMMANDS = _shell_commands()


def test_the_readme_shows_commands() -> None:
    assert len(COMMANDS) >= 10


@pytest.mark.parametrize("command", COMMANDS)
def test_every_readme_command_parses(command: str) -> None:
    argv = shlex.split(command)[1:]
    build_parser().parse_args(argv)  # exits (SystemExit) on an unknown option


def _runnable(command: str) -> bool:
    """Commands that need no Windows, no firewall and no network: those on a bundled
    example (pin only as a dry run: the example is never rewritten), and those that read
    no host at all."""
    words = command.split()
    if words[1] in ("components", "examples"):
        return True
    if "--example" not in words or words[1] in ("probe", "add", "audit", "remove"):
        return False
    return words[1] != "pin" or "--dry-run" in words


RUNNABLE = [c for c in COMMANDS if _runnable(c)]


def test_most_readme_example_commands_run() -> None:
    kinds = {c.split()[1] for c in RUNNABLE}
    assert {"plan", "components", "report", "why", "diff", "pin"} <= kinds


@pytest.mark.parametrize("command", RUNNABLE)
def test_readme_commands_on_bundled_examples_run(command: str, tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """Run as written, in a scratch folder: `-o FILE` lands there, and a plan file the
    command reads (diff before.json) is made first, as the README says."""
    monkeypatch.chdir(tmp_path)
    argv = shlex.split(command)[1:]
    if argv[0] == "diff":
        saved = io.StringIO()
        assert main(["plan", "--example", argv[argv.index("--example") + 1], "--json"],
                    out=saved) == 0
        Path(argv[1]).write_text(saved.getvalue(), encoding="utf-8")
    out = io.StringIO()
    assert main(argv, out=out) == 0
    if "-o" in argv:
        assert (tmp_path / argv[argv.index("-o") + 1]).stat().st_size > 0
    else:
        assert out.getvalue()


def test_findings_table_lists_every_code() -> None:
    for code, (severity, _) in CODES.items():
        assert f"| `{code}` | {severity} |" in README


def test_readme_test_command_is_the_one_ci_runs() -> None:
    ci = (ROOT / ".ci" / "run").read_text()
    command = "CEFW_REQUIRE_NETNS=1 .venv/bin/python -m pytest -q"
    assert command in README
    assert ci.rstrip().splitlines()[-1] == command
    assert "sudo ./.ci/run" in README
