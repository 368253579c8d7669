"""The default table fits 80 and 120 columns: a port or range never split, one line per
listener at 120, programs under the install folder; --wide keeps the full view; piped
output follows COLUMNS."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from cefw.examples import load_example
from cefw.plan.make import make_plan
from cefw.ports import format_ports
from cefw.render import table

EXAMPLES = ("core-host", "agent-pc", "recorder-host")


def _listeners_block(text: str) -> list[str]:
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("Listeners"))
    end = next(i for i, line in enumerate(lines) if line.startswith("Rules"))
    return lines[start:end]


@pytest.mark.parametrize("name", EXAMPLES)
@pytest.mark.parametrize("width", [80, 120])
def test_no_port_is_split_and_no_line_is_wider_than_the_terminal(name: str, width: int) -> None:
    plan = make_plan(load_example(name))
    text = table.render(plan, width=width)
    lines = text.splitlines()
    assert max(len(line) for line in lines) <= width
    for ep in plan.endpoints:
        cell = f"{ep.protocol} {'dynamic' if ep.dynamic else format_ports(ep.ports)}"
        # The whole "UDP 40000-40099" on one line of the listeners table.
        assert any(cell in line for line in _listeners_block(text)), cell
    for rule in plan.rules:
        cell = f"{rule.protocol} {format_ports(rule.local_ports) or 'any'}"
        assert any(cell in line for line in lines), cell


def test_core_host_listeners_table_line_counts() -> None:
    plan = make_plan(load_example("core-host"))
    n = len(plan.endpoints)
    at_120 = _listeners_block(table.render(plan, width=120))
    at_80 = _listeners_block(table.render(plan, width=80))
    # 120: one line per listener plus the title, the header and its rule (was 472 lines);
    # one long label ("UCMA application port") may take a second line.
    assert n + 3 <= len(at_120) <= n + 4
    # 80: a heading per component with several listeners, a second line for a few long
    # names (was 380 lines).
    assert len(at_80) <= n + 30
    whole_80 = table.render(plan, width=80).splitlines()
    assert len(whole_80) <= 220  # was 1,191


def test_programs_are_shown_under_the_install_folder_and_full_in_wide() -> None:
    plan = make_plan(load_example("core-host"))
    compact = table.render(plan, width=120)
    assert "Servers\\DialerServer\\DialerServer.exe" in compact
    assert plan.host.program_dir + "\\Servers" not in compact.replace("\n", "")
    wide = table.render(plan, width=400, wide=True)
    assert "C:\\Program Files (x86)\\Geomant\\Contact Expert\\Servers\\DialerServer\\" \
        "DialerServer.exe" in wide
    assert "10.0.1.10, 10.0.1.11, 10.0.1.20" in wide  # addresses: --wide


def test_markup_in_a_program_path_is_printed_as_is() -> None:
    plan = make_plan(load_example("agent-pc"))
    rule = plan.rules[0]._replace(program=plan.host.program_dir + r"\[bold]x[/bold]\a.exe")
    text = table.render(plan._replace(rules=(rule,)), width=120)
    assert r"[bold]x[/bold]\a.exe" in text


def test_piped_output_follows_columns() -> None:
    for columns in ("80", "120"):
        env = {**os.environ, "COLUMNS": columns}
        done = subprocess.run([sys.executable, "-m", "cefw", "plan", "--example", "core-host"],
                              capture_output=True, text=True, env=env, timeout=60)
        assert done.returncode == 0, done.stderr
        assert max(len(line) for line in done.stdout.splitlines()) <= int(columns)
    env = {k: v for k, v in os.environ.items() if k != "COLUMNS"}
    done = subprocess.run([sys.executable, "-m", "cefw", "plan", "--example", "core-host",
                           "--wide"], capture_output=True, text=True, env=env, timeout=60)
    assert max(len(line) for line in done.stdout.splitlines()) > 120  # 180 by default
