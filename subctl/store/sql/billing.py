"""``SqlBilling``: the billing run of a local workspace (``store.base.BillingStore``).

The rules are ``subctl.services.billing``'s (its docstring); this module finds the events due
and carries out the common outcomes set-based, so that advancing a million-subscription
workspace by a month is a few statements per day, not a Python loop per renewal:

- **charges** (``start``, ``renewal``) that succeed or start processing: one ``INSERT … SELECT``
  of their billing events, one of their payments (``billing_event_id``: the event, which links
  the payment to its subscription: ``schema.LINKS``), the history of the values that change,
  one ``UPDATE … FROM`` of the subscriptions. The next due date of each distinct (cycle day,
  frequency, start date) is computed in Python (``billing.next_period_end``, calendar-correct)
  into a temporary table the statements join.
- **retries** of failed card payments that succeed: the same, paying the cycle that failed.
- **settlements** of bank payments that succeed: the same, without a new payment.

Every other event (a declined card or retry, a failed settlement, a cancellation at the period's
end, an expiry, a resume, a subscription that cannot be charged) is read with its stored values
and handed to ``decide``, whose ``ops.Bill`` operations are written like any operation
(``records.write_ops``) with their billing events. A transaction holds the write lock (SQLite:
``BEGIN IMMEDIATE``; PostgreSQL: an advisory lock), so two runs never interleave. Inside
``session`` days share a transaction, committed once it has run ``commit_seconds`` (each day
touches pages all over the subscriptions and their indexes: committing every day wrote most of
them again every day), with a larger page cache (``GROUP_CACHE_KIB``, SQLite) so that the
pages of a transaction stay in memory until its commit; a crash loses the uncommitted days,
never part of one.

The audit (when the command has an audit context): each day appends one ``audit`` row first
(``audit.insert_billing_day``) and every billing event of the day names it
(``billing_events.audit_id``); ``subctl audit`` shows the row as one entry per event
(``store.sql.audit``). The operations written through ``write_ops`` append no rows of their
own.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from subctl.billing import next_period_end
from subctl.codec import DAY_MS, datetime_to_ms, from_storage, money_from_storage
from subctl.schema import FREQUENCIES, PropType
from subctl.store.base import BillingEvent, DayResult, Decide, Due, Payment, PaymentRules
from subctl.store.ops import Bill
from subctl.store.sql import audit
from subctl.store.sql.compiler import day_of_month
from subctl.store.sql.records import (
    BUYER_EMAILS,
    _charges,
    _history_text,
    _reader,
    write_ops,
)

if TYPE_CHECKING:
    from subctl.store.sql.records import SqlRecordStore

BILLING_LOCK = 0x5375_6262  # PostgreSQL advisory lock key of the billing run: "Subb"
MAX_PASSES = 50  # passes over one day (each pass may make another event due the same day)
STREAM_CHUNK = 2000
GROUP_CACHE_KIB = 131_072  # SQLite's page cache during a session (its default: 2,000 KiB)

# Where each kind of event is found: (the day column, the condition on ``subscriptions s``, the
# index that finds it). The status is a literal so that the partial indexes qualify
# (store/sql/schema.py); SQLite is told the index (``INDEXED BY``): without statistics it
# prefers the status's equality on ix_subscriptions_status_due, which scans every subscription
# of the status.
_FOUND_BY: dict[str, tuple[str, str, str]] = {
    "resume": ("s.hs_resume_date", "s.hs_status = 'paused'", "ix_subscriptions_paused_resume"),
    "cancellation": (
        "s.hs_scheduled_cancellation_date",
        "s.hs_status = 'active' AND s.hs_scheduled_cancellation_date IS NOT NULL",
        "ix_subscriptions_scheduled_cancellation",
    ),
    "retry": (
        "s.hs_next_payment_retry_date",
        "s.hs_status = 'unpaid'",
        "ix_subscriptions_unpaid_retry",
    ),
    "start": (
        "s.hs_recurring_billing_start_date",
        "s.hs_status = 'scheduled'",
        "ix_subscriptions_scheduled_start",
    ),
    "renewal": (
        "s.hs_next_payment_due_date",
        "s.hs_status = 'active'",
        "ix_subscriptions_status_due",
    ),
}


def _subscriptions(kind: str, sqlite: bool) -> str:
    """``subscriptions s``, through the index that finds events of ``kind`` (SQLite)."""
    return f"subscriptions s INDEXED BY {_FOUND_BY[kind][2]}" if sqlite else "subscriptions s"


_PROCESSING = "payments p INDEXED BY ix_payments_processing"
# The subscription a payment is billing's through: its billing event's (kept when that
# subscription is deleted), else the first subscription it is associated with (none once it is
# dissociated or its subscription deleted: association rows go with it), as ``schema.LINKS``.
_PAYMENT_SUBSCRIPTION = (
    "CASE WHEN p.billing_event_id IS NOT NULL THEN (SELECT be.subscription_id FROM"
    " billing_events be WHERE be.id = p.billing_event_id) ELSE (SELECT min(a.subscription_id)"
    " FROM associations a WHERE a.object_type = 'payment' AND a.object_id = p.id) END"
)
# A payment billing settles (``services.billing``: a bank payment linked to no subscription is
# not billing's): the condition ``due``, ``next_day`` and ``settlements`` share.
# ``_PAYMENT_SUBSCRIPTION IS NOT NULL``, written so that a billing payment (nearly every one)
# needs no lookup: a billing event always names a subscription. ``due`` counts it on every
# ``list``: 55 ms for 18,481 processing payments of the 1M demo, where the CASE took 300 ms.
_SETTLES = (
    "p.status = 'processing' AND p.kind = 'payment' AND (p.billing_event_id IS NOT NULL OR"
    " EXISTS (SELECT 1 FROM associations a WHERE a.object_type = 'payment'"
    " AND a.object_id = p.id))"
)


# The note of the settlement of a deleted subscription's payment.
DELETED_NOTE = "subscription deleted: the payment settled alone"

_TERM_REACHED = (
    "(s.hs_recurring_billing_number_of_payments IS NOT NULL AND"
    " COALESCE(s.hs_number_of_completed_payments, 0) >= s.hs_recurring_billing_number_of_payments)"
)
# A bank (ACH) payment method, as ``services.billing`` tells it (no ``%`` in the SQL text: it
# is the placeholder character of PostgreSQL's driver).
_BANK = "SUBSTR(LOWER(TRIM(COALESCE(s.hs_payment_method, ''))), 1, 3) = 'ach'"
_FREQUENCIES = ", ".join(f"'{value}'" for value, _label, _months in FREQUENCIES)
# What a charge needs: an amount, a currency and a billing frequency subctl knows.
_CHARGEABLE = (
    "s.hs_next_payment_amount IS NOT NULL AND s.hs_currency_code IS NOT NULL"
    f" AND COALESCE(s.hs_recurring_billing_frequency, '') IN ({_FREQUENCIES})"
)


def _not_done(kinds: Sequence[str], sid: str, day: str) -> str:
    """SQL: no billing event of ``kinds`` is recorded for subscription ``sid`` on ``day`` (the
    unique key; one changed back to an event already carried out is not billed twice)."""
    listed = ", ".join(f"'{k}'" for k in kinds)
    return (
        f"NOT EXISTS (SELECT 1 FROM billing_events x WHERE x.subscription_id = {sid}"
        f" AND x.kind IN ({listed}) AND x.at = {day})"
    )


# The kinds of event each finding may record (a charge that has reached its term expires).
_RECORDS: dict[str, tuple[str, ...]] = {
    "start": ("start", "expiry"),
    "renewal": ("renewal", "expiry"),
    "retry": ("retry",),
    "cancellation": ("cancellation",),
    "resume": ("resume",),
}


def _ms(day: dt.date) -> int:
    return (day - dt.date(1970, 1, 1)).days * DAY_MS


def _day(ms: int) -> dt.date:
    return dt.date(1970, 1, 1) + dt.timedelta(days=ms // DAY_MS)


def _settle_cut(day: dt.date, rules: PaymentRules) -> int:
    """Bank payments made before this time settle on ``day`` or earlier."""
    return _ms(day) + DAY_MS - rules.settlement_days * DAY_MS


class SqlBilling:
    def __init__(self, records: SqlRecordStore) -> None:
        self.records = records
        self.db = records.db
        self._held: Any = None  # the cursor of ``session``'s transaction
        self._since = 0.0  # when that transaction began (``time.monotonic``)
        self._commit_seconds: float | None = None  # ``session``'s (None: a dry run)

    # -- transactions -------------------------------------------------------------------------

    @contextmanager
    def _transaction(self) -> Iterator[Any]:
        if self._held is not None:
            yield self._held
            every = self._commit_seconds
            if every is not None and time.monotonic() - self._since >= every:
                self._held.connection.commit()  # the day is done: a new transaction
                self._lock(self._held)
                self._since = time.monotonic()
            return
        with self.db.errors(), self.db.engine.begin() as conn:
            cursor, _mark = self.records._cursor(conn)
            self._lock(cursor)
            yield cursor

    def _lock(self, cursor: Any) -> None:
        if self.db.is_sqlite:
            cursor.execute("BEGIN IMMEDIATE")
        else:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", (BILLING_LOCK,))

    @contextmanager
    def session(self, *, dry_run: bool, commit_seconds: float) -> Iterator[None]:
        with self.db.errors(), self.db.engine.connect() as conn:
            cursor, _mark = self.records._cursor(conn)
            if self.db.is_sqlite:
                cursor.execute("PRAGMA cache_size")
                (cache,) = cursor.fetchone()
                cursor.execute(f"PRAGMA cache_size = -{GROUP_CACHE_KIB}")
            transaction = conn.begin()
            try:
                self._lock(cursor)
                self._held, self._since = cursor, time.monotonic()
                self._commit_seconds = None if dry_run else commit_seconds
                yield
            except BaseException:
                transaction.rollback()
                raise
            else:
                if dry_run:
                    transaction.rollback()
                else:
                    transaction.commit()
            finally:
                self._held = None
                if self.db.is_sqlite:  # the pooled connection goes back as it came
                    cursor.execute(f"PRAGMA cache_size = {int(cache)}")

    # -- finding events -----------------------------------------------------------------------

    def due(self, now: dt.datetime, rules: PaymentRules) -> dict[str, int]:
        mark = self.db.mark
        today = now.astimezone(dt.UTC).date()
        sqlite = self.db.is_sqlite
        out: dict[str, int] = {}
        with self.db.reading() as cursor:
            for kind, (column, condition, _index) in _FOUND_BY.items():
                cursor.execute(
                    f"SELECT count(*) FROM {_subscriptions(kind, sqlite)} WHERE {condition}"
                    f" AND {column} <= {mark}",
                    (_ms(today),),
                )
                out[kind] = int(cursor.fetchone()[0])
            cursor.execute(
                f"SELECT count(*) FROM {_PROCESSING if sqlite else 'payments p'}"
                f" WHERE {_SETTLES} AND p.created_at < {mark}",
                (_settle_cut(today, rules),),
            )
            out["settlement"] = int(cursor.fetchone()[0])
        return {kind: n for kind, n in out.items() if n}

    def next_day(self, until: dt.date, rules: PaymentRules) -> dt.date | None:
        sqlite = self.db.is_sqlite
        with self._reader() as cursor:
            firsts: list[int] = []
            for kind, (column, condition, _index) in _FOUND_BY.items():
                cursor.execute(
                    f"SELECT min({column}) FROM {_subscriptions(kind, sqlite)} WHERE {condition}"
                )
                found = cursor.fetchone()[0]
                if found is not None:
                    firsts.append(int(found))
            cursor.execute(
                f"SELECT min(p.created_at) FROM {_PROCESSING if sqlite else 'payments p'}"
                f" WHERE {_SETTLES}"
            )
            made = cursor.fetchone()[0]
            if made is not None:
                made = int(made)
                firsts.append(made - made % DAY_MS + rules.settlement_days * DAY_MS)
        if not firsts:
            return None
        first = _day(min(firsts))
        return first if first <= until else None

    def blocked(self, day: dt.date) -> list[tuple[str, int]]:
        sqlite, mark = self.db.is_sqlite, self.db.mark
        out: list[tuple[str, int]] = []
        with self._reader() as cursor:
            for kind, (column, condition, _index) in _FOUND_BY.items():
                cursor.execute(
                    f"SELECT s.hs_object_id FROM {_subscriptions(kind, sqlite)} WHERE {condition}"
                    f" AND {column} <= {mark}"
                    f" AND NOT {_not_done(_RECORDS[kind], 's.hs_object_id', column)}"
                    " ORDER BY s.hs_object_id",
                    (_ms(day),),
                )
                out += [(kind, int(sid)) for (sid,) in cursor.fetchall()]
        return out

    @contextmanager
    def _reader(self) -> Iterator[Any]:
        if self._held is not None:
            yield self._held
        else:
            with self.db.reading() as cursor:
                yield cursor

    # -- one day ------------------------------------------------------------------------------

    def run_day(
        self, day: dt.date, rules: PaymentRules, decide: Decide, job_id: int | None
    ) -> DayResult:
        result = DayResult()
        with self._transaction() as cursor:
            audit_id = None
            if self.records.audit is not None:  # the day's audit row first: its events name it
                audit_id = audit.insert_billing_day(
                    cursor, self.db.mark, self.db.is_sqlite, self.records.audit, day, job_id
                )
            run = _Day(self, cursor, day, rules, decide, job_id, audit_id, result)
            for _ in range(MAX_PASSES):
                done = 0
                done += run.per_row("resume")
                done += run.settlements()
                done += run.per_row("cancellation")
                done += run.retries()
                done += run.charges("start")
                done += run.charges("renewal")
                if not done:
                    break
        return result

    # -- the log ------------------------------------------------------------------------------

    def _filter(
        self,
        since: dt.datetime | None,
        sub_id: int | None,
        kinds: Sequence[str],
        job_id: int | None,
        outcomes: Sequence[str] = (),
    ) -> tuple[str, list[Any]]:
        """`` WHERE …`` of the log's filters on ``billing_events e`` (empty without one), and
        its parameters: ``events`` and ``count_events`` filter alike."""
        mark = self.db.mark
        where: list[str] = []
        params: list[Any] = []
        if since is not None:
            where.append(f"e.at >= {mark}")
            params.append(datetime_to_ms(since))
        if sub_id is not None:
            where.append(f"e.subscription_id = {mark}")
            params.append(sub_id)
        if job_id is not None:
            where.append(f"e.job_id = {mark}")
            params.append(job_id)
        for column, values in (("kind", kinds), ("outcome", outcomes)):
            if values:
                where.append(f"e.{column} IN ({', '.join([mark] * len(values))})")
                params.extend(values)
        return (" WHERE " + " AND ".join(where) if where else ""), params

    def events(
        self,
        *,
        since: dt.datetime | None = None,
        sub_id: int | None = None,
        kinds: Sequence[str] = (),
        job_id: int | None = None,
    ) -> Iterator[BillingEvent]:
        where, params = self._filter(since, sub_id, kinds, job_id)
        text = (
            "SELECT e.id, e.subscription_id, e.kind, e.at, e.outcome, e.old_status, e.new_status,"
            " e.amount, e.currency, COALESCE(e.payment_id, p.id), e.job_id, e.note"
            f" FROM billing_events e LEFT JOIN payments p ON p.billing_event_id = e.id{where}"
            " ORDER BY e.at, e.id"
        )
        with self.db.reading() as cursor:
            cursor.execute(text, params)
            while rows := cursor.fetchmany(STREAM_CHUNK):
                for row in rows:
                    yield _event(row)

    def count_events(
        self,
        *,
        since: dt.datetime | None = None,
        sub_id: int | None = None,
        kinds: Sequence[str] = (),
        job_id: int | None = None,
        outcomes: Sequence[str] = (),
    ) -> int:
        # The filters of ``events`` (and ``outcomes``), one COUNT(*): the footer of a page of
        # the log ("Showing 50 of 767,192"), never a pass over the rows in Python.
        where, params = self._filter(since, sub_id, kinds, job_id, outcomes)
        with self.db.reading() as cursor:
            cursor.execute(f"SELECT COUNT(*) FROM billing_events e{where}", params)
            return int(cursor.fetchone()[0])


def _event(row: Sequence[Any]) -> BillingEvent:
    eid, sid, kind, at, outcome, old, new, amount, currency, payment, job, note = row
    return BillingEvent(
        id=int(eid), subscription_id=int(sid), kind=kind,
        at=from_storage(PropType.DATETIME, at), outcome=outcome, old_status=old, new_status=new,
        amount=None if amount is None else money_from_storage(amount), currency=currency,
        payment_id=None if payment is None else int(payment),
        job_id=None if job is None else int(job), note=note,
    )  # fmt: skip


class _Day:
    """The events of one day, in the transaction of ``cursor``."""

    def __init__(
        self,
        billing: SqlBilling,
        cursor: Any,
        day: dt.date,
        rules: PaymentRules,
        decide: Decide,
        job_id: int | None,
        audit_id: int | None,
        result: DayResult,
    ) -> None:
        self.records = billing.records
        self.sqlite = billing.db.is_sqlite
        self.mark = billing.db.mark
        self.cursor = cursor
        self.day = day
        self.at = _ms(day)
        self.rules = rules
        self.decide = decide
        self.job_id = job_id
        self.audit_id = audit_id  # the day's audit row: every event of the day names it
        self.result = result
        self._emails: dict[int, str] = {}

    def _count(self, kind: str, outcome: str, n: int) -> None:
        if n:
            key = (kind, outcome)
            self.result.events[key] = self.result.events.get(key, 0) + n

    def _billing_day(self, alias: str) -> str:
        """SQL: the day of month of the start date (the billing day, ``billing.next_period_end``),
        0 without one."""
        return day_of_month(f"{alias}.hs_recurring_billing_start_date", self.sqlite)

    def _ends_with(self, suffixes: Sequence[str]) -> tuple[str, list[Any]]:
        """SQL: the subscription's payment method ends with one of ``suffixes``."""
        if not suffixes:
            return "1 = 0", []
        likes = " OR ".join(["COALESCE(s.hs_payment_method, '') LIKE " + self.mark] * len(suffixes))
        return f"({likes})", [f"%{s}" for s in suffixes]

    def _declines_first_attempt(self) -> tuple[str, list[Any]]:
        """SQL: the subscription's card declines the charge on its due date."""
        ends, params = self._ends_with([*self.rules.declines, *self.rules.declines_first])
        return f"(NOT {_BANK} AND {ends})", params

    # -- charges: start, renewal --------------------------------------------------------------

    def charges(self, kind: str) -> int:
        column, condition, _index = _FOUND_BY[kind]
        base = (
            f"{condition} AND {column} <= {self.mark}"
            f" AND {_not_done(_RECORDS[kind], 's.hs_object_id', column)}"
        )
        declines, declines_params = self._declines_first_attempt()
        chargeable = f"{_CHARGEABLE} AND NOT {_TERM_REACHED} AND NOT {declines}"
        params = [self.at, *declines_params]
        done = self._bulk_charges(kind, column, column, f"{base} AND {chargeable}", params)
        # The rest: declined cards, expiries, subscriptions that cannot be charged.
        dues = [
            Due(kind="expiry" if term else kind, at=_day(int(cycle)), subscription=sub)
            for sub, cycle, term in self._subscriptions(
                kind, f"{base} AND NOT ({chargeable})", params, _TERM_REACHED
            )
        ]
        return done + self._write(dues)

    def retries(self) -> int:
        """Retries of failed card payments: those that succeed (or start processing) set-based
        like charges (the cycle paid is the one that failed, ``hs_next_payment_due_date``); the
        declined ones, and any that cannot be charged, through ``decide``."""
        column, condition, _index = _FOUND_BY["retry"]
        base = (
            f"{condition} AND {column} <= {self.mark}"
            f" AND {_not_done(_RECORDS['retry'], 's.hs_object_id', column)}"
        )
        # A retry is a later attempt: only the cards that always decline decline it.
        declines, declines_params = self._ends_with(self.rules.declines)
        chargeable = (
            f"{_CHARGEABLE} AND s.hs_next_payment_due_date IS NOT NULL"
            f" AND NOT (NOT {_BANK} AND {declines})"
        )
        params = [self.at, *declines_params]
        cycle = "s.hs_next_payment_due_date"
        done = self._bulk_charges("retry", column, cycle, f"{base} AND {chargeable}", params)
        return done + self.per_row("retry", f"NOT ({chargeable})", declines_params)

    def _bulk_charges(
        self, kind: str, column: str, cycle: str, where: str, params: list[Any]
    ) -> int:
        """Successful charges of the subscriptions ``where`` finds: ``column``, the day of the
        event; ``cycle``, the due date of the cycle paid (the event's day, except for retries)."""
        cur, m = self.cursor, self.mark
        # The next due date of each distinct (cycle day, frequency, billing day, due date):
        # a few hundred at most, whatever the number of subscriptions.
        cur.execute(
            f"SELECT DISTINCT {cycle}, s.hs_recurring_billing_frequency, {self._billing_day('s')},"
            " s.hs_next_payment_due_date"
            f" FROM {_subscriptions(kind, self.sqlite)} WHERE {where}",
            params,
        )
        combos = cur.fetchall()
        if not combos:
            return 0
        cur.execute(
            "CREATE TEMP TABLE IF NOT EXISTS _billing_next (cycle BIGINT, frequency TEXT,"
            " billing_day INTEGER, due_key BIGINT, next_due BIGINT, old_text TEXT,"
            " new_text TEXT)"
        )
        cur.execute(
            "CREATE INDEX IF NOT EXISTS _billing_next_key"
            " ON _billing_next (cycle, frequency, billing_day, due_key)"
        )
        cur.execute("DELETE FROM _billing_next")
        rows = []
        for day, frequency, billing_day, old_due in combos:
            try:
                nxt = next_period_end(_day(int(day)), str(frequency or ""), billing_day or None)
            except ValueError:
                continue  # an unknown frequency: handed to ``decide`` (cannot be charged)
            rows.append((int(day), frequency, int(billing_day),
                         -1 if old_due is None else int(old_due), _ms(nxt),
                         None if old_due is None else _day(int(old_due)).isoformat(),
                         nxt.isoformat()))  # fmt: skip
        if not rows:
            return 0
        cur.executemany(f"INSERT INTO _billing_next VALUES ({', '.join([m] * 7)})", rows)
        join = (
            f"JOIN _billing_next n ON n.cycle = {cycle}"
            " AND n.frequency = s.hs_recurring_billing_frequency"
            f" AND n.billing_day = {self._billing_day('s')}"
            " AND n.due_key = COALESCE(s.hs_next_payment_due_date, -1)"
        )
        cur.execute("SELECT COALESCE(max(id), 0) FROM billing_events")
        (before,) = cur.fetchone()
        outcome = f"CASE WHEN {_BANK} THEN 'processing' ELSE 'succeeded' END"
        cur.execute(
            "INSERT INTO billing_events (subscription_id, kind, at, outcome, old_status,"
            " new_status, amount, currency, job_id, audit_id)"
            f" SELECT s.hs_object_id, CAST({m} AS TEXT), {column}, {outcome}, s.hs_status,"
            f" 'active', s.hs_next_payment_amount, s.hs_currency_code, CAST({m} AS BIGINT),"
            f" CAST({m} AS BIGINT) FROM {_subscriptions(kind, self.sqlite)} {join} WHERE {where}"
            " ORDER BY s.hs_object_id",
            [kind, self.job_id, self.audit_id, *params],
        )
        new = f"e.id > {m}"
        cur.execute(f"SELECT e.outcome, e.currency, count(*), sum(e.amount) FROM billing_events e"
                    f" WHERE {new} GROUP BY e.outcome, e.currency", (before,))  # fmt: skip
        done = 0
        for outcome_, currency, n, total in cur.fetchall():
            done += int(n)
            self._count(kind, outcome_, int(n))
            charged = self.result.charged
            amount = money_from_storage(total, currency)
            charged[currency] = charged.get(currency, Decimal(0)) + amount
        cur.execute(
            "INSERT INTO payments (amount, currency, status, method, kind, created_at,"
            " billing_event_id)"
            " SELECT e.amount, e.currency, e.outcome,"
            " CASE WHEN e.outcome = 'processing' THEN 'ach' ELSE 'card' END, 'payment', e.at, e.id"
            f" FROM billing_events e WHERE {new} ORDER BY e.id",
            (before,),
        )
        self._charge_history(kind, cycle, new, before)
        status = {
            "start": "hs_status = 'active', ",
            "retry": "hs_status = 'active', hs_next_payment_retry_date = NULL,"
            " hs_payment_retry_count = NULL, ",
        }.get(kind, "")
        # Counted once succeeded: a bank payment's counters wait for its settlement.
        done_payments = (
            "CASE WHEN e.outcome = 'succeeded' THEN COALESCE(hs_number_of_completed_payments, 0)"
            " + 1 ELSE hs_number_of_completed_payments END"
        )
        collected = (
            "CASE WHEN e.outcome = 'succeeded' THEN COALESCE(hs_total_collected_amount, 0)"
            " + e.amount ELSE hs_total_collected_amount END"
        )
        cur.execute(
            f"UPDATE subscriptions SET {status}hs_next_payment_due_date = n.next_due,"
            " hs_last_payment_amount = e.amount, hs_last_payment_status = e.outcome,"
            " hs_last_payment_date = e.at,"
            f" hs_number_of_completed_payments = {done_payments},"
            f" hs_total_collected_amount = {collected},"
            " hs_lastmodifieddate = e.at"
            " FROM billing_events e, _billing_next n"
            f" WHERE {new} AND subscriptions.hs_object_id = e.subscription_id"
            f" AND n.cycle = subscriptions.{cycle[2:]}"
            " AND n.frequency = subscriptions.hs_recurring_billing_frequency"
            f" AND n.billing_day = {self._billing_day('subscriptions')}"
            " AND n.due_key = COALESCE(subscriptions.hs_next_payment_due_date, -1)",
            (before,),
        )
        return done

    def _charge_history(self, kind: str, cycle: str, new: str, before: int) -> None:
        """History of a set-based charge, from the values it replaces (before the UPDATE)."""
        cur, m = self.cursor, self.mark
        column = cycle[2:]
        history = (
            "INSERT INTO property_history (subscription_id, property, old_value, new_value,"
            " changed_at, source)"
        )
        src = "FROM billing_events e JOIN subscriptions s ON s.hs_object_id = e.subscription_id"
        cur.execute(
            f"{history} SELECT e.subscription_id, 'hs_next_payment_due_date', n.old_text,"
            f" n.new_text, e.at, 'billing' {src} JOIN _billing_next n ON n.cycle = s.{column}"
            " AND n.frequency = s.hs_recurring_billing_frequency"
            f" AND n.billing_day = {self._billing_day('s')}"
            " AND n.due_key = COALESCE(s.hs_next_payment_due_date, -1)"
            f" WHERE {new} AND (n.old_text IS NULL OR n.old_text <> n.new_text) ORDER BY e.id",
            (before,),
        )
        if kind in ("start", "retry"):
            cur.execute(
                f"{history} SELECT e.subscription_id, 'hs_status', e.old_status, 'active', e.at,"
                f" 'billing' {src} WHERE {new} ORDER BY e.id",
                (before,),
            )
        cur.execute(
            f"{history} SELECT e.subscription_id, 'hs_last_payment_status',"
            f" s.hs_last_payment_status, e.outcome, e.at, 'billing' {src} WHERE {new}"
            " AND (s.hs_last_payment_status IS NULL OR s.hs_last_payment_status <> e.outcome)"
            " ORDER BY e.id",
            (before,),
        )
        # Amounts change rarely (a new price, the first payment): their text is the codec's.
        cur.execute(
            f"SELECT e.subscription_id, s.hs_last_payment_amount, e.amount, e.at {src}"
            f" WHERE {new} AND (s.hs_last_payment_amount IS NULL"
            " OR s.hs_last_payment_amount <> e.amount) ORDER BY e.id",
            (before,),
        )
        changed = cur.fetchall()
        if changed:
            read = _reader(_property("hs_last_payment_amount", self.records))
            cur.executemany(
                f"{history} VALUES ({', '.join([m] * 6)})",
                [(sid, "hs_last_payment_amount", _text(read(old)), _text(read(amount)), at,
                  "billing")
                 for sid, old, amount, at in changed],
            )  # fmt: skip
        if kind == "retry":  # the retry that was pending is no more
            for name in ("hs_next_payment_retry_date", "hs_payment_retry_count"):
                read, text = _reader(_property(name, self.records)), _history_text()
                cur.execute(
                    f"SELECT e.subscription_id, s.{name}, e.at {src} WHERE {new}"
                    f" AND s.{name} IS NOT NULL ORDER BY e.id",
                    (before,),
                )
                cur.executemany(
                    f"{history} VALUES ({', '.join([m] * 6)})",
                    [(sid, name, text(read(old)), None, at, "billing")
                     for sid, old, at in cur.fetchall()],
                )  # fmt: skip

    # -- settlements of bank payments ---------------------------------------------------------

    def settlements(self) -> int:
        cur, m = self.cursor, self.mark
        cut = _settle_cut(self.day, self.rules)
        fails, fail_params = self._ends_with(self.rules.bank_fails)
        settle_day = f"(p.created_at / {DAY_MS}) * {DAY_MS} + {self.rules.settlement_days * DAY_MS}"
        # From the processing payments' index outwards, each with the subscription it is
        # billing's through (``_PAYMENT_SUBSCRIPTION``; a subquery per payment: joined to the
        # union of both links, SQLite would materialise it). A deleted subscription's payment
        # (``s`` NULL) settles alone: succeeded, no status, no effect (``services.billing``).
        found = (
            f"FROM (SELECT p.*, {_PAYMENT_SUBSCRIPTION} AS sid"
            f" FROM {_PROCESSING if self.sqlite else 'payments p'}"
            f" WHERE {_SETTLES} AND p.created_at < {m}) p"
            " LEFT JOIN subscriptions s ON s.hs_object_id = p.sid WHERE p.sid IS NOT NULL"
        )
        cur.execute("SELECT COALESCE(max(id), 0) FROM billing_events")
        (before,) = cur.fetchone()
        cur.execute(
            "INSERT INTO billing_events (subscription_id, kind, at, outcome, old_status,"
            " new_status, amount, currency, payment_id, job_id, audit_id, note)"
            f" SELECT p.sid, 'settlement', {settle_day}, 'succeeded', s.hs_status,"
            f" s.hs_status, p.amount, p.currency, p.id, CAST({m} AS BIGINT),"
            f" CAST({m} AS BIGINT), CASE WHEN s.hs_object_id IS NULL THEN CAST({m} AS TEXT) END"
            f" {found} AND NOT {fails}"
            " ORDER BY p.id",
            [self.job_id, self.audit_id, DELETED_NOTE, cut, *fail_params],
        )
        new = f"e.id > {m}"
        cur.execute(f"SELECT count(*) FROM billing_events e WHERE {new}", (before,))
        done = int(cur.fetchone()[0])
        if done:
            self._count("settlement", "succeeded", done)
            events = f"SELECT e.payment_id FROM billing_events e WHERE {new}"
            latest = (
                "s.hs_last_payment_status = 'processing' AND s.hs_last_payment_date = p.created_at"
            )
            cur.execute(
                "INSERT INTO property_history (subscription_id, property, old_value, new_value,"
                " changed_at, source)"
                " SELECT e.subscription_id, 'hs_last_payment_status', 'processing', 'succeeded',"
                " e.at, 'billing' FROM billing_events e JOIN payments p ON p.id = e.payment_id"
                " JOIN subscriptions s ON s.hs_object_id = e.subscription_id"
                f" WHERE {new} AND {latest} ORDER BY e.id",
                (before,),
            )
            cur.execute(
                "UPDATE subscriptions SET hs_last_payment_status = CASE WHEN"
                " hs_last_payment_status = 'processing' AND hs_last_payment_date = p.created_at"
                " THEN 'succeeded' ELSE hs_last_payment_status END,"
                " hs_number_of_completed_payments = COALESCE(hs_number_of_completed_payments, 0)"
                " + 1, hs_total_collected_amount = COALESCE(hs_total_collected_amount, 0)"
                " + p.amount, hs_lastmodifieddate = e.at"
                " FROM billing_events e, payments p"
                f" WHERE {new} AND p.id = e.payment_id"
                " AND subscriptions.hs_object_id = e.subscription_id",
                (before,),
            )
            cur.execute(
                f"UPDATE payments SET status = 'succeeded' WHERE id IN ({events})", (before,)
            )
        # The bank payments that fail: decided one by one.
        cur.execute(
            f"SELECT s.hs_object_id, p.id, p.amount, p.currency, p.method, p.created_at {found}"
            f" AND {fails} ORDER BY p.id",
            [cut, *fail_params],
        )
        failing = cur.fetchall()
        if not failing:
            return done
        subs = self._load([int(r[0]) for r in failing])
        dues = []
        for sid, pid, amount, currency, method, created in failing:
            payment = Payment(
                id=int(pid), amount=money_from_storage(amount), currency=currency,
                status="processing", method=method, kind="payment",
                created_at=from_storage(PropType.DATETIME, created),
            )  # fmt: skip
            settles = _day(int(created)) + dt.timedelta(days=self.rules.settlement_days)
            dues.append(Due(kind="settlement", at=settles, subscription=subs[int(sid)],
                            payment=payment))  # fmt: skip
        return done + self._write(dues)

    # -- events decided one by one ------------------------------------------------------------

    def per_row(self, kind: str, also: str = "1 = 1", params: Sequence[Any] = ()) -> int:
        """The events of ``kind`` due today (and matching ``also``), decided one by one."""
        column, condition, _index = _FOUND_BY[kind]
        dues = [
            Due(kind=kind, at=_day(int(day)), subscription=sub)
            for sub, day, _term in self._subscriptions(
                kind,
                f"{condition} AND {column} <= {self.mark} AND {also}"
                f" AND {_not_done(_RECORDS[kind], 's.hs_object_id', column)}",
                [self.at, *params],
                "1 = 0",
            )
        ]
        return self._write(dues)

    def _subscriptions(
        self, kind: str, where: str, params: list[Any], flag: str
    ) -> Iterator[tuple[Any, Any, bool]]:
        """Subscriptions matching ``where`` (typed), with the day of their ``kind`` of event
        and ``flag``."""
        cur = self.cursor
        column = _FOUND_BY[kind][0]
        cur.execute(
            f"SELECT s.hs_object_id, {column}, {flag} FROM {_subscriptions(kind, self.sqlite)}"
            f" WHERE {where}"
            " ORDER BY s.hs_object_id",
            params,
        )
        found = cur.fetchall()
        subs = self._load([int(r[0]) for r in found])
        for sid, day, flagged in found:
            yield subs[int(sid)], day, bool(flagged)

    def _load(self, ids: list[int]) -> dict[int, Any]:
        """The subscriptions (every property, typed) with their buyers' e-mails, read in this
        transaction."""
        from subctl.store.base import Subscription

        if not ids:
            return {}
        cur, m = self.cursor, self.mark
        props = list(self.records.properties())
        readers = [(p.name, _reader(p)) for p in props]
        columns = ", ".join(f'"{p.column}"' for p in props)
        out: dict[int, Subscription] = {}
        for start in range(0, len(ids), 500):
            part = ids[start : start + 500]
            cur.execute(
                f"SELECT {columns} FROM subscriptions WHERE hs_object_id IN"
                f" ({', '.join([m] * len(part))})",
                part,
            )
            for row in cur.fetchall():
                values = {name: read(raw) for (name, read), raw in zip(readers, row, strict=True)}
                out[int(values["hs_object_id"])] = Subscription(int(values["hs_object_id"]), values)
        self._emails = self._buyer_emails(ids)
        return out

    def _buyer_emails(self, ids: list[int]) -> dict[int, str]:
        cur, m = self.cursor, self.mark
        out: dict[int, str] = {}
        for start in range(0, len(ids), 500):
            part = ids[start : start + 500]
            cur.execute(BUYER_EMAILS.format(ids=", ".join([m] * len(part))), part)
            for sid, email in cur.fetchall():
                out.setdefault(int(sid), email)
        return out

    def _write(self, dues: list[Due]) -> int:
        if not dues:
            return 0
        emails = self._emails
        dues = [
            Due(kind=d.kind, at=d.at, subscription=d.subscription, payment=d.payment,
                email=emails.get(d.subscription.id))
            for d in dues
        ]  # fmt: skip
        ops = [op for op in self.decide(dues) if isinstance(op, Bill)]
        cur, m = self.cursor, self.mark
        event_ids: list[int] = []
        for op in ops:
            amount = op.charge.amount if op.charge else op.amount
            currency = op.charge.currency if op.charge else op.currency
            cur.execute(
                "INSERT INTO billing_events (subscription_id, kind, at, outcome, old_status,"
                " new_status, amount, currency, payment_id, job_id, note, audit_id)"
                f" VALUES ({', '.join([m] * 12)}) RETURNING id",
                (op.subscription_id, op.kind, _ms(op.day), op.outcome, op.old_status,
                 op.new_status, None if amount is None else float(amount), currency,
                 None if op.settles is None else op.settles[0], self.job_id, op.note,
                 self.audit_id),
            )  # fmt: skip
            event_ids.append(int(cur.fetchone()[0]))
            self._count(op.kind, op.outcome, 1)
            if op.charge is not None and op.charge.status != "failed":
                charged = self.result.charged
                charged[op.charge.currency] = charged.get(op.charge.currency, Decimal(0)) + (
                    op.charge.amount
                )
            self.result.emails += len(op.messages)
        # No audit rows of their own (``audit=None``): the events above are the day's entries.
        write_ops(cur, m, self.sqlite, self.records.properties(), ops)
        with_charges = [(op, eid) for op, eid in zip(ops, event_ids, strict=True) if op.charge]
        _charges(cur, m, self.sqlite, [(op.subscription_id, op.charge) for op, _ in with_charges
                                       if op.charge is not None],
                 [eid for _, eid in with_charges])  # fmt: skip
        settled = [op.settles for op in ops if op.settles is not None]
        if settled:
            cur.executemany(
                f"UPDATE payments SET status = {m} WHERE id = {m}",
                [(status, pid) for pid, status in settled],
            )
        return len(ops)


def _property(name: str, records: SqlRecordStore) -> Any:
    prop = records.properties().get(name)
    assert prop is not None
    return prop


def _text(value: Any) -> str | None:
    return None if value is None else str(value)
