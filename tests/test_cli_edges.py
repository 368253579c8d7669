"""Edges of the command line a real process shows: output to a full disk, pin refusing a
bundle (a bundle is a copy: pinning it would change nothing on the host)."""

from __future__ import annotations

import io
import subprocess
import sys
from pathlib import Path

from cefw.cli import main


def test_output_to_a_full_disk_is_exit_2_with_a_message_not_a_bug() -> None:
    with open("/dev/full", "w") as full:
        done = subprocess.run([sys.executable, "-m", "cefw", "plan", "--example",
                               "core-host", "--format", "json"], stdout=full,
                              stderr=subprocess.PIPE, text=True, check=False)
    assert done.returncode == 2
    assert "cannot write the output: No space left on device" in done.stderr
    assert "internal error" not in done.stderr and "Traceback" not in done.stderr


def test_pin_refuses_a_bundle(tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    bundle = tmp_path / "core.cefw.zip"
    assert main(["collect", "--example", "core-host", "-o", str(bundle)]) == 0
    assert main(["pin", "--bundle", str(bundle), "--dry-run"], io.StringIO()) == 2
    err = capsys.readouterr().err
    assert "a bundle is a copy" in err and "--install-dir" in err
