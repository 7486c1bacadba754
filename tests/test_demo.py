"""``subctl.services.demo.populate``: deterministic, realistic, consistent sample data."""

from __future__ import annotations

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
from pathlib import Path
from typing import Any

import pytest

from subctl.schema import ASSOCIATION_BY_NAME, FREQUENCIES, STATUSES
from subctl.services import demo
from subctl.services.demo import TABLE_COLUMNS, TABLES, DemoSummary, populate
from subctl.store.sql import open_local, sqlite_url
from tests.conftest import NOW, Invoke

TODAY = dt.date(2026, 11, 26)
DAY_MS = 86_400_000
TODAY_MS = (TODAY - dt.date(1970, 1, 1)).days * DAY_MS
COUNT = 500


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


def _query(workspace: tuple[Path, DemoSummary], sql: str) -> list[tuple[Any, ...]]:
    with sqlite3.connect(workspace[0]) as conn:
        return conn.execute(sql).fetchall()


# -- determinism -----------------------------------------------------------------------------


def test_same_seed_and_day_give_identical_workspaces(tmp_path: Path) -> None:
    a, b = tmp_path / "a.db", tmp_path / "b.db"
    assert _build(a, seed=3) == _build(b, seed=3)
    for table in TABLES:
        assert _dump(a, table) == _dump(b, table), table


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


def test_next_due_dates_follow_the_status(subs: list[dict[str, Any]]) -> None:
    for s in subs:
        status, due = s["hs_status"], s["hs_next_payment_due_date"]
        start = s["hs_recurring_billing_start_date"]
        if status in ("canceled", "expired"):
            assert due is None, s
            continue
        offset = (due - TODAY_MS) // DAY_MS
        assert -30 <= offset <= 60, s
        if status == "active":
            assert offset >= 0
        elif status in ("unpaid", "past_due"):
            assert offset < 0
        elif status == "scheduled":
            assert due == start and start > TODAY_MS
        if status != "scheduled":
            assert start < TODAY_MS


def test_due_dates_fall_on_billing_cycles(subs: list[dict[str, Any]]) -> None:
    months = {value: n for value, _, n in FREQUENCIES}
    for s in subs:
        if s["hs_status"] not in ("active", "unpaid", "past_due", "scheduled"):
            continue
        start = dt.date(1970, 1, 1) + dt.timedelta(
            days=s["hs_recurring_billing_start_date"] // DAY_MS
        )
        due = dt.date(1970, 1, 1) + dt.timedelta(days=s["hs_next_payment_due_date"] // DAY_MS)
        frequency = s["hs_recurring_billing_frequency"]
        if months[frequency]:
            assert due.day == start.day
            assert (due.year * 12 + due.month - start.year * 12 - start.month) % months[
                frequency
            ] == 0
        else:
            assert (due - start).days % (7 if frequency == "weekly" else 14) == 0


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
    assert all(s["hs_scheduled_cancellation_date"] is None for s in subs)


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
            "WHERE p.id = (SELECT MAX(a2.object_id) FROM associations a2 "
            "  WHERE a2.subscription_id = a.subscription_id AND a2.object_type = 'payment') "
            "AND NOT (p.method = 'ach' AND p.status = 'processing' AND EXISTS ("
            "  SELECT 1 FROM subscriptions s WHERE s.hs_object_id = a.subscription_id "
            "  AND s.hs_status = 'unpaid'))",
        )
    )
    for s in subs:
        sid, status, last = int(s["hs_object_id"]), s["hs_status"], s["hs_last_payment_status"]
        if status == "unpaid":
            assert last == "failed"
        elif status == "scheduled":
            assert last is None and sid not in last_payment
            continue
        if sid in last_payment:  # unpaid ones with an ACH retry processing are left out
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
    assert set(per_sub["payment"]) <= {1, 2, 3, 4}  # 1-3, plus an ACH retry on unpaid ones
    assert 0.7 * COUNT < sum(per_sub["company"].values()) < COUNT
    assert 0.1 * COUNT < sum(per_sub["quote"].values()) < 0.5 * COUNT
    type_ids = dict(_query(workspace, "SELECT DISTINCT object_type, type_id FROM associations"))
    assert type_ids == {name: a.type_id for name, a in ASSOCIATION_BY_NAME.items()}


def test_associated_records_exist(workspace: tuple[Path, DemoSummary]) -> None:
    tables = {"contact": "contacts", "company": "companies", "deal": "deals",
              "line_item": "line_items", "quote": "quotes", "invoice": "invoices",
              "payment": "payments"}  # fmt: skip
    for object_type, table in tables.items():
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


def test_contacts_have_1_to_3_emails_and_companies_1_to_2_domains(
    workspace: tuple[Path, DemoSummary],
) -> None:
    emails = Counter(
        n for (n,) in _query(workspace, "SELECT COUNT(*) FROM contact_emails GROUP BY contact_id")
    )
    domains = Counter(
        n for (n,) in _query(workspace, "SELECT COUNT(*) FROM company_domains GROUP BY company_id")
    )
    assert set(emails) == {1, 2, 3} and sum(emails.values()) == COUNT
    assert set(domains) == {1, 2}
    shared = _query(
        workspace,
        "SELECT MAX(n) FROM (SELECT COUNT(*) AS n FROM associations "
        "WHERE object_type = 'company' GROUP BY object_id)",
    )
    assert shared[0][0] > 1


def test_pending_ach_payments_exist_mostly_on_active_and_unpaid(
    workspace: tuple[Path, DemoSummary],
) -> None:
    rows = _query(
        workspace,
        "SELECT s.hs_status, COUNT(*) FROM payments p "
        "JOIN associations a ON a.object_type = 'payment' AND a.object_id = p.id "
        "JOIN subscriptions s ON s.hs_object_id = a.subscription_id "
        "WHERE p.method = 'ach' AND p.status = 'processing' GROUP BY s.hs_status",
    )
    by_status = dict(rows)
    assert by_status.get("active", 0) > 0
    assert by_status.get("active", 0) + by_status.get("unpaid", 0) > 0.75 * sum(by_status.values())
    methods = _query(workspace, "SELECT DISTINCT method, status, kind FROM payments")
    assert {m for m, _, _ in methods} == {"card", "ach"}
    assert {s for _, s, _ in methods} == {"succeeded", "failed", "processing"}
    assert {k for _, _, k in methods} == {"payment"}


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
        "associate {id} --contact 299 --replace --yes",  # same counts: the checksum tells
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
    (sid,) = _editable(demo, 1)
    path = subctl_home / "workspace.db"
    ((line_item, price),) = _rows(
        path,
        "SELECT l.id, l.price FROM line_items l JOIN associations a ON a.object_id = l.id"
        f" AND a.object_type = 'line_item' WHERE a.subscription_id = {sid} AND l.quantity = 1"
        " ORDER BY l.id LIMIT 1",
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
