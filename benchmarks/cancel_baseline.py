"""The baseline of ``subctl cancel --refund unused``: the same writes, by hand, through sqlite3.

    python benchmarks/cancel_baseline.py WORKSPACE.db IDS.txt NOW_ISO

For every subscription in IDS.txt (one id a line): set it canceled (the same columns subctl
sets), record one ``property_history`` row per changed property, queue one cancellation
e-mail in ``outbox`` (to the first e-mail of its first contact), and refund the unused days of
its latest successful payment (a refund payment, its association, the refunded payment's new
status and the subscription's ``hs_last_payment_status``), and append one ``audit`` row per
subscription (who, the verb and its arguments, the changed values before and after as JSON, the
refund and the e-mail; m009). One transaction, statements batched
with ``executemany`` and ``IN`` lists of 500 ids. No job journal, no per-item results, no
validation beyond what the SQL needs: the least work that leaves the same rows behind.
Prints the counts of rows written as JSON.
"""

from __future__ import annotations

import calendar
import datetime as dt
import getpass
import json
import sqlite3
import sys

CHUNK = 500
EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
MONTHS = {"monthly": 1, "quarterly": 3, "per_six_months": 6, "annually": 12, "per_two_years": 24}
DAYS = {"weekly": 7, "biweekly": 14}
CLEARED = ("hs_next_payment_due_date", "hs_next_payment_amount", "hs_scheduled_cancellation_date",
           "hs_next_payment_retry_date", "hs_resume_date")  # fmt: skip
SOURCE = "subctl cancel (baseline)"


def add_months(day: dt.date, months: int) -> dt.date:
    month = day.month - 1 + months
    year, month = day.year + month // 12, month % 12 + 1
    return day.replace(
        year=year, month=month, day=min(day.day, calendar.monthrange(year, month)[1])
    )


def period_end(paid_on: dt.date, frequency: str) -> dt.date | None:
    if frequency in DAYS:
        return paid_on + dt.timedelta(days=DAYS[frequency])
    if frequency in MONTHS:
        return add_months(paid_on, MONTHS[frequency])
    return None


def to_date(ms: int) -> dt.date:
    return (EPOCH + dt.timedelta(milliseconds=ms)).date()


def text(value: object) -> str | None:
    return None if value is None else str(value)


