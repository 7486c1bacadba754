"""The audit log and the access table of a SQL workspace (m009).

Rows are appended in the transaction of the change they record: ``write_ops`` (every
subscription operation: a batch chunk's rows with one multi-row INSERT per 500 rows, set-based
like the history), and the stores' other writers (property definitions, associations, segments,
grants). There is no UPDATE or DELETE of ``audit`` anywhere in subctl, and on PostgreSQL m009
revokes them from PUBLIC (the owner of a table keeps every right on it; see ARCHITECTURE.md).
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator, Sequence
from typing import Any

from subctl.store.base import AuditChange, AuditContext, AuditEntry, AuditFilter
from subctl.store.sql.database import insert_flat, ms

COLUMNS = ("at", "actor", "db_user", "profile", "verb", "subscription_id", "target", "job_id",
           "arguments", "before", "after")  # fmt: skip
READ_COLUMNS = ("id", *COLUMNS)


def dumps(value: Any) -> str | None:
    """JSON text of a before/after value (None stays NULL); keys in the order given."""
    if value is None:
        return None
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=str)


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


def insert_select(
    cursor: Any,
    mark: str,
    sqlite: bool,
    context: AuditContext,
    at: dt.datetime,
    rows: str,
    params: Sequence[Any],
    job_id: int | None = None,
) -> None:
    """Append the rows a query finds, set-based: ``rows`` selects (subscription id, target,
    before, after), the last two already JSON text, and binds ``params`` after this
    function's own."""
    head = [ms(at), context.actor, current_user(cursor, sqlite), context.profile, context.verb]
    marks = ", ".join([mark] * len(head))
    cursor.execute(
        f"INSERT INTO audit ({', '.join(COLUMNS)}) SELECT {marks}, r.*"
        f" FROM (SELECT r.sid, r.target, CAST({mark} AS BIGINT), CAST({mark} AS TEXT),"
        f" r.before, r.after FROM ({rows}) r) r",
        [*head, job_id, context.arguments, *params],
    )


def json_string(sql: str, sqlite: bool) -> str:
    """SQL: the JSON string of the text ``sql`` (NULL stays NULL), as ``dumps`` writes it."""
    return f"json_quote({sql})" if sqlite else f"CAST(to_json(CAST({sql} AS TEXT)) AS TEXT)"


def select(where: AuditFilter, mark: str) -> tuple[str, list[Any]]:
    """The query of ``audit_entries``: oldest first."""
    clauses: list[str] = []
    params: list[Any] = []
    if where.since is not None:
        clauses.append(f"at >= {mark}")
        params.append(ms(where.since))
    if where.subscription_id is not None:
        clauses.append(f"subscription_id = {mark}")
        params.append(where.subscription_id)
    if where.actor is not None:
        clauses.append(f"actor = {mark}")
        params.append(where.actor)
    if where.verb is not None:
        clauses.append(f"verb = {mark}")
        params.append(where.verb)
    sql = f"SELECT {', '.join(READ_COLUMNS)} FROM audit"
    if clauses:
        sql += " WHERE " + " AND ".join(clauses)
    return sql + " ORDER BY id", params


def entries(rows: Iterator[Sequence[Any]]) -> Iterator[AuditEntry]:
    for row in rows:
        rid, at, actor, user, profile, verb, sid, target, job, args, before, after = row
        yield AuditEntry(
            int(rid), dt.datetime.fromtimestamp(at / 1000, dt.UTC), actor, user, profile, verb,
            None if sid is None else int(sid), target, None if job is None else int(job),
            args, before, after,
        )  # fmt: skip
