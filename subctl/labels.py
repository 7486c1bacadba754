"""How domain values read as text, once for every store and every output: the text of a typed
value (history entries, CSV and table cells) and the display labels of associated records
("Name (email)", "Plan × 3", "99.00 USD succeeded (card)")."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from decimal import Decimal
from typing import Any


def iso_datetime(value: dt.datetime) -> str:
    """UTC, millisecond precision, ``Z`` suffix (HubSpot's datetime format)."""
    value = value.astimezone(dt.UTC)
    return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"


def text_value(value: Any) -> str:
    """A typed value as text: ``true``/``false``, ISO dates and datetimes, ``; ``-joined lists."""
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


def contact_label(
    contact_id: int, firstname: str | None, lastname: str | None, emails: Sequence[str]
) -> str:
    """``Name (first email)``; the name alone without an e-mail, the id without a name."""
    name = " ".join(p for p in (firstname, lastname) if p) or str(contact_id)
    return f"{name} ({emails[0]})" if emails else name


def line_item_label(name: str, quantity: int) -> str:
    return f"{name} × {quantity}"


def payment_label(amount: Decimal | float, currency: str, status: str, method: str) -> str:
    return f"{amount:.2f} {currency} {status} ({method})"
