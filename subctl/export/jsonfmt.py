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
from typing import Any, TextIO

from subctl.export import Column
from subctl.export.values import json_default

_ENCODER = json.JSONEncoder(ensure_ascii=False, default=json_default)
_C1 = re.compile("[\x80-\x9f]")  # only ever inside strings: the encoder escapes C0 itself


def _escaped(text: str) -> str:
    return _C1.sub(lambda m: f"\\u{ord(m.group()):04x}", text)


def _encoder(columns: Sequence[Column]) -> Any:
    """``row -> text``: one record's JSON, as ``_ENCODER.encode`` writes it. The C encoder is
    made once here rather than once per row (``JSONEncoder.encode`` makes one per call)."""
    keys = [c.key for c in columns]
    make = getattr(json.encoder, "c_make_encoder", None)
    if make is None:  # no C accelerator: the encoder's own (slower) path
        encode = _ENCODER.encode
        return lambda row: _escaped(encode(dict(zip(keys, map(row.get, keys), strict=True))))
    chunks = make(
        {}, json_default, json.encoder.encode_basestring, None, ": ", ", ", False, False, True
    )
    join = "".join
    search = _C1.search

    def encode_row(row: Mapping[str, Any]) -> str:
        text: str = join(chunks(dict(zip(keys, map(row.get, keys), strict=True)), 0))
        return _escaped(text) if search(text) else text

    return encode_row


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
