"""nftables on a real kernel with real packets.

Four hosts in network namespaces on one bridge: the CE server (cefw runs here, with TCP
and UDP listeners on every port of the bundled core-host plan), a second CE server
(zone `servers`), an agent PC (zone `clients`) and an outsider. The plan, its ports and
who may reach them come from `cefw plan --format json`; nothing here hard-codes a port.
Needs root, nft and ip; skipped elsewhere with the reason, never skipped in CI.
"""

from __future__ import annotations

import ipaddress
import json
import os
import re
import shutil
import stat
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import NamedTuple

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import cefw
from cefw.apply.operations import converge
from cefw.apply.reconcile import diff
from cefw.apply.state import StateDir
from cefw.errors import ApplyFailed, EnvironmentProblem
from cefw.model import ANY, Rule
from cefw.platforms.nftables.backend import NftablesBackend
from cefw.platforms.nftables.readback import parse_table
from cefw.platforms.nftables.table import PRIORITY_VALUE
from netns import (
    FILTERED,
    OPEN,
    Lab,
    Netns,
    Observer,
    format_ports,
    fresh_netns_runner,
    unavailable,
)
from nft_samples import FOREIGN as DEFAULT_DROP_TABLES
from nft_samples import SAMPLE, SCENARIOS, recorded

REASON = unavailable()
if REASON and os.environ.get("CEFW_REQUIRE_NETNS"):  # CI: a skip here would hide a gap
    pytest.fail(f"CEFW_REQUIRE_NETNS is set but the netns tests cannot run: {REASON}",
                pytrace=False)
pytestmark = [pytest.mark.netns,
              pytest.mark.skipif(REASON is not None, reason=f"netns tests: {REASON}")]

EXAMPLE = Path(cefw.__file__).parent / "examples" / "core-host"
FOREIGN = """\
table inet site_fw {
	set admins {
		type ipv4_addr
		elements = { 192.0.2.10, 192.0.2.11 }
	}
	chain input {
		type filter hook input priority filter; policy accept;
		ip saddr 192.0.2.66 drop
	}
}
"""


# ---------------------------------------------------------------- the plan, read from the CLI


class PlanRule(NamedTuple):
    name: str
    component: str
    protocol: str
    ports: list[int]
    remote: list[str]

    def admits(self, address: str) -> bool:
        if self.remote == [ANY]:
            return True
        ip = ipaddress.ip_address(address)
        return any(ip in ipaddress.ip_network(r) for r in self.remote)


class Plan:
    def __init__(self, data: dict) -> None:
        self.rules = [
            PlanRule(r["name"], r["components"][0], r["protocol"].lower(),
                     [p for low, high in r["local_ports"] for p in range(low, high + 1)],
                     r["remote_addresses"])
            for r in data["rules"] if r["local_ports"]]

    def ports(self, protocol: str) -> list[int]:
        return sorted({p for r in self.rules if r.protocol == protocol for p in r.ports})

    def rule(self, component: str, protocol: str = "tcp") -> PlanRule:
        return next(r for r in self.rules
                    if r.component == component and r.protocol == protocol)

    def expected(self, protocol: str, port: int, address: str) -> str:
        covering = [r for r in self.rules if r.protocol == protocol and port in r.ports]
        if not covering:
            return OPEN  # no cefw rule: left to the host's own policy (accept here)
        return OPEN if any(r.admits(address) for r in covering) else FILTERED

    def free_port(self, protocol: str, start: int) -> int:
        taken = set(self.ports(protocol))
        return next(p for p in range(start, 65536) if p not in taken)


class World(NamedTuple):
    lab: Lab
    files: Path
    site: Path
    plan: Plan
    baseline: str  # `nft list ruleset` of the server before cefw ever ran
    foreign: str  # `nft list table inet site_fw` before cefw ever ran
    extra_tcp: int  # listeners on ports no rule names
    extra_udp: int

    @property
    def server(self) -> Netns:
        return self.lab["server"].ns

    def state(self) -> Path:
        return self.files / "state"


def cefw_cli(ns: Netns, *args: str, env: dict[str, str] | None = None,
             prefix: tuple[str, ...] = ()) -> subprocess.CompletedProcess[str]:
    return ns.run([*prefix, sys.executable, "-m", "cefw", *args], check=False, env=env)


