"""The plan as Markdown, to paste into a change ticket."""

from __future__ import annotations

import re

from ..model import Plan
from . import rows


def _cell(text: str) -> str:
    # A pipe ends a cell and a newline ends a row: neither may come through raw. A
    # backslash is literal in Markdown except before punctuation, so Windows paths stay
    # as written; only one right before a pipe is doubled, or it would escape the escape.
    text = re.sub(r"\\(?=\|)", r"\\\\", text).replace("|", "\\|")
    # GitHub and Azure DevOps let raw HTML through: `<Endpoint>` or `iiop://:<port>`
    # would vanish as an unknown tag. Entities show the text on both.
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return text.replace("\r", " ").replace("\n", " ")


def _table(table: rows.Table) -> list[str]:
    headers, body = table
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(_cell(c) for c in row) + " |" for row in body]
    return lines


def render(plan: Plan, **options: object) -> str:
    lines = ["# Contact Expert firewall plan", ""]
    lines += [f"- {_cell(line)}" for line in rows.header_lines(plan)]
    lines += [f"- {rows.counts(plan)}", "", "## Listeners", ""]
    lines += _table(rows.endpoints(plan))
    lines += ["", "## Rules", ""]
    lines += _table(rows.rules(plan))
    lines += ["", _cell(rows.zones_line(plan)), "", _cell(rows.LEGEND)]
    lines += ["", "## Findings", ""]
    lines += _table(rows.findings(plan)) if plan.findings else ["None."]
    return "\n".join(lines) + "\n"
