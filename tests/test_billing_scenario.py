"""Issue #12, "Done when" (first line): a scripted three-month billing scenario on a small
hand-built workspace (tests/billing_world.py), checking exact statuses, payments, retries,
e-mails, history and billing events of one subscription per rule of services/billing.py, on
SQLite and PostgreSQL; and the run's guarantees: a second run to the same time does nothing, a
dry run writes nothing, two runs to T1 then T2 leave what one run to T2 leaves.

Every expectation below is written from the rules (services/billing.py's docstring), not
from the engine's output: retries 3, 5 and 7 days after the failed due date, bank payments
settling 6 days after their day, month-based periods on the start date's day of month clamped
to short months."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from tests import billing_world as w
from tests.conftest import WorkspaceCase, checksum

pytestmark = pytest.mark.backends("sqlite", "postgresql")

T0 = dt.datetime(2028, 1, 10, tzinfo=dt.UTC)
MONTHS = [dt.datetime(2028, m, 10, tzinfo=dt.UTC) for m in (2, 3, 4)]  # three advances


def _url(ws: WorkspaceCase) -> str:
    if ws.is_sqlite:
        Path(ws.url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    return ws.url


@pytest.fixture
def world(ws: WorkspaceCase) -> str:
    """The hand-built workspace with its clock set to T0 (nothing due yet is billed)."""
    from subctl.services import billing
    from subctl.store.sql import open_local

    url = _url(ws)
    w.seed(url)
    local = open_local(url)
    billing.set_clock(local.workspace, T0, T0)
    local.close()
    return url


def _weekly(first: str, last: str, step: int) -> list[str]:
    day, end, out = w.D(first), w.D(last), []
    while day <= end:
        out.append(day.isoformat())
        day += dt.timedelta(days=step)
    return out


WEEKLY = _weekly("2028-01-10", "2028-04-10", 7)  # 14 renewals
BIWEEKLY = _weekly("2028-01-17", "2028-04-10", 14)  # 7 renewals

# Per subscription: its billing events ("day kind outcome old->new amount (note)"), its
# payments ("day amount status method"), its e-mails ("day kind"), its values at 2028-04-10.
EXPECTED: dict[str, dict[str, Any]] = {
    "weekly": {
        "events": [f"{d} renewal succeeded active->active 7.00" for d in WEEKLY],
        "payments": [f"{d} 7.00 succeeded card" for d in WEEKLY],
        "final": {"hs_status": "active", "hs_next_payment_due_date": "2028-04-17",
                  "hs_number_of_completed_payments": 14, "hs_total_collected_amount": "98.00",
                  "hs_last_payment_status": "succeeded", "hs_last_payment_amount": "7.00",
                  "hs_last_payment_date": "2028-04-10"},
    },
    "biweekly": {
        "events": [f"{d} renewal succeeded active->active 14.00" for d in BIWEEKLY],
        "payments": [f"{d} 14.00 succeeded card" for d in BIWEEKLY],
        "final": {"hs_status": "active", "hs_next_payment_due_date": "2028-04-24",
                  "hs_number_of_completed_payments": 7, "hs_total_collected_amount": "98.00",
                  "hs_last_payment_date": "2028-04-10"},
    },
    "month end": {  # 31 Jan -> 29 Feb (leap year) -> 31 Mar -> 30 Apr
        "events": ["2028-01-31 renewal succeeded active->active 31.00",
                   "2028-02-29 renewal succeeded active->active 31.00",
                   "2028-03-31 renewal succeeded active->active 31.00"],
        "payments": ["2028-01-31 31.00 succeeded card", "2028-02-29 31.00 succeeded card",
                     "2028-03-31 31.00 succeeded card"],
        "history": ["2028-01-31 hs_next_payment_due_date 2028-01-31 -> 2028-02-29",
                    "2028-01-31 hs_last_payment_status None -> succeeded",
                    "2028-01-31 hs_last_payment_amount None -> 31.00",
                    "2028-02-29 hs_next_payment_due_date 2028-02-29 -> 2028-03-31",
                    "2028-03-31 hs_next_payment_due_date 2028-03-31 -> 2028-04-30"],
        "final": {"hs_status": "active", "hs_next_payment_due_date": "2028-04-30",
                  "hs_number_of_completed_payments": 3, "hs_total_collected_amount": "93.00",
                  "hs_last_payment_date": "2028-03-31"},
    },
    "quarterly": {  # billing day 30: 29 Feb (clamped) -> 30 May
        "events": ["2028-02-29 renewal succeeded active->active 90.00"],
        "payments": ["2028-02-29 90.00 succeeded card"],
        "final": {"hs_status": "active", "hs_next_payment_due_date": "2028-05-30",
                  "hs_number_of_completed_payments": 1, "hs_total_collected_amount": "90.00"},
    },
    "six months": {
        "events": ["2028-03-15 renewal succeeded active->active 180.00"],
        "payments": ["2028-03-15 180.00 succeeded card"],
        "final": {"hs_status": "active", "hs_next_payment_due_date": "2028-09-15"},
    },
    "annual leap": {  # started 29 Feb 2024: renews 29 Feb 2028, then 28 Feb 2029
        "events": ["2028-02-29 renewal succeeded active->active 365.00"],
        "payments": ["2028-02-29 365.00 succeeded card"],
        "final": {"hs_status": "active", "hs_next_payment_due_date": "2029-02-28",
                  "hs_last_payment_date": "2028-02-29"},
    },
    "two years": {
        "events": ["2028-03-01 renewal succeeded active->active 730.00"],
        "payments": ["2028-03-01 730.00 succeeded card"],
        "final": {"hs_status": "active", "hs_next_payment_due_date": "2030-03-01"},
    },
    "scheduled leap": {  # starts on 29 Feb 2028 with its first payment; due 28 Feb 2029
        "events": ["2028-02-29 start succeeded scheduled->active 366.00"],
        "payments": ["2028-02-29 366.00 succeeded card"],
        "history": ["2028-02-29 hs_next_payment_due_date 2028-02-29 -> 2029-02-28",
                    "2028-02-29 hs_status scheduled -> active",
                    "2028-02-29 hs_last_payment_status None -> succeeded",
                    "2028-02-29 hs_last_payment_amount None -> 366.00"],
        "final": {"hs_status": "active", "hs_next_payment_due_date": "2029-02-28",
                  "hs_number_of_completed_payments": 1, "hs_total_collected_amount": "366.00"},
    },
    "declines always": {  # 0341: unpaid, retries on +3, +5, +7 days, then past_due
        "events": ["2028-01-20 renewal failed active->unpaid 20.00 (retry on 2028-01-23)",
                   "2028-01-23 retry failed unpaid->unpaid 20.00 (retry on 2028-01-25)",
                   "2028-01-25 retry failed unpaid->unpaid 20.00 (retry on 2028-01-27)",
                   "2028-01-27 retry failed unpaid->past_due 20.00 (no retries left)"],
        "payments": ["2028-01-20 20.00 failed card", "2028-01-23 20.00 failed card",
                     "2028-01-25 20.00 failed card", "2028-01-27 20.00 failed card"],
        "emails": ["2028-01-20 payment_method_update"],
        "history": ["2028-01-20 hs_last_payment_status None -> failed",
                    "2028-01-20 hs_last_payment_amount None -> 20.00",
                    "2028-01-20 hs_status active -> unpaid",
                    "2028-01-20 hs_payment_retry_count None -> 0",
                    "2028-01-20 hs_next_payment_retry_date None -> 2028-01-23",
                    "2028-01-23 hs_payment_retry_count 0 -> 1",
                    "2028-01-23 hs_next_payment_retry_date 2028-01-23 -> 2028-01-25",
                    "2028-01-25 hs_payment_retry_count 1 -> 2",
                    "2028-01-25 hs_next_payment_retry_date 2028-01-25 -> 2028-01-27",
                    "2028-01-27 hs_payment_retry_count 2 -> 3",
                    "2028-01-27 hs_next_payment_retry_date 2028-01-27 -> None",
                    "2028-01-27 hs_status unpaid -> past_due"],
        "final": {"hs_status": "past_due", "hs_next_payment_due_date": "2028-01-20",
                  "hs_next_payment_retry_date": None, "hs_payment_retry_count": 3,
                  "hs_number_of_completed_payments": None, "hs_last_payment_status": "failed",
                  "hs_last_payment_date": "2028-01-27"},
    },
    "declines first": {  # 0002: each cycle declined on its day, paid at the first retry
        "events": [e for m in ("01", "02", "03") for e in (
            f"2028-{m}-15 renewal failed active->unpaid 15.00 (retry on 2028-{m}-18)",
            f"2028-{m}-18 retry succeeded unpaid->active 15.00")],
        "payments": [p for m in ("01", "02", "03") for p in (
            f"2028-{m}-15 15.00 failed card", f"2028-{m}-18 15.00 succeeded card")],
        "emails": ["2028-01-15 payment_method_update", "2028-02-15 payment_method_update",
                   "2028-03-15 payment_method_update"],
        # a retry that succeeds is written set-based: the same changes as any charge's
        "history": [h for m, prev in (("01", "None"), ("02", "succeeded"), ("03", "succeeded"))
                    for h in (
            f"2028-{m}-15 hs_last_payment_status {prev} -> failed",
            *(["2028-01-15 hs_last_payment_amount None -> 15.00"] if m == "01" else []),
            f"2028-{m}-15 hs_status active -> unpaid",
            f"2028-{m}-15 hs_payment_retry_count None -> 0",
            f"2028-{m}-15 hs_next_payment_retry_date None -> 2028-{m}-18",
            f"2028-{m}-18 hs_next_payment_due_date 2028-{m}-15 -> 2028-{int(m) + 1:02}-15",
            f"2028-{m}-18 hs_status unpaid -> active",
            f"2028-{m}-18 hs_last_payment_status failed -> succeeded",
            f"2028-{m}-18 hs_next_payment_retry_date 2028-{m}-18 -> None",
            f"2028-{m}-18 hs_payment_retry_count 0 -> None")],
        "final": {"hs_status": "active", "hs_next_payment_due_date": "2028-04-15",
                  "hs_next_payment_retry_date": None, "hs_payment_retry_count": None,
                  "hs_number_of_completed_payments": 3, "hs_total_collected_amount": "45.00",
                  "hs_last_payment_status": "succeeded", "hs_last_payment_date": "2028-03-18"},
    },
    "ach settles": {  # processing on its day, succeeded 6 days later
        "events": [e for m in ("01", "02", "03") for e in (
            f"2028-{m}-12 renewal processing active->active 12.00",
            f"2028-{m}-18 settlement succeeded active->active 12.00")],
        "payments": [f"2028-{m}-12 12.00 succeeded ach" for m in ("01", "02", "03")],
        "history": [h for m, prev in (("01", "None"), ("02", "succeeded"), ("03", "succeeded"))
                    for h in (
            f"2028-{m}-12 hs_next_payment_due_date 2028-{m}-12 -> 2028-{int(m) + 1:02}-12",
            f"2028-{m}-12 hs_last_payment_status {prev} -> processing",
            *(["2028-01-12 hs_last_payment_amount None -> 12.00"] if m == "01" else []),
            f"2028-{m}-18 hs_last_payment_status processing -> succeeded")],
        "final": {"hs_status": "active", "hs_next_payment_due_date": "2028-04-12",
                  "hs_number_of_completed_payments": 3, "hs_total_collected_amount": "36.00",
                  "hs_last_payment_status": "succeeded", "hs_last_payment_date": "2028-03-12"},
    },
    "ach fails": {  # 1116: processing, fails at settlement: unpaid, owing that cycle; no retry
        "events": ["2028-01-14 renewal processing active->active 14.00",
                   "2028-01-20 settlement failed active->unpaid 14.00"],
        "payments": ["2028-01-14 14.00 failed ach"],
        "emails": ["2028-01-20 payment_method_update"],
        "history": ["2028-01-14 hs_next_payment_due_date 2028-01-14 -> 2028-02-14",
                    "2028-01-14 hs_last_payment_status None -> processing",
                    "2028-01-14 hs_last_payment_amount None -> 14.00",
                    "2028-01-20 hs_last_payment_status processing -> failed",
                    "2028-01-20 hs_status active -> unpaid",
                    "2028-01-20 hs_next_payment_due_date 2028-02-14 -> 2028-01-14"],
        "final": {"hs_status": "unpaid", "hs_next_payment_due_date": "2028-01-14",
                  "hs_next_payment_retry_date": None, "hs_last_payment_status": "failed",
                  "hs_total_collected_amount": ("0.00", None)},
    },
    "cancel at period end": {  # canceled on its due date, uncharged, with the e-mail
        "events": ["2028-02-05 cancellation canceled active->canceled"],
        "emails": ["2028-02-05 cancellation"],
        "history": ["2028-02-05 hs_status active -> canceled",
                    "2028-02-05 hs_canceled_at None -> 2028-02-05T00:00:00.000Z",
                    "2028-02-05 hs_scheduled_cancellation_date 2028-02-05 -> None",
                    "2028-02-05 hs_next_payment_due_date 2028-02-05 -> None",
                    "2028-02-05 hs_next_payment_amount 5.00 -> None",
                    "2028-02-05 hs_mrr 5.00 -> 0.00"],
        "final": {"hs_status": "canceled", "hs_canceled_at": "2028-02-05T00:00:00+00:00",
                  "hs_scheduled_cancellation_date": None, "hs_next_payment_due_date": None,
                  "hs_mrr": "0.00"},
    },
    "scheduled": {
        "events": ["2028-01-25 start succeeded scheduled->active 25.00",
                   "2028-02-25 renewal succeeded active->active 25.00",
                   "2028-03-25 renewal succeeded active->active 25.00"],
        "payments": ["2028-01-25 25.00 succeeded card", "2028-02-25 25.00 succeeded card",
                     "2028-03-25 25.00 succeeded card"],
        "final": {"hs_status": "active", "hs_next_payment_due_date": "2028-04-25",
                  "hs_number_of_completed_payments": 3},
    },
    "paused until": {  # resumes on 1 Feb, charged the same day
        "events": ["2028-02-01 resume resumed paused->active",
                   "2028-02-01 renewal succeeded active->active 30.00",
                   "2028-03-01 renewal succeeded active->active 30.00",
                   "2028-04-01 renewal succeeded active->active 30.00"],
        "payments": ["2028-02-01 30.00 succeeded card", "2028-03-01 30.00 succeeded card",
                     "2028-04-01 30.00 succeeded card"],
        "history": ["2028-02-01 hs_status paused -> active",
                    "2028-02-01 hs_next_payment_due_date 2027-12-01 -> 2028-02-01",
                    "2028-02-01 hs_pause_reason customer_request -> None",
                    "2028-02-01 hs_resume_date 2028-02-01 -> None",
                    "2028-02-01 hs_mrr 0.00 -> 30.00",
                    "2028-02-01 hs_next_payment_due_date 2028-02-01 -> 2028-03-01",
                    "2028-02-01 hs_last_payment_status None -> succeeded",
                    "2028-02-01 hs_last_payment_amount None -> 30.00",
                    "2028-03-01 hs_next_payment_due_date 2028-03-01 -> 2028-04-01",
                    "2028-04-01 hs_next_payment_due_date 2028-04-01 -> 2028-05-01"],
        "final": {"hs_status": "active", "hs_resume_date": None, "hs_pause_reason": None,
                  "hs_mrr": "30.00", "hs_next_payment_due_date": "2028-05-01"},
    },
    "fixed term": {  # term of 3, 2 paid: the third on 20 Jan, expired on 20 Feb
        "events": ["2028-01-20 renewal succeeded active->active 16.00",
                   "2028-02-20 expiry expired active->expired"],
        "payments": ["2028-01-20 16.00 succeeded card"],
        "final": {"hs_status": "expired", "hs_next_payment_due_date": None,
                  "hs_next_payment_amount": None, "hs_mrr": "0.00",
                  "hs_number_of_completed_payments": 3, "hs_total_collected_amount": "48.00"},
    },
    "canceled": {"final": {"hs_status": "canceled"}},
    "expired": {"final": {"hs_status": "expired"}},
    "past due": {"final": {"hs_status": "past_due", "hs_next_payment_due_date": "2027-12-03"}},
    "paused": {"final": {"hs_status": "paused", "hs_next_payment_due_date": "2027-12-04"}},
    "unpaid bank": {"final": {"hs_status": "unpaid", "hs_next_payment_due_date": "2027-12-05"}},
    "no amount": {  # cannot be charged: past_due, saying why; no buyer, no e-mail
        "events": ["2028-01-22 renewal failed active->past_due "
                   "(cannot be charged: no next payment amount or currency)"],
        "history": ["2028-01-22 hs_status active -> past_due"],
        "final": {"hs_status": "past_due", "hs_next_payment_due_date": "2028-01-22"},
    },
}  # fmt: skip


def _money(value: Any) -> str | None:
    return None if value is None else f"{Decimal(value):.2f}"


def _text(value: Any) -> Any:
    """A typed property value as the expectations write it."""
    if isinstance(value, dt.datetime):
        return value.astimezone(dt.UTC).isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return _money(value)
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def _event(e: Any) -> str:
    line = f"{e.at.date()} {e.kind} {e.outcome} {e.old_status}->{e.new_status}"
    if e.amount is not None:
        line += f" {_money(e.amount)}"
    return line + (f" ({e.note})" if e.note else "")


def observed(url: str, sub_id: int) -> dict[str, Any]:
    """What billing left on one subscription, in the expectations' terms."""
    from subctl.store.sql import open_local

    local = open_local(url)
    try:
        detail = local.records.detail(sub_id)
        outbox = local.workspace.outbox(sub_id)
    finally:
        local.close()
    assert [e.at for e in detail.events] == sorted(e.at for e in detail.events)
    payments = sorted(detail.payments, key=lambda p: p.id)
    return {
        "detail": detail,
        "events": [_event(e) for e in detail.events],
        "payments": [
            f"{p.created_at.date()} {_money(p.amount)} {p.status} {p.method}" for p in payments
        ],
        "emails": [f"{m.created_at.date()} {m.kind}" for m in reversed(outbox)],
        "outbox": list(reversed(outbox)),
        "history": [
            f"{c.changed_at.date()} {c.property} {c.old_value} -> {c.new_value}"
            for c in reversed(detail.history)
        ],
        "sources": {c.source for c in detail.history},
        "values": detail.subscription.properties,
    }


