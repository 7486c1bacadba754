"""Append-only, named schema migrations, recorded in ``_subctl_migrations``.

Each migration is a function ``mNNN_description(conn)`` appended to ``MIGRATIONS``; once released,
a migration is never edited, so every workspace, old or new, reaches the same schema. The DDL is
written out here (frozen), not derived from the current schema: ``create_all`` cannot change an
existing schema. ``tests/test_migrations.py`` compares the result with ``schema.metadata``.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import sqlalchemy as sa

from subctl.schema import STANDARD_PROPERTIES, PropType
from subctl.store.sql.schema import column_type

Migration = Callable[[sa.Connection], None]


# Record ids: 64-bit integers; INTEGER on SQLite so that the primary key is the rowid.
ID_TYPE = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def m001_initial(conn: sa.Connection) -> None:
    meta = sa.MetaData()
    bigint, text, ms = sa.BigInteger, sa.Text, sa.BigInteger  # ms: epoch milliseconds
    sub_columns = [
        sa.Column(p.name, ID_TYPE, primary_key=True)
        if p.name == "hs_object_id"
        else sa.Column(p.name, column_type(p.type))
        for p in STANDARD_PROPERTIES
        if p.name in _M001_SUBSCRIPTION_COLUMNS
    ]
    subs = sa.Table("subscriptions", meta, *sub_columns)
    sa.Index("ix_subscriptions_status_due", subs.c.hs_status, subs.c.hs_next_payment_due_date)
    sa.Index("ix_subscriptions_due", subs.c.hs_next_payment_due_date)
    sa.Index("ix_subscriptions_canceled_at", subs.c.hs_canceled_at)
    sa.Index("ix_subscriptions_modified", subs.c.hs_lastmodifieddate)

    sa.Table(
        "property_definitions",
        meta,
        sa.Column("name", text, primary_key=True),
        sa.Column("label", text, nullable=False),
        sa.Column("type", text, nullable=False),
        sa.Column("field_type", text, nullable=False),
        sa.Column("group_name", text, nullable=False),
        sa.Column("description", text, nullable=False, server_default=""),
        sa.Column("options", text, nullable=False, server_default="[]"),  # JSON
        sa.Column("rules", text, nullable=False, server_default="[]"),  # JSON
        sa.Column("sensitivity", text, nullable=False, server_default="non_sensitive"),
        sa.Column("is_unique", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("created_at", ms, nullable=False),
        sa.Column("updated_at", ms, nullable=False),
    )
    sa.Table(
        "contacts",
        meta,
        sa.Column("id", bigint, primary_key=True),
        sa.Column("firstname", text),
        sa.Column("lastname", text),
        sa.Column("created_at", ms, nullable=False),
    )
    sa.Table(
        "contact_emails",
        meta,
        sa.Column("contact_id", bigint, sa.ForeignKey("contacts.id", ondelete="CASCADE"),
                  primary_key=True),
        sa.Column("position", sa.Integer, primary_key=True),
        sa.Column("email", text, nullable=False),
    )  # fmt: skip
    sa.Table(
        "companies",
        meta,
        sa.Column("id", bigint, primary_key=True),
        sa.Column("name", text, nullable=False),
        sa.Column("created_at", ms, nullable=False),
    )
    sa.Table(
        "company_domains",
        meta,
        sa.Column("company_id", bigint, sa.ForeignKey("companies.id", ondelete="CASCADE"),
                  primary_key=True),
        sa.Column("position", sa.Integer, primary_key=True),
        sa.Column("domain", text, nullable=False),
    )  # fmt: skip
    sa.Table(
        "deals",
        meta,
        sa.Column("id", bigint, primary_key=True),
        sa.Column("name", text, nullable=False),
        sa.Column("amount", sa.Float(precision=53)),
        sa.Column("stage", text),
        sa.Column("created_at", ms, nullable=False),
    )
    sa.Table(
        "line_items",
        meta,
        sa.Column("id", bigint, primary_key=True),
        sa.Column("name", text, nullable=False),
        sa.Column("quantity", sa.Integer, nullable=False),
        sa.Column("price", sa.Float(precision=53), nullable=False),
        sa.Column("created_at", ms, nullable=False),
    )
    sa.Table(
        "quotes",
        meta,
        sa.Column("id", bigint, primary_key=True),
        sa.Column("title", text, nullable=False),
        sa.Column("status", text),
        sa.Column("created_at", ms, nullable=False),
    )
    sa.Table(
        "invoices",
        meta,
        sa.Column("id", bigint, primary_key=True),
        sa.Column("number", text, nullable=False),
        sa.Column("amount", sa.Float(precision=53)),
        sa.Column("status", text),
        sa.Column("created_at", ms, nullable=False),
    )
    sa.Table(
        "payments",
        meta,
        sa.Column("id", bigint, primary_key=True),
        sa.Column("amount", sa.Float(precision=53), nullable=False),
        sa.Column("currency", text, nullable=False),
        sa.Column("status", text, nullable=False),
        sa.Column("method", text, nullable=False),
        sa.Column("kind", text, nullable=False, server_default="payment"),
        sa.Column("refunds_payment_id", bigint),
        sa.Column("created_at", ms, nullable=False),
    )
    assoc = sa.Table(
        "associations",
        meta,
        sa.Column("subscription_id", bigint,
                  sa.ForeignKey("subscriptions.hs_object_id", ondelete="CASCADE"),
                  primary_key=True),
        sa.Column("object_type", text, primary_key=True),
        sa.Column("object_id", bigint, primary_key=True),
        sa.Column("type_id", sa.Integer, nullable=False),
    )  # fmt: skip
    sa.Index("ix_associations_object", assoc.c.object_type, assoc.c.object_id)
    history = sa.Table(
        "property_history",
        meta,
        sa.Column("id", bigint().with_variant(sa.Integer, "sqlite"), primary_key=True,
                  autoincrement=True),
        sa.Column("subscription_id", bigint, nullable=False),
        sa.Column("property", text, nullable=False),
        sa.Column("old_value", text),
        sa.Column("new_value", text),
        sa.Column("changed_at", ms, nullable=False),
        sa.Column("source", text, nullable=False),
    )  # fmt: skip
    sa.Index("ix_property_history_subscription", history.c.subscription_id)
    views = sa.Table(
        "saved_views",
        meta,
        sa.Column("name", text, primary_key=True),
        sa.Column("query", text, nullable=False),
        sa.Column("columns", text, nullable=False, server_default="[]"),  # JSON
        sa.Column("sort", text),
        sa.Column("builtin", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("created_at", ms, nullable=False),
    )
    sa.Table(
        "workspace_settings",
        meta,
        sa.Column("key", text, primary_key=True),
        sa.Column("value", text, nullable=False),
    )
    meta.create_all(conn)
    now = int(time.time() * 1000)
    conn.execute(
        views.insert(),
        [
            {"name": "unpaid", "query": "status = unpaid", "columns": "[]",
             "sort": "next_payment_due_date", "builtin": True, "created_at": now},
            {"name": "scheduled", "query": "status = scheduled", "columns": "[]",
             "sort": "start_date", "builtin": True, "created_at": now},
        ],
    )  # fmt: skip


_M001_SUBSCRIPTION_COLUMNS = frozenset(
    {
        "hs_object_id", "hs_name", "hs_status", "hs_recurring_billing_start_date",
        "hs_next_payment_due_date", "hs_next_payment_amount", "hs_last_payment_amount",
        "hs_last_payment_status", "hs_currency_code", "hs_recurring_billing_frequency",
        "hs_collection_process", "hs_net_payment_terms", "hs_invoice_creation",
        "hs_payment_method", "hs_mrr", "hs_createdate", "hs_lastmodifieddate", "hs_canceled_at",
    }
)  # fmt: skip


# -- lifecycle verbs and batch journal ------------------------------------------------


def _add_columns(conn: sa.Connection, columns: tuple[tuple[str, PropType], ...]) -> None:
    """Add property columns to ``subscriptions``."""
    for name, ptype in columns:
        ddl = column_type(ptype).compile(dialect=conn.dialect)
        conn.exec_driver_sql(f"ALTER TABLE subscriptions ADD COLUMN {name} {ddl}")


def m002_lifecycle(conn: sa.Connection) -> None:
    """Batch journal (``jobs``, ``job_items``), the e-mail ``outbox``, and the subscription
    columns ``hs_pause_reason`` and ``hs_scheduled_cancellation_date``."""
    meta = sa.MetaData()
    bigint, text, ms = sa.BigInteger, sa.Text, sa.BigInteger  # ms: epoch milliseconds
    jobs = sa.Table(
        "jobs",
        meta,
        sa.Column("id", bigint().with_variant(sa.Integer, "sqlite"), primary_key=True,
                  autoincrement=True),
        sa.Column("verb", text, nullable=False),
        sa.Column("action", text, nullable=False),  # JSON: the verb's options
        sa.Column("selection", text, nullable=False),  # JSON: how the items were chosen
        sa.Column("fingerprint", text, nullable=False),
        sa.Column("frozen", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("status", text, nullable=False),  # unfinished, done, abandoned
        sa.Column("total", sa.Integer, nullable=False),
        sa.Column("created_at", ms, nullable=False),
        sa.Column("updated_at", ms, nullable=False),
    )  # fmt: skip
    sa.Index("ix_jobs_fingerprint", jobs.c.fingerprint, jobs.c.status)
    items = sa.Table(
        "job_items",
        meta,
        sa.Column("job_id", bigint, sa.ForeignKey("jobs.id", ondelete="CASCADE"),
                  primary_key=True),
        sa.Column("subscription_id", bigint, primary_key=True),
        sa.Column("position", sa.Integer, nullable=False),
        sa.Column("planned_status", text),
        sa.Column("outcome", text),  # NULL: unprocessed; ok, skipped, failed
        sa.Column("new_status", text),
        sa.Column("note", text),
        sa.Column("processed_at", ms),
    )  # fmt: skip
    sa.Index("ix_job_items_position", items.c.job_id, items.c.position)
    outbox = sa.Table(
        "outbox",
        meta,
        sa.Column("id", bigint().with_variant(sa.Integer, "sqlite"), primary_key=True,
                  autoincrement=True),
        sa.Column("subscription_id", bigint, nullable=False),  # no FK: mail outlives deletion
        sa.Column("kind", text, nullable=False),
        sa.Column("recipient", text),
        sa.Column("subject", text, nullable=False),
        sa.Column("body", text, nullable=False),
        sa.Column("link", text),
        sa.Column("job_id", bigint),
        sa.Column("created_at", ms, nullable=False),
    )  # fmt: skip
    sa.Index("ix_outbox_subscription", outbox.c.subscription_id)
    meta.create_all(conn)
    _add_columns(conn, (
        ("hs_pause_reason", PropType.STRING),
        ("hs_scheduled_cancellation_date", PropType.DATE),
    ))  # fmt: skip


def m003_refund_index(conn: sa.Connection) -> None:
    """Refunds look up earlier refunds of a payment (a payment is refunded at most once)."""
    conn.exec_driver_sql("CREATE INDEX ix_payments_refunds ON payments (refunds_payment_id)")


def m004_billing_details(conn: sa.Connection) -> None:
    """The subscription columns HubSpot keeps editable once a subscription is billable: owner,
    invoice and payment settings, language and locale, tax ids and the billing address."""
    _add_columns(conn, (
        ("hubspot_owner_id", PropType.NUMBER),
        ("hs_automatically_email_invoices", PropType.BOOL),
        ("hs_allowed_payment_methods", PropType.ENUMERATION),
        ("hs_collect_address_types", PropType.ENUMERATION),
        ("hs_invoice_comments", PropType.STRING),
        ("hs_language", PropType.ENUMERATION),
        ("hs_locale", PropType.STRING),
        ("hs_payment_enabled", PropType.BOOL),
        ("hs_tax_ids", PropType.STRING),
        ("hs_recipient_billing_address", PropType.STRING),
        ("hs_recipient_billing_address2", PropType.STRING),
        ("hs_recipient_billing_city", PropType.STRING),
        ("hs_recipient_billing_state", PropType.STRING),
        ("hs_recipient_billing_zip", PropType.STRING),
        ("hs_recipient_billing_country", PropType.STRING),
    ))  # fmt: skip


# The tables of associated records whose ids m005 turns into generated ones.
_M005_RECORD_TABLES = ("contacts", "companies", "deals", "line_items", "quotes", "invoices",
                       "payments")  # fmt: skip


def m005_constraints(conn: sa.Connection) -> None:
    """Rules as constraints. A payment is refunded at most once: a unique index on the refunded
    payment (replacing m003's plain one). New record ids come from the database (PostgreSQL: an
    identity; SQLite: the rowid, so the tables are rebuilt with ``INTEGER PRIMARY KEY``; the
    caller turns foreign-key enforcement off for the migration), never ``MAX(id) + 1``."""
    if conn.dialect.name == "sqlite":
        for table in _M005_RECORD_TABLES:
            row = conn.exec_driver_sql(
                "SELECT sql FROM sqlite_master WHERE type = 'table' AND name = ?", (table,)
            ).first()
            assert row is not None, table
            ddl = str(row[0])
            head, sep, rest = ddl.partition("(")
            new = f"CREATE TABLE _m005_{table} ({rest}"
            new = new.replace("id BIGINT NOT NULL", "id INTEGER NOT NULL", 1)
            conn.exec_driver_sql(new)
            conn.exec_driver_sql(f"INSERT INTO _m005_{table} SELECT * FROM {table}")
            conn.exec_driver_sql(f"DROP TABLE {table}")
            conn.exec_driver_sql(f"ALTER TABLE _m005_{table} RENAME TO {table}")
    else:
        conn.exec_driver_sql("DROP INDEX IF EXISTS ix_payments_refunds")
        for table in _M005_RECORD_TABLES:
            serial = conn.exec_driver_sql(
                "SELECT pg_get_serial_sequence(%s, 'id')", (table,)
            ).scalar()
            if serial is None:  # m001 made some ids BIGSERIAL already: those keep their sequence
                conn.exec_driver_sql(
                    f"ALTER TABLE {table} ALTER COLUMN id ADD GENERATED BY DEFAULT AS IDENTITY"
                )
            conn.exec_driver_sql(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'),"
                f" COALESCE((SELECT MAX(id) FROM {table}), 0) + 1, false)"
            )
    conn.exec_driver_sql("CREATE UNIQUE INDEX ux_payments_refunds ON payments (refunds_payment_id)")


def m006_billing_clock(conn: sa.Connection) -> None:
    """The billing run (``subctl billing run``, ``subctl clock``): the subscription columns it
    records (last payment date, payment counters, term, resume date, retry state), the log of
    billing events with the constraint that makes it exactly once, the payment's event, and
    the indexes each kind of event is found by."""
    _add_columns(conn, (
        ("hs_last_payment_date", PropType.DATETIME),
        ("hs_number_of_completed_payments", PropType.NUMBER),
        ("hs_total_collected_amount", PropType.NUMBER),
        ("hs_recurring_billing_number_of_payments", PropType.NUMBER),
        ("hs_resume_date", PropType.DATE),
        ("hs_next_payment_retry_date", PropType.DATE),
        ("hs_payment_retry_count", PropType.NUMBER),
    ))  # fmt: skip
    conn.exec_driver_sql("ALTER TABLE payments ADD COLUMN billing_event_id BIGINT")
    bigint, text = sa.BigInteger, sa.Text
    sa.Table(
        "billing_events",
        sa.MetaData(),
        sa.Column("id", bigint().with_variant(sa.Integer, "sqlite"), primary_key=True,
                  autoincrement=True),
        sa.Column("subscription_id", bigint, nullable=False),  # no FK: the log outlives it
        sa.Column("kind", text, nullable=False),
        sa.Column("at", bigint, nullable=False),  # epoch ms
        sa.Column("outcome", text, nullable=False),
        sa.Column("old_status", text),
        sa.Column("new_status", text),
        sa.Column("amount", sa.Float(precision=53)),
        sa.Column("currency", text),
        sa.Column("payment_id", bigint),
        sa.Column("job_id", bigint),
        sa.Column("note", text),
    ).create(conn)  # fmt: skip
    for ddl in (
        "CREATE UNIQUE INDEX ux_billing_events_once ON billing_events (subscription_id, kind, at)",
        "CREATE INDEX ix_billing_events_at ON billing_events (at)",
        "CREATE UNIQUE INDEX ux_payments_billing_event ON payments (billing_event_id)",
        "CREATE INDEX ix_payments_processing ON payments (created_at) WHERE status = 'processing'",
        "CREATE INDEX ix_subscriptions_scheduled_start"
        " ON subscriptions (hs_recurring_billing_start_date) WHERE hs_status = 'scheduled'",
        "CREATE INDEX ix_subscriptions_unpaid_retry"
        " ON subscriptions (hs_next_payment_retry_date) WHERE hs_status = 'unpaid'",
        "CREATE INDEX ix_subscriptions_paused_resume"
        " ON subscriptions (hs_resume_date) WHERE hs_status = 'paused'",
        "CREATE INDEX ix_subscriptions_scheduled_cancellation"
        " ON subscriptions (hs_scheduled_cancellation_date)"
        " WHERE hs_scheduled_cancellation_date IS NOT NULL",
    ):
        conn.exec_driver_sql(ddl)


def m007_export_objects(conn: sa.Connection) -> None:
    """The associated objects an export lists that the workspace lacked (DOMAIN.md §0
    Export): orders, payment links, feedback submissions and the records of custom objects
    (one table, each record naming its custom object). Ids come from the database, as m005
    made them for the other record tables (SQLite: ``INTEGER PRIMARY KEY``, the rowid;
    PostgreSQL: BIGSERIAL)."""
    meta = sa.MetaData()
    text, ms = sa.Text, sa.BigInteger  # ms: epoch milliseconds
    sa.Table(
        "orders",
        meta,
        sa.Column("id", ID_TYPE, primary_key=True),
        sa.Column("name", text, nullable=False),
        sa.Column("amount", sa.Float(precision=53)),
        sa.Column("currency", text),
        sa.Column("status", text),
        sa.Column("created_at", ms, nullable=False),
    )
    sa.Table(
        "payment_links",
        meta,
        sa.Column("id", ID_TYPE, primary_key=True),
        sa.Column("name", text, nullable=False),
        sa.Column("url", text),
        sa.Column("created_at", ms, nullable=False),
    )
    sa.Table(
        "feedback_submissions",
        meta,
        sa.Column("id", ID_TYPE, primary_key=True),
        sa.Column("survey", text, nullable=False),
        sa.Column("sentiment", text),
        sa.Column("created_at", ms, nullable=False),
    )
    sa.Table(
        "custom_records",
        meta,
        sa.Column("id", ID_TYPE, primary_key=True),
        sa.Column("object_name", text, nullable=False),
        sa.Column("name", text, nullable=False),
        sa.Column("created_at", ms, nullable=False),
    )
    meta.create_all(conn)


def m008_segments(conn: sa.Connection) -> None:
    """Segments (``subctl segment``): their definitions, the stored membership of snapshot and
    manual segments, the membership at the last refresh, and every refresh with who entered
    and left at it."""
    meta = sa.MetaData()
    bigint, text = sa.BigInteger, sa.Text
    sa.Table(
        "segments",
        meta,
        sa.Column("name", text, primary_key=True),
        sa.Column("kind", text, nullable=False),
        sa.Column("query", text),
        sa.Column("description", text, nullable=False, server_default=""),
        sa.Column("created_at", bigint, nullable=False),
        sa.Column("updated_at", bigint, nullable=False),
        sa.Column("refreshed_at", bigint),
    )
    for name in ("segment_members", "segment_baseline"):
        sa.Table(
            name,
            meta,
            sa.Column(
                "segment",
                text,
                sa.ForeignKey("segments.name", ondelete="CASCADE"),
                primary_key=True,
            ),
            sa.Column("subscription_id", bigint, primary_key=True),
        )
    refreshes = sa.Table(
        "segment_refreshes",
        meta,
        sa.Column(
            "id", bigint().with_variant(sa.Integer, "sqlite"), primary_key=True, autoincrement=True
        ),
        sa.Column(
            "segment", text, sa.ForeignKey("segments.name", ondelete="CASCADE"), nullable=False
        ),
        sa.Column("at", bigint, nullable=False),
        sa.Column("size", bigint, nullable=False),
        sa.Column("entered", bigint, nullable=False),
        sa.Column("left_count", bigint, nullable=False),
    )
    sa.Index("ix_segment_refreshes_segment", refreshes.c.segment, refreshes.c.at)
    sa.Table(
        "segment_changes",
        meta,
        sa.Column(
            "refresh_id",
            bigint,
            sa.ForeignKey("segment_refreshes.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("subscription_id", bigint, primary_key=True),
        sa.Column("entered", sa.Boolean, nullable=False),
    )
    meta.create_all(conn)  # fmt: skip


def m009_access_audit(conn: sa.Connection) -> None:
    """Team workspaces: who may do what (``access``: one row per database role and permission,
    granted by an admin) and the audit log (``audit``: every change, append-only, no foreign
    key so that a deleted subscription keeps its rows). On PostgreSQL the role that creates the
    workspace is its first admin with every permission, and PUBLIC may not change or delete
    audit rows."""
    meta = sa.MetaData()
    bigint, text = sa.BigInteger, sa.Text
    access = sa.Table(
        "access",
        meta,
        sa.Column("username", text, primary_key=True),
        sa.Column("permission", text, primary_key=True),
        sa.Column("granted_by", text, nullable=False),
        sa.Column("granted_at", bigint, nullable=False),
    )
    audit = sa.Table(
        "audit",
        meta,
        sa.Column(
            "id", bigint().with_variant(sa.Integer, "sqlite"), primary_key=True, autoincrement=True
        ),
        sa.Column("at", bigint, nullable=False),
        sa.Column("actor", text, nullable=False),
        sa.Column("db_user", text),
        sa.Column("profile", text),
        sa.Column("verb", text, nullable=False),
        sa.Column("subscription_id", bigint),
        sa.Column("target", text),
        sa.Column("job_id", bigint),
        sa.Column("arguments", text),
        sa.Column("before", text),
        sa.Column("after", text),
    )
    sa.Index("ix_audit_at", audit.c.at)
    sa.Index("ix_audit_subscription", audit.c.subscription_id)
    meta.create_all(conn)
    if conn.dialect.name == "postgresql":
        now = int(time.time() * 1000)
        for permission in (*_M009_PERMISSIONS, "admin"):
            conn.execute(
                access.insert().values(
                    username=sa.func.current_user(),
                    permission=permission,
                    granted_by=sa.func.current_user(),
                    granted_at=now,
                )
            )
        conn.exec_driver_sql("REVOKE UPDATE, DELETE, TRUNCATE ON audit FROM PUBLIC")
        conn.exec_driver_sql("REVOKE INSERT, UPDATE, DELETE, TRUNCATE ON access FROM PUBLIC")


_M009_PERMISSIONS = ("view", "edit", "delete", "export", "properties", "sensitive_data")


def m010_billing_job_index(conn: sa.Connection) -> None:
    """``subctl jobs`` counts each billing run's events per outcome (its totals): from this
    index alone, not a pass over the whole billing log. A run's events share its job id, so
    the run appends to the end of the index."""
    conn.exec_driver_sql("CREATE INDEX ix_billing_events_job ON billing_events (job_id, outcome)")


def m011_billing_payment_links(conn: sa.Connection) -> None:
    """A payment billing charged is associated with its subscription through its billing event
    (``schema.LINKS``), not an association row: the rows billing wrote before are removed
    (the link they made stays, through the event)."""
    conn.exec_driver_sql(
        "DELETE FROM associations WHERE object_type = 'payment' AND EXISTS (SELECT 1"
        " FROM payments p JOIN billing_events e ON e.id = p.billing_event_id"
        " WHERE p.id = associations.object_id"
        " AND e.subscription_id = associations.subscription_id)"
    )


def m012_billing_audit(conn: sa.Connection) -> None:
    """The billing run's audit: one ``audit`` row per billing day, named by each event of the
    day (``billing_events.audit_id``; NULL for the events of older runs, whose audit rows are
    one per event) and found from it, in event order, by ``ix_billing_events_audit``. A day's
    events share its id, so a run appends to the end of the index. The billing log is part of
    the audit log now: on PostgreSQL PUBLIC may not change or delete its rows, as m009 made
    ``audit``."""
    conn.exec_driver_sql("ALTER TABLE billing_events ADD COLUMN audit_id BIGINT")
    conn.exec_driver_sql("CREATE INDEX ix_billing_events_audit ON billing_events (audit_id, id)")
    if conn.dialect.name == "postgresql":
        conn.exec_driver_sql("REVOKE UPDATE, DELETE, TRUNCATE ON billing_events FROM PUBLIC")


MIGRATIONS: list[Migration] = [
    m001_initial,
    m002_lifecycle,
    m003_refund_index,
    m004_billing_details,
    m005_constraints,
    m006_billing_clock,
    m007_export_objects,
    m008_segments,
    m009_access_audit,
    m010_billing_job_index,
    m011_billing_payment_links,
    m012_billing_audit,
]

_LEDGER = sa.Table(
    "_subctl_migrations",
    sa.MetaData(),
    sa.Column("name", sa.Text, primary_key=True),
    sa.Column("applied_at", sa.BigInteger, nullable=False),
)


def applied(conn: sa.Connection) -> set[str]:
    if not sa.inspect(conn).has_table(_LEDGER.name):
        return set()
    return {row[0] for row in conn.execute(sa.select(_LEDGER.c.name))}


def unknown(done: set[str]) -> set[str]:
    """Recorded migrations this version does not know: the workspace is newer than subctl."""
    return done - {m.__name__ for m in MIGRATIONS}


def pending(conn: sa.Connection) -> list[Migration]:
    done = applied(conn)
    return [m for m in MIGRATIONS if m.__name__ not in done]


MIGRATION_LOCK = 0x5375_6263  # PostgreSQL advisory lock key: "Subc"


def _lock(conn: sa.Connection) -> None:
    """Take the workspace's write lock for the transaction ``conn`` is in, before reading the
    ledger: concurrent processes migrating the same workspace run one after the other, and
    each sees what the previous one recorded."""
    if conn.dialect.name == "sqlite":
        conn.exec_driver_sql("BEGIN IMMEDIATE")
    elif conn.dialect.name == "postgresql":
        conn.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK})


def migrate(engine: sa.Engine) -> list[str]:
    """Apply pending migrations (every function in ``MIGRATIONS`` not yet in the ledger, in
    order), each in its own locked transaction together with its ledger entry, so that a crash
    leaves a migration either wholly applied and recorded or not at all; return the names
    applied by this call."""
    names = []
    sqlite = engine.dialect.name == "sqlite"
    for migration in MIGRATIONS:
        with engine.connect() as conn:
            if sqlite:  # tables are rebuilt (m005): no cascade on DROP; only outside a transaction
                conn.exec_driver_sql("PRAGMA foreign_keys=OFF")
                conn.commit()
            try:
                with conn.begin():
                    _lock(conn)
                    _LEDGER.create(conn, checkfirst=True)
                    if migration.__name__ in applied(conn):
                        continue
                    migration(conn)
                    conn.execute(
                        _LEDGER.insert().values(
                            name=migration.__name__, applied_at=int(time.time() * 1000)
                        )
                    )
                    names.append(migration.__name__)
            finally:
                if sqlite:
                    conn.exec_driver_sql("PRAGMA foreign_keys=ON")
                    conn.commit()
    return names
