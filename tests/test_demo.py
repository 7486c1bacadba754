"""``subctl.services.demo.populate``: deterministic, realistic, consistent sample data."""

from __future__ import annotations

import calendar
import datetime as dt
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from subctl.billing import next_period_end, paid_period_end, prorate
from subctl.codec import ms_to_datetime
from subctl.schema import ASSOCIATION_BY_NAME, FREQUENCIES, STATUSES
from subctl.services import demo
from subctl.services.demo import TABLE_COLUMNS, TABLES, DemoSummary, populate
from subctl.services.lifecycle import cancellation_text, update_link_of, update_link_text
from subctl.store.sql import open_local, sqlite_url
from subctl.store.sql.schema import OBJECT_TABLE_NAMES
from tests.conftest import NOW, Invoke

TODAY = dt.date(2026, 11, 26)
DAY_MS = 86_400_000
TODAY_MS = (TODAY - dt.date(1970, 1, 1)).days * DAY_MS
COUNT = 500
BIG = 20_000


def _build(path: Path, *, count: int = COUNT, seed: int = 7, today: dt.date = TODAY) -> DemoSummary:
    store = open_local(sqlite_url(path), create=True).records
    try:
        return populate(store, count=count, seed=seed, today=today)
    finally:
        store.close()


def _dump(path: Path, table: str) -> list[tuple[Any, ...]]:
    with sqlite3.connect(path) as conn:
        order = ", ".join(TABLE_COLUMNS[table][:3])
        return conn.execute(f"SELECT * FROM {table} ORDER BY {order}").fetchall()


@pytest.fixture(scope="module")
def workspace(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, DemoSummary]]:
    path = tmp_path_factory.mktemp("demo") / "w.db"
    yield path, _build(path)


@pytest.fixture(scope="module")
def subs(workspace: tuple[Path, DemoSummary]) -> list[dict[str, Any]]:
    path, _ = workspace
    with sqlite3.connect(path) as conn:
        conn.row_factory = sqlite3.Row
        rows = conn.execute("SELECT * FROM subscriptions ORDER BY hs_object_id").fetchall()
    return [dict(r) for r in rows]


@pytest.fixture(scope="module")
def big(tmp_path_factory: pytest.TempPathFactory) -> list[dict[str, Any]]:
    """The subscriptions of a larger workspace, for shares and spreads."""
    path = tmp_path_factory.mktemp("demo") / "big.db"
    _build(path, count=BIG)
    with sqlite3.connect(path) as conn:
        conn.row_factory = sqlite3.Row
        rows = conn.execute("SELECT * FROM subscriptions ORDER BY hs_object_id").fetchall()
    return [dict(r) for r in rows]


def _query(workspace: tuple[Path, DemoSummary], sql: str) -> list[tuple[Any, ...]]:
    with sqlite3.connect(workspace[0]) as conn:
        return conn.execute(sql).fetchall()


# -- determinism -----------------------------------------------------------------------------


def test_same_seed_and_day_give_identical_workspaces(tmp_path: Path) -> None:
    a, b = tmp_path / "a.db", tmp_path / "b.db"
    assert _build(a, seed=3) == _build(b, seed=3)
    for table in TABLES:
        assert _dump(a, table) == _dump(b, table), table


def test_another_day_gives_the_same_subscriptions_moved_in_time(tmp_path: Path) -> None:
    """Statuses, names and payment methods do not depend on the day (examples name ids)."""
    a, b = tmp_path / "a.db", tmp_path / "b.db"
    _build(a, count=2000, seed=3, today=dt.date(2027, 2, 28))
    _build(b, count=2000, seed=3, today=dt.date(2028, 7, 31))
    sql = "SELECT hs_object_id, hs_status, hs_name, hs_payment_method FROM subscriptions"
    with sqlite3.connect(a) as first, sqlite3.connect(b) as second:
        assert first.execute(sql).fetchall() == second.execute(sql).fetchall()


def test_a_different_seed_gives_different_data(tmp_path: Path) -> None:
    a, b = tmp_path / "a.db", tmp_path / "b.db"
    _build(a, seed=1)
    _build(b, seed=2)
    assert _dump(a, "subscriptions") != _dump(b, "subscriptions")


def test_populate_replaces_existing_data(tmp_path: Path) -> None:
    path = tmp_path / "w.db"
    _build(path, count=300, seed=5)
    first = _dump(path, "associations")
    summary = _build(path, count=300, seed=5)  # again, into the same workspace
    assert _dump(path, "associations") == first
    assert summary.subscriptions == 300


