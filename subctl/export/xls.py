"""XLS (Excel 97-2003) writer through xlwt, the optional extra ``subctl[xls]``.

The same cells as the xlsx writer (``subctl.export.xlsx``: numbers, dates, UTC datetimes,
money rounded to its currency and formatted with its decimals, booleans, neutralised text
unless ``--raw``), a frozen header row (xlwt writes no autofilter). The format holds at most
65,535 data rows (``writers.XLS_MAX_ROWS``) and 256 columns: more is an error (exit 2)
before anything is written when the count is known, and otherwise when the stream passes the
cap (the file is never left under its final name). xlwt builds the workbook in memory, which
the row cap keeps small.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence, Sized
from typing import IO, TYPE_CHECKING, Any

from subctl.codec import CURRENCY_DECIMALS, DEFAULT_DECIMALS, currency_decimals
from subctl.errors import UsageError
from subctl.export import Column
from subctl.export.xlsx import (
    DATE_FORMAT,
    DATETIME_FORMAT,
    _cells,
    _text,
    money_format,
    sheet_names,
    too_many_rows,
)

if TYPE_CHECKING:
    from subctl.export.writers import WriteOptions

MAX_DATA_ROWS = 65_535
MAX_COLUMNS = 256
HINT = "export to .xlsx (1,048,575 rows a sheet) or .csv (no limit)"


def available() -> bool:
    from importlib.util import find_spec

    return find_spec("xlwt") is not None


def missing() -> UsageError:
    return UsageError("xls needs the xls extra", hint="pip install 'subctl[xls]'")


def check(columns: Sequence[Column], total: int | None) -> None:
    """What can be refused before a byte is written: no xlwt, too many columns or rows."""
    if not available():
        raise missing()
    if len(columns) > MAX_COLUMNS:
        raise UsageError(f"{len(columns)} columns do not fit in an xls sheet (at most 256)",
                         hint=HINT)  # fmt: skip
    if total is not None and total > MAX_DATA_ROWS:
        raise UsageError(
            f"{total:,} rows do not fit in an xls file (at most {MAX_DATA_ROWS:,})", hint=HINT
        )


def write_xls(
    rows: Iterable[Mapping[str, Any]], columns: Sequence[Column], out: IO[bytes], opts: WriteOptions
) -> int:
    total = opts.total if opts.total is not None else len(rows) if isinstance(rows, Sized) else None
    check(columns, total)
    import xlwt

    book = xlwt.Workbook(encoding="utf-8")
    sheet = book.add_sheet(next(sheet_names(opts.sheet)))
    date_style = xlwt.easyxf(num_format_str=DATE_FORMAT)
    datetime_style = xlwt.easyxf(num_format_str=DATETIME_FORMAT)
    styles = {places: xlwt.easyxf(num_format_str=money_format(places))
              for places in {DEFAULT_DECIMALS, *CURRENCY_DECIMALS.values()}}  # fmt: skip
    plain = xlwt.Style.default_style
    # money column -> the row key of its currency, whose decimals format the cell
    money = {i: c.currency_key for i, c in enumerate(columns) if c.kind == "money"}
    cells = _cells(columns, opts.raw)
    for col, column in enumerate(columns):
        sheet.write(0, col, _text(column.header, opts.raw))
    count = 0
    for row in rows:
        if count == MAX_DATA_ROWS:
            raise too_many_rows(MAX_DATA_ROWS, "xls", HINT)
        count += 1
        write = sheet.row(count).write
        for col, value in enumerate(cells(row)):
            if value is None:
                continue
            kind = type(value)
            if kind is dt.datetime:
                write(col, value, datetime_style)
            elif kind is dt.date:
                write(col, value, date_style)
            elif col in money and kind is float:
                key = money[col]
                currency = row.get(key) if key else None
                places = currency_decimals(currency if isinstance(currency, str) else None)
                write(col, value, styles[places])
            else:
                write(col, value, plain)
        if count % 1000 == 0:
            sheet.flush_row_data()
    sheet.set_panes_frozen(True)
    sheet.set_horz_split_pos(1)
    sheet.set_remove_splits(True)
    book.save(out)
    return count
