"""How cefw's safe XML reader copes with a huge ServerAgent.Config.xml. Run by hand:
`.venv/bin/python bench/bench_xml.py [--elements 1000000]`.

Each case runs in a fresh process (peak RSS is per process) and prints the file size,
the wall time and the peak RSS of `cefw plan` reading it, or of the parser alone:
1. a file of --elements <Note> elements (~50 MB at a million), read by `cefw plan`:
   refused at once by the size cap;
2. the same file given to the tree builder directly (the cap bypassed): what the cap
   saves;
3. the largest file the cap lets through (8 MB of the same elements), parsed whole.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

CHILD = r"""
import json, resource, sys, time
from pathlib import Path
mode, path = sys.argv[1], Path(sys.argv[2])
t = time.perf_counter()
if mode == "plan":
    from cefw.cli import main
    status = main(["plan", "--install-dir", str(path.parents[2]), "--format", "json"],
                  out=open("/dev/null", "w"))
else:
    from cefw.formats.xmlsafe import parse_bytes
    parse_bytes(path.read_bytes(), "x", "fix")
    status = 0
print(json.dumps({"seconds": time.perf_counter() - t, "status": status,
                  "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def write_config(path: Path, elements: int, limit: int | None = None) -> None:
    """A ServerAgent.Config.xml with one real <Server> and `elements` filler elements
    (or as many as fit in `limit` bytes)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    head = ('<?xml version="1.0"?>\n<ServerAgent>\n  <Agent Port="9000"/>\n  <Servers>\n'
            '    <Server Name="DialerServer" Port="9905"/>\n')
    tail = "  </Servers>\n</ServerAgent>\n"
    with open(path, "w", encoding="ascii") as out:
        out.write(head)
        size = len(head) + len(tail)
        for i in range(elements):
            line = f'    <Note id="{i:07d}" text="a filler element">ok</Note>\n'
            if limit is not None and size + len(line) > limit:
                break
            out.write(line)
            size += len(line)
        out.write(tail)


def run(mode: str, path: Path) -> dict:
    done = subprocess.run([sys.executable, "-c", CHILD, mode, str(path)], check=True,
                          capture_output=True, text=True)
    return json.loads(done.stdout.splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--elements", type=int, default=1_000_000)
    args = parser.parse_args()
    from cefw.formats.xmlsafe import MAX_BYTES

    with tempfile.TemporaryDirectory() as tmp:
        install = Path(tmp) / "ce"
        (install / "Services" / "ServerAgent").mkdir(parents=True)
        (install / "Services" / "ServerAgent" / "ServerAgent.exe").write_bytes(b"")
        (install / "Servers" / "DialerServer").mkdir(parents=True)
        (install / "Servers" / "DialerServer" / "DialerServer.exe").write_bytes(b"")
        big = install / "Services" / "ServerAgent" / "ServerAgent.Config.xml"
        write_config(big, args.elements)
        capped = Path(tmp) / "capped" / "Services" / "ServerAgent" / "ServerAgent.Config.xml"
        write_config(capped, args.elements, MAX_BYTES)
        for title, mode, path in (
                (f"cefw plan, {args.elements:,} elements (refused by the cap)", "plan", big),
                (f"tree builder alone, {args.elements:,} elements (no cap)", "parse", big),
                ("tree builder, the largest file the cap lets through", "parse", capped)):
            found = run(mode, path)
            print(f"{title}: {path.stat().st_size / 1_048_576:.1f} MB, "
                  f"{found['seconds']:.2f} s, peak RSS {found['rss_mb']:.0f} MB"
                  + (f", exit {found['status']}" if mode == "plan" else ""))


if __name__ == "__main__":
    main()
