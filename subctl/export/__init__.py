"""Writers shared by stdout output and file exports: JSON, NDJSON, CSV and Rich tables (and,
through the registry in ``writers.py``, spreadsheets).

Rows are mappings of column key -> typed Python value; writers stream them (tables too: their
column widths come from the first rows, later rows are printed in chunks). An export may hand
the text writers ``StoredRows`` instead (``cells.py``): the same rows, read as the store keeps
them and converted once per cell, straight to text.
"""

from __future__ import annotations

from dataclasses import dataclass

KINDS = ("text", "number", "money", "date", "datetime", "bool", "enum")


@dataclass(frozen=True)
class Column:
    key: str
    header: str
    whole: bool = False  # a terminal table never truncates it (property internal names)
    required: bool = False  # a terminal table never leaves it out (named in --fields)
    kind: str = "text"  # KINDS: what a typed cell holds (spreadsheets type their cells by it)
    currency_key: str | None = None  # money: the row key holding the currency code
    # A terminal table: a text column (a note) that wraps between words onto more lines when
    # the terminal is narrow, instead of being left out or cut; its minimum: its longest word.
    wrap: bool = False
    right: bool = False  # a terminal table aligns it right (an amount with its currency)
