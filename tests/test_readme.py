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
    blocks = re.findall(r"```sh\n(.*?)```", README, re.S)
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


RUNNABLE = [c for c in COMMANDS
            if "--example" in c and c.split()[1] in ("plan", "export") and "-o" not in c]


@pytest.mark.parametrize("command", RUNNABLE)
def test_readme_commands_on_bundled_examples_run(command: str) -> None:
    out = io.StringIO()
    assert main(shlex.split(command)[1:], out=out) == 0
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
