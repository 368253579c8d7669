"""Hosts made of Linux network namespaces, for tests that need a real kernel and real
packets. Never touches the machine's own ruleset: everything runs in namespaces this
module creates and deletes.

As a module: `unavailable()` (why these tests cannot run here), `Netns` (one namespace),
`Lab` (a switch namespace with a bridge and one namespace per host), runners for the
nftables backend. As a script, run inside a namespace by the tests:

    python netns.py listen --tcp 9905,9999 --udp 40000-40099     (prints "ready", serves)
    python netns.py probe  --target 198.18.1.10 --tcp ... --udp ... (prints JSON verdicts)
    python netns.py watch  --target ... --tcp ... --udp ... --expect open|filtered
                           --stop FILE                            (loops, prints JSON)

A probe verdict is "open" (TCP connected / UDP echoed), "refused" (no listener: RST or
ICMP port unreachable) or "filtered" (no answer before the timeout: dropped).
"""

from __future__ import annotations

import argparse
import errno
import json
import os
import selectors
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import ClassVar

HERE = Path(__file__).resolve()
OPEN, REFUSED, FILTERED = "open", "refused", "filtered"

_reason: list[str | None] = []


def unavailable() -> str | None:
    """Why namespaces + nftables cannot be used here, or None when they can."""
    if _reason:
        return _reason[0]
    reason = None
    if not hasattr(os, "geteuid") or os.geteuid() != 0:
        reason = "needs root (network namespaces and nftables); CI runs these as root"
    elif shutil.which("nft") is None:
        reason = "the nft program is not installed (apt-get install nftables)"
    elif shutil.which("ip") is None:
        reason = "the ip program is not installed (apt-get install iproute2)"
    else:
        name = f"cefw-check-{os.getpid()}"
        made = subprocess.run(["ip", "netns", "add", name], capture_output=True, text=True)
        if made.returncode:
            reason = f"`ip netns add` failed here: {made.stderr.strip()}"
        else:
            listed = subprocess.run(["ip", "netns", "exec", name, "nft", "list", "ruleset"],
                                    capture_output=True, text=True)
            subprocess.run(["ip", "netns", "del", name], capture_output=True)
            if listed.returncode:
                reason = f"nftables does not work in a namespace: {listed.stderr.strip()}"
    _reason.append(reason)
    return reason


class Netns:
    """One network namespace, deleted by close()."""

    def __init__(self, name: str) -> None:
        self.name = name
        subprocess.run(["ip", "netns", "add", name], check=True, capture_output=True)
        self.ip("link", "set", "lo", "up")
        self._children: list[subprocess.Popen] = []

    def argv(self, argv: Sequence[str]) -> list[str]:
        return ["ip", "netns", "exec", self.name, *argv]

    def run(self, argv: Sequence[str], *, input: str | None = None, check: bool = True,
            env: dict[str, str] | None = None, timeout: float = 120,
            ) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(self.argv(argv), input=input, capture_output=True,
                                text=True, env=env, timeout=timeout)
        if check and result.returncode:
            raise AssertionError(f"{' '.join(argv)} failed ({result.returncode}) in "
                                 f"{self.name}:\n{result.stdout}\n{result.stderr}")
        return result

    def ip(self, *args: str) -> None:
        self.run(["ip", *args])

    def popen(self, argv: Sequence[str], **kwargs) -> subprocess.Popen:  # type: ignore[no-untyped-def]
        child = subprocess.Popen(self.argv(argv), text=True, **kwargs)
        self._children.append(child)
        return child

    def python(self, *args: str) -> list[str]:
        """argv running this file as a script with the test's own interpreter."""
        return [sys.executable, str(HERE), *args]

    def nft(self, *args: str, input: str | None = None, check: bool = True,
            ) -> subprocess.CompletedProcess[str]:
        return self.run(["nft", *args], input=input, check=check)

    def ruleset(self) -> str:
        return self.nft("list", "ruleset").stdout

    def runner(self, calls: list[list[str]] | None = None):  # type: ignore[no-untyped-def]
        """A runner for NftablesBackend that runs nft in this namespace; every argv is
        appended to `calls` (to count transactions)."""

        def run(argv: Sequence[str], stdin: str | None):  # type: ignore[no-untyped-def]
            if calls is not None:
                calls.append(list(argv))
            return subprocess.run(self.argv(argv), input=stdin, capture_output=True,
                                  encoding="utf-8", env={**os.environ, "LC_ALL": "C"})

        return run

    def close(self) -> None:
        for child in self._children:
            if child.poll() is None:
                child.kill()
            child.wait()
        subprocess.run(["ip", "netns", "del", self.name], capture_output=True)


