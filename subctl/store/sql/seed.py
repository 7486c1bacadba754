"""The bulk loader of a SQL workspace: demo data (``subctl demo``) and the seed of tests and
benchmarks, through the DB-API's ``executemany`` in chunks, in one transaction. On SQLite the
secondary indexes of the bulk tables are dropped for the load and rebuilt before the commit.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

import sqlalchemy as sa

from subctl.store.sql import schema
from subctl.store.sql.database import Database, put_setting

Insert = Callable[[str, Sequence[str], Sequence[Any]], int]


class SqlSeeder:
    """Bulk loading into one ``Database``."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def bulk_insert(
        self, table: str, columns: Sequence[str], rows: Iterable[Sequence[Any]], chunk: int = 50_000
    ) -> int:
        """Insert rows of stored values through the DB-API ``executemany``; returns the count."""
        mark = "?" if self.db.engine.dialect.paramstyle == "qmark" else "%s"
        marks = ", ".join([mark] * len(columns))
        sql = f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks})"
        total = 0
        batch: list[Sequence[Any]] = []
        with self.db.errors(), self.db.engine.begin() as conn:
            cursor = conn.connection.cursor()
            for row in rows:
                batch.append(row)
                if len(batch) >= chunk:
                    cursor.executemany(sql, batch)
                    total += len(batch)
                    batch.clear()
            if batch:
                cursor.executemany(sql, batch)
                total += len(batch)
            _restart_ids(conn)
        return total

    @contextmanager
    def replacing_records(self, stamp: tuple[str, str] | None = None) -> Iterator[Insert]:
        """Replace every subscription and associated record (custom definitions, views and
        settings stay, but those of jobs: ``jobs.<id>.…``) in one transaction: yields
        ``insert(table, columns, rows) -> count`` for the new rows. Nothing is visible until
        the end, and an error, Ctrl-C or a crash leaves the workspace as it was. On SQLite the
        secondary indexes of the bulk tables are dropped for the load (several times faster
        than maintaining them row by row) and rebuilt before the commit, in the same
        transaction (SQLite DDL is transactional).

        ``stamp`` (setting key, token): the setting is set, in the same transaction, to the
        token and ``records_digest()`` of the new records, separated by a space."""
        with self.db.errors(), self.db.engine.connect() as conn:
            cursor, mark = self.db.cursor(conn)
            if self.db.is_sqlite:
                # Foreign-key checks off: SQLite then empties a table in one step instead of
                # row by row. The pragma only takes effect outside a transaction.
                cursor.execute("PRAGMA foreign_keys=OFF")
            try:
                with conn.begin():
                    if self.db.is_sqlite:
                        cursor.execute("BEGIN IMMEDIATE")
                    indexes = _drop_bulk_indexes(cursor) if self.db.is_sqlite else []
                    if self.db.is_sqlite:
                        for name in RECORD_TABLES:
                            cursor.execute(f"DELETE FROM {name}")
                    else:
                        # Ids of emptied tables start at 1 again, as SQLite's rowids do
                        # (new jobs reuse ids): RESTART IDENTITY resets every sequence of them,
                        # inside the transaction.
                        cursor.execute(f"TRUNCATE {', '.join(RECORD_TABLES)} RESTART IDENTITY")
                    # Settings of jobs (``jobs.<id>.…``) go with the jobs: new jobs reuse ids.
                    settings = schema.workspace_settings
                    conn.execute(sa.delete(settings).where(settings.c.key.like("jobs.%")))

                    def insert(table: str, columns: Sequence[str], rows: Sequence[Any]) -> int:
                        marks = ", ".join([mark] * len(columns))
                        cursor.executemany(
                            f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks})", rows
                        )
                        return len(rows)

                    yield insert
                    for ddl in indexes:
                        cursor.execute(ddl)
                    _restart_ids(conn)
                    if stamp is not None:
                        key, token = stamp
                        trace = _record_counts(conn, self.db.is_sqlite, key)
                        value = f"{token} {_digest(trace)}"
                        put_setting(conn, key, value)
            finally:
                if self.db.is_sqlite:
                    cursor.execute("PRAGMA foreign_keys=ON")
        if self.db.is_sqlite:  # the load went through the WAL: give its space back
            with self.db.errors(), self.db.engine.connect() as conn:
                conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")

    def has_records(self) -> bool:
        """Whether any record table (those ``replacing_records`` replaces) has a row."""
        with self.db.errors(), self.db.engine.connect() as conn:
            return any(
                conn.exec_driver_sql(f"SELECT 1 FROM {name} LIMIT 1").first() is not None
                for name in RECORD_TABLES
            )

    def records_digest(self, stamp_key: str) -> str:
        """A digest of the records, custom definitions, views and settings (see
        ``_record_counts``; ``stamp_key``: the setting that holds the digest, left out): it
        changes when any subctl verb adds, removes or edits one of them."""
        with self.db.errors(), self.db.engine.connect() as conn:
            return _digest(_record_counts(conn, self.db.is_sqlite, stamp_key))


