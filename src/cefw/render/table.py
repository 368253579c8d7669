"""The plan as tables for a terminal (rich): what an administrator reads first.
Imported only for --format table: rich costs ~100 ms at start-up.

The default view fits 80 and 120 columns (Windows Terminal opens at 120): short cells
(the port with its protocol, the file and line a port came from, programs under the
install folder), widths chosen here so that a port or a range is never split and each
listener takes one line where the width allows. `wide=True` is the full view: every
column, full paths and the full place in each file.
"""

from __future__ import annotations

import io

from ..model import Plan
from . import rows

_SEVERITY_STYLE = {"high": "bold red", "medium": "yellow", "low": "cyan", "info": "dim"}

# Per column of the compact tables: the narrowest it may become (a port cell: never
# narrower than its longest value, so a port or range is never split).
_MIN = {"Component": 14, "Listener": 8, "Source": 16, "Port from": 14, "Rule": 18,
        "Profiles": 8, "Program": 14, "Code": 12, "What to do": 24,
        "Listener (port from)": 24, "Rule, program": 24}
_NEVER_SPLIT = {"Port", "Severity"}
_GAP = 2  # between two cells: the blank rule of box.SIMPLE_HEAD, padding on the left


# Which column gives up width first when a table does not fit: the label and the long
# texts before the names people search for.
_GIVES_FIRST = ("Listener", "Port from", "Listener (port from)", "Rule, program",
                "What to do", "Program", "Component", "Rule", "Source", "Code", "Profiles")


def fit(natural: list[int], minimum: list[int], order: list[int], available: int) -> list[int]:
    """Column widths that fit `available` characters: the natural widths when they fit;
    else the columns in `order` give up width, each down to its minimum before the next."""
    widths = list(natural)
    excess = sum(widths) - available
    for i in order:
        if excess <= 0:
            break
        give = min(excess, widths[i] - minimum[i])
        widths[i] -= give
        excess -= give
    return widths


def _widths(table: rows.Table, width: int) -> list[int]:
    headers, body = table
    natural = [max([len(h), *(len(line) for row in body for line in row[i].splitlines())])
               for i, h in enumerate(headers)]
    minimum = [natural[i] if h in _NEVER_SPLIT else min(natural[i], _MIN.get(h, 8))
               for i, h in enumerate(headers)]
    order = sorted(range(len(headers)), key=lambda i: _GIVES_FIRST.index(headers[i])
                   if headers[i] in _GIVES_FIRST else len(_GIVES_FIRST))
    return fit(natural, minimum, order, width - _GAP * (len(headers) - 1))


def _one_line_fits(table: rows.Table, width: int) -> bool:
    """Whether the listeners fit one per line, give or take a long label or value: the
    place a port came from ("ServerAgent.Config.xml line 14") stays whole."""
    widths = _widths(table, width)
    return widths[table[0].index("Port from")] >= _FROM_WHOLE


_FROM_WHOLE = len("ServerAgent.Config.xml line 14")
_PROGRAM_WHOLE = len(r"Servers\DialerServer\DialerServer.exe")


def _compact_table(title: str, table: rows.Table, width: int, style_col: int | None = None,
                   bold_rows: frozenset[int] = frozenset()):  # type: ignore[no-untyped-def]
    from rich import box
    from rich.table import Table
    from rich.text import Text

    headers, body = table
    widths = _widths(table, width)
    out = Table(title=title, title_justify="left", box=box.SIMPLE_HEAD, pad_edge=False,
                padding=(0, 0, 0, 1), show_edge=False, expand=False)
    for header, w in zip(headers, widths, strict=True):
        never = header in _NEVER_SPLIT
        out.add_column(header, width=w, no_wrap=never, overflow="fold")
    for index, row in enumerate(body):
        style = _SEVERITY_STYLE.get(row[style_col], "") if style_col is not None else ""
        style = "bold" if index in bold_rows else style
        # Text(), not str: a path like C:\[x] from a config file is data, never markup.
        out.add_row(*(Text(cell) for cell in row), style=style)
    return out


def _wide_table(title: str, table: rows.Table, style_col: int | None = None):  # type: ignore[no-untyped-def]
    from rich.table import Table
    from rich.text import Text

    headers, body = table
    out = Table(title=title, title_justify="left", show_lines=False, expand=False)
    for index, header in enumerate(headers):
        # The first column (component, rule name) is what people search for: never fold;
        # ports never split either.
        out.add_column(header, overflow="fold", no_wrap=index == 0 or "ports" in header.lower())
    for row in body:
        style = _SEVERITY_STYLE.get(row[style_col], "") if style_col is not None else ""
        out.add_row(*(Text(cell) for cell in row), style=style)
    return out


def render(plan: Plan, *, width: int = 180, color: bool = False, wide: bool = False,
           **options: object) -> str:
    """`width`: the terminal's columns (COLUMNS for a file or pipe); `color`: the output
    is a terminal (rich still honours NO_COLOR); `wide`: every column, full paths."""
    from rich.console import Console
    from rich.markup import escape

    stream = io.StringIO()
    console = Console(file=stream, highlight=False, soft_wrap=False, width=width,
                      force_terminal=color, color_system="auto" if color else None)
    for line in rows.header_lines(plan):
        console.print(escape(line))
    console.print()
    listeners = "Listeners (what CE's configuration opens)"
    rules = 'Rules (group "Contact Expert", inbound allow)'
    if wide:
        console.print(_wide_table(listeners, rows.endpoints(plan)))
        console.print(_wide_table(rules, rows.rules(plan)))
        if plan.findings:
            console.print(_wide_table("Findings", rows.findings(plan), style_col=0))
        console.print(escape(rows.LEGEND))
    else:
        one_line = rows.compact_endpoints(plan)
        if _one_line_fits(one_line, width):
            console.print(_compact_table(listeners, one_line, width))
        else:
            narrow, headings = rows.narrow_endpoints(plan)
            console.print(_compact_table(listeners, narrow, width,
                                         bold_rows=frozenset(headings)))
        profiles = {r.profiles for r in plan.rules}
        if len(profiles) == 1:  # the usual case: say it once, in the title
            rules = rules[:-1] + f", profiles {', '.join(profiles.pop())})"
        by_rule = rows.compact_rules(plan, len(profiles) > 1)
        if _widths(by_rule, width)[-1] < _PROGRAM_WHOLE:
            by_rule = rows.narrow_rules(plan, len(profiles) > 1)
        console.print(_compact_table(rules, by_rule, width))
        if plan.findings:
            console.print(_compact_table("Findings", rows.compact_findings(plan), width,
                                         style_col=0))
        console.print(escape(rows.COMPACT_NOTE))
    console.print(escape(rows.zones_line(plan)))
    console.print(escape(rows.counts(plan)))
    return stream.getvalue()
