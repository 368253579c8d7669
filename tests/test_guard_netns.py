"""The guard rails of `cefw add` against the real kernel: nftables in a network namespace
of its own. A refused change leaves the ruleset byte-identical; the option lets it in.

Needs root, nft and ip; skipped elsewhere with the reason, never skipped in CI."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

import cefw
from netns import Netns, unavailable

REASON = unavailable()
if REASON and os.environ.get("CEFW_REQUIRE_NETNS"):  # CI: a skip here would hide a gap
    pytest.fail(f"CEFW_REQUIRE_NETNS is set but the netns tests cannot run: {REASON}",
                pytrace=False)
pytestmark = [pytest.mark.netns,
              pytest.mark.skipif(REASON is not None, reason=f"netns tests: {REASON}")]

EXAMPLE = Path(cefw.__file__).parent / "examples" / "core-host"


@pytest.fixture
def host() -> Iterator[Netns]:
    ns = Netns(f"cefw-{os.getpid()}-guard")
    try:
        yield ns
    finally:
        ns.close()


def cefw_in(ns: Netns, state: Path, *args: str):  # type: ignore[no-untyped-def]
    return ns.run([sys.executable, "-m", "cefw", *args, "--backend", "nftables",
                   "--state-dir", str(state)], check=False)


def inputs(*extra: str) -> list[str]:
    """The example's files, given one by one, so the site file can be left out."""
    return ["--install-dir", str(EXAMPLE / "install"), "--registry",
            str(EXAMPLE / "registry.reg"), "--channels", str(EXAMPLE / "channels.csv"),
            *extra]


def test_guard_rails_on_the_real_kernel(host: Netns, tmp_path: Path) -> None:
    state = tmp_path / "state"
    site = ["--site", str(EXAMPLE / "site.toml")]
    first = cefw_in(host, state, "add", *inputs(*site))
    assert first.returncode == 0, first.stderr
    scoped = host.ruleset()
    assert "10.0.1.10" in scoped

    # A re-run that forgets --site: every scoped rule would open to any address.
    forgot = cefw_in(host, state, "add", *inputs())
    assert forgot.returncode == 2 and forgot.stdout == ""
    assert "lets more hosts connect through" in forgot.stderr
    assert "CE-DialerServer-TCP: remote_addresses" in forgot.stderr
    assert "(to any address)" in forgot.stderr
    assert "--site not given (last time:" in forgot.stderr  # remembered inputs differ
    assert host.ruleset() == scoped

    # The wrong folder: nothing found, every rule would go.
    services = EXAMPLE / "install" / "Services"
    wrong = cefw_in(host, state, "add", "--install-dir", str(services), *site)
    assert wrong.returncode == 2
    assert f"the plan finds no CE component in {services}" in wrong.stderr
    assert host.ruleset() == scoped
    dry = cefw_in(host, state, "add", "--install-dir", str(services), *site, "--dry-run",
                  "--json")
    assert dry.returncode == 0 and "delete" in json.loads(dry.stdout)["refused"]
    assert host.ruleset() == scoped

    # Asked for explicitly, both go through.
    wider = cefw_in(host, state, "add", *inputs("--allow-widening", "--json"))
    assert wider.returncode == 0, wider.stderr
    changes = json.loads(wider.stdout)["changes"]
    assert changes and all(c["widens"] for c in changes if c["action"] == "update")
    assert host.ruleset() != scoped
    emptied = cefw_in(host, state, "add", "--install-dir", str(services), "--allow-removals")
    assert emptied.returncode == 0, emptied.stderr
    assert "contact_expert" not in host.ruleset()
