"""Typed write operations of a record store (``RecordStore.execute``).

Services decide *whether* and *which* operation applies to a subscription (the rules, refund
amounts, e-mails); a store carries it out. HubSpot has an endpoint for most of them (``/cancel``,
``/pause`` with the reason, ``/unpause`` with the next billing date, ``PATCH``, ``DELETE``) and
computes the dependent properties itself (``hs_lastmodifieddate``, ``hs_mrr``,
``hs_canceled_at``, the status, cleared due dates); the local SQL store derives the same columns
with ``changes`` below (the one place these derivations live), and writes one history entry per
stored value that changed.

Every operation carries the subscription id, the status it was decided on (``expect_status``:
the store refuses with ``Conflict``, writing nothing, when it is no longer that), its time and
source (history), and the buyer e-mails to record (``messages``: the local store records them
in the outbox; HubSpot sends its own).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from subctl.billing import monthly_recurring, round_money
from subctl.store.base import Charge, LineItem, OutboxMessage
from subctl.store.base import Refund as RefundRecord

ZERO = Decimal("0.00")
LAST_MODIFIED = "hs_lastmodifieddate"


@dataclass(slots=True, kw_only=True)  # not frozen: 100,000-item batches create many
class Op:
    subscription_id: int
    expect_status: str | None
    at: dt.datetime
    source: str
    messages: tuple[OutboxMessage, ...] = ()

    # The stored properties ``changes`` needs besides the operation's own fields.
    reads: tuple[str, ...] = ()


@dataclass(slots=True, kw_only=True)
class Update(Op):
    """Set property values (``PATCH``); ``line_items``: new quantity and price of some of the
    subscription's line items, from which the next payment amount and the MRR follow."""

    values: dict[str, Any]
    line_items: tuple[LineItem, ...] = ()

    def __post_init__(self) -> None:
        if self.line_items:
            self.reads = ("hs_currency_code", "hs_recurring_billing_frequency", "hs_status")


@dataclass(slots=True, kw_only=True)
class Cancel(Op):
    """Cancel now (``/cancel``); ``refunds`` of its payments go with it."""

    refunds: tuple[RefundRecord, ...] = ()


@dataclass(slots=True, kw_only=True)
class CancelAtPeriodEnd(Op):
    """Cancel at the end of the current period, ``end``: never charged again."""

    end: dt.date


@dataclass(slots=True, kw_only=True)
class Pause(Op):
    """Pause (``/pause``); ``resume_on``: billing resumes it that day (``hs_resume_date``)."""

    reason: str | None = None
    resume_on: dt.date | None = None


@dataclass(slots=True, kw_only=True)
class Resume(Op):
    """Resume (``/unpause``): active again, next billed on ``next_billing_date``; the MRR
    follows from the next payment amount."""

    next_billing_date: dt.date
    reads: tuple[str, ...] = (
        "hs_next_payment_amount",
        "hs_currency_code",
        "hs_recurring_billing_frequency",
    )


@dataclass(slots=True, kw_only=True)
class Delete(Op):
    """Delete the subscription with its associations and history."""


@dataclass(slots=True, kw_only=True)
class Refund(Op):
    """Refunds of payments of a subscription that is not canceled by them (the pending bank
    payments of a canceled one)."""

    refunds: tuple[RefundRecord, ...]


@dataclass(slots=True, kw_only=True)
class Notify(Op):
    """E-mail the buyer (``messages``), nothing else changes."""


@dataclass(slots=True, kw_only=True)
class MarkUnpaid(Op):
    """A billing event of the local simulation: ``status`` (unpaid, past_due); ``charge``: the
    failed payment recorded with it (unpaid)."""

    status: str
    charge: Charge | None = None


@dataclass(slots=True, kw_only=True)
class Pay(Op):
    """The local simulation's payment of what is owed: ``charge`` (succeeded) settles the
    periods due; the next payment is due on ``next_payment_due_date`` (None: unchanged)."""

    charge: Charge
    next_payment_due_date: dt.date | None = None
    periods: int = 1  # the billing periods the charge pays
    reads: tuple[str, ...] = ("hs_number_of_completed_payments", "hs_total_collected_amount")


@dataclass(slots=True, kw_only=True)
class Bill(Op):
    """A billing event of the local simulation (``subctl.services.billing`` decides it): sets
    ``values`` as given (the rules compute them), records ``charge`` (a payment of the event),
    ``settles`` (a bank payment's id and its new status) and the event itself (``event``:
    kind, due day, outcome, note) in the billing log."""

    values: dict[str, Any]
    kind: str
    day: dt.date
    outcome: str
    old_status: str | None
    new_status: str | None
    charge: Charge | None = None
    settles: tuple[int, str] | None = None
    amount: Decimal | None = None  # of the event, when it has no charge (a settlement)
    currency: str | None = None
    note: str | None = None


@dataclass(slots=True, kw_only=True)
class NewRecord:
    """An associated record an import needs (``Upsert.records``): created with ``id`` from
    ``values`` (the keys ``RecordStore.create_record`` takes) unless a record with that id
    exists; ``values`` None: it must exist already (its label said too little to create it)."""

    object_type: str
    id: int
    values: dict[str, Any] | None


@dataclass(slots=True, kw_only=True)
class Upsert(Op):
    """One row of an import (``subctl import``). ``create``: a new subscription with
    ``values`` as given (computed columns included: a restored record keeps the values it was
    exported with), its id ``subscription_id``, or a new id from the database when that is 0
    (the store writes the id it assigns back into ``subscription_id``); otherwise set
    ``values`` on the existing subscription, whose status must still be ``expect_status``.
    ``associations``: (object type, record id, association type id) added to the subscription
    (those it has are kept); ``records``: the associated records to create first unless they
    exist. History records every value set (a create: each non-empty value)."""

    values: dict[str, Any]
    create: bool = False
    associations: tuple[tuple[str, int, int], ...] = ()
    records: tuple[NewRecord, ...] = ()


