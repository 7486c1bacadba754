"""``writes.execute``: each operation to its HubSpot call and body, checks before anything is
sent, and a lifecycle call whose answer was lost resolved by re-reading the record."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import pytest

from subctl.errors import Conflict, InDoubt, InvalidState, UsageError
from subctl.schema import standard_registry
from subctl.store.base import Charge, LineItem
from subctl.store.base import Refund as RefundRecord
from subctl.store.http.client import HubSpotClient
from subctl.store.http.writes import IN_DOUBT_ATTEMPTS, execute
from subctl.store.ops import (
    Bill,
    Cancel,
    CancelAtPeriodEnd,
    Delete,
    MarkUnpaid,
    Notify,
    Op,
    Pause,
    Pay,
    Refund,
    Resume,
    Update,
    Upsert,
)
from tests.minihub import MiniHub
from tests.vclock import VirtualClock

AT = dt.datetime(2026, 11, 26, 12, 0, tzinfo=dt.UTC)
LIFECYCLE = "/payments-subscriptions/v1/subscriptions/crm"
OBJECTS = "/crm/v3/objects/subscriptions"


@pytest.fixture
def hub() -> MiniHub:
    return MiniHub(clock=VirtualClock())


def run(hub: MiniHub, ops: list[Any]) -> list[tuple[str, str, Any]]:
    clock = hub.clock
    assert isinstance(clock, VirtualClock)
    client = HubSpotClient("https://api.example.test", "pat-test-token",
                           transport=hub.transport, clock=clock, sleep=clock.sleep)  # fmt: skip
    start = len(hub.log)
    try:
        execute(client, ops, standard_registry())
    finally:
        client.close()
    return [(e.method, e.path, e.body) for e in hub.log[start:]]


def sent(hub: MiniHub) -> list[tuple[str, str, Any]]:
    return [(e.method, e.path, e.body) for e in hub.log]


def op(cls: type[Op], sid: int, expect: str | None = "active", **fields: Any) -> Any:
    return cls(subscription_id=sid, expect_status=expect, at=AT, source="test", **fields)


def test_cancel_reads_the_status_then_posts_cancel_without_a_body(hub: MiniHub) -> None:
    sid = hub.add(hs_status="active")
    assert run(hub, [op(Cancel, sid)]) == [
        ("GET", f"{OBJECTS}/{sid}", None),
        ("POST", f"{LIFECYCLE}/{sid}/cancel", None),
    ]
    assert hub.records[sid]["hs_status"] == "canceled"


def test_pause_sends_its_reason_or_an_empty_object(hub: MiniHub) -> None:
    a, b = hub.add(hs_status="active"), hub.add(hs_status="active")
    calls = run(hub, [op(Pause, a, reason="customer request"), op(Pause, b)])
    assert [c for c in calls if c[0] == "POST"] == [
        ("POST", f"{OBJECTS}/batch/read", {"inputs": [{"id": str(a)}, {"id": str(b)}],
                                           "properties": ["hs_status"]}),
        ("POST", f"{LIFECYCLE}/{a}/pause", {"pauseReason": "customer request"}),
        ("POST", f"{LIFECYCLE}/{b}/pause", {}),
    ]  # fmt: skip


def test_resume_proposes_the_next_billing_date_in_epoch_ms(hub: MiniHub) -> None:
    sid = hub.add(hs_status="paused")
    calls = run(hub, [op(Resume, sid, "paused", next_billing_date=dt.date(2026, 12, 15))])
    assert calls[-1] == ("POST", f"{LIFECYCLE}/{sid}/unpause",
                         {"proposedNextBillingDate": 1797292800000})  # fmt: skip
    assert hub.records[sid]["hs_status"] == "active"


def test_a_status_that_moved_is_a_conflict_and_nothing_is_sent(hub: MiniHub) -> None:
    a, b = hub.add(hs_status="active"), hub.add(hs_status="paused")
    with pytest.raises(Conflict) as caught:
        run(hub, [op(Cancel, a), op(Cancel, b)])
    assert (
        caught.value.message == f"subscription {b} is paused now, not active; nothing was written"
    )
    assert [e.path for e in hub.log] == [f"{OBJECTS}/batch/read"]
    assert hub.records[a]["hs_status"] == "active"


def test_a_record_gone_is_a_conflict(hub: MiniHub) -> None:
    with pytest.raises(Conflict) as caught:
        run(hub, [op(Cancel, 42)])
    assert caught.value.message == "subscription 42 is no longer in HubSpot; nothing was written"


def test_update_sends_wire_strings_and_clears_with_an_empty_string(hub: MiniHub) -> None:
    sid = hub.add(hs_status="active", hs_name="Old")
    update = op(Update, sid, values={"hs_name": "New", "hs_net_payment_terms": Decimal("30"),
                                     "hs_next_payment_due_date": dt.date(2026, 12, 15),
                                     "hs_invoice_comments": None})  # fmt: skip
    calls = run(hub, [update])
    assert calls[-1] == ("PATCH", f"{OBJECTS}/{sid}", {"properties": {
        "hs_name": "New", "hs_net_payment_terms": "30",
        "hs_next_payment_due_date": "1797292800000", "hs_invoice_comments": ""}})  # fmt: skip


def test_many_updates_go_as_batches_of_100(hub: MiniHub) -> None:
    ids = [hub.add(hs_status="active") for _ in range(250)]
    calls = run(hub, [op(Update, i, None, values={"hs_name": f"n{i}"}) for i in ids])
    assert [(m, p, len(b["inputs"])) for m, p, b in calls] == [
        ("POST", f"{OBJECTS}/batch/update", 100),
        ("POST", f"{OBJECTS}/batch/update", 100),
        ("POST", f"{OBJECTS}/batch/update", 50),
    ]
    assert all(hub.records[i]["hs_name"] == f"n{i}" for i in ids)


def test_a_207_names_the_refused_updates(hub: MiniHub) -> None:
    a = hub.add(hs_status="active")
    with pytest.raises(Conflict) as caught:
        run(hub, [op(Update, a, None, values={"hs_name": "x"}),
                  op(Update, 999, None, values={"hs_name": "y"})])  # fmt: skip
    assert caught.value.message == (
        "HubSpot refused 1 of 2 updates (999): Could not get some SUBSCRIPTION objects; "
        "the other 1 were written"
    )
    assert hub.records[a]["hs_name"] == "x"


def test_line_items_are_patched_with_their_quantity_and_price(hub: MiniHub) -> None:
    sid = hub.add(hs_status="active")
    item = LineItem(id=77, name="Seat", quantity=3, price=Decimal("12.50"))
    calls = run(hub, [op(Update, sid, values={}, line_items=(item,))])
    assert calls[-1] == ("PATCH", "/crm/v3/objects/line_items/77",
                         {"properties": {"quantity": "3", "price": "12.50"}})  # fmt: skip


def test_cancel_at_period_end_patches_the_scheduled_cancellation_date(hub: MiniHub) -> None:
    sid = hub.add(hs_status="active")
    calls = run(hub, [op(CancelAtPeriodEnd, sid, end=dt.date(2026, 12, 15))])
    assert calls[-1] == (
        "PATCH",
        f"{OBJECTS}/{sid}",
        {"properties": {"hs_scheduled_cancellation_date": "1797292800000"}},
    )


def test_delete_archives_one_or_a_batch(hub: MiniHub) -> None:
    one = hub.add(hs_status="canceled")
    assert run(hub, [op(Delete, one, "canceled")])[-1] == ("DELETE", f"{OBJECTS}/{one}", None)
    many = [hub.add(hs_status="expired") for _ in range(3)]
    calls = run(hub, [op(Delete, i, "expired") for i in many])
    assert calls[-1] == ("POST", f"{OBJECTS}/batch/archive",
                         {"inputs": [{"id": str(i)} for i in many]})  # fmt: skip
    assert hub.archived == {one, *many}


def test_upsert_patches_and_associates(hub: MiniHub) -> None:
    sid = hub.add(hs_status="active")
    upsert = op(Upsert, sid, values={"hs_name": "Imported"}, associations=(("contacts", 5, 295),))
    calls = run(hub, [upsert])
    assert calls[-2:] == [
        ("PATCH", f"{OBJECTS}/{sid}", {"properties": {"hs_name": "Imported"}}),
        ("PUT", f"/crm/v4/objects/subscriptions/{sid}/associations/contacts/5",
         [{"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": 295}]),
    ]  # fmt: skip


def test_an_unknown_property_is_a_usage_error_before_anything_is_sent(hub: MiniHub) -> None:
    with pytest.raises(UsageError):
        run(hub, [op(Update, 1, None, values={"no_such_property": "x"})])
    assert hub.log == []


CHARGE = Charge(
    amount=Decimal("10.00"), currency="USD", status="succeeded", method="card", created_at=AT
)
REFUND = RefundRecord(
    payment_id=9,
    amount=Decimal("5.00"),
    currency="USD",
    method="card",
    refunded_status="partially_refunded",
    created_at=AT,
)


@pytest.mark.parametrize(
    ("unsupported", "words"),
    [
        (lambda: op(Refund, 1, refunds=()), "refunds"),
        (lambda: op(Notify, 1), "e-mails"),
        (lambda: op(MarkUnpaid, 1, status="unpaid"), "billing simulation"),
        (lambda: op(Pay, 1, charge=CHARGE), "billing simulation"),
        (lambda: op(Bill, 1, values={}, kind="charge", day=AT.date(), outcome="paid",
                    old_status="active", new_status="active"), "billing simulation"),
        (lambda: op(Pause, 1, resume_on=dt.date(2027, 1, 1)), "resume date"),
        (lambda: op(Cancel, 1, refunds=(REFUND,)), "refund"),
    ],
)  # fmt: skip
def test_what_hubspot_cannot_do_is_refused_before_anything_is_sent(
    hub: MiniHub, unsupported: Any, words: str
) -> None:
    sid = hub.add(hs_status="active")
    with pytest.raises(InvalidState) as caught:
        run(hub, [op(Cancel, sid), unsupported()])
    assert caught.value.exit_code == 5
    assert words in caught.value.message and "nothing was sent" in caught.value.message
    assert hub.log == []


# -- lost answers ------------------------------------------------------------------------------


@pytest.mark.parametrize("fault", ["timeout-after", "5xx-after"])
def test_a_cancel_applied_whose_answer_was_lost_is_not_sent_again(hub: MiniHub, fault: str) -> None:
    sid = hub.add(hs_status="active")
    hub.script.extend(["", fault])  # the status read, then the cancel
    calls = run(hub, [op(Cancel, sid)])
    assert [(m, p) for m, p, _ in calls] == [
        ("GET", f"{OBJECTS}/{sid}"),
        ("POST", f"{LIFECYCLE}/{sid}/cancel"),
        ("GET", f"{OBJECTS}/{sid}"),  # read again: canceled, so done
    ]
    assert hub.applied[sid, "cancel"] == 1


@pytest.mark.parametrize("fault", ["timeout", "5xx"])
def test_a_cancel_not_applied_is_sent_again_after_the_read(hub: MiniHub, fault: str) -> None:
    sid = hub.add(hs_status="active")
    hub.script.extend(["", fault])
    calls = run(hub, [op(Cancel, sid)])
    assert [(m, p) for m, p, _ in calls] == [
        ("GET", f"{OBJECTS}/{sid}"),
        ("POST", f"{LIFECYCLE}/{sid}/cancel"),
        ("GET", f"{OBJECTS}/{sid}"),  # still active: not applied, safe to send again
        ("POST", f"{LIFECYCLE}/{sid}/cancel"),
    ]
    assert hub.applied[sid, "cancel"] == 1
    assert hub.records[sid]["hs_status"] == "canceled"


def test_a_cancel_that_keeps_failing_stays_in_doubt(hub: MiniHub) -> None:
    sid = hub.add(hs_status="active")
    hub.script.extend(["", "5xx"] * IN_DOUBT_ATTEMPTS)
    with pytest.raises(InDoubt):
        run(hub, [op(Cancel, sid)])
    assert hub.applied[sid, "cancel"] == 0


def test_a_record_changed_meanwhile_after_a_lost_answer_is_a_conflict(hub: MiniHub) -> None:
    sid = hub.add(hs_status="active")
    hub.script.extend(["", "5xx"])
    original = hub._route

    def route(request: Any, body: Any) -> Any:  # someone pauses it in HubSpot meanwhile
        if request.method == "GET" and len(hub.log) == 3:
            hub.records[sid]["hs_status"] = "paused"
        return original(request, body)

    hub._route = route  # type: ignore[method-assign]
    with pytest.raises(Conflict) as caught:
        run(hub, [op(Cancel, sid)])
    assert caught.value.message == (
        f"subscription {sid} is paused now after an unconfirmed cancel, not active; "
        "nothing more was sent"
    )
