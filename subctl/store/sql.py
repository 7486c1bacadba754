"""``SqlStore``: the workspace store over SQLAlchemy/SQLModel, for SQLite (local workspace) and
PostgreSQL (team workspace) alike.

The ``subscriptions`` table has one column per property (standard and custom), so custom
properties filter and index like standard ones; its SQLAlchemy table is built from the property
definitions at open time. Reads stream (``yield_per``); bulk loads go through the DB-API's
``executemany`` in chunks.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from decimal import Decimal
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, col, select

from subctl.errors import Conflict, NotFound, StoreUnavailable, UsageError
from subctl.query.ast import Expr, Query
from subctl.query.sql import ASSOCIATIONS, compile_where
from subctl.schema import (
    ASSOCIATION_BY_NAME,
    STANDARD_PROPERTIES,
    Option,
    Property,
    PropertyRegistry,
    PropType,
    from_storage,
)
from subctl.store import migrations
from subctl.store.base import (
    AssociatedRecord,
    Change,
    Payment,
    SavedView,
    Subscription,
    SubscriptionDetail,
)
from subctl.store.models import (
    CompanyDomainRow,
    CompanyRow,
    ContactEmailRow,
    ContactRow,
    DealRow,
    InvoiceRow,
    LineItemRow,
    PaymentRow,
    PropertyDefinitionRow,
    PropertyHistoryRow,
    QuoteRow,
    SavedViewRow,
    WorkspaceSettingRow,
)

STREAM_CHUNK = 1000


def sqlite_url(path: Path) -> str:
    return f"sqlite:///{path}"


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    cursor = dbapi_conn.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=5000")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def describe_url(url: str) -> str:
    """A URL safe to print: the password hidden."""
    return sa.make_url(url).render_as_string(hide_password=True)


class SqlStore:
    """A workspace in a SQL database. ``create=True`` creates (or upgrades) it."""

    def __init__(self, url: str, *, create: bool = False) -> None:
        self.url = url
        parsed = sa.make_url(url)
        self.is_sqlite = parsed.get_backend_name() == "sqlite"
        if self.is_sqlite and parsed.database and parsed.database != ":memory:":
            path = Path(parsed.database)
            if not path.exists():
                if not create:
                    raise StoreUnavailable(
                        f"no workspace at {path}",
                        hint="create one with `subctl init` (or `subctl demo` for sample data)",
                    )
                path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self.engine = sa.create_engine(url)
        except (sa.exc.ArgumentError, ModuleNotFoundError) as exc:
            raise StoreUnavailable(f"cannot open workspace {describe_url(url)}: {exc}") from exc
        if self.is_sqlite:
            sa.event.listen(self.engine, "connect", _sqlite_pragmas)
        with self._errors():
            self._open(create)
        self._registry: PropertyRegistry | None = None
        self._table: sa.Table | None = None

    def _open(self, create: bool) -> None:
        with self.engine.connect() as conn:
            done = migrations.applied(conn)
        if not done and not create:
            raise StoreUnavailable(
                f"{describe_url(self.url)} is not a subctl workspace",
                hint="create one with `subctl init`",
            )
        if len(done) < len(migrations.MIGRATIONS):
            migrations.migrate(self.engine)

    @contextmanager
    def _errors(self) -> Iterator[None]:
        try:
            yield
        except sa.exc.IntegrityError as exc:
            raise Conflict(f"conflict in the workspace: {exc.orig}") from exc
        except sa.exc.OperationalError as exc:
            raise StoreUnavailable(
                f"workspace unavailable: {exc.orig}",
                hint="another subctl may hold a lock on it; retry in a moment",
            ) from exc
        except sa.exc.DatabaseError as exc:
            raise StoreUnavailable(f"workspace unavailable: {exc.orig}") from exc

    def close(self) -> None:
        self.engine.dispose()

    # -- properties -----------------------------------------------------------------------

    def properties(self) -> PropertyRegistry:
        if self._registry is None:
            with self._errors(), Session(self.engine) as session:
                rows = session.exec(select(PropertyDefinitionRow)).all()
            self._registry = PropertyRegistry([*STANDARD_PROPERTIES, *map(_custom, rows)])
        return self._registry

    def table(self) -> sa.Table:
        """The ``subscriptions`` table with a column per known property."""
        if self._table is None:
            self._table = sa.Table(
                "subscriptions",
                sa.MetaData(),
                *(
                    sa.Column(p.column, migrations.column_type(p.type),
                              primary_key=p.name == "hs_object_id")
                    for p in self.properties()
                ),
            )  # fmt: skip
        return self._table

    # -- reading subscriptions --------------------------------------------------------------

    def _select(self, fields: Sequence[str] | None) -> tuple[sa.Select[Any], list[Property]]:
        registry = self.properties()
        names = ["hs_object_id", *(f for f in fields if f != "hs_object_id")] if fields else None
        props = [p for p in registry if names is None or p.name in names]
        if names is not None:
            props.sort(key=lambda p: names.index(p.name))
        table = self.table()
        return sa.select(*(table.c[p.column] for p in props)), props

    def _where(self, stmt: sa.Select[Any], where: Expr | None) -> sa.Select[Any]:
        if where is None:
            return stmt
        return stmt.where(compile_where(where, self.table(), self.properties()))

    def search(self, query: Query, fields: Sequence[str] | None = None) -> Iterator[Subscription]:
        stmt, props = self._select(fields)
        stmt = self._where(stmt, query.where)
        table = self.table()
        if query.sort is not None:
            sort_prop = self.properties().get(query.sort.field)
            if sort_prop is None:
                raise UsageError(f'cannot sort by unknown field "{query.sort.field}"')
            column = table.c[sort_prop.column]
            order = column.desc() if query.sort.descending else column.asc()
            stmt = stmt.order_by(sa.nulls_last(order))
        stmt = stmt.order_by(table.c.hs_object_id)
        if query.limit is not None:
            stmt = stmt.limit(query.limit)
        return self._stream(stmt, props)

    def _stream(self, stmt: sa.Select[Any], props: list[Property]) -> Iterator[Subscription]:
        converters = [(p.name, p.from_storage) for p in props]
        with self._errors(), self.engine.connect() as conn:
            result = conn.execution_options(yield_per=STREAM_CHUNK).execute(stmt)
            for row in result:
                values = {
                    name: convert(raw) for (name, convert), raw in zip(converters, row, strict=True)
                }
                yield Subscription(id=int(row[0]), properties=values)

    def count(self, where: Expr | None = None) -> int:
        stmt = self._where(sa.select(sa.func.count()).select_from(self.table()), where)
        with self._errors(), self.engine.connect() as conn:
            return int(conn.execute(stmt).scalar_one())

    def get(self, sub_id: int) -> Subscription:
        stmt, props = self._select(None)
        stmt = stmt.where(self.table().c.hs_object_id == sub_id)
        for sub in self._stream(stmt, props):
            return sub
        raise NotFound(f"subscription {sub_id} not found")

    def detail(self, sub_id: int) -> SubscriptionDetail:
        detail = SubscriptionDetail(self.get(sub_id))
        with self._errors(), Session(self.engine) as session:
            links = session.execute(
                sa.select(ASSOCIATIONS.c.object_type, ASSOCIATIONS.c.object_id,
                          sa.column("type_id"))
                .select_from(ASSOCIATIONS)
                .where(ASSOCIATIONS.c.subscription_id == sub_id)
                .order_by(ASSOCIATIONS.c.object_type, ASSOCIATIONS.c.object_id)
            ).all()  # fmt: skip
            by_type: dict[str, dict[int, int]] = {}
            for object_type, object_id, type_id in links:
                by_type.setdefault(object_type, {})[object_id] = type_id
            for object_type, ids in by_type.items():
                if object_type == "payment":
                    detail.payments = _payments(session, ids)
                labels = _labels(session, object_type, list(ids))
                detail.associations.extend(
                    AssociatedRecord(object_type, oid, ids[oid], *labels.get(oid, (str(oid), ())))
                    for oid in ids
                )
            history = session.exec(
                select(PropertyHistoryRow)
                .where(PropertyHistoryRow.subscription_id == sub_id)
                .order_by(col(PropertyHistoryRow.changed_at).desc(),
                          col(PropertyHistoryRow.id).desc())
            ).all()  # fmt: skip
            detail.history = [
                Change(h.property, h.old_value, h.new_value,
                       from_storage(PropType.DATETIME, h.changed_at), h.source)
                for h in history
            ]  # fmt: skip
        return detail

    # -- saved views -------------------------------------------------------------------------

    def views(self) -> list[SavedView]:
        with self._errors(), Session(self.engine) as session:
            rows = session.exec(select(SavedViewRow).order_by(col(SavedViewRow.name))).all()
        return [_view(r) for r in rows]

    def get_view(self, name: str) -> SavedView:
        with self._errors(), Session(self.engine) as session:
            row = session.get(SavedViewRow, name)
        if row is None:
            raise NotFound(f'view "{name}" not found', hint="list views with `subctl views`")
        return _view(row)

    def save_view(self, view: SavedView) -> None:
        import time

        with self._errors(), Session(self.engine) as session:
            session.merge(
                SavedViewRow(
                    name=view.name,
                    query=view.where,
                    columns=json.dumps(list(view.columns)),
                    sort=view.sort,
                    builtin=view.builtin,
                    created_at=int(time.time() * 1000),
                )
            )
            session.commit()

    def delete_view(self, name: str) -> None:
        with self._errors(), Session(self.engine) as session:
            row = session.get(SavedViewRow, name)
            if row is None:
                raise NotFound(f'view "{name}" not found')
            session.delete(row)
            session.commit()

    # -- workspace settings ------------------------------------------------------------------

    def get_setting(self, key: str) -> str | None:
        with self._errors(), Session(self.engine) as session:
            row = session.get(WorkspaceSettingRow, key)
        return None if row is None else row.value

    def set_setting(self, key: str, value: str) -> None:
        with self._errors(), Session(self.engine) as session:
            session.merge(WorkspaceSettingRow(key=key, value=value))
            session.commit()

    # -- bulk loading ------------------------------------------------------------------------

    def bulk_insert(
        self, table: str, columns: Sequence[str], rows: Iterable[Sequence[Any]], chunk: int = 50_000
    ) -> int:
        """Insert rows of stored values through the DB-API ``executemany``; returns the count."""
        mark = "?" if self.engine.dialect.paramstyle == "qmark" else "%s"
        marks = ", ".join([mark] * len(columns))
        sql = f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks})"
        total = 0
        batch: list[Sequence[Any]] = []
        with self._errors(), self.engine.begin() as conn:
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
        return total

    def clear(self) -> None:
        """Remove every subscription and associated record (custom definitions and views stay)."""
        tables = ["associations", "property_history", "subscriptions", "payments", "invoices",
                  "quotes", "line_items", "deals", "company_domains", "companies",
                  "contact_emails", "contacts"]  # fmt: skip
        with self._errors(), self.engine.begin() as conn:
            for name in tables:
                conn.execute(sa.table(name).delete())


def _custom(row: PropertyDefinitionRow) -> Property:
    return Property(
        name=row.name,
        label=row.label,
        type=PropType(row.type),
        field_type=row.field_type,
        options=tuple(Option(**o) for o in json.loads(row.options)),
        description=row.description,
        group=row.group_name,
        hubspot_defined=False,
        sensitivity=row.sensitivity,
        unique=row.is_unique,
        rules=tuple((r["type"], tuple(r.get("args", ()))) for r in json.loads(row.rules)),
    )


def _view(row: SavedViewRow) -> SavedView:
    return SavedView(row.name, row.query, tuple(json.loads(row.columns)), row.sort, row.builtin)


def _payments(session: Session, ids: dict[int, int]) -> list[Payment]:
    rows = session.exec(
        select(PaymentRow).where(col(PaymentRow.id).in_(ids)).order_by(col(PaymentRow.created_at))
    ).all()
    return [
        Payment(
            id=r.id,
            amount=Decimal(repr(r.amount)).quantize(Decimal("0.01")),
            currency=r.currency,
            status=r.status,
            method=r.method,
            kind=r.kind,
            created_at=from_storage(PropType.DATETIME, r.created_at),
            refunds_payment_id=r.refunds_payment_id,
        )
        for r in rows
    ]


def _labels(
    session: Session, object_type: str, ids: list[int]
) -> dict[int, tuple[str, tuple[str, ...]]]:
    """Display labels (and every email / domain) of associated records, by id."""
    if object_type == "contact":
        emails: dict[int, list[str]] = {}
        for e in session.exec(
            select(ContactEmailRow).where(col(ContactEmailRow.contact_id).in_(ids))
            .order_by(col(ContactEmailRow.contact_id), col(ContactEmailRow.position))
        ):  # fmt: skip
            emails.setdefault(e.contact_id, []).append(e.email)
        out = {}
        for c in session.exec(select(ContactRow).where(col(ContactRow.id).in_(ids))):
            name = " ".join(p for p in (c.firstname, c.lastname) if p) or str(c.id)
            mails = tuple(emails.get(c.id, ()))
            out[c.id] = (f"{name} ({mails[0]})" if mails else name, mails)
        return out
    if object_type == "company":
        domains: dict[int, list[str]] = {}
        for d in session.exec(
            select(CompanyDomainRow).where(col(CompanyDomainRow.company_id).in_(ids))
            .order_by(col(CompanyDomainRow.company_id), col(CompanyDomainRow.position))
        ):  # fmt: skip
            domains.setdefault(d.company_id, []).append(d.domain)
        return {
            c.id: (c.name, tuple(domains.get(c.id, ())))
            for c in session.exec(select(CompanyRow).where(col(CompanyRow.id).in_(ids)))
        }
    if object_type == "deal":
        rows = session.exec(select(DealRow).where(col(DealRow.id).in_(ids)))
        return {r.id: (r.name, ()) for r in rows}
    if object_type == "line_item":
        items = session.exec(select(LineItemRow).where(col(LineItemRow.id).in_(ids)))
        return {r.id: (f"{r.name} × {r.quantity}", ()) for r in items}
    if object_type == "quote":
        quotes = session.exec(select(QuoteRow).where(col(QuoteRow.id).in_(ids)))
        return {r.id: (r.title, ()) for r in quotes}
    if object_type == "invoice":
        invoices = session.exec(select(InvoiceRow).where(col(InvoiceRow.id).in_(ids)))
        return {r.id: (r.number, ()) for r in invoices}
    if object_type == "payment":
        payments = session.exec(select(PaymentRow).where(col(PaymentRow.id).in_(ids)))
        return {
            r.id: (f"{r.amount:.2f} {r.currency} {r.status} ({r.method})", ()) for r in payments
        }
    assert object_type in ASSOCIATION_BY_NAME, object_type
    return {}