def _advance_three_months(url: str) -> list[Any]:
    return [w.advance(url, until) for until in MONTHS]


def test_three_months_of_billing(world: str) -> None:
    from subctl.services import billing
    from subctl.store.sql import open_local

    summaries = _advance_three_months(world)
    assert [s.days > 0 for s in summaries] == [True, True, True]
    local = open_local(world)
    try:
        # Nothing is left due at the clock; every run is a finished job.
        assert billing.due(local.billing, local.workspace, MONTHS[-1]) == {}
        assert billing.workspace_clock(local.workspace) == MONTHS[-1]
        jobs = [summary.job_id for summary in summaries]
        assert [local.workspace.job(j).status for j in jobs if j is not None] == ["done"] * 3
    finally:
        local.close()
    assert set(EXPECTED) == set(w.IDS)
    problems = []
    for name, expected in EXPECTED.items():
        sub_id = w.IDS[name]
        got = observed(world, sub_id)
        for key in ("events", "payments", "emails"):
            if got[key] != expected.get(key, []):
                problems.append((name, key, got[key]))
        if "history" in expected and got["history"] != expected["history"]:
            problems.append((name, "history", got["history"]))
        if got["sources"] - {"billing"}:
            problems.append((name, "sources", got["sources"]))
        for prop, value in expected["final"].items():
            seen = _text(got["values"].get(prop))
            if prop == "hs_last_payment_date" and isinstance(value, str):  # its day, 00:00 UTC
                value += "T00:00:00+00:00"
            if seen != value and not (isinstance(value, tuple) and seen in value):
                problems.append((name, prop, seen))
        problems.extend((name, "invariant", p) for p in _consistent(got))
    assert problems == []


