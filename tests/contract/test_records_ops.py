"""The record-store contract, writing: each typed operation's effect on the record (status,
the columns the store computes as HubSpot does, history, the outbox), ``Conflict`` on a stale
``expect_status``, a payment refunded at most once; batch reads of payments and e-mails."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import pytest

from subctl.errors import Conflict, InvalidState, NotFound
from subctl.store import ops
from subctl.store.base import Charge, LineItem, OutboxMessage, RecordStore, Refund, Workspace
from tests.contract.conftest import Seed

AT = dt.datetime(2026, 11, 26, 12, tzinfo=dt.UTC)
STAMP = "2026-11-26T12:00:00.000Z"


def _op(kind: type[ops.Op], sub_id: int, expect: str | None, **fields: Any) -> Any:
    return kind(subscription_id=sub_id, expect_status=expect, at=AT, source="test", **fields)


def _history(records: RecordStore, sub_id: int) -> set[tuple[str, str | None, str | None]]:
    return {(c.property, c.old_value, c.new_value) for c in records.detail(sub_id).history}


def _payment(records: RecordStore, amount: str, status: str = "succeeded",
             method: str = "card") -> int:  # fmt: skip
    return records.create_record(
        "payment", {"amount": Decimal(amount), "currency": "USD", "status": status,
                    "method": method, "kind": "payment", "created_at": AT})  # fmt: skip


def test_get_many(records: RecordStore) -> None:
    found = records.get_many([104, 999, 101], ["hs_status", "hs_next_payment_due_date"])
    assert sorted(found) == [101, 104]
    assert found[101].properties == {
        "hs_object_id": 101,
        "hs_status": "active",
        "hs_next_payment_due_date": dt.date(2026, 12, 1),
    }


def test_capabilities(records: RecordStore) -> None:
    caps = records.capabilities
    assert caps.batch_size is None or caps.batch_size >= 1
    assert caps.result_cap is None or caps.result_cap >= caps.batch_size  # type: ignore[operator]


def _stamped(records: RecordStore, value: object) -> None:
    """A change stamp: the operation's time on a store stamping with it, else the store's
    own clock (HubSpot's: after the operation was made)."""
    if records.capabilities.own_clock:
        assert value == AT
    else:
        assert isinstance(value, dt.datetime) and value > AT


def test_cancel_computes_its_columns_and_history(
    records: RecordStore, workspace: Workspace
) -> None:
    mail = OutboxMessage(101, "cancellation", "a@example.com", "Canceled", "Bye", AT)
    records.execute([_op(ops.Cancel, 101, "active", messages=(mail,))])
    props = records.get(101).properties
    assert props["hs_status"] == "canceled"
    _stamped(records, props["hs_canceled_at"])
    _stamped(records, props["hs_lastmodifieddate"])
    assert props["hs_next_payment_due_date"] is None and props["hs_mrr"] == Decimal("0.00")
    if records.capabilities.history:
        assert _history(records, 101) == {
            ("hs_status", "active", "canceled"),
            ("hs_canceled_at", None, STAMP),
            ("hs_next_payment_due_date", "2026-12-01", None),
            ("hs_mrr", "10.00", "0.00"),
        }
        assert {c.source for c in records.detail(101).history} == {"test"}
    if not records.capabilities.outbox:  # HubSpot e-mails the buyer itself
        assert workspace.outbox(101) == []
        return
    (recorded,) = workspace.outbox(101)
    assert (recorded.recipient, recorded.subject) == ("a@example.com", "Canceled")


def test_cancel_at_period_end(records: RecordStore) -> None:
    records.execute([_op(ops.CancelAtPeriodEnd, 101, "active", end=dt.date(2026, 12, 1))])
    props = records.get(101).properties
    assert props["hs_status"] == "active"
    assert props["hs_scheduled_cancellation_date"] == dt.date(2026, 12, 1)
    if records.capabilities.derived_columns:
        assert props["hs_next_payment_due_date"] is None


def test_pause_and_resume_compute_the_mrr(records: RecordStore, seed: Seed) -> None:
    seed([{"hs_object_id": 105, "hs_name": "Epsilon", "hs_status": "active",
           "hs_next_payment_amount": Decimal("300.00"), "hs_currency_code": "USD",
           "hs_recurring_billing_frequency": "quarterly",
           "hs_mrr": Decimal("100.00")}])  # fmt: skip
    records.execute([_op(ops.Pause, 105, "active", reason="on leave")])
    props = records.get(105).properties
    assert (props["hs_status"], props["hs_pause_reason"], props["hs_mrr"]) == (
        "paused", "on leave", Decimal("0.00"))  # fmt: skip
    records.execute([_op(ops.Resume, 105, "paused", next_billing_date=dt.date(2027, 2, 1))])
    props = records.get(105).properties
    assert (props["hs_status"], props["hs_pause_reason"]) == ("active", None)
    assert props["hs_next_payment_due_date"] == dt.date(2027, 2, 1)
    if records.capabilities.derived_columns:  # HubSpot computes the MRR by its own rules
        assert props["hs_mrr"] == Decimal("100.00")
        assert ("hs_mrr", "0.00", "100.00") in _history(records, 105)


def test_update_sets_values_and_the_change_stamp(records: RecordStore) -> None:
    records.execute([_op(ops.Update, 101, "active", values={"hs_name": "Alpha II"})])
    props = records.get(101).properties
    assert props["hs_name"] == "Alpha II"
    _stamped(records, props["hs_lastmodifieddate"])
    if records.capabilities.history:
        assert _history(records, 101) == {("hs_name", "Alpha monthly", "Alpha II")}


def test_a_stale_expect_status_is_a_conflict_and_writes_nothing(records: RecordStore) -> None:
    with pytest.raises(Conflict):
        records.execute([_op(ops.Cancel, 101, "active"), _op(ops.Cancel, 102, "active")])
    assert records.get(101).status == "active" and records.detail(101).history == []
    with pytest.raises(Conflict):
        records.execute([_op(ops.Delete, 104, "canceled")])  # paused
    assert records.get(104).status == "paused"


def test_delete(records: RecordStore) -> None:
    records.execute([_op(ops.Delete, 103, "canceled")])
    with pytest.raises(NotFound):
        records.get(103)


def test_notify_records_mail_and_changes_nothing(
    records: RecordStore, workspace: Workspace
) -> None:
    mail = OutboxMessage(102, "payment_method_update", "b@example.com", "Update", "Link", AT,
                         link="https://example.invalid/x")  # fmt: skip
    if not records.capabilities.outbox:  # refused before anything is sent
        with pytest.raises(InvalidState, match="HubSpot sends its own"):
            records.execute([_op(ops.Notify, 102, "unpaid", messages=(mail,))])
        assert workspace.outbox(102) == []
        return
    records.execute([_op(ops.Notify, 102, "unpaid", messages=(mail,))])
    assert records.detail(102).history == []
    assert [m.link for m in workspace.outbox(102)] == ["https://example.invalid/x"]


def test_mark_unpaid_and_pay_record_payments(records: RecordStore) -> None:
    failed = Charge(Decimal("10.00"), "USD", "failed", "card", AT)
    if not records.capabilities.payments:  # the billing simulation: refused, nothing sent
        with pytest.raises(InvalidState, match="HubSpot bills by itself"):
            records.execute([_op(ops.MarkUnpaid, 101, "active", status="unpaid", charge=failed)])
        assert records.get(101).status == "active"
        return
    records.execute([_op(ops.MarkUnpaid, 101, "active", status="unpaid", charge=failed)])
    props = records.get(101).properties
    assert (props["hs_status"], props["hs_last_payment_status"]) == ("unpaid", "failed")
    paid = Charge(Decimal("10.00"), "USD", "succeeded", "card", AT)
    records.execute([_op(ops.Pay, 101, "unpaid", charge=paid,
                         next_payment_due_date=dt.date(2027, 1, 1))])  # fmt: skip
    props = records.get(101).properties
    assert (props["hs_status"], props["hs_last_payment_status"], props["hs_last_payment_amount"],
            props["hs_next_payment_due_date"]) == (
        "active", "succeeded", Decimal("10.00"), dt.date(2027, 1, 1))  # fmt: skip
    assert [p.status for p in records.payments_of([101])[101]] == ["failed", "succeeded"]


def test_refunds_are_payments_pointing_at_the_refunded_one(records: RecordStore) -> None:
    contact = records.create_record(
        "contact", {"firstname": "Ada", "emails": ["ada@example.com", "ada@work.example"],
                    "created_at": AT})  # fmt: skip
    records.associate(101, "contact", contact, 295)
    assert records.buyer_emails([101, 102]) == {101: "ada@example.com"}
    paid = _payment(records, "10.00")
    pending = _payment(records, "12.50", "processing", "ach")
    records.associate(101, "payment", paid, 393)
    records.associate(101, "payment", pending, 393)
    (only_pending,) = records.payments_of([101], ["processing"])[101]
    assert only_pending.id == pending and only_pending.pending_bank_payment
    refund = Refund(paid, Decimal("1.67"), "USD", "card", "partially_refunded", AT, latest=True)
    if not records.capabilities.payments:  # no refund endpoint: refused, nothing sent
        with pytest.raises(InvalidState, match="no refund endpoint"):
            records.execute([_op(ops.Cancel, 101, "active", refunds=(refund,))])
        assert records.get(101).status == "active"
        assert [p.kind for p in records.payments_of([101])[101]] == ["payment", "payment"]
        return
    records.execute([_op(ops.Cancel, 101, "active", refunds=(refund,))])
    assert records.get(101).properties["hs_last_payment_status"] == "partially_refunded"
    payments = records.payments_of([101, 102])
    assert list(payments) == [101]
    by_kind = {(p.kind, p.id == paid): p for p in payments[101]}
    made = by_kind[("refund", False)]
    assert (made.amount, made.currency, made.refunds_payment_id) == (Decimal("1.67"), "USD", paid)
    assert by_kind[("payment", True)].status == "partially_refunded"
    assert any(
        a.object_type == "payment" and a.id == made.id and a.type_id == 393
        for a in records.detail(101).associations
    )


def test_a_payment_is_refunded_at_most_once(records: RecordStore) -> None:
    pending = _payment(records, "12.50", "processing", "ach")
    for sid in (102, 103):
        records.associate(sid, "payment", pending, 393)

    def refunding(sid: int, status: str) -> ops.Refund:
        refund = Refund(pending, Decimal("12.50"), "USD", "ach", "refunded", AT)
        return _op(ops.Refund, sid, status, refunds=(refund,))  # type: ignore[no-any-return]

    if not records.capabilities.payments:
        with pytest.raises(InvalidState, match="cannot do refunds"):
            records.execute([refunding(103, "canceled")])
        assert [p.kind for p in records.payments_of([103])[103]] == ["payment"]
        return
    with pytest.raises(Conflict, match=f"payment {pending} was already refunded"):
        records.execute([refunding(102, "unpaid"), refunding(103, "canceled")])
    assert [p.kind for p in records.payments_of([102])[102]] == ["payment"]
    records.execute([refunding(103, "canceled")])
    with pytest.raises(Conflict, match=f"payment {pending} was already refunded"):
        records.execute([refunding(102, "unpaid")])
    assert sorted(p.kind for p in records.payments_of([103])[103]) == ["payment", "refund"]


def test_line_items_set_the_next_payment_amount_and_mrr(records: RecordStore) -> None:
    paid = _payment(records, "10.00")
    found = records.payment(paid)
    assert (found.id, found.amount, found.status) == (paid, Decimal("10.00"), "succeeded")
    with pytest.raises(NotFound):
        records.payment(paid + 1000)
    first, second = (
        records.create_record("line_item", {"name": name, "quantity": 2,
                                            "price": Decimal("4.50"), "created_at": AT})
        for name in ("Seat", "Storage")
    )  # fmt: skip
    records.associate(101, "line_item", second, 301)
    records.associate(101, "line_item", first, 301)
    assert records.line_items(101) == [
        LineItem(first, "Seat", 2, Decimal("4.50")),
        LineItem(second, "Storage", 2, Decimal("4.50")),
    ]
    assert records.line_items(102) == []
    with pytest.raises(NotFound):
        records.line_items(999)
    edited = LineItem(first, "Seat", 3, Decimal("12.25"))
    records.execute([_op(ops.Update, 101, "active", values={}, line_items=(edited,))])
    assert records.line_items(101)[0] == edited
    props = records.get(101).properties
    if records.capabilities.derived_columns:  # HubSpot computes them by its own rules
        assert props["hs_next_payment_amount"] == Decimal("45.75")  # 3 x 12.25 + 2 x 4.50
        assert props["hs_mrr"] == Decimal("45.75")  # monthly
    # a changed status writes neither the subscription nor its line items
    with pytest.raises(Conflict):
        records.execute([_op(ops.Update, 101, "paused", values={},
                             line_items=(LineItem(first, "Seat", 9, Decimal("1")),))])  # fmt: skip
    assert records.line_items(101)[0] == edited
