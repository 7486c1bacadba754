"""Writing query text from parts (the interactive builder), quoting values as the parser reads
them back."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from subctl.schema import PropType

_BARE = re.compile(r"^[A-Za-z0-9_.:@*/+-]+$")
_KEYWORDS = frozenset({"and", "or", "not", "in", "between", "has", "is", "empty"})


def quote(value: str) -> str:
    """A value as the query language reads it: bare when safe, else double-quoted."""
    if _BARE.match(value) and value.lower() not in _KEYWORDS:
        return value
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


@dataclass(frozen=True)
class BuilderOperator:
    label: str  # what the prompt shows
    template: str  # {field}, {value}, {values}, {low}, {high}
    values: int  # 0, 1, 2 (between) or -1 (one or more, comma-separated)


def _op(label: str, template: str, values: int) -> BuilderOperator:
    return BuilderOperator(label, template, values)


_PRESENCE = (_op("is known", "has {field}", 0), _op("is unknown", "not has {field}", 0))
_ORDERED = (
    _op("is", "{field} = {value}", 1),
    _op("is not", "{field} != {value}", 1),
    _op("is less than", "{field} < {value}", 1),
    _op("is at most", "{field} <= {value}", 1),
    _op("is greater than", "{field} > {value}", 1),
    _op("is at least", "{field} >= {value}", 1),
    _op("is between", "{field} between {low} and {high}", 2),
)
_DATES = (
    _op("is on", "{field} = {value}", 1),
    _op("is before", "{field} < {value}", 1),
    _op("is after", "{field} > {value}", 1),
    _op("is between", "{field} between {low} and {high}", 2),
)
OPERATORS: dict[PropType, tuple[BuilderOperator, ...]] = {
    PropType.ENUMERATION: (
        _op("is any of", "{field} in ({values})", -1),
        _op("is none of", "{field} not in ({values})", -1),
        *_PRESENCE,
    ),
    PropType.STRING: (
        _op("contains the word", "{field} ~ {value}", 1),
        _op("does not contain the word", "{field} !~ {value}", 1),
        _op("is", "{field} = {value}", 1),
        _op("is not", "{field} != {value}", 1),
        *_PRESENCE,
    ),
    PropType.NUMBER: (*_ORDERED, *_PRESENCE),
    PropType.DATE: (*_DATES, *_PRESENCE),
    PropType.DATETIME: (*_DATES, *_PRESENCE),
    PropType.BOOL: (_op("is", "{field} = {value}", 1), *_PRESENCE),
}


def condition_text(field: str, operator: BuilderOperator, values: Sequence[str]) -> str:
    quoted = [quote(v.strip()) for v in values]
    return operator.template.format(
        field=field,
        value=quoted[0] if quoted else "",
        values=", ".join(quoted),
        low=quoted[0] if quoted else "",
        high=quoted[1] if len(quoted) > 1 else "",
    )