def fresh_netns_runner(scripts: Sequence[str], listing: str) -> str:
    """Load `scripts` with `nft -f` into a new namespace, return `nft -j <listing>`."""
    ns = Netns(f"cefw-rec-{os.getpid()}")
    try:
        for script in scripts:
            ns.nft("-f", "-", input=script)
        return ns.nft("-j", *listing.split()).stdout
    finally:
        ns.close()


class Host:
    def __init__(self, role: str, ns: Netns, v4: str, v6: str) -> None:
        self.role, self.ns, self.v4, self.v6 = role, ns, v4, v6


class Lab:
    """A switch namespace holding a bridge, and one namespace per host, each wired to
    the bridge with a veth pair. Addresses from the ranges set aside for tests, never a
    private range a real network may use: IPv4 198.18.0.0/16 (benchmarking, RFC 2544, in
    198.18.0.0/15) and IPv6 2001:db8::/32 (documentation, RFC 3849), each on-link as a
    whole, so every host reaches every other directly."""

    ADDRESSES: ClassVar[dict[str, tuple[str, str]]] = {  # role -> (IPv4, IPv6)
        "server": ("198.18.1.10", "2001:db8:1::10"),
        "server2": ("198.18.1.11", "2001:db8:1::11"),
        "agent": ("198.18.2.20", "2001:db8:2::20"),
        "outsider": ("198.18.9.99", "2001:db8:9::99"),
    }

    PREFIX = (16, 32)  # IPv4, IPv6 prefix lengths: one link

    def __init__(self, tag: str) -> None:
        self.tag = tag
        self.namespaces: list[Netns] = []
        self.hosts: dict[str, Host] = {}
        try:
            self.switch = self._netns("sw")
            self.switch.ip("link", "add", "br0", "type", "bridge")
            self.switch.ip("link", "set", "br0", "up")
            for role, (v4, v6) in self.ADDRESSES.items():
                self.hosts[role] = Host(role, self._wire(role, v4, v6), v4, v6)
        except BaseException:
            self.close()
            raise

    def _netns(self, role: str) -> Netns:
        ns = Netns(f"cefw-{self.tag}-{role}")
        self.namespaces.append(ns)
        return ns

    def _wire(self, role: str, v4: str, v6: str) -> Netns:
        ns = self._netns(role)
        port = f"p-{role}"[:15]
        self.switch.ip("link", "add", port, "type", "veth", "peer", "name", "eth0",
                       "netns", ns.name)
        self.switch.ip("link", "set", port, "master", "br0", "up")
        ns.ip("addr", "add", f"{v4}/{self.PREFIX[0]}", "dev", "eth0")
        ns.ip("-6", "addr", "add", f"{v6}/{self.PREFIX[1]}", "dev", "eth0", "nodad")
        ns.ip("link", "set", "eth0", "up")
        return ns

    def __getitem__(self, role: str) -> Host:
        return self.hosts[role]

    def site_toml(self) -> str:
        s1, s2, agent = self["server"], self["server2"], self["agent"]
        return ("[zones]\n"
                f'servers = ["{s1.v4}", "{s2.v4}", "{s1.v6}", "{s2.v6}"]\n'
                f'clients = ["198.18.2.0/24", "2001:db8:2::/64"]  # {agent.v4} is an agent PC\n')

    def close(self) -> None:
        for ns in reversed(self.namespaces):
            ns.close()


