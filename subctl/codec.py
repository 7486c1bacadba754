"""The one value codec of property values: text <-> typed <-> storage <-> HubSpot wire <->
display, one function per direction, dispatching on the property's type.

- **typed** values are what services and the query AST hold: ``datetime.date``, timezone-aware
  UTC ``datetime`` (millisecond precision), ``Decimal`` (money) or ``int``/``Decimal`` (other
  numbers), ``bool`` and ``str`` (strings, enumeration option values, ``;``-joined values of a
  multiple checkbox).
- **text** is what users type (``--set``, query literals, files): ``parse_text``. Dates:
  ``YYYY-MM-DD``, epoch milliseconds at midnight UTC, ``today``, ``yesterday``, ``tomorrow``,
  ``now`` and relative offsets from today: ``-60d``, ``+7d``, ``2w``, ``-3m``, ``+1y`` (a bare
  number of units means the future). Month and year offsets keep the day of month, clamped to
  the month's length. Datetimes: ISO 8601 (naive means UTC), epoch milliseconds, ``now`` and
  offsets from now (an instant), or a day (its midnight UTC). Numbers: decimals a double holds
  exactly, below 1e18. Booleans: true/false, yes/no, on/off, 1/0. ``to_text`` is the canonical
  text of a typed value (CSV cells, history, messages), which ``parse_text`` reads back.
- **storage** (every SQL backend): ``date`` and ``datetime`` values as epoch milliseconds
  (dates at midnight UTC), exactly as HubSpot's API exchanges them; numbers as double
  precision; booleans as integers; strings and enumerations as text: ``to_storage`` /
  ``from_storage``.
- **wire** (HubSpot's API, search filters and property values): dates and datetimes as epoch
  milliseconds in a string, numbers as plain decimals, booleans as ``true``/``false``:
  ``to_wire`` / ``from_wire`` (which also takes HubSpot's ``YYYY-MM-DD`` and ISO 8601 forms).
- **display** (JSON output): ``to_json``.

Light on purpose (no third-party import): the CLI's ``--help`` path imports ``subctl.schema``,
which takes ``PropType`` and the constants from here.
"""

from __future__ import annotations

import calendar
import datetime as dt
import re
from dataclasses import dataclass
from decimal import Context, Decimal, InvalidOperation
from enum import StrEnum
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from subctl.schema import Property


class PropType(StrEnum):
    STRING = "string"
    NUMBER = "number"
    DATE = "date"
    DATETIME = "datetime"
    ENUMERATION = "enumeration"
    BOOL = "bool"


EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
DAY_MS = 86_400_000
CENT = Decimal("0.01")
MILL = Decimal("0.001")  # the finest minor unit of a billing currency (BHD, KWD, …)
# The decimals of each currency, defined here once (ISO 4217 minor units; every currency not
# named has 2, as has an unknown or missing one): validation refuses finer amounts, exports
# write an amount with exactly its currency's decimals (JPY 1500, USD 99.00, BHD 12.345, as
# HubSpot writes them), spreadsheets format the cell so, billing rounds to it.
CURRENCY_DECIMALS: dict[str, int] = {
    **dict.fromkeys(
        ("BIF", "CLP", "DJF", "GNF", "ISK", "JPY", "KMF", "KRW", "PYG", "RWF", "UGX", "UYI",
         "VND", "VUV", "XAF", "XOF", "XPF"),
        0,
    ),
    **dict.fromkeys(("BHD", "IQD", "JOD", "KWD", "LYD", "OMR", "TND"), 3),
}  # fmt: skip
DEFAULT_DECIMALS = 2
WIDE = Context(prec=400)  # quantizing any double to cents never runs out of digits
# Numbers a property holds: finite, with magnitude below 1e18 and not below 1e-12 (besides 0),
# which a double stores and every output renders exactly enough.
NUMBER_LIMIT = Decimal("1e18")
NUMBER_TINY = Decimal("1e-12")
_MS = dt.timedelta(milliseconds=1)


@dataclass(frozen=True, slots=True)
class JsonText:
    """A JSON document kept as its compact text (the audit log's arguments, before and after).

    JSON and NDJSON output nest the value it holds (``to_json``: an object, a list, a string,
    …), so ``jq '.[].after.hs_status'`` needs no ``fromjson``; CSV and table cells keep the text
    itself (``to_text``: a cell cannot nest). Not a ``str`` subclass: the JSON encoders write
    any ``str`` as a string, and only an unknown type reaches ``to_json``.
    """

    text: str

    def value(self) -> Any:
        """The JSON value the text holds."""
        import json

        return json.loads(self.text)


