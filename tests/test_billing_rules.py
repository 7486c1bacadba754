"""The billing rules of ``services.billing.decide`` on one subscription, without a store."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from subctl.services.billing import BillingSettings, decide
from subctl.store.base import Due, Subscription


def _due(method: str) -> Due:
    sub = Subscription(7, {
        "hs_name": "Acme – Pro plan monthly", "hs_status": "active",
        "hs_next_payment_due_date": dt.date(2028, 1, 20),
        "hs_next_payment_amount": Decimal("20.00"),
        "hs_currency_code": "USD", "hs_recurring_billing_frequency": "monthly",
        "hs_recurring_billing_start_date": dt.date(2027, 1, 20), "hs_payment_method": method,
        "hs_createdate": dt.datetime(2027, 1, 1, tzinfo=dt.UTC),
    })  # fmt: skip
    return Due(kind="renewal", at=dt.date(2028, 1, 20), subscription=sub, email="ann@example.com")


def test_canceled_for_non_payment_without_retries_gets_one_e_mail_without_a_payment_link() -> None:
    settings = BillingSettings(retry_days=(), after_last_retry="canceled")
    op = decide(settings, _due("Visa - 0341"), job_id=None)
    assert (op.outcome, op.new_status, op.note) == ("failed", "canceled", "no retries")
    assert [(m.kind, m.link) for m in op.messages] == [("cancellation", None)]
    assert op.messages[0].subject == "Your subscription Acme – Pro plan monthly has been canceled"
    assert "because its payment failed" in op.messages[0].body
    assert op.values["hs_status"] == "canceled"


def test_a_first_decline_with_retries_asks_for_a_new_payment_method() -> None:
    op = decide(BillingSettings(), _due("Visa - 0341"), job_id=None)
    assert (op.outcome, op.new_status, op.note) == ("failed", "unpaid", "retry on 2028-01-23")
    assert [m.kind for m in op.messages] == ["payment_method_update"]
    assert op.values["hs_next_payment_retry_date"] == dt.date(2028, 1, 23)
    assert op.values["hs_payment_retry_count"] == 0
