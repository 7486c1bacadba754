"""The display labels of associated records, once for every store: "Name (email)", "Plan × 3",
"99.00 USD succeeded (card)". (The text of a typed value is ``codec.to_text``.)"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal


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
