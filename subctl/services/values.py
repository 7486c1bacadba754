"""Text -> typed property value, by the property's type and options (``update --set``, imports).

Errors name the property and what was expected, e.g.
``tier: "gold" is not an option (basic, professional, enterprise)``.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from subctl.codec import UnknownOption, ValueParseError, parse_text
from subctl.errors import UsageError
from subctl.schema import MASK, Property
from subctl.services import validation


def _coerce_type(
    prop: Property, text: str | None, *, today: dt.date, now: dt.datetime | None = None
) -> Any:
    """Parse ``text`` as a value of ``prop``'s type and options; "" or None clears the value."""
    if text is None or text == "":
        return None
    name = prop.aliases[0] if prop.aliases else prop.name
    secret = prop.highly_sensitive
    try:
        value = parse_text(prop, text, today=today, now=now)
    except UnknownOption as exc:
        shown = MASK if secret else f'"{text}"'  # errors never echo a highly sensitive value
        raise UsageError(f"{name}: {shown} is not an option ({', '.join(exc.choices)})") from exc
    except ValueParseError as exc:
        reason = f"{MASK} is not a valid {prop.type.value}" if secret else str(exc)
        raise UsageError(f"{name}: {reason}") from exc
    if prop.money and isinstance(value, int) and not isinstance(value, bool):
        return Decimal(value)  # an amount set is money, as it reads back
    return value


# -- custom properties: rules, calculated and multi-value properties -----------------


class Append(str):
    """Options to add to a multiple-checkbox value (HubSpot's leading ``;``): the canonical text,
    ``;a;b``, which reads back as the same Append."""

    def merged(self, old: str | None) -> str:
        """The record's options followed by the new ones, each once."""
        options = [*(old or "").split(";"), *self.split(";")]
        return ";".join(dict.fromkeys(o for o in options if o))


def coerce_value(
    prop: Property, text: str | None, *, today: dt.date, now: dt.datetime | None = None
) -> Any:
    """Parse ``text`` as a value of ``prop`` and enforce the property's definition: its type and
    options, then every validation rule (``subctl.services.validation``; the error names the
    rule). An empty string or None clears the value (no rule applies to clearing).

    Custom calculated properties (``calculation_equation``) are read-only. Multiple-checkbox
    enumerations take ``;``-separated options (values or labels) and return the canonical
    ``;``-joined values; with HubSpot's leading ``;`` they return an ``Append``, merged into the
    record's value when it is applied. ``now`` anchors ``now`` and relative offsets of datetime
    values and the ``*_DATETIME_DURATION`` rules (default: midnight UTC of ``today``).
    """
    if text is None or text == "":
        return None
    name = prop.aliases[0] if prop.aliases else prop.name
    if prop.is_calculated:
        raise UsageError(f"{name}: a calculated property; its value cannot be set")
    if prop.multi_value:
        parts = [p.strip() for p in text.split(";") if p.strip()]
        values = [_coerce_type(prop, part, today=today, now=now) for part in parts]
        joined = ";".join(dict.fromkeys(values))
        if text.startswith(";"):
            if not joined:
                raise UsageError(f'{name}: ";" appends options; name at least one, e.g. ;a')
            return Append(";" + joined)
        value: Any = joined or None
    else:
        value = _coerce_type(prop, text, today=today, now=now)
    validation.check(prop, value, today=today, now=now)
    return value
