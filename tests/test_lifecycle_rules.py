"""Lifecycle rules (``subctl.services.lifecycle``) and refund arithmetic
(``subctl.billing``): pure functions, no workspace."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from subctl.billing import monthly_recurring, period_start, prorate, quantum
from subctl.commands._hints import hint, word
from subctl.errors import UsageError
from subctl.schema import STATUSES, standard_registry
from subctl.services import batch
from subctl.services.lifecycle import (
    SNAPSHOT_FIELDS,
    Action,
    Context,
    Decision,
    Outcome,
    Target,
    build_action,
    decide,
    edit_freeze,
)
from subctl.store import ops
from subctl.store.base import Payment, Subscription
from subctl.store.ops import charges_of

pytestmark = pytest.mark.backends("sqlite", "postgresql")

NOW = dt.datetime(2026, 11, 26, 12, 0, tzinfo=dt.UTC)
TODAY = NOW.date()
REG = standard_registry()
OK, SKIP, FAIL = Outcome.OK, Outcome.SKIPPED, Outcome.FAILED


def sub(status: str, **props: object) -> Subscription:
    values: dict[str, object] = {
        "hs_name": "Acme – Pro monthly",
        "hs_status": status,
        "hs_next_payment_due_date": dt.date(2026, 12, 20),
        "hs_next_payment_amount": Decimal("99.00"),
        "hs_currency_code": "USD",
        "hs_invoice_creation": "on",
        "hs_recurring_billing_frequency": "monthly",
        "hs_mrr": Decimal("99.00"),
        "hs_createdate": dt.datetime(2025, 1, 1, tzinfo=dt.UTC),
    }
    values.update(props)
    return Subscription(1, values)


def run(
    action: Action,
    subscription: Subscription | None,
    payments: tuple[Payment, ...] = (),
    email: str | None = "ada@example.com",
    values: dict[str, object] | None = None,
) -> Decision:
    ctx = Context(now=NOW, verb=action.verb, values=values or {}, job_id=7)
    d = decide(action, Target(1, subscription, payments, email), ctx)
    if d.op is not None and subscription is not None:
        _SEEN[id(d.op)] = subscription
    return d


_SEEN: dict[int, Subscription] = {}


def changes(op: ops.Op | None) -> dict[str, tuple[object, object]]:
    """What the operation changes, as the local store derives it: property -> (old, new)."""
    assert op is not None
    before = _SEEN[id(op)].properties
    return {k: (before.get(k), v) for k, v in ops.changes(op, before).items()}


# -- the transition table: every verb x every status ------------------------------------------

STATUS_NAMES = [s.value for s in STATUSES]
EXPECTED = {
    # verb:        active unpaid past_due canceled expired scheduled paused
    "cancel":      (OK,   OK,    OK,      SKIP,    FAIL,   OK,       OK),
    "cancel_end":  (OK,   FAIL,  FAIL,    SKIP,    FAIL,   FAIL,     FAIL),
    "pause":       (OK,   FAIL,  FAIL,    FAIL,    FAIL,   FAIL,     SKIP),
    "resume":      (SKIP, FAIL,  FAIL,    FAIL,    FAIL,   FAIL,     OK),
    "pay":         (SKIP, OK,    OK,      FAIL,    FAIL,   FAIL,     FAIL),
    "delete":      (FAIL, FAIL,  FAIL,    OK,      OK,     FAIL,     FAIL),
    "update":      (OK,   FAIL,  FAIL,    FAIL,    FAIL,   OK,       FAIL),
    "send-update-link": (OK, OK, OK,      FAIL,    FAIL,   OK,       OK),
    "mark_unpaid": (OK,   SKIP,  OK,      FAIL,    FAIL,   FAIL,     FAIL),
    "mark_past_due": (OK, FAIL,  SKIP,    FAIL,    FAIL,   FAIL,     FAIL),
}  # fmt: skip
RESULT = {
    "cancel": "canceled",
    "cancel_end": "active",
    "pause": "paused",
    "resume": "active",
    "pay": "active",
    "delete": None,
    "update": None,  # unchanged
    "send-update-link": None,
    "mark_unpaid": "unpaid",
    "mark_past_due": "past_due",
}


def _action(verb: str) -> tuple[Action, dict[str, object]]:
    if verb == "cancel_end":
        return Action("cancel", at_period_end=True), {}
    if verb == "resume":
        return Action("resume", next_billing_date=dt.date(2027, 1, 1)), {}
    if verb == "update":
        return Action("update", values=(("hs_name", "Renamed"),)), {"hs_name": "Renamed"}
    if verb == "mark_unpaid":
        return Action("update", values=(("hs_status", "unpaid"),)), {"hs_status": "unpaid"}
    if verb == "mark_past_due":
        return Action("update", values=(("hs_status", "past_due"),)), {"hs_status": "past_due"}
    return Action(verb), {}


@pytest.mark.parametrize("verb", list(EXPECTED))
@pytest.mark.parametrize("index", range(len(STATUS_NAMES)), ids=STATUS_NAMES)
def test_transition_table(verb: str, index: int) -> None:
    status = STATUS_NAMES[index]
    action, values = _action(verb)
    d = run(action, sub(status), values=values)
    expected = EXPECTED[verb][index]
    assert d.outcome is expected, (verb, status, d.note)
    if expected is FAIL:
        assert f"status is {status}" in d.note
        assert d.op is None
    elif expected is SKIP:
        assert d.op is None and d.note.startswith("already")
    else:
        m = d.op
        assert m is not None and m.expect_status == status
        if verb == "delete":
            assert isinstance(m, ops.Delete) and d.new_status is None
        else:
            assert d.new_status == (RESULT[verb] or status)
            if RESULT[verb] and RESULT[verb] != status:
                assert changes(m)["hs_status"] == (status, RESULT[verb])


def test_every_status_is_covered() -> None:
    assert len(STATUS_NAMES) == 7 and all(len(row) == 7 for row in EXPECTED.values())


def test_missing_subscription() -> None:
    assert run(Action("cancel"), None).outcome is FAIL
    assert run(Action("delete"), None).note == "already deleted"


def test_frozen_plan_skips_changed_status() -> None:
    ctx = Context(now=NOW, verb="cancel")
    target = Target(1, sub("active"), planned_status="unpaid", frozen=True)
    d = decide(Action("cancel"), target, ctx)
    assert d.outcome is SKIP and d.note == "status changed since the plan (unpaid → active)"


# -- what each verb changes ---------------------------------------------------------------------


def test_cancel_changes_and_mail() -> None:
    d = run(Action("cancel"), sub("active"))
    m = d.op
    assert changes(m)["hs_status"] == ("active", "canceled")
    assert changes(m)["hs_canceled_at"] == (None, NOW)
    assert changes(m)["hs_next_payment_due_date"] == (dt.date(2026, 12, 20), None)
    assert changes(m)["hs_next_payment_amount"][1] is None
    assert changes(m)["hs_mrr"] == (Decimal("99.00"), Decimal("0.00"))
    assert changes(m)["hs_lastmodifieddate"][1] == NOW
    assert m.source == "subctl cancel (job 7)"
    (mail,) = m.messages
    assert mail.kind == "cancellation" and mail.recipient == "ada@example.com"
    assert "You will not be charged again" in mail.body and mail.job_id == 7


def test_cancel_without_contact_records_no_mail() -> None:
    d = run(Action("cancel"), sub("active"), email=None)
    assert d.outcome is OK and d.op.messages == ()
    assert "no contact e-mail" in d.note


def test_cancel_at_period_end() -> None:
    d = run(Action("cancel", at_period_end=True), sub("active"))
    m = d.op
    assert "hs_status" not in changes(m)
    assert changes(m)["hs_scheduled_cancellation_date"] == (None, dt.date(2026, 12, 20))
    assert changes(m)["hs_next_payment_due_date"] == (dt.date(2026, 12, 20), None)
    assert "will end on 2026-12-20" in m.messages[0].subject
    again = run(
        Action("cancel", at_period_end=True),
        sub("active", hs_scheduled_cancellation_date=dt.date(2026, 12, 20)),
    )
    assert again.outcome is SKIP
    no_due = run(Action("cancel", at_period_end=True), sub("active", hs_next_payment_due_date=None))
    assert no_due.outcome is FAIL


def test_pause_and_resume() -> None:
    paused = run(Action("pause", reason="on leave"), sub("active")).op
    assert changes(paused)["hs_pause_reason"] == (None, "on leave")
    resumed = run(
        Action("resume", next_billing_date=dt.date(2027, 2, 1)),
        sub("paused", hs_pause_reason="on leave"),
    ).op
    assert changes(resumed)["hs_next_payment_due_date"][1] == dt.date(2027, 2, 1)
    assert changes(resumed)["hs_pause_reason"] == ("on leave", None)


def test_a_paused_subscription_earns_no_mrr() -> None:
    """Pausing sets MRR to 0; resuming restores the next payment amount per month."""
    paused = run(Action("pause"), sub("active")).op
    assert changes(paused)["hs_mrr"] == (Decimal("99.00"), Decimal("0.00"))
    resume = Action("resume", next_billing_date=dt.date(2027, 2, 1))
    quarterly = sub("paused", hs_mrr=Decimal("0.00"), hs_next_payment_amount=Decimal("300.00"),
                    hs_recurring_billing_frequency="quarterly", hs_currency_code="USD")  # fmt: skip
    assert changes(run(resume, quarterly).op)["hs_mrr"] == (Decimal("0.00"), Decimal("100.00"))
    no_amount = sub("paused", hs_mrr=Decimal("0.00"), hs_next_payment_amount=None)
    assert changes(run(resume, no_amount).op)["hs_mrr"][1] == Decimal("0.00")
    assert {"hs_mrr", "hs_next_payment_amount", "hs_recurring_billing_frequency",
            "hs_currency_code"} <= set(resume.fields())  # fmt: skip
    assert "hs_mrr" in Action("pause").fields()


@pytest.mark.parametrize(
    ("amount", "currency", "frequency", "mrr"),
    [
        ("99.00", "USD", "monthly", "99.00"),
        ("300.00", "USD", "quarterly", "100.00"),
        ("1200.00", "EUR", "annually", "100.00"),
        ("10.00", "USD", "weekly", "43.33"),
        ("10.00", "USD", "biweekly", "21.67"),
        ("100.00", "USD", "per_six_months", "16.67"),
        ("2400", "JPY", "per_two_years", "100"),
    ],
)
def test_monthly_recurring(amount: str, currency: str, frequency: str, mrr: str) -> None:
    value = monthly_recurring(Decimal(amount), currency, frequency)
    assert (
        value == Decimal(mrr) and value.as_tuple().exponent == quantum(currency).as_tuple().exponent
    )


# A scheduled cancellation (cancel --at-period-end) promised "never charged again": nothing may
# bring a next payment back, only an immediate cancellation still applies.
SCHEDULED_CANCELLATION = {
    # verb: (status, outcome)
    "update": ("active", FAIL),
    "pause": ("active", FAIL),
    "resume": ("paused", FAIL),
    "cancel": ("active", OK),
    "cancel_end": ("active", SKIP),
    "send-update-link": ("active", OK),
}


@pytest.mark.parametrize("verb", list(SCHEDULED_CANCELLATION))
def test_scheduled_cancellation_transitions(verb: str) -> None:
    status, expected = SCHEDULED_CANCELLATION[verb]
    action, values = _action(verb)
    scheduled = sub(status, hs_scheduled_cancellation_date=dt.date(2026, 12, 20),
                    hs_next_payment_due_date=None, hs_next_payment_amount=None)  # fmt: skip
    d = run(action, scheduled, values=values)
    assert d.outcome is expected, d.note
    if expected is FAIL:
        assert d.op is None
        assert d.note.startswith(f"cannot {action.verb}: the subscription is scheduled to cancel")
        assert "on 2026-12-20" in d.note


@pytest.mark.parametrize("verb", ["update", "pause", "resume"])
def test_scheduled_cancellation_is_in_the_snapshot(verb: str) -> None:
    action, _values = _action(verb)
    assert "hs_scheduled_cancellation_date" in action.fields()


def test_mark_unpaid_records_update_link_mail() -> None:
    d = run(*_mark_unpaid())
    (mail,) = d.op.messages
    assert mail.kind == "payment_method_update" and mail.link and mail.link in mail.body


def test_mark_unpaid_records_the_failed_payment() -> None:
    d = run(*_mark_unpaid())
    assert d.op is not None
    (charge,) = charges_of(d.op)
    assert (charge.amount, charge.currency, charge.status, charge.method, charge.created_at) == (
        Decimal("99.00"),
        "USD",
        "failed",
        "card",
        NOW,
    )
    assert changes(d.op)["hs_last_payment_status"] == (None, "failed")
    assert "failed payment of 99.00 USD recorded" in d.note
    action, values = _action("mark_unpaid")
    no_amount = run(action, sub("active", hs_next_payment_amount=None), values=values)
    assert no_amount.outcome is FAIL and "no next payment amount" in no_amount.note
    past_due = run(*_action("mark_past_due")[:1], sub("active"),
                   values=_action("mark_past_due")[1])  # fmt: skip
    assert past_due.op is not None and charges_of(past_due.op) == ()


@pytest.mark.parametrize(
    ("frequency", "due", "next_due"),
    [
        ("monthly", dt.date(2026, 11, 20), dt.date(2026, 12, 20)),
        ("monthly", dt.date(2027, 1, 31), dt.date(2027, 2, 28)),
        ("annually", dt.date(2026, 11, 20), dt.date(2027, 11, 20)),
        ("weekly", dt.date(2026, 11, 20), dt.date(2026, 11, 27)),
    ],
)
def test_pay_records_a_succeeded_payment_and_settles_one_cycle(
    frequency: str, due: dt.date, next_due: dt.date
) -> None:
    s = sub("unpaid", hs_recurring_billing_frequency=frequency, hs_next_payment_due_date=due,
            hs_payment_method="ACH - 1117", hs_last_payment_status="failed")  # fmt: skip
    d = run(Action("pay"), s)
    assert d.outcome is OK and d.new_status == "active"
    assert d.op is not None and isinstance(d.op, ops.Pay)
    (charge,) = charges_of(d.op)
    assert (charge.amount, charge.currency, charge.status, charge.method) == (
        Decimal("99.00"),
        "USD",
        "succeeded",
        "ach",
    )
    changed = changes(d.op)
    assert changed["hs_status"] == ("unpaid", "active")
    assert changed["hs_last_payment_status"] == ("failed", "succeeded")
    assert changed["hs_last_payment_amount"] == (None, Decimal("99.00"))
    assert changed["hs_next_payment_due_date"] == (due, next_due)
    assert d.note == f"paid 99.00 USD; next payment due {next_due}"


def test_pay_waits_for_a_pending_bank_payment() -> None:
    ach = Payment(900, Decimal("99.00"), "USD", "processing", "ach", "payment", NOW)
    d = run(Action("pay"), sub("unpaid"), (ach,))
    assert d.outcome is FAIL and d.op is None
    assert (
        d.note
        == "bank payment 900 (99.00 USD) is still processing: it settles the debt when it succeeds"
    )
    assert Action("pay").needs_payments


def test_pay_needs_an_amount_due() -> None:
    d = run(Action("pay"), sub("past_due", hs_next_payment_amount=None))
    assert d.outcome is FAIL and d.note == (
        "cannot record the payment: no next payment amount: no payment is due"
    )
    assert run(Action("pay"), sub("active")).note == "already active"


def _mark_unpaid() -> tuple[Action, Subscription, tuple[Payment, ...], str, dict[str, object]]:
    action, values = _action("mark_unpaid")
    return action, sub("active"), (), "ada@example.com", values


def test_send_update_link_needs_a_recipient() -> None:
    d = run(Action("send-update-link"), sub("unpaid"), email=None)
    assert d.outcome is FAIL and "no contact" in d.note
    link = run(Action("send-update-link"), sub("unpaid")).message.link
    assert link == run(Action("send-update-link"), sub("unpaid")).message.link


def test_update_without_change_is_skipped() -> None:
    d = run(Action("update", values=(("hs_name", "Acme – Pro monthly"),)), sub("active"),
            values={"hs_name": "Acme – Pro monthly"})  # fmt: skip
    assert d.outcome is SKIP and d.note == "no change"


# -- the 2-day edit rule ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("days", "frozen"),
    [(-1, False), (0, True), (1, True), (2, True), (3, False), (30, False), (None, False)],
)
def test_two_day_edit_rule(days: int | None, frozen: bool) -> None:
    due = None if days is None else TODAY + dt.timedelta(days=days)
    assert (edit_freeze(due, TODAY) is not None) is frozen
    d = run(
        Action("update", values=(("hs_name", "X"),)),
        sub("active", hs_next_payment_due_date=due),
        values={"hs_name": "X"},
    )
    assert d.outcome is (FAIL if frozen else OK)
    if frozen:
        assert "within 2 days of their next payment" in d.note


def test_status_edit_is_not_subject_to_the_two_day_rule() -> None:
    action, values = _action("mark_unpaid")
    d = run(action, sub("active", hs_next_payment_due_date=TODAY), values=values)
    assert d.outcome is OK


# -- refunds ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("paid", "currency", "frequency", "end", "start", "days", "unused", "refund"),
    [
        ("99.00", "USD", "monthly", "2026-12-01", "2026-11-01", 30, 5, "16.50"),
        ("300.00", "USD", "quarterly", "2026-12-01", "2026-09-01", 91, 5, "16.48"),
        ("1200.00", "EUR", "annually", "2026-12-01", "2025-12-01", 365, 5, "16.44"),
        ("70.00", "USD", "weekly", "2026-12-01", "2026-11-24", 7, 5, "50.00"),
        ("140.00", "GBP", "biweekly", "2026-12-01", "2026-11-17", 14, 5, "50.00"),
        ("600.00", "USD", "per_six_months", "2026-12-01", "2026-06-01", 183, 5, "16.39"),
        ("2400.00", "USD", "per_two_years", "2026-12-01", "2024-12-01", 730, 5, "16.44"),
        # half a cent rounds up (ROUND_HALF_UP; half-even would give 0.02)
        ("0.35", "USD", "biweekly", "2026-11-27", "2026-11-13", 14, 1, "0.03"),
        ("0.21", "USD", "biweekly", "2026-11-27", "2026-11-13", 14, 1, "0.02"),
        # currencies without / with three minor digits
        ("1000", "JPY", "monthly", "2026-12-01", "2026-11-01", 30, 5, "167"),
        ("10.000", "KWD", "monthly", "2026-12-01", "2026-11-01", 30, 5, "1.667"),
        # a period ending on the 31st began on the last day of the shorter month
        ("31.00", "USD", "monthly", "2027-03-31", "2027-02-28", 31, 31, "31.00"),
        # the period already ended: nothing unused
        ("99.00", "USD", "monthly", "2026-11-20", "2026-10-20", 31, 0, "0.00"),
        # canceled before the period began: everything unused, never more than paid
        ("99.00", "USD", "monthly", "2027-06-01", "2027-05-01", 31, 31, "99.00"),
    ],
)
def test_prorata_refund(
    paid: str,
    currency: str,
    frequency: str,
    end: str,
    start: str,
    days: int,
    unused: int,
    refund: str,
) -> None:
    pro = prorate(Decimal(paid), currency, frequency, dt.date.fromisoformat(end), NOW)
    assert pro.period_start == dt.date.fromisoformat(start)
    assert (pro.period_days, pro.unused_days) == (days, unused)
    assert pro.refund == Decimal(refund)
    assert pro.refund.as_tuple().exponent == quantum(currency).as_tuple().exponent


def test_unknown_frequency() -> None:
    with pytest.raises(ValueError, match="unknown billing frequency"):
        period_start(TODAY, "fortnightly")


def pay(
    pid: int, status: str, method: str = "card", kind: str = "payment", **kw: object
) -> Payment:
    return Payment(pid, Decimal(str(kw.pop("amount", "99.00"))), "USD", status, method, kind,
                   dt.datetime(2026, 11, 1, 9, tzinfo=dt.UTC), **kw)  # type: ignore[arg-type]  # fmt: skip


def test_cancel_refunds_unused_days_of_the_latest_payment() -> None:
    active = sub("active", hs_next_payment_due_date=dt.date(2026, 12, 1))
    d = run(
        Action("cancel", refund_unused=True), active, (pay(1, "succeeded"), pay(2, "succeeded"))
    )
    (refund,) = d.op.refunds
    assert (refund.payment_id, refund.amount, refund.refunded_status) == (
        2, Decimal("16.50"), "partially_refunded")  # fmt: skip
    assert changes(d.op)["hs_last_payment_status"][1] == "partially_refunded"
    assert "refund 16.50 USD for 5 of 30 unused days" in d.note
    assert "16.50 USD" in d.op.messages[0].body


@pytest.mark.parametrize(
    ("status", "due"),
    [
        ("paused", dt.date(2026, 12, 15)),  # the resume date, inside the paid period
        ("paused", dt.date(2027, 1, 15)),  # the resume date, after it
        ("active", dt.date(2027, 1, 15)),  # resumed with a next billing date after it
        ("active", None),  # scheduled to cancel: the due date was cleared
    ],
)
def test_refund_is_of_the_period_paid(status: str, due: dt.date | None) -> None:
    """29.00 paid on 11-18 for a monthly period (11-18 to 12-18), canceled on 11-26: 22 of 30
    days are unused, whatever a resume date says."""
    paid = Payment(5, Decimal("29.00"), "USD", "succeeded", "card", "payment",
                   dt.datetime(2026, 11, 18, 10, tzinfo=dt.UTC))  # fmt: skip
    d = run(
        Action("cancel", refund_unused=True), sub(status, hs_next_payment_due_date=due), (paid,)
    )
    assert d.outcome is OK and d.refund == Decimal("21.27")
    assert "refund 21.27 USD for 22 of 30 unused days (2026-11-18 to 2026-12-18)" in d.note


def test_a_late_payment_pays_the_period_up_to_the_next_due_date() -> None:
    """An invoice paid 5 days late (11-06) still paid the period 11-01 to 12-01."""
    paid = Payment(5, Decimal("99.00"), "USD", "succeeded", "card", "payment",
                   dt.datetime(2026, 11, 6, 10, tzinfo=dt.UTC))  # fmt: skip
    active = sub("active", hs_next_payment_due_date=dt.date(2026, 12, 1))
    d = run(Action("cancel", refund_unused=True), active, (paid,))
    assert "refund 16.50 USD for 5 of 30 unused days (2026-11-01 to 2026-12-01)" in d.note


@pytest.mark.parametrize(
    ("payments", "why"),
    [
        ((), "no payment to refund"),
        ((pay(1, "failed"),), "the period's payment 1 failed"),
        ((pay(1, "succeeded"), pay(2, "succeeded", kind="refund", refunds_payment_id=1)),
         "payment 1 was already refunded"),
        ((pay(1, "partially_refunded"),), "payment 1 was already refunded"),
        ((pay(1, "processing", "ach"),), "the period's payment 1 is still pending"),
    ],
)  # fmt: skip
def test_no_refund_twice_or_of_unpaid_periods(payments: tuple[Payment, ...], why: str) -> None:
    active = sub("active", hs_next_payment_due_date=dt.date(2026, 12, 1))
    d = run(Action("cancel", refund_unused=True), active, payments)
    pending = any(p.pending_bank_payment for p in payments)
    assert d.outcome is (Outcome.ATTENTION if pending else OK) and d.op.refunds == ()
    assert f"no refund: {why}" in d.note


def test_pending_bank_payment_warning_and_explicit_refund() -> None:
    payments = (pay(1, "succeeded"), pay(900, "processing", "ach", amount="1200.00"))
    d = run(Action("cancel"), sub("unpaid"), payments)
    assert d.op.refunds == ()
    (warning,) = d.warnings
    assert "pending bank payment 900 (1200.00 USD) is neither canceled nor refunded" in warning.text
    d = run(Action("cancel", refund_pending=True), sub("unpaid"), payments)
    assert d.warnings == []
    (refund,) = d.op.refunds
    assert (refund.payment_id, refund.amount, refund.refunded_status) == (
        900, Decimal("1200.00"), "refunded")  # fmt: skip
    assert changes(d.op)["hs_last_payment_status"][1] == "refunded"


def test_a_payment_of_two_subscriptions_is_refunded_once_per_batch() -> None:
    """Both subscriptions see the same (unrefunded) payment in their snapshot: the decisions of
    one batch share ``Context.refunding``, so only the first refunds it."""
    ctx = Context(now=NOW, verb="cancel", job_id=7)
    action = Action("cancel", refund_unused=True)
    shared = (pay(1, "succeeded"),)
    due = dt.date(2026, 12, 1)
    first = decide(action, Target(1, sub("active", hs_next_payment_due_date=due), shared), ctx)
    other = Subscription(2, dict(sub("active", hs_next_payment_due_date=due).properties))
    second = decide(action, Target(2, other, shared), ctx)
    assert [r.payment_id for r in first.op.refunds] == [1]
    assert second.outcome is OK and second.op.refunds == () and second.refund is None
    assert "no refund: payment 1 is refunded with subscription 1" in second.note
    assert ctx.refunding == {1: 1}
    again = decide(action, Target(1, sub("active", hs_next_payment_due_date=due), shared), ctx)
    assert [r.payment_id for r in again.op.refunds] == [1]  # decided again: its own


def test_a_pending_payment_of_two_subscriptions_is_refunded_once_per_batch() -> None:
    ctx = Context(now=NOW, verb="cancel")
    action = Action("cancel", refund_pending=True)
    shared = (pay(900, "processing", "ach", amount="1200.00"),)
    first = decide(action, Target(1, sub("unpaid"), shared), ctx)
    second = decide(action, Target(2, Subscription(2, dict(sub("unpaid").properties)), shared), ctx)
    assert [r.payment_id for r in first.op.refunds] == [900]
    assert second.op.refunds == () and second.refund is None and second.warnings == []
    assert "pending bank payment 900 refunded with subscription 1" in second.note


# -- options ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("verb", "kwargs", "message"),
    [
        ("cancel", {"refund": "all"}, 'is not supported; use --refund unused'),
        ("cancel", {"refund": "unused", "at_period_end": True}, "cannot be combined"),
        ("cancel", {"refund_pending": True, "at_period_end": True}, "immediate cancellation"),
        ("resume", {}, "needs --next-billing-date"),
        ("resume", {"next_billing_date": "2026-11-01"}, "is in the past"),
        ("resume", {"next_billing_date": "soon"}, "is not a date"),
        ("update", {}, "at least one --set"),
        ("update", {"assignments": ["nme=x"]}, 'unknown property "nme"'),
        ("update", {"assignments": ["name"]}, "is not PROPERTY=VALUE"),
        ("update", {"assignments": ["created=2026-01-01"]}, "createdate is read-only"),
        ("update", {"assignments": ["canceled_at=2026-01-01"]}, "read-only"),
        ("update", {"assignments": ["status=canceled"]}, "cannot be set to \"canceled\""),
        ("update", {"assignments": ["status=unpaid", "name=x"]}, "on its own"),
        ("update", {"assignments": ["frequency=daily"]}, "is not an option"),
        ("update", {"assignments": ["next_payment_amount=lots"]}, "is not a number"),
        ("update", {"assignments": ["due=2026-01-01"]}, "is in the past"),
    ],
)  # fmt: skip
def test_bad_options_are_usage_errors(verb: str, kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(UsageError) as caught:
        build_action(verb, registry=REG, today=TODAY, **kwargs)  # type: ignore[arg-type]
    word(caught.value)  # the options named as the command line names them
    assert message in caught.value.message


def test_update_values_are_canonical_and_round_trip() -> None:
    action = build_action(
        "update", registry=REG, today=TODAY,
        assignments=["due=+30d", "Billing frequency=Quarterly", "next_payment_amount=12.5"],
    )  # fmt: skip
    assert action.values == (
        ("hs_next_payment_due_date", "2026-12-26"),
        ("hs_recurring_billing_frequency", "quarterly"),
        ("hs_next_payment_amount", "12.5"),
    )
    assert Action.from_json(action.to_json()) == action


# -- batch helpers -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "ids"),
    [
        ("1\n2\n\n# comment\n3  # trailing\n2\n", [1, 2, 3, 2]),
        ('id,name\n5,Acme\n6,"Globex, Inc"\n', [5, 6]),
        ("\ufeffRecord ID;x\n", None),  # not CSV (no comma), so a bad id on line 1
        ("Name,Record ID\nAcme,7\n,\nGlobex,8\n", [7, 8]),
        ("hs_object_id\n9\n10\n", [9, 10]),
    ],
)
def test_parse_id_file(text: str, ids: list[int] | None) -> None:
    if ids is None:
        with pytest.raises(UsageError, match=r"f:1: .* is not a subscription id"):
            batch.parse_id_file(text, "f")
    else:
        assert batch.parse_id_file(text, "f") == ids


def test_parse_id_file_errors() -> None:
    with pytest.raises(UsageError, match='f:2: "x" is not a subscription id'):
        batch.parse_id_file("1\nx\n", "f")
    with pytest.raises(UsageError, match="no id column"):
        batch.parse_id_file("name,email\na,b\n", "f")
    with pytest.raises(UsageError, match='f:1: "-3"'):
        batch.parse_id_file("-3\n", "f")
    with pytest.raises(UsageError, match='f:1: "9223372036854775808" is not a subscription id'):
        batch.parse_id_file("9223372036854775808\n", "f")  # beyond SQLite's 64-bit integers
    assert batch.parse_id_file("9223372036854775807\n", "f") == [2**63 - 1]


def test_plan_digest_is_a_set_hash() -> None:
    a = batch.plan_digest([(1, "unpaid"), (2, "active")])
    assert a == batch.plan_digest([(2, "active"), (1, "unpaid")])
    assert a != batch.plan_digest([(1, "unpaid"), (2, "paused")])
    assert a.startswith("sha256:")


def test_refund_pending_of_a_canceled_subscription_refunds_the_payment_alone() -> None:
    canceled = sub("canceled", hs_next_payment_due_date=None, hs_last_payment_status="processing")
    payments = (pay(1, "succeeded"), pay(900, "processing", "ach", amount="1200.00"))
    d = run(Action("cancel", refund_pending=True), canceled, payments)
    assert (d.outcome, d.new_status, d.refund) == (OK, "canceled", Decimal("1200.00"))
    assert isinstance(d.op, ops.Refund) and d.op.messages == ()
    assert [(r.payment_id, r.amount) for r in d.op.refunds] == [(900, Decimal("1200.00"))]
    assert set(changes(d.op)) == {"hs_last_payment_status", "hs_lastmodifieddate"}
    assert d.note == "refunded pending bank payment 900 (1200.00 USD)"
    refunded = (*payments, pay(901, "succeeded", kind="refund", refunds_payment_id=900))
    again = run(Action("cancel", refund_pending=True), canceled, refunded)
    assert (again.outcome, again.op, again.note) == (SKIP, None, "already canceled")
    plain = run(Action("cancel"), canceled, payments)
    assert (plain.outcome, plain.op) == (SKIP, None)


def test_refund_unused_leaving_a_pending_payment_needs_attention() -> None:
    payments = (pay(1, "succeeded"), pay(900, "processing", "ach", amount="1200.00"))
    active = sub("active", hs_next_payment_due_date=dt.date(2026, 12, 1))
    d = run(Action("cancel", refund_unused=True), active, payments)
    assert d.outcome is Outcome.ATTENTION and d.outcome.acts and d.new_status == "canceled"
    (warning,) = d.warnings
    assert warning.next is not None
    assert hint(warning.next) == "refund it with `subctl cancel 1 --refund-pending`"
    assert run(Action("cancel"), active, payments).outcome is OK  # no refund asked for
    both = run(Action("cancel", refund_unused=True, refund_pending=True), active, payments)
    assert both.outcome is OK and both.warnings == []


@pytest.mark.parametrize(
    ("frequency", "start", "due", "next_due"),
    [
        ("monthly", dt.date(2026, 1, 31), dt.date(2027, 2, 28), dt.date(2027, 3, 31)),
        ("monthly", dt.date(2026, 1, 31), dt.date(2027, 1, 31), dt.date(2027, 2, 28)),
        ("monthly", dt.date(2026, 1, 30), dt.date(2028, 2, 29), dt.date(2028, 3, 30)),
        ("quarterly", dt.date(2026, 5, 31), dt.date(2027, 2, 28), dt.date(2027, 5, 31)),
        ("monthly", dt.date(2026, 1, 15), dt.date(2027, 2, 15), dt.date(2027, 3, 15)),
        # a due date moved off the billing day (by hand, by a resume) keeps its own day
        ("monthly", dt.date(2026, 1, 31), dt.date(2027, 2, 10), dt.date(2027, 3, 10)),
        ("weekly", dt.date(2026, 1, 31), dt.date(2027, 2, 28), dt.date(2027, 3, 7)),
    ],
)
def test_pay_keeps_the_billing_day_of_month(
    frequency: str, start: dt.date, due: dt.date, next_due: dt.date
) -> None:
    s = sub("unpaid", hs_recurring_billing_frequency=frequency, hs_next_payment_due_date=due,
            hs_recurring_billing_start_date=start)  # fmt: skip
    d = run(Action("pay"), s)
    assert d.outcome is OK and d.op is not None
    assert changes(d.op)["hs_next_payment_due_date"] == (due, next_due)
    assert "hs_recurring_billing_start_date" in SNAPSHOT_FIELDS["pay"]  # read by pay


def test_due_dates_do_not_drift_over_a_year_of_payments() -> None:
    from subctl.billing import next_period_end

    due, seen = dt.date(2027, 1, 31), []
    for _ in range(12):
        due = next_period_end(due, "monthly", billing_day=31)
        seen.append(due.day)
    assert seen == [28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31, 31]