def _consistent(got: dict[str, Any]) -> list[str]:
    """What must hold of any subscription billing touched: each charge event names the payment
    it made, of its amount and day; each settlement names a payment of an earlier charge; each
    e-mail goes to the buyer (a payment-method e-mail with its link); the history, replayed
    property by property, ends at the stored value."""
    detail = got["detail"]
    out: list[str] = []
    payments = {p.id: p for p in detail.payments}
    charged: set[int] = set()
    for e in detail.events:
        if e.kind in ("start", "renewal", "retry") and e.amount is not None:
            p = payments.get(e.payment_id) if e.payment_id is not None else None
            if p is None or p.amount != e.amount or p.created_at != e.at:
                out.append(f"{_event(e)}: payment {e.payment_id}")
            else:
                charged.add(p.id)
        if e.kind == "settlement" and e.payment_id not in charged:
            out.append(f"{_event(e)}: settles {e.payment_id}, not an earlier charge")
    if set(payments) != charged:
        out.append(f"payments without a charge event: {sorted(set(payments) - charged)}")
    sid = detail.subscription.id
    for m in got["outbox"]:
        if m.recipient != w.email(sid) or (m.kind == "payment_method_update") != bool(m.link):
            out.append(f"e-mail {m.kind} to {m.recipient}, link {m.link}")
    last: dict[str, str | None] = {}
    for c in reversed(detail.history):
        if c.property in last and last[c.property] != c.old_value:
            out.append(f"history of {c.property}: {last[c.property]} then {c.old_value} ->")
        last[c.property] = c.new_value
    for prop, text in last.items():
        value = detail.subscription.properties.get(prop)
        stored = None if value is None else _history_text(prop, value)
        if stored != text:
            out.append(f"history of {prop} ends at {text}, the value is {stored}")
    return out


