"""Text -> typed values of query literals and options (``--due-before``): the parsers of
``subctl.codec`` (``parse_value`` is ``codec.parse_text``), re-exported for the query package.
"""

from __future__ import annotations

from subctl.codec import (
    DAY_MS,
    FALSE_WORDS,
    TRUE_WORDS,
    UnknownOption,
    ValueParseError,
    add_months,
    parse_bool,
    parse_date,
    parse_datetime,
    parse_days,
    parse_number,
    parse_offset,
    parse_text,
)

parse_value = parse_text

__all__ = [
    "DAY_MS",
    "FALSE_WORDS",
    "TRUE_WORDS",
    "UnknownOption",
    "ValueParseError",
    "add_months",
    "parse_bool",
    "parse_date",
    "parse_datetime",
    "parse_days",
    "parse_number",
    "parse_offset",
    "parse_text",
    "parse_value",
]
