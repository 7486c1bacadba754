"""The one description of the SQL workspace's current schema: a SQLAlchemy Core ``MetaData``.

Queries, the query compiler, the bulk loader and the schema check all read these tables; the
migrations that create them live, frozen, in ``migrations.py`` (``tests/test_migrations.py``
compares the migrated database with this metadata, column names and types, on every dialect).
Times are epoch milliseconds (BIGINT), ids are 64-bit (``ID``: INTEGER on SQLite, where only an
``INTEGER PRIMARY KEY`` is the rowid).

``subscriptions`` has one column per property: its standard columns come from
``subctl.schema.STANDARD_PROPERTIES``; custom properties add columns at run time (ALTER TABLE),
so ``subscriptions_table(registry)`` builds the table of a given set of definitions.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from subctl.schema import STANDARD_PROPERTIES, PropertyRegistry, PropType


def column_type(ptype: PropType) -> sa.types.TypeEngine[Any]:
    """The SQL type that stores values of a property type (see ``subctl.schema``)."""
    if ptype is PropType.NUMBER:
        return sa.Float(precision=53)
    if ptype in (PropType.DATE, PropType.DATETIME):
        return sa.BigInteger()  # epoch milliseconds
    if ptype is PropType.BOOL:
        return sa.Integer()
    return sa.Text()


# Record ids: 64-bit integers; INTEGER on SQLite so that the primary key is the rowid.
ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
MS = sa.BigInteger  # epoch milliseconds
MONEY = sa.Float(precision=53)

metadata = sa.MetaData()


def _subscription_columns(registry: PropertyRegistry | None = None) -> list[sa.Column[Any]]:
    props = STANDARD_PROPERTIES if registry is None else list(registry)
    return [
        sa.Column(p.column, ID, primary_key=True)
        if p.name == "hs_object_id"
        else sa.Column(p.column, column_type(p.type))
        for p in props
    ]


subscriptions = sa.Table("subscriptions", metadata, *_subscription_columns())
sa.Index(
    "ix_subscriptions_status_due",
    subscriptions.c.hs_status,
    subscriptions.c.hs_next_payment_due_date,
)
sa.Index("ix_subscriptions_due", subscriptions.c.hs_next_payment_due_date)
sa.Index("ix_subscriptions_canceled_at", subscriptions.c.hs_canceled_at)
sa.Index("ix_subscriptions_modified", subscriptions.c.hs_lastmodifieddate)

property_definitions = sa.Table(
    "property_definitions",
    metadata,
    sa.Column("name", sa.Text, primary_key=True),
    sa.Column("label", sa.Text, nullable=False),
    sa.Column("type", sa.Text, nullable=False),
    sa.Column("field_type", sa.Text, nullable=False),
    sa.Column("group_name", sa.Text, nullable=False),
    sa.Column("description", sa.Text, nullable=False, server_default=""),
    sa.Column("options", sa.Text, nullable=False, server_default="[]"),  # JSON
    sa.Column("rules", sa.Text, nullable=False, server_default="[]"),  # JSON
    sa.Column("sensitivity", sa.Text, nullable=False, server_default="non_sensitive"),
    sa.Column("is_unique", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("created_at", MS, nullable=False),
    sa.Column("updated_at", MS, nullable=False),
)

# -- associated records ------------------------------------------------------------------

contacts = sa.Table(
    "contacts",
    metadata,
    sa.Column("id", ID, primary_key=True),
    sa.Column("firstname", sa.Text),
    sa.Column("lastname", sa.Text),
    sa.Column("created_at", MS, nullable=False),
)
contact_emails = sa.Table(
    "contact_emails",
    metadata,
    sa.Column("contact_id", sa.BigInteger, sa.ForeignKey("contacts.id", ondelete="CASCADE"),
              primary_key=True),
    sa.Column("position", sa.Integer, primary_key=True),
    sa.Column("email", sa.Text, nullable=False),
)  # fmt: skip
companies = sa.Table(
    "companies",
    metadata,
    sa.Column("id", ID, primary_key=True),
    sa.Column("name", sa.Text, nullable=False),
    sa.Column("created_at", MS, nullable=False),
)
company_domains = sa.Table(
    "company_domains",
    metadata,
    sa.Column("company_id", sa.BigInteger, sa.ForeignKey("companies.id", ondelete="CASCADE"),
              primary_key=True),
    sa.Column("position", sa.Integer, primary_key=True),
    sa.Column("domain", sa.Text, nullable=False),
)  # fmt: skip
deals = sa.Table(
    "deals",
    metadata,
    sa.Column("id", ID, primary_key=True),
    sa.Column("name", sa.Text, nullable=False),
    sa.Column("amount", MONEY),
    sa.Column("stage", sa.Text),
    sa.Column("created_at", MS, nullable=False),
)
line_items = sa.Table(
    "line_items",
    metadata,
    sa.Column("id", ID, primary_key=True),
    sa.Column("name", sa.Text, nullable=False),
    sa.Column("quantity", sa.Integer, nullable=False),
    sa.Column("price", MONEY, nullable=False),
    sa.Column("created_at", MS, nullable=False),
)
quotes = sa.Table(
    "quotes",
    metadata,
    sa.Column("id", ID, primary_key=True),
    sa.Column("title", sa.Text, nullable=False),
    sa.Column("status", sa.Text),
    sa.Column("created_at", MS, nullable=False),
)
invoices = sa.Table(
    "invoices",
    metadata,
    sa.Column("id", ID, primary_key=True),
    sa.Column("number", sa.Text, nullable=False),
    sa.Column("amount", MONEY),
    sa.Column("status", sa.Text),
    sa.Column("created_at", MS, nullable=False),
)
payments = sa.Table(
    "payments",
    metadata,
    sa.Column("id", ID, primary_key=True),
    sa.Column("amount", MONEY, nullable=False),
    sa.Column("currency", sa.Text, nullable=False),
    sa.Column("status", sa.Text, nullable=False),
    sa.Column("method", sa.Text, nullable=False),
    sa.Column("kind", sa.Text, nullable=False, server_default="payment"),
    sa.Column("refunds_payment_id", sa.BigInteger),
    sa.Column("created_at", MS, nullable=False),
)
# A payment is refunded at most once: a second refund row of the same payment cannot exist.
sa.Index("ux_payments_refunds", payments.c.refunds_payment_id, unique=True)

associations = sa.Table(
    "associations",
    metadata,
    sa.Column("subscription_id", sa.BigInteger,
              sa.ForeignKey("subscriptions.hs_object_id", ondelete="CASCADE"), primary_key=True),
    sa.Column("object_type", sa.Text, primary_key=True),
    sa.Column("object_id", sa.BigInteger, primary_key=True),
    sa.Column("type_id", sa.Integer, nullable=False),
)  # fmt: skip
sa.Index("ix_associations_object", associations.c.object_type, associations.c.object_id)

property_history = sa.Table(
    "property_history",
    metadata,
    sa.Column("id", ID, primary_key=True, autoincrement=True),
    sa.Column("subscription_id", sa.BigInteger, nullable=False),
    sa.Column("property", sa.Text, nullable=False),
    sa.Column("old_value", sa.Text),
    sa.Column("new_value", sa.Text),
    sa.Column("changed_at", MS, nullable=False),
    sa.Column("source", sa.Text, nullable=False),
)
sa.Index("ix_property_history_subscription", property_history.c.subscription_id)

# -- workspace state ---------------------------------------------------------------------

saved_views = sa.Table(
    "saved_views",
    metadata,
    sa.Column("name", sa.Text, primary_key=True),
    sa.Column("query", sa.Text, nullable=False),
    sa.Column("columns", sa.Text, nullable=False, server_default="[]"),  # JSON
    sa.Column("sort", sa.Text),
    sa.Column("builtin", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("created_at", MS, nullable=False),
)
workspace_settings = sa.Table(
    "workspace_settings",
    metadata,
    sa.Column("key", sa.Text, primary_key=True),
    sa.Column("value", sa.Text, nullable=False),
)
jobs = sa.Table(
    "jobs",
    metadata,
    sa.Column("id", ID, primary_key=True, autoincrement=True),
    sa.Column("verb", sa.Text, nullable=False),
    sa.Column("action", sa.Text, nullable=False),  # JSON: the verb's options
    sa.Column("selection", sa.Text, nullable=False),  # JSON: how the items were chosen
    sa.Column("fingerprint", sa.Text, nullable=False),
    sa.Column("frozen", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("status", sa.Text, nullable=False),  # unfinished, done, abandoned
    sa.Column("total", sa.Integer, nullable=False),
    sa.Column("created_at", MS, nullable=False),
    sa.Column("updated_at", MS, nullable=False),
)
sa.Index("ix_jobs_fingerprint", jobs.c.fingerprint, jobs.c.status)
job_items = sa.Table(
    "job_items",
    metadata,
    sa.Column("job_id", sa.BigInteger, sa.ForeignKey("jobs.id", ondelete="CASCADE"),
              primary_key=True),
    sa.Column("subscription_id", sa.BigInteger, primary_key=True),
    sa.Column("position", sa.Integer, nullable=False),
    sa.Column("planned_status", sa.Text),
    sa.Column("outcome", sa.Text),  # NULL: unprocessed; ok, skipped, failed, attention
    sa.Column("new_status", sa.Text),
    sa.Column("note", sa.Text),
    sa.Column("processed_at", MS),
)  # fmt: skip
sa.Index("ix_job_items_position", job_items.c.job_id, job_items.c.position)
outbox = sa.Table(
    "outbox",
    metadata,
    sa.Column("id", ID, primary_key=True, autoincrement=True),
    sa.Column("subscription_id", sa.BigInteger, nullable=False),  # no FK: mail outlives deletion
    sa.Column("kind", sa.Text, nullable=False),
    sa.Column("recipient", sa.Text),
    sa.Column("subject", sa.Text, nullable=False),
    sa.Column("body", sa.Text, nullable=False),
    sa.Column("link", sa.Text),
    sa.Column("job_id", sa.BigInteger),
    sa.Column("created_at", MS, nullable=False),
)
sa.Index("ix_outbox_subscription", outbox.c.subscription_id)

# Tables of associated records, by association object type.
OBJECT_TABLES: dict[str, sa.Table] = {
    "contact": contacts,
    "company": companies,
    "deal": deals,
    "line_item": line_items,
    "quote": quotes,
    "invoice": invoices,
    "payment": payments,
}


def subscriptions_table(registry: PropertyRegistry) -> sa.Table:
    """``subscriptions`` with a column per property of ``registry`` (standard and custom)."""
    return sa.Table("subscriptions", sa.MetaData(), *_subscription_columns(registry))
