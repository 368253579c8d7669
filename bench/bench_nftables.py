"""How fast the nftables backend is. Run by hand, as root:
`.venv/bin/python bench/bench_nftables.py [--rules 2000] [--runs 7]`.

Everything happens in a fresh network namespace made for the run (the script re-runs
itself inside it with `ip netns exec`), so the machine's own ruleset is never touched
and every nft process is started exactly as on a real host.

For a plan of N rules (default 2,000; a realistic mix: servers, client subnets, IPv6
for half of them, single ports and ranges) it prints
1. cefw's apply time (render + one `nft -f -` transaction) divided by `nft -f` of the
   very same transaction file (target: at most 1.3);
2. the time of one `nft add rule` process per nft rule divided by cefw's apply time
   (target: at least 20);
3. the number of kernel transactions an unchanged re-run of `cefw add` sends (target 0),
   counted at the runner every nft call goes through;
4. a first `cefw add` (read, diff, snapshot, apply) divided by `nft -f` (target 1.3);
5. an unchanged `cefw add` divided by `nft -f` (target 1.2): it reads the table back
   only when the kernel's ruleset generation says someone else changed the ruleset.
Times are medians of --runs runs, each onto a ruleset without cefw's table. The issue's
figures are at 20,000 nft rules: `--rules 4500 --no-per-rule`. `--baseline DIR` runs the
same, in the same namespace, with another checkout's cefw (DIR/.venv) after this one.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from cefw.apply.operations import converge
from cefw.apply.reconcile import diff
from cefw.apply.state import StateDir
from cefw.apply.store import split
from cefw.model import ANY, Rule
from cefw.platforms.nftables.backend import NftablesBackend, run_nft
from cefw.platforms.nftables.table import layout, transaction

INSIDE = "CEFW_BENCH_NETNS"


def plan(count: int) -> list[Rule]:
    servers = ("10.0.1.10", "10.0.1.11", "10.0.1.20")
    rules = []
    for i in range(count):
        protocol = "UDP" if i % 4 == 3 else "TCP"
        low = 10000 + (i * 20) % 55000
        ports = ((low, low + 9),) if protocol == "UDP" else ((low, low), (low + 5, low + 5))
        remote: tuple[str, ...] = servers
        if i % 3 == 0:
            remote = (*servers, f"10.{20 + i % 50}.0.0/16")
        if i % 2 == 0:
            remote = (*remote, "fd00:1::10", "fd00:1::11", "fd00:20::/48")
        if i % 97 == 0:
            remote = (ANY,)
        rules.append(Rule(f"CE-Bench{i:04d}-{protocol}", f"bench {i}", protocol, ports,
                          rf"C:\CE\Bench{i}.exe", remote, ("domain",), (f"Bench{i}",)))
    return rules


class Counting:
    """The default runner, counting the transactions (`nft -f`) it passes on."""

    def __init__(self) -> None:
        self.transactions = 0

    def __call__(self, argv, stdin):  # type: ignore[no-untyped-def]
        if "-f" in argv:
            self.transactions += 1
        return run_nft(argv, stdin)


def nft(*args: str, stdin: str | None = None) -> None:
    subprocess.run(["nft", *args], input=stdin, text=True, check=True,
                   stdout=subprocess.DEVNULL)


def drop_table() -> None:
    subprocess.run(["nft", "delete", "table", "inet", "contact_expert"],
                   stderr=subprocess.DEVNULL, check=False)


def timed(action, runs: int) -> float:  # type: ignore[no-untyped-def]
    times = []
    for _ in range(runs):
        drop_table()
        start = time.perf_counter()
        action()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def _backend(runner: Counting) -> NftablesBackend:
    """The backend on a counting runner. The runner runs nft in this very namespace, so
    the kernel's generation is asked here too (cefw before the generation had none)."""
    try:
        from cefw.platforms.nftables.generation import ruleset_generation
    except ImportError:
        return NftablesBackend(runner=runner)
    return NftablesBackend(runner=runner, generation=ruleset_generation)


def per_rule_commands(rules: list[Rule]) -> list[list[str]]:
    """The same table as a shell script would build it: the table, the address sets and
    the chain, then one `nft add rule` process per rule line."""
    table = layout(rules)
    commands = [["nft", "add", "table", "inet", "contact_expert"]]
    for name, (family, elements) in table.sets.items():
        kind = "ipv4_addr" if family == "ip" else "ipv6_addr"
        commands += [["nft", f"add set inet contact_expert {name} {{ type {kind}; "
                             "flags interval; }"],
                     ["nft", f"add element inet contact_expert {name} "
                             f"{{ {', '.join(elements)} }}"]]
    commands.append(["nft", "add chain inet contact_expert input { type filter hook input "
                            "priority filter - 10; policy accept; }"])
    commands += [["nft", "add rule inet contact_expert input " + line] for line in table.rules]
    return commands


