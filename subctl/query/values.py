"""Text -> typed values: the one conversion behind ``--set``, query literals, files and options
(``--due-before``); ``parse_value`` dispatches on a property's type.

Dates: ``YYYY-MM-DD``, epoch milliseconds at midnight UTC, ``today``, ``yesterday``,
``tomorrow``, ``now`` and relative offsets from today: ``-60d``, ``+7d``, ``2w``, ``-3m``, ``+1y``
(a bare number of units means the future). Month and year offsets keep the day of month,
clamped to the month's length. Datetimes: ISO 8601 (naive means UTC), epoch milliseconds,
``now`` and offsets from now (an instant), or a day (its midnight UTC).
Numbers: decimals a double holds exactly, below 1e18. Booleans: true/false, yes/no, on/off, 1/0.
"""

from __future__ import annotations

import calendar
import datetime as dt
import re
from decimal import Decimal, InvalidOperation
from typing import Any

from subctl.schema import EPOCH, NUMBER_LIMIT, NUMBER_TINY, Property, PropType

_RELATIVE = re.compile(r"^([+-]?)(\d{1,5})\s*([dwmy])$", re.IGNORECASE)
_EPOCH_MS = re.compile(r"^-?\d{1,15}$")


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


def _epoch(text: str) -> dt.datetime | None:
    """Epoch milliseconds (as HubSpot exchanges dates) as an aware UTC datetime, else None."""
    if not _EPOCH_MS.match(text):
        return None
    try:
        return EPOCH + dt.timedelta(milliseconds=int(text))
    except OverflowError as exc:
        raise ValueParseError("date out of range") from exc


def _instant(text: str) -> dt.datetime | None:
    """An ISO datetime or epoch milliseconds as an aware UTC datetime (naive means UTC); None
    when ``text`` is neither."""
    found = _epoch(text)
    if found is not None:
        return found
    if len(text) <= 10:  # a date (YYYY-MM-DD or basic YYYYMMDD), not a datetime
        return None
    try:
        value = dt.datetime.fromisoformat(text.replace("z", "Z"))
    except ValueError:
        return None
    if value.tzinfo is None:
        return value.replace(tzinfo=dt.UTC)
    try:
        return value.astimezone(dt.UTC)
    except OverflowError as exc:
        raise ValueParseError("date out of range") from exc


def parse_date(text: str, today: dt.date) -> dt.date:
    """A calendar day. Epoch milliseconds and datetimes are accepted only at midnight UTC (as
    HubSpot stores dates); any other time of day is refused rather than truncated."""
    word = text.strip().lower()
    named = {"today": 0, "yesterday": -1, "tomorrow": 1, "now": 0}
    if word in named:
        return today + dt.timedelta(days=named[word])
    relative = parse_offset(word, today)
    if relative is not None:
        return relative
    instant = _instant(text.strip())
    if instant is not None:
        if instant.timetz() != dt.time(tzinfo=dt.UTC):
            raise ValueParseError(
                f'"{text}" has a time of day; a date takes a day (YYYY-MM-DD, or epoch '
                "milliseconds at midnight UTC)"
            )
        return instant.date()
    try:
        return dt.date.fromisoformat(word)
    except OverflowError as exc:
        raise ValueParseError("date out of range") from exc
    except ValueError as exc:
        raise ValueParseError(
            f'"{text}" is not a date (YYYY-MM-DD, today, or an offset like -60d, +7d, -3m)'
        ) from exc


def parse_datetime(text: str, today: dt.date, *, now: dt.datetime | None = None) -> dt.datetime:
    """An aware UTC datetime: ISO 8601, epoch milliseconds, ``now``, or an offset from now
    (``-60d`` is 60 days before this instant). Dates and named days mean midnight UTC. ``now``
    defaults to midnight UTC of ``today``."""
    word = text.strip()
    if now is None:
        now = dt.datetime(today.year, today.month, today.day, tzinfo=dt.UTC)
    if word.lower() == "now":
        return now
    instant = _instant(word)
    if instant is not None:
        return instant
    offset = parse_offset(word, now.date())
    if offset is not None:
        return dt.datetime.combine(offset, now.timetz())
    day = parse_date(word, today)
    return dt.datetime(day.year, day.month, day.day, tzinfo=dt.UTC)


def parse_days(text: str) -> int:
    """A duration like ``7d``, ``2w`` in days (``--due-within``)."""
    match = _RELATIVE.match(text.strip())
    if not match or match.group(1) == "-" or match.group(3).lower() not in "dw":
        raise ValueParseError(f'"{text}" is not a duration like 7d or 2w')
    days = int(match.group(2))
    return days * 7 if match.group(3).lower() == "w" else days


# -- text -> typed value of a property ---------------------------------------------------------

TRUE_WORDS = frozenset({"true", "yes", "on", "1"})
FALSE_WORDS = frozenset({"false", "no", "off", "0"})


class UnknownOption(ValueParseError):
    """An enumeration value that is neither an option's value nor its label."""

    def __init__(self, text: str, choices: list[str]) -> None:
        super().__init__(f'"{text}" is not an option ({", ".join(choices)})')
        self.text = text
        self.choices = choices


def parse_number(text: str) -> int | Decimal:
    """A number a property can hold exactly: what ``view`` shows is what ``--where`` matches.

    Numbers are stored as double precision (every SQL backend, see ``subctl.schema``), so a
    number is accepted only when the double read back gives the same decimal (at most 15
    significant digits always do); the others are refused rather than silently rounded.
    """
    try:
        number = Decimal(text.strip())
    except InvalidOperation:
        number = Decimal("NaN")
    if not number.is_finite():
        raise ValueParseError(f'"{text}" is not a number')
    if abs(number) >= NUMBER_LIMIT or (number and abs(number) < NUMBER_TINY):
        raise ValueParseError(
            f'"{text}" is out of range (numbers are below 1e18 and, except 0, at least 1e-12 '
            "in size)"
        )
    if Decimal(repr(float(number))) != number:
        raise ValueParseError(
            f'"{text}" has more digits than a number property holds exactly '
            "(up to 15 significant digits)"
        )
    return int(number) if number == number.to_integral_value() else number


def parse_bool(text: str) -> bool:
    word = text.strip().lower()
    if word not in TRUE_WORDS | FALSE_WORDS:
        raise ValueParseError(f'"{text}" is not true or false')
    return word in TRUE_WORDS


def parse_value(
    prop: Property, text: str, *, today: dt.date, now: dt.datetime | None = None
) -> Any:
    """``text`` as a value of ``prop``'s type (one option of an enumeration): the one conversion
    behind ``--set``, query literals and files. ``now`` anchors ``now`` and relative offsets of
    datetime properties (default: midnight UTC of ``today``). Raises ValueParseError."""
    if prop.type is PropType.NUMBER:
        return parse_number(text)
    if prop.type is PropType.BOOL:
        return parse_bool(text)
    if prop.type is PropType.DATE:
        return parse_date(text, today)
    if prop.type is PropType.DATETIME:
        return parse_datetime(text, today, now=now)
    if prop.type is PropType.ENUMERATION and prop.options:
        value = prop.option_value(text)
        if value is None:
            raise UnknownOption(text, prop.option_values())
        return value
    return text