def _history_text(prop: str, value: Any) -> str:
    from subctl.codec import to_text

    if isinstance(value, Decimal):
        return f"{value:.2f}"
    text: str = to_text(value)
    return text


def test_a_second_run_to_the_same_time_changes_nothing(world: str) -> None:
    _advance_three_months(world)
    before = w.dump(world, ignore_jobs=True)
    again = w.advance(world, MONTHS[-1])
    assert (again.days, again.events) == (0, 0)
    assert w.dump(world, ignore_jobs=True) == before


def test_a_dry_run_changes_nothing(world: str, ws: WorkspaceCase) -> None:
    w.advance(world, MONTHS[0])
    before = checksum(ws)
    dry = w.advance(world, MONTHS[-1], dry_run=True)
    assert checksum(ws) == before
    real = w.advance(world, MONTHS[-1])
    assert dry.events > 0 and dry.job_id is None
    assert (dry.days, dry.result.events, dry.result.charged, dry.result.emails) == (
        real.days, real.result.events, real.result.charged, real.result.emails,
    )  # fmt: skip


@pytest.fixture
def second_world(
    ws: WorkspaceCase, tmp_path: Path, request: pytest.FixtureRequest
) -> Iterator[str]:
    """Another copy of the hand-built workspace on the same backend."""
    from subctl.config import sqlite_url, workspace_url
    from subctl.services import billing
    from subctl.store.sql import open_local

    if ws.is_sqlite:
        url = sqlite_url(tmp_path / "second.db")
        context = None
    else:
        context = request.getfixturevalue("pg_server").database()
        url = workspace_url(context.__enter__())
    try:
        w.seed(url)
        local = open_local(url)
        billing.set_clock(local.workspace, T0, T0)
        local.close()
        yield url
    finally:
        if context is not None:
            context.__exit__(None, None, None)


