"""How long `cefw export --format aerleon` takes. Run by hand:
`.venv/bin/python bench/bench_aerleon.py [--runs 5]`.

Prints, for the bundled core-host plan (IPv4 and IPv6 zones):
1. the import time of aerleon (what --target costs once; nothing else imports it);
2. building the policy and definitions and writing their YAML (no aerleon);
3. aerleon's render time per target (median of --runs), and the output size.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SITE = """[zones]
servers = ["198.18.1.10", "198.18.1.11", "2001:db8:1::10"]
clients = ["198.18.20.0/24", "2001:db8:20::/64"]
"""
TARGETS = ["ciscoasa", "cisco", "juniper", "srx", "paloalto", "iptables", "nftables",
           "arista", "openconfig", "packetfilter"]


def median_ms(fn, runs: int) -> float:  # type: ignore[no-untyped-def]
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1000


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    imported = subprocess.run(
        [sys.executable, "-c", "import time; t = time.perf_counter(); from aerleon import "
         "api; print((time.perf_counter() - t) * 1000)"], capture_output=True, text=True)
    print(f"import aerleon: {float(imported.stdout):.0f} ms")

    from cefw.examples import load_example
    from cefw.plan.make import make_plan
    from cefw.plan.site import load
    from cefw.platforms.aerleon import export
    from cefw.platforms.aerleon.targets import generate

    site_path = Path(tempfile.mkdtemp()) / "site.toml"
    site_path.write_text(SITE, encoding="utf-8")
    plan = make_plan(load_example("core-host")._replace(site=site_path))
    site = load(site_path)
    options = {"site": site, "destinations": ["198.18.1.10", "2001:db8:1::10"]}
    ms = median_ms(lambda: export.render_files(plan, **options), args.runs)
    print(f"policy + definitions YAML ({len(plan.rules)} rules): {ms:.1f} ms")
    for target in TARGETS:
        docs = export.documents(plan, targets=[target], **options)
        out: dict[str, str] = {}
        ms = median_ms(lambda d=docs, o=out: o.update(generate(d)), args.runs)
        size = sum(len(text) for text in out.values())
        print(f"  {target:13} {ms:7.1f} ms  {size:7d} bytes")
        out.clear()


if __name__ == "__main__":
    main()
