"""How fast cefw reads offline registry sources. Run by hand:
`.venv/bin/python bench/bench_registry.py [--keys 20000] [--runs 5]`.

Prints
1. the parse rate of a regedit export (UTF-16LE, as regedit writes it) of --keys keys
   with a realistic mix of values (strings, dwords, wrapped hex(2) and hex(7) lines):
   MB/s and values/s, as a whole-SOFTWARE export (~200 MB, ~1.5 M values) is the
   largest input an administrator may hand to --registry;
2. the cost of --hive: importing regipy, opening a hive of --keys keys and the two CE
   lookups (TAO options in WOW6432Node, a GeoCampaign port).
Times are medians of --runs runs.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from cefw.registry.regfile import parse_reg_bytes
from hivewriter import build_hive, dword, expand_sz, sz
from regwriter import encode, reg_text

TAO = r"SOFTWARE\WOW6432Node\ACE\TAO"
GEO = r"SOFTWARE\Geomant Call Center Solutions\GeoCampaign"


def export_keys(count: int) -> dict[str, dict[str, tuple]]:
    keys = {}
    for i in range(count):
        keys[rf"SOFTWARE\Vendor{i % 97}\Product{i}\Settings"] = {
            "InstallDir": ("sz", rf"C:\Program Files\Vendor{i % 97}\Product{i}"),
            "Version": ("dword", i),
            "Path": ("expand", rf"%ProgramFiles%\Vendor{i % 97}\Product{i}\bin;%PATH%"),
            "Features": ("multi", ["core", "client", f"extra{i}"]),
            "": ("sz", f"Product {i}"),
        }
    keys[TAO] = {"TaoNamingServiceOptions": ("expand", "-ORBEndPoint iiop://:9999")}
    return keys


def median_time(action, runs: int) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        action()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def bench_export(count: int, runs: int) -> None:
    data = encode(reg_text(export_keys(count)), "utf-16")
    values = count * 5 + 1
    seconds = median_time(lambda: parse_reg_bytes(data, "bench.reg"), runs)
    print(f".reg export: {len(data) / 1e6:.1f} MB, {values} values: {seconds:.2f} s "
          f"= {len(data) / 1e6 / seconds:.1f} MB/s, {values / seconds:,.0f} values/s")


HIVE_SCRIPT = """
import sys, time
from pathlib import Path
start = time.perf_counter()
import regipy.registry
imported = time.perf_counter()
from cefw.registry.hive import load_hive
source = load_hive(Path(sys.argv[1]))
opened = time.perf_counter()
assert source.raw(r"SOFTWARE\\WOW6432Node\\ACE\\TAO", "TaoNamingServiceOptions")
assert source.raw(r"SOFTWARE\\Geomant Call Center Solutions\\GeoCampaign",
                  "Lync_Recorder_Port")
done = time.perf_counter()
print(imported - start, opened - imported, done - opened)
"""


def bench_hive(count: int, runs: int) -> None:
    keys = {rf"Vendor{i % 97}\Product{i}": {"Version": dword(i), "Dir": sz(f"C:\\P{i}")}
            for i in range(count)}
    keys[TAO.split("\\", 1)[1]] = {"TaoNamingServiceOptions": expand_sz("-ORBEndPoint x")}
    keys[GEO.split("\\", 1)[1]] = {"Lync_Recorder_Port": sz("9971")}
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "SOFTWARE"
        path.write_bytes(build_hive(keys))
        figures = []
        for _ in range(runs):  # a fresh process each time: the import is part of the cost
            out = subprocess.run([sys.executable, "-c", HIVE_SCRIPT, str(path)],
                                 capture_output=True, text=True, check=True).stdout
            figures.append([float(x) for x in out.split()])
        size = path.stat().st_size / 1e6
    imp, opened, looked = (statistics.median(col) * 1000 for col in zip(*figures, strict=True))
    print(f"hive: {size:.1f} MB, {count} keys: import regipy {imp:.0f} ms, "
          f"open {opened:.0f} ms, 2 CE lookups {looked:.0f} ms")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--keys", type=int, default=20000)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    bench_export(args.keys, args.runs)
    bench_hive(args.keys, args.runs)


if __name__ == "__main__":
    main()
