"""The plan as tables for a terminal (rich): what an administrator reads first.
Imported only for --format table: rich costs ~100 ms at start-up."""

from __future__ import annotations

import io

from ..model import Plan
from . import rows

_SEVERITY_STYLE = {"high": "bold red", "medium": "yellow", "low": "cyan", "info": "dim"}


def _rich_table(title: str, table: rows.Table, style_col: int | None = None):  # type: ignore[no-untyped-def]
    from rich.table import Table
    from rich.text import Text

    headers, body = table
    out = Table(title=title, title_justify="left", show_lines=False, expand=False)
    for index, header in enumerate(headers):
        # The first column (component, rule name) is what people search for: never fold.
        out.add_column(header, overflow="fold", no_wrap=index == 0)
    for row in body:
        style = _SEVERITY_STYLE.get(row[style_col], "") if style_col is not None else ""
        # Text(), not str: a path like C:\[x] from a config file is data, never markup.
        out.add_row(*(Text(cell) for cell in row), style=style)
    return out


def render(plan: Plan, *, width: int = 180, color: bool = False, **options: object) -> str:
    """`width`: the terminal's columns (a file or pipe gets a generous 180); `color`: the
    output is a terminal (rich still honours NO_COLOR)."""
    from rich.console import Console
    from rich.markup import escape

    stream = io.StringIO()
    console = Console(file=stream, highlight=False, soft_wrap=False, width=width,
                      force_terminal=color, color_system="auto" if color else None)
    for line in rows.header_lines(plan):
        console.print(escape(line))
    console.print()
    console.print(_rich_table("Listeners (what CE's configuration opens)", rows.endpoints(plan)))
    console.print(_rich_table('Rules (group "Contact Expert", inbound allow)', rows.rules(plan)))
    if plan.findings:
        console.print(_rich_table("Findings", rows.findings(plan), style_col=0))
    console.print(escape(rows.counts(plan)))
    return stream.getvalue()