class GatewayLab:
    """A router namespace between networks, one host namespace per network, each on its
    own veth pair to the router: the CE server behind it, and on the other side a
    second CE server (zone servers), an agent PC (zone clients) and an outsider.
    198.18.0.0/15 and 2001:db8::/32 only; the router forwards IPv4 and IPv6."""

    NETWORKS: ClassVar[dict[str, tuple[str, str]]] = {  # role -> (IPv4 /24, IPv6 /64) prefix
        "server": ("198.18.1", "2001:db8:1"),
        "server2": ("198.18.2", "2001:db8:2"),
        "agent": ("198.18.20", "2001:db8:20"),
        "outsider": ("198.18.30", "2001:db8:30"),
    }

    def __init__(self, tag: str) -> None:
        self.namespaces: list[Netns] = []
        self.hosts: dict[str, Host] = {}
        try:
            self.router = self._netns(f"cefw-{tag}-gw")
            for role, (v4, v6) in self.NETWORKS.items():
                self.hosts[role] = self._wire(tag, role, v4, v6)
            # after the interfaces exist: all.forwarding applies to the existing ones
            self.router.run(["sysctl", "-q", "-w", "net.ipv4.ip_forward=1"])
            self.router.run(["sysctl", "-q", "-w", "net.ipv6.conf.all.forwarding=1"])
            self._wait_until_routed()
        except BaseException:
            self.close()
            raise

    def _netns(self, name: str) -> Netns:
        ns = Netns(name)
        self.namespaces.append(ns)
        # No duplicate address detection: a tentative link-local address delays IPv6
        # neighbour discovery, and the first probes would look dropped.
        for scope in ("all", "default"):
            ns.run(["sysctl", "-q", "-w", f"net.ipv6.conf.{scope}.accept_dad=0"])
        return ns

    def _wait_until_routed(self, timeout: float = 10) -> None:
        """Until every host reaches the CE server through the router, both families
        (nothing listens on port 9: "refused" is the answer that proves the path)."""
        server = self["server"]
        for role, host in self.hosts.items():
            if role == "server":
                continue
            for target in (server.v4, server.v6):
                deadline = time.monotonic() + timeout
                while True:
                    done = host.ns.run(host.ns.python("probe", "--target", target, "--tcp",
                                                      "9", "--timeout", "0.3"))
                    if json.loads(done.stdout)["tcp"]["9"] == REFUSED:
                        break
                    if time.monotonic() > deadline:
                        raise AssertionError(f"{role} cannot reach {target} via the router")
                    time.sleep(0.1)

    def _wire(self, tag: str, role: str, v4: str, v6: str) -> Host:
        ns = self._netns(f"cefw-{tag}-{role}")
        port = f"gw-{role}"[:15]
        self.router.ip("link", "add", port, "type", "veth", "peer", "name", "eth0",
                       "netns", ns.name)
        self.router.ip("addr", "add", f"{v4}.1/24", "dev", port)
        self.router.ip("-6", "addr", "add", f"{v6}::1/64", "dev", port, "nodad")
        self.router.ip("link", "set", port, "up")
        host_v4, host_v6 = f"{v4}.{10 if role.startswith('server') else 7}", f"{v6}::7"
        if role.startswith("server"):
            host_v6 = f"{v6}::10"
        ns.ip("addr", "add", f"{host_v4}/24", "dev", "eth0")
        ns.ip("-6", "addr", "add", f"{host_v6}/64", "dev", "eth0", "nodad")
        ns.ip("link", "set", "eth0", "up")
        ns.ip("route", "add", "default", "via", f"{v4}.1")
        ns.ip("-6", "route", "add", "default", "via", f"{v6}::1")
        return Host(role, ns, host_v4, host_v6)

    def __getitem__(self, role: str) -> Host:
        return self.hosts[role]

    def site_toml(self) -> str:
        """Zones only: the CE server behind the router is named with --destination."""
        s1, s2 = self["server"], self["server2"]
        agents = self.NETWORKS["agent"]
        return ("[zones]\n"
                f'servers = ["{s1.v4}", "{s2.v4}", "{s1.v6}", "{s2.v6}"]\n'
                f'clients = ["{agents[0]}.0/24", "{agents[1]}::/64"]\n')

    def close(self) -> None:
        for ns in reversed(self.namespaces):
            ns.close()


# ---------------------------------------------------------------- ports on the command line


def parse_ports(text: str) -> list[int]:
    ports: list[int] = []
    for part in filter(None, text.split(",")):
        low, _, high = part.partition("-")
        ports += range(int(low), int(high or low) + 1)
    return ports


def format_ports(ports: Iterable[int]) -> str:
    return ",".join(str(p) for p in sorted(set(ports)))


# ---------------------------------------------------------------- script: listen


