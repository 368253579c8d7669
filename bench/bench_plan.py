"""How fast `cefw plan` is. Run by hand: `.venv/bin/python bench/bench_plan.py`.

Prints
1. the cold-process time of `cefw plan --example core-host --format json` divided by
   that of `python -c pass` (target: at most 4);
2. the in-process time to plan a host with 2,000 recording channels (target: < 0.3 s).

Medians of repeated runs. Bytecode is compiled first: with PYTHONDONTWRITEBYTECODE set
(as on some CI machines) an editable install would otherwise recompile every module on
every start, which is not what an installed cefw does.
"""

from __future__ import annotations

import compileall
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import cefw
from cefw.examples import load_example
from cefw.plan.make import make_plan

RUNS = 30
# What `cefw plan --example core-host --format json` cannot do without: the site and
# example files are TOML, every CE config is XML read through defusedxml, the channels
# CSV, addresses, the JSON output, the command line.
FLOOR = "argparse, pathlib, tomllib, defusedxml.ElementTree, json, csv, ipaddress, typing"


def cold(cmd: list[str], runs: int = RUNS) -> float:
    env = dict(os.environ)
    for _ in range(3):  # warm the page cache
        subprocess.run(cmd, stdout=subprocess.DEVNULL, check=True, env=env)
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(cmd, stdout=subprocess.DEVNULL, check=True, env=env)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def channels_csv(path: Path, count: int) -> None:
    lines = ["Channel,Recorder,ControlPort,MediaPort"]
    for i in range(count):
        recorder = "CMAPI" if i % 2 == 0 else "SIP"
        media = 20000 + i * 20
        lines.append(f"ch-{i},{recorder},{3000 + i},{media}-{media + 19}")
    path.write_text("\n".join(lines) + "\n")


def plan_time(count: int, runs: int = 7) -> tuple[float, int, int]:
    with tempfile.TemporaryDirectory() as tmp:
        tmp_path = Path(tmp)
        inputs = load_example("core-host")
        host = tmp_path / "install"
        shutil.copytree(inputs.install_dir, host)
        channels = tmp_path / "channels.csv"
        channels_csv(channels, count)
        inputs = inputs._replace(install_dir=host, channels=channels)
        times = []
        plan = None
        for _ in range(runs):
            start = time.perf_counter()
            plan = make_plan(inputs)
            times.append(time.perf_counter() - start)
        assert plan is not None
        return statistics.median(times), len(plan.endpoints), len(plan.rules)


def main() -> None:
    compileall.compile_dir(str(Path(cefw.__file__).parent), quiet=1)
    script = Path(sys.executable).with_name("cefw")
    command = [str(script)] if script.exists() else [sys.executable, "-m", "cefw"]
    base = cold([sys.executable, "-c", "pass"])
    plan = cold([*command, "plan", "--example", "core-host", "--format", "json"])
    print(f"python -c pass                               {base * 1000:7.1f} ms")
    print(f"cefw plan --example core-host --format json  {plan * 1000:7.1f} ms")
    print(f"ratio                                        {plan / base:7.2f}  (target <= 4)")
    floor = cold([sys.executable, "-c", f"import {FLOOR}"])
    print(f"floor: importing only the stdlib and library modules the job needs\n"
          f"  ({FLOOR})\n"
          f"                                             {floor * 1000:7.1f} ms  "
          f"(ratio {floor / base:.2f})")
    seconds, endpoints, rules = plan_time(2000)
    print(f"plan with 2,000 channels (in process)        {seconds * 1000:7.1f} ms  "
          f"(target < 300 ms; {endpoints} listeners, {rules} rules)")


if __name__ == "__main__":
    main()
