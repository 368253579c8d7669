"""`cefw report`: one self-contained HTML file, rendered by a real headless Chromium
(Debian's `chromium`, installed by .ci/run): the screenshot shows the diagram, the DOM
Chromium builds holds every rule and port, the SVG is XML, a hostile program path stays
text. Golden files for the bundled examples (SOURCE_DATE_EPOCH fixes the date)."""

from __future__ import annotations

import io
import os
import re
import shutil
import subprocess
import tempfile
from html.parser import HTMLParser
from pathlib import Path

import pytest
from defusedxml import ElementTree

from cefw import __version__
from cefw.cli import main
from cefw.examples import load_example
from cefw.plan.make import make_plan
from cefw.ports import format_ports
from cefw.render import report

GOLDEN = Path(__file__).parent / "golden"
EXAMPLES = ("core-host", "agent-pc", "recorder-host")
EPOCH = "1767225600"  # 2026-01-01
HOSTILE = "C:\\CE\\x\"'><script>alert(1)</script>]]><!--\\<b>bold</b>.exe"


def chromium() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-headless-shell")
    assert found, "Chromium is needed: apt-get install -y chromium (.ci/run installs it)"
    return found


def browse(html_file: Path, *mode: str, size: str = "1200,1600") -> subprocess.CompletedProcess:
    with tempfile.TemporaryDirectory(prefix="cefw-chromium-") as profile:
        return subprocess.run(
            [chromium(), "--headless", "--no-sandbox", "--disable-gpu",
             "--disable-background-networking", "--disable-component-update",
             "--disable-sync", "--no-first-run", f"--user-data-dir={profile}",
             f"--window-size={size}", *mode, html_file.as_uri()],
            capture_output=True, text=True, timeout=120, check=True)


def write_report(tmp_path: Path, name: str = "core-host") -> Path:
    out = tmp_path / "ce-ports.html"
    assert main(["report", "--example", name, "-o", str(out)]) == 0
    return out


def hex_rgb(value: str) -> tuple[int, int, int]:
    return int(value[1:3], 16), int(value[3:5], 16), int(value[5:7], 16)


def test_the_screenshot_is_not_blank_and_shows_the_diagram(tmp_path: Path) -> None:
    from PIL import Image

    page = write_report(tmp_path)
    shot = tmp_path / "shot.png"
    browse(page, f"--screenshot={shot}")
    image = Image.open(shot).convert("RGB")
    assert image.size == (1200, 1600)
    colours = image.getcolors(maxcolors=1 << 20)
    assert colours is not None and len(colours) > 50  # text, boxes, lines: not blank
    counts = {rgb: n for n, rgb in colours}
    # The diagram's three columns in their light-mode fills (report._CSS): zones,
    # components, ports: each drawn, as boxes (hundreds of pixels each).
    for fill in ("#cfe2ff", "#d3f4dc", "#ffe3c2"):
        assert counts.get(hex_rgb(fill), 0) > 500, fill
    # The components sit in the middle column of the diagram, right of the zones.
    comp = hex_rgb("#d3f4dc")
    xs = [x for x in range(0, 1200, 4) for y in range(0, 1600, 8)
          if image.getpixel((x, y)) == comp]
    zone_xs = [x for x in range(0, 1200, 4) for y in range(0, 1600, 8)
               if image.getpixel((x, y)) == hex_rgb("#cfe2ff")]
    assert xs and zone_xs and min(xs) > max(zone_xs)


def test_the_dom_holds_every_rule_and_port_and_no_script(tmp_path: Path) -> None:
    page = write_report(tmp_path)
    dom = browse(page, "--dump-dom").stdout
    plan = make_plan(load_example("core-host"))
    for rule in plan.rules:
        assert rule.name in dom
        if rule.local_ports:
            assert format_ports(rule.local_ports) in dom
    for ep in plan.endpoints:
        for low, high in ep.ports:
            assert (str(low) if low == high else f"{low}-{high}") in dom
    assert "<script" not in dom.lower()
    text = page.read_text("utf-8")
    assert 'http-equiv="Content-Security-Policy"' in text
    assert "default-src 'none'" in text
    assert not re.search(r"(src|href)\s*=\s*[\"']?(https?:|//)", text)  # no external request
    assert "prefers-color-scheme: dark" in text and "@media print" in text


