"""The audit log and the access table of a SQL workspace (m009).

Rows are appended in the transaction of the change they record: ``write_ops`` (every
subscription operation: a batch chunk's rows with one multi-row INSERT per 500 rows, set-based
like the history), the billing run (one row per billing day, ``insert_billing_day``: its events
in ``billing_events`` name it, m012, and are its entries when the log is read, so that a
month of billing on a million subscriptions does not copy its log into the audit), and the
stores' other writers (property definitions, associations, segments, grants). There is no
UPDATE or DELETE of ``audit`` or ``billing_events`` anywhere in subctl (but ``demo``, which
replaces the records and empties the billing log with them), and on PostgreSQL m009 and m012
revoke them from PUBLIC (the owner of a table keeps every right on it; see ARCHITECTURE.md).
"""

from __future__ import annotations

import datetime as dt
import functools
import json
from collections.abc import Sequence
from typing import Any

from subctl.codec import money_from_storage
from subctl.store.base import AuditChange, AuditContext, AuditEntry, AuditFilter
from subctl.store.sql.database import insert_flat, ms

COLUMNS = ("at", "actor", "db_user", "profile", "verb", "subscription_id", "target", "job_id",
           "arguments", "before", "after")  # fmt: skip
READ_COLUMNS = ("id", *COLUMNS)
BILLING = "billing"  # the target of the billing run's rows (one per billing day)


# ``json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=str)``, made once
# (``json.dumps`` with options builds an encoder per call: a read expands thousands of events).
_ENCODER = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), default=str)


def dumps(value: Any) -> str | None:
    """JSON text of a before/after value (None stays NULL); keys in the order given."""
    if value is None:
        return None
    return _ENCODER.encode(value)


def current_user(cursor: Any, sqlite: bool) -> str | None:
    if sqlite:
        return None
    cursor.execute("SELECT current_user")
    return str(cursor.fetchone()[0])


def insert(
    cursor: Any,
    mark: str,
    sqlite: bool,
    context: AuditContext,
    at: dt.datetime,
    changes: Sequence[AuditChange],
    job_id: int | None = None,
) -> None:
    """Append one row per change, in the caller's transaction."""
    if not changes:
        return
    user = current_user(cursor, sqlite)
    stamp = ms(at)
    head = (stamp, context.actor, user, context.profile, context.verb)
    values: list[Any] = []
    add = values.extend
    for change in changes:
        add(head)
        add((change.subscription_id, change.target, job_id, context.arguments,
             dumps(change.before), dumps(change.after)))  # fmt: skip
    insert_flat(cursor, mark, "audit", COLUMNS, values)


def insert_rows(
    cursor: Any,
    mark: str,
    sqlite: bool,
    context: AuditContext,
    rows: Sequence[tuple[dt.datetime, int | None, str | None, str | None, str | None]],
    job_id: int | None = None,
) -> None:
    """Append rows already in JSON text: (at, subscription id, target, before, after)."""
    if not rows:
        return
    user = current_user(cursor, sqlite)
    values: list[Any] = []
    add = values.extend
    head = (context.actor, user, context.profile, context.verb)
    last: dt.datetime | None = None
    stamp = 0
    for at, sid, target, before, after in rows:
        if at is not last:
            last, stamp = at, ms(at)
        add((stamp, *head, sid, target, job_id, context.arguments, before, after))
    insert_flat(cursor, mark, "audit", COLUMNS, values)


def insert_billing_day(
    cursor: Any,
    mark: str,
    sqlite: bool,
    context: AuditContext,
    day: dt.date,
    job_id: int | None,
) -> int:
    """Append the audit row of one billing day, in the day's transaction, and return its id
    (every billing event of the day names it: ``billing_events.audit_id``). Subscription NULL,
    target ``billing``, before NULL, after ``{"day": "YYYY-MM-DD"}``; read back as one entry
    per event (``billing_entry``)."""
    cursor.execute(
        f"INSERT INTO audit ({', '.join(COLUMNS)}) VALUES ({', '.join([mark] * len(COLUMNS))})"
        " RETURNING id",
        (ms(context.clock()), context.actor, current_user(cursor, sqlite), context.profile,
         context.verb, None, BILLING, job_id, context.arguments, None,
         dumps({"day": day.isoformat()})),
    )  # fmt: skip
    return int(cursor.fetchone()[0])


# -- reading: ``SqlWorkspace.audit_entries`` ---------------------------------------------------
#
# A billing day's row (``is_billing_day``) is shown as one entry per billing event of that day,
# ordered by (audit id, event id): the entry the older per-event rows were (``billing_entry``),
# with the day row's id, time, actor, user, profile, verb, arguments and job, and the event's
# id in ``after`` as ``billing_event``. A day row with no event (its events emptied by a `demo`
# over the workspace's records) is shown as stored: one entry, after ``{"day": …}``. Events of
# runs before m012 (``audit_id`` NULL) are never expanded: those runs' per-event rows are read
# as they are. ``--since``, ``--actor`` and ``--verb`` filter the day's row; ``--id`` finds a
# subscription's events through the log's index on ``subscription_id`` (``subscription_page``).

EVENT_COLUMNS = ("id", "subscription_id", "kind", "outcome", "old_status", "new_status",
                 "amount", "currency", "payment_id")  # fmt: skip


def _filters(where: AuditFilter, mark: str, alias: str) -> tuple[list[str], list[Any]]:
    """The conditions of ``--since``, ``--actor`` and ``--verb`` on the audit rows ``alias``."""
    clauses: list[str] = []
    params: list[Any] = []
    if where.since is not None:
        clauses.append(f"{alias}.at >= {mark}")
        params.append(ms(where.since))
    if where.actor is not None:
        clauses.append(f"{alias}.actor = {mark}")
        params.append(where.actor)
    if where.verb is not None:
        clauses.append(f"{alias}.verb = {mark}")
        params.append(where.verb)
    return clauses, params