def main(db: str, ids_file: str, now_iso: str) -> None:
    now = dt.datetime.fromisoformat(now_iso)
    now_ms = int((now - EPOCH).total_seconds() * 1000)
    today = now.date()
    ids = [int(line) for line in open(ids_file) if line.strip()]
    conn = sqlite3.connect(db, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    conn.execute("BEGIN IMMEDIATE")
    (next_payment,) = conn.execute("SELECT coalesce(max(id), 0) + 1 FROM payments").fetchone()
    counts = {"canceled": 0, "history": 0, "outbox": 0, "refunds": 0, "audit": 0}
    audited = conn.execute(
        "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'audit'"
    ).fetchone()
    actor = getpass.getuser()
    arguments = json.dumps(
        {"fmt": "json", "from_file": ids_file, "refund": "unused", "yes": True},
        separators=(",", ":"),
    )
    for start in range(0, len(ids), CHUNK):
        chunk = ids[start : start + CHUNK]
        marks = ",".join("?" * len(chunk))
        subs = conn.execute(
            "SELECT hs_object_id, hs_name, hs_status, hs_canceled_at, hs_next_payment_due_date, "
            "hs_next_payment_amount, hs_scheduled_cancellation_date, hs_next_payment_retry_date, "
            "hs_resume_date, hs_mrr, hs_last_payment_status, hs_recurring_billing_frequency "
            f"FROM subscriptions WHERE hs_object_id IN ({marks})",
            chunk,
        ).fetchall()
        latest: dict[int, tuple[int, float, str, int]] = {}
        for sub_id, pid, amount, currency, created in conn.execute(
            "SELECT a.subscription_id, p.id, p.amount, p.currency, p.created_at "
            "FROM associations a JOIN payments p ON p.id = a.object_id "
            f"WHERE a.object_type = 'payment' AND a.subscription_id IN ({marks}) "
            "AND p.kind = 'payment' AND p.status = 'succeeded' ORDER BY p.created_at",
            chunk,
        ):
            latest[sub_id] = (pid, amount, currency, created)
        recipients = dict(
            conn.execute(
                "SELECT a.subscription_id, e.email FROM associations a "
                "JOIN contact_emails e ON e.contact_id = a.object_id AND e.position = 0 "
                f"WHERE a.subscription_id IN ({marks}) AND +a.object_type = 'contact' "
                "ORDER BY a.object_id DESC",
                chunk,
            ).fetchall()
        )
        history: list[tuple[object, ...]] = []
        outbox: list[tuple[object, ...]] = []
        refunds: list[tuple[object, ...]] = []
        links: list[tuple[object, ...]] = []
        refunded: list[tuple[object, ...]] = []
        last_status: list[tuple[object, ...]] = []
        audit: list[tuple[object, ...]] = []
        for (sub_id, name, status, canceled_at, due, amount, scheduled, retry, resume, mrr, last,
             freq) in subs:  # fmt: skip
            old = {
                "hs_status": status,
                "hs_canceled_at": canceled_at,
                "hs_mrr": mrr,
                "hs_next_payment_due_date": due,
                "hs_next_payment_amount": amount,
                "hs_scheduled_cancellation_date": scheduled,
                "hs_next_payment_retry_date": retry,
                "hs_resume_date": resume,
            }
            new = {
                "hs_status": "canceled",
                "hs_canceled_at": now_ms,
                "hs_mrr": 0.0,
                **dict.fromkeys(CLEARED),
            }
            body = f'Hello,\n\nyour subscription "{name}" was canceled on {today}.'
            payment = latest.get(sub_id)
            refund_row: tuple[object, ...] | None = None
            if payment is not None:
                pid, paid, currency, created = payment
                end = period_end(to_date(created), freq or "")
                if end is not None:
                    days = (end - to_date(created)).days
                    unused = min(max((end - today).days, 0), days)
                    refund = round(paid * unused / days, 2) if days else 0.0
                    if refund > 0:
                        refund_row = (pid, f"{refund:.2f}", currency)
                        refunds.append(
                            (
                                next_payment,
                                refund,
                                currency,
                                "succeeded",
                                "card",
                                "refund",
                                pid,
                                now_ms,
                            )
                        )
                        links.append((sub_id, "payment", next_payment, 393))
                        full = refund >= paid
                        state = "refunded" if full else "partially_refunded"
                        refunded.append((state, pid))
                        last_status.append((state, sub_id))
                        old["hs_last_payment_status"] = last
                        new["hs_last_payment_status"] = state
                        body += f"\n\nA refund of {refund:.2f} {currency} is on its way to you."
                        next_payment += 1
            before: dict[str, object] = {}
            after: dict[str, object] = {}
            for prop, value in new.items():
                if old[prop] != value:
                    history.append((sub_id, prop, text(old[prop]), text(value), now_ms, SOURCE))
                    before[prop], after[prop] = text(old[prop]), text(value)
            if refund_row is not None:
                refunded_id, refund_text, refund_currency = refund_row
                after["refunds"] = [{"payment": refunded_id, "amount": refund_text,
                                     "currency": refund_currency}]  # fmt: skip
            if sub_id in recipients:
                after["emails"] = ["cancellation"]
            audit.append((now_ms, actor, None, "default", "cancel", sub_id, "cancel", None,
                          arguments, json.dumps(before, separators=(",", ":")),
                          json.dumps(after, separators=(",", ":"))))  # fmt: skip
            if sub_id in recipients:
                outbox.append(
                    (
                        sub_id,
                        "cancellation",
                        recipients[sub_id],
                        f"Your subscription {name} has been canceled",
                        body,
                        None,
                        None,
                        now_ms,
                    )
                )
        counts["canceled"] += conn.execute(
            "UPDATE subscriptions SET hs_status = 'canceled', hs_canceled_at = ?, "
            "hs_next_payment_due_date = NULL, hs_next_payment_amount = NULL, "
            "hs_scheduled_cancellation_date = NULL, hs_next_payment_retry_date = NULL, "
            "hs_resume_date = NULL, hs_mrr = 0.0, hs_lastmodifieddate = ? "
            f"WHERE hs_object_id IN ({marks})",
            (now_ms, now_ms, *chunk),
        ).rowcount
        conn.executemany(
            "UPDATE subscriptions SET hs_last_payment_status = ? WHERE hs_object_id = ?",
            last_status,
        )
        conn.executemany(
            "INSERT INTO property_history (subscription_id, property, old_value, new_value, "
            "changed_at, source) VALUES (?, ?, ?, ?, ?, ?)",
            history,
        )
        conn.executemany(
            "INSERT INTO outbox (subscription_id, kind, recipient, subject, body, link, job_id, "
            "created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            outbox,
        )
        conn.executemany(
            "INSERT INTO payments (id, amount, currency, status, method, kind, "
            "refunds_payment_id, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            refunds,
        )
        conn.executemany(
            "INSERT INTO associations (subscription_id, object_type, object_id, type_id) "
            "VALUES (?, ?, ?, ?)",
            links,
        )
        conn.executemany("UPDATE payments SET status = ? WHERE id = ?", refunded)
        if audited:
            conn.executemany(
                "INSERT INTO audit (at, actor, db_user, profile, verb, subscription_id, target,"
                " job_id, arguments, before, after) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                audit,
            )
            counts["audit"] += len(audit)
        counts["history"] += len(history)
        counts["outbox"] += len(outbox)
        counts["refunds"] += len(refunds)
    conn.execute("COMMIT")
    conn.close()
    print(json.dumps(counts))


if __name__ == "__main__":
    main(*sys.argv[1:4])
