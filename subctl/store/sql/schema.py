"""The one description of the SQL workspace's current schema.

``TABLES`` describes every table once, in plain data (names, column types, keys, indexes): the
read path (opening, the schema check, reads over the DB-API) needs nothing more and imports no
SQLAlchemy. The SQLAlchemy Core ``MetaData`` that queries of the write path, DDL, the bulk loader
and the schema test use (``schema.metadata``, ``schema.payments``, ...) is built from it on first
access. The migrations that create the tables live, frozen, in ``migrations.py``
(``tests/test_migrations.py`` compares the migrated database with this metadata, column names
and types, on every dialect). Times are epoch milliseconds (BIGINT), ids are 64-bit (``id``:
INTEGER on SQLite, where only an ``INTEGER PRIMARY KEY`` is the rowid).

``subscriptions`` has one column per property: its standard columns come from
``subctl.schema.STANDARD_PROPERTIES``; custom properties add columns at run time (ALTER TABLE),
so ``subscriptions_table(registry)`` builds the table of a given set of definitions.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from subctl.schema import ASSOCIATION_BY_NAME, STANDARD_PROPERTIES, PropertyRegistry, PropType

if TYPE_CHECKING:
    import sqlalchemy as sa

# The ledger of applied migrations, and the migrations this version knows, in order
# (``migrations.MIGRATIONS`` holds their functions; a test checks that both agree).
MIGRATIONS_TABLE = "_subctl_migrations"
MIGRATIONS = (
    "m001_initial",
    "m002_lifecycle",
    "m003_refund_index",
    "m004_billing_details",
    "m005_constraints",
    "m006_billing_clock",
    "m007_export_objects",
    "m008_segments",
    "m009_access_audit",
    "m010_billing_job_index",
    "m011_billing_payment_links",
    "m012_billing_audit",
)

# Column types: ``id`` (64-bit record id, INTEGER on SQLite), ``bigint``, ``ms`` (epoch
# milliseconds, BIGINT), ``int``, ``float`` (double precision: amounts, numbers), ``text``,
# ``bool``.


@dataclass(frozen=True, slots=True)
class Column:
    name: str
    type: str
    primary_key: bool = False
    nullable: bool = True
    default: str | bool | None = None  # the server default
    references: str | None = None  # "table.column", ON DELETE CASCADE
    autoincrement: bool = False


@dataclass(frozen=True, slots=True)
class Index:
    name: str
    columns: tuple[str, ...]
    unique: bool = False
    where: str | None = None  # a partial index's condition (SQL, the same on every dialect)


@dataclass(frozen=True, slots=True)
class Table:
    name: str
    columns: tuple[Column, ...]
    indexes: tuple[Index, ...] = ()


def C(name: str, type_: str, **options: Any) -> Column:  # noqa: N802
    return Column(name, type_, **options)


def _required(name: str, type_: str, **options: Any) -> Column:
    return Column(name, type_, nullable=False, **options)


def light_type(ptype: PropType) -> str:
    """The column type that stores values of a property type (see ``subctl.schema``)."""
    if ptype is PropType.NUMBER:
        return "float"
    if ptype in (PropType.DATE, PropType.DATETIME):
        return "ms"
    if ptype is PropType.BOOL:
        return "int"
    return "text"


def _subscription_columns(registry: PropertyRegistry | None = None) -> tuple[Column, ...]:
    props = STANDARD_PROPERTIES if registry is None else list(registry)
    return tuple(
        Column(p.column, "id", primary_key=True)
        if p.name == "hs_object_id"
        else Column(p.column, light_type(p.type))
        for p in props
    )


SUBSCRIPTIONS = Table(
    "subscriptions",
    _subscription_columns(),
    (
        Index("ix_subscriptions_status_due", ("hs_status", "hs_next_payment_due_date")),
        Index("ix_subscriptions_due", ("hs_next_payment_due_date",)),
        Index("ix_subscriptions_canceled_at", ("hs_canceled_at",)),
        Index("ix_subscriptions_modified", ("hs_lastmodifieddate",)),
        # m006: what the billing run looks for, per kind of event (store/sql/billing.py).
        # Partial: they cost nothing to rows of other statuses, and a query uses one only when
        # it names the status as a literal (the billing run does; ``--where status = …`` binds
        # it and keeps using ix_subscriptions_status_due).
        Index(
            "ix_subscriptions_scheduled_start",
            ("hs_recurring_billing_start_date",),
            where="hs_status = 'scheduled'",
        ),
        Index(
            "ix_subscriptions_unpaid_retry",
            ("hs_next_payment_retry_date",),
            where="hs_status = 'unpaid'",
        ),
        Index("ix_subscriptions_paused_resume", ("hs_resume_date",), where="hs_status = 'paused'"),
        Index(
            "ix_subscriptions_scheduled_cancellation",
            ("hs_scheduled_cancellation_date",),
            where="hs_scheduled_cancellation_date IS NOT NULL",
        ),
    ),
)
DEFINITIONS = Table(
    "property_definitions",
    (
        C("name", "text", primary_key=True),
        _required("label", "text"),
        _required("type", "text"),
        _required("field_type", "text"),
        _required("group_name", "text"),
        _required("description", "text", default=""),
        _required("options", "text", default="[]"),  # JSON
        _required("rules", "text", default="[]"),  # JSON
        _required("sensitivity", "text", default="non_sensitive"),
        _required("is_unique", "bool", default=False),
        _required("created_at", "ms"),
        _required("updated_at", "ms"),
    ),
)
TABLES: tuple[Table, ...] = (
    SUBSCRIPTIONS,
    DEFINITIONS,
    # -- associated records --
    Table(
        "contacts",
        (C("id", "id", primary_key=True), C("firstname", "text"), C("lastname", "text"),
         _required("created_at", "ms")),
    ),
    Table(
        "contact_emails",
        (C("contact_id", "bigint", primary_key=True, references="contacts.id"),
         C("position", "int", primary_key=True), _required("email", "text")),
    ),
    Table(
        "companies",
        (C("id", "id", primary_key=True), _required("name", "text"),
         _required("created_at", "ms")),
    ),
    Table(
        "company_domains",
        (C("company_id", "bigint", primary_key=True, references="companies.id"),
         C("position", "int", primary_key=True), _required("domain", "text")),
    ),
    Table(
        "deals",
        (C("id", "id", primary_key=True), _required("name", "text"), C("amount", "float"),
         C("stage", "text"), _required("created_at", "ms")),
    ),
    Table(
        "line_items",
        (C("id", "id", primary_key=True), _required("name", "text"),
         _required("quantity", "int"), _required("price", "float"),
         _required("created_at", "ms")),
    ),
    Table(
        "quotes",
        (C("id", "id", primary_key=True), _required("title", "text"), C("status", "text"),
         _required("created_at", "ms")),
    ),
    Table(
        "invoices",
        (C("id", "id", primary_key=True), _required("number", "text"), C("amount", "float"),
         C("status", "text"), _required("created_at", "ms")),
    ),
    Table(
        "payments",
        (C("id", "id", primary_key=True), _required("amount", "float"),
         _required("currency", "text"), _required("status", "text"),
         _required("method", "text"), _required("kind", "text", default="payment"),
         C("refunds_payment_id", "bigint"), _required("created_at", "ms"),
         C("billing_event_id", "bigint")),  # m006: the billing event that charged it
        # A payment is refunded at most once: a second refund row of it cannot exist; a billing
        # event charges at most once.
        (Index("ux_payments_refunds", ("refunds_payment_id",), unique=True),
         Index("ux_payments_billing_event", ("billing_event_id",), unique=True),
         Index("ix_payments_processing", ("created_at",), where="status = 'processing'")),
    ),
    # m007: the other objects an export's association columns list (DOMAIN.md §0 Export).
    Table(
        "orders",
        (C("id", "id", primary_key=True), _required("name", "text"), C("amount", "float"),
         C("currency", "text"), C("status", "text"), _required("created_at", "ms")),
    ),
    Table(
        "payment_links",
        (C("id", "id", primary_key=True), _required("name", "text"), C("url", "text"),
         _required("created_at", "ms")),
    ),
    Table(
        "feedback_submissions",
        (C("id", "id", primary_key=True), _required("survey", "text"), C("sentiment", "text"),
         _required("created_at", "ms")),
    ),
    Table(  # the records of every custom object; ``object_name``: the custom object's
        "custom_records",
        (C("id", "id", primary_key=True), _required("object_name", "text"),
         _required("name", "text"), _required("created_at", "ms")),
    ),
    Table(
        "associations",
        (C("subscription_id", "bigint", primary_key=True,
           references="subscriptions.hs_object_id"),
         C("object_type", "text", primary_key=True), C("object_id", "bigint", primary_key=True),
         _required("type_id", "int")),
        (Index("ix_associations_object", ("object_type", "object_id")),),
    ),
    Table(
        "property_history",
        (C("id", "id", primary_key=True, autoincrement=True),
         _required("subscription_id", "bigint"), _required("property", "text"),
         C("old_value", "text"), C("new_value", "text"), _required("changed_at", "ms"),
         _required("source", "text")),
        (Index("ix_property_history_subscription", ("subscription_id",)),),
    ),
    # -- the billing run's log and journal (m006): one row per event, at most one per
    # subscription, kind and day (the constraint that makes a rerun charge nothing twice).
    # No foreign key: the log outlives a deleted subscription, like the outbox.
    Table(
        "billing_events",
        (C("id", "id", primary_key=True, autoincrement=True),
         _required("subscription_id", "bigint"),
         _required("kind", "text"),  # start, renewal, retry, settlement, cancellation, ...
         _required("at", "ms"),  # when it was due: its day, 00:00 UTC
         _required("outcome", "text"),  # succeeded, failed, processing, canceled, expired, resumed
         C("old_status", "text"), C("new_status", "text"),
         C("amount", "float"), C("currency", "text"),
         C("payment_id", "bigint"),  # settlement: the payment settled (a charge's payment
         # names its event: payments.billing_event_id)
         C("job_id", "bigint"), C("note", "text"),
         # m012: the audit row of the day that wrote it (NULL: written before m012, or
         # without an audit context), its entries in ``subctl audit`` (store/sql/audit.py)
         C("audit_id", "bigint")),
        (Index("ux_billing_events_once", ("subscription_id", "kind", "at"), unique=True),
         Index("ix_billing_events_at", ("at",)),
         Index("ix_billing_events_job", ("job_id", "outcome")),
         # a day's events in order, from the index alone (PostgreSQL orders the ties of
         # (audit_id) by their place in the heap; SQLite's rowid makes both the same)
         Index("ix_billing_events_audit", ("audit_id", "id"))),
    ),
    # -- workspace state --
    Table(
        "saved_views",
        (C("name", "text", primary_key=True), _required("query", "text"),
         _required("columns", "text", default="[]"),  # JSON
         C("sort", "text"), _required("builtin", "bool", default=False),
         _required("created_at", "ms")),
    ),
    Table(
        "workspace_settings",
        (C("key", "text", primary_key=True), _required("value", "text")),
    ),
    Table(
        "jobs",
        (C("id", "id", primary_key=True, autoincrement=True), _required("verb", "text"),
         _required("action", "text"),  # JSON: the verb's options
         _required("selection", "text"),  # JSON: how the items were chosen
         _required("fingerprint", "text"), _required("frozen", "bool", default=False),
         _required("status", "text"),  # unfinished, done, abandoned
         _required("total", "int"), _required("created_at", "ms"),
         _required("updated_at", "ms")),
        (Index("ix_jobs_fingerprint", ("fingerprint", "status")),),
    ),
    Table(
        "job_items",
        (C("job_id", "bigint", primary_key=True, references="jobs.id"),
         C("subscription_id", "bigint", primary_key=True), _required("position", "int"),
         C("planned_status", "text"),
         C("outcome", "text"),  # NULL: unprocessed; ok, skipped, failed, attention
         C("new_status", "text"), C("note", "text"), C("processed_at", "ms")),
        (Index("ix_job_items_position", ("job_id", "position")),),
    ),
    Table(
        "outbox",
        (C("id", "id", primary_key=True, autoincrement=True),
         _required("subscription_id", "bigint"),  # no FK: mail outlives deletion
         _required("kind", "text"), C("recipient", "text"), _required("subject", "text"),
         _required("body", "text"), C("link", "text"), C("job_id", "bigint"),
         _required("created_at", "ms")),
        (Index("ix_outbox_subscription", ("subscription_id",)),),
    ),
    # -- segments (m008): a query (dynamic, snapshot) or a hand-kept list (manual) --
    Table(
        "segments",
        (C("name", "text", primary_key=True),
         _required("kind", "text"),  # dynamic, snapshot, manual
         C("query", "text"),  # the query text as written (NULL: manual)
         _required("description", "text", default=""),
         _required("created_at", "ms"), _required("updated_at", "ms"),
         C("refreshed_at", "ms")),  # the last refresh (what `segment diff` compares with)
    ),
    # The stored membership of snapshot and manual segments (no FK to subscriptions: a
    # deleted subscription simply matches nothing).
    Table(
        "segment_members",
        (C("segment", "text", primary_key=True, references="segments.name"),
         C("subscription_id", "bigint", primary_key=True)),
    ),
    # The membership at the last refresh, every kind.
    Table(
        "segment_baseline",
        (C("segment", "text", primary_key=True, references="segments.name"),
         C("subscription_id", "bigint", primary_key=True)),
    ),
    # Every refresh, and who entered or left at it: the membership as of an earlier refresh
    # is the baseline with the later changes undone (`segment diff --since DATE`).
    Table(
        "segment_refreshes",
        (C("id", "id", primary_key=True, autoincrement=True),
         _required("segment", "text", references="segments.name"),
         _required("at", "ms"), _required("size", "bigint"),
         _required("entered", "bigint"), _required("left_count", "bigint")),
        (Index("ix_segment_refreshes_segment", ("segment", "at")),),
    ),
    Table(
        "segment_changes",
        (C("refresh_id", "bigint", primary_key=True, references="segment_refreshes.id"),
         C("subscription_id", "bigint", primary_key=True),
         _required("entered", "bool")),
    ),
    # -- team workspaces (m009): permissions per database role, and the audit log --
    Table(
        "access",
        (C("username", "text", primary_key=True), C("permission", "text", primary_key=True),
         _required("granted_by", "text"), _required("granted_at", "ms")),
    ),
    # Every change, append-only (no update or delete path; no foreign key: a deleted
    # subscription keeps its rows). JSON text: arguments, before, after.
    Table(
        "audit",
        (C("id", "id", primary_key=True, autoincrement=True),
         _required("at", "ms"), _required("actor", "text"), C("db_user", "text"),
         C("profile", "text"), _required("verb", "text"), C("subscription_id", "bigint"),
         C("target", "text"), C("job_id", "bigint"), C("arguments", "text"),
         C("before", "text"), C("after", "text")),
        (Index("ix_audit_at", ("at",)), Index("ix_audit_subscription", ("subscription_id",))),
    ),
)  # fmt: skip
TABLE_BY_NAME = {t.name: t for t in TABLES}

# Tables of associated records, by association object type.
OBJECT_TABLE_NAMES = {
    "contact": "contacts",
    "company": "companies",
    "deal": "deals",
    "line_item": "line_items",
    "quote": "quotes",
    "invoice": "invoices",
    "payment": "payments",
    "order": "orders",
    "payment_link": "payment_links",
    "feedback_submission": "feedback_submissions",
    "custom_record": "custom_records",
}

# -- the SQLAlchemy Core metadata, built from the description on first use ------------------


def column_type(ptype: PropType) -> sa.types.TypeEngine[Any]:
    """The SQLAlchemy type that stores values of a property type."""
    return _sa_type(light_type(ptype))


def _sa_type(name: str) -> sa.types.TypeEngine[Any]:
    import sqlalchemy as sa

    types: dict[str, sa.types.TypeEngine[Any]] = {
        # Record ids: 64-bit integers; INTEGER on SQLite so that the primary key is the rowid.
        "id": sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
        "bigint": sa.BigInteger(),
        "ms": sa.BigInteger(),
        "int": sa.Integer(),
        "float": sa.Float(precision=53),
        "text": sa.Text(),
        "bool": sa.Boolean(),
    }
    return types[name]


def _sa_column(column: Column) -> sa.Column[Any]:
    import sqlalchemy as sa

    extra: list[Any] = []
    if column.references is not None:
        extra.append(sa.ForeignKey(column.references, ondelete="CASCADE"))
    default: Any = column.default
    if isinstance(default, bool):
        default = sa.true() if default else sa.false()
    options: dict[str, Any] = {"primary_key": column.primary_key}
    if not column.primary_key:
        options["nullable"] = column.nullable
    if default is not None:
        options["server_default"] = default
    if column.autoincrement:
        options["autoincrement"] = True
    return sa.Column(column.name, _sa_type(column.type), *extra, **options)


def _sa_table(table: Table, metadata: sa.MetaData) -> sa.Table:
    import sqlalchemy as sa

    built = sa.Table(table.name, metadata, *(_sa_column(c) for c in table.columns))
    for index in table.indexes:
        where: dict[str, Any] = {}
        if index.where is not None:
            where = {
                f"{dialect}_where": sa.text(index.where) for dialect in ("sqlite", "postgresql")
            }
        sa.Index(index.name, *(built.c[c] for c in index.columns), unique=index.unique, **where)
    return built


@functools.cache
def _core() -> dict[str, Any]:
    import sqlalchemy as sa

    metadata = sa.MetaData()
    tables = {t.name: _sa_table(t, metadata) for t in TABLES}
    objects = {kind: tables[name] for kind, name in OBJECT_TABLE_NAMES.items()}
    return {"metadata": metadata, "OBJECT_TABLES": objects, **tables}


if TYPE_CHECKING:
    metadata: sa.MetaData
    subscriptions: sa.Table
    property_definitions: sa.Table
    contacts: sa.Table
    contact_emails: sa.Table
    companies: sa.Table
    company_domains: sa.Table
    deals: sa.Table
    line_items: sa.Table
    quotes: sa.Table
    invoices: sa.Table
    payments: sa.Table
    orders: sa.Table
    payment_links: sa.Table
    feedback_submissions: sa.Table
    custom_records: sa.Table
    associations: sa.Table
    property_history: sa.Table
    billing_events: sa.Table
    saved_views: sa.Table
    workspace_settings: sa.Table
    jobs: sa.Table
    job_items: sa.Table
    outbox: sa.Table
    segments: sa.Table
    segment_members: sa.Table
    segment_baseline: sa.Table
    segment_refreshes: sa.Table
    segment_changes: sa.Table
    access: sa.Table
    audit: sa.Table
    OBJECT_TABLES: dict[str, sa.Table]
else:

    def __getattr__(name: str) -> Any:
        """``metadata``, ``OBJECT_TABLES`` and each table (``schema.payments``): SQLAlchemy
        Core, built on first access. Other names (``__path__``, which every ``from schema
        import …`` looks up) fail without building it."""
        if name.startswith("__"):
            raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
        try:
            return _core()[name]
        except KeyError:
            raise AttributeError(f"module {__name__!r} has no attribute {name!r}") from None


def subscriptions_table(registry: PropertyRegistry) -> sa.Table:
    """``subscriptions`` with a column per property of ``registry`` (standard and custom)."""
    import sqlalchemy as sa

    light = Table("subscriptions", _subscription_columns(registry))
    return sa.Table("subscriptions", sa.MetaData(), *(_sa_column(c) for c in light.columns))


# Every association of every subscription, as rows of (subscription_id, object_type, object_id,
# type_id): the rows of ``associations`` and the payments billing charged, linked through their
# billing event (``payments.billing_event_id`` -> ``billing_events.subscription_id``): billing
# writes no association row for them (m011: a random insert into the associations' primary key
# per payment was the largest cost of a billing run). Every read of associations goes through
# this; ``associate``/``dissociate`` write ``associations`` (records.py). A deleted subscription's
# payments stay, associated with nothing, as its association rows go (its billing events stay).
_PAYMENT_TYPE = ASSOCIATION_BY_NAME["payment"].type_id
LINKS = (
    "(SELECT subscription_id, object_type, object_id, type_id FROM associations"
    f" UNION ALL SELECT e.subscription_id, 'payment', p.id, {_PAYMENT_TYPE}"
    " FROM payments p JOIN billing_events e ON e.id = p.billing_event_id"
    " JOIN subscriptions s ON s.hs_object_id = e.subscription_id)"
)
