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
from subctl.schema import Property, PropType

TRUE_WORDS = frozenset({"true", "yes", "on", "1"})
FALSE_WORDS = frozenset({"false", "no", "off", "0"})


def enumeration_value(prop: Property, text: str) -> str | None:
    """The option value for an internal value (exact) or a label (case-insensitive)."""
    for option in prop.options:
        if option.value == text:
            return option.value
    folded = text.casefold()
    for option in prop.options:
        if option.label.casefold() == folded:
            return option.value
    return None


def coerce_value(prop: Property, text: str | None, *, today: dt.date) -> Any:
    """Parse ``text`` as a value of ``prop``; an empty string or None clears the value."""
    if text is None or text == "":
        return None
    name = prop.aliases[0] if prop.aliases else prop.name
    try:
        if prop.type is PropType.DATE:
            return parse_date(text, today)
        if prop.type is PropType.DATETIME:
            return parse_datetime(text, today)
    except ValueParseError as exc:
        raise UsageError(f"{name}: {exc}") from exc
    if prop.type is PropType.NUMBER:
        try:
            number = Decimal(text.strip())
        except InvalidOperation:
            number = Decimal("NaN")
        if not number.is_finite():
            raise UsageError(f'{name}: "{text}" is not a number')
        return int(number) if number == number.to_integral_value() and not prop.money else number
    if prop.type is PropType.BOOL:
        word = text.strip().lower()
        if word not in TRUE_WORDS | FALSE_WORDS:
            raise UsageError(f'{name}: "{text}" is not true or false')
        return word in TRUE_WORDS
    if prop.type is PropType.ENUMERATION and prop.options:
        value = enumeration_value(prop, text.strip())
        if value is None:
            choices = ", ".join(prop.option_values())
            raise UsageError(f'{name}: "{text}" is not an option ({choices})')
        return value
    return text
