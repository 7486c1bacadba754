"""Readers of the files ``subctl import`` takes: CSV, XLSX and NDJSON, each a header row then
one row per record, streamed (one row in Python memory at a time).

A reader yields ``(line, cells)``: the row's first line in the file (CSV: a quoted value may
span lines; XLSX: the sheet's row number) and its cells as text. XLSX cells are typed; they
become the text ``codec.to_text`` writes (numbers as Python writes them, dates ``YYYY-MM-DD``,
datetimes ISO 8601 UTC with ``Z``: a spreadsheet's datetimes have no zone, they are read as
UTC, as subctl writes them), so that every value then goes through the one value codec.
NDJSON (``export -f ndjson``: one JSON object a line, internal names as keys): the first
object's keys are the header (``associations.X.ids`` / ``associations.X`` read as the
``associated_X_ids`` / ``associated_X`` columns), a later object's missing key an empty cell
and a key the first object lacks an error naming the line; JSON numbers become the text
Python writes (``1500``, ``12.345``), booleans ``true``/``false``, null an empty cell. A JSON
array (``-f json``) is refused with a hint: it cannot be read a row at a time.
Blank rows are skipped. XLSX is read with python-calamine (Rust), imported when a file is read:
the sheet's cells are held by calamine in compact native memory, rows handed to Python one at
a time.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import itertools
import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from subctl.codec import to_text
from subctl.errors import UsageError

Row = tuple[int, list[str]]


@dataclass(frozen=True)
class ReaderSpec:
    name: str
    suffixes: tuple[str, ...]


READERS = (
    ReaderSpec("csv", (".csv",)),
    ReaderSpec("xlsx", (".xlsx",)),
    ReaderSpec("ndjson", (".ndjson", ".jsonl")),
)
FORMATS = tuple(r.name for r in READERS)


def for_path(path: Path, fmt: str | None = None) -> str:
    """The reader of ``path``: ``fmt`` if given, else by the file's suffix; UsageError for an
    unknown one, listing the supported formats."""
    if fmt is not None:
        if fmt.lower() not in FORMATS:
            supported = ", ".join(FORMATS)
            raise UsageError(f'unknown file format "{fmt}"', hint=f"supported: {supported}")
        return fmt.lower()
    suffix = path.suffix.lower()
    for spec in READERS:
        if suffix in spec.suffixes:
            return spec.name
    if suffix == ".json":
        raise UsageError(
            f"cannot import {path.name}: a JSON array is not read a row at a time",
            hint="export with -f ndjson (one object a line) and import that",
        )
    raise UsageError(
        f'cannot tell the format of {path.name} from "{suffix or path.name}"',
        hint=f"name a .csv, .xlsx or .ndjson file, or give --file-format ({', '.join(FORMATS)})",
    )


def digest(path: Path) -> str:
    """SHA-256 of the file's bytes (a journaled import refuses a changed file)."""
    sha = hashlib.sha256()
    try:
        with path.open("rb") as handle:
            while block := handle.read(1 << 20):
                sha.update(block)
    except OSError as exc:
        raise UsageError(f"cannot read {path}: {exc.strerror or exc}") from exc
    return "sha256:" + sha.hexdigest()


class Header(list[str]):
    """A file's header: the names of its columns, and how a message points at one (CSV, XLSX:
    its column number)."""

    def place(self, index: int) -> str:
        return f'column {index + 1} "{self[index].strip()}"'


class _Keys(Header):
    """NDJSON's header: the first record's keys; a message names the key as written and the
    line of that record (an NDJSON file has no column numbers)."""

    def __init__(self, names: list[str], keys: list[str], line: int) -> None:
        super().__init__(names)
        self.keys, self.line = keys, line

    def place(self, index: int) -> str:
        return f'key "{self.keys[index]}" (line {self.line})'


@contextmanager
def open_rows(path: Path, fmt: str) -> Iterator[tuple[Header, Iterator[Row]]]:
    """The header row and an iterator of the data rows of ``path``."""
    try:
        if fmt == "xlsx":
            with _xlsx(path) as found:
                yield found
        elif fmt == "ndjson":
            with _ndjson(path) as found:
                yield found
        else:
            with _csv(path) as found:
                yield found
    except OSError as exc:
        raise UsageError(f"cannot read {path}: {exc.strerror or exc}") from exc
    except UnicodeDecodeError as exc:
        raise UsageError(f"{path} is not UTF-8 text") from exc


