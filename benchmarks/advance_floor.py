"""The floor of advancing the clock by 30 days: the least a billing run that keeps the records
subctl must keep can write, through sqlite3, for the baseline's own renewals only.

    python benchmarks/advance_floor.py WORKSPACE.db NOW_ISO DAYS

``advance_baseline.py`` renews each due row once with one ``UPDATE`` and one ``INSERT`` of
payments. A billing run must also keep, for each renewal, its billing event (the billing log,
``subctl billing log``, which is also what the audit shows) and the history of the due date it
moved (``subctl view``'s timeline); and the renewal sets the last payment's amount, status and
date and the change stamp. This script does exactly that on top of the baseline, set-based, in
one transaction: nothing for weekly subscriptions renewed again within the days, settlements of
bank payments, retries, declines, starts' status history, e-mails, journal or audit rows, which
subctl also writes. ``floor / baseline`` is therefore a lower bound of subctl's ratio on the
``advance-30d`` figure. Prints the count of rows renewed as JSON (the baseline's, checked).
"""

from __future__ import annotations

import json
import sqlite3
import sys

from advance_baseline import CYCLE, DUE, NEXT_DUE, until_ms  # beside this script

DAY = "date({} / 1000, 'unixepoch')"  # epoch ms -> ISO day, the history's text of a date


def main(db: str, now_iso: str, days: str) -> None:
    until = {"until": until_ms(now_iso, int(days))}
    conn = sqlite3.connect(db, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    conn.execute("BEGIN IMMEDIATE")
    (before,) = conn.execute("SELECT coalesce(max(id), 0) FROM billing_events").fetchone()
    conn.execute(
        "INSERT INTO billing_events (subscription_id, kind, at, outcome, old_status, new_status,"
        " amount, currency) SELECT hs_object_id, 'renewal', " + CYCLE + ", 'succeeded',"
        " hs_status, 'active', hs_next_payment_amount, hs_currency_code FROM subscriptions"
        f" WHERE {DUE} ORDER BY hs_object_id",
        until,
    )
    conn.execute(
        "INSERT INTO payments (amount, currency, status, method, kind, created_at,"
        " billing_event_id) SELECT amount, currency, 'succeeded', 'card', 'payment', at, id"
        " FROM billing_events WHERE id > :before ORDER BY id",
        {"before": before},
    )
    conn.execute(
        "INSERT INTO property_history (subscription_id, property, old_value, new_value,"
        f" changed_at, source) SELECT hs_object_id, 'hs_next_payment_due_date',"
        f" {DAY.format('hs_next_payment_due_date')}, {DAY.format(f'({NEXT_DUE})')}, {CYCLE},"
        f" 'billing' FROM subscriptions WHERE {DUE} ORDER BY hs_object_id",
        until,
    )
    renewed = conn.execute(
        f"UPDATE subscriptions SET hs_next_payment_due_date = {NEXT_DUE}, hs_status = 'active',"
        " hs_last_payment_amount = hs_next_payment_amount,"
        f" hs_last_payment_status = 'succeeded', hs_last_payment_date = {CYCLE},"
        f" hs_lastmodifieddate = {CYCLE} WHERE {DUE}",
        until,
    ).rowcount
    conn.execute("COMMIT")
    conn.close()
    print(json.dumps({"renewed": renewed}))


if __name__ == "__main__":
    main(*sys.argv[1:4])
