"""The state folder and `cefw restore` through the command line, with the Windows
Firewall model as the backend: snapshots record the command, `restore --list`, a plain
restore run twice does not undo itself, pruning, and a state folder cefw cannot write
(read-only, full, a folder at the lock path) is exit 2 naming it, nothing left behind."""

from __future__ import annotations

import io
import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from cefw import cli
from cefw.apply.state import StateDir
from cefw.platforms.windows.backend import WindowsBackend
from winfw_model import FwPolicy

EXAMPLE = ["--example", "core-host"]


@pytest.fixture
def policy(monkeypatch: pytest.MonkeyPatch) -> FwPolicy:
    """`--backend windows` is the model: every cefw command below works on it."""
    model = FwPolicy()
    import cefw.platforms

    monkeypatch.setattr(cefw.platforms, "get_backend", lambda name: WindowsBackend(
        model, model.new_rule, is_elevated=lambda: True))
    return model


def run(*argv: str, state: Path) -> tuple[int, str]:
    out = io.StringIO()
    status = cli.main([*argv, "--backend", "windows", "--state-dir", str(state)], out)
    return status, out.getvalue()


def held(policy: FwPolicy) -> dict[str, str]:
    return {v["Name"]: v["RemoteAddresses"] for v in policy.group_values()}


def test_plain_restore_twice_puts_back_the_same_rules(policy, tmp_path, capsys) -> None:  # type: ignore[no-untyped-def]
    state = tmp_path / "state"
    site = tmp_path / "site.toml"
    site.write_text('[zones]\nservers = ["198.18.1.10"]\nclients = ["198.19.0.0/16"]\n')
    assert run("add", *EXAMPLE, state=state)[0] == 0  # the example's own site file
    first = held(policy)
    assert run("add", *EXAMPLE, "--site", str(site), state=state)[0] == 2  # other hosts
    assert held(policy) == first
    assert run("add", *EXAMPLE, "--site", str(site), "--allow-widening", state=state)[0] == 0
    scoped = held(policy)
    assert scoped != first
    assert run("restore", state=state)[0] == 0
    assert held(policy) == first
    status, out = run("restore", state=state)  # again: the same snapshot, nothing to do
    assert status == 0 and "In sync" in out
    assert held(policy) == first
    listed = json.loads(run("restore", "--list", "--json", state=state)[1])
    commands = [s["command"] for s in listed["snapshots"]]
    assert commands == ["restore", "add", "add"]  # newest first; the 2nd restore wrote none
    assert [s["rules"] for s in listed["snapshots"]] == [len(scoped), len(first), 0]
    assert listed["default"] == listed["snapshots"][1]["path"]
    # The restore's own snapshot undoes the restore, when asked for by name.
    assert run("restore", "--snapshot", listed["snapshots"][0]["path"], state=state)[0] == 0
    assert held(policy) == scoped
    capsys.readouterr()


def test_restore_list_as_text(policy, tmp_path) -> None:  # type: ignore[no-untyped-def]
    state = tmp_path / "state"
    assert run("restore", "--list", state=state) == (
        0, f"No snapshot for the windows backend in {state}.\n")
    run("add", *EXAMPLE, state=state)
    status, out = run("restore", "--list", state=state)
    lines = out.splitlines()
    assert status == 0 and "newest first (kept: 20)" in lines[0]
    assert "before add" in lines[1] and "0 rule(s)" in lines[1]
    assert "plain `cefw restore` uses this" in lines[1]


def test_old_snapshots_are_pruned_keeping_the_one_restore_uses(policy, tmp_path) -> None:  # type: ignore[no-untyped-def]
    state = StateDir(tmp_path / "state", keep=3)
    for _ in range(5):
        state.save_snapshot("windows", [], "add")
    assert len(state.snapshots("windows")) == 3
    kept_add = state.latest_snapshot("windows")
    for _ in range(4):
        state.save_snapshot("windows", [], "restore")
    found = state.snapshots("windows")
    assert len(found) == 4 and kept_add in found  # 3 newest + the one a plain restore uses
    assert state.latest_snapshot("windows") == kept_add


