"""XLSX writer: streamed in constant memory, typed cells, a frozen header row and an autofilter.

**Back ends.** rustpy-xlsxwriter (Rust's rust_xlsxwriter; the optional extra
``subctl[fast-xlsx]``) when it is installed, else XlsxWriter in ``constant_memory`` mode (pure
Python, a core dependency). 100,000 rows x 13 mixed cells took 0.63 s and 4.8 s here
(openpyxl's ``write_only`` mode 8.6 s); ``benchmarks/xlsx.py`` measures subctl's writer.
``engine()`` names the one that runs without importing it; ``SUBCTL_XLSX_ENGINE=xlsxwriter``
forces the pure-Python one (tests, benchmarks).

**Cells** (typed, never text for what is not text):

- numbers stay numbers (an integer of more than 15 digits, which a spreadsheet would round,
  is written as text);
- dates are date cells (``yyyy-mm-dd``), datetimes date-time cells in UTC
  (``yyyy-mm-dd hh:mm:ss``; a spreadsheet has no time zones, so the instant is written as UTC
  wall time, milliseconds kept in the value);
- booleans are boolean cells; None is an empty cell;
- money (a column of ``kind == "money"``) is rounded to its row's currency minor unit
  (``currency_key``; ``codec.currency_decimals``: 2 decimals, 0 for JPY, 3 for BHD, 2 for an
  unknown or missing currency), and each money cell has the number format of its currency's
  decimals (``money_format``: ``#,##0`` for JPY, ``#,##0.00``, ``#,##0.000`` for BHD). The Rust
  back end formats by column, not by cell: given the decimals of the money cells to come
  (``WriteOptions.money_decimals``, which ``subctl export`` counts), one value formats its
  money columns exactly and several (JPY and USD rows) send the file to XlsxWriter, which
  formats each cell; unknown (backups, reports), its money columns have ``#,##0.00#`` (two
  decimals at least, the third shown when the amount has one);
- text is neutralised (``values.neutralise``: a leading ``=``, ``+``, ``-``, ``@``, tab or CR
  gets a ``'``) unless ``WriteOptions.raw``; a text longer than a cell holds (32,767
  characters) is cut there, ending with ``…``.

**Beyond 1,048,575 data rows** (a sheet's 1,048,576 rows less the header) the export continues
on a further sheet (``Subscriptions (2)``, ...), the header repeated, each sheet frozen and
filtered. The Rust back end lays out its sheets before the first row, so it needs the row
count (``WriteOptions.total``, or rows that have a length); without one, a stream that runs
past the first sheet stops with an error (the file is never left under its final name).
"""

from __future__ import annotations

import datetime as dt
import io
import os
import stat
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence, Sized
from decimal import Decimal
from itertools import islice
from typing import IO, TYPE_CHECKING, Any, BinaryIO, cast

from subctl.codec import currency_decimals
from subctl.errors import UsageError
from subctl.export import Column
from subctl.export.values import FORMULA_PREFIXES, text_value

if TYPE_CHECKING:
    from subctl.export.writers import SheetChart, WriteOptions

MAX_DATA_ROWS = 1_048_575
CELL_LIMIT = 32_767  # characters in one cell
DATE_FORMAT = "yyyy-mm-dd"
DATETIME_FORMAT = "yyyy-mm-dd hh:mm:ss"
MONEY_FORMAT = "#,##0.00#"  # a money column of the Rust back end, which formats by column


def money_format(places: int) -> str:
    """The number format of an amount with ``places`` decimals (``codec.currency_decimals``):
    ``#,##0`` (JPY), ``#,##0.00`` (USD), ``#,##0.000`` (BHD)."""
    return "#,##0" + ("." + "0" * places if places else "")


MAX_EXACT_INT = 10**15 - 1  # a spreadsheet keeps 15 significant digits
_SHEET_NAME_BAD = str.maketrans(dict.fromkeys("[]:*?/\\", "_"))
_STARTERS = frozenset(FORMULA_PREFIXES)  # every prefix is one character
_UTC = dt.UTC
_EXCEL_EPOCH = dt.datetime(1899, 12, 30)
_DAY = dt.timedelta(days=1)

RUST = "rustpy_xlsxwriter"
PURE = "xlsxwriter"
_DISTRIBUTIONS = {RUST: "rustpy-xlsxwriter", PURE: "XlsxWriter"}


def _chosen() -> str:
    from importlib.util import find_spec

    forced = os.environ.get("SUBCTL_XLSX_ENGINE", "").strip().lower().replace("-", "_")
    if forced in (RUST, PURE):
        return forced
    return RUST if find_spec(RUST) is not None else PURE