def test_two_runs_leave_what_one_run_leaves(world: str, second_world: str) -> None:
    for until in MONTHS:  # in three steps, one of them to the middle of a day
        w.advance(world, until + dt.timedelta(hours=13 if until == MONTHS[0] else 0))
    w.advance(second_world, MONTHS[-1])  # in one
    one, three = w.dump(second_world, ignore_jobs=True), w.dump(world, ignore_jobs=True)
    assert one.keys() == three.keys()
    assert {t: r for t, r in three.items() if r != one[t]} == {}


def test_a_leap_day_subscription_renews_on_28_february_then_29(world: str) -> None:
    w.advance(world, dt.datetime(2032, 3, 1, tzinfo=dt.UTC))
    for name, first in (("annual leap", "renewal"), ("scheduled leap", "start")):
        got = observed(world, w.IDS[name])
        days = [e.split()[0] for e in got["events"]]
        assert days == ["2028-02-29", "2029-02-28", "2030-02-28", "2031-02-28", "2032-02-29"]
        assert got["events"][0].split()[1] == first
        assert _text(got["values"]["hs_next_payment_due_date"]) == "2033-02-28"
    month_end = observed(world, w.IDS["month end"])["events"]
    assert [e.split()[0] for e in month_end[:14]] == [
        "2028-01-31", "2028-02-29", "2028-03-31", "2028-04-30", "2028-05-31", "2028-06-30",
        "2028-07-31", "2028-08-31", "2028-09-30", "2028-10-31", "2028-11-30", "2028-12-31",
        "2029-01-31", "2029-02-28",
    ]  # fmt: skip


