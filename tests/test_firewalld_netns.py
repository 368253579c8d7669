"""`--backend firewalld` against a real firewalld (tests/firewalld_ns.py: its own bus,
configuration folder and PID namespace) on the CE server of a small routed network
(tests/netns.py GatewayLab: a second CE server, an agent PC and an outsider on other
networks), with real packets per zone before, after and across a port move. The plan
and its ports come from `cefw plan --format json`; nothing here hard-codes a port."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import NamedTuple

import pytest

import firewalld_ns
from cefw.apply.operations import audit, converge
from cefw.apply.state import StateDir
from cefw.plan.site import load as load_site
from cefw.platforms.firewalld.backend import FirewalldBackend
from cefw.platforms.firewalld.policy import POLICY
from firewalld_ns import Firewalld, make_config, tree
from netns import FILTERED, OPEN, GatewayLab, format_ports
from netns import unavailable as netns_unavailable
from test_nftables_netns import Plan, _moved_install, _watchers

REASON = netns_unavailable() or firewalld_ns.unavailable()
if REASON and os.environ.get("CEFW_REQUIRE_NETNS"):  # CI: a skip here would hide a gap
    pytest.fail(f"CEFW_REQUIRE_NETNS is set but the firewalld tests cannot run: {REASON}",
                pytrace=False)
pytestmark = [pytest.mark.netns,
              pytest.mark.skipif(REASON is not None, reason=f"firewalld tests: {REASON}")]


class World(NamedTuple):
    lab: GatewayLab
    files: Path
    site: Path
    plan: Plan
    extra_tcp: int  # a port no rule names: the admin's zone decides it

    def state(self) -> Path:
        return self.files / "state"


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    files = tmp_path_factory.mktemp("firewalld")
    lab = GatewayLab(f"f{os.getpid()}")
    try:
        site = files / "site.toml"
        site.write_text(lab.site_toml(), encoding="utf-8")
        server = lab["server"].ns
        # Every reject answered: the kernel's ICMP rate limit would make some look dropped.
        server.run(["sysctl", "-q", "-w", "net.ipv4.icmp_ratelimit=0"])
        server.run(["sysctl", "-q", "-w", "net.ipv6.icmp.ratelimit=0"])
        planned = server.run([sys.executable, "-m", "cefw", "plan", "--example", "core-host",
                              "--site", str(site), "--format", "json"])
        plan = Plan(json.loads(planned.stdout))
        extra_tcp = plan.free_port("tcp", 20000)
        moved = plan.free_port("tcp", plan.rule("DialerServer").ports[0] + 10)
        child = server.popen(server.python(
            "listen", "--tcp", format_ports([*plan.ports("tcp"), extra_tcp, moved, 22222]),
            "--udp", format_ports(plan.ports("udp"))), stdout=subprocess.PIPE)
        assert child.stdout is not None and child.stdout.readline().strip() == "ready"
        yield World(lab, files, site, plan, extra_tcp)
    finally:
        lab.close()


@pytest.fixture
def daemon(world: World, tmp_path: Path) -> Iterator[Firewalld]:
    fw = Firewalld(world.lab["server"].ns, tmp_path / "fw", make_config(tmp_path / "etc"))
    fw.start()
    try:
        yield fw
    finally:
        fw.stop()
        # The PID namespace takes everything with it (the kernel needs a moment).
        deadline = time.monotonic() + 10
        while survivors(fw.folder) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not survivors(fw.folder)


def survivors(folder: Path) -> list[str]:
    """Processes still running whose command line names the test's folder."""
    out = []
    for proc in Path("/proc").iterdir():
        try:
            cmdline = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode()
            state = (proc / "stat").read_text().split()[2]
        except (OSError, IndexError):
            continue
        if str(folder) in cmdline and state != "Z":
            out.append(cmdline)
    return out


def cefw(world: World, fw: Firewalld, *args: str) -> subprocess.CompletedProcess[str]:
    ns = world.lab["server"].ns
    return subprocess.run(ns.argv([sys.executable, "-m", "cefw", *args]), capture_output=True,
                          text=True, env=fw.env, timeout=300)