_RELATIVE = re.compile(r"^([+-]?)(\d{1,5})\s*([dwmy])$", re.IGNORECASE)
_HOURS = re.compile(r"^([+-]?)(\d{1,6})\s*h$", re.IGNORECASE)  # a time's offset only
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


def plural(n: int, word: str) -> str:
    """``n`` and ``word``, plural unless ``n`` is 1: ``1 row``, ``2 rows``, ``1,000 rows``; the
    one helper for every count a message gives (the plural is ``word`` + s)."""
    return f"{n:,} {word}" + ("" if n == 1 else "s")


NAMED_DAYS: dict[str, int] = {"today": 0, "yesterday": -1, "tomorrow": 1}


def split_offset(text: str) -> tuple[int, str] | None:
    """``+7d``/``-3m``/``2w``/``1y`` as (signed amount, unit letter); None for other text."""
    match = _RELATIVE.match(text.strip())
    if not match:
        return None
    sign, amount, unit = match.groups()
    return int(amount) * (-1 if sign == "-" else 1), unit.lower()


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
        return ms_to_datetime(text)
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
    hours = _HOURS.match(word)
    if hours is not None:  # -12h: a time, not a day, so only here (never in parse_date)
        sign, amount = hours.groups()
        return now + dt.timedelta(hours=int(amount) * (-1 if sign == "-" else 1))
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


# -- text -> typed --------------------------------------------------------------------------------

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


def parse_text(prop: Property, text: str, *, today: dt.date, now: dt.datetime | None = None) -> Any:
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


# -- epoch milliseconds (storage and wire of dates and datetimes) ---------------------------------


def datetime_to_ms(value: dt.datetime) -> int:
    """An aware datetime as epoch milliseconds (sub-millisecond digits dropped)."""
    return (value - EPOCH) // _MS


def date_to_ms(value: dt.date) -> int:
    """A day as epoch milliseconds at its midnight UTC."""
    return (value - EPOCH.date()).days * DAY_MS


def ms_to_datetime(ms: int | str) -> dt.datetime:
    """Epoch milliseconds as an aware UTC datetime (OverflowError beyond year 9999)."""
    return EPOCH + dt.timedelta(milliseconds=int(ms))