def test_keep_snapshots_option_and_environment(policy, tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    state = tmp_path / "state"
    monkeypatch.setenv("CEFW_KEEP_SNAPSHOTS", "1")
    assert StateDir(state).keep == 1
    site = tmp_path / "site.toml"
    site.write_text('[zones]\nservers = ["198.18.1.10"]\n')
    run("add", *EXAMPLE, state=state)
    run("add", *EXAMPLE, "--site", str(site), "--keep-snapshots", "2", "--allow-widening",
        state=state)
    assert len(StateDir(state).snapshots("windows")) == 2
    with pytest.raises(SystemExit):
        cli.main(["add", "--keep-snapshots", "0"])


# -- a state folder cefw cannot write ----------------------------------------------------

@pytest.fixture
def tiny_tmpfs(tmp_path: Path) -> Iterator[Path]:
    """A real 64 KiB tmpfs (root only: CI runs as root)."""
    if os.geteuid() != 0:
        if os.environ.get("CEFW_REQUIRE_NETNS"):
            pytest.fail("mounting a tmpfs needs root", pytrace=False)
        pytest.skip("mounting a tmpfs needs root")
    mount = tmp_path / "mnt"
    mount.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(mount)], check=True)
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=True)


def test_a_full_state_folder_is_exit_2_and_leaves_nothing(policy, tiny_tmpfs, capsys) -> None:  # type: ignore[no-untyped-def]
    state = tiny_tmpfs / "state"
    state.mkdir()
    filler = tiny_tmpfs / "filler"
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT)
    try:
        with pytest.raises(OSError, match="No space left"):
            while True:  # until ENOSPC
                os.write(fd, b"x" * 4096)
    finally:
        os.close(fd)
    status, _ = run("add", *EXAMPLE, state=state)
    err = capsys.readouterr().err
    assert status == 2, err
    assert f"state folder {state} (the disk is full)" in err and "Traceback" not in err
    assert held(policy) == {}
    assert sorted(p.name for p in state.iterdir()) == ["windows.lock"]  # no .tmp snapshot


def test_a_read_only_state_folder_is_exit_2(policy, tiny_tmpfs, capsys) -> None:  # type: ignore[no-untyped-def]
    state = tiny_tmpfs / "state"
    state.mkdir()
    subprocess.run(["mount", "-o", "remount,ro", str(tiny_tmpfs)], check=True)
    status, _ = run("add", *EXAMPLE, state=state)
    err = capsys.readouterr().err
    assert status == 2 and f"state folder {state} (read-only file system)" in err
    assert held(policy) == {} and list(state.iterdir()) == []


def test_a_folder_at_the_lock_path_is_exit_2(policy, tmp_path, capsys) -> None:  # type: ignore[no-untyped-def]
    state = tmp_path / "state"
    (state / "windows.lock").mkdir(parents=True)
    status, _ = run("add", *EXAMPLE, state=state)
    err = capsys.readouterr().err
    assert status == 2
    assert f"the lock path {state / 'windows.lock'} in the state folder {state} is a folder" in err
    assert held(policy) == {} and [p.name for p in state.iterdir()] == ["windows.lock"]


def test_a_state_folder_that_cannot_be_created_is_exit_2(policy, tmp_path, capsys) -> None:  # type: ignore[no-untyped-def]
    blocker = tmp_path / "file"
    blocker.write_text("")
    status, _ = run("add", *EXAMPLE, state=blocker / "state")
    assert status == 2 and "cannot create the state folder" in capsys.readouterr().err


# -- remembered inputs -------------------------------------------------------------------