def add_args(world: World, *extra: str) -> list[str]:
    return ["add", "--backend", "nftables", "--example", "core-host", "--site",
            str(world.site), "--state-dir", str(world.state()), *extra]


def remove(world: World) -> None:
    done = cefw_cli(world.server, "remove", "--backend", "nftables", "--state-dir",
                    str(world.state()))
    assert done.returncode == 0, done.stderr
    assert world.server.ruleset() == world.baseline


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    files = tmp_path_factory.mktemp("nftables-netns")
    lab = Lab(str(os.getpid()))
    try:
        site = files / "site.toml"
        site.write_text(lab.site_toml(), encoding="utf-8")
        server = lab["server"].ns
        planned = cefw_cli(server, "plan", "--example", "core-host", "--site", str(site),
                           "--format", "json")
        assert planned.returncode == 0, planned.stderr
        plan = Plan(json.loads(planned.stdout))
        extra_tcp, extra_udp = plan.free_port("tcp", 20000), plan.free_port("udp", 20000)
        moved = plan.free_port("tcp", plan.rule("DialerServer").ports[0] + 10)
        _listen(server, [*plan.ports("tcp"), extra_tcp, moved], [*plan.ports("udp"), extra_udp])
        server.nft("-f", "-", input=FOREIGN)
        yield World(lab, files, site, plan, server.ruleset(),
                    server.nft("list", "table", "inet", "site_fw").stdout, extra_tcp,
                    extra_udp)
    finally:
        lab.close()


def _listen(ns: Netns, tcp: list[int], udp: list[int]) -> None:
    child = ns.popen(ns.python("listen", "--tcp", format_ports(tcp), "--udp",
                               format_ports(udp)), stdout=subprocess.PIPE)
    assert child.stdout is not None and child.stdout.readline().strip() == "ready"


def probe(world: World, role: str, target: str, tcp: list[int], udp: list[int],
          timeout: float = 0.5) -> dict[tuple[str, int], str]:
    ns = world.lab[role].ns
    done = ns.run(ns.python("probe", "--target", target, "--tcp", format_ports(tcp),
                            "--udp", format_ports(udp), "--timeout", str(timeout)))
    data = json.loads(done.stdout)
    return {(proto, int(port)): verdict for proto, found in data.items()
            for port, verdict in found.items()}


def expected(world: World, role: str, tcp: list[int], udp: list[int],
             family: str = "v4") -> dict:
    """What `role` should see, from the plan's rules and its own address."""
    address = getattr(world.lab[role], family)
    return {**{("tcp", p): world.plan.expected("tcp", p, address) for p in tcp},
            **{("udp", p): world.plan.expected("udp", p, address) for p in udp}}


def wrong(found: dict, wanted: dict) -> dict:
    return {k: (found.get(k), v) for k, v in wanted.items() if found.get(k) != v}


# ---------------------------------------------------------------- the policy, with packets


