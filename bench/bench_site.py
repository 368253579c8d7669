"""`cefw site plan` of a large site: 500, 5,000 and 50,000 hosts, side by side.

The site: two HA pairs of CE servers (each server its own bundle), a recorder, and agent
PCs as members of three groups, each group with its bundle; one member in 50 has a
bundle of its own (copies of a few files, so the plans are cached by content). Printed:
(best of 3) the time to read the site file, to plan it (each distinct bundle verified, expanded and
planned once), to write the JSON document, the time per host, and the whole command
(`cefw site plan --json` in a new process, start-up included). Target: 5,000 hosts in
under 2 s, growing linearly. Run by hand; it asserts nothing about time.

    .venv/bin/python bench/bench_site.py
"""

from __future__ import annotations

import io
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from cefw.cli import main
from cefw.plan.fleet import plan_site
from cefw.plan.site import load
from cefw.render.json import render

SIZES = (500, 5_000, 50_000)
REPEAT = 3  # best of: the machine is shared, and the figure sought is what cefw costs
GROUPS = ("agents-a", "agents-b", "agents-c")


def make_bundles(folder: Path) -> None:
    def collect(example: str, name: str, target: str) -> None:
        out = io.StringIO()
        argv = ["collect", "--example", example, "--host-name", name, "-o",
                str(folder / target)]
        assert main(argv, out=out) == 0, argv

    for n in (1, 2, 3, 4):
        collect("core-host", f"ce-core-0{n}", f"core-0{n}.cefw.zip")
    collect("recorder-host", "rec-01", "rec-01.cefw.zip")
    for group in GROUPS:
        collect("agent-pc", f"{group}-pc", f"{group}.cefw.zip")
    for n in range(3):  # own bundles of some members: three distinct contents
        collect("agent-pc", f"pc-own-{n}", f"own-{n}.cefw.zip")


def site_text(hosts: int) -> str:
    lines = []
    for n in (1, 2, 3, 4):
        lines += ["[[hosts]]", f'name = "ce-core-0{n}"', f'address = "198.18.0.{10 + n}"',
                  f'role = "core-{(n + 1) // 2}"', f'bundle = "bundles/core-0{n}.cefw.zip"', ""]
    lines += ["[[hosts]]", 'name = "rec-01"', 'address = "198.18.0.20"',
              'bundle = "bundles/rec-01.cefw.zip"', ""]
    for index, group in enumerate(GROUPS):
        lines += ["[[groups]]", f'name = "{group}"', f'addresses = ["198.19.{index * 64}.0/18"]',
                  f'bundle = "bundles/{group}.cefw.zip"', ""]
    for n in range(hosts - 5):
        group = n % len(GROUPS)
        address = f"198.19.{group * 64 + (n // 254) % 64}.{n % 254 + 1}"
        lines += ["[[hosts]]", f'name = "pc-{n:05d}"', f'address = "{address}"',
                  f'group = "{GROUPS[group]}"']
        if n % 50 == 0:
            lines.append(f'bundle = "bundles/own-{n % 3}.cefw.zip"')
        lines.append("")
    return "\n".join(lines)


def command(site_path: Path) -> float:
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "cefw", "site", "plan", "--site", str(site_path),
                    "--json"], check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - start


def measure(folder: Path, hosts: int) -> tuple[float, float, float, int, int]:
    site_path = folder / f"site-{hosts}.toml"
    site_path.write_text(site_text(hosts), encoding="utf-8")
    start = time.perf_counter()
    site = load(site_path)
    loaded = time.perf_counter()
    result = plan_site(site)
    planned = time.perf_counter()
    text = render(result)
    written = time.perf_counter()
    assert len(result.entries) == hosts + len(GROUPS)
    return (loaded - start, planned - loaded, written - planned, len(result.plans),
            len(text))


def main_bench() -> None:
    folder = Path(tempfile.mkdtemp(prefix="cefw-bench-site-"))
    try:
        (folder / "bundles").mkdir()
        make_bundles(folder / "bundles")
        measure(folder, 50)  # warm up: imports, caches
        print(f"{'hosts':>7} {'read site':>10} {'plan':>8} {'JSON':>8} {'total':>8} "
              f"{'per host':>9} {'plans':>6} {'JSON size':>10} {'command':>8}")
        for hosts in SIZES:
            runs = [measure(folder, hosts) for _ in range(REPEAT)]
            read, plan, write = (min(r[i] for r in runs) for i in range(3))
            plans, size = runs[0][3], runs[0][4]
            total = min(r[0] + r[1] + r[2] for r in runs)
            whole = min(command(folder / f"site-{hosts}.toml") for _ in range(REPEAT))
            print(f"{hosts:>7,} {read:>9.3f}s {plan:>7.3f}s {write:>7.3f}s {total:>7.3f}s "
                  f"{total / hosts * 1e6:>7.0f}us {plans:>6} {size / 1e6:>8.1f}MB "
                  f"{whole:>7.3f}s")
        sys.stdout.flush()
    finally:
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main_bench()
