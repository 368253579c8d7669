"""`cefw probe`: from the PC it runs on, connect to every TCP port the plan says this PC
may reach on the CE servers (and, with --expect-closed, the ones it must not reach), and
say per component and port whether it is open, refused or filtered.

Targets: --target, else the host addresses of the site file's `servers` zone (a network
is refused: cefw does not sweep networks), without this PC's own addresses.
"""

from __future__ import annotations

import ipaddress
import json
import socket
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import IO

from ..errors import CefwError, InputError
from ..record import Record
from .connect import FILTERED, OPEN, REFUSED, connect_all
from .expect import Check, Identity, Unprovable, checks


class Result(Record):
    target: str
    identity: Identity
    check: Check
    verdict: str
    detail: str

    @property
    def ok(self) -> bool:
        return self.verdict == OPEN if self.check.expect_open else self.verdict == FILTERED

    def advice(self) -> str:
        c, port, target = self.check, self.check.port, self.target
        rule = " / ".join(c.rules) or f"CE-{c.components.split(' ')[0]}-TCP (not planned)"
        if c.expect_open and self.verdict == REFUSED:
            via = (" (the Server Agent service starts it)" if c.started_by_server_agent()
                   else " (its Windows service)")
            return (f"the host answered but nothing listens: check the service: is "
                    f"{c.components} running on {target}{via}, and listening on TCP {port}?")
        if c.expect_open:
            return (f"check the firewall rule {rule} on {target}: present, enabled, in the "
                    f"active profile, its remote addresses include this PC "
                    f"({self.identity.describe()}); and any firewall between this PC and "
                    f"{target}")
        if self.verdict == OPEN:
            return (f"the plan does not let this PC in, yet it connected: look on {target} "
                    f"for a rule wider than {rule} (another rule allowing TCP {port}, or one "
                    "open to any address) and remove it, or run cefw add")
        return (f"the host answered, so no firewall dropped it: once {c.components} runs, "
                f"this PC can connect. Check {target}'s firewall is on and blocks inbound "
                f"connections by default, and that no rule allows TCP {port}")

    def to_json(self) -> dict[str, object]:
        return {"target": self.target, "port": self.check.port, "protocol": "TCP",
                "components": self.check.components, "rules": list(self.check.rules),
                "expected": "open" if self.check.expect_open else "closed",
                "verdict": self.verdict, "detail": self.detail, "ok": self.ok,
                **({} if self.ok else {"check": self.advice()})}


