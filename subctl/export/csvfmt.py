"""CSV writer: header row of column headers, spreadsheet-safe cells.

Quoting is done here rather than by the ``csv`` module: with ``\\n`` line endings it leaves a
field holding a bare CR unquoted, and a reader then splits the row there. Every field holding a
CR, an LF, the delimiter or a quote is quoted (RFC 4180), so a value always stays one cell.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, TextIO

from subctl.export import Column
from subctl.export.values import FORMULA_PREFIXES, neutralise, text_value, visible

if TYPE_CHECKING:
    from subctl.export.cells import StoredRows

_NEEDS_QUOTES = re.compile('[,"\r\n]')
# A line that may need more than joining its cells with commas: a quote, CR or LF anywhere, or
# a cell starting like a formula. (A comma inside a cell shows in the count of commas.)
_PREFIX_CLASS = "".join(re.escape(p) for p in FORMULA_PREFIXES)
_PREFIXES = frozenset(FORMULA_PREFIXES)
_FORMULA_AFTER = re.compile(f"[,\n][{_PREFIX_CLASS}]").search  # a cell starting like a formula


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
    raw: bool = False,
) -> int:
    """Write the rows; ``terminal``: the cells are read on a terminal, so control characters
    are shown as escapes (``visible``) instead of exact data (files and pipes); ``raw``: no
    formula neutralisation (``--raw``)."""

    def cell(value: Any) -> str:
        text = text_value(value) if raw else neutralise(value)
        return visible(text) if terminal else text

    if header:
        out.write(_line([cell(c.header) for c in columns]))
    count = 0
    for row in rows:
        out.write(_line([cell(row.get(c.key)) for c in columns]))
        count += 1
    return count


def write_stored_csv(
    rows: StoredRows,
    columns: Sequence[Column],
    out: TextIO,
    *,
    header: bool = True,
    terminal: bool = False,
    raw: bool = False,
) -> int:
    """``write_csv`` of an export's stored rows, byte for byte, converting each cell once. A
    line is its cells joined with commas unless it needs more (``_SLOW``: quoting or a formula
    prefix, found in the joined line); only then is it built cell by cell."""
    if header:

        def head(value: str) -> str:
            text = value if raw else neutralise(value)
            return visible(text) if terminal else text

        out.write(_line([head(c.header) for c in columns]))
    convert = rows.text_rows()
    neutral = rows.neutral
    commas = len(columns) - 1
    join = ",".join

    def slow(cells: Sequence[Any]) -> str:
        texts = []
        for text, formula in zip(cells, neutral, strict=True):
            if type(text) is not str:  # a stored value of an unexpected type
                text = text_value(text)
            if formula and not raw and text.startswith(FORMULA_PREFIXES):
                text = "'" + text
            texts.append(visible(text) if terminal else text)
        return _line(texts)[:-1]

    def plain(text: str, lines: int) -> bool:
        """Whether joining the cells was all it took, for ``lines`` lines joined with LF."""
        return (
            text.count(",") == commas * lines
            and text.count("\n") == lines - 1
            and '"' not in text
            and "\r" not in text
            and (raw or (_FORMULA_AFTER(text) is None and text[:1] not in _PREFIXES))
        )

    def line(cells: Sequence[Any]) -> str:
        try:
            text = join(cells)
        except TypeError:
            return slow(cells)
        return text if text and plain(text, 1) else slow(cells)

    count = 0
    for chunk in rows.chunks():
        if not chunk:
            continue
        converted = list(map(convert, chunk))
        text = ""
        if commas and not terminal:
            try:
                text = "\n".join(map(join, converted))
            except TypeError:
                text = ""
        if not text or not plain(text, len(converted)):  # some line needs more: line by line
            text = "\n".join(map(slow if terminal else line, converted))
        out.write(text + "\n")
        count += len(converted)
    return count
