"""The house rules of src/cefw, checked: no import cycle between modules, each finding
code raised by one module only (its owner), parsers in formats/ know nothing of CE, and
the platforms are imported only by name."""

from __future__ import annotations

import ast
import re
from pathlib import Path

from cefw.findings import CODES

SRC = Path(__file__).resolve().parents[1] / "src" / "cefw"


def module_name(path: Path) -> str:
    parts = list(path.relative_to(SRC.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def modules() -> dict[str, Path]:
    return {module_name(p): p for p in SRC.rglob("*.py")}


def top_level_imports(path: Path, name: str) -> set[str]:
    """The cefw modules `path` imports when it is itself imported: module-level import
    statements only (an import inside a function runs later, on demand)."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.parse(path.read_text(encoding="utf-8")).body:
        if isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")
                anchor = anchor[: len(anchor) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            if base.startswith("cefw"):
                found.add(base)
                found.update(f"{base}.{alias.name}" for alias in node.names)
        elif isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.startswith("cefw"))
    return found


def test_no_import_cycle() -> None:
    known = modules()
    graph = {name: {m for m in top_level_imports(path, name) if m in known and m != name}
             for name, path in known.items()}
    state: dict[str, int] = {}  # 1 visiting, 2 done
    stack: list[str] = []

    def visit(node: str) -> None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                cycle = [*stack[stack.index(nxt):], nxt]
                raise AssertionError("import cycle: " + " -> ".join(cycle))
            if nxt not in state:
                visit(nxt)
        stack.pop()
        state[node] = 2

    for name in sorted(graph):
        if name not in state:
            visit(name)


def test_each_finding_code_has_one_owner() -> None:
    raised: dict[str, set[str]] = {}
    for name, path in modules().items():
        for code in re.findall(r"""finding\(\s*["']([a-z0-9-]+)["']""", path.read_text()):
            raised.setdefault(code, set()).add(name)
    shared = {code: sorted(owners) for code, owners in raised.items() if len(owners) > 1}
    assert shared == {}, f"finding codes raised from more than one module: {shared}"
    assert set(raised) <= set(CODES), f"codes not in findings.CODES: {set(raised) - set(CODES)}"


def test_format_parsers_know_nothing_of_ce() -> None:
    for path in (SRC / "formats").glob("*.py"):
        imports = top_level_imports(path, module_name(path))
        imports |= {m for m in re.findall(r"from \.\.(\w+)", path.read_text())}
        assert not imports & {"cefw.catalog", "cefw.readers", "catalog", "readers"}, path


def test_platforms_are_imported_only_by_name() -> None:
    """Nothing outside platforms/ imports a platform module at import time: `cefw plan`
    never pays for a firewall it does not use."""
    for name, path in modules().items():
        if name.startswith("cefw.platforms"):
            continue
        imports = top_level_imports(path, name)
        assert not {m for m in imports if m.startswith("cefw.platforms.")}, name
