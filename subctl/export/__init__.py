"""Writers shared by stdout output and file exports: JSON, NDJSON, CSV and Rich tables.

Rows are mappings of column key -> typed Python value; writers stream them (tables too: their
column widths come from the first rows, later rows are printed in chunks).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Column:
    key: str
    header: str
    whole: bool = False  # a terminal table never truncates it (property internal names)
    required: bool = False  # a terminal table never leaves it out (named in --fields)
    kind: str = "text"  # text | number | money | date | datetime | bool | enum
    currency_key: str | None = None  # money: the row key holding the currency code