def test_the_settings_change_retries_and_what_follows_the_last(world: str) -> None:
    from subctl.services import billing
    from subctl.store.sql import open_local

    local = open_local(world)
    billing.set_setting(local.workspace, "billing.retry_days", "2")
    billing.set_setting(local.workspace, "billing.after_last_retry", "canceled")
    billing.set_setting(local.workspace, "billing.settlement_days", "3")
    local.close()
    w.advance(world, MONTHS[0])
    always = observed(world, w.IDS["declines always"])
    assert always["events"] == [
        "2028-01-20 renewal failed active->unpaid 20.00 (retry on 2028-01-22)",
        "2028-01-22 retry failed unpaid->canceled 20.00 (no retries left)",
    ]
    assert always["emails"] == ["2028-01-20 payment_method_update", "2028-01-22 cancellation"]
    assert _text(always["values"]["hs_canceled_at"]) == "2028-01-22T00:00:00+00:00"
    assert _text(always["values"]["hs_mrr"]) == "0.00"
    settles = observed(world, w.IDS["ach settles"])
    assert settles["events"][:2] == [
        "2028-01-12 renewal processing active->active 12.00",
        "2028-01-15 settlement succeeded active->active 12.00",
    ]


# The statements that find the events of one kind must reach their rows through the partial
# index of that kind (store/sql/schema.py) or the processing payments' index: on 1M
# subscriptions a status scan costs seconds per day (benchmarks/README.md, advance-30d).
_NARROW = ("'paused'", "'unpaid'", "'scheduled'", "hs_scheduled_cancellation_date IS NOT NULL")