def engine(
    *,
    with_version: bool = True,
    columns: Sequence[Column] = (),
    opts: WriteOptions | None = None,
) -> str:
    """The xlsx back end that runs (``rustpy-xlsxwriter 0.8.0``), found without importing it;
    ``with_version=False``: the name alone, without reading package metadata (cheap enough
    for a help text built at start-up). With the ``columns`` and ``opts`` of a write: the one
    that wrote it (``_uses_rust``)."""
    name = _DISTRIBUTIONS[_chosen()]
    if opts is not None and name == _DISTRIBUTIONS[RUST] and not _uses_rust(columns, opts):
        name = _DISTRIBUTIONS[PURE]
    if not with_version:
        return name
    from importlib.metadata import PackageNotFoundError, version

    try:
        return f"{name} {version(name)}"
    except PackageNotFoundError:
        return f"{name} (not installed)"


# -- cells -------------------------------------------------------------------------------------


def _text(text: str, raw: bool) -> str:
    if not raw and text and text[0] in _STARTERS:
        text = "'" + text
    if len(text) > CELL_LIMIT:
        text = text[: CELL_LIMIT - 1] + "…"
    return text


def cell_converter(raw: bool) -> Callable[[Any], Any]:
    """``value -> cell``: what a spreadsheet cell holds for a typed value."""

    def cell(value: Any) -> Any:
        kind = type(value)
        if kind is str:
            if (value and value[0] in _STARTERS and not raw) or len(value) > CELL_LIMIT:
                return _text(value, raw)
            return value
        if value is None or kind is float or kind is bool:
            return value
        if kind is int:
            return value if -MAX_EXACT_INT <= value <= MAX_EXACT_INT else str(value)
        if kind is Decimal:
            return float(value)
        if kind is dt.datetime:
            if value.tzinfo is not None:
                value = value.astimezone(_UTC).replace(tzinfo=None)
            return value
        if kind is dt.date:
            return value
        if isinstance(value, bool | int | float):  # subclasses (IntEnum, ...)
            return value
        # values.neutralise's rule: text (a str subclass too) and lists, never numbers
        return _text(text_value(value), raw or not isinstance(value, str | list | tuple))

    return cell


def money_cell(value: Any, currency: Any) -> Any:
    """A money amount rounded to its currency's minor unit, as a number cell."""
    from subctl.billing import round_money

    if value is None or isinstance(value, bool):
        return value
    if not isinstance(value, Decimal):
        try:
            value = Decimal(repr(value)) if isinstance(value, float) else Decimal(value)
        except ArithmeticError:
            return value
    if not value.is_finite():
        return float(value)
    code = currency if isinstance(currency, str) and currency else "XXX"  # XXX: 2 decimals
    return float(round_money(value, code))


def _cells(columns: Sequence[Column], raw: bool) -> Callable[[Mapping[str, Any]], list[Any]]:
    """``row -> [cell, ...]`` in column order."""
    convert = cell_converter(raw)
    keys = [c.key for c in columns]
    money = [(i, c.key, c.currency_key) for i, c in enumerate(columns) if c.kind == "money"]
    if not money:
        return lambda row: [convert(row.get(k)) for k in keys]

    def cells(row: Mapping[str, Any]) -> list[Any]:
        out = [convert(row.get(k)) for k in keys]
        for i, key, currency in money:
            out[i] = money_cell(row.get(key), row.get(currency) if currency else None)
        return out

    return cells


def sheet_names(base: str) -> Iterator[str]:
    """``Subscriptions``, ``Subscriptions (2)``, ...: valid sheet names (31 characters, none of
    ``[]:*?/\\``)."""
    base = (base.translate(_SHEET_NAME_BAD).strip("'") or "Sheet")[:31]
    yield base
    number = 2
    while True:
        suffix = f" ({number})"
        yield base[: 31 - len(suffix)] + suffix
        number += 1


def _total(rows: Iterable[Mapping[str, Any]], opts: WriteOptions) -> int | None:
    if opts.total is not None:
        return opts.total
    return len(rows) if isinstance(rows, Sized) else None


def too_many_rows(limit: int, fmt: str, hint: str) -> UsageError:
    return UsageError(f"more than {limit:,} rows do not fit in one {fmt} sheet", hint=hint)


# -- writing -----------------------------------------------------------------------------------


