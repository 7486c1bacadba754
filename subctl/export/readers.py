"""Readers of the files ``subctl import`` takes: CSV, XLSX, NDJSON and JSON, each a header row
then one row per record, streamed (one row in Python memory at a time).

A reader yields ``(line, cells)``: the row's first line in the file (CSV: a quoted value may
span lines; XLSX: the sheet's row number) and its cells as text. XLSX cells are typed; they
become the text ``codec.to_text`` writes (numbers as Python writes them, dates ``YYYY-MM-DD``,
datetimes ISO 8601 UTC with ``Z``: a spreadsheet's datetimes have no zone, they are read as
UTC, as subctl writes them), so that every value then goes through the one value codec.
NDJSON, one JSON object a line, in either layout subctl writes, told by the first object:
flat (``export -f ndjson``: internal names as keys; the first object's keys are the header,
``associations.X.ids`` / ``associations.X`` read as the ``associated_X_ids`` /
``associated_X`` columns) or nested (``delete --backup x.ndjson``: ``{"id", "properties",
"associations": {X: [{"id", "label"}, ...]}, "payments"}``; the first record's properties are
the header, then an ids and a labels column per associated object, filled as the CSV layout's
association pairs, so both restore alike; ``payments`` details the payment associations and is
not read). A later object's missing key is an empty cell and a key the first object lacks an
error naming the line; JSON numbers become the text Python writes (``1500``, ``12.345``),
booleans ``true``/``false``, null an empty cell. A JSON array is read as subctl writes one
(``export -f json``, ``delete --backup x.json``: a record a line between ``[`` and ``]``
lines), a record at a time like NDJSON; any other layout of an array is refused with a hint,
since it cannot be read a row at a time.
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
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from subctl.codec import to_text
from subctl.errors import UsageError
from subctl.schema import ASSOCIATION_OBJECTS

Row = tuple[int, list[str]]


@dataclass(frozen=True)
class ReaderSpec:
    name: str
    suffixes: tuple[str, ...]


READERS = (
    ReaderSpec("csv", (".csv",)),
    ReaderSpec("xlsx", (".xlsx",)),
    ReaderSpec("ndjson", (".ndjson", ".jsonl")),
    ReaderSpec("json", (".json",)),
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
    raise UsageError(
        f'cannot tell the format of {path.name} from "{suffix or path.name}"',
        hint=f"name a .csv, .xlsx, .ndjson or .json file, or give --file-format"
        f" ({', '.join(FORMATS)})",
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
        elif fmt in ("ndjson", "json"):
            with _ndjson(path, array=fmt == "json") as found:
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


def _records(
    path: Path, lines: Iterator[tuple[int, str]], hint: str | None = None
) -> Iterator[tuple[int, dict[str, Any]]]:
    """The JSON objects of ``lines`` (``(line number, text)``), one a line."""
    for number, line in lines:
        try:
            value = json.loads(line)
        except json.JSONDecodeError as exc:
            raise UsageError(f"{path}:{number}: not JSON ({exc.msg})", hint=hint) from exc
        except RecursionError:  # arrays or objects nested thousands deep
            raise UsageError(f"{path}:{number}: not a record (nested too deeply)") from None
        if not isinstance(value, dict):
            raise UsageError(f"{path}:{number}: not a JSON object, one record a line", hint=hint)
        yield number, value


def _ndjson_lines(handle: Iterable[str]) -> Iterator[tuple[int, str]]:
    for number, line in enumerate(handle, start=1):
        if line.strip():
            yield number, line


def _array_lines(path: Path, handle: Iterable[str]) -> Iterator[tuple[int, str]]:
    """A JSON array as subctl writes one (``export -f json``, ``delete --backup x.json``):
    ``[`` alone on the first line, then one record a line, each followed by ``,`` but the last,
    and ``]`` alone on the last line. Any other layout is refused with a hint."""
    opened = closed = False
    for number, line in enumerate(handle, start=1):
        text = line.strip()
        if not text:
            continue
        if closed or (not opened and text not in ("[", "[]")) or text == "[]" and opened:
            raise UsageError(
                f"{path}:{number}: not a JSON array as subctl writes one (a record a line)",
                hint=_ARRAY_HINT.format(name=path.name),
            )
        if not opened:
            opened, closed = True, text == "[]"
        elif text == "]":
            closed = True
        else:
            yield number, text.removesuffix(",")
    if not closed:
        raise UsageError(
            f"{path} is not a whole JSON array: its closing ] is missing",
            hint=_ARRAY_HINT.format(name=path.name),
        )


_ARRAY_HINT = (
    "import the .ndjson or .csv backup or export instead, or convert: jq -c '.[]' {name}"
    " > records.ndjson"
)

# The members of a record of ``delete --backup`` (.ndjson, .json); ``payments`` details the
# payment associations, which are read from ``associations`` as the CSV layout's are.
_NESTED = ("id", "properties", "associations", "payments")


def _nested(first: dict[str, Any]) -> bool:
    """Whether a record is in the nested layout of ``delete --backup`` (``_Nested.check``
    says what is wrong with one that has its ``properties`` but not its shape)."""
    return "properties" in first


class _Flat:
    """A record of the flat layout (``export -f ndjson``/``json``) as cells: the first
    record's keys are the columns."""

    def __init__(self, path: Path, first: tuple[int, dict[str, Any]]) -> None:
        self.path = path
        self.keys = list(first[1])
        self.where = {key: i for i, key in enumerate(self.keys)}
        self.header = _Keys([_json_key(k) for k in self.keys], self.keys, first[0])

    def cells(self, number: int, record: dict[str, Any]) -> list[str]:
        cells = [""] * len(self.keys)
        for key, value in record.items():
            at = self.where.get(key)
            if at is None:
                raise UsageError(
                    f'{self.path}:{number}: key "{key}" is not in the first record\'s keys'
                )
            cells[at] = json_text(value)
        return cells