def _raise_fd_limit() -> None:
    import resource

    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def _bind(kind: int, port: int) -> socket.socket:
    """A dual-stack socket on every address, IPv4 and IPv6."""
    sock = socket.socket(socket.AF_INET6, kind)
    sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("::", port))
    sock.setblocking(False)
    if kind == socket.SOCK_STREAM:
        sock.listen(512)
    return sock


def listen(tcp: list[int], udp: list[int]) -> None:
    """Accept-and-close on every TCP port, echo on every UDP port, until killed."""
    _raise_fd_limit()
    sel = selectors.DefaultSelector()
    for port in tcp:
        sel.register(_bind(socket.SOCK_STREAM, port), selectors.EVENT_READ, "tcp")
    for port in udp:
        sel.register(_bind(socket.SOCK_DGRAM, port), selectors.EVENT_READ, "udp")
    print("ready", flush=True)
    while True:
        for key, _ in sel.select():
            sock = key.fileobj
            try:
                if key.data == "tcp":
                    conn, _ = sock.accept()  # type: ignore[union-attr]
                    conn.close()
                else:
                    data, peer = sock.recvfrom(2048)  # type: ignore[union-attr]
                    sock.sendto(data, peer)  # type: ignore[union-attr]
            except OSError:
                continue


# ---------------------------------------------------------------- script: probe


def _family(target: str) -> int:
    return socket.AF_INET6 if ":" in target else socket.AF_INET


def probe(target: str, tcp: list[int], udp: list[int], timeout: float,
          ) -> dict[str, dict[int, str]]:
    """Every port at once (non-blocking), so a dropped probe costs `timeout` once."""
    _raise_fd_limit()
    sel = selectors.DefaultSelector()
    verdicts: dict[str, dict[int, str]] = {"tcp": {}, "udp": {}}
    family = _family(target)
    for port in tcp:
        sock = socket.socket(family, socket.SOCK_STREAM)
        sock.setblocking(False)
        code = sock.connect_ex((target, port))
        if code in (0, errno.EINPROGRESS):
            sel.register(sock, selectors.EVENT_WRITE, ("tcp", port))
        else:
            verdicts["tcp"][port] = REFUSED if code == errno.ECONNREFUSED else f"error {code}"
            sock.close()
    for port in udp:
        sock = socket.socket(family, socket.SOCK_DGRAM)
        sock.setblocking(False)
        sock.connect((target, port))
        sock.send(b"cefw probe")
        sel.register(sock, selectors.EVENT_READ, ("udp", port))
    deadline = time.monotonic() + timeout
    while sel.get_map():
        # One last look without waiting once the time is up: an answer that came while
        # this process was not scheduled (2 busy cores) is an answer, not a drop.
        left = max(0.0, deadline - time.monotonic())
        ready = sel.select(left)
        for key, _ in ready:
            proto, port = key.data
            verdicts[proto][port] = _answer(key.fileobj, proto)  # type: ignore[arg-type]
            sel.unregister(key.fileobj)
            key.fileobj.close()  # type: ignore[union-attr]
        if left == 0.0:
            break
    for key in list(sel.get_map().values()):
        proto, port = key.data
        verdicts[proto][port] = FILTERED
        key.fileobj.close()  # type: ignore[union-attr]
    return verdicts


def _answer(sock: socket.socket, proto: str) -> str:
    if proto == "tcp":
        code = sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
        return OPEN if code == 0 else REFUSED if code == errno.ECONNREFUSED else f"error {code}"
    try:
        sock.recv(2048)
        return OPEN
    except ConnectionRefusedError:
        return REFUSED
    except OSError as exc:
        return f"error {exc.errno}"


# ---------------------------------------------------------------- script: watch


RETRY_TIMEOUT = 3.5  # a fresh connection: its SYN is sent again at 1 s and 3 s