def write_xlsx(
    rows: Iterable[Mapping[str, Any]], columns: Sequence[Column], out: IO[bytes], opts: WriteOptions
) -> int:
    """Write the rows as an xlsx workbook to ``out`` (binary); returns the data rows written."""
    if not columns:
        raise UsageError("nothing to export: no columns")
    if _uses_rust(columns, opts):
        return _write_rust(rows, columns, out, opts)
    return _write_pure(rows, columns, out, opts)


def _uses_rust(columns: Sequence[Column], opts: WriteOptions) -> bool:
    """Whether the Rust back end writes these columns: it is installed (or forced), there is
    no chart (``subctl report``: a few hundred rows, drawn by XlsxWriter's chart API), headers
    are unique (it keys cells by header), and money cells need no format per cell: it formats
    whole columns, so an export whose money cells have different decimals (JPY and USD rows)
    is written by XlsxWriter, which formats each cell."""
    mixed = opts.money_decimals is not None and len(opts.money_decimals) > 1
    return (
        opts.chart is None
        and _chosen() == RUST
        and len({c.header for c in columns}) == len(columns)
        and not (mixed and any(c.kind == "money" and c.currency_key for c in columns))
    )


def _write_pure(
    rows: Iterable[Mapping[str, Any]], columns: Sequence[Column], out: IO[bytes], opts: WriteOptions
) -> int:
    import xlsxwriter

    workbook = xlsxwriter.Workbook(
        out,
        {"constant_memory": True, "strings_to_numbers": False, "strings_to_formulas": False,
         "strings_to_urls": False},
    )  # fmt: skip
    date_format = workbook.add_format({"num_format": DATE_FORMAT})
    datetime_format = workbook.add_format({"num_format": DATETIME_FORMAT})
    formats: dict[int, Any] = {}  # decimals -> the format of money cells with them

    def money_cell_format(currency: Any) -> Any:
        places = currency_decimals(currency if isinstance(currency, str) else None)
        if places not in formats:
            formats[places] = workbook.add_format({"num_format": money_format(places)})
        return formats[places]

    # money column -> the row key of its currency: each cell is formatted with its currency's
    # decimals (cell formats are per cell; the Rust back end's are per column)
    money = {i: c.currency_key for i, c in enumerate(columns) if c.kind == "money"}
    cells = _cells(columns, opts.raw)
    header = [_text(c.header, opts.raw) for c in columns]
    last_col = len(columns) - 1
    names = sheet_names(opts.sheet)
    count = 0
    sheet: Any = None
    row_number = 0

    def close_sheet() -> None:
        sheet.autofilter(0, 0, row_number, last_col)

    chart = opts.chart
    keys = [c.key for c in columns]
    runs: list[tuple[Any, int, int]] = []  # (group value, first row, last row) of the chart

    for row in rows:
        if chart is not None:
            group = row.get(chart.group) if chart.group else None
            if runs and runs[-1][0] == group and runs[-1][2] == row_number:
                runs[-1] = (group, runs[-1][1], row_number + 1)
            else:
                runs.append((group, row_number + 1, row_number + 1))
        if sheet is None or row_number == MAX_DATA_ROWS:
            if sheet is not None:
                close_sheet()
            sheet = workbook.add_worksheet(next(names))
            sheet.freeze_panes(1, 0)
            sheet.write_row(0, 0, header)
            row_number = 0
            write_string, write_number = sheet.write_string, sheet.write_number
            write_boolean, write_datetime = sheet.write_boolean, sheet.write_datetime
        row_number += 1
        for col, value in enumerate(cells(row)):
            kind = type(value)
            if kind is str:
                write_string(row_number, col, value)
            elif kind is float or kind is int:
                if col in money:
                    key = money[col]
                    write_number(row_number, col, value,
                                 money_cell_format(row.get(key) if key else None))  # fmt: skip
                else:
                    write_number(row_number, col, value)
            elif kind is bool:
                write_boolean(row_number, col, value)
            elif kind is dt.datetime:
                write_datetime(row_number, col, value, datetime_format)
            elif kind is dt.date:
                write_datetime(row_number, col, value, date_format)
            elif value is not None:
                write_number(row_number, col, value)
        count += 1
    if sheet is None:  # no rows: the header alone
        sheet = workbook.add_worksheet(next(names))
        sheet.freeze_panes(1, 0)
        sheet.write_row(0, 0, header)
    close_sheet()
    if chart is not None and runs and count <= MAX_DATA_ROWS:
        _add_chart(workbook, sheet, chart, keys, runs, last_col)
    workbook.close()
    return count


