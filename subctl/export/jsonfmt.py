"""JSON array (one record per line, streamed) and NDJSON writers.

Strings, numbers, booleans and None go straight through the C encoder; only dates, datetimes
and Decimals reach ``json_default``, which keeps large outputs cheap. C1 control characters
(which some terminals obey, e.g. U+009B as CSI) are written as JSON escapes: the data stays
exact and never drives a terminal.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, TextIO

from subctl.export import Column
from subctl.export.values import json_default

if TYPE_CHECKING:
    from subctl.export.cells import StoredRows

_ENCODER = json.JSONEncoder(ensure_ascii=False, default=json_default)
_C1 = re.compile("[\x80-\x9f]")  # only ever inside strings: the encoder escapes C0 itself


def _escaped(text: str) -> str:
    return _C1.sub(lambda m: f"\\u{ord(m.group()):04x}", text)


def _values_encoder(keys: Sequence[str]) -> Any:
    """``values -> text``: one record's JSON (``keys`` with ``values`` in order), as
    ``_ENCODER.encode`` writes it. The C encoder is made once here rather than once per row
    (``JSONEncoder.encode`` makes one per call)."""
    make = getattr(json.encoder, "c_make_encoder", None)
    if make is None:  # no C accelerator: the encoder's own (slower) path
        encode = _ENCODER.encode
        return lambda values: _escaped(encode(dict(zip(keys, values, strict=True))))
    # No circular-reference markers: a record is one object of plain values (or, through
    # ``json_default``, a ``JsonText``'s parsed document, which cannot be circular).
    chunks = make(
        None, json_default, json.encoder.encode_basestring, None, ": ", ", ", False, False, True
    )
    join = "".join
    search = _C1.search

    def encode_values(values: Sequence[Any]) -> str:
        text: str = join(chunks(dict(zip(keys, values, strict=True)), 0))
        return _escaped(text) if search(text) else text

    return encode_values


def _encoder(columns: Sequence[Column]) -> Any:
    """``row -> text``: one record's JSON, as ``_ENCODER.encode`` writes it."""
    keys = [c.key for c in columns]
    encode = _values_encoder(keys)
    return lambda row: encode(map(row.get, keys))


def _stored_texts(rows: StoredRows, columns: Sequence[Column]) -> Iterable[tuple[int, str]]:
    """Per chunk of an export's stored rows: its record count and its records' JSON, one per
    line (cells converted once). C1 characters are escaped chunk by chunk: they only occur
    inside strings, and their UTF-8 lead byte (0xC2) is found faster than the characters."""
    keys = [c.key for c in columns]
    make = getattr(json.encoder, "c_make_encoder", None)
    convert = rows.json_rows()
    if make is None:  # no C accelerator
        encode_values = _values_encoder(keys)
        for chunk in rows.chunks():
            yield len(chunk), "\n".join(encode_values(convert(row)) for row in chunk)
        return
    chunks = make(
        None, json_default, json.encoder.encode_basestring, None, ": ", ", ", False, False, True
    )
    join = "".join

    def encode(row: Sequence[Any]) -> str:
        text: str = join(chunks(dict(zip(keys, convert(row), strict=False)), 0))
        return text

    for chunk in rows.chunks():
        text = "\n".join(map(encode, chunk))
        if b"\xc2" in text.encode("utf-8", "surrogatepass") and _C1.search(text):
            text = _escaped(text)
        yield len(chunk), text


def write_stored_json(rows: StoredRows, columns: Sequence[Column], out: TextIO) -> int:
    """``write_json`` of an export's stored rows, byte for byte."""
    count = 0
    for n, text in _stored_texts(rows, columns):
        if n:
            out.write(("[\n" if count == 0 else ",\n") + text.replace("\n", ",\n"))
            count += n
    out.write("[]\n" if count == 0 else "\n]\n")
    return count


def write_stored_ndjson(rows: StoredRows, columns: Sequence[Column], out: TextIO) -> int:
    """``write_ndjson`` of an export's stored rows, byte for byte."""
    count = 0
    for n, text in _stored_texts(rows, columns):
        if n:
            out.write(text + "\n")
            count += n
    return count


def write_json(rows: Iterable[Mapping[str, Any]], columns: Sequence[Column], out: TextIO) -> int:
    encode = _encoder(columns)
    count = 0
    for row in rows:
        out.write(("[\n" if count == 0 else ",\n") + encode(row))
        count += 1
    out.write("[]\n" if count == 0 else "\n]\n")
    return count


def write_ndjson(rows: Iterable[Mapping[str, Any]], columns: Sequence[Column], out: TextIO) -> int:
    encode = _encoder(columns)
    count = 0
    for row in rows:
        out.write(encode(row) + "\n")
        count += 1
    return count


def write_document(data: Any, out: TextIO, *, indent: int | None = 2) -> None:
    """One JSON document (``view --format json``)."""
    text = json.dumps(data, ensure_ascii=False, indent=indent, default=json_default)
    out.write(_escaped(text) + "\n")
