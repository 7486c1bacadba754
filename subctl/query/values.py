"""Parsing of typed values shared by options (``--due-before``) and the query language.

Dates: ``YYYY-MM-DD``, ISO datetimes, ``today``, ``yesterday``, ``tomorrow``, ``now`` and relative
offsets from today: ``-60d``, ``+7d``, ``2w``, ``-3m``, ``+1y`` (a bare number of units means
the future). Month and year offsets keep the day of month, clamped to the month's length.
"""

from __future__ import annotations

import calendar
import datetime as dt
import re

_RELATIVE = re.compile(r"^([+-]?)(\d{1,5})\s*([dwmy])$", re.IGNORECASE)


class ValueParseError(ValueError):
    """A value that does not parse; the message says what was expected."""


def add_months(day: dt.date, months: int) -> dt.date:
    index = day.year * 12 + day.month - 1 + months
    year, month = divmod(index, 12)
    if not 1 <= year <= 9999:
        raise ValueParseError("date out of range")
    last = calendar.monthrange(year, month + 1)[1]
    return dt.date(year, month + 1, min(day.day, last))


def parse_offset(text: str, today: dt.date) -> dt.date | None:
    """``+7d``/``-3m``/``2w``/``1y`` relative to ``today``; None when ``text`` is not an offset."""
    match = _RELATIVE.match(text.strip())
    if not match:
        return None
    sign, amount, unit = match.groups()
    n = int(amount) * (-1 if sign == "-" else 1)
    unit = unit.lower()
    try:
        if unit == "d":
            return today + dt.timedelta(days=n)
        if unit == "w":
            return today + dt.timedelta(weeks=n)
    except OverflowError as exc:
        raise ValueParseError("date out of range") from exc
    return add_months(today, n if unit == "m" else 12 * n)


def parse_date(text: str, today: dt.date) -> dt.date:
    word = text.strip().lower()
    named = {"today": 0, "yesterday": -1, "tomorrow": 1, "now": 0}
    if word in named:
        return today + dt.timedelta(days=named[word])
    relative = parse_offset(word, today)
    if relative is not None:
        return relative
    try:
        if len(word) == 10:
            return dt.date.fromisoformat(word)
        value = dt.datetime.fromisoformat(word.upper())
        if value.tzinfo is not None:
            value = value.astimezone(dt.UTC)
        return value.date()
    except OverflowError as exc:
        raise ValueParseError("date out of range") from exc
    except ValueError as exc:
        raise ValueParseError(
            f'"{text}" is not a date (YYYY-MM-DD, today, or an offset like -60d, +7d, -3m)'
        ) from exc


def parse_datetime(text: str, today: dt.date) -> dt.datetime:
    """An aware UTC datetime; dates and offsets mean midnight UTC."""
    word = text.strip()
    if word.lower() == "now":
        return dt.datetime.now(dt.UTC)
    try:
        value = dt.datetime.fromisoformat(word.replace("z", "Z"))
    except ValueError:
        day = parse_date(word, today)
        return dt.datetime(day.year, day.month, day.day, tzinfo=dt.UTC)
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.UTC)
    try:
        return value.astimezone(dt.UTC)
    except OverflowError as exc:
        raise ValueParseError("date out of range") from exc


def parse_days(text: str) -> int:
    """A duration like ``7d``, ``2w`` in days (``--due-within``)."""
    match = _RELATIVE.match(text.strip())
    if not match or match.group(1) == "-" or match.group(3).lower() not in "dw":
        raise ValueParseError(f'"{text}" is not a duration like 7d or 2w')
    days = int(match.group(2))
    return days * 7 if match.group(3).lower() == "w" else days
