"""Rich table renderer: fits the terminal width, truncates long cells with an ellipsis."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from rich import box
from rich.console import Console
from rich.table import Table

from subctl.export import Column
from subctl.export.values import text_value


def render_table(
    rows: Iterable[Mapping[str, Any]], columns: Sequence[Column], console: Console
) -> int:
    table = Table(box=box.SIMPLE_HEAD, header_style="bold", pad_edge=False, expand=False)
    for column in columns:
        table.add_column(column.header, no_wrap=True, overflow="ellipsis")
    count = 0
    for row in rows:
        table.add_row(*(text_value(row.get(c.key)) for c in columns))
        count += 1
    if count:
        console.print(table)
    return count