def add_args(world: World, *extra: str) -> list[str]:
    return ["add", "--backend", "firewalld", "--example", "core-host", "--site",
            str(world.site), "--state-dir", str(world.state()), *extra]


def verdicts(world: World, tcp: list[int], udp: list[int]) -> dict:
    """(role, family, proto, port) -> verdict, probing the CE server from each side."""
    server, out = world.lab["server"], {}
    for role in ("server2", "agent", "outsider"):
        for family in ("v4", "v6"):
            ns = world.lab[role].ns
            done = ns.run(ns.python("probe", "--target", getattr(server, family), "--tcp",
                                    format_ports(tcp), "--udp", format_ports(udp),
                                    "--timeout", "0.5"))
            for proto, found in json.loads(done.stdout).items():
                for port, verdict in found.items():
                    out[role, family, proto, int(port)] = verdict
    return out


def _udp_sample(plan: Plan) -> list[int]:
    return sorted({p for r in plan.rules if r.protocol == "udp"
                   for p in (r.ports[0], r.ports[len(r.ports) // 2], r.ports[-1])})


def rejected(key: tuple, verdict: str) -> bool:
    """What firewalld's reject looks like: an ICMP error, not an answer and not silence.
    Except for TCP over IPv6: Linux takes ICMPv6 "administratively prohibited" as a soft
    error while connecting and waits out the timeout, so there a reject and a drop look
    alike (IPv4 and UDP tell them apart)."""
    _, family, proto, _ = key
    return verdict != OPEN and (verdict != FILTERED or (family, proto) == ("v6", "tcp"))


def check_enforced(world: World, plan: Plan, tcp: list[int], udp: list[int]) -> int:
    found = verdicts(world, tcp, udp)
    for (role, family, proto, port), verdict in found.items():
        source = getattr(world.lab[role], family)
        covering = [r for r in plan.rules if r.protocol == proto and port in r.ports]
        if covering:
            want = OPEN if any(r.admits(source) for r in covering) else FILTERED
            assert verdict == want, (role, family, proto, port, verdict)
        else:  # no CE rule: the admin's public zone rejects it (not dropped, not open)
            assert rejected((role, family, proto, port), verdict), (role, family, proto,
                                                                    port, verdict)
    return len(found)


def test_policy_with_a_running_firewalld(world: World, daemon: Firewalld) -> None:
    plan = world.plan
    tcp, udp = [*plan.ports("tcp"), world.extra_tcp], _udp_sample(plan)
    before_files = tree(daemon.config)
    before = verdicts(world, tcp, udp)
    # The admin's zone rejects every CE port (an ICMP answer: not dropped, not open).
    assert all(rejected(key, verdict) for key, verdict in before.items()), before

    dry = cefw(world, daemon, *add_args(world, "--dry-run"))
    assert dry.returncode == 0, dry.stderr
    assert f"policies/{POLICY}.xml" in dry.stdout and "ipsets/ce-servers.xml" in dry.stdout
    assert tree(daemon.config) == before_files

    done = cefw(world, daemon, *add_args(world))
    assert done.returncode == 0, done.stderr
    probes = check_enforced(world, plan, tcp, udp)
    assert daemon.cmd("--get-default-zone").stdout.strip() == "public"
    assert tree(daemon.config)["zones/public.xml"] == before_files["zones/public.xml"]
    assert sorted(tree(daemon.config)) == sorted([*before_files, f"policies/{POLICY}.xml",
                                                  "ipsets/ce-servers.xml",
                                                  "ipsets/ce-servers6.xml",
                                                  "ipsets/ce-clients.xml",
                                                  "ipsets/ce-clients6.xml"])
    audited = cefw(world, daemon, "audit", "--backend", "firewalld", "--example",
                   "core-host", "--site", str(world.site), "--format", "json")
    assert audited.returncode == 0, audited.stdout + audited.stderr
    assert json.loads(audited.stdout)["in_sync"] is True
    again = cefw(world, daemon, *add_args(world, "--format", "json"))
    assert json.loads(again.stdout)["applied"] is False

    # Drift: a rich rule added by hand (runtime only) and an address added to a zone set.
    daemon.cmd(f"--policy={POLICY}", "--add-rich-rule",
               f'rule port port="{world.extra_tcp}" protocol="tcp" accept')
    daemon.cmd("--ipset=ce-clients", "--add-entry=198.18.99.0/24")
    audited = cefw(world, daemon, "audit", "--backend", "firewalld", "--example",
                   "core-host", "--site", str(world.site), "--format", "json")
    report = json.loads(audited.stdout)
    assert audited.returncode == 1 and not report["in_sync"]
    kinds = {d["kind"] for d in report["drift"]}
    assert kinds == {"extra", "changed"}, report["drift"]
    assert cefw(world, daemon, *add_args(world)).returncode == 0
    assert json.loads(cefw(world, daemon, "audit", "--backend", "firewalld", "--example",
                           "core-host", "--site", str(world.site), "--format",
                           "json").stdout)["in_sync"]

    # A port move: the new port is the zones' only, the old one back to the admin's zone.
    old = plan.rule("DialerServer").ports[0]
    new = plan.free_port("tcp", old + 10)
    moved_dir = _moved_install(world, new)
    replanned = world.lab["server"].ns.run([sys.executable, "-m", "cefw", "plan",
                                            "--example", "core-host", "--install-dir",
                                            str(moved_dir), "--site", str(world.site),
                                            "--format", "json"])
    moved_plan = Plan(json.loads(replanned.stdout))
    # Every other port watched from every side while firewalld reloads: no wrong answer.
    stop = world.files / "stop-watching"
    stop.unlink(missing_ok=True)
    watchers = _watchers(world, stop, skip={old, new})  # type: ignore[arg-type]
    try:
        time.sleep(1.0)
        changed = cefw(world, daemon, *add_args(world, "--install-dir", str(moved_dir),
                                                "--format", "json"))
        time.sleep(1.0)
    finally:
        stop.touch()
    for watcher in watchers:
        result = json.loads(watcher.child.communicate(timeout=60)[0])
        assert result["wrong"] == [], (watcher.role, watcher.expect, result["wrong"][:5])
        assert result["rounds"] >= 2, (watcher.role, watcher.expect, result)
    assert changed.returncode == 0, changed.stderr
    assert [c["name"] for c in json.loads(changed.stdout)["changes"]] == [
        "CE-DialerServer-TCP"]
    probes += check_enforced(world, moved_plan, [old, new, world.extra_tcp], [])

    removed = cefw(world, daemon, "remove", "--backend", "firewalld", "--state-dir",
                   str(world.state()))
    assert removed.returncode == 0, removed.stderr
    assert tree(daemon.config) == before_files  # as before the first add: every file
    assert POLICY not in daemon.cmd("--get-policies").stdout
    after = verdicts(world, tcp, udp)
    # Back to the admin's zone. UDP flows the watchers left in conntrack may still be
    # answered (the zone accepts established flows, and a probe can reuse a source
    # port): not dropped is what tells that cefw's drops are gone.
    assert {k: v for k, v in after.items() if k[2] == "tcp"} == {
        k: v for k, v in before.items() if k[2] == "tcp"}
    assert FILTERED not in {v for k, v in after.items() if k[2] == "udp"}
    print(f"firewalld: {probes + 2 * len(before)} probes")


def test_offline_configuration_takes_effect_when_firewalld_starts(
        world: World, tmp_path: Path) -> None:
    config = make_config(tmp_path / "etc")
    before_files = tree(config)
    fw = Firewalld(world.lab["server"].ns, tmp_path / "fw", config)
    site = load_site(world.site)
    planned = json.loads(world.lab["server"].ns.run(
        [sys.executable, "-m", "cefw", "plan", "--example", "core-host", "--site",
         str(world.site), "--format", "json"]).stdout)
    from cefw.model import Rule

    rules = [Rule.from_json(r) for r in planned["rules"]]
    backend = FirewalldBackend(site, runner=fw.runner(), system_config=config)
    assert not backend.running()
    state = StateDir(tmp_path / "state")
    outcome = converge(backend, rules, state, dry_run=False)
    assert outcome.applied
    written = tree(config)
    assert written["zones/public.xml"] == before_files["zones/public.xml"]
    assert f"policies/{POLICY}.xml" in written
    report = audit(FirewalldBackend(site, runner=fw.runner(), system_config=config), rules, [])
    assert report.in_sync, report.changes
    assert "firewalld-not-running" in {f.code for f in report.findings}

    fw.start()
    try:
        plan = world.plan
        check_enforced(world, plan, [*plan.ports("tcp"), world.extra_tcp], _udp_sample(plan))
    finally:
        fw.stop()
    backend = FirewalldBackend(site, runner=fw.runner(), system_config=config)
    assert converge(backend, [], state, dry_run=False).applied
    assert tree(config) == before_files


def live_policy(fw: Firewalld) -> list[str]:
    """The live policy's settings and rich rules (their listed order means nothing: the
    priorities order them)."""
    return sorted(line.strip() for line in fw.cmd(f"--info-policy={POLICY}").stdout
                  .splitlines())


def test_a_refused_change_leaves_firewalld_as_it_was(world: World, daemon: Firewalld,
                                                    tmp_path: Path) -> None:
    from cefw.errors import ApplyFailed
    from cefw.model import Rule

    site = load_site(world.site)
    planned = json.loads(world.lab["server"].ns.run(
        [sys.executable, "-m", "cefw", "plan", "--example", "core-host", "--site",
         str(world.site), "--format", "json"]).stdout)
    rules = [Rule.from_json(r) for r in planned["rules"]]
    state = StateDir(tmp_path / "state")
    original = tree(daemon.config)

    def refuse_first_policy(argv, stdin):  # type: ignore[no-untyped-def]
        if any(a.startswith("--new-policy-from-file") for a in argv):
            class Refused:
                returncode, stdout, stderr = 1, "", "Error: INVALID_POLICY: injected"
            return Refused()
        return daemon.runner()(argv, stdin)

    # The first add (objects created, then a reload) refused halfway: nothing left.
    with pytest.raises(ApplyFailed, match="injected"):
        converge(FirewalldBackend(site, runner=refuse_first_policy), rules, state,
                 dry_run=False)
    assert tree(daemon.config) == original
    assert POLICY not in daemon.cmd("--get-policies").stdout
    assert "ce-servers" not in daemon.cmd("--permanent", "--get-ipsets").stdout

    # A change in place (a port moved) refused halfway: the live rules and the files
    # are put back.
    assert converge(FirewalldBackend(site, runner=daemon.runner()), rules, state,
                    dry_run=False).applied
    files, live = tree(daemon.config), live_policy(daemon)

    refused: list[list[str]] = []

    def refusing(argv, stdin):  # type: ignore[no-untyped-def]
        """Refuses the first new policy (the change); the rollback's goes through."""
        if any(a.startswith("--new-policy-from-file") for a in argv) and not refused:
            refused.append(list(argv))
            class Refused:
                returncode, stdout, stderr = 1, "", "Error: INVALID_POLICY: injected"
            return Refused()
        return daemon.runner()(argv, stdin)

    changed = [r._replace(local_ports=((r.local_ports[0][0] + 1,) * 2,))
               if r.name == "CE-DialerServer-TCP" else r for r in rules]
    with pytest.raises(ApplyFailed, match="injected"):
        converge(FirewalldBackend(site, runner=refusing), changed, state, dry_run=False)
    assert refused and tree(daemon.config) == files  # the previous objects back, no .old
    assert live_policy(daemon) == live  # the live rules put back too
    assert audit(FirewalldBackend(site, runner=daemon.runner()), rules, []).in_sync
    assert converge(FirewalldBackend(site, runner=daemon.runner()), [], state,
                    dry_run=False).applied