def ms_to_date(ms: int | str) -> dt.date:
    """Epoch milliseconds as the UTC day they fall on."""
    return EPOCH.date() + dt.timedelta(days=int(ms) // DAY_MS)


# -- typed <-> storage ----------------------------------------------------------------------------


def to_storage(ptype: PropType, value: Any) -> Any:
    """Typed value -> stored value (see the module docstring)."""
    if value is None:
        return None
    if ptype is PropType.DATE:
        if isinstance(value, dt.datetime):
            value = value.astimezone(dt.UTC).date()
        return date_to_ms(value)
    if ptype is PropType.DATETIME:
        if isinstance(value, dt.date) and not isinstance(value, dt.datetime):
            value = dt.datetime(value.year, value.month, value.day, tzinfo=dt.UTC)
        return datetime_to_ms(value)
    if ptype is PropType.NUMBER:
        return float(value)
    if ptype is PropType.BOOL:
        return 1 if value else 0
    return str(value)


def from_storage(ptype: PropType, raw: Any, *, money: bool = False) -> Any:
    """Stored value -> typed value; ``money`` reads an amount (``money_from_storage``)."""
    if raw is None:
        return None
    if ptype is PropType.DATE:
        return ms_to_date(raw)
    if ptype is PropType.DATETIME:
        return ms_to_datetime(raw)
    if ptype is PropType.NUMBER:
        if money:
            return money_from_storage(raw)
        number = float(raw)
        if number.is_integer() and abs(number) < 2**53:
            return int(number)
        # the shortest decimal that reads back as this double: what parse_text accepts
        decimal = Decimal(repr(number))
        return int(decimal) if decimal == decimal.to_integral_value() else decimal
    if ptype is PropType.BOOL:
        return bool(raw)
    return str(raw)


def currency_decimals(currency: str | None) -> int:
    """The decimals of ``currency`` (``CURRENCY_DECIMALS``): 0 for JPY, 3 for BHD, 2 for the
    others, an unknown code and None."""
    return _DECIMALS.get(currency.upper(), DEFAULT_DECIMALS) if currency else DEFAULT_DECIMALS


_DECIMALS = CURRENCY_DECIMALS
_QUANTA = {places: Decimal(1).scaleb(-places) for places in (0, 1, 2, 3)}


def money_quantum(currency: str | None) -> Decimal:
    """The smallest unit of ``currency``: ``Decimal("0.01")`` for USD, ``Decimal("1")`` for
    JPY, ``Decimal("0.001")`` for BHD."""
    return _QUANTA[currency_decimals(currency)]


def money_from_storage(raw: Any, currency: str | None = None) -> Decimal:
    """A stored amount (money properties, payments) as a Decimal with its currency's decimals
    (``currency_decimals``: ``1500`` JPY, ``99.00`` USD, ``12.345`` BHD) when it has no finer
    digits; without a currency (or finer digits than it has: kept, never rounded) as cents, or
    mills when it has a third decimal place, so that an amount reads back as it was set."""
    number = float(raw)
    exact = Decimal(int(number)) if number.is_integer() else Decimal(repr(number))
    mills = exact.quantize(MILL, context=WIDE)
    if currency is not None:
        own = mills.quantize(money_quantum(currency), context=WIDE)
        if own == mills:
            return own
    cents = mills.quantize(CENT, context=WIDE)
    return cents if cents == mills else mills


def storage_of(value: Any) -> Any:
    """A record field's typed value as stored, by its Python type (fields that are not
    properties: payments, line items, journal stamps): datetimes as epoch ms, dates as epoch ms
    decimals as floats; the rest unchanged."""
    if isinstance(value, dt.datetime):
        return datetime_to_ms(value)
    if isinstance(value, Decimal):
        return float(value)
    return value


# -- typed <-> text -------------------------------------------------------------------------------


def iso_datetime(value: dt.datetime) -> str:
    """UTC, millisecond precision, ``Z`` suffix (HubSpot's datetime format)."""
    text = value.astimezone(dt.UTC).isoformat(timespec="milliseconds")
    return text.removesuffix("+00:00") + "Z"


def short_datetime(value: dt.datetime) -> str:
    """UTC with ``Z``, seconds unless the instant has a fraction (then milliseconds): the
    datetime of messages (``is before START_DATETIME 2026-01-01T00:00:00Z``)."""
    value = value.astimezone(dt.UTC)
    spec = "milliseconds" if value.microsecond else "seconds"
    return value.isoformat(timespec=spec).removesuffix("+00:00") + "Z"


def to_text(value: Any) -> str:
    """The canonical text of a typed value (``parse_text`` reads it back): ISO dates, ISO UTC
    datetimes with milliseconds and ``Z``, ``true``/``false``, numbers as Python writes them,
    lists ``; ``-joined; None is ""."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dt.datetime):
        return iso_datetime(value)
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, list | tuple):
        return "; ".join(to_text(v) for v in value)
    if isinstance(value, JsonText):
        return value.text
    return str(value)


# -- typed <-> HubSpot wire -----------------------------------------------------------------------


def to_wire(ptype: PropType, value: Any) -> str:
    """Typed value -> HubSpot's text (search filter values, property values)."""
    if ptype in (PropType.DATE, PropType.DATETIME):
        return str(to_storage(ptype, value))
    if ptype is PropType.NUMBER:
        return format(Decimal(str(value)), "f")
    if ptype is PropType.BOOL:
        return "true" if value else "false"
    return str(value)


def from_wire(ptype: PropType, text: str | None, *, money: bool = False) -> Any:
    """HubSpot's text of a property value -> typed value; "" and None are no value. Dates and
    datetimes come as epoch milliseconds, ``YYYY-MM-DD`` or ISO 8601."""
    if text is None or text == "":
        return None
    if ptype is PropType.DATE:
        if _EPOCH_MS.match(text):
            return ms_to_date(text)
        return dt.date.fromisoformat(text[:10])
    if ptype is PropType.DATETIME:
        if _EPOCH_MS.match(text):
            return ms_to_datetime(text)
        moment = dt.datetime.fromisoformat(text.replace("z", "Z"))
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=dt.UTC)
        return moment.astimezone(dt.UTC)
    if ptype is PropType.NUMBER:
        number = Decimal(text)
        if money:
            return money_from_storage(float(number))
        return int(number) if number == number.to_integral_value() else number
    if ptype is PropType.BOOL:
        return text.strip().lower() == "true"
    return text


# -- typed -> display -----------------------------------------------------------------------------


def to_json(value: Any) -> Any:
    """The JSON form of typed values the encoder does not know (its ``default``)."""
    if isinstance(value, dt.datetime):
        return iso_datetime(value)
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, Decimal):
        # JSON numbers: an amount without decimals (JPY 1500) an integer, others a double,
        # which round-trips the at most 3 decimals of money
        exponent = value.as_tuple().exponent
        if isinstance(exponent, int) and exponent >= 0 and abs(value) < 2**53:
            return int(value)
        return float(value)
    if isinstance(value, set | frozenset):
        return sorted(value)
    if isinstance(value, JsonText):
        return value.value()  # the encoder writes what this returns: nested, not a string
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")