def load_plan_json(path: Path) -> dict:
    shown = str(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8-sig"))
    except OSError as exc:
        raise InputError(shown, "", f"cannot read the plan ({exc.strerror})",
                         "check the --plan path") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InputError(shown, "", f"not a JSON plan ({exc})",
                         "write it with: cefw plan --json > plan.json") from None
    if not isinstance(data, dict) or data.get("schema") != "cefw.plan/1":
        raise InputError(shown, "schema", "not a cefw plan (schema cefw.plan/1 expected)",
                         "write it with: cefw plan --json > plan.json")
    return data


def targets_from_site(site_path: Path | None) -> tuple[list[str], str]:
    """The servers zone's host addresses (this PC's own left out), and where from."""
    if site_path is None:
        raise CefwError("no target: give --target ADDRESS (a CE server), or --site with a "
                        "servers zone", "cefw probe --target 10.0.1.10 --as clients ...")
    from ..plan.site import load

    site = load(site_path)
    zone = site.zones.get("servers")
    if not zone:
        raise InputError(str(site_path), "[zones] servers",
                         "no CE server addresses to probe", "add servers = [...] or give "
                         "--target ADDRESS")
    found = []
    for entry in zone:
        if "/" in entry or "-" in entry:
            raise InputError(str(site_path), "[zones] servers",
                             f"{entry} is a network, not a host: cefw probes CE servers, it "
                             "does not sweep networks",
                             "give the CE servers with --target ADDRESS (repeatable)")
        if not _is_local(entry):
            found.append(entry)
    if not found:
        raise CefwError(f"the servers zone of {site_path} holds only this PC's addresses",
                        "give --target ADDRESS")
    return found, f"[zones] servers in {site_path}"


def _is_local(address: str) -> bool:
    family = socket.AF_INET6 if ":" in address else socket.AF_INET
    with socket.socket(family, socket.SOCK_DGRAM) as sock:
        try:
            sock.bind((address, 0))
            return True
        except OSError:
            return False


def check_target(text: str) -> str:
    try:
        return str(ipaddress.ip_address(text))
    except ValueError:
        pass
    if "/" in text:
        raise CefwError(f"--target {text} is a network: cefw probes CE servers, it does not "
                        "sweep networks", "give each CE server's address with --target")
    return text  # a host name: resolved by the connect


def source_address(target: str) -> str:
    """The address this PC speaks from toward `target` (no packet is sent)."""
    try:
        family, _, _, _, addr = socket.getaddrinfo(target, 9, proto=socket.IPPROTO_UDP)[0]
        with socket.socket(family, socket.SOCK_DGRAM) as sock:
            sock.connect(addr)
            return str(sock.getsockname()[0])
    except OSError as exc:
        raise CefwError(f"cannot reach {target} ({exc.strerror or exc})",
                        "check the address and this PC's network") from None


def run(plan: dict, targets: Sequence[str], zone: str | None, *, expect_closed: bool,
        timeout: float, concurrency: int, progress: bool,
        ) -> tuple[list[Result], list[Unprovable]]:
    pairs: list[tuple[str, Identity, Check]] = []
    unprovable: list[Unprovable] = []
    for target in targets:
        identity = Identity(zone=zone) if zone else Identity(address=source_address(target))
        found, unprovable = checks(plan, identity)
        pairs += [(target, identity, c) for c in found if c.expect_open or expect_closed]
    bar = _progress(len(pairs)) if progress and pairs else None
    try:
        verdicts = connect_all([(t, c.port) for t, _, c in pairs], timeout=timeout,
                               concurrency=concurrency,
                               done=bar.advance if bar else lambda: None)
    finally:
        if bar:
            bar.stop()
    results = [Result(t, i, c, v, d) for (t, i, c), (v, d) in zip(pairs, verdicts, strict=True)]
    return results, unprovable


class _Bar:
    def __init__(self, total: int) -> None:
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

        self.progress = Progress(TextColumn("probing"), BarColumn(), MofNCompleteColumn(),
                                 transient=True)
        self.task = self.progress.add_task("probe", total=total)
        self.progress.start()

    def advance(self) -> None:
        self.progress.advance(self.task)

    def stop(self) -> None:
        self.progress.stop()


def _progress(total: int) -> _Bar | None:
    return _Bar(total) if sys.stderr.isatty() else None


def report(results: list[Result], unprovable: list[Unprovable], header: str,
           out: IO[str]) -> int:
    out.write(header + "\n")
    width = max((len(r.check.components) for r in results), default=10)
    for r in sorted(results, key=lambda r: (r.target, r.check.port)):
        expected = "open" if r.check.expect_open else "closed"
        mark = "ok" if r.ok else "MISMATCH"
        out.write(f"  {r.target:<16} TCP {r.check.port:<5} {r.check.components:<{width}} "
                  f"{r.verdict:<11} expected {expected:<6} {mark}\n")
    if unprovable:
        out.write("Not provable by a TCP connect:\n")
        for u in unprovable:
            out.write(f"  {u.what}: {u.why}\n")
    bad = [r for r in results if not r.ok]
    counts = {v: sum(1 for r in results if r.verdict == v) for v in
              (OPEN, REFUSED, FILTERED, "unreachable")}
    shown = ", ".join(f"{n} {v}" for v, n in counts.items() if n)
    out.write(f"Summary: {len(results)} TCP port(s) probed ({shown or 'none'}); "
              f"{len(results) - len(bad)} as planned, {len(bad)} mismatch(es)\n")
    for r in bad:
        expected = "reachable" if r.check.expect_open else "blocked"
        out.write(f"MISMATCH {r.target} TCP {r.check.port} {r.check.components}: "
                  f"{r.verdict} ({r.detail}), expected {expected}: {r.advice()}\n")
    return 1 if bad else 0


def report_json(results: list[Result], unprovable: list[Unprovable], out: IO[str]) -> int:
    bad = [r for r in results if not r.ok]
    out.write(json.dumps({
        "schema": "cefw.probe/1",
        "results": [r.to_json() for r in results],
        "not_provable": [{"what": u.what, "why": u.why} for u in unprovable],
        "mismatches": len(bad)}, indent=1) + "\n")
    return 1 if bad else 0