@contextmanager
def _csv(path: Path) -> Iterator[tuple[Header, Iterator[Row]]]:
    with path.open(encoding="utf-8-sig", newline="") as handle:
        reader = csv.reader(handle)
        try:
            header = next(reader)
        except StopIteration:
            raise UsageError(f"{path} is empty: no header row") from None
        except csv.Error as exc:
            raise UsageError(f"{path}:1: {exc}") from exc

        def rows() -> Iterator[Row]:
            end = reader.line_num
            while True:
                try:
                    cells = next(reader)
                except StopIteration:
                    return
                except csv.Error as exc:
                    raise UsageError(f"{path}:{end + 1}: {exc}") from exc
                start, end = end + 1, reader.line_num
                if any(cells):
                    yield start, cells

        yield Header(header), rows()


def cell_text(value: Any) -> str:
    """A typed spreadsheet cell as the codec's text."""
    if value is None or value == "":
        return ""
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() and abs(value) < 2**53 else repr(value)
    if isinstance(value, dt.datetime):
        return to_text(value if value.tzinfo else value.replace(tzinfo=dt.UTC))
    if isinstance(value, dt.time | dt.timedelta):
        return str(value)
    return value if isinstance(value, str) else to_text(value)


@contextmanager
def _xlsx(path: Path) -> Iterator[tuple[Header, Iterator[Row]]]:
    from python_calamine import CalamineError, CalamineWorkbook

    try:
        book = CalamineWorkbook.from_path(str(path))
    except CalamineError as exc:
        raise UsageError(f"{path} is not an XLSX workbook ({exc})") from exc
    except Exception as exc:  # calamine's zip and XML errors
        raise UsageError(f"{path} is not an XLSX workbook ({exc})") from exc
    try:
        if not book.sheet_names:
            raise UsageError(f"{path} has no sheet")
        sheet = book.get_sheet_by_index(0)
        first = sheet.start[0] if sheet.start else 0
        found = sheet.iter_rows()
        try:
            header = [cell_text(c) for c in next(found)]
        except StopIteration:
            raise UsageError(f"{path} is empty: no header row") from None

        def rows() -> Iterator[Row]:
            for number, cells in enumerate(found, start=first + 2):
                texts = [cell_text(c) for c in cells]
                if any(texts):
                    yield number, texts

        yield Header(header), rows()
    finally:
        book.close()


def _json_key(key: str) -> str:
    """A JSON export's key as the import's column: ``associations.contact.ids`` ->
    ``associated_contact_ids``, ``associations.contact`` -> ``associated_contact``."""
    if key.startswith("associations."):
        obj, _, ids = key.removeprefix("associations.").partition(".")
        return f"associated_{obj}_ids" if ids == "ids" else f"associated_{obj}"
    return key


def json_text(value: Any) -> str:
    """A JSON value as the codec's text: numbers as Python writes them (a whole float without
    its ``.0``), booleans ``true``/``false``, null "", nested values as compact JSON."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return cell_text(value)
    if isinstance(value, int | str):
        return str(value)
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


@contextmanager
def _ndjson(path: Path) -> Iterator[tuple[Header, Iterator[Row]]]:
    with path.open(encoding="utf-8-sig") as handle:

        def objects() -> Iterator[tuple[int, dict[str, Any]]]:
            for number, line in enumerate(handle, start=1):
                if not line.strip():
                    continue
                try:
                    value = json.loads(line)
                except json.JSONDecodeError as exc:
                    raise UsageError(f"{path}:{number}: not JSON ({exc.msg})") from exc
                if not isinstance(value, dict):
                    raise UsageError(f"{path}:{number}: not a JSON object, one record a line")
                yield number, value

        found = objects()
        first = next(found, None)
        if first is None:
            raise UsageError(f"{path} is empty: no record")
        keys = list(first[1])
        where = {key: i for i, key in enumerate(keys)}

        def rows() -> Iterator[Row]:
            for number, record in itertools.chain((first,), found):
                cells = [""] * len(keys)
                for key, value in record.items():
                    at = where.get(key)
                    if at is None:
                        raise UsageError(
                            f'{path}:{number}: key "{key}" is not in the first record\'s keys'
                        )
                    cells[at] = json_text(value)
                if any(cells):
                    yield number, cells

        yield _Keys([_json_key(k) for k in keys], keys, first[0]), rows()
