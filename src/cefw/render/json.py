"""JSON for scripts and people: the top level indented, each endpoint, rule, finding or
change on one line of its own.

One object per line reads well, greps well and diffs well between two plans; and it is
fast: `json.dumps(indent=2)` runs Python's pure-Python encoder (a tenth of `cefw plan`'s
start-up budget on a core host), while each line here goes through the C encoder.
"""

from __future__ import annotations

import json
from typing import Any


def _compact(value: object) -> str:
    return json.dumps(value, separators=(", ", ": "))


def _value(value: object, indent: str) -> str:
    if isinstance(value, dict) and value:
        inner = indent + "  "
        items = [f"{inner}{_compact(k)}: {_value(v, inner)}" for k, v in value.items()]
        return "{\n" + ",\n".join(items) + f"\n{indent}}}"
    if isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
        inner = indent + "  "
        return "[\n" + ",\n".join(inner + _compact(v) for v in value) + f"\n{indent}]"
    return _compact(value)


def dumps(document: dict) -> str:
    """The document as JSON text ending in a newline; `json.loads` gives it back."""
    return _value(document, "") + "\n"


def render(view: Any, **options: object) -> str:
    """A Plan, an Outcome or an AuditReport (anything with to_json) as JSON."""
    return dumps(view.to_json())
