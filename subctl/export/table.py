"""Rich table renderer that fits the terminal width.

Widths are allocated here rather than left to Rich: short columns (ids, statuses, dates,
amounts: up to ``KEEP_WHOLE`` characters) keep their full width, headers wrap instead of being
cut, and only long text is truncated with an ellipsis. When even the short columns do not fit,
the rightmost columns are left out and a note says so.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from decimal import Decimal
from typing import Any

from rich import box
from rich.console import Console
from rich.table import Table
from rich.text import Text

from subctl.export import Column
from subctl.export.values import text_value

KEEP_WHOLE = 24  # cells up to this width are never truncated
GAP = 3  # between columns: padding, divider, padding
MIN_TEXT = 8  # a truncated column keeps at least this width


def allocate(natural: Sequence[int], minimum: Sequence[int], total: int) -> list[int]:
    """Column widths within ``total``, each between its minimum and natural width; a 0 means
    the column is left out."""
    if sum(natural) + GAP * (len(natural) - 1) <= total:
        return list(natural)
    count = len(minimum)
    while count > 1 and sum(minimum[:count]) + GAP * (count - 1) > total:
        count -= 1
    widths = list(minimum[:count]) + [0] * (len(natural) - count)
    spare = total - sum(widths) - GAP * (count - 1)
    for index in range(count):  # share what is left, left to right
        extra = max(0, min(natural[index] - widths[index], spare))
        widths[index] += extra
        spare -= extra
    return widths


def minimum_width(cells: int, header: str) -> int:
    """Short content is kept whole, long text may shrink to MIN_TEXT; headers may wrap but
    never split a word."""
    content = cells if cells <= KEEP_WHOLE else MIN_TEXT
    return max(content, max(len(word) for word in header.split() or [""]), 1)


def render_table(
    rows: Iterable[Mapping[str, Any]], columns: Sequence[Column], console: Console
) -> int:
    values = [[row.get(c.key) for c in columns] for row in rows]
    if not values:
        return 0
    cells = [[text_value(v) for v in line] for line in values]
    numeric = [
        all(v is None or (isinstance(v, int | float | Decimal) and not isinstance(v, bool))
            for v in (line[i] for line in values))
        for i in range(len(columns))
    ]  # fmt: skip
    content = [max(len(line[i]) for line in cells) for i in range(len(columns))]
    natural = [max(w, len(c.header), 1) for w, c in zip(content, columns, strict=True)]
    minimum = [minimum_width(w, c.header) for w, c in zip(content, columns, strict=True)]
    widths = allocate(natural, [min(m, n) for m, n in zip(minimum, natural, strict=True)],
                      console.width)  # fmt: skip
    shown = [i for i, w in enumerate(widths) if w]
    table = Table(
        box=box.SIMPLE_HEAD, header_style="bold", pad_edge=False, show_edge=False, padding=(0, 1)
    )
    for i in shown:
        table.add_column(
            Text(columns[i].header),
            width=widths[i],
            overflow="fold",
            justify="right" if numeric[i] else "left",
        )
    for line in cells:
        table.add_row(*(Text(line[i], no_wrap=True, overflow="ellipsis") for i in shown))
    console.print(table)
    if len(shown) < len(columns):
        hidden = ", ".join(columns[i].key for i in range(len(columns)) if i not in shown)
        note = f"({len(columns) - len(shown)} columns left out to fit: {hidden})"
        console.print(Text(note, style="dim"))
    return len(cells)
