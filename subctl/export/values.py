"""Rendering of typed values: JSON values, and text for CSV cells and table cells."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def iso_datetime(value: dt.datetime) -> str:
    """UTC, millisecond precision, ``Z`` suffix (HubSpot's datetime format)."""
    value = value.astimezone(dt.UTC)
    return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"


def json_default(value: Any) -> Any:
    """The JSON form of values the encoder does not know (its ``default``)."""
    if isinstance(value, dt.datetime):
        return iso_datetime(value)
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return float(value)  # JSON numbers; money has two decimals, which a double round-trips
    if isinstance(value, set | frozenset):
        return sorted(value)
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def text_value(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dt.datetime):
        return iso_datetime(value)
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, list | tuple):
        return "; ".join(text_value(v) for v in value)
    return str(value)


def neutralise(value: Any) -> str:
    """A spreadsheet-safe cell: text starting with = + - @ (or tab/CR) is prefixed with '."""
    text = text_value(value)
    if isinstance(value, str | list | tuple) and text.startswith(FORMULA_PREFIXES):
        return "'" + text
    return text