# -- bulk loading: helpers ------------------------------------------------------------

# Every table of records, children before parents (the order of deletion).
RECORD_TABLES = ("associations", "property_history", "subscriptions", "payments", "invoices",
                 "quotes", "line_items", "deals", "company_domains", "companies",
                 "contact_emails", "contacts", "orders", "payment_links", "feedback_submissions",
                 "custom_records", "outbox", "billing_events", "job_items", "jobs")  # fmt: skip
BULK_INDEXED_TABLES = ("subscriptions", "associations")
_M007_TABLES = ("orders", "payment_links", "feedback_submissions", "custom_records")


def _record_counts(conn: sa.Connection, is_sqlite: bool, stamp_key: str) -> dict[str, Any]:
    """A trace of what subctl verbs change, in SQL aggregates (cheap on a million rows).

    Rows per record table, and which associations there are, since replacing one by another
    changes no count: on SQLite the last association row by rowid (the replacement gets the
    next rowid, or, replacing the last row, its rowid with other values); elsewhere a checksum
    of the association ids. Edits that add no row: the change stamps of subscriptions (every
    edit sets ``hs_lastmodifieddate``, history or not), weighted checksums of line items'
    quantities and prices (an edit may keep the amount) and of payments' statuses, and the
    definitions, views and settings as they are (small tables), but the setting ``stamp_key``
    that holds the digest itself."""
    counts: dict[str, Any] = {
        name: int(conn.exec_driver_sql(f"SELECT count(*) FROM {name}").scalar_one())
        for name in RECORD_TABLES
    }
    for name in _M007_TABLES:  # empty, they leave the digest of an older workspace unchanged
        if not counts[name]:
            del counts[name]
    if is_sqlite:
        last = conn.exec_driver_sql(
            "SELECT rowid, subscription_id, object_type, object_id FROM associations"
            " ORDER BY rowid DESC LIMIT 1"
        ).first()
        counts["associations_trace"] = None if last is None else [str(v) for v in last]
    else:
        links = schema.associations
        checksum = sa.func.sum(links.c.object_id * 7 + links.c.subscription_id)
        counts["associations_trace"] = str(conn.execute(sa.select(checksum)).scalar_one())
    traces = {
        "modified": "SELECT max(hs_lastmodifieddate), sum(hs_lastmodifieddate % 1000003)"
        " FROM subscriptions",
        "line_items": "SELECT sum((id % 997) * quantity),"
        " sum((id % 997) * CAST(round(price * 100) AS BIGINT)) FROM line_items",
        # The payment statuses differ in length: a weighted sum of lengths sees each change
        # (a GROUP BY status costs several times as much on a million payments).
        "payments": "SELECT sum((id % 997) * length(status)) FROM payments",
        "definitions": "SELECT * FROM property_definitions ORDER BY name",
        "views": "SELECT name, query, columns, sort FROM saved_views ORDER BY name",
        "settings": "SELECT key, value FROM workspace_settings WHERE key <> :stamp ORDER BY key",
    }
    for name, sql in traces.items():
        rows = conn.execute(sa.text(sql), {"stamp": stamp_key} if ":stamp" in sql else {})
        counts[name] = [[str(v) for v in row] for row in rows]
    return counts


def _drop_bulk_indexes(cursor: Any) -> list[str]:
    """Drop the secondary indexes of the bulk tables (SQLite); return their DDL."""
    marks = ", ".join("?" for _ in BULK_INDEXED_TABLES)
    cursor.execute(
        "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL "
        f"AND tbl_name IN ({marks}) ORDER BY name",
        BULK_INDEXED_TABLES,
    )
    found = cursor.fetchall()
    for name, _sql in found:
        cursor.execute(f'DROP INDEX "{name}"')
    return [str(sql) for _name, sql in found]


def _restart_ids(conn: sa.Connection) -> None:
    """PostgreSQL: after rows were loaded with their ids, each identity continues after the
    highest id (SQLite's rowid needs nothing)."""
    if conn.dialect.name != "postgresql":
        return
    for table in schema.OBJECT_TABLES.values():
        conn.exec_driver_sql(
            f"SELECT setval(pg_get_serial_sequence('{table.name}', 'id'),"
            f" COALESCE((SELECT MAX(id) FROM {table.name}), 0) + 1, false)"
        )


def _digest(counts: Mapping[str, Any]) -> str:
    return hashlib.sha256(json.dumps(counts, sort_keys=True).encode()).hexdigest()
