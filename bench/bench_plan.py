"""How fast `cefw plan` is. Run by hand: `.venv/bin/python bench/bench_plan.py`.

Prints
1. the cold-process time of `cefw plan --example core-host --format json` divided by
   that of `python -c pass` (target: at most 4): medians of interleaved runs, so that
   the noise of a shared machine falls on every command alike;
2. the in-process time to plan a host with 2,000, 20,000 and 200,000 recording channels,
   per channel (the time of the same host without channels taken off; target: 20,000
   within 1.3x of 2,000, and 2,000 under 0.3 s in all);
3. the peak memory (RSS) of `cefw plan --format json` with 200,000 channels, measured in
   a process of its own (target: under 400 MB).

`--baseline DIR` runs every measurement for a second cefw too (a checkout with its own
.venv, for instance `git worktree add /tmp/before main` and its venv), side by side in
the same run: "before" and "after" figures from one machine at one time.

Bytecode is compiled first: with PYTHONDONTWRITEBYTECODE set (as on some CI machines)
an editable install would otherwise recompile every module on every start, which is not
what an installed cefw does.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve()
RUNS = 40
SIZES = (2_000, 20_000, 200_000)
# What `cefw plan --example core-host --format json` cannot do without: the site and
# example files are TOML, every CE config is XML read through expat, the channels
# CSV, addresses, the JSON output, the command line.
FLOOR = "argparse, pathlib, tomllib, xml.parsers.expat, json, csv, ipaddress, typing"


class Cefw:
    """One cefw to measure: its interpreter (which imports its own cefw) and command."""

    def __init__(self, name: str, python: Path) -> None:
        self.name = name
        self.python = python
        script = python.with_name("cefw")
        self.command = [str(script)] if script.exists() else [str(python), "-m", "cefw"]

    def compile(self) -> None:
        subprocess.run([str(self.python), "-c", "import compileall, os, cefw; "
                        "compileall.compile_dir(os.path.dirname(cefw.__file__), quiet=1)"],
                       check=True)


def cold(commands: dict[str, list[str]], runs: int) -> dict[str, float]:
    """Median wall time of each command, the commands run in turn (interleaved)."""
    for cmd in commands.values():  # warm the page cache
        for _ in range(3):
            subprocess.run(cmd, stdout=subprocess.DEVNULL, check=True)
    times: dict[str, list[float]] = {name: [] for name in commands}
    for i in range(runs):
        order = list(commands.items())
        order = order[i % len(order):] + order[:i % len(order)]  # vary who goes first
        for name, cmd in order:
            start = time.perf_counter()
            subprocess.run(cmd, stdout=subprocess.DEVNULL, check=True)
            times[name].append(time.perf_counter() - start)
    return {name: statistics.median(t) for name, t in times.items()}


def channels_csv(path: Path, count: int) -> None:
    """`count` channels, half with a Control (TCP) port, half with a Media (UDP) port.
    Up to 90,000 channels every port is different; beyond, ports repeat (a host has
    65,535) and the planner reports the clashes, as it would on a real host."""
    lines = ["Channel,Recorder,ControlPort,MediaPort"]
    for i in range(count):
        recorder = "CMAPI" if i % 4 < 2 else "SIP"
        port = 20000 + (i // 2) % 45000
        control, media = (port, "") if i % 2 == 0 else ("", port)
        lines.append(f"ch-{i},{recorder},{control},{media}")
    path.write_text("\n".join(lines) + "\n")


def worker_plan(count: int, runs: int) -> None:
    """In a process of its own (the interpreter of the cefw measured): plan the core
    host with `count` channels; print the median time in seconds, as JSON."""
    from cefw.examples import load_example
    from cefw.plan.make import make_plan

    with tempfile.TemporaryDirectory() as tmp:
        inputs = load_example("core-host")
        host = Path(tmp) / "install"
        shutil.copytree(inputs.install_dir, host)
        channels = Path(tmp) / "channels.csv"
        channels_csv(channels, count)
        inputs = inputs._replace(install_dir=host, channels=channels if count else None)
        times = []
        for _ in range(runs):
            start = time.perf_counter()
            plan = make_plan(inputs)
            times.append(time.perf_counter() - start)
            del plan
        print(json.dumps(statistics.median(times)))


def plan_seconds(cefw: Cefw, count: int, runs: int) -> float:
    done = subprocess.run([str(cefw.python), str(HERE), "--worker", str(count),
                           "--runs", str(runs)], check=True, capture_output=True, text=True)
    return float(done.stdout)


def peak_rss_mb(cefw: Cefw, channels: Path) -> float:
    """Peak RSS of `cefw plan --format json` with these channels, output to /dev/null:
    ru_maxrss of the one child of a small measuring process."""
    cmd = [*cefw.command, "plan", "--example", "core-host", "--channels", str(channels),
           "--format", "json"]
    probe = ("import resource, subprocess, sys; "
             "subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, check=True); "
             "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)")
    done = subprocess.run([sys.executable, "-c", probe, *cmd], check=True,
                          capture_output=True, text=True)
    return int(done.stdout) / 1024  # kilobytes on Linux


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--baseline", type=Path, metavar="DIR",
                        help="another cefw checkout with its own .venv, measured alongside")
    parser.add_argument("--runs", type=int, default=RUNS, help="cold runs per command")
    parser.add_argument("--skip", action="append", default=[],
                        choices=("cold", "linear", "memory"), help="leave a part out")
    parser.add_argument("--worker", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker is not None:
        worker_plan(args.worker, args.runs)
        return
    measured = [Cefw("this", Path(sys.executable))]
    if args.baseline:
        measured.append(Cefw("baseline", args.baseline.resolve() / ".venv" / "bin" / "python"))
    for cefw in measured:
        cefw.compile()
    if "cold" not in args.skip:
        bench_cold(measured, args.runs)
    if "linear" not in args.skip:
        bench_linear(measured)
    if "memory" not in args.skip:
        bench_memory(measured)


def bench_cold(measured: list[Cefw], runs: int) -> None:
    commands = {"python -c pass": [sys.executable, "-c", "pass"],
                "floor": [sys.executable, "-c", f"import {FLOOR}"]}
    for cefw in measured:
        commands[cefw.name] = [*cefw.command, "plan", "--example", "core-host",
                               "--format", "json"]
    got = cold(commands, runs)
    base = got["python -c pass"]
    print(f"1. cold start, medians of {runs} interleaved runs")
    print(f"   python -c pass                                      {base * 1000:6.1f} ms")
    for cefw in measured:
        t = got[cefw.name]
        print(f"   cefw plan --example core-host --format json ({cefw.name:8}) "
              f"{t * 1000:6.1f} ms  ratio {t / base:.2f}  (target <= 4)")
    print(f"   floor: importing only what the job needs ({FLOOR})\n"
          f"                                                       "
          f"{got['floor'] * 1000:6.1f} ms  ratio {got['floor'] / base:.2f}")


def bench_linear(measured: list[Cefw]) -> None:
    print("2. plan time per channel (in process; the host without channels taken off)")
    none = {c.name: plan_seconds(c, 0, 9) for c in measured}
    per: dict[str, dict[int, float]] = {c.name: {} for c in measured}
    for count in SIZES:
        for cefw in measured:  # side by side, size by size
            total = plan_seconds(cefw, count, 9 if count < 100_000 else 3)
            per[cefw.name][count] = (total - none[cefw.name]) / count
            print(f"   {cefw.name:8} {count:7,} channels: {total * 1000:8.1f} ms, "
                  f"{per[cefw.name][count] * 1e6:5.1f} us per channel")
    for cefw in measured:
        p = per[cefw.name]
        print(f"   {cefw.name:8} per channel, 20,000 / 2,000: {p[20_000] / p[2_000]:.2f}  "
              f"(target <= 1.3); 200,000 / 2,000: {p[200_000] / p[2_000]:.2f}")


def bench_memory(measured: list[Cefw]) -> None:
    print("3. peak memory of `cefw plan --format json` with 200,000 channels")
    with tempfile.TemporaryDirectory() as tmp:
        channels = Path(tmp) / "channels.csv"
        channels_csv(channels, 200_000)
        for cefw in measured:
            print(f"   {cefw.name:8} peak RSS {peak_rss_mb(cefw, channels):7.1f} MB  "
                  "(target < 400 MB)")


if __name__ == "__main__":
    os.environ.pop("PYTHONDONTWRITEBYTECODE", None)
    main()