def bench(count: int, runs: int, per_rule: bool) -> None:
    rules = plan(count)
    backend = NftablesBackend()
    desired, _ = split(rules, backend)
    nothing = diff([], [], backend.fields, backend.normalise)
    text = transaction(desired)
    folder = Path(tempfile.mkdtemp(prefix="cefw-bench-"))
    try:
        script = folder / "contact_expert.nft"
        script.write_text(text, encoding="utf-8")
        shape = layout(desired)
        print(f"plan: {len(desired)} cefw rules -> {len(shape.rules)} nft rules and "
              f"{len(shape.sets)} address sets in one table ({len(text) // 1024} KiB of "
              "transaction text)")

        t_cefw = timed(lambda: backend.apply(nothing, desired), runs)
        t_file = timed(lambda: nft("-f", str(script)), runs)
        print(f"cefw apply:       {t_cefw * 1000:8.1f} ms")
        print(f"nft -f same file: {t_file * 1000:8.1f} ms")
        print(f"1. cefw / nft -f = {t_cefw / t_file:.2f}   (target <= 1.3)")

        drop_table()
        commands = per_rule_commands(desired) if per_rule else []
        start = time.perf_counter()
        for argv in commands:
            subprocess.run(argv, check=True)
        t_each = time.perf_counter() - start
        if per_rule:
            print(f"one nft process per rule, as a shell script would ({len(commands)} "
                  f"processes): {t_each:.1f} s")
            print(f"2. per-rule nft / cefw = {t_each / t_cefw:.0f}   (target >= 20)")

        drop_table()
        counting = Counting()
        counted = _backend(counting)
        firsts, agains, files, sent_again = [], [], [], 0
        for run in range(runs):  # nft -f, first add, unchanged add: interleaved
            drop_table()
            start = time.perf_counter()
            nft("-f", str(script))
            files.append(time.perf_counter() - start)
            drop_table()
            state = StateDir(folder / f"state-{run}")
            start = time.perf_counter()
            first = converge(counted, rules, state, dry_run=False)
            firsts.append(time.perf_counter() - start)
            sent = counting.transactions
            start = time.perf_counter()
            again = converge(counted, rules, state, dry_run=False)
            agains.append(time.perf_counter() - start)
            sent_again += counting.transactions - sent
            assert first.applied and not again.applied
        t_first, t_again = statistics.median(firsts), statistics.median(agains)
        t_file = statistics.median(files)
        print(f"nft -f same file, interleaved with the adds: {t_file * 1000:.1f} ms")
        print(f"cefw add from nothing (read + diff + apply): {t_first * 1000:.1f} ms")
        print(f"4. first add / nft -f = {t_first / t_file:.2f}   (target <= 1.3)")
        print(f"unchanged re-run: {t_again * 1000:.1f} ms")
        print(f"5. unchanged add / nft -f = {t_again / t_file:.2f}   (target <= 1.2)")
        print(f"3. kernel transactions on unchanged re-runs = {sent_again}   (target 0)")
        state = StateDir(folder / "state-0")

        counted = _backend(counting)
        converge(counted, rules, state, dry_run=False)
        moved = [r._replace(local_ports=((60000, 60000),)) if i == 0 else r
                 for i, r in enumerate(rules)]
        start = time.perf_counter()
        one = converge(counted, moved, state, dry_run=False)
        t_one = time.perf_counter() - start
        print(f"one port changed (read + diff + apply): {t_one * 1000:.1f} ms, "
              f"{one.changes.summary()}")
        drop_table()
    finally:
        shutil.rmtree(folder)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rules", type=int, default=2000)
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--no-per-rule", action="store_true",
                        help="leave out the one-process-per-rule figure (minutes at 20,000)")
    parser.add_argument("--baseline", type=Path, metavar="DIR",
                        help="another cefw checkout with its own .venv, measured after this "
                        "one in the same namespace")
    args = parser.parse_args()
    if os.environ.get(INSIDE):
        bench(args.rules, args.runs, not args.no_per_rule)
        return 0
    if os.geteuid() != 0 or not shutil.which("nft") or not shutil.which("ip"):
        print("bench_nftables: needs root, nft and ip (it works in a network namespace "
              "of its own)", file=sys.stderr)
        return 2
    name = f"cefw-bench-{os.getpid()}"
    subprocess.run(["ip", "netns", "add", name], check=True)
    try:
        pythons = [("this", sys.executable)]
        if args.baseline:
            pythons.append(("baseline", str(args.baseline / ".venv" / "bin" / "python")))
        status = 0
        for label, python in pythons:
            print(f"== {label}", flush=True)
            done = subprocess.run(["ip", "netns", "exec", name, python, *sys.argv],
                                  env={**os.environ, INSIDE: "1"}, check=False)
            status = status or done.returncode
        return status
    finally:
        subprocess.run(["ip", "netns", "del", name], check=False)


if __name__ == "__main__":
    raise SystemExit(main())
