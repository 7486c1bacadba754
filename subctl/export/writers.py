"""The writer registry: one entry per output format, shared by ``export``, ``list``/``filter``
and ``view`` (stdout) and ``delete --backup``. A writer takes rows (typed mappings, or an
export's ``StoredRows``), the columns, an open file and the options, and returns the number of
rows written. Writers import their libraries when they run, never at ``--help``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, TextIO, cast

from subctl.errors import UsageError
from subctl.export import Column


@dataclass(frozen=True)
class SheetChart:
    """A native chart for a spreadsheet writer that has one (xlsx): ``value`` against
    ``category`` (column keys), one series per run of rows sharing ``group`` (e.g. a
    currency); ``kind``: column or line."""

    title: str
    category: str
    value: str
    group: str | None = None
    kind: str = "column"


@dataclass(frozen=True)
class WriteOptions:
    raw: bool = False  # --raw: no formula neutralisation
    sheet: str = "Subscriptions"  # spreadsheets: the worksheet's name
    terminal: bool = False  # csv to a terminal: control characters shown as escapes
    # The number of rows to come, when the caller knows it: an xls export over the cap is
    # refused before anything is written, and the Rust xlsx writer lays out its sheets.
    total: int | None = None
    chart: SheetChart | None = None  # xlsx: a native chart beside the rows (others ignore it)
    # The decimals of the money cells to come (``services.exports.money_decimals``), when the
    # caller knows them: the Rust xlsx writer formats whole columns, so one value formats its
    # money columns exactly, several send the file to the writer that formats each cell.
    money_decimals: frozenset[int] | None = None


Write = Callable[[Iterable[Mapping[str, Any]], Sequence[Column], IO[Any], WriteOptions], int]


@dataclass(frozen=True)
class WriterSpec:
    name: str  # csv, json, ndjson, xlsx, xls
    suffixes: tuple[str, ...]
    binary: bool  # xlsx/xls write bytes
    stdout: bool  # may stream to `-o -` (csv, json, ndjson)
    max_rows: int | None  # xls: 65,535 data rows; None: no cap
    write: Write


def _stored(rows: Iterable[Mapping[str, Any]]) -> Any:
    from subctl.export.cells import StoredRows

    return rows if isinstance(rows, StoredRows) else None


def write_csv(
    rows: Iterable[Mapping[str, Any]],
    columns: Sequence[Column],
    out: IO[Any],
    options: WriteOptions,
) -> int:
    from subctl.export import csvfmt

    stored = _stored(rows)
    if stored is not None:
        return csvfmt.write_stored_csv(
            stored, columns, cast(TextIO, out), terminal=options.terminal, raw=options.raw
        )
    text = cast(TextIO, out)
    return csvfmt.write_csv(rows, columns, text, terminal=options.terminal, raw=options.raw)


def write_json(
    rows: Iterable[Mapping[str, Any]],
    columns: Sequence[Column],
    out: IO[Any],
    options: WriteOptions,
) -> int:
    from subctl.export import jsonfmt

    stored = _stored(rows)
    if stored is not None:
        return jsonfmt.write_stored_json(stored, columns, cast(TextIO, out))
    return jsonfmt.write_json(rows, columns, cast(TextIO, out))


def write_ndjson(
    rows: Iterable[Mapping[str, Any]],
    columns: Sequence[Column],
    out: IO[Any],
    options: WriteOptions,
) -> int:
    from subctl.export import jsonfmt

    stored = _stored(rows)
    if stored is not None:
        return jsonfmt.write_stored_ndjson(stored, columns, cast(TextIO, out))
    return jsonfmt.write_ndjson(rows, columns, cast(TextIO, out))


def write_xlsx(
    rows: Iterable[Mapping[str, Any]], columns: Sequence[Column], out: IO[Any], opts: WriteOptions
) -> int:
    from subctl.export import xlsx

    return xlsx.write_xlsx(rows, columns, out, opts)


def write_xls(
    rows: Iterable[Mapping[str, Any]], columns: Sequence[Column], out: IO[Any], opts: WriteOptions
) -> int:
    from subctl.export import xls

    return xls.write_xls(rows, columns, out, opts)


XLS_MAX_ROWS = 65_535  # a sheet of 65,536 rows, less the header

REGISTRY: dict[str, WriterSpec] = {
    "csv": WriterSpec("csv", (".csv",), False, True, None, write_csv),
    "json": WriterSpec("json", (".json",), False, True, None, write_json),
    "ndjson": WriterSpec("ndjson", (".ndjson", ".jsonl"), False, True, None, write_ndjson),
    "xlsx": WriterSpec("xlsx", (".xlsx",), True, False, None, write_xlsx),
    "xls": WriterSpec("xls", (".xls",), True, False, XLS_MAX_ROWS, write_xls),
}


def register(spec: WriterSpec) -> None:
    """Add (or replace) a format: the spreadsheet writers register themselves here."""
    REGISTRY[spec.name] = spec


def _supported() -> str:
    return ", ".join(REGISTRY)


def for_format(name: str) -> WriterSpec:
    """The writer of a format name (case-insensitive); unknown: ``UsageError``."""
    spec = REGISTRY.get(name.strip().lower())
    if spec is None:
        raise UsageError(f'unknown format "{name}"; one of: {_supported()}')
    return spec


def for_path(path: str | Path) -> WriterSpec:
    """The writer a file name's suffix asks for (``subs.csv``, ``subs.xlsx``)."""
    suffix = Path(path).suffix.lower()
    for spec in REGISTRY.values():
        if suffix in spec.suffixes:
            return spec
    suffixes = ", ".join(s for spec in REGISTRY.values() for s in spec.suffixes)
    raise UsageError(
        f'cannot tell the format of "{path}" from its suffix ({suffixes})',
        hint=f"add --format ({_supported()})",
    )
