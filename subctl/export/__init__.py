"""Writers shared by stdout output and file exports: JSON, NDJSON, CSV and Rich tables.

Rows are mappings of column key -> typed Python value; writers stream them (except tables,
which a terminal shows at most a screenful of anyway).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Column:
    key: str
    header: str
