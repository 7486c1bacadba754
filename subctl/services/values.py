"""Text -> typed property value, by the property's type and options (``update --set``, imports).

Errors name the property and what was expected, e.g.
``tier: "gold" is not an option (basic, professional, enterprise)``.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal, InvalidOperation
from typing import Any

from subctl.errors import UsageError
from subctl.query.values import ValueParseError, parse_date, parse_datetime
from subctl.schema import NUMBER_LIMIT, NUMBER_TINY, Property, PropType
from subctl.services.masking import HIGHLY_SENSITIVE, MASK

TRUE_WORDS = frozenset({"true", "yes", "on", "1"})
FALSE_WORDS = frozenset({"false", "no", "off", "0"})


def _coerce_type(prop: Property, text: str | None, *, today: dt.date) -> Any:
    """Parse ``text`` as a value of ``prop``'s type and options; "" or None clears the value."""
    if text is None or text == "":
        return None
    name = prop.aliases[0] if prop.aliases else prop.name
    secret = prop.sensitivity == HIGHLY_SENSITIVE
    shown = MASK if secret else f'"{text}"'  # errors never echo a highly sensitive value
    try:
        if prop.type is PropType.DATE:
            return parse_date(text, today)
        if prop.type is PropType.DATETIME:
            return parse_datetime(text, today)
    except ValueParseError as exc:
        reason = f"{shown} is not a valid {prop.type.value}" if secret else str(exc)
        raise UsageError(f"{name}: {reason}") from exc
    if prop.type is PropType.NUMBER:
        try:
            number = Decimal(text.strip())
        except InvalidOperation:
            number = Decimal("NaN")
        if not number.is_finite():
            raise UsageError(f"{name}: {shown} is not a number")
        if abs(number) >= NUMBER_LIMIT or (number and abs(number) < NUMBER_TINY):
            raise UsageError(
                f"{name}: {shown} is out of range (numbers are below 1e18 and, except 0, "
                "at least 1e-12 in size)"
            )
        return int(number) if number == number.to_integral_value() and not prop.money else number
    if prop.type is PropType.BOOL:
        word = text.strip().lower()
        if word not in TRUE_WORDS | FALSE_WORDS:
            raise UsageError(f"{name}: {shown} is not true or false")
        return word in TRUE_WORDS
    if prop.type is PropType.ENUMERATION and prop.options:
        value = prop.option_value(text.strip())
        if value is None:
            choices = ", ".join(prop.option_values())
            raise UsageError(f"{name}: {shown} is not an option ({choices})")
        return value
    return text


# -- custom properties: rules, calculated and multi-value properties -----------------


def coerce_value(
    prop: Property, text: str | None, *, today: dt.date, now: dt.datetime | None = None
) -> Any:
    """Parse ``text`` as a value of ``prop`` and enforce the property's definition: its type and
    options, then every validation rule (``subctl.services.validation``; the error names the
    rule). An empty string or None clears the value (no rule applies to clearing).

    Custom calculated properties (``calculation_equation``) are read-only. Multiple-checkbox
    enumerations take ``;``-separated options (values or labels) and return the canonical
    ``;``-joined values; HubSpot's leading ``;`` ("append") needs the old value, so it is refused
    here: give the full list. ``now`` anchors the ``*_DATETIME_DURATION`` rules (default:
    midnight UTC of ``today``).
    """
    from subctl.services import validation
    from subctl.services.properties import is_calculated, is_multi_value

    if text is None or text == "":
        return None
    name = prop.aliases[0] if prop.aliases else prop.name
    if is_calculated(prop):
        raise UsageError(f"{name}: a calculated property; its value cannot be set")
    if is_multi_value(prop):
        if text.startswith(";"):
            raise UsageError(
                f'{name}: a leading ";" (append) is not supported; give every value, e.g. a;b'
            )
        parts = [p.strip() for p in text.split(";") if p.strip()]
        values = [_coerce_type(prop, part, today=today) for part in parts]
        value: Any = ";".join(dict.fromkeys(values)) or None
    else:
        value = _coerce_type(prop, text, today=today)
    validation.check(prop, value, today=today, now=now)
    return value
