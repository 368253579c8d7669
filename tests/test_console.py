"""The `cefw` console command (cefw.console): it ends the process with os._exit, skipping
the interpreter's teardown. Output must never be lost and no error status hidden."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from cefw.cli import main


def cefw(*args: str, **kwargs) -> subprocess.CompletedProcess[str]:  # type: ignore[no-untyped-def]
    return subprocess.run([sys.executable, "-m", "cefw", *args], capture_output=True,
                          text=True, check=False, **kwargs)


def test_output_is_whole_and_the_same_as_main() -> None:
    done = cefw("plan", "--example", "core-host", "--format", "json")
    assert done.returncode == 0, done.stderr
    out = io.StringIO()
    assert main(["plan", "--example", "core-host", "--format", "json"], out=out) == 0
    assert done.stdout == out.getvalue()
    assert json.loads(done.stdout)["schema"] == "cefw.plan/1"


def test_a_large_output_into_a_file_is_complete(tmp_path: Path) -> None:
    channels = tmp_path / "channels.csv"
    channels.write_text("Channel,Recorder,ControlPort,MediaPort\n" + "".join(
        f"ch-{i},CMAPI,{20000 + i},\n" for i in range(5000)))
    target = tmp_path / "plan.json"
    with target.open("w") as handle:
        done = subprocess.run([sys.executable, "-m", "cefw", "plan", "--example",
                               "core-host", "--channels", str(channels), "--format", "json"],
                              stdout=handle, stderr=subprocess.PIPE, text=True, check=False)
    assert done.returncode == 0, done.stderr
    assert len(json.loads(target.read_text())["endpoints"]) > 5000


@pytest.mark.parametrize(("args", "status", "message"), [
    (["plan", "--no-such-option"], 2, "unrecognized arguments"),
    (["plan", "--example", "no-such-host"], 2, "no bundled example"),
    (["plan", "--install-dir", "/nonexistent/ce"], 2, "does not exist"),
    ([], 2, "usage: cefw"),
])
def test_error_statuses_and_messages_survive(args: list[str], status: int,
                                              message: str) -> None:
    done = cefw(*args)
    assert done.returncode == status
    assert message in done.stdout + done.stderr


def test_help_exits_0_with_the_whole_text() -> None:
    done = cefw("plan", "--help")
    assert done.returncode == 0 and "--install-dir" in done.stdout
    top = cefw("--help", "plan")  # the top-level help lists every command
    assert top.returncode == 0 and "components" in top.stdout and "restore" in top.stdout


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs /dev/full")
@pytest.mark.parametrize("args", [
    ["plan", "--example", "core-host", "--format", "json"],  # fails while writing
    ["examples"],  # small enough to fail only at the last flush, just before os._exit
])
def test_a_failed_write_is_an_error_not_a_success(args: list[str]) -> None:
    with open("/dev/full", "w") as full:
        done = subprocess.run([sys.executable, "-m", "cefw", *args], stdout=full,
                              stderr=subprocess.PIPE, text=True, check=False)
    assert done.returncode != 0
    assert "No space left on device" in done.stderr


def test_a_closed_pipe_is_not_an_error() -> None:
    child = subprocess.Popen([sys.executable, "-m", "cefw", "plan", "--example", "core-host",
                              "--format", "json"], stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)
    assert child.stdout is not None
    child.stdout.readline()
    child.stdout.close()  # `cefw plan | head -1`
    _, err = child.communicate(timeout=60)
    assert child.returncode == 0
    assert "Traceback" not in err


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs /dev/full")
def test_the_last_flush_failing_is_reported_with_status_120() -> None:
    """What Python's own exit does when stdout cannot be flushed: 120, not success."""
    code = ("import sys; from cefw.console import _fast_exit; "
            "sys.stdout.write('buffered'); _fast_exit(0)")
    env = {k: v for k, v in os.environ.items() if k != "PYTHONUNBUFFERED"}  # buffered
    with open("/dev/full", "w") as full:
        done = subprocess.run([sys.executable, "-c", code], stdout=full, env=env,
                              stderr=subprocess.PIPE, text=True, check=False)
    assert done.returncode == 120
    assert "cefw: cannot write the output: No space left on device" in done.stderr
