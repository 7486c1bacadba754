"""``writes.execute``: each operation to its HubSpot call and body, checks before anything is
sent, and a lifecycle call whose answer was lost resolved by re-reading the record."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import httpx
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
from tests.fakehub import FakeHubSpot
from tests.vclock import VirtualClock

AT = dt.datetime(2026, 11, 26, 12, 0, tzinfo=dt.UTC)
LIFECYCLE = "/payments-subscriptions/v1/subscriptions/crm"
OBJECTS = "/crm/v3/objects/subscriptions"


class Hub:
    """The fake HubSpot, a client over it, and faults or changes scripted per request."""

    def __init__(self) -> None:
        self.clock = VirtualClock()
        self.fake = FakeHubSpot(clock=self.clock)
        self.before: dict[int, Callable[[], None]] = {}  # request number -> what happens first
        self.count = 0

    def handle(self, request: httpx.Request) -> httpx.Response:
        self.count += 1
        if self.count in self.before:
            self.before[self.count]()
        return self.fake.handle(request)

    def add(self, **values: Any) -> int:
        return self.fake.seed([values])[0]

    def status(self, sid: int) -> str | None:
        return self.fake.subscription(sid)["hs_status"]


@pytest.fixture
def hub() -> Hub:
    return Hub()


def run(hub: Hub, ops: list[Any]) -> list[tuple[str, str, Any]]:
    client = HubSpotClient("https://api.hubapi.com", "pat-test-token",
                           transport=httpx.MockTransport(hub.handle), clock=hub.clock,
                           sleep=hub.clock.sleep)  # fmt: skip
    start = len(hub.fake.requests)
    try:
        execute(client, ops, standard_registry())
    finally:
        client.close()
    return [(e.method, e.path, e.json) for e in hub.fake.requests[start:]]


def op(cls: type[Op], sid: int, expect: str | None = "active", **fields: Any) -> Any:
    return cls(subscription_id=sid, expect_status=expect, at=AT, source="test", **fields)


def test_cancel_reads_the_status_then_posts_cancel_without_a_body(hub: Hub) -> None:
    sid = hub.add(hs_status="active")
    assert run(hub, [op(Cancel, sid)]) == [
        ("GET", f"{OBJECTS}/{sid}", None),
        ("POST", f"{LIFECYCLE}/{sid}/cancel", None),
    ]
    assert hub.status(sid) == "canceled"


def test_pause_sends_its_reason_or_an_empty_object(hub: Hub) -> None:
    a, b = hub.add(hs_status="active"), hub.add(hs_status="active")
    calls = run(hub, [op(Pause, a, reason="customer request"), op(Pause, b)])
    assert [c for c in calls if c[0] == "POST"] == [
        ("POST", f"{OBJECTS}/batch/read", {"inputs": [{"id": str(a)}, {"id": str(b)}],
                                           "properties": ["hs_status"]}),
        ("POST", f"{LIFECYCLE}/{a}/pause", {"pauseReason": "customer request"}),
        ("POST", f"{LIFECYCLE}/{b}/pause", {}),
    ]  # fmt: skip


def test_resume_proposes_the_next_billing_date_in_epoch_ms(hub: Hub) -> None:
    sid = hub.add(hs_status="paused")
    calls = run(hub, [op(Resume, sid, "paused", next_billing_date=dt.date(2026, 12, 15))])
    assert calls[-1] == ("POST", f"{LIFECYCLE}/{sid}/unpause",
                         {"proposedNextBillingDate": 1797292800000})  # fmt: skip
    assert hub.status(sid) == "active"


def test_a_status_that_moved_is_a_conflict_and_nothing_is_sent(hub: Hub) -> None:
    a, b = hub.add(hs_status="active"), hub.add(hs_status="paused")
    with pytest.raises(Conflict) as caught:
        run(hub, [op(Cancel, a), op(Cancel, b)])
    assert (
        caught.value.message == f"subscription {b} is paused now, not active; nothing was written"
    )
    assert [e.path for e in hub.fake.requests] == [f"{OBJECTS}/batch/read"]
    assert hub.status(a) == "active"


def test_a_record_gone_is_a_conflict(hub: Hub) -> None:
    with pytest.raises(Conflict) as caught:
        run(hub, [op(Cancel, 42)])
    assert caught.value.message == "subscription 42 is no longer in HubSpot; nothing was written"


def test_update_sends_wire_strings_and_clears_with_an_empty_string(hub: Hub) -> None:
    sid = hub.add(hs_status="active", hs_name="Old")
    update = op(Update, sid, values={"hs_name": "New", "hs_net_payment_terms": Decimal("30"),
                                     "hs_next_payment_due_date": dt.date(2026, 12, 15),
                                     "hs_invoice_comments": None})  # fmt: skip
    calls = run(hub, [update])
    assert calls[-1] == ("PATCH", f"{OBJECTS}/{sid}", {"properties": {
        "hs_name": "New", "hs_net_payment_terms": "30",
        "hs_next_payment_due_date": "1797292800000", "hs_invoice_comments": ""}})  # fmt: skip


def test_many_updates_go_as_batches_of_100(hub: Hub) -> None:
    ids = [hub.add(hs_status="active") for _ in range(250)]
    calls = run(hub, [op(Update, i, None, values={"hs_name": f"n{i}"}) for i in ids])
    assert [(m, p, len(b["inputs"])) for m, p, b in calls] == [
        ("POST", f"{OBJECTS}/batch/update", 100),
        ("POST", f"{OBJECTS}/batch/update", 100),
        ("POST", f"{OBJECTS}/batch/update", 50),
    ]
    assert all(hub.fake.subscription(i)["hs_name"] == f"n{i}" for i in ids)


def test_a_207_names_the_refused_updates(hub: Hub) -> None:
    a = hub.add(hs_status="active")
    with pytest.raises(Conflict) as caught:
        run(hub, [op(Update, a, None, values={"hs_name": "x"}),
                  op(Update, 999, None, values={"hs_name": "y"})])  # fmt: skip
    assert caught.value.message == (
        "HubSpot refused 1 of 2 updates (999): Could not update some SUBSCRIPTIONS objects, "
        "they may be deleted or not exist. Check that ids are valid; the other 1 were written"
    )
    assert hub.fake.subscription(a)["hs_name"] == "x"


def test_line_items_are_patched_with_their_quantity_and_price(hub: Hub) -> None:
    sid = hub.add(hs_status="active")
    line = hub.fake.add_record("line_items", {"name": "Seat", "quantity": "1", "price": "10"})
    item = LineItem(id=line, name="Seat", quantity=3, price=Decimal("12.50"))
    calls = run(hub, [op(Update, sid, values={}, line_items=(item,))])
    assert calls[-1] == ("PATCH", f"/crm/v3/objects/line_items/{line}",
                         {"properties": {"quantity": "3", "price": "12.50"}})  # fmt: skip


def test_cancel_at_period_end_patches_the_scheduled_cancellation_date(hub: Hub) -> None:
    sid = hub.add(hs_status="active")
    calls = run(hub, [op(CancelAtPeriodEnd, sid, end=dt.date(2026, 12, 15))])
    assert calls[-1] == (
        "PATCH",
        f"{OBJECTS}/{sid}",
        {"properties": {"hs_scheduled_cancellation_date": "1797292800000"}},
    )


def test_delete_archives_one_or_a_batch(hub: Hub) -> None:
    one = hub.add(hs_status="canceled")
    assert run(hub, [op(Delete, one, "canceled")])[-1] == ("DELETE", f"{OBJECTS}/{one}", None)
    many = [hub.add(hs_status="expired") for _ in range(3)]
    calls = run(hub, [op(Delete, i, "expired") for i in many])
    assert calls[-1] == ("POST", f"{OBJECTS}/batch/archive",
                         {"inputs": [{"id": str(i)} for i in many]})  # fmt: skip
    archived = {r.id for r in hub.fake.records["subscriptions"].values() if r.archived}
    assert archived == {one, *many}


def test_upsert_patches_and_associates(hub: Hub) -> None:
    sid = hub.add(hs_status="active")
    contact = hub.fake.add_record("contacts", {"email": "ana@example.com"})
    upsert = op(
        Upsert, sid, values={"hs_name": "Imported"}, associations=(("contacts", contact, 295),)
    )
    calls = run(hub, [upsert])
    assert calls[-2:] == [
        ("PATCH", f"{OBJECTS}/{sid}", {"properties": {"hs_name": "Imported"}}),
        ("PUT", f"/crm/v4/objects/subscriptions/{sid}/associations/contacts/{contact}",
         [{"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": 295}]),
    ]  # fmt: skip


def test_an_unknown_property_is_a_usage_error_before_anything_is_sent(hub: Hub) -> None:
    with pytest.raises(UsageError):
        run(hub, [op(Update, 1, None, values={"no_such_property": "x"})])
    assert hub.fake.requests == []


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
        (lambda: op(Upsert, 77, None, values={}, create=True), "own id"),
    ],
)  # fmt: skip
def test_what_hubspot_cannot_do_is_refused_before_anything_is_sent(
    hub: Hub, unsupported: Any, words: str
) -> None:
    sid = hub.add(hs_status="active")
    with pytest.raises(InvalidState) as caught:
        run(hub, [op(Cancel, sid), unsupported()])
    assert caught.value.exit_code == 5
    assert words in caught.value.message and "nothing was sent" in caught.value.message
    assert hub.fake.requests == []


# -- lost answers ------------------------------------------------------------------------------


def cancels(hub: Hub, sid: int) -> int:
    """Cancels HubSpot carried out: answered 204, or applied with the answer lost."""
    path = f"{LIFECYCLE}/{sid}/cancel"
    return sum(1 for e in hub.fake.requests if e.path == path
               and (e.status == 204 or (e.fault or "").startswith("lost-")))  # fmt: skip


@pytest.mark.parametrize("fault", ["lost-timeout", "lost-503"])
def test_a_cancel_applied_whose_answer_was_lost_is_not_sent_again(hub: Hub, fault: str) -> None:
    sid = hub.add(hs_status="active")
    hub.before[2] = lambda: hub.fake.inject(fault)  # the cancel, after the status read
    calls = run(hub, [op(Cancel, sid)])
    assert [(m, p) for m, p, _ in calls] == [
        ("GET", f"{OBJECTS}/{sid}"),
        ("POST", f"{LIFECYCLE}/{sid}/cancel"),
        ("GET", f"{OBJECTS}/{sid}"),  # read again: canceled, so done
    ]
    assert cancels(hub, sid) == 1
    assert hub.status(sid) == "canceled"


@pytest.mark.parametrize("fault", ["timeout", "503"])
def test_a_cancel_not_applied_is_sent_again_after_the_read(hub: Hub, fault: str) -> None:
    sid = hub.add(hs_status="active")
    hub.before[2] = lambda: hub.fake.inject(fault)
    calls = run(hub, [op(Cancel, sid)])
    assert [(m, p) for m, p, _ in calls] == [
        ("GET", f"{OBJECTS}/{sid}"),
        ("POST", f"{LIFECYCLE}/{sid}/cancel"),
        ("GET", f"{OBJECTS}/{sid}"),  # still active: not applied, safe to send again
        ("POST", f"{LIFECYCLE}/{sid}/cancel"),
    ]
    assert cancels(hub, sid) == 1
    assert hub.status(sid) == "canceled"


def test_a_cancel_that_keeps_failing_stays_in_doubt(hub: Hub) -> None:
    sid = hub.add(hs_status="active")
    for n in range(2, 2 * IN_DOUBT_ATTEMPTS + 1, 2):  # every cancel; the reads succeed
        hub.before[n] = lambda: hub.fake.inject("503")
    with pytest.raises(InDoubt):
        run(hub, [op(Cancel, sid)])
    assert cancels(hub, sid) == 0
    assert len(hub.fake.requests) == 1 + 2 * IN_DOUBT_ATTEMPTS  # the read, then each
    # cancel and the read that found it not applied


def test_a_record_changed_meanwhile_after_a_lost_answer_is_a_conflict(hub: Hub) -> None:
    sid = hub.add(hs_status="active")
    hub.before[2] = lambda: hub.fake.inject("503")
    hub.before[3] = lambda: hub.fake.modify(sid, hs_status="paused")  # someone, in HubSpot
    with pytest.raises(Conflict) as caught:
        run(hub, [op(Cancel, sid)])
    assert caught.value.message == (
        f"subscription {sid} is paused now after an unconfirmed cancel, not active; "
        "nothing more was sent"
    )