def test_policy_holds_for_real_packets(world: World) -> None:
    plan, server = world.plan, world.server
    done = cefw_cli(server, *add_args(world))
    assert done.returncode == 0, done.stderr
    assert server.nft("list", "table", "inet", "site_fw").stdout == world.foreign

    tcp, udp = [*plan.ports("tcp"), world.extra_tcp], [*plan.ports("udp"), world.extra_udp]
    verdicts = {}
    for role in ("server2", "agent", "outsider"):
        for family in ("v4", "v6"):
            target = getattr(world.lab["server"], family)
            found = probe(world, role, target, tcp, udp)
            assert wrong(found, expected(world, role, tcp, udp, family)) == {}, (role, family)
            verdicts[role, family] = found

    def seen(role: str, protocol: str, port: int) -> set[str]:
        return {verdicts[role, f][protocol, port] for f in ("v4", "v6")}

    # The second server reaches every port of the plan, TCP and UDP.
    assert {v for k, v in verdicts["server2", "v4"].items()} == {OPEN}
    dialer = plan.rule("DialerServer").ports[0]
    assert seen("server2", "tcp", dialer) == {OPEN}
    assert seen("agent", "tcp", dialer) == {FILTERED}  # server-only
    for component in ("NamingService", "TelephonyServer"):  # clients too
        port = plan.rule(component).ports[0]
        assert seen("agent", "tcp", port) == {OPEN}
        assert seen("outsider", "tcp", port) == {FILTERED}
    media = plan.rule("TelephonyRecorder.CMAPI", "udp").ports
    for port in (media[0], media[len(media) // 2], media[-1]):
        assert seen("server2", "udp", port) == {OPEN}
        assert seen("agent", "udp", port) == {FILTERED}
        assert seen("outsider", "udp", port) == {FILTERED}
    # The outsider reaches no port of the plan; ports without a rule stay the host's.
    outsider = verdicts["outsider", "v4"]
    assert {v for (proto, port), v in outsider.items()
            if port not in (world.extra_tcp, world.extra_udp)} == {FILTERED}
    assert outsider["tcp", world.extra_tcp] == OPEN
    assert outsider["udp", world.extra_udp] == OPEN
    # The server talking to itself is never cut off (loopback).
    assert set(probe(world, "server", "127.0.0.1", plan.ports("tcp"), []).values()) == {OPEN}

    remove(world)
    assert probe(world, "outsider", world.lab["server"].v4, [dialer], [media[0]]) == {
        ("tcp", dialer): OPEN, ("udp", media[0]): OPEN}


def test_unchanged_rerun_sends_nothing_to_the_kernel(world: World) -> None:
    """`nft monitor` prints every ruleset change the kernel commits: after the first
    `cefw add`, a second one must make it print nothing, while a hand edit shows."""
    server = world.server
    assert cefw_cli(server, *add_args(world)).returncode == 0
    monitor = server.popen(["nft", "monitor", "ruleset"], stdout=subprocess.PIPE)
    try:
        time.sleep(0.3)  # let it subscribe
        again = cefw_cli(server, *add_args(world, "--format", "json"))
        assert again.returncode == 0, again.stderr
        outcome = json.loads(again.stdout)
        assert outcome["applied"] is False and outcome["changes"] == []
        server.nft("add", "rule", "inet", "contact_expert", "input", "tcp", "dport", "22",
                   "accept")  # the control: a change the monitor must see
        time.sleep(0.3)
    finally:
        monitor.terminate()
        events, _ = monitor.communicate(timeout=5)
    assert events.strip().splitlines() == [
        "add rule inet contact_expert input tcp dport 22 accept"]

    audited = cefw_cli(server, "audit", "--backend", "nftables", "--example", "core-host",
                       "--site", str(world.site), "--format", "json")
    assert audited.returncode == 1
    drift = json.loads(audited.stdout)["drift"]
    assert [d["kind"] for d in drift] == ["extra"]
    assert "`tcp dport 22 accept`" in drift[0]["name"]

    assert cefw_cli(server, *add_args(world)).returncode == 0  # repairs the drift
    audited = cefw_cli(server, "audit", "--backend", "nftables", "--example", "core-host",
                       "--site", str(world.site), "--format", "json")
    assert json.loads(audited.stdout)["in_sync"] is True
    remove(world)


def test_dry_run_prints_the_transaction_and_changes_nothing(world: World) -> None:
    server = world.server
    done = cefw_cli(server, *add_args(world, "--dry-run"))
    assert done.returncode == 0, done.stderr
    # No table yet: the address sets are committed first, then the chain that uses them.
    first, _, second = done.stdout.partition("# 2 of 2: the rules\n")
    assert "# 1 of 2: the address sets the new rules use, committed first\n" in first
    assert "\tset sources4_" in first and "chain input" not in first
    assert "\tchain input {" in second and "\tset " not in second
    assert f"tcp dport {world.plan.rule('DialerServer').ports[0]} drop" in done.stdout
    assert server.ruleset() == world.baseline


def test_exported_script_loads_the_same_table_as_add(world: World, scratch: Netns) -> None:
    exported = cefw_cli(world.server, "export", "--format", "nft", "--example", "core-host",
                        "--site", str(world.site))
    assert exported.returncode == 0, exported.stderr
    assert exported.stdout.startswith("#!/usr/sbin/nft -f\n")
    scratch.nft("-f", "-", input=exported.stdout)
    try:
        assert cefw_cli(world.server, *add_args(world)).returncode == 0
        assert scratch.ruleset() == world.server.ruleset().replace(world.foreign, "")
    finally:
        scratch.nft("flush", "ruleset")
    remove(world)


def test_remove_restores_the_ruleset_exactly(world: World) -> None:
    server = world.server
    assert cefw_cli(server, *add_args(world)).returncode == 0
    assert server.ruleset() != world.baseline
    assert server.nft("list", "table", "inet", "site_fw").stdout == world.foreign
    remove(world)  # asserts byte-identity with the ruleset before cefw ever ran
    assert server.nft("list", "table", "inet", "site_fw").stdout == world.foreign
    # A second remove has nothing to do and sends nothing.
    again = cefw_cli(server, "remove", "--backend", "nftables", "--state-dir",
                     str(world.state()), "--format", "json")
    assert json.loads(again.stdout)["applied"] is False
    assert server.ruleset() == world.baseline


# ---------------------------------------------------------------- failures


def _failing_nft(folder: Path, extra_line: str) -> dict[str, str]:
    """An `nft` first on PATH that appends `extra_line` to every transaction (`-f`),
    so the kernel refuses the batch, and runs the real nft otherwise."""
    real = shutil.which("nft")
    folder.mkdir(exist_ok=True)
    wrapper = folder / "nft"
    wrapper.write_text(
        "#!/bin/sh\n"
        'case " $* " in\n'
        f'  *" -f "*) {{ cat; echo \'{extra_line}\'; }} | exec {real} "$@" ;;\n'
        f'  *) exec {real} "$@" ;;\n'
        "esac\n", encoding="utf-8")
    wrapper.chmod(wrapper.stat().st_mode | stat.S_IEXEC)
    return {**os.environ, "PATH": f"{folder}:{os.environ['PATH']}"}


def _moved_install(world: World, new_port: int) -> Path:
    """A copy of the example's install folder with DialerServer on `new_port`."""
    copy = world.files / f"install-{new_port}"
    if not copy.exists():
        shutil.copytree(EXAMPLE / "install", copy)
        config = copy / "Services" / "ServerAgent" / "ServerAgent.Config.xml"
        old = world.plan.rule("DialerServer").ports[0]
        text = config.read_text(encoding="utf-8-sig")
        edited = re.sub(rf'(<Server Name="DialerServer"[^>]*\bPort=")({old})(")',
                        rf"\g<1>{new_port}\g<3>", text)
        assert edited.count(f'Port="{new_port}"') == 1
        config.write_text("\ufeff" + edited, encoding="utf-8")
    return copy


def _moved_port(world: World) -> int:
    return world.plan.free_port("tcp", world.plan.rule("DialerServer").ports[0] + 10)


@pytest.mark.parametrize("extra_line", [
    "create table inet site_fw",  # the kernel refuses it (File exists): batch aborted
    "add rule inet contact_expert input tcp dport @nosuchset accept",  # refused by nft itself
])
def test_a_failed_transaction_leaves_the_ruleset_unchanged(world: World,
                                                           extra_line: str) -> None:
    server = world.server
    assert cefw_cli(server, *add_args(world)).returncode == 0
    before = server.ruleset()
    moved = _moved_install(world, _moved_port(world))  # so there is something to send
    env = _failing_nft(world.files / "failing-nft", extra_line)
    failed = cefw_cli(server, *add_args(world, "--install-dir", str(moved)), env=env)
    assert failed.returncode == 2, failed.stdout + failed.stderr
    assert "applied none of it" in failed.stderr
    assert "Traceback" not in failed.stderr
    assert server.ruleset() == before  # byte-identical: the table is as it was
    # Without the injected line the same change goes through.
    assert cefw_cli(server, *add_args(world, "--install-dir", str(moved))).returncode == 0
    assert server.ruleset() != before
    remove(world)


def test_a_second_run_is_refused_while_one_holds_the_lock(world: World) -> None:
    server = world.server
    with StateDir(world.state()).lock("nftables"):
        refused = cefw_cli(server, *add_args(world))
    assert refused.returncode == 2
    assert "another cefw run is changing the nftables firewall" in refused.stderr
    assert server.ruleset() == world.baseline


UNPRIVILEGED = {
    # root without any capability: what a locked-down container or service gets
    "root without CAP_NET_ADMIN": ("setpriv", "--bounding-set=-all", "--inh-caps=-all"),
    "nobody": ("setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"),
}


@pytest.mark.parametrize("who", sorted(UNPRIVILEGED))
def test_not_root_is_refused_with_exit_2(world: World, who: str) -> None:
    if shutil.which("setpriv") is None:
        pytest.skip("setpriv (util-linux) is not installed")
    prefix = UNPRIVILEGED[who]
    if world.server.run([*prefix, sys.executable, "-c", "pass"], check=False).returncode:
        pytest.skip(f"{who} cannot run {sys.executable} here (its folder is private); "
                    "the capability-less root variant covers the check")
    shared = Path(tempfile.mkdtemp(prefix="cefw-unprivileged-"))
    try:
        shared.chmod(0o777)
        site = shared / "site.toml"
        site.write_text(world.site.read_text(encoding="utf-8"), encoding="utf-8")
        site.chmod(0o644)
        args = ["add", "--backend", "nftables", "--example", "core-host", "--site",
                str(site), "--state-dir", str(shared / "state")]
        for command in (args, [*args, "--dry-run"]):
            refused = cefw_cli(world.server, *command, prefix=prefix,
                               env={**os.environ, "HOME": str(shared)})
            assert refused.returncode == 2, refused.stdout + refused.stderr
            assert "must run as root" in refused.stderr
            assert "Traceback" not in refused.stderr
        assert world.server.ruleset() == world.baseline
        # Past that check (capabilities can be granted in ways it cannot see), nft's own
        # refusal is turned into the same clear message.
        as_them = NftablesBackend(runner=lambda argv, stdin: world.server.runner()(
            [*prefix, *argv], stdin))
        with pytest.raises(EnvironmentProblem, match="refused access") as caught:
            as_them.read()
        assert "root" in caught.value.fix and caught.value.exit_status == 2
    finally:
        shutil.rmtree(shared)


# ---------------------------------------------------------------- a changed port, under load


class Watcher(NamedTuple):
    role: str
    expect: str  # OPEN or FILTERED
    keys: list[tuple[str, str, int]]  # (source address, protocol, port) it probes
    child: subprocess.Popen


def _watchers(world: World, stop: Path, skip: set[int]) -> list[Watcher]:
    """Per client host, one loop over the ports it must reach and one over the ports it
    must not (the changing port left out), until `stop` exists."""
    plan = world.plan
    tcp = [p for p in plan.ports("tcp") if p not in skip]
    udp = []
    for rule in (r for r in plan.rules if r.protocol == "udp"):  # each range's edges + middle
        udp += [rule.ports[0], rule.ports[len(rule.ports) // 2], rule.ports[-1]]
    target = world.lab["server"].v4
    out = []
    for role in ("server2", "agent", "outsider"):
        wanted = expected(world, role, tcp, udp)
        for verdict, timeout in ((OPEN, "1.0"), (FILTERED, "0.3")):
            t = [p for (proto, p), v in wanted.items() if proto == "tcp" and v == verdict]
            u = [p for (proto, p), v in wanted.items() if proto == "udp" and v == verdict]
            if not t and not u:
                continue
            ns = world.lab[role].ns
            child = ns.popen(ns.python("watch", "--target", target, "--tcp", format_ports(t),
                                       "--udp", format_ports(u), "--expect", verdict,
                                       "--timeout", timeout, "--stop", str(stop)),
                             stdout=subprocess.PIPE)
            source = world.lab[role].v4
            keys = [(source, "tcp", p) for p in t] + [(source, "udp", p) for p in u]
            out.append(Watcher(role, verdict, keys, child))
    return out


def _rule_verdicts(watchers: list[Watcher], counts: dict) -> tuple[dict, dict]:
    """From the server's counters: packets a rule dropped that the plan allows, and
    packets that got past cefw's chain that the plan does not allow, per (source,
    protocol, port). Every probed key must have been counted, or the observer saw
    nothing and proves nothing."""
    dropped, leaked = {}, {}
    for watcher in watchers:
        for key in watcher.keys:
            seen, passed = counts.get(key, (0, 0))
            assert seen > 0, f"the observer counted no packet for {key}"
            if watcher.expect == OPEN and passed < seen:
                dropped[key] = seen - passed
            if watcher.expect == FILTERED and passed:
                leaked[key] = passed
    return dropped, leaked


def test_a_changed_port_moves_the_restriction_without_a_wrong_answer(world: World) -> None:
    """Clients probe every port in loops while `cefw add` moves DialerServer's port.
    Judged by the server's own counters (an observer table around cefw's chain): no
    packet from an allowed source is dropped by a rule, none from another source gets
    past it, and no probe answer is wrong. A probe that got no answer but whose port
    answers when probed again, with no packet dropped by a rule, was lost to load (2
    busy cores): reported, not a wrong answer."""
    server, plan = world.server, world.plan
    old = plan.rule("DialerServer").ports[0]
    new = _moved_port(world)
    moved = _moved_install(world, new)
    replanned = cefw_cli(server, "plan", "--example", "core-host", "--install-dir",
                         str(moved), "--site", str(world.site), "--format", "json")
    assert Plan(json.loads(replanned.stdout)).rule("DialerServer").ports == [new]

    assert cefw_cli(server, *add_args(world)).returncode == 0
    stop = world.files / "stop-watching"
    stop.unlink(missing_ok=True)
    observer = Observer(server, around=PRIORITY_VALUE)
    try:
        watchers = _watchers(world, stop, skip={old, new})
        try:
            time.sleep(1.0)  # every loop has run a few rounds on the old table
            changed = cefw_cli(server, *add_args(world, "--install-dir", str(moved),
                                                 "--format", "json"))
            time.sleep(1.0)  # and a few on the new one
        finally:
            stop.touch()
        results = {}
        for watcher in watchers:
            output, _ = watcher.child.communicate(timeout=60)
            results[watcher.role, watcher.expect] = json.loads(output)
        counts = observer.counts()
    finally:
        observer.close()
    assert changed.returncode == 0, changed.stderr
    outcome = json.loads(changed.stdout)
    assert [(c["action"], c["name"]) for c in outcome["changes"]] == [
        ("update", "CE-DialerServer-TCP")]
    dropped, leaked = _rule_verdicts(watchers, counts)
    lost = {key: result["lost"] for key, result in results.items() if result["lost"]}
    assert dropped == {}, f"packets dropped by a rule that allows them: {dropped}; {lost}"
    assert leaked == {}, f"packets past cefw's chain that it must drop: {leaked}"
    for key, result in results.items():
        assert result["wrong"] == [], (key, result)  # zero wrong answers across the change
        assert result["rounds"] >= (20 if key[1] == OPEN else 4), (key, result)
    print(f"move: {_figures(results, counts, watchers)}")

    # The new port is reachable from its zones only; the old one carries no cefw rule.
    target = world.lab["server"].v4
    assert probe(world, "server2", target, [new], [])["tcp", new] == OPEN
    assert probe(world, "agent", target, [new], [])["tcp", new] == FILTERED
    assert probe(world, "outsider", target, [new, old], []) == {
        ("tcp", new): FILTERED, ("tcp", old): OPEN}
    table = json.loads(server.nft("-j", "list", "table", "inet", "contact_expert").stdout)
    held = {p for s in parse_table(table) for low, high in s.rule.local_ports
            for p in range(low, high + 1) if s.rule.protocol == "TCP"}
    assert new in held and old not in held
    remove(world)


def _figures(results: dict, counts: dict, watchers: list[Watcher]) -> str:
    """One line for the log: probes, answers lost to load, packets counted."""
    rounds = sum(r["rounds"] for r in results.values())
    lost = sum(len(r["lost"]) for r in results.values())
    packets = sum(counts.get(k, (0, 0))[0] for w in watchers for k in w.keys)
    return f"{rounds} probe rounds, {lost} answers lost without a rule drop, {packets} packets"


def test_restore_puts_back_the_rules_saved_before_a_change(world: World) -> None:
    server = world.server
    assert cefw_cli(server, *add_args(world)).returncode == 0
    moved = _moved_install(world, _moved_port(world))
    changed = cefw_cli(server, *add_args(world, "--install-dir", str(moved), "--format",
                                         "json"))
    snapshot = json.loads(changed.stdout)["snapshot"]
    assert snapshot and Path(snapshot).is_file()
    restored = cefw_cli(server, "restore", "--backend", "nftables", "--state-dir",
                        str(world.state()), "--snapshot", snapshot)
    assert restored.returncode == 0, restored.stderr
    audited = cefw_cli(server, "audit", "--backend", "nftables", "--example", "core-host",
                       "--site", str(world.site), "--format", "json")
    assert json.loads(audited.stdout)["in_sync"] is True  # the original plan again
    dialer = world.plan.rule("DialerServer").ports[0]
    assert probe(world, "outsider", world.lab["server"].v4, [dialer], []) == {
        ("tcp", dialer): FILTERED}
    remove(world)


# ---------------------------------------------------------------- read-back against live nft


def _without_handles(stored) -> list:  # type: ignore[no-untyped-def]
    return [(re.sub(r"handle \d+", "handle N", s.rule.name), s.rule.protocol,
             s.rule.local_ports, s.rule.remote_addresses) for s in stored]


@pytest.mark.parametrize("scenario", sorted(SCENARIOS))
def test_todays_nft_prints_what_was_recorded(scenario: str) -> None:
    scripts, listing = SCENARIOS[scenario]
    live = json.loads(fresh_netns_runner(scripts, listing))
    assert _without_handles(parse_table(live)) == _without_handles(
        parse_table(recorded(scenario)))


@pytest.fixture(scope="module")
def scratch() -> Iterator[Netns]:
    ns = Netns(f"cefw-{os.getpid()}-scratch")
    try:
        yield ns
    finally:
        ns.close()


def test_failure_injected_through_the_runner_changes_nothing(scratch: Netns) -> None:
    nft = NftablesBackend(runner=scratch.runner())
    converge(nft, SAMPLE, StateDir(Path(tempfile.mkdtemp())), dry_run=False)
    before = scratch.ruleset()

    def failing(argv, stdin):  # type: ignore[no-untyped-def]
        if stdin is not None:
            stdin += "delete rule inet contact_expert input handle 99999\n"
        return scratch.runner()(argv, stdin)

    with pytest.raises(ApplyFailed, match="No such file or directory"):
        NftablesBackend(runner=failing).apply(diff([], [], (), lambda r: r), SAMPLE[:2])
    assert scratch.ruleset() == before
    with pytest.raises(ApplyFailed):
        NftablesBackend(runner=failing).apply(diff([], [], (), lambda r: r), [])
    assert scratch.ruleset() == before
    scratch.nft("delete", "table", "inet", "contact_expert")


def test_audit_notes_other_tables_that_drop_by_default(scratch: Netns) -> None:
    nft = NftablesBackend(runner=scratch.runner())
    assert nft.store_findings([]) == []  # an empty ruleset drops nothing
    scratch.nft("-f", "-", input=DEFAULT_DROP_TABLES)
    try:
        found = nft.store_findings([])
        assert sorted(f.message.split(" (input hook)")[0] for f in found) == [
            "table inet firewalld_like, chain filter_INPUT", "table ip filter, chain INPUT"]
        assert {f.code for f in found} == {"host-firewall-drops"}
    finally:
        scratch.nft("flush", "ruleset")


_names = st.text(st.characters(min_codepoint=32, max_codepoint=0x24F), min_size=1,
                 max_size=30)
_ports = st.lists(st.tuples(st.integers(1, 65535), st.integers(0, 300)).map(
    lambda t: (t[0], min(65535, t[0] + t[1]))), min_size=1, max_size=4)
_v4 = st.tuples(st.integers(0, 2**32 - 1), st.integers(8, 32)).map(
    lambda t: str(ipaddress.ip_network((t[0], t[1]), strict=False)))
_v6 = st.tuples(st.integers(0, 2**128 - 1), st.integers(16, 128)).map(
    lambda t: str(ipaddress.ip_network((t[0], t[1]), strict=False)))
_remote = st.one_of(st.just((ANY,)), st.lists(st.one_of(_v4, _v6), max_size=6).map(tuple))


@st.composite
def _rules(draw) -> list[Rule]:  # type: ignore[no-untyped-def]
    names = draw(st.lists(_names, min_size=1, max_size=6, unique=True))
    return [Rule(name, name, draw(st.sampled_from(["TCP", "UDP"])), tuple(draw(_ports)),
                 r"C:\x.exe", draw(_remote), ("domain",), ("X",)) for name in names]


@settings(max_examples=40, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rules=_rules())
def test_any_rules_round_trip_through_the_kernel(scratch: Netns, rules: list[Rule]) -> None:
    calls: list[list[str]] = []
    nft = NftablesBackend(runner=scratch.runner(calls))
    state = StateDir(Path(tempfile.mkdtemp()))
    converge(nft, rules, state, dry_run=False)
    stored = {s.rule.name: s.rule for s in nft.read()}
    assert stored == {r.name: nft.normalise(r) for r in rules}
    del calls[:]
    assert not converge(nft, rules, state, dry_run=False).applied
    assert [c for c in calls if "-f" in c] == []  # an unchanged re-run sends nothing
    shutil.rmtree(state.path)


def test_lab_hosts_use_only_the_ranges_set_aside_for_tests() -> None:
    """198.18.0.0/15 (benchmarking) and 2001:db8::/32 (documentation): never a private
    range that a real network may route."""
    v4, v6 = ipaddress.ip_network("198.18.0.0/15"), ipaddress.ip_network("2001:db8::/32")
    for address4, address6 in Lab.ADDRESSES.values():
        assert ipaddress.ip_address(address4) in v4 and ipaddress.ip_address(address6) in v6
    assert ipaddress.ip_network(f"198.18.0.0/{Lab.PREFIX[0]}").subnet_of(v4)  # type: ignore[arg-type]
    assert ipaddress.ip_network(f"2001:db8::/{Lab.PREFIX[1]}").subnet_of(v6)  # type: ignore[arg-type]


def test_a_hand_edit_between_two_adds_is_repaired(scratch: Netns) -> None:
    """An unchanged `cefw add` skips reading the table back when the kernel's ruleset
    generation is the one cefw saw when it left the table; a rule added by hand moves the
    generation on, so the next add reads the table, finds the rule and repairs it."""
    calls: list[list[str]] = []

    def generation() -> int | None:  # asked in the scratch namespace, where nft runs
        done = scratch.run([sys.executable, "-m", "cefw.platforms.nftables.generation"])
        return int(done.stdout)

    nft = NftablesBackend(runner=scratch.runner(calls), generation=generation)
    state = StateDir(Path(tempfile.mkdtemp()))
    first = converge(nft, SAMPLE, state, dry_run=False)
    assert first.applied
    written = scratch.ruleset()

    calls.clear()
    again = converge(nft, SAMPLE, state, dry_run=False)
    assert not again.applied and not again.changes
    held = tuple(r.name for r in SAMPLE if not nft.cannot_hold(r))
    assert again.changes.unchanged == held  # every rule, as a full comparison says
    assert calls == []  # nothing listed, nothing sent

    scratch.nft("add", "rule", "inet", "contact_expert", "input", "tcp", "dport", "22",
                "accept")  # the hand edit
    repaired = converge(nft, SAMPLE, state, dry_run=False)
    assert repaired.applied
    assert [c.drift for c in repaired.changes.changes] == ["extra"]
    assert ["nft", "-j", "list", "table", "inet", "contact_expert"] in calls
    assert scratch.ruleset() == written

    changed = [SAMPLE[0]._replace(local_ports=((60001, 60001),)), *SAMPLE[1:]]
    moved = converge(nft, changed, state, dry_run=False)  # a new plan: never skipped
    assert moved.applied and moved.changes.count("update") == 1
    assert diff(changed, nft.read(), nft.fields, nft.normalise).changes == ()
    scratch.nft("delete", "table", "inet", "contact_expert")
