"""CSV writer: header row of column headers, spreadsheet-safe cells.

Quoting is done here rather than by the ``csv`` module: with ``\\n`` line endings it leaves a
field holding a bare CR unquoted, and a reader then splits the row there. Every field holding a
CR, an LF, the delimiter or a quote is quoted (RFC 4180), so a value always stays one cell.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, TextIO

from subctl.export import Column
from subctl.export.values import neutralise, visible

_NEEDS_QUOTES = re.compile('[,"\r\n]')


def _field(text: str) -> str:
    if _NEEDS_QUOTES.search(text):
        return '"' + text.replace('"', '""') + '"'
    return text


def _line(cells: Sequence[str]) -> str:
    if len(cells) == 1 and not cells[0]:
        return '""\n'  # a lone empty field, not a blank line (which readers skip)
    return ",".join(map(_field, cells)) + "\n"


def write_csv(
    rows: Iterable[Mapping[str, Any]],
    columns: Sequence[Column],
    out: TextIO,
    *,
    header: bool = True,
    terminal: bool = False,
) -> int:
    """Write the rows; ``terminal``: the cells are read on a terminal, so control characters
    are shown as escapes (``visible``) instead of exact data (files and pipes)."""

    def cell(value: Any) -> str:
        text = neutralise(value)
        return visible(text) if terminal else text

    if header:
        out.write(_line([cell(c.header) for c in columns]))
    count = 0
    for row in rows:
        out.write(_line([cell(row.get(c.key)) for c in columns]))
        count += 1
    return count