@pytest.mark.backends("sqlite")
def test_billing_finds_events_through_their_indexes(
    world: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    import sqlite3
    from contextlib import contextmanager

    from subctl.store.sql import database, records

    seen: dict[str, Any] = {}

    class Recording:
        def __init__(self, cursor: Any) -> None:
            self._cursor = cursor

        def __getattr__(self, name: str) -> Any:
            return getattr(self._cursor, name)

        def execute(self, sql: str, params: Any = ()) -> Any:
            seen.setdefault(" ".join(sql.split()), params)
            return self._cursor.execute(sql, params)

    real_cursor, real_reading = records.SqlRecordStore._cursor, database.Database.reading

    def _cursor(self: Any, conn: Any) -> tuple[Any, str]:
        cursor, mark = real_cursor(self, conn)
        return Recording(cursor), mark

    @contextmanager
    def reading(self: Any, *args: Any, **kwargs: Any) -> Iterator[Any]:
        with real_reading(self, *args, **kwargs) as cursor:
            yield Recording(cursor)

    monkeypatch.setattr(records.SqlRecordStore, "_cursor", _cursor)
    monkeypatch.setattr(database.Database, "reading", reading)
    w.advance(world, MONTHS[0])
    slow = []
    conn = sqlite3.connect(world.removeprefix("sqlite:///"))
    for sql, params in seen.items():
        if "_billing_next" in sql or not sql.startswith(("SELECT", "INSERT")):
            continue
        plan = " | ".join(r[3] for r in conn.execute(f"EXPLAIN QUERY PLAN {sql}", params))
        if any(n in sql for n in _NARROW) and "(hs_status=?)" in plan:
            slow.append((sql[:90], plan))
        if "FROM payments p" in sql and "ix_payments_processing" not in plan:
            slow.append((sql[:90], plan))
    conn.close()
    assert slow == []
