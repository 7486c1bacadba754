"""The Store protocol and the records that cross the store boundary.

Stores return these plain records, never ORM rows or sessions. Business rules (what may be
cancelled, edited, deleted) do not live here but in ``subctl.services``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Protocol

from subctl.query.ast import Expr, Query
from subctl.schema import PropertyRegistry


@dataclass(slots=True)
class Subscription:
    """HubSpot's record shape: an id and typed property values keyed by internal name."""

    id: int
    properties: dict[str, Any]

    @property
    def status(self) -> str | None:
        value = self.properties.get("hs_status")
        return None if value is None else str(value)


@dataclass(frozen=True, slots=True)
class AssociatedRecord:
    object_type: str  # contact, company, deal, line_item, quote, invoice, payment
    id: int
    type_id: int
    label: str  # the record's display name: "Name (email)", company name, deal name, ...
    details: tuple[str, ...] = ()  # every email of a contact, every domain of a company


@dataclass(frozen=True, slots=True)
class Payment:
    id: int
    amount: Decimal
    currency: str
    status: str  # succeeded, failed, processing, refunded, partially_refunded
    method: str  # card, ach
    kind: str  # payment, refund
    created_at: dt.datetime
    refunds_payment_id: int | None = None

    @property
    def pending_bank_payment(self) -> bool:
        return self.method == "ach" and self.status == "processing" and self.kind == "payment"


@dataclass(frozen=True, slots=True)
class Change:
    property: str
    old_value: str | None
    new_value: str | None
    changed_at: dt.datetime
    source: str


@dataclass(frozen=True, slots=True)
class SavedView:
    name: str
    where: str  # the query text, as the user wrote it (re-parsed against current properties)
    columns: tuple[str, ...] = ()
    sort: str | None = None
    builtin: bool = False


@dataclass(slots=True)
class SubscriptionDetail:
    subscription: Subscription
    associations: list[AssociatedRecord] = field(default_factory=list)
    payments: list[Payment] = field(default_factory=list)
    history: list[Change] = field(default_factory=list)


class Store(Protocol):
    """What every backend offers. Implementations: ``sql.SqlStore`` (SQLite, PostgreSQL)."""

    def properties(self) -> PropertyRegistry:
        """Standard and custom property definitions."""
        ...

    def search(self, query: Query, fields: Sequence[str] | None = None) -> Iterator[Subscription]:
        """Stream matching subscriptions (all properties when ``fields`` is None)."""
        ...

    def count(self, where: Expr | None = None) -> int: ...

    def get(self, sub_id: int) -> Subscription:
        """One subscription with every property; raises NotFound."""
        ...

    def detail(self, sub_id: int) -> SubscriptionDetail:
        """A subscription with its associations, payments and change history."""
        ...

    def views(self) -> list[SavedView]: ...

    def get_view(self, name: str) -> SavedView:
        """Raises NotFound."""
        ...

    def save_view(self, view: SavedView) -> None: ...

    def delete_view(self, name: str) -> None: ...

    def close(self) -> None: ...