class _Nested:
    """A record of the nested layout (``delete --backup`` .ndjson/.json: ``{"id",
    "properties", "associations", "payments"}``) as the cells of the CSV layout: the Record
    ID, the first record's properties, then a pair of columns per associated object, its ids
    (joined with ``;``) and labels (joined with ``; ``: none when a record has no label)."""

    def __init__(self, path: Path, first: tuple[int, dict[str, Any]]) -> None:
        self.path = path
        self.check(f"{path}:{first[0]}", first[1])
        names = [k for k in first[1]["properties"] if k != "hs_object_id"]
        objects = [obj.name for obj in ASSOCIATION_OBJECTS]
        self.where = {name: i for i, name in enumerate(names, start=1)}
        self.links = {obj: 1 + len(names) + 2 * i for i, obj in enumerate(objects)}
        columns = ["hs_object_id", *names]
        keys = ["id", *(f"properties.{n}" for n in names)]
        for obj in objects:
            columns += [f"associated_{obj}_ids", f"associated_{obj}"]
            keys += [f"associations.{obj}", f"associations.{obj}"]
        self.width = len(columns)
        self.header = _Keys(columns, keys, first[0])

    @staticmethod
    def check(where: str, record: dict[str, Any]) -> None:
        """The shape of a record: its members, ``properties`` an object, ``id`` a record id
        (or none: a new subscription, as an empty Record ID cell)."""
        if not _nested(record):
            raise UsageError(f"{where}: not a record of the first record's layout ({_layout()})")
        unknown = [key for key in record if key not in _NESTED]
        if unknown:
            raise UsageError(f'{where}: "{unknown[0]}" is not a member of a record ({_layout()})')
        if not isinstance(record["properties"], dict):
            raise UsageError(f'{where}: "properties" is not an object of property values')
        record_id = record.get("id")
        if record_id is not None and (
            isinstance(record_id, bool) or not isinstance(record_id, int)
        ):
            raise UsageError(f'{where}: "id" {json.dumps(record_id)} is not a record id')

    def cells(self, number: int, record: dict[str, Any]) -> list[str]:
        where = f"{self.path}:{number}"
        self.check(where, record)
        cells = [""] * self.width
        record_id = json_text(record.get("id"))
        properties: dict[str, Any] = record["properties"]
        for key, value in properties.items():
            if isinstance(value, dict | list):
                raise UsageError(f'{where}: property "{key}" is not a value ({json_text(value)})')
            if key == "hs_object_id":
                if record_id and json_text(value) not in ("", record_id):
                    raise UsageError(f'{where}: "id" and properties.hs_object_id differ')
                record_id = record_id or json_text(value)
                continue
            at = self.where.get(key)
            if at is None:
                raise UsageError(f'{where}: property "{key}" is not in the first record\'s')
            cells[at] = json_text(value)
        cells[0] = record_id
        links = record.get("associations") or {}
        if not isinstance(links, dict):
            raise UsageError(f'{where}: "associations" is not an object of id lists')
        for obj, found in links.items():
            at = self.links.get(obj)
            if at is None:
                raise UsageError(f'{where}: "associations" names no associated object "{obj}"')
            ids, labels = _linked(where, obj, found)
            cells[at] = ";".join(ids)
            cells[at + 1] = "; ".join(labels) if len(labels) == len(ids) else ""
        return cells


def _layout() -> str:
    return ", ".join(f'"{m}"' for m in _NESTED)


def _linked(where: str, obj: str, found: Any) -> tuple[list[str], list[str]]:
    """The ids and labels of one associated object: ``[id, ...]`` or ``[{"id", "label"},
    ...]``; labels only when every record has one."""
    if not isinstance(found, list):
        raise UsageError(f'{where}: associations "{obj}" is not a list')
    ids: list[str] = []
    labels: list[str] = []
    for item in found:
        oid, label = (item.get("id"), item.get("label")) if isinstance(item, dict) else (item, None)
        if isinstance(oid, bool) or not isinstance(oid, int):
            raise UsageError(
                f'{where}: associations "{obj}": {json.dumps(item)} is not a record id'
            )
        ids.append(str(oid))
        if isinstance(label, str) and label:
            labels.append(label)
    return ids, labels


@contextmanager
def _ndjson(path: Path, *, array: bool = False) -> Iterator[tuple[Header, Iterator[Row]]]:
    """NDJSON, or a JSON array as subctl writes one (``array``), a record at a time, in the
    flat layout (``export``) or the nested one (``delete --backup``), told by the first
    record."""
    with path.open(encoding="utf-8-sig") as handle:
        if array:
            found = _records(path, _array_lines(path, handle), _ARRAY_HINT.format(name=path.name))
        else:
            found = _records(path, _ndjson_lines(handle))
        first = next(found, None)
        if first is None:
            raise UsageError(f"{path} is empty: no record")
        layout = _Nested(path, first) if _nested(first[1]) else _Flat(path, first)

        def rows() -> Iterator[Row]:
            for number, record in itertools.chain((first,), found):
                cells = layout.cells(number, record)
                if any(cells):
                    yield number, cells

        yield layout.header, rows()
