"""The baseline of advancing the workspace's clock by 30 days: the same renewals, by hand,
through sqlite3.

    python benchmarks/advance_baseline.py WORKSPACE.db NOW_ISO DAYS

Every subscription due in the ``DAYS`` after ``NOW_ISO`` is renewed once: an ``active`` one whose
next payment is due by then (not canceled at the end of its period before that, nor at the end
of a fixed term), and a ``scheduled`` one whose start date has come. One ``UPDATE`` moves their
next due dates one billing period on (SQLite's date arithmetic; the started ones become
``active``) and one ``INSERT … SELECT`` records their payments, in one transaction: the least
work that renews those rows. No billing events, history, e-mails, retries, settlements or
journal, no second renewal of a weekly subscription within the days: what subctl does on top
is what the ratio measures. Prints the counts of rows written as JSON.
"""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
import sys

DAY_MS = 86_400_000
PERIOD = {
    "weekly": "+7 days",
    "biweekly": "+14 days",
    "monthly": "+1 month",
    "quarterly": "+3 months",
    "per_six_months": "+6 months",
    "annually": "+1 year",
    "per_two_years": "+2 years",
}
# The due rows: active and due, or scheduled and started, by the new time (``:until``, the
# day's start in epoch ms), chargeable as subctl charges them.
DUE = """(
    (hs_status = 'active' AND hs_next_payment_due_date <= :until
     AND NOT coalesce(hs_scheduled_cancellation_date <= hs_next_payment_due_date, 0)
     AND NOT coalesce(hs_number_of_completed_payments >= hs_recurring_billing_number_of_payments,
                      0))
    OR (hs_status = 'scheduled' AND hs_recurring_billing_start_date <= :until)
  ) AND hs_next_payment_amount IS NOT NULL AND hs_currency_code IS NOT NULL"""
CYCLE = (
    "CASE hs_status WHEN 'scheduled' THEN hs_recurring_billing_start_date"
    " ELSE hs_next_payment_due_date END"
)
NEXT_DUE = (
    f"CAST(strftime('%s', date(({CYCLE}) / 1000, 'unixepoch', CASE hs_recurring_billing_frequency "
    + " ".join(f"WHEN '{f}' THEN '{m}'" for f, m in PERIOD.items())
    + " END)) AS INTEGER) * 1000"
)


def until_ms(now_iso: str, days: int) -> int:
    """The day ``days`` after ``now_iso``, 00:00 UTC, in epoch ms (``:until`` of ``DUE``)."""
    until = (dt.datetime.fromisoformat(now_iso) + dt.timedelta(days=days)).date()
    return (until - dt.date(1970, 1, 1)).days * DAY_MS


def main(db: str, now_iso: str, days: str) -> None:
    until = until_ms(now_iso, int(days))
    conn = sqlite3.connect(db, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    conn.execute("BEGIN IMMEDIATE")
    payments = conn.execute(
        "INSERT INTO payments (amount, currency, status, method, kind, created_at)"
        f" SELECT hs_next_payment_amount, hs_currency_code, 'succeeded', 'card', 'payment',"
        f" {CYCLE} FROM subscriptions WHERE {DUE}",
        {"until": until},
    ).rowcount
    renewed = conn.execute(
        f"UPDATE subscriptions SET hs_next_payment_due_date = {NEXT_DUE},"
        " hs_status = 'active' WHERE " + DUE,
        {"until": until},
    ).rowcount
    conn.execute("COMMIT")
    conn.close()
    print(json.dumps({"renewed": renewed, "payments": payments}))


if __name__ == "__main__":
    main(*sys.argv[1:4])