def test_the_svg_parses_as_xml(tmp_path: Path) -> None:
    text = write_report(tmp_path).read_text("utf-8")
    svg = text[text.index("<svg"):text.index("</svg>") + len("</svg>")]
    root = ElementTree.fromstring(svg)
    ns = "{http://www.w3.org/2000/svg}"
    plan = make_plan(load_example("core-host"))
    paths = root.findall(f"{ns}path")
    # One edge per rule into the ports column, plus one per (zone, rule) on the left,
    # plus one per listener without a rule (drawn dotted).
    port_edges = [p for p in paths if p.find(f"{ns}title").text.split(":")[0] in
                  {r.name for r in plan.rules}]
    assert len(port_edges) == len(plan.rules)
    off = [g for g in root.findall(f"{ns}g") if g.get("class") == "off"]
    assert len(off) == sum(1 for ep in plan.endpoints if not ep.needs_rule) >= 1
    dynamic = [g for g in root.findall(f"{ns}g") if g.get("class") == "port dynamic"]
    assert len(dynamic) == sum(1 for r in plan.rules if not r.local_ports)


class _Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []

    def handle_starttag(self, tag: str, attrs: list) -> None:  # type: ignore[override]
        self.tags.append(tag)


def test_a_hostile_program_path_never_becomes_markup(tmp_path: Path) -> None:
    plan = make_plan(load_example("agent-pc"))
    rule = plan.rules[0]._replace(program=HOSTILE, name="CE-<i>x</i>-TCP")
    ep = plan.endpoints[0]._replace(program=HOSTILE, label="</svg><script>x</script>",
                                    origin=plan.endpoints[0].origin._replace(path=HOSTILE))
    hostile = plan._replace(rules=(rule,), endpoints=(ep, *plan.endpoints[1:]))
    text = report.render(hostile, version="TEST", generated="2026-01-01")
    parser = _Tags()
    parser.feed(text)
    assert "script" not in parser.tags and "b" not in parser.tags and "i" not in parser.tags
    svg = text[text.index("<svg"):text.index("</svg>") + len("</svg>")]
    ElementTree.fromstring(svg)  # still XML: `]]>` and quotes escaped
    page = tmp_path / "hostile.html"
    page.write_text(text, "utf-8")
    dom = browse(page, "--dump-dom").stdout
    assert "<script" not in dom.lower()
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in dom  # shown as text


def _golden_text(name: str) -> str:
    env = {**os.environ, "SOURCE_DATE_EPOCH": EPOCH}
    old = dict(os.environ)
    os.environ.update(env)
    try:
        out = io.StringIO()
        assert main(["report", "--example", name], out=out) == 0
    finally:
        os.environ.clear()
        os.environ.update(old)
    return out.getvalue().replace(f"<dd>{__version__}</dd>", "<dd>VERSION</dd>")


@pytest.mark.parametrize("name", EXAMPLES)
def test_golden_report_for_each_bundled_example(name: str) -> None:
    text = _golden_text(name)
    assert "<dd>2026-01-01</dd>" in text
    golden = GOLDEN / name / "report.html"
    if os.environ.get("CEFW_UPDATE_GOLDEN"):
        golden.parent.mkdir(parents=True, exist_ok=True)
        golden.write_text(text, "utf-8")
    assert text == golden.read_text("utf-8"), (
        f"{golden} differs: if the change is intended, run the test with "
        "CEFW_UPDATE_GOLDEN=1 and review the diff")


def test_report_to_a_missing_folder_exits_2(tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    status = main(["report", "--example", "agent-pc", "-o", str(tmp_path / "no" / "r.html")])
    assert status == 2
    assert "does not exist" in capsys.readouterr().err
