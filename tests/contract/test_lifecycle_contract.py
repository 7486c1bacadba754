"""Lifecycle store primitives: batch reads, ``apply`` (changes, history, outbox,
refunds and the journal, atomically, with optimistic status checks), and the job journal."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from subctl.errors import Conflict, NotFound
from subctl.store.base import ItemOutcome, LineItem, Mutation, OutboxMessage, Refund, Store

AT = dt.datetime(2026, 11, 26, 12, tzinfo=dt.UTC)


def _cancel(sub_id: int, status: str, **extra: object) -> Mutation:
    changes = {"hs_status": (status, "canceled"), "hs_canceled_at": (None, AT),
               "hs_next_payment_due_date": (dt.date(2026, 12, 1), None),
               "hs_lastmodifieddate": (None, AT)}  # fmt: skip
    return Mutation(sub_id, "cancel", status, AT, "subctl cancel (job 1)", changes, **extra)  # type: ignore[arg-type]


def _job(store: Store, items: list[tuple[int, str | None]], fingerprint: str = "fp") -> int:
    job = store.create_job(
        verb="cancel", action={"verb": "cancel"}, selection={"ids": [i for i, _ in items]},
        fingerprint=fingerprint, frozen=False, items=items, at=AT,
    )  # fmt: skip
    return job.id


def _ok(sub_id: int, new_status: str = "canceled") -> ItemOutcome:
    return ItemOutcome(sub_id, "ok", new_status, "canceled", AT)


def test_get_many(store: Store) -> None:
    found = store.get_many([104, 999, 101], ["hs_status", "hs_next_payment_due_date"])
    assert sorted(found) == [101, 104]
    assert found[101].properties == {
        "hs_object_id": 101,
        "hs_status": "active",
        "hs_next_payment_due_date": dt.date(2026, 12, 1),
    }


def test_apply_writes_changes_history_and_journal_together(store: Store) -> None:
    job = _job(store, [(101, "active"), (102, "unpaid")])
    mail = OutboxMessage(101, "cancellation", "a@example.com", "Canceled", "Bye", AT, job_id=job)
    store.apply([_cancel(101, "active", messages=(mail,))], job_id=job, outcomes=[_ok(101)])
    sub = store.get(101)
    assert sub.status == "canceled" and sub.properties["hs_canceled_at"] == AT
    assert sub.properties["hs_next_payment_due_date"] is None
    detail = store.detail(101)
    assert {(c.property, c.old_value, c.new_value) for c in detail.history} == {
        ("hs_status", "active", "canceled"),
        ("hs_canceled_at", None, "2026-11-26T12:00:00.000Z"),
        ("hs_next_payment_due_date", "2026-12-01", None),
    }
    assert {c.source for c in detail.history} == {"subctl cancel (job 1)"}
    (recorded,) = detail.outbox
    assert (recorded.recipient, recorded.subject, recorded.job_id) == (
        "a@example.com", "Canceled", job)  # fmt: skip
    items = list(store.job_items(job))
    assert [(i.subscription_id, i.outcome, i.new_status) for i in items] == [
        (101, "ok", "canceled"), (102, None, None)]  # fmt: skip
    assert [i.subscription_id for i in store.job_items(job, unprocessed_only=True)] == [102]
    assert store.job(job).counts == {
        "ok": 1, "skipped": 0, "failed": 0, "attention": 0, "unprocessed": 1}  # fmt: skip


def test_apply_refuses_a_changed_status_and_writes_nothing(store: Store) -> None:
    job = _job(store, [(101, "active"), (102, "unpaid")])
    with pytest.raises(Conflict):
        store.apply(
            [_cancel(101, "active"), _cancel(102, "active")],  # 102 is unpaid
            job_id=job,
            outcomes=[_ok(101), _ok(102)],
        )
    assert store.get(101).status == "active"
    assert store.detail(101).history == []
    assert store.job(job).unprocessed == 2


def test_apply_journals_each_item_once(store: Store) -> None:
    job = _job(store, [(101, "active")])
    store.apply([_cancel(101, "active")], job_id=job, outcomes=[_ok(101)])
    with pytest.raises(Conflict):  # a second run of the same item: refused, nothing written
        store.apply([], job_id=job, outcomes=[_ok(101)])
    assert len(store.detail(101).history) == 3


def test_apply_deletes(store: Store) -> None:
    store.apply([Mutation(103, "delete", "canceled", AT, "test", delete=True)])
    with pytest.raises(NotFound):
        store.get(103)
    with pytest.raises(Conflict):
        store.apply([Mutation(104, "delete", "canceled", AT, "test", delete=True)])  # paused
    assert store.get(104).status == "paused"


def test_refunds_are_payments_pointing_at_the_refunded_one(store: Store) -> None:
    contact = store.create_record(
        "contact", {"firstname": "Ada", "emails": ["ada@example.com", "ada@work.example"],
                    "created_at": AT})  # fmt: skip
    store.associate(101, "contact", contact, 295)
    assert store.buyer_emails([101, 102]) == {101: "ada@example.com"}
    paid = store.create_record(
        "payment", {"amount": Decimal("10.00"), "currency": "USD", "status": "succeeded",
                    "method": "card", "kind": "payment", "created_at": AT})  # fmt: skip
    pending = store.create_record(
        "payment", {"amount": Decimal("12.50"), "currency": "USD", "status": "processing",
                    "method": "ach", "kind": "payment", "created_at": AT})  # fmt: skip
    store.associate(101, "payment", paid, 393)
    store.associate(101, "payment", pending, 393)
    (only_pending,) = store.payments_of([101], ["processing"])[101]
    assert only_pending.id == pending and only_pending.pending_bank_payment
    refund = Refund(paid, Decimal("1.67"), "USD", "card", "partially_refunded", AT)
    store.apply([_cancel(101, "active", refunds=(refund,))])
    payments = store.payments_of([101, 102])
    assert list(payments) == [101]
    by_kind = {(p.kind, p.id == paid): p for p in payments[101]}
    made = by_kind[("refund", False)]
    assert (made.amount, made.currency, made.refunds_payment_id) == (Decimal("1.67"), "USD", paid)
    assert by_kind[("payment", True)].status == "partially_refunded"
    assert any(
        a.object_type == "payment" and a.id == made.id and a.type_id == 393
        for a in store.detail(101).associations
    )


def test_payment_and_line_items(store: Store) -> None:
    paid = store.create_record(
        "payment", {"amount": Decimal("10.00"), "currency": "EUR", "status": "succeeded",
                    "method": "card", "kind": "payment", "created_at": AT})  # fmt: skip
    found = store.payment(paid)
    assert (found.id, found.amount, found.currency, found.status) == (
        paid, Decimal("10.00"), "EUR", "succeeded")  # fmt: skip
    with pytest.raises(NotFound):
        store.payment(paid + 1000)
    first, second = (
        store.create_record("line_item", {"name": name, "quantity": 2, "price": Decimal("4.50"),
                                          "created_at": AT})
        for name in ("Seat", "Storage")
    )  # fmt: skip
    store.associate(101, "line_item", second, 301)
    store.associate(101, "line_item", first, 301)
    assert store.line_items(101) == [
        LineItem(first, "Seat", 2, Decimal("4.50")),
        LineItem(second, "Storage", 2, Decimal("4.50")),
    ]
    assert store.line_items(102) == []
    with pytest.raises(NotFound):
        store.line_items(999)
    edited = LineItem(first, "Seat", 3, Decimal("12.25"))
    changes = {
        "hs_next_payment_amount": (None, Decimal("45.75")),
        "hs_lastmodifieddate": (None, AT),
    }
    store.apply([Mutation(101, "update_line_item", "active", AT, "subctl associate", changes,
                          line_items=(edited,))])  # fmt: skip
    assert store.line_items(101)[0] == edited
    assert store.get(101).properties["hs_next_payment_amount"] == Decimal("45.75")
    # a changed status writes neither the subscription nor its line items
    with pytest.raises(Conflict):
        store.apply([Mutation(101, "update_line_item", "paused", AT, "subctl associate", changes,
                              line_items=(LineItem(first, "Seat", 9, Decimal("1")),))])  # fmt: skip
    assert store.line_items(101)[0] == edited


def test_jobs(store: Store) -> None:
    first = _job(store, [(101, "active")], fingerprint="a")
    second = _job(store, [(102, "unpaid"), (104, "paused")], fingerprint="b")
    assert [j.id for j in store.jobs()] == [second, first]
    job = store.job(second)
    assert (job.verb, job.total, job.status, job.frozen) == ("cancel", 2, "unfinished", False)
    assert job.selection == {"ids": [102, 104]} and job.action == {"verb": "cancel"}
    assert [i.planned_status for i in store.job_items(second)] == ["unpaid", "paused"]
    assert store.unfinished_job("b") == job
    store.set_job_status(second, "done", AT)
    assert store.unfinished_job("b") is None
    assert store.job(second).status == "done"
    with pytest.raises(NotFound):
        store.job(999)
