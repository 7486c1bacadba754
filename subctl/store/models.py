"""SQLModel table models of the workspace (everything but ``subscriptions``).

``subscriptions`` has one column per property, standard and custom, so its table is built at run
time from the property definitions (``SqlStore.table``). These models describe the current schema;
the migrations that create it live, frozen, in ``migrations.py``. Times are epoch milliseconds.
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

# The column types of the migrations: ids and epoch milliseconds are 64-bit; an autoincrement id
# is INTEGER on SQLite so that it is the rowid.
BIG = sa.BigInteger
ROWID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


class PropertyDefinitionRow(SQLModel, table=True):
    __tablename__ = "property_definitions"
    name: str = Field(primary_key=True)
    label: str
    type: str
    field_type: str
    group_name: str
    description: str = ""
    options: str = "[]"
    rules: str = "[]"
    sensitivity: str = "non_sensitive"
    is_unique: bool = False
    created_at: int = Field(sa_type=BIG)
    updated_at: int = Field(sa_type=BIG)


class ContactRow(SQLModel, table=True):
    __tablename__ = "contacts"
    id: int = Field(sa_type=BIG, primary_key=True)
    firstname: str | None = None
    lastname: str | None = None
    created_at: int = Field(sa_type=BIG)


class ContactEmailRow(SQLModel, table=True):
    __tablename__ = "contact_emails"
    contact_id: int = Field(
        sa_type=BIG, primary_key=True, foreign_key="contacts.id", ondelete="CASCADE"
    )
    position: int = Field(primary_key=True)
    email: str


class CompanyRow(SQLModel, table=True):
    __tablename__ = "companies"
    id: int = Field(sa_type=BIG, primary_key=True)
    name: str
    created_at: int = Field(sa_type=BIG)


class CompanyDomainRow(SQLModel, table=True):
    __tablename__ = "company_domains"
    company_id: int = Field(
        sa_type=BIG, primary_key=True, foreign_key="companies.id", ondelete="CASCADE"
    )
    position: int = Field(primary_key=True)
    domain: str


class DealRow(SQLModel, table=True):
    __tablename__ = "deals"
    id: int = Field(sa_type=BIG, primary_key=True)
    name: str
    amount: float | None = None
    stage: str | None = None
    created_at: int = Field(sa_type=BIG)


class LineItemRow(SQLModel, table=True):
    __tablename__ = "line_items"
    id: int = Field(sa_type=BIG, primary_key=True)
    name: str
    quantity: int
    price: float
    created_at: int = Field(sa_type=BIG)


class QuoteRow(SQLModel, table=True):
    __tablename__ = "quotes"
    id: int = Field(sa_type=BIG, primary_key=True)
    title: str
    status: str | None = None
    created_at: int = Field(sa_type=BIG)


class InvoiceRow(SQLModel, table=True):
    __tablename__ = "invoices"
    id: int = Field(sa_type=BIG, primary_key=True)
    number: str
    amount: float | None = None
    status: str | None = None
    created_at: int = Field(sa_type=BIG)


class PaymentRow(SQLModel, table=True):
    __tablename__ = "payments"
    id: int = Field(sa_type=BIG, primary_key=True)
    amount: float
    currency: str
    status: str
    method: str
    kind: str = "payment"
    refunds_payment_id: int | None = Field(default=None, sa_type=BIG)
    created_at: int = Field(sa_type=BIG)


class AssociationRow(SQLModel, table=True):
    __tablename__ = "associations"
    subscription_id: int = Field(
        sa_type=BIG, primary_key=True, foreign_key="subscriptions.hs_object_id", ondelete="CASCADE"
    )
    object_type: str = Field(primary_key=True)
    object_id: int = Field(sa_type=BIG, primary_key=True)
    type_id: int


class PropertyHistoryRow(SQLModel, table=True):
    __tablename__ = "property_history"
    id: int | None = Field(sa_type=ROWID, default=None, primary_key=True)
    subscription_id: int = Field(sa_type=BIG, index=True)
    property: str
    old_value: str | None = None
    new_value: str | None = None
    changed_at: int = Field(sa_type=BIG)
    source: str


class SavedViewRow(SQLModel, table=True):
    __tablename__ = "saved_views"
    name: str = Field(primary_key=True)
    query: str
    columns: str = "[]"
    sort: str | None = None
    builtin: bool = False
    created_at: int = Field(sa_type=BIG)


class WorkspaceSettingRow(SQLModel, table=True):
    __tablename__ = "workspace_settings"
    key: str = Field(primary_key=True)
    value: str


# -- lifecycle verbs and batch journal (migration m002_lifecycle) -------------------


class JobRow(SQLModel, table=True):
    """A batch run of a lifecycle verb: what it does (``action``, JSON), how its items were
    chosen (``selection``, JSON), and ``status``: unfinished, done or abandoned."""

    __tablename__ = "jobs"
    id: int | None = Field(sa_type=ROWID, default=None, primary_key=True)
    verb: str
    action: str
    selection: str
    fingerprint: str
    frozen: bool = False
    status: str
    total: int
    created_at: int = Field(sa_type=BIG)
    updated_at: int = Field(sa_type=BIG)


class JobItemRow(SQLModel, table=True):
    """One subscription of a batch; ``outcome`` NULL until processed (the journal)."""

    __tablename__ = "job_items"
    job_id: int = Field(sa_type=BIG, primary_key=True, foreign_key="jobs.id", ondelete="CASCADE")
    subscription_id: int = Field(sa_type=BIG, primary_key=True)
    position: int
    planned_status: str | None = None
    outcome: str | None = None
    new_status: str | None = None
    note: str | None = None
    processed_at: int | None = Field(default=None, sa_type=BIG)


class OutboxRow(SQLModel, table=True):
    """An e-mail to a buyer, recorded instead of sent (local workspace)."""

    __tablename__ = "outbox"
    id: int | None = Field(sa_type=ROWID, default=None, primary_key=True)
    subscription_id: int = Field(sa_type=BIG, index=True)
    kind: str
    recipient: str | None = None
    subject: str
    body: str
    link: str | None = None
    job_id: int | None = Field(default=None, sa_type=BIG)
    created_at: int = Field(sa_type=BIG)


# Every model table, for the schema check in tests/test_migrations.py.
MODEL_TABLES = (
    PropertyDefinitionRow,
    ContactRow,
    ContactEmailRow,
    CompanyRow,
    CompanyDomainRow,
    DealRow,
    LineItemRow,
    QuoteRow,
    InvoiceRow,
    PaymentRow,
    AssociationRow,
    PropertyHistoryRow,
    SavedViewRow,
    WorkspaceSettingRow,
    JobRow,
    JobItemRow,
    OutboxRow,
)
