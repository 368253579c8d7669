"""JSON for scripts and people: the top level indented, each endpoint, rule, finding or
change on one line of its own.

One object per line reads well, greps well and diffs well between two plans; and it is
fast: `json.dumps(indent=2)` runs Python's pure-Python encoder (a tenth of `cefw plan`'s
start-up budget on a core host), while each line here goes through the C encoder.

The text is made in pieces (`chunks`), and a Plan's endpoints, rules and findings are
turned into JSON one at a time as they are written (`write`): a plan of 200,000 channels
is written in the memory of the plan itself, not that of a second, textual, copy of it
(bench/bench_plan.py).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from typing import IO, Any

from ..model import Plan

_compact = json.JSONEncoder(separators=(", ", ": ")).encode  # one C encoder for all lines


def chunks(document: dict) -> Iterator[str]:
    """The document as JSON text ending in a newline, in pieces. A value that is an
    iterator (not a list) is a lazy list: its items, made as they are written, go one
    to a line."""
    yield from _value(document, "")
    yield "\n"


def _value(value: object, indent: str) -> Iterator[str]:
    if isinstance(value, dict) and value:
        inner = indent + "  "
        yield "{"
        sep = "\n"
        for k, v in value.items():
            yield f"{sep}{inner}{_compact(k)}: "
            yield from _value(v, inner)
            sep = ",\n"
        yield f"\n{indent}}}"
    elif isinstance(value, Iterator) or (
            isinstance(value, list) and value and all(isinstance(v, dict) for v in value)):
        yield from _lines(value, indent)
    else:
        yield _compact(value)


def _lines(items: Iterable[object], indent: str) -> Iterator[str]:
    inner = indent + "  "
    opening = "[\n"
    for item in items:
        yield f"{opening}{inner}{_compact(item)}"
        opening = ",\n"
    yield "[]" if opening == "[\n" else f"\n{indent}]"


def dumps(document: dict) -> str:
    """The document as JSON text ending in a newline; `json.loads` gives it back."""
    return "".join(chunks(document))


def _document(view: Any) -> dict:
    return view.to_json(lazy=True) if isinstance(view, Plan) else view.to_json()


def render(view: Any, **options: object) -> str:
    """A Plan, an Outcome or an AuditReport (anything with to_json) as JSON."""
    return dumps(_document(view))


def write(view: Any, out: IO[str], **options: object) -> None:
    """render(view), written to `out` piece by piece (a few lines at a time)."""
    batch: list[str] = []
    for piece in chunks(_document(view)):
        batch.append(piece)
        if len(batch) >= 512:  # a few hundred pieces per write: few calls, little memory
            out.write("".join(batch))
            batch.clear()
    out.write("".join(batch))
