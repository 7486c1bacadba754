"""CSV writer: header row of column headers, spreadsheet-safe cells."""

from __future__ import annotations

import csv
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, TextIO

from subctl.export import Column
from subctl.export.values import neutralise


def write_csv(
    rows: Iterable[Mapping[str, Any]],
    columns: Sequence[Column],
    out: TextIO,
    *,
    header: bool = True,
) -> int:
    writer = csv.writer(out, lineterminator="\n")
    if header:
        writer.writerow([c.header for c in columns])
    count = 0
    for row in rows:
        writer.writerow([neutralise(row.get(c.key)) for c in columns])
        count += 1
    return count
