"""JSON array (one record per line, streamed) and NDJSON writers."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, TextIO

from subctl.export import Column
from subctl.export.values import json_value


def _encode(row: Mapping[str, Any], columns: Sequence[Column]) -> str:
    return json.dumps({c.key: json_value(row.get(c.key)) for c in columns}, ensure_ascii=False)


def write_json(rows: Iterable[Mapping[str, Any]], columns: Sequence[Column], out: TextIO) -> int:
    count = 0
    for row in rows:
        out.write(("[\n" if count == 0 else ",\n") + _encode(row, columns))
        count += 1
    out.write("[]\n" if count == 0 else "\n]\n")
    return count


def write_ndjson(rows: Iterable[Mapping[str, Any]], columns: Sequence[Column], out: TextIO) -> int:
    count = 0
    for row in rows:
        out.write(_encode(row, columns) + "\n")
        count += 1
    return count


def write_document(data: Any, out: TextIO, *, indent: int | None = 2) -> None:
    """One JSON document (``view --format json``)."""
    out.write(json.dumps(json_value_deep(data), ensure_ascii=False, indent=indent) + "\n")


def json_value_deep(data: Any) -> Any:
    if isinstance(data, Mapping):
        return {str(k): json_value_deep(v) for k, v in data.items()}
    if isinstance(data, list | tuple):
        return [json_value_deep(v) for v in data]
    return json_value(data)