def _add_chart(
    workbook: Any, sheet: Any, spec: SheetChart, keys: list[str], runs: list[Any], last_col: int
) -> None:
    """A native chart of ``spec`` beside the rows: one series per run of rows of a group."""
    if spec.category not in keys or spec.value not in keys:
        return
    chart = workbook.add_chart({"type": spec.kind})
    name = sheet.get_name()
    cat, val = keys.index(spec.category), keys.index(spec.value)
    for group, first, last in runs:
        chart.add_series({
            "name": f"{spec.title} {group}" if group is not None else spec.title,
            "categories": [name, first, cat, last, cat],
            "values": [name, first, val, last, val],
        })  # fmt: skip
    chart.set_title({"name": spec.title})
    chart.set_size({"width": 720, "height": 360})
    sheet.insert_chart(1, last_col + 2, chart)


def _write_rust(
    rows: Iterable[Mapping[str, Any]], columns: Sequence[Column], out: IO[bytes], opts: WriteOptions
) -> int:
    from rustpy_xlsxwriter import Format, write_worksheets

    total = _total(rows, opts)
    sheets = max(1, -(-total // MAX_DATA_ROWS)) if total else 1
    headers = [_text(c.header, opts.raw) for c in columns]
    formats: dict[str, Any] = {}
    for header, column in zip(headers, columns, strict=True):
        if column.kind == "date":
            formats[header] = Format().set_num_format(DATE_FORMAT)
        elif column.kind == "money":
            known = opts.money_decimals  # one value: every cell's decimals
            fmt = money_format(next(iter(known))) if known and len(known) == 1 else MONEY_FORMAT
            formats[header] = Format().set_num_format(fmt)
        elif column.kind == "datetime":
            formats[header] = Format().set_num_format(DATETIME_FORMAT)
    typed = _cells(columns, opts.raw)
    instants = [i for i, c in enumerate(columns) if c.kind == "datetime"]

    def cells(row: Mapping[str, Any]) -> list[Any]:
        """The Rust writer drops a datetime's milliseconds: datetime columns get Excel's
        serial numbers (days since 1899-12-30) under the datetime format instead."""
        values = typed(row)
        for i in instants:
            value = values[i]
            if type(value) is dt.datetime:
                values[i] = (value - _EXCEL_EPOCH) / _DAY
        return values

    source = iter(rows)
    written = [0]

    def sheet_rows(last: bool) -> Iterator[dict[str, Any]]:
        for row in islice(source, MAX_DATA_ROWS):
            written[0] += 1
            yield dict(zip(headers, cells(row), strict=True))
        if last and next(source, None) is not None:
            raise too_many_rows(
                MAX_DATA_ROWS, "xlsx", "export to csv, or pass the row count to the writer"
            )

    if not total:  # no rows, or a count unknown
        first = next(source, None)
        if first is None:  # the header alone (the Rust writer takes its header from a row)
            return _write_pure((), columns, out, opts)
        source = _chain(first, source)
    names = list(islice(sheet_names(opts.sheet), sheets))
    entries: list[tuple[str, Any]] = [
        (name, sheet_rows(i == sheets - 1)) for i, name in enumerate(names)
    ]
    path = _file_path(out)
    write_worksheets(
        entries,
        path if path is not None else cast(BinaryIO, out),
        freeze_panes={"general": {"row": 1, "col": 0}},
        datetime_format=DATETIME_FORMAT,
        autofilter=dict.fromkeys(names, True),
        column_formats=dict.fromkeys(names, formats),
    )
    if path is not None:
        out.seek(0, os.SEEK_END)  # written through the path: the handle sees it at its end
    return written[0]


def _file_path(out: IO[bytes]) -> str | None:
    """The path of ``out`` when it is an empty regular file that the path still names: the
    Rust writer streams to a path, but builds the whole workbook in memory for a file object
    (100,000 rows: 37 MiB peak; 1,000,000: 159 MiB). It writes the same file (inode) the
    handle holds, so the caller's fsync and rename still apply."""
    name = getattr(out, "name", None)
    if not isinstance(name, str):
        return None
    try:
        held, named = os.fstat(out.fileno()), os.stat(name)
        out.flush()
    except (OSError, ValueError, io.UnsupportedOperation):
        return None
    same = (held.st_dev, held.st_ino) == (named.st_dev, named.st_ino)
    if not same or not stat.S_ISREG(held.st_mode) or held.st_size or out.tell():
        return None
    return name


def _chain(first: Mapping[str, Any], rest: Iterator[Mapping[str, Any]]) -> Iterator[Any]:
    yield first
    yield from rest
