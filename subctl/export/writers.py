"""The file writers, by format name and by file suffix (DESIGN of issue #17).

Each writer takes typed rows (mappings of column key -> value), the columns, an open file and
``WriteOptions``, and returns the number of data rows written. Writers import their library
lazily (never on ``--help``'s path).

This branch holds only the spreadsheet entries (xlsx, xls: ``write_xlsx``, ``write_xls`` and
their ``REGISTRY`` lines, plus ``WriteOptions.total``); the text formats (csv, json, ndjson)
join them in the export pipeline's registry.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import PurePath
from typing import IO, Any

from subctl.errors import UsageError
from subctl.export import Column


@dataclass(frozen=True)
class WriteOptions:
    raw: bool = False  # --raw: no formula neutralisation
    sheet: str = "Subscriptions"
    terminal: bool = False  # csv to a terminal: control characters shown as escapes
    # The number of rows to come, when the caller knows it: an xls export over the cap is
    # refused before anything is written, and the Rust xlsx writer lays out its sheets.
    total: int | None = None


Write = Callable[[Iterable[Mapping[str, Any]], Sequence[Column], IO[Any], WriteOptions], int]


@dataclass(frozen=True)
class WriterSpec:
    name: str  # csv, json, ndjson, xlsx, xls
    suffixes: tuple[str, ...]
    binary: bool  # xlsx/xls write bytes
    stdout: bool  # may stream to `-o -` (csv, json, ndjson)
    max_rows: int | None  # xls: 65_535 data rows; None: no cap
    write: Write


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
    "xlsx": WriterSpec("xlsx", (".xlsx",), True, False, None, write_xlsx),
    "xls": WriterSpec("xls", (".xls",), True, False, XLS_MAX_ROWS, write_xls),
}


def _supported() -> str:
    return ", ".join(s for spec in REGISTRY.values() for s in spec.suffixes)


def for_format(name: str) -> WriterSpec:
    spec = REGISTRY.get(name.lower())
    if spec is None:
        raise UsageError(f'unknown format "{name}"', hint=f"supported: {', '.join(REGISTRY)}")
    return spec


def for_path(path: str | PurePath) -> WriterSpec:
    """The writer of a file name's suffix (case-insensitive)."""
    suffix = PurePath(path).suffix.lower()
    for spec in REGISTRY.values():
        if suffix in spec.suffixes:
            return spec
    raise UsageError(
        f'unsupported file type "{suffix or PurePath(path).name}"',
        hint=f"supported: {_supported()}",
    )