def watch(target: str, tcp: list[int], udp: list[int], expect: str, timeout: float,
          stop: Path) -> dict[str, object]:
    """Probe again and again until `stop` exists. An answer other than `expect` is probed
    once more, alone and with a long timeout: if that one answers as expected, the first
    was "lost" (a packet that went missing under load, or a reply too late), otherwise
    it is "wrong". Only the server's own counters (Observer) tell whether a lost packet
    was dropped by a rule; the test checks those."""
    rounds, wrong, lost = 0, [], []
    started = time.monotonic()
    while not stop.exists():
        verdicts = probe(target, tcp, udp, timeout)
        rounds += 1
        for proto, found in verdicts.items():
            for port, verdict in found.items():
                if verdict == expect:
                    continue
                at = round(time.monotonic() - started, 3)
                again = verdict
                if expect == OPEN and verdict == FILTERED:  # silence may be load
                    again = probe(target, *_one(proto, port), RETRY_TIMEOUT)[proto][port]
                (lost if again == expect else wrong).append([at, proto, port, verdict])
        if expect == OPEN:
            time.sleep(0.002)  # spare the ephemeral ports a little
    return {"rounds": rounds, "wrong": wrong, "lost": lost,
            "seconds": round(time.monotonic() - started, 3)}


def _one(proto: str, port: int) -> tuple[list[int], list[int]]:
    return ([port], []) if proto == "tcp" else ([], [port])


# ---------------------------------------------------------------- the server's own counters


class Observer:
    """A table of the test's own in a host's namespace, independent of cefw's: one base
    chain on the input hook just before cefw's chain and one just after it, each counting
    packets per (source address, protocol, destination port) in a dynamic set. A packet
    counted by the first and not by the second was dropped by a rule in between (cefw's
    chain is the only one there); a packet lost anywhere else (a queue under load, a
    full listen backlog, a reply too late for the probe) is counted by both or by
    neither."""

    TABLE = "cefw_test_observer"

    def __init__(self, ns: Netns, around: int) -> None:
        self.ns = ns
        sets, chains = [], []
        for family, kind in (("4", "ipv4_addr"), ("6", "ipv6_addr")):
            for stage in ("seen", "passed"):
                sets.append(f"\tset {stage}{family} {{ type {kind} . inet_proto . "
                            "inet_service; size 65535; flags dynamic; counter; }")
        for stage, priority in (("seen", around - 1), ("passed", around + 1)):
            chains += [f"\tchain {stage} {{",
                       f"\t\ttype filter hook input priority {priority}; policy accept;"]
            chains += [f"\t\tmeta l4proto {{ tcp, udp }} update @{stage}{family} "
                       f"{{ {saddr} . meta l4proto . th dport }}"
                       for family, saddr in (("4", "ip saddr"), ("6", "ip6 saddr"))]
            chains.append("\t}")
        ns.nft("-f", "-", input="\n".join([f"table inet {self.TABLE} {{", *sets, *chains,
                                             "}"]) + "\n")

    def counts(self) -> dict[tuple[str, str, int], tuple[int, int]]:
        """(source, protocol, port) -> (packets seen before cefw, packets past it)."""
        counted: dict[tuple[str, str, int], list[int]] = {}
        for index, stage in enumerate(("seen", "passed")):
            for family in ("4", "6"):
                listed = json.loads(self.ns.nft("-j", "list", "set", "inet", self.TABLE,
                                                f"{stage}{family}").stdout)
                for obj in listed["nftables"]:
                    for elem in obj.get("set", {}).get("elem", []):
                        address, proto, port = elem["elem"]["val"]["concat"]
                        key = (address, proto, int(port))
                        counted.setdefault(key, [0, 0])[index] = \
                            elem["elem"]["counter"]["packets"]
        return {key: (seen, passed) for key, (seen, passed) in counted.items()}

    def close(self) -> None:
        self.ns.nft("delete", "table", "inet", self.TABLE, check=False)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("command", choices=("listen", "probe", "watch"))
    parser.add_argument("--target", default="")
    parser.add_argument("--tcp", default="")
    parser.add_argument("--udp", default="")
    parser.add_argument("--timeout", type=float, default=0.5)
    parser.add_argument("--expect", choices=(OPEN, FILTERED), default=OPEN)
    parser.add_argument("--stop", type=Path)
    args = parser.parse_args(argv)
    tcp, udp = parse_ports(args.tcp), parse_ports(args.udp)
    if args.command == "listen":
        listen(tcp, udp)
    elif args.command == "probe":
        print(json.dumps(probe(args.target, tcp, udp, args.timeout)))
    else:
        print(json.dumps(watch(args.target, tcp, udp, args.expect, args.timeout, args.stop)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