Operation = (
    Update
    | Cancel
    | CancelAtPeriodEnd
    | Pause
    | Resume
    | Delete
    | Refund
    | Notify
    | MarkUnpaid
    | Pay
    | Bill
    | Upsert
)


def refunds_of(op: Op) -> tuple[RefundRecord, ...]:
    return op.refunds if isinstance(op, Cancel | Refund) else ()


def charges_of(op: Op) -> tuple[Charge, ...]:
    if isinstance(op, Pay):
        return (op.charge,)
    if isinstance(op, MarkUnpaid) and op.charge is not None:
        return (op.charge,)
    return ()


def _refunded_last_payment(refunds: Sequence[RefundRecord], values: dict[str, Any]) -> None:
    for r in refunds:
        if r.latest:
            values["hs_last_payment_status"] = r.refunded_status


def changes(
    op: Op, stored: Mapping[str, Any], line_items: Sequence[LineItem] = ()
) -> dict[str, Any]:
    """The property values ``op`` sets (typed), in the order history records them: what the
    local store writes and HubSpot computes. ``stored``: the subscription's values of
    ``op.reads``; ``line_items``: all of its line items (``Update`` with line items).
    ValueError when a derived value cannot be computed (an unknown billing frequency)."""
    at = op.at
    if isinstance(op, Cancel):
        values: dict[str, Any] = {
            "hs_status": "canceled",
            "hs_canceled_at": at,
            "hs_next_payment_due_date": None,
            "hs_next_payment_amount": None,
            "hs_scheduled_cancellation_date": None,
            "hs_next_payment_retry_date": None,
            "hs_resume_date": None,
            "hs_mrr": ZERO,
            LAST_MODIFIED: at,
        }
        _refunded_last_payment(op.refunds, values)
        return values
    if isinstance(op, Update):
        values = dict(op.values)
        if op.line_items:
            currency = str(stored.get("hs_currency_code") or "")
            frequency = str(stored.get("hs_recurring_billing_frequency") or "")
            new = {item.id: item for item in op.line_items}
            after = [new.get(item.id, item) for item in line_items]
            amount = next_payment_amount(after, currency)
            values["hs_next_payment_amount"] = amount
            # A paused subscription earns nothing until resumed (resuming restores the MRR).
            paused = stored.get("hs_status") == "paused"
            values["hs_mrr"] = ZERO if paused else monthly_recurring(amount, currency, frequency)
        values[LAST_MODIFIED] = at
        return values
    if isinstance(op, CancelAtPeriodEnd):
        return {
            "hs_scheduled_cancellation_date": op.end,
            "hs_next_payment_due_date": None,
            "hs_next_payment_amount": None,
            LAST_MODIFIED: at,
        }
    if isinstance(op, Pause):
        return {"hs_status": "paused", "hs_pause_reason": op.reason, "hs_mrr": ZERO,
                "hs_resume_date": op.resume_on, LAST_MODIFIED: at}  # fmt: skip
    if isinstance(op, Resume):
        return {
            "hs_status": "active",
            "hs_next_payment_due_date": op.next_billing_date,
            "hs_pause_reason": None,
            "hs_resume_date": None,
            "hs_mrr": resumed_mrr(stored),
            LAST_MODIFIED: at,
        }
    if isinstance(op, Refund):
        values = {LAST_MODIFIED: at}
        _refunded_last_payment(op.refunds, values)
        return values
    if isinstance(op, MarkUnpaid):
        values = {"hs_status": op.status, LAST_MODIFIED: at}
        if op.charge is not None:
            values["hs_last_payment_status"] = op.charge.status
        return values
    if isinstance(op, Pay):
        done, total = (
            stored.get("hs_number_of_completed_payments"),
            stored.get("hs_total_collected_amount"),
        )
        values = {
            "hs_status": "active",
            "hs_last_payment_status": op.charge.status,
            "hs_last_payment_amount": op.charge.amount,
            "hs_last_payment_date": op.charge.created_at,
            "hs_number_of_completed_payments": int(done or 0) + op.periods,
            "hs_total_collected_amount": (total or ZERO) + op.charge.amount,
            # paid by hand: no retry of the failed payment is pending any more
            "hs_next_payment_retry_date": None,
            "hs_payment_retry_count": None,
            LAST_MODIFIED: at,
        }
        if op.next_payment_due_date is not None:
            values["hs_next_payment_due_date"] = op.next_payment_due_date
        return values
    if isinstance(op, Bill):
        return {**op.values, LAST_MODIFIED: at}
    if isinstance(op, Upsert):  # an update (a create is written whole, see Upsert)
        return {**op.values, LAST_MODIFIED: at}
    return {}  # Delete, Notify


def resumed_mrr(stored: Mapping[str, Any]) -> Decimal:
    """The MRR of a resumed subscription: its next payment amount per month (0 without one);
    ValueError for an unknown billing frequency."""
    amount = stored.get("hs_next_payment_amount")
    if amount is None:
        return ZERO
    currency = str(stored.get("hs_currency_code") or "")
    frequency = str(stored.get("hs_recurring_billing_frequency") or "")
    return monthly_recurring(amount, currency, frequency)


def next_payment_amount(items: Sequence[LineItem], currency: str) -> Decimal:
    """What the line items cost per period: the next payment amount."""
    return round_money(sum((i.price * i.quantity for i in items), ZERO), currency)