def test_inputs_of_the_last_add_are_reused_and_said(policy, tmp_path, capsys) -> None:  # type: ignore[no-untyped-def]
    state = tmp_path / "state"
    site = tmp_path / "site.toml"
    site.write_text('[zones]\nservers = ["10.0.1.10"]\nclients = ["10.20.0.0/16"]\n')
    assert run("add", *EXAMPLE, "--site", str(site), "--dry-run", state=state)[0] == 0
    assert not (state / "windows-inputs.json").exists()  # a dry run changes nothing
    assert run("add", *EXAMPLE, "--site", str(site), state=state)[0] == 0
    kept = json.loads((state / "windows-inputs.json").read_text())
    assert kept["options"] == {"example": "core-host", "site": str(site)}
    import hashlib
    assert kept["files"][str(site)] == hashlib.sha256(site.read_bytes()).hexdigest()
    capsys.readouterr()

    status, out = run("add", state=state)  # no inputs at all: the same plan, nothing to do
    err = capsys.readouterr().err
    assert status == 0 and "In sync" in out
    assert "no inputs given: using those of the last successful `cefw add`" in err
    assert f"--example core-host --site {site}" in err
    status, out = run("audit", "--json", state=state)
    assert status == 0 and json.loads(out)["in_sync"] is True
    assert "using those of the last successful" in capsys.readouterr().err


def test_inputs_that_differ_from_last_time_are_shown_with_the_change(policy, tmp_path,  # type: ignore[no-untyped-def]
                                                                    capsys) -> None:
    state = tmp_path / "state"
    site = tmp_path / "site.toml"
    site.write_text('[zones]\nservers = ["10.0.1.10"]\nclients = ["10.20.0.0/16"]\n')
    assert run("add", *EXAMPLE, "--site", str(site), state=state)[0] == 0
    site.write_text('[zones]\nservers = ["10.0.1.10", "10.0.1.11"]\nclients = []\n')
    capsys.readouterr()
    status, out = run("add", *EXAMPLE, "--site", str(site), "--allow-widening", "--json",
                      state=state)
    changed = json.loads(out)["inputs_changed"]
    assert status == 0 and len(changed) == 1 and changed[0].startswith(f"{site} changed since")
    assert "inputs differ from the last successful `cefw add`" in capsys.readouterr().err
    # Forgetting --site: the example's own site file, and the change says so.
    status, out = run("add", *EXAMPLE, "--dry-run", state=state)
    assert status == 0
    assert "Inputs differ from the last successful `cefw add`:" in out
    assert f"--site not given (last time: {site})" in out
    assert "would REFUSE" in out  # the example's site lets other hosts in: widening


# -- the guard rails through the command line ----------------------------------------------

def test_the_wrong_folder_is_refused_then_allowed(policy, tmp_path, capsys) -> None:  # type: ignore[no-untyped-def]
    import cefw

    state = tmp_path / "state"
    assert run("add", *EXAMPLE, state=state)[0] == 0
    before = held(policy)
    services = Path(cefw.__file__).parent / "examples" / "core-host" / "install" / "Services"
    capsys.readouterr()
    status, out = run("add", *EXAMPLE, "--install-dir", str(services), state=state)
    err = capsys.readouterr().err
    assert status == 2 and out == ""  # no document on exit 2
    assert f"the plan finds no CE component in {services}" in err
    assert f"delete {len(before)} of the {len(before)} rule(s) the group holds" in err
    assert held(policy) == before
    status, out = run("add", *EXAMPLE, "--install-dir", str(services), "--dry-run", state=state)
    assert status == 0 and "`cefw add` would REFUSE this change" in out
    assert ("a real run would be refused (exit 2, nothing changed) without --allow-removals"
            in capsys.readouterr().err)
    status, _ = run("add", *EXAMPLE, "--install-dir", str(services), "--allow-removals",
                    state=state)
    assert status == 0 and held(policy) == {}


def test_remove_works_when_the_remembered_inputs_are_gone(policy, tmp_path, capsys) -> None:  # type: ignore[no-untyped-def]
    import shutil

    import cefw

    state = tmp_path / "state"
    install = tmp_path / "ce-copy"
    shutil.copytree(Path(cefw.__file__).parent / "examples" / "core-host" / "install", install)
    assert run("add", "--install-dir", str(install), state=state)[0] == 0
    assert held(policy)
    shutil.rmtree(install)
    status, _ = run("remove", state=state)
    assert status == 0 and held(policy) == {}
    assert "using those of the last successful" in capsys.readouterr().err