def test_progress_reports_each_block_and_blocks_do_not_change_the_data(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _build(tmp_path / "a.db", count=300, seed=4)
    monkeypatch.setattr(demo, "BLOCK", 64)
    seen: list[int] = []
    store = open_local(sqlite_url(tmp_path / "b.db"), create=True).records
    populate(store, count=300, seed=4, today=TODAY, progress=seen.append)
    store.close()
    assert seen == [64, 128, 192, 256, 300]
    for table in TABLES:
        assert _dump(tmp_path / "a.db", table) == _dump(tmp_path / "b.db", table), table


def test_an_empty_workspace(tmp_path: Path) -> None:
    summary = _build(tmp_path / "w.db", count=0)
    assert summary.rows == 0 and summary.subscriptions == 0


# -- shape -----------------------------------------------------------------------------------


def test_ids_are_1_to_n(subs: list[dict[str, Any]]) -> None:
    assert [int(s["hs_object_id"]) for s in subs] == list(range(1, COUNT + 1))


def test_every_status_present_in_plausible_shares(subs: list[dict[str, Any]]) -> None:
    counts = Counter(s["hs_status"] for s in subs)
    assert set(counts) == {s.value for s in STATUSES}
    assert counts.most_common(1)[0][0] == "active"
    assert 0.45 < counts["active"] / COUNT < 0.65


def test_summary_matches_the_tables(workspace: tuple[Path, DemoSummary]) -> None:
    path, summary = workspace
    for table in TABLES:
        assert summary.tables[table] == len(_dump(path, table)), table
    assert sum(summary.statuses.values()) == COUNT
    assert summary.pending_ach_payments > 0


def test_values_are_valid_options(subs: list[dict[str, Any]]) -> None:
    frequencies = {value for value, _, _ in FREQUENCIES}
    for s in subs:
        assert s["hs_recurring_billing_frequency"] in frequencies
        assert s["hs_currency_code"] in {"USD", "EUR", "GBP", "DKK"}
        assert s["hs_collection_process"] in {"automatic_payments", "manual_payments"}
        assert s["hs_invoice_creation"] in {"on", "off"}
        assert " – " in s["hs_name"] and " plan " in s["hs_name"]
        method = s["hs_payment_method"]
        assert method.split(" - ")[0] in {"Visa", "Mastercard", "Amex", "ACH"}
    currencies = Counter(s["hs_currency_code"] for s in subs)
    assert currencies.most_common(1)[0][0] == "USD"
    assert Counter(s["hs_invoice_creation"] for s in subs)["on"] > COUNT * 0.8


# -- dates -----------------------------------------------------------------------------------


def test_dates_are_midnight_utc_and_datetimes_in_the_past(subs: list[dict[str, Any]]) -> None:
    for s in subs:
        for name in ("hs_recurring_billing_start_date", "hs_next_payment_due_date"):
            assert s[name] is None or s[name] % DAY_MS == 0, name
        for name in ("hs_createdate", "hs_lastmodifieddate", "hs_canceled_at"):
            assert s[name] is None or s[name] < TODAY_MS, name
        assert s["hs_createdate"] <= s["hs_lastmodifieddate"]


# the longest period of each frequency, in days
PERIOD_DAYS = {"weekly": 7, "biweekly": 14, "monthly": 31, "quarterly": 92, "per_six_months": 184,
               "annually": 366, "per_two_years": 731}  # fmt: skip


def _days(ms: int) -> int:
    """Days from TODAY to a stored date."""
    return (ms - TODAY_MS) // DAY_MS


def test_next_due_dates_follow_the_status(subs: list[dict[str, Any]]) -> None:
    for s in subs:
        status, due = s["hs_status"], s["hs_next_payment_due_date"]
        start = s["hs_recurring_billing_start_date"]
        scheduled_end = s["hs_scheduled_cancellation_date"]
        if status in ("canceled", "expired") or scheduled_end is not None:
            assert due is None, s
            continue
        offset = _days(due)
        if status == "active":
            assert 1 <= offset < PERIOD_DAYS[s["hs_recurring_billing_frequency"]], s
        elif status == "unpaid":
            card = not s["hs_payment_method"].startswith("ACH")
            assert (-6 if card else -36) <= offset <= (-1 if card else -7), s
        elif status == "past_due":
            assert -60 <= offset < 0, s
        elif status == "scheduled":
            assert due == start and 1 <= offset <= 60, s
        if status != "scheduled":
            assert start < TODAY_MS


def test_active_due_dates_spread_over_a_whole_period(big: list[dict[str, Any]]) -> None:
    offsets: dict[str, list[int]] = {}
    for s in big:
        if s["hs_status"] == "active" and s["hs_next_payment_due_date"] is not None:
            frequency = s["hs_recurring_billing_frequency"]
            offsets.setdefault(frequency, []).append(_days(s["hs_next_payment_due_date"]))
    assert set(offsets) == set(PERIOD_DAYS)
    for frequency, days in offsets.items():
        period = PERIOD_DAYS[frequency]
        assert min(days) <= max(1, period // 100) and max(days) >= period * 0.9 - 1, frequency
        # uniform: each half of the period holds about half of them
        early = sum(1 for d in days if d <= period // 2) / len(days)
        assert 0.4 < early < 0.6, (frequency, early)


def test_nothing_is_due_now(workspace: tuple[Path, DemoSummary]) -> None:
    """Every billing event lies tomorrow or later: a fresh demo has none due until time moves."""
    due = {
        "renewal": "SELECT count(*) FROM subscriptions WHERE hs_status = 'active'"
        " AND hs_next_payment_due_date <= {t}",
        "start": "SELECT count(*) FROM subscriptions WHERE hs_status = 'scheduled'"
        " AND hs_recurring_billing_start_date <= {t}",
        "retry": "SELECT count(*) FROM subscriptions WHERE hs_status = 'unpaid'"
        " AND hs_next_payment_retry_date <= {t}",
        "settlement": "SELECT count(*) FROM payments WHERE status = 'processing'"
        " AND created_at - created_at % {d} + 6 * {d} <= {t}",
        "cancellation": "SELECT count(*) FROM subscriptions WHERE hs_status = 'active'"
        " AND hs_scheduled_cancellation_date <= {t}",
        "resume": "SELECT count(*) FROM subscriptions WHERE hs_status = 'paused'"
        " AND hs_resume_date <= {t}",
    }
    for kind, sql in due.items():
        assert _query(workspace, sql.format(t=TODAY_MS, d=DAY_MS)) == [(0,)], kind


def _date(ms: int) -> dt.date:
    return dt.date(1970, 1, 1) + dt.timedelta(days=ms // DAY_MS)


def test_due_dates_fall_on_billing_cycles(big: list[dict[str, Any]]) -> None:
    """On the start date's day of month, clamped to shorter months (billing.next_period_end)."""
    months = {value: n for value, _, n in FREQUENCIES}
    clamped = 0
    for s in big:
        day = s["hs_next_payment_due_date"] or s["hs_scheduled_cancellation_date"]
        if day is None:
            continue
        start, due = _date(s["hs_recurring_billing_start_date"]), _date(day)
        frequency = s["hs_recurring_billing_frequency"]
        if months[frequency]:
            month_days = calendar.monthrange(due.year, due.month)[1]
            assert due.day == min(start.day, month_days), s
            clamped += due.day < start.day
            assert (due.year * 12 + due.month - start.year * 12 - start.month) % months[
                frequency
            ] == 0
            following = next_period_end(due, frequency, start.day)
            assert following.day == min(
                start.day, calendar.monthrange(following.year, following.month)[1]
            )
        else:
            assert (due - start).days % (7 if frequency == "weekly" else 14) == 0
    assert clamped > 0  # month ends: starts on the 29th-31st due in shorter months


def test_canceled_have_a_recent_cancellation_date(subs: list[dict[str, Any]]) -> None:
    for s in subs:
        canceled_at = s["hs_canceled_at"]
        if s["hs_status"] == "canceled":
            assert canceled_at is not None and s["hs_next_payment_due_date"] is None
            assert TODAY_MS - 121 * DAY_MS < canceled_at < TODAY_MS
            assert s["hs_lastmodifieddate"] >= canceled_at
        else:
            assert canceled_at is None


def test_only_paused_have_a_pause_reason(subs: list[dict[str, Any]]) -> None:
    reasons = Counter((s["hs_status"], s["hs_pause_reason"] is not None) for s in subs)
    assert reasons[("paused", True)] > 0
    assert {status for status, has in reasons if has} == {"paused"}


# -- money -----------------------------------------------------------------------------------


def test_amounts_match_line_items_and_mrr_matches_frequency(
    workspace: tuple[Path, DemoSummary], subs: list[dict[str, Any]]
) -> None:
    totals = dict(
        _query(
            workspace,
            "SELECT a.subscription_id, SUM(l.price * l.quantity) FROM associations a "
            "JOIN line_items l ON a.object_type = 'line_item' AND l.id = a.object_id "
            "GROUP BY a.subscription_id",
        )
    )
    per_month = {"weekly": 52 / 12, "biweekly": 26 / 12, "monthly": 1, "quarterly": 1 / 3,
                 "per_six_months": 1 / 6, "annually": 1 / 12, "per_two_years": 1 / 24}  # fmt: skip
    for s in subs:
        sid = int(s["hs_object_id"])
        amount = s["hs_next_payment_amount"] or s["hs_last_payment_amount"]
        assert amount == pytest.approx(totals[sid], abs=0.011)
        if s["hs_status"] in ("canceled", "expired"):
            assert s["hs_mrr"] == 0 and s["hs_next_payment_amount"] is None
        elif s["hs_status"] == "paused":  # earns nothing until resumed
            assert s["hs_mrr"] == 0 and s["hs_next_payment_amount"] is not None
        else:
            expected = amount * per_month[s["hs_recurring_billing_frequency"]]
            assert s["hs_mrr"] == pytest.approx(expected, abs=0.011)


def test_last_payment_status_follows_status_and_payments(
    workspace: tuple[Path, DemoSummary], subs: list[dict[str, Any]]
) -> None:
    last_payment = dict(
        _query(
            workspace,
            "SELECT a.subscription_id, p.status FROM associations a JOIN payments p "
            "ON a.object_type = 'payment' AND p.id = a.object_id "
            "WHERE p.id = (SELECT MAX(a2.object_id) FROM associations a2 JOIN payments p2 "
            "  ON p2.id = a2.object_id AND p2.kind = 'payment' "
            "  WHERE a2.subscription_id = a.subscription_id AND a2.object_type = 'payment')",
        )
    )
    for s in subs:
        sid, status, last = int(s["hs_object_id"]), s["hs_status"], s["hs_last_payment_status"]
        if status == "unpaid":
            assert last == "failed"
        elif status == "scheduled":
            assert last is None and sid not in last_payment
            continue
        assert last_payment[sid] == last, s


# -- associations ----------------------------------------------------------------------------


def test_every_subscription_has_exactly_one_contact(workspace: tuple[Path, DemoSummary]) -> None:
    rows = _query(
        workspace,
        "SELECT s.hs_object_id, COUNT(a.object_id), MIN(a.type_id) FROM subscriptions s "
        "LEFT JOIN associations a ON a.subscription_id = s.hs_object_id "
        "AND a.object_type = 'contact' GROUP BY s.hs_object_id",
    )
    assert len(rows) == COUNT
    assert {(n, t) for _, n, t in rows} == {(1, ASSOCIATION_BY_NAME["contact"].type_id)}


def test_association_counts_and_type_ids(workspace: tuple[Path, DemoSummary]) -> None:
    per_sub: dict[str, Counter[int]] = {}
    for object_type, _sid, n in _query(
        workspace,
        "SELECT object_type, subscription_id, COUNT(*) FROM associations "
        "GROUP BY object_type, subscription_id",
    ):
        per_sub.setdefault(object_type, Counter())[n] += 1
    assert set(per_sub) == set(ASSOCIATION_BY_NAME)
    assert sum(per_sub["deal"].values()) == COUNT
    assert set(per_sub["line_item"]) <= {1, 2}
    assert set(per_sub["payment"]) <= {1, 2, 3, 4}  # 1-3, plus a refund on canceled ones
    assert 0.7 * COUNT < sum(per_sub["company"].values()) < COUNT
    assert 0.1 * COUNT < sum(per_sub["quote"].values()) < 0.5 * COUNT
    type_ids = dict(_query(workspace, "SELECT DISTINCT object_type, type_id FROM associations"))
    assert type_ids == {name: a.type_id for name, a in ASSOCIATION_BY_NAME.items()}


def test_associated_records_exist(workspace: tuple[Path, DemoSummary]) -> None:
    assert set(OBJECT_TABLE_NAMES) == set(ASSOCIATION_BY_NAME)
    for object_type, table in OBJECT_TABLE_NAMES.items():
        missing = _query(
            workspace,
            f"SELECT COUNT(*) FROM associations a LEFT JOIN {table} t ON t.id = a.object_id "
            f"WHERE a.object_type = '{object_type}' AND t.id IS NULL",
        )
        assert missing == [(0,)], object_type
        orphans = _query(
            workspace,
            f"SELECT COUNT(*) FROM {table} t WHERE NOT EXISTS (SELECT 1 FROM associations a "
            f"WHERE a.object_type = '{object_type}' AND a.object_id = t.id)",
        )
        assert orphans == [(0,)], object_type


def test_orders_payment_links_feedback_and_custom_records(
    workspace: tuple[Path, DemoSummary],
) -> None:
    per_object = dict(
        _query(
            workspace,
            "SELECT object_type, COUNT(DISTINCT subscription_id) FROM associations"
            " WHERE object_type IN ('order', 'payment_link', 'feedback_submission',"
            " 'custom_record') GROUP BY object_type",
        )
    )
    assert 0.03 * COUNT < per_object["order"] < 0.09 * COUNT
    assert 0.025 * COUNT < per_object["payment_link"] < 0.08 * COUNT
    assert 0.01 * COUNT < per_object["feedback_submission"] < 0.06 * COUNT
    assert 0.01 * COUNT < per_object["custom_record"] < 0.06 * COUNT
    # an order per checkout, paid unless never charged (scheduled); links are shared
    orders = _query(
        workspace,
        "SELECT o.status, s.hs_status, o.amount, o.currency, s.hs_currency_code FROM orders o"
        " JOIN associations a ON a.object_type = 'order' AND a.object_id = o.id"
        " JOIN subscriptions s ON s.hs_object_id = a.subscription_id",
    )
    for status, sub_status, amount, currency, sub_currency in orders:
        assert status == ("open" if sub_status == "scheduled" else "paid")
        assert currency == sub_currency and amount > 0
    shared = _query(
        workspace,
        "SELECT MAX(n) FROM (SELECT COUNT(*) AS n FROM associations"
        " WHERE object_type = 'payment_link' GROUP BY object_id)",
    )
    assert shared[0][0] > 1
    surveys = _query(
        workspace,
        "SELECT f.survey, s.hs_status FROM feedback_submissions f JOIN associations a"
        " ON a.object_type = 'feedback_submission' AND a.object_id = f.id"
        " JOIN subscriptions s ON s.hs_object_id = a.subscription_id",
    )
    for survey, status in surveys:
        assert (survey == "Cancellation survey") == (status in ("canceled", "expired"))
    assert _query(workspace, "SELECT DISTINCT object_name FROM custom_records") == [("License",)]
    assert _query(
        workspace, f"SELECT COUNT(*) FROM feedback_submissions WHERE created_at >= {TODAY_MS}"
    ) == [(0,)]


def test_contacts_have_1_to_3_emails_and_companies_1_to_2_domains(
    workspace: tuple[Path, DemoSummary],
) -> None:
    emails = Counter(
        n for (n,) in _query(workspace, "SELECT COUNT(*) FROM contact_emails GROUP BY contact_id")
    )
    domains = Counter(
        n for (n,) in _query(workspace, "SELECT COUNT(*) FROM company_domains GROUP BY company_id")
    )
    contacts = _query(workspace, "SELECT count(*) FROM contacts")[0][0]
    assert set(emails) == {1, 2, 3} and sum(emails.values()) == contacts
    assert set(domains) == {1, 2}
    shared = _query(
        workspace,
        "SELECT MAX(n) FROM (SELECT COUNT(*) AS n FROM associations "
        "WHERE object_type = 'company' GROUP BY object_id)",
    )
    assert shared[0][0] > 1


def test_pending_ach_payments_are_younger_than_the_settlement_delay(
    workspace: tuple[Path, DemoSummary],
) -> None:
    rows = _query(
        workspace,
        "SELECT s.hs_status, s.hs_payment_method, s.hs_last_payment_status, p.created_at,"
        " p.id = (SELECT max(a2.object_id) FROM associations a2 JOIN payments p2"
        "  ON p2.id = a2.object_id AND p2.kind = 'payment'"
        "  WHERE a2.object_type = 'payment' AND a2.subscription_id = s.hs_object_id)"
        " FROM payments p JOIN associations a ON a.object_type = 'payment' AND a.object_id = p.id"
        " JOIN subscriptions s ON s.hs_object_id = a.subscription_id"
        " WHERE p.status = 'processing'",
    )
    assert Counter(r[0] for r in rows)["active"] > 0
    assert len(rows) == workspace[1].pending_ach_payments
    for status, method, last_status, created_at, latest in rows:
        assert method.startswith("ACH - ") and last_status == "processing" and latest, status
        assert TODAY_MS - 5 * DAY_MS <= created_at < TODAY_MS  # made 1-5 days before today
    methods = _query(workspace, "SELECT DISTINCT method, status, kind FROM payments")
    assert {m for m, _, _ in methods} == {"card", "ach"}
    assert {s for _, s, _ in methods} >= {"succeeded", "failed", "processing", "partially_refunded"}
    assert {k for _, _, k in methods} == {"payment", "refund"}


def test_some_contacts_have_several_subscriptions_of_one_company_and_currency(
    workspace: tuple[Path, DemoSummary],
) -> None:
    rows = _query(
        workspace,
        "SELECT a.object_id, count(*), count(DISTINCT s.hs_currency_code),"
        " count(DISTINCT s.hs_payment_method), count(DISTINCT c.object_id), count(c.object_id)"
        " FROM associations a JOIN subscriptions s ON s.hs_object_id = a.subscription_id"
        " LEFT JOIN associations c ON c.subscription_id = s.hs_object_id"
        "  AND c.object_type = 'company'"
        " WHERE a.object_type = 'contact' GROUP BY a.object_id",
    )
    sizes = Counter(n for _, n, *_ in rows)
    assert set(sizes) == {1, 2, 3, 4}
    assert 0.1 < (len(rows) - sizes[1]) / len(rows) < 0.2  # ~15 % of contacts
    for contact, n, currencies, methods, companies, with_company in rows:
        assert currencies == methods == 1, contact
        assert (companies, with_company) in ((0, 0), (1, n)), contact


def _subscription_payments(
    workspace: tuple[Path, DemoSummary],
) -> dict[int, list[tuple[Any, ...]]]:
    """Per subscription: its payments (id, amount, status, kind, refunds_payment_id,
    created_at), oldest first."""
    out: dict[int, list[tuple[Any, ...]]] = {}
    for sid, *payment in _query(
        workspace,
        "SELECT a.subscription_id, p.id, p.amount, p.status, p.kind, p.refunds_payment_id,"
        " p.created_at FROM associations a JOIN payments p ON p.id = a.object_id"
        " WHERE a.object_type = 'payment' ORDER BY p.id",
    ):
        out.setdefault(sid, []).append(tuple(payment))
    return out


def test_refunds_of_canceled_subscriptions(
    workspace: tuple[Path, DemoSummary], subs: list[dict[str, Any]]
) -> None:
    payments = _subscription_payments(workspace)
    refunded = 0
    for s in subs:
        sid = int(s["hs_object_id"])
        refunds = [p for p in payments.get(sid, []) if p[3] == "refund"]
        if not refunds:
            assert s["hs_last_payment_status"] not in ("refunded", "partially_refunded")
            continue
        refunded += 1
        assert s["hs_status"] == "canceled" and len(refunds) == 1
        (rid, amount, status, _kind, of, created_at) = refunds[0]
        paid = next(p for p in payments[sid] if p[0] == of)
        assert paid == max((p for p in payments[sid] if p[3] == "payment"), key=lambda p: p[0])
        assert status == "succeeded" and created_at == s["hs_canceled_at"] and rid > of
        assert paid[2] == s["hs_last_payment_status"]
        if paid[2] == "refunded":
            assert amount == paid[1]
        else:  # the unused days of the paid period, as `cancel --refund unused` computes them
            assert paid[2] == "partially_refunded"
            frequency = s["hs_recurring_billing_frequency"]
            end = paid_period_end(_date(paid[5]), frequency, None)
            pro = prorate(Decimal(str(paid[1])), s["hs_currency_code"], frequency, end,
                          ms_to_datetime(created_at))  # fmt: skip
            assert Decimal(str(amount)) == pro.refund and 0 < amount < paid[1]
    assert refunded > 0


def test_scheduled_cancellations_as_cancel_at_period_end_leaves_them(
    big: list[dict[str, Any]],
) -> None:
    scheduled = [s for s in big if s["hs_scheduled_cancellation_date"] is not None]
    active = sum(1 for s in big if s["hs_status"] == "active")
    assert 0.02 < len(scheduled) / active < 0.04
    for s in scheduled:
        assert s["hs_status"] == "active" and s["hs_scheduled_cancellation_date"] > TODAY_MS
        assert s["hs_next_payment_due_date"] is None and s["hs_next_payment_amount"] is None
        assert s["hs_mrr"] > 0


def test_outbox_holds_the_emails_the_verbs_write(
    workspace: tuple[Path, DemoSummary], subs: list[dict[str, Any]]
) -> None:
    mails: dict[int, list[tuple[Any, ...]]] = {}
    for sid, *mail in _query(
        workspace,
        "SELECT subscription_id, kind, recipient, subject, body, link, job_id, created_at"
        " FROM outbox ORDER BY id",
    ):
        mails.setdefault(sid, []).append(tuple(mail))
    primary = dict(
        _query(
            workspace,
            "SELECT a.subscription_id, e.email FROM associations a JOIN contact_emails e"
            " ON e.contact_id = a.object_id AND e.position = 0 WHERE a.object_type = 'contact'",
        )
    )
    refunds = dict(_query(workspace, "SELECT refunds_payment_id, amount FROM payments"
                                     " WHERE kind = 'refund'"))  # fmt: skip
    payments = _subscription_payments(workspace)
    for s in subs:
        sid, status, name = int(s["hs_object_id"]), s["hs_status"], s["hs_name"]
        ending = s["hs_scheduled_cancellation_date"]
        failed = s["hs_last_payment_status"] == "failed"
        expected = status == "canceled" or ending is not None or failed
        assert (sid in mails) == expected, s
        if not expected:
            continue
        ((kind, recipient, subject, body, link, job_id, created_at),) = mails[sid]
        assert recipient == primary[sid] and job_id is None
        assert s["hs_createdate"] < created_at <= s["hs_lastmodifieddate"] < TODAY_MS
        if status == "canceled" or ending is not None:
            refund = next((refunds[p[0]] for p in payments[sid] if p[0] in refunds), None)
            day = _date(s["hs_canceled_at"] or created_at)
            text = cancellation_text(
                name, day, None if ending is None else _date(ending),
                None if refund is None else Decimal(f"{refund:.2f}"), s["hs_currency_code"],
            )  # fmt: skip
            assert (kind, subject, body, link) == ("cancellation", *text, None)
            if status == "canceled":
                assert created_at == s["hs_canceled_at"]
        else:
            assert status in ("unpaid", "past_due")
            url = update_link_of(sid, ms_to_datetime(s["hs_createdate"]))
            assert (kind, subject, body, link) == (
                "payment_method_update", *update_link_text(name, url), url,
            )  # fmt: skip


def test_the_update_link_is_the_one_the_verbs_send(demo: Invoke, subctl_home: Path) -> None:
    ((sid, link),) = _rows(
        subctl_home / "workspace.db",
        "SELECT subscription_id, link FROM outbox WHERE kind = 'payment_method_update'"
        " ORDER BY id LIMIT 1",
    )
    assert demo(f"send-update-link {sid} --yes").exit_code == 0
    links = _rows(subctl_home / "workspace.db",
                  f"SELECT link FROM outbox WHERE subscription_id = {sid}")  # fmt: skip
    assert links == [(link,), (link,)]


def test_payment_counters_and_last_payment_date(
    workspace: tuple[Path, DemoSummary], subs: list[dict[str, Any]]
) -> None:
    payments = _subscription_payments(workspace)
    for s in subs:
        sid = int(s["hs_object_id"])
        charges = [p for p in payments.get(sid, []) if p[3] == "payment"]
        completed = s["hs_number_of_completed_payments"]
        last_amount = s["hs_last_payment_amount"]
        if not charges:
            assert s["hs_status"] == "scheduled" and completed == 0
            assert s["hs_last_payment_date"] is None and s["hs_total_collected_amount"] == 0
            continue
        assert s["hs_last_payment_date"] == charges[-1][5]
        paid = sum(1 for p in charges if p[2] != "failed" and p[2] != "processing")
        assert completed >= paid and completed == int(completed)
        if s["hs_last_payment_status"] in ("failed", "processing"):
            assert paid == len(charges) - 1
        assert s["hs_total_collected_amount"] == pytest.approx(completed * last_amount, abs=0.01)


def test_fixed_terms(big: list[dict[str, Any]]) -> None:
    terms = Counter()
    for s in big:
        term, completed = (
            s["hs_recurring_billing_number_of_payments"],
            s["hs_number_of_completed_payments"],
        )
        if s["hs_status"] == "expired":
            assert term is not None and completed == term, s
        elif term is not None:
            assert completed < term, s
            terms[s["hs_recurring_billing_frequency"], int(term)] += 1
    assert terms["monthly", 12] > 0 and terms["quarterly", 4] > 0
    share = sum(terms.values()) / sum(1 for s in big if s["hs_status"] != "expired")
    assert 0.15 < share < 0.25


def test_resume_dates_and_retry_state(big: list[dict[str, Any]]) -> None:
    resuming = [s for s in big if s["hs_resume_date"] is not None]
    assert {s["hs_status"] for s in resuming} == {"paused"}
    assert {_days(s["hs_resume_date"]) for s in resuming} == set(range(1, 91))
    counts: Counter[int] = Counter()
    for s in big:
        retry, count = s["hs_next_payment_retry_date"], s["hs_payment_retry_count"]
        card = not s["hs_payment_method"].startswith("ACH")
        if s["hs_status"] != "unpaid" or not card:
            assert retry is None and count is None, s
            continue
        failed = _days(s["hs_next_payment_due_date"])  # the failure day, 1-6 days ago
        assert -6 <= failed <= -1 and retry > TODAY_MS
        assert count == sum(1 for days in demo.RETRY_DAYS if failed + days <= 0)
        assert _days(retry) == failed + demo.RETRY_DAYS[int(count)]
        if s["hs_payment_method"].endswith(demo.CARD_DECLINED_ONCE):
            assert count == 0  # its first retry succeeds
        counts[int(count)] += 1
    assert set(counts) == {0, 1, 2}


def test_plans_are_priced_in_order(big: list[dict[str, Any]]) -> None:
    ranges: dict[tuple[str, str], dict[int, list[float]]] = {}
    order = ("Starter", "Pro", "Business", "Enterprise")
    for s in big:
        plan = s["hs_name"].split(" – ")[1].split(" plan ")[0]
        amount = s["hs_next_payment_amount"] or s["hs_last_payment_amount"]
        key = (s["hs_currency_code"], s["hs_recurring_billing_frequency"])
        ranges.setdefault(key, {}).setdefault(order.index(plan), []).append(amount)
    for key, plans in ranges.items():
        bounds = [(min(plans[k]), max(plans[k])) for k in sorted(plans)]
        for (_, most), (least, _) in zip(bounds, bounds[1:], strict=False):
            assert most < least, key
    assert len(ranges[("USD", "monthly")]) == 4


def test_payment_methods_include_the_failing_test_values(big: list[dict[str, Any]]) -> None:
    methods = Counter(s["hs_payment_method"][-4:] for s in big)
    ach = sum(1 for s in big if s["hs_payment_method"].startswith("ACH"))
    cards = len(big) - ach
    assert 0.01 < methods[demo.CARD_DECLINED] / cards < 0.02
    assert 0.01 < methods[demo.CARD_DECLINED_ONCE] / cards < 0.02
    assert 0.01 < methods[demo.ACH_FAILS] / ach < 0.03


def test_the_store_reads_demo_data(workspace: tuple[Path, DemoSummary]) -> None:
    store = open_local(sqlite_url(workspace[0])).records
    try:
        sub = store.get(1)
        assert sub.id == 1
        start = sub.properties["hs_recurring_billing_start_date"]
        assert isinstance(start, dt.date) and not isinstance(start, dt.datetime)
        assert store.count() == COUNT
    finally:
        store.close()


# -- replacing a workspace (the command) --------------------------------------------------


def _editable(invoke: Invoke, n: int) -> list[int]:
    """Ids of ``n`` subscriptions that `update` may edit (active, not due within 2 days)."""
    where = "status = active and next_payment_due_date > +3d"
    found = invoke(["list", "--where", where, "--sort", "hs_object_id", "--limit", str(n),
                    "--format", "json", "--fields", "hs_object_id"])  # fmt: skip
    assert found.exit_code == 0, found.stderr
    return [int(row["hs_object_id"]) for row in json.loads(found.stdout)]


def _rows(path: Path, sql: str) -> list[tuple[Any, ...]]:
    with sqlite3.connect(path) as conn:
        return conn.execute(sql).fetchall()


def _indexes(path: Path) -> set[str]:
    return {r[0] for r in _rows(path, "SELECT name FROM sqlite_master WHERE type = 'index'")}


def test_demo_replaces_unchanged_demo_data_without_asking(demo: Invoke) -> None:
    again = demo("demo --count 40 --seed 2")
    assert again.exit_code == 0, again.stderr
    assert demo("demo --count 30").exit_code == 0


@pytest.mark.parametrize(
    "change",
    [
        "update {id} --set name=Renamed --yes",
        "cancel {id} --yes",
        "associate {id} --contact new --create 'name=Grace Hopper,email=g@navy.mil'"
        " --replace --yes",
        "associate {id} --contact 199 --replace --yes",  # same counts: the checksum tells
        "send-update-link {id} --yes",
        # Changes that add no row: the stamp covers them too.
        "associate {id} --line-item {line_item} --quantity 2 --price {half} --yes",
        "pay {unpaid} --yes",
        "property create --name order_code --label 'Order code' --type string",
        "property settings --tier professional",
        "filter --where 'status = active' --save-view mine",
    ],
)
def test_demo_asks_before_replacing_anything_it_did_not_write(
    demo: Invoke, subctl_home: Path, change: str
) -> None:
    editable = ", ".join(str(sid) for sid in _editable(demo, 20))
    path = subctl_home / "workspace.db"
    ((sid, line_item, price),) = _rows(  # one with a line item of quantity 1
        path,
        "SELECT a.subscription_id, l.id, l.price FROM line_items l JOIN associations a"
        " ON a.object_id = l.id AND a.object_type = 'line_item'"
        f" WHERE a.subscription_id IN ({editable}) AND l.quantity = 1 ORDER BY l.id LIMIT 1",
    )
    ((unpaid,),) = _rows(
        path, "SELECT min(hs_object_id) FROM subscriptions WHERE hs_status = 'unpaid'"
    )
    made = demo(change.format(id=sid, line_item=line_item, half=price / 2, unpaid=unpaid))
    assert made.exit_code == 0, made.stderr
    before = [_rows(path, f"SELECT * FROM {t} ORDER BY 1, 2, 3") for t in TABLES]
    refused = demo("demo --count 40")
    assert (refused.exit_code, refused.stderr.splitlines()) == (
        2,
        [
            "Error: Replace the 300 subscriptions in this workspace, with their records, history"
            " and batches, by demo data: confirmation required",
            "Hint: pass --yes to confirm",
        ],
    )
    assert [_rows(path, f"SELECT * FROM {t} ORDER BY 1, 2, 3") for t in TABLES] == before
    assert demo("demo --count 40 --yes").exit_code == 0
    assert demo("demo --count 30").exit_code == 0  # demo data again: no question


def _start_demo(home: Path, count: int) -> subprocess.Popen[str]:
    env = {**os.environ, "SUBCTL_HOME": str(home), "SUBCTL_NOW": NOW}
    return subprocess.Popen(
        [sys.executable, "-m", "subctl", "demo", "--count", str(count), "--seed", "9", "--yes"],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip


def _wait_for_the_load(proc: subprocess.Popen[str], path: Path) -> None:
    """Until the load has written a few MB into the WAL (its transaction is under way)."""
    wal = path.with_name(path.name + "-wal")
    deadline = time.monotonic() + 120
    while proc.poll() is None and time.monotonic() < deadline:
        if wal.exists() and wal.stat().st_size > 8_000_000:
            return
        time.sleep(0.01)
    raise AssertionError(f"the load did not start: {proc.returncode}")


def _unique_property_workspace(invoke: Invoke) -> list[int]:
    made = invoke("property create --name order_code --label 'Order code' --type string --unique")
    assert made.exit_code == 0, made.stderr
    first, second = _editable(invoke, 2)
    assert invoke(f"update {first} --set order_code=A-1 --yes").exit_code == 0
    return [first, second]


def _unique_still_enforced(invoke: Invoke, second: int) -> None:
    clash = invoke(f"update {second} --set order_code=a-1 --yes")
    assert (clash.exit_code, clash.stderr.splitlines()[0]) == (
        5,
        "Error: order_code: the value is already used by another subscription (unique values)",
    )


def test_ctrl_c_during_demo_leaves_the_workspace_unchanged(demo: Invoke, subctl_home: Path) -> None:
    _first, second = _unique_property_workspace(demo)
    path = subctl_home / "workspace.db"
    before = [_rows(path, f"SELECT * FROM {t} ORDER BY 1, 2, 3") for t in TABLES]
    indexes = _indexes(path)
    proc = _start_demo(subctl_home, 300_000)
    _wait_for_the_load(proc, path)
    proc.send_signal(signal.SIGINT)
    _out, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    assert "Error: interrupted: the workspace was not changed" in err
    assert "Traceback" not in err
    assert [_rows(path, f"SELECT * FROM {t} ORDER BY 1, 2, 3") for t in TABLES] == before
    assert _indexes(path) == indexes
    _unique_still_enforced(demo, second)


def test_a_crash_during_demo_keeps_every_index(demo: Invoke, subctl_home: Path) -> None:
    _first, second = _unique_property_workspace(demo)
    path = subctl_home / "workspace.db"
    indexes = _indexes(path)
    assert "ix_subscriptions_cp_order_code" in indexes and "ix_subscriptions_due" in indexes
    proc = _start_demo(subctl_home, 300_000)
    _wait_for_the_load(proc, path)
    proc.kill()
    proc.communicate(timeout=60)
    assert _indexes(path) == indexes
    assert _rows(path, "SELECT count(*) FROM subscriptions") == [(300,)]
    ready = demo("init")
    assert ready.exit_code == 0 and "Restored" not in ready.stderr, ready.stderr
    _unique_still_enforced(demo, second)


def test_init_restores_indexes_an_older_subctl_lost(demo: Invoke, subctl_home: Path) -> None:
    _first, second = _unique_property_workspace(demo)
    path = subctl_home / "workspace.db"
    indexes = _indexes(path)
    lost = ["ix_subscriptions_cp_order_code", "ix_subscriptions_due", "ix_associations_object"]
    with sqlite3.connect(path) as conn:
        for name in lost:
            conn.execute(f"DROP INDEX {name}")
    restored = demo("init")
    assert restored.exit_code == 0, restored.stderr
    assert restored.stderr.startswith(
        "Restored 3 missing index(es): ix_associations_object, ix_subscriptions_due,"
        " ix_subscriptions_cp_order_code\n"
    )
    assert _indexes(path) == indexes
    _unique_still_enforced(demo, second)


def test_init_reports_duplicates_that_block_a_unique_index(demo: Invoke, subctl_home: Path) -> None:
    first, second = _unique_property_workspace(demo)
    path = subctl_home / "workspace.db"
    with sqlite3.connect(path) as conn:
        conn.execute("DROP INDEX ix_subscriptions_cp_order_code")
        conn.execute("UPDATE subscriptions SET order_code = 'A-1' WHERE hs_object_id = ?",
                     (second,))  # fmt: skip
    result = demo("init")
    assert result.exit_code == 5, result.stderr
    assert result.stderr.startswith(
        "Error: order_code: several subscriptions share a value of this unique property"
    )
    assert "Workspace ready" not in result.stderr
    assert first != second