def _columns(alias: str, names: Sequence[str]) -> str:
    return ", ".join(f"{alias}.{name}" for name in names)


def page(where: AuditFilter, mark: str, after: int, limit: int) -> tuple[str, list[Any]]:
    """The next ``limit`` audit rows after the id ``after`` (``where`` without a subscription:
    ``subscription_page`` reads one subscription's)."""
    clauses, params = _filters(where, mark, "a")
    clauses.append(f"a.id > {mark}")
    return (
        f"SELECT {_columns('a', READ_COLUMNS)} FROM audit a WHERE {' AND '.join(clauses)}"
        f" ORDER BY a.id LIMIT {limit}",
        [*params, after],
    )


def day_events(mark: str, audit_id: int, after: int, limit: int) -> tuple[str, list[Any]]:
    """The next ``limit`` billing events of a day's audit row after the event id ``after``:
    a range of ``ix_billing_events_audit`` (audit_id, id)."""
    return (
        f"SELECT {_columns('e', EVENT_COLUMNS)} FROM billing_events e"
        f" WHERE e.audit_id = {mark} AND e.id > {mark} ORDER BY e.audit_id, e.id LIMIT {limit}",
        [audit_id, after],
    )


def subscription_page(
    where: AuditFilter, mark: str, sqlite: bool, after: tuple[int, int], limit: int
) -> tuple[str, list[Any]]:
    """The next ``limit`` entries of one subscription after the key ``after`` (audit id,
    event id; 0 for a row that is not an event): its own audit rows
    (``ix_audit_subscription``) and its billing events joined to their days' rows, found
    through ``ux_billing_events_once`` (it leads with the subscription), never a pass over the
    log or the audit; merged by (audit id, event id). Rows: ``READ_COLUMNS``, then
    ``EVENT_COLUMNS`` (NULL for an audit row of its own)."""
    assert where.subscription_id is not None
    last_audit, last_event = after
    clauses, params = _filters(where, mark, "a")
    own_where = " AND ".join([f"a.subscription_id = {mark}", *clauses, f"a.id > {mark}"])
    nulls = ", ".join(["NULL"] * len(EVENT_COLUMNS))

    def by(index: str) -> str:  # SQLite is told the index (no statistics to choose by)
        return f" INDEXED BY {index}" if sqlite else ""

    events_where = " AND ".join([
        f"e.subscription_id = {mark}", *clauses,
        f"e.audit_id >= {mark}", f"(e.audit_id > {mark} OR e.id > {mark})",
    ])  # fmt: skip
    sid = where.subscription_id
    sql = (
        f"SELECT {_columns('a', READ_COLUMNS)}, {nulls}"
        f" FROM audit a{by('ix_audit_subscription')} WHERE {own_where}"
        f" UNION ALL SELECT {_columns('a', READ_COLUMNS)}, {_columns('e', EVENT_COLUMNS)}"
        f" FROM billing_events e{by('ux_billing_events_once')}"
        f" JOIN audit a ON a.id = e.audit_id WHERE {events_where}"
        f" ORDER BY 1, {len(READ_COLUMNS) + 1} LIMIT {limit}"
    )
    return sql, [sid, *params, last_audit, sid, *params, last_audit, last_audit, last_event]


def entry(row: Sequence[Any]) -> AuditEntry:
    """An audit row (``READ_COLUMNS``) as it is stored."""
    rid, at, actor, user, profile, verb, sid, target, job, args, before, after = row
    return AuditEntry(
        int(rid), dt.datetime.fromtimestamp(at / 1000, dt.UTC), actor, user, profile, verb,
        None if sid is None else int(sid), target, None if job is None else int(job),
        args, before, after,
    )  # fmt: skip


def is_billing_day(day: AuditEntry) -> bool:
    """A billing day's row (``insert_billing_day``); the per-event rows of older runs name
    their subscription."""
    return day.target == BILLING and day.subscription_id is None


def day_of(day: AuditEntry) -> str:
    """The day (``YYYY-MM-DD``) of a billing day's row."""
    return str(json.loads(day.after or "{}").get("day"))


def billing_entry(day: AuditEntry, day_text: str, event: Sequence[Any]) -> AuditEntry:
    """One billing event (``EVENT_COLUMNS``) of a day's row ``day`` (``day_text``: its day):
    the entry the older per-event rows were (status before/after, the event, its amount as
    ``money_from_storage`` reads it with its currency's decimals, the payment it settled),
    and the event's id as ``billing_event``."""
    eid, sid, kind, outcome, old, new, amount, currency, payment = event
    after: dict[str, Any] = {} if new is None else {"hs_status": new}
    after.update(event=kind, day=day_text, outcome=outcome)
    if amount is not None:
        after["amount"] = _amount(amount, currency)
        after["currency"] = currency
    if payment is not None:
        after["payment"] = int(payment)
    after["billing_event"] = int(eid)
    return AuditEntry(
        day.id, day.at, day.actor, day.db_user, day.profile, day.verb, int(sid), day.target,
        day.job_id, day.arguments, None if old is None else _status(old), dumps(after),
    )  # fmt: skip


@functools.lru_cache(maxsize=4096)
def _amount(stored: float, currency: str | None) -> str:
    """An event's amount as text (a run's amounts are a few prices over and over)."""
    return str(money_from_storage(stored, currency))


@functools.lru_cache(maxsize=64)
def _status(status: str) -> str | None:
    return dumps({"hs_status": status})
