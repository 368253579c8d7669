"""Golden files: one model, every output, for each bundled example host.

tests/golden/<example>/ holds the plan as JSON, Markdown and CSV and the exports as
PowerShell, netsh and nft, exactly as `cefw plan` and `cefw export` write them. A change
to any reader, the policy or a renderer shows up here as a diff to review.

Set CEFW_UPDATE_GOLDEN=1 to rewrite them after a deliberate change (then review the diff).
The example's install folder differs per checkout: it is written as <examples>.
"""

from __future__ import annotations

import io
import os
from pathlib import Path

import pytest

from cefw.cli import main
from cefw.examples import ROOT as EXAMPLES
from cefw.examples import names

GOLDEN = Path(__file__).parent / "golden"

# file name -> the cefw arguments after `--example NAME`
OUTPUTS = {
    "plan.json": ["plan", "--format", "json"],
    "plan.md": ["plan", "--format", "markdown"],
    "plan.csv": ["plan", "--format", "csv"],
    "rules.ps1": ["export", "--format", "powershell"],
    "rules.cmd": ["export", "--format", "netsh"],
    "rules.nft": ["export", "--format", "nft"],
}


def run(example: str, args: list[str]) -> str:
    out = io.StringIO()
    command, *rest = args
    assert main([command, "--example", example, *rest], out=out) == 0
    text = out.getvalue()
    # JSON escapes backslashes; the other outputs write the path as is.
    for shown in (str(EXAMPLES), str(EXAMPLES).replace("\\", "\\\\")):
        text = text.replace(shown, "<examples>")
    return text


def test_every_bundled_example_has_golden_files() -> None:
    assert names() == sorted(p.name for p in GOLDEN.iterdir() if p.is_dir()
                             and (p / "plan.json").exists())


@pytest.mark.parametrize("example", names())
@pytest.mark.parametrize("output", list(OUTPUTS))
def test_golden(example: str, output: str) -> None:
    text = run(example, OUTPUTS[output])
    path = GOLDEN / example / output
    if os.environ.get("CEFW_UPDATE_GOLDEN"):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8", newline="\n")
    assert text == path.read_text(encoding="utf-8"), (
        f"{example}/{output} differs from the golden file (CEFW_UPDATE_GOLDEN=1 rewrites "
        "it; review the diff)")
