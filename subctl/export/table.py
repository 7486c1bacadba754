"""Rich table renderer that fits the terminal width.

Widths are allocated here rather than left to Rich: short columns (ids, statuses, dates,
amounts: up to ``KEEP_WHOLE`` characters) and columns marked ``whole`` keep their full width,
headers wrap instead of being cut, and only long text is truncated with an ellipsis. When even
the short columns do not fit, the rightmost columns are left out (never a ``required`` one) and
a note says so; required columns that still do not fit wrap their cells rather than cut them.

Tables stream: widths come from the first ``CHUNK`` rows and later rows are printed a chunk at a
time with the same widths, so memory stays flat however many rows there are.

Every cell and header goes through ``visible``: control characters in stored values are shown
as escapes, never sent to the terminal.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from itertools import islice
from typing import Any

from rich import box
from rich.console import Console
from rich.table import Table
from rich.text import Text

from subctl.codec import plural
from subctl.export import Column
from subctl.export.values import text_value, visible

KEEP_WHOLE = 24  # cells up to this width are never truncated
GAP = 3  # between columns: padding, divider, padding
MIN_TEXT = 8  # a truncated column keeps at least this width
CHUNK = 1000  # rows measured for the widths, and rows per printed chunk


def allocate(
    natural: Sequence[int],
    minimum: Sequence[int],
    total: int,
    required: Sequence[int] = (),
    wrap: Sequence[int] = (),
) -> list[int]:
    """Column widths within ``total``, each between its minimum and natural width; a 0 means
    the column is left out. The first column and ``required`` ones are never left out; when
    they alone do not fit, the widest of them give way (their cells wrap). A ``wrap`` column
    (a note) wraps only when it is the last one shown: columns after it are left out first."""
    if sum(natural) + GAP * (len(natural) - 1) <= total:
        return list(natural)
    kept = [True] * len(natural)

    def least() -> list[int]:
        last = max(i for i, k in enumerate(kept) if k)
        return [(natural[i] if i in wrap and i < last else m) if k else 0
                for i, (m, k) in enumerate(zip(minimum, kept, strict=True))]  # fmt: skip

    def used() -> int:
        return sum(least()) + GAP * (sum(kept) - 1)

    for index in reversed(range(1, len(natural))):
        if used() <= total:
            break
        if index not in required:
            kept[index] = False
    widths = least()
    spare = total - used()
    while spare < 0 and max(widths) > 1:  # required columns alone are too wide: squeeze
        widths[widths.index(max(widths))] -= 1
        spare += 1
    for index, keep in enumerate(kept):  # share what is left, left to right
        if keep:
            extra = max(0, min(natural[index] - widths[index], spare))
            widths[index] += extra
            spare -= extra
    return widths


def minimum_width(cells: int, header: str, *, whole: bool = False, word: int | None = None) -> int:
    """Short content (and ``whole`` columns) is kept whole, long text may shrink to MIN_TEXT;
    a ``wrap`` column to its longest ``word`` (its cells wrap between words, never inside a
    date); headers may wrap but never split a word."""
    if word is not None:
        content = min(word, max(cells, 1))
    else:
        content = cells if whole or cells <= KEEP_WHOLE else MIN_TEXT
    return max(content, max(len(word) for word in header.split() or [""]), 1)


@dataclass
class _Layout:
    columns: Sequence[Column]
    shown: list[int]
    widths: list[int]
    numeric: list[bool]
    folded: list[bool]  # cells that wrap (never cut) rather than end in an ellipsis

    def table(self, cells: list[list[str]], *, header: bool) -> Table:
        table = Table(
            box=box.SIMPLE_HEAD,
            header_style="bold",
            pad_edge=False,
            show_edge=False,
            show_header=header,
            padding=(0, 1),
        )
        for i in self.shown:
            table.add_column(
                Text(visible(self.columns[i].header)),
                width=self.widths[i],
                overflow="fold",
                justify="right" if self.numeric[i] else "left",
            )
        for line in cells:
            table.add_row(
                *(
                    Text(line[i], no_wrap=not self.folded[i],
                         overflow="fold" if self.folded[i] else "ellipsis")
                    for i in self.shown
                )
            )  # fmt: skip
        return table

    def hidden(self) -> list[str]:
        return [c.key for i, c in enumerate(self.columns) if i not in self.shown]


def _cells(values: list[list[Any]]) -> list[list[str]]:
    return [[visible(text_value(v)) for v in line] for line in values]


def _layout(values: list[list[Any]], cells: list[list[str]], columns: Sequence[Column],
            total: int, *, wrap: bool = False) -> _Layout:  # fmt: skip
    numeric = [
        c.right or all(v is None or (isinstance(v, int | float | Decimal)
                                     and not isinstance(v, bool))
                       for v in (line[i] for line in values))
        for i, c in enumerate(columns)
    ]  # fmt: skip
    content = [max(len(line[i]) for line in cells) for i in range(len(columns))]
    headers = [visible(c.header) for c in columns]
    natural = [max(w, len(h), 1) for w, h in zip(content, headers, strict=True)]
    words = [
        max((len(word) for line in cells for word in line[i].split()), default=0)
        if c.wrap else None
        for i, c in enumerate(columns)
    ]  # fmt: skip
    minimum = [
        min(minimum_width(w, h, whole=c.whole, word=word), n)
        for w, h, c, n, word in zip(content, headers, columns, natural, words, strict=True)
    ]
    required = [i for i, c in enumerate(columns) if c.required]
    wraps = [i for i, c in enumerate(columns) if c.wrap]
    widths = allocate(natural, minimum, total, required, wraps)
    shown = [i for i, w in enumerate(widths) if w]
    # Cells wrap rather than being cut, except in long text truncated to fit (unless ``wrap``):
    # a later chunk's wider value in a column that was shown whole wraps too.
    folded = [
        wrap or c.wrap or w < m or w >= n
        for w, m, n, c in zip(widths, minimum, natural, columns, strict=True)
    ]
    return _Layout(columns, shown, widths, numeric, folded)


def fitted_table(
    rows: Sequence[Mapping[str, Any]],
    columns: Sequence[Column],
    width: int,
    *,
    note: Callable[[str], None] | None = None,
) -> Table:
    """A table within ``width`` for a detail view (a few rows, e.g. payments): long text wraps
    rather than being cut, so ids, dates and amounts stay whole and nothing is lost. Columns
    left out to fit (not ``required``) are named to ``note``, as ``render_table`` does."""
    values = [[row.get(c.key) for c in columns] for row in rows]
    cells = _cells(values)
    layout = _layout(values, cells, columns, width, wrap=True)
    hidden = [c.header for c in columns if c.key in set(layout.hidden())]
    if hidden and note is not None:
        note(f"({plural(len(hidden), 'column')} left out to fit: {', '.join(hidden)})")
    return layout.table(cells, header=True)


def render_table(
    rows: Iterable[Mapping[str, Any]],
    columns: Sequence[Column],
    console: Console,
    *,
    note: Callable[[str], None] | None = None,
) -> int:
    """Print the rows; returns their count. The note on left-out columns goes to ``note``
    (the output's message stream), or to the console when there is none."""
    keys = [c.key for c in columns]
    source = iter(rows)
    values = [[row.get(k) for k in keys] for row in islice(source, CHUNK)]
    if not values:
        return 0
    cells = _cells(values)
    layout = _layout(values, cells, columns, console.width)
    console.print(layout.table(cells, header=True))
    count = len(cells)
    while values := [[row.get(k) for k in keys] for row in islice(source, CHUNK)]:
        console.print(layout.table(_cells(values), header=False))
        count += len(values)
    hidden = layout.hidden()
    if hidden:
        text = f"({plural(len(hidden), 'column')} left out to fit: {', '.join(hidden)})"
        if note is not None:
            note(text)
        else:
            console.print(Text(text, style="dim"))
    return count
