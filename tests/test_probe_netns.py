"""`cefw probe` against real nftables rules and real listeners, in network namespaces.

A CE server (cefw's nftables table loaded by `cefw add`, listeners on every TCP port of
the bundled core-host plan), a second CE server and an agent PC, on one bridge, with
addresses from 198.18.0.0/15 and 2001:db8::/32. cefw probe runs on the second server and
on the agent PC, as an administrator would. Needs root, nft and ip; never skipped in CI.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import NamedTuple

import pytest

from netns import Netns, format_ports, unavailable

REASON = unavailable()
if REASON and os.environ.get("CEFW_REQUIRE_NETNS"):
    pytest.fail(f"CEFW_REQUIRE_NETNS is set but the netns tests cannot run: {REASON}",
                pytrace=False)
pytestmark = [pytest.mark.netns,
              pytest.mark.skipif(REASON is not None, reason=f"netns tests: {REASON}")]

HOSTS = {  # role -> (IPv4, IPv6)
    "server": ("198.18.1.10", "2001:db8:1::10"),
    "server2": ("198.18.1.11", "2001:db8:1::11"),
    "agent": ("198.18.2.20", "2001:db8:2::20"),
}
SITE = ('[zones]\nservers = ["198.18.1.10", "198.18.1.11", "2001:db8:1::10", '
        '"2001:db8:1::11"]\nclients = ["198.18.2.0/24", "2001:db8:2::/64"]\n')
TIMEOUT = "0.5"  # a dropped SYN costs this once per port; every port runs at once


class World(NamedTuple):
    ns: dict[str, Netns]
    files: Path
    tcp: list[int]  # every TCP port of the plan

    def cefw(self, role: str, *args: str) -> subprocess.CompletedProcess[str]:
        return self.ns[role].run([sys.executable, "-m", "cefw", *args], check=False)

    def site(self) -> str:
        return str(self.files / "site.toml")

    def probe(self, role: str, *args: str) -> subprocess.CompletedProcess[str]:
        return self.cefw(role, "probe", "--example", "core-host", "--site", self.site(),
                         "--timeout", TIMEOUT, *args)

    def listen(self, ports: list[int]) -> subprocess.Popen:
        server = self.ns["server"]
        child = server.popen(server.python("listen", "--tcp", format_ports(ports)),
                             stdout=subprocess.PIPE)
        assert child.stdout is not None and child.stdout.readline().strip() == "ready"
        return child

    def add(self) -> None:
        done = self.cefw("server", "add", "--backend", "nftables", "--example", "core-host",
                         "--site", self.site(), "--state-dir", str(self.files / "state"))
        assert done.returncode == 0, done.stderr


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    files = tmp_path_factory.mktemp("probe-netns")
    (files / "site.toml").write_text(SITE, encoding="utf-8")
    made: list[Netns] = []
    try:
        switch = Netns(f"cefw-pr{os.getpid()}-sw")
        made.append(switch)
        switch.ip("link", "add", "br0", "type", "bridge")
        switch.ip("link", "set", "br0", "up")
        ns = {}
        for role, (v4, v6) in HOSTS.items():
            host = Netns(f"cefw-pr{os.getpid()}-{role}")
            made.append(host)
            port = f"pr-{role}"[:15]
            switch.ip("link", "add", port, "type", "veth", "peer", "name", "eth0", "netns",
                      host.name)
            switch.ip("link", "set", port, "master", "br0", "up")
            host.ip("addr", "add", f"{v4}/15", "dev", "eth0")
            host.ip("-6", "addr", "add", f"{v6}/32", "dev", "eth0", "nodad")
            host.ip("link", "set", "eth0", "up")
            ns[role] = host
        world = World(ns, files, [])
        planned = world.cefw("server", "plan", "--example", "core-host", "--site",
                             world.site(), "--json")
        assert planned.returncode == 0, planned.stderr
        tcp = sorted({p for r in json.loads(planned.stdout)["rules"] if r["protocol"] == "TCP"
                      for low, high in r["local_ports"] for p in range(low, high + 1)})
        world = world._replace(tcp=tcp)
        world.listen(tcp)
        world.add()
        yield world
    finally:
        for n in reversed(made):
            n.close()


def results(done: subprocess.CompletedProcess[str]) -> dict[tuple[str, int], dict]:
    return {(r["target"], r["port"]): r for r in json.loads(done.stdout)["results"]}


def test_a_correct_firewall_gives_exit_0(world: World) -> None:
    # The agent PC, judged by its own address (198.18.2.20: the clients zone).
    done = world.probe("agent", "--target", "198.18.1.10", "--expect-closed", "--json")
    assert done.returncode == 0, done.stdout + done.stderr
    found = results(done)
    assert {p for (_, p) in found} == set(world.tcp)
    assert found["198.18.1.10", 9999]["verdict"] == "open"  # Naming Service: clients too
    assert found["198.18.1.10", 9905]["verdict"] == "filtered"  # DialerServer: servers only
    assert found["198.18.1.10", 9905]["expected"] == "closed"
    # IPv6, the same answer.
    six = world.probe("agent", "--target", "2001:db8:1::10", "--expect-closed")
    assert six.returncode == 0, six.stdout
    assert "0 mismatch(es)" in six.stdout
    # The second server, as servers, targets from the site file (its own address left out).
    done = world.probe("server2", "--as", "servers")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Probing 198.18.1.10, 2001:db8:1::10 (from [zones] servers in" in done.stdout
    assert f"{len(world.tcp) * 2} TCP port(s) probed ({len(world.tcp) * 2} open)" in done.stdout
    assert "UDP 40000-40099 TelephonyRecorder.CMAPI (channel Avaya-1): UDP has no handshake" \
        in done.stdout


def test_a_deleted_rule_gives_exit_1_naming_the_port(world: World) -> None:
    server = world.ns["server"]
    listing = server.nft("-a", "list", "chain", "inet", "contact_expert", "input").stdout
    handles = [line.rsplit("# handle ", 1)[1] for line in listing.splitlines()
               if "tcp dport 9905 " in line and " accept " in line]
    assert handles
    for handle in handles:
        server.nft("delete", "rule", "inet", "contact_expert", "input", "handle", handle)
    try:
        done = world.probe("server2", "--as", "servers", "--target", "198.18.1.10")
        assert done.returncode == 1, done.stdout
        mismatches = [line for line in done.stdout.splitlines() if line.startswith("MISMATCH")]
        assert len(mismatches) == 1, mismatches
        assert mismatches[0].startswith("MISMATCH 198.18.1.10 TCP 9905 DialerServer: filtered")
        assert "check the firewall rule CE-DialerServer-TCP on 198.18.1.10" in mismatches[0]
        # The agent PC never had 9905: for it nothing changed.
        agent = world.probe("agent", "--target", "198.18.1.10", "--expect-closed")
        assert agent.returncode == 0, agent.stdout
    finally:
        world.add()  # put the rule back for the other tests
    assert world.probe("server2", "--as", "servers", "--target", "198.18.1.10").returncode == 0


def test_a_stopped_service_shows_refused_not_filtered(world: World) -> None:
    server = world.ns["server"]
    for child in server._children:  # stop every listener, start all but TelephonyServer
        child.kill()
        child.wait()
    server._children.clear()
    stopped = 9911
    world.listen([p for p in world.tcp if p != stopped])
    try:
        done = world.probe("agent", "--target", "198.18.1.10", "--json")
        assert done.returncode == 1
        found = results(done)
        assert found["198.18.1.10", stopped]["verdict"] == "refused"
        assert "check the service" in found["198.18.1.10", stopped]["check"]
        assert "TelephonyServer" in found["198.18.1.10", stopped]["check"]
        assert [p for (_, p), r in found.items() if not r["ok"]] == [stopped]
        text = world.probe("agent", "--target", "198.18.1.10")
        assert f"MISMATCH 198.18.1.10 TCP {stopped} TelephonyServer: refused" in text.stdout
    finally:
        for child in server._children:
            child.kill()
            child.wait()
        server._children.clear()
        world.listen(world.tcp)


def test_a_network_in_the_servers_zone_is_refused(world: World, tmp_path: Path) -> None:
    site = tmp_path / "site.toml"
    site.write_text('[zones]\nservers = ["198.18.1.0/24"]\n', encoding="utf-8")
    done = world.cefw("agent", "probe", "--example", "core-host", "--site", str(site))
    assert done.returncode == 2
    assert "198.18.1.0/24 is a network, not a host" in done.stderr
    assert "Traceback" not in done.stderr
