"""``SqlRecordStore``: subscriptions and their associated records in a SQL database (SQLite for
a local workspace, PostgreSQL for a team), over the one schema (``schema.py``): reads run SQL
text from ``compiler.py`` on the DB-API directly (no SQLAlchemy import on a reading verb), writes
go through SQLAlchemy Core and the DB-API's ``executemany``.

The ``subscriptions`` table has one column per property (standard and custom), so custom
properties filter and index like standard ones. Reads stream; batch writes go through the
DB-API's ``executemany`` in chunks. Labels of associated records come from
``subctl.labels``, history text from ``subctl.labels.history_text``: the store formats nothing
for display.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, suppress
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from subctl import codec, labels
from subctl.errors import Conflict, InvalidState, NotFound, UsageError
from subctl.query.ast import Expr, Query
from subctl.schema import (
    ASSOCIATION_BY_NAME,
    MASK,
    Property,
    PropertyRegistry,
    PropType,
    from_storage,
    masked_names,
    money_from_storage,
)
from subctl.store.base import (
    LOCAL,
    AssociatedRecord,
    AssociationCell,
    AuditChange,
    AuditContext,
    Capabilities,
    Change,
    Charge,
    ItemOutcome,
    LineItem,
    OutboxMessage,
    Payment,
    Subscription,
    SubscriptionDetail,
    SyncedSubscription,
    audited_definition,
    cell_objects,
)
from subctl.store.base import Refund as RefundRecord
from subctl.store.ops import (
    LAST_MODIFIED,
    Delete,
    NewRecord,
    Op,
    Update,
    Upsert,
    changes,
    charges_of,
    refunds_of,
)
from subctl.store.sql import audit as audit_log
from subctl.store.sql import schema
from subctl.store.sql.audit import dumps, insert_rows
from subctl.store.sql.compiler import count_sql, quote, select_sql
from subctl.store.sql.database import (
    ID_CHUNK,
    STREAM_CHUNK,
    Database,
    changed_elsewhere,
    chunks,
    insert_flat,
    insert_many,
    ms,
    property_index,
)
from subctl.store.sql.schema import LINKS
from subctl.store.sql.workspace import journal, lock_items

if TYPE_CHECKING:
    import sqlalchemy as sa

    from subctl.store.sql.seed import Insert

# SQLite page cache of a connection that applies batches: 8 MiB. A 100,000-item cancel takes
# the same time with 2, 8, 32 or 128 MiB (benchmarks/run.py); 128 MiB was most of its RSS.
BATCH_CACHE_KIB = 8_192
BATCH_CHECKPOINT_PAGES = 25_000  # WAL pages between automatic checkpoints (default 1,000)
# The e-mails of the subscriptions' contacts (``{ids}``: the id list), the buyer's first.
BUYER_EMAILS = (
    "SELECT a.subscription_id, e.email FROM associations a"
    " JOIN contact_emails e ON e.contact_id = a.object_id"
    " WHERE a.object_type = 'contact' AND a.subscription_id IN ({ids})"
    " ORDER BY a.subscription_id, a.object_id, e.position"
)
# No history of the change stamp itself, nor of what the payments record (their history is the
# subscription's payments): the last payment's date and the payment counters.
UNTRACKED = frozenset({"hs_lastmodifieddate", "hs_last_payment_date",
                       "hs_number_of_completed_payments", "hs_total_collected_amount"})  # fmt: skip
_ABSENT = object()  # a property not read: distinct from a stored NULL
_PAYMENT_TYPE = ASSOCIATION_BY_NAME["payment"].type_id


class SqlRecordStore:
    """The ``RecordStore`` of a SQL workspace."""

    def __init__(self, db: Database) -> None:
        self.db = db
        # Who is changing what (the command's): set, every write appends audit rows in its
        # transaction (``store.sql.audit``); None (tests, internal loads): none.
        self.audit: AuditContext | None = None

    def close(self) -> None:
        self.db.close()

    def require_writable(self) -> None:
        self.db.require_writable()

    @property
    def capabilities(self) -> Capabilities:
        return LOCAL

    @property
    def account_tier(self) -> str | None:
        return None  # a setting of the workspace (property settings --tier)

    # -- bulk loading (``seed.py``) -------------------------------------------------------

    def seed(self, table: str, columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> int:
        """Insert rows of stored values into a record table; returns the count."""
        from subctl.store.sql.seed import SqlSeeder

        return SqlSeeder(self.db).bulk_insert(table, columns, rows)

    def replacing_records(
        self, stamp: tuple[str, str] | None = None
    ) -> AbstractContextManager[Insert]:
        """See ``SqlSeeder.replacing_records``."""
        from subctl.store.sql.seed import SqlSeeder

        return SqlSeeder(self.db).replacing_records(stamp)

    def has_records(self) -> bool:
        from subctl.store.sql.seed import SqlSeeder

        return SqlSeeder(self.db).has_records()

    def records_digest(self, stamp_key: str) -> str:
        from subctl.store.sql.seed import SqlSeeder

        return SqlSeeder(self.db).records_digest(stamp_key)

    def repair_indexes(self) -> list[str]:
        return self.db.repair_indexes()

    # -- properties -----------------------------------------------------------------------

    def properties(self) -> PropertyRegistry:
        return self.db.properties()

    # -- reading subscriptions --------------------------------------------------------------

    def _props(self, fields: Sequence[str] | None) -> list[Property]:
        registry = self.properties()
        names = ["hs_object_id", *(f for f in fields if f != "hs_object_id")] if fields else None
        props = [p for p in registry if names is None or p.name in names]
        if names is not None:
            props.sort(key=lambda p: names.index(p.name))
        return props

    def search(self, query: Query, fields: Sequence[str] | None = None) -> Iterator[Subscription]:
        props = self._props(fields)
        sql = select_sql(query, props, self.properties(), dialect=self.db.dialect)
        return self._stream(sql.text, sql.params, props)

    def search_stored(
        self, query: Query, fields: Sequence[str]
    ) -> Iterator[Sequence[Sequence[Any]]]:
        registry = self.properties()
        props = []
        for name in fields:
            prop = registry.get(name)
            if prop is None or prop.name != name:
                raise UsageError(f'unknown property "{name}"')
            props.append(prop)
        sql = select_sql(query, props, registry, dialect=self.db.dialect)
        with self.db.reading() as cursor:
            cursor.execute(sql.text, sql.params)
            while rows := cursor.fetchmany(STREAM_CHUNK):
                yield rows

    def _stream(
        self, text: str, params: Sequence[Any], props: list[Property]
    ) -> Iterator[Subscription]:
        names = [p.name for p in props]
        readers = [_reader(p) for p in props]  # memoised converters: batches read 100k rows
        with self.db.reading() as cursor:
            cursor.execute(text, params)
            while rows := cursor.fetchmany(STREAM_CHUNK):
                for row in rows:
                    values = [read(raw) for read, raw in zip(readers, row, strict=True)]
                    yield Subscription(
                        id=int(row[0]), properties=dict(zip(names, values, strict=True))
                    )

    def count(self, where: Expr | None = None) -> int:
        sql = count_sql(where, self.properties(), dialect=self.db.dialect)
        with self.db.reading() as cursor:
            cursor.execute(sql.text, sql.params)
            return int(cursor.fetchone()[0])

    def get(self, sub_id: int) -> Subscription:
        props = self._props(None)
        columns = ", ".join(quote(p.column) for p in props)
        text = f"SELECT {columns} FROM subscriptions WHERE hs_object_id = {self.db.mark}"
        for sub in self._stream(text, [sub_id], props):
            return sub
        raise NotFound(f"subscription {sub_id} not found")

    def detail(self, sub_id: int) -> SubscriptionDetail:
        """The subscription with its associations, payments and history (the outbox is the
        workspace's: ``Workspace.outbox``)."""
        detail = SubscriptionDetail(self.get(sub_id))
        mark = self.db.mark
        with self.db.reading() as cursor:
            by_type = _links(cursor, mark, sub_id)
            for object_type, ids in by_type.items():
                if object_type == "payment":
                    detail.payments = _payments(cursor, mark, list(ids))
                found = _labels(cursor, mark, object_type, list(ids))
                detail.associations.extend(
                    AssociatedRecord(object_type, oid, ids[oid], *found.get(oid, (str(oid), ())))
                    for oid in ids
                )
            cursor.execute(
                "SELECT property, old_value, new_value, changed_at, source FROM property_history"
                f" WHERE subscription_id = {mark} ORDER BY changed_at DESC, id DESC",
                (sub_id,),
            )
            detail.history = [
                Change(prop, old, new, from_storage(PropType.DATETIME, changed_at), source)
                for prop, old, new, changed_at, source in cursor.fetchall()
            ]
        from subctl.store.sql.billing import SqlBilling

        detail.events = list(SqlBilling(self).events(sub_id=sub_id))
        return detail

    # -- lifecycle verbs and the batch journal -----------------------------------
    #
    # ``apply`` is one transaction per call: the journal claim, the subscription updates
    # (set-based: one UPDATE ... WHERE id IN (...) per distinct change), deletions, history,
    # outbox and refunds. Statements go through the DB-API cursor (``executemany``), as in
    # ``bulk_insert``, because a batch writes hundreds of thousands of rows.

    def _cursor(self, conn: sa.Connection) -> tuple[Any, str]:
        mark = "?" if self.db.engine.dialect.paramstyle == "qmark" else "%s"
        return conn.connection.cursor(), mark

    def _by_subscription(
        self, sub_ids: Sequence[int], sql: str, extra: Sequence[Any] = ()
    ) -> Iterator[tuple[Any, ...]]:
        """Rows of ``sql`` (``{ids}``: the id list, ``{mark}``: a placeholder for each of
        ``extra``) for the ids, a chunk at a time; the first column is a subscription id."""
        ids = list(dict.fromkeys(sub_ids))
        mark = self.db.mark
        with self.db.reading() as cursor:
            for start in range(0, len(ids), ID_CHUNK):
                part = ids[start : start + ID_CHUNK]
                text = sql.format(ids=", ".join([mark] * len(part)), mark=mark)
                cursor.execute(text, [*part, *extra])
                yield from cursor.fetchall()

    def get_many(self, sub_ids: Sequence[int], fields: Sequence[str]) -> dict[int, Subscription]:
        registry = self.properties()
        props = [registry.get(name) for name in ("hs_object_id", *fields)]
        known = [p for p in dict.fromkeys(props) if p is not None]
        if len(known) != len(set(props)):
            missing = [n for n, p in zip(("hs_object_id", *fields), props, strict=True) if not p]
            raise UsageError(f'unknown property "{missing[0]}"')
        names = [p.name for p in known]
        # Text columns come back as they are stored: only the others are converted.
        converted = [(p.name, _reader(p)) for p in known
                     if p.type not in (PropType.STRING, PropType.ENUMERATION)]  # fmt: skip
        columns = ", ".join(f'"{p.column}"' for p in known)
        sql = f"SELECT {columns} FROM subscriptions WHERE hs_object_id IN ({{ids}})"
        out: dict[int, Subscription] = {}
        for row in self._by_subscription(sub_ids, sql):
            values = dict(zip(names, row, strict=True))
            for name, read in converted:
                values[name] = read(values[name])
            sub_id = values["hs_object_id"]
            out[sub_id] = Subscription(sub_id, values)
        return out

    def payments_of(
        self, sub_ids: Sequence[int], statuses: Sequence[str] | None = None
    ) -> dict[int, list[Payment]]:
        only = ""
        if statuses is not None:
            only = " AND p.status IN (" + ", ".join(["{mark}"] * len(statuses)) + ")"
        sql = (
            "SELECT a.subscription_id, p.id, p.amount, p.currency, p.status, p.method, p.kind,"
            f" p.created_at, p.refunds_payment_id FROM {LINKS} a"
            " JOIN payments p ON p.id = a.object_id"
            " WHERE a.object_type = 'payment' AND a.subscription_id IN ({ids})" + only +
            " ORDER BY a.subscription_id, p.created_at, p.id"
        )  # fmt: skip
        out: dict[int, list[Payment]] = {}
        amounts: dict[float, Decimal] = {}  # prices repeat: convert each once
        created_at = codec.ms_to_datetime  # from_storage(DATETIME) of a value never NULL
        for row in self._by_subscription(sub_ids, sql, statuses or ()):
            sid, pid, amount, currency, status, method, kind, created, refunds = row
            money = amounts.get(amount)
            if money is None:
                money = amounts[amount] = money_from_storage(amount)
            refunded = None if refunds is None else int(refunds)
            payment = Payment(int(pid), money, currency, status, method, kind,
                              created_at(created), refunded)  # fmt: skip
            try:
                out[sid].append(payment)
            except KeyError:
                out[int(sid)] = [payment]
        return out

    def buyer_emails(self, sub_ids: Sequence[int]) -> dict[int, str]:
        out: dict[int, str] = {}
        for sid, email in self._by_subscription(sub_ids, BUYER_EMAILS):
            out.setdefault(int(sid), email)
        return out

    def execute(
        self,
        ops: Sequence[Op],
        *,
        job_id: int | None = None,
        outcomes: Sequence[ItemOutcome] = (),
    ) -> None:
        """Carry out the operations (one transaction); with ``job_id``, journal ``outcomes``
        in the same transaction (``SqlUnitOfWork``: the local workspace shares the database)."""
        registry = self.properties()
        with self.db.errors(), self.db.engine.begin() as conn:
            cursor, mark = self.db.cursor(conn)
            if self.db.is_sqlite:
                # Batches rewrite the same index pages chunk after chunk: keep some cached, and
                # checkpoint the WAL every ~100 MB rather than at every commit (each commit is
                # still durable in the WAL).
                cursor.execute(f"PRAGMA cache_size = -{BATCH_CACHE_KIB}")
                cursor.execute(f"PRAGMA wal_autocheckpoint = {BATCH_CHECKPOINT_PAGES}")
                # The write lock before the first read: the old values history records are
                # the ones this transaction replaces, not a concurrent writer's.
                cursor.execute("BEGIN IMMEDIATE")
            if job_id is not None and outcomes:
                if not self.db.is_sqlite:
                    lock_items(cursor, mark, job_id, (o.subscription_id for o in outcomes))
                journal(cursor, mark, job_id, outcomes)
            write_ops(cursor, mark, self.db.is_sqlite, registry, ops, self.audit, job_id)

    # -- properties & associations ------------------------------------------------
    #
    # A custom property is a row of ``property_definitions`` plus a column of ``subscriptions``
    # (ALTER TABLE ADD COLUMN, typed by ``migrations.column_type``) with the index
    # ``ix_subscriptions_cp_<name>``, written in one transaction (DDL is transactional in SQLite
    # and PostgreSQL). String columns are indexed on ``lower(column)``, the expression the query
    # compiler compares, so ``--where`` on them uses the index; a unique property's index is
    # UNIQUE (case-insensitive for strings), so a duplicate value is a ``Conflict``. Deleting
    # drops the index, the column (SQLite >= 3.35) and the property's history. Names reach SQL
    # only after ``services.properties.check_name`` and are quoted by the dialect as well;
    # values are always bound parameters. Business rules live in ``subctl.services``.

    def _invalidate(self) -> None:
        self._registry = None
        self._table = None

    def _audited(self, conn: sa.Connection, *changes: AuditChange) -> None:
        """Audit rows for changes made in ``conn``'s transaction (the command's context)."""
        if self.audit is not None:
            cursor = conn.connection.cursor()
            mark, sqlite = self.db.mark, self.db.is_sqlite
            audit_log.insert(cursor, mark, sqlite, self.audit, self.audit.clock(), changes)

    def create_property(self, prop: Property) -> None:
        if prop.hubspot_defined or not prop.name.isidentifier():
            raise UsageError(f"cannot create {prop.name}: not a custom property name")
        if self.properties().get(prop.name) is not None:
            raise Conflict(f"property {prop.name} already exists")
        import sqlalchemy as sa

        column = sa.Column(prop.column, schema.column_type(prop.type))
        with self.db.errors(), self.db.engine.begin() as conn:
            conn.execute(
                sa.insert(schema.property_definitions).values(
                    **_definition_values(prop, created=True)
                )
            )
            spec = sa.schema.CreateColumn(column).compile(dialect=conn.dialect)
            conn.exec_driver_sql(f"ALTER TABLE subscriptions ADD COLUMN {spec}")
            conn.execute(sa.schema.CreateIndex(property_index(prop)))
            created = audited_definition(prop)
            self._audited(conn, AuditChange(f"property:{prop.name}", None, created))
        self.db.invalidate()

    def _definition(self, name: str) -> Property:
        prop = self.properties().get(name)
        if prop is None or prop.name != name or prop.hubspot_defined:
            raise NotFound(f"custom property {name} not found")
        return prop

    def update_property(self, prop: Property) -> None:
        old = self._definition(prop.name)
        if (old.type, old.unique) != (prop.type, prop.unique):
            raise UsageError(f"the type and uniqueness of {prop.name} cannot change")
        values = _definition_values(prop, created=False)
        import sqlalchemy as sa

        definitions = schema.property_definitions
        with self.db.errors(), self.db.engine.begin() as conn:
            conn.execute(
                sa.update(definitions).where(definitions.c.name == prop.name).values(**values)
            )
            before, after = audited_definition(old), audited_definition(prop)
            changed = [k for k in after if before.get(k) != after[k]]
            self._audited(conn, AuditChange(f"property:{prop.name}",
                                            {k: before.get(k) for k in changed},
                                            {k: after[k] for k in changed}))  # fmt: skip
        self.db.invalidate()

    def delete_property(self, name: str) -> None:
        prop = self._definition(name)
        import sqlalchemy as sa

        definitions, history = schema.property_definitions, schema.property_history
        with self.db.errors(), self.db.engine.begin() as conn:
            conn.execute(sa.schema.DropIndex(property_index(prop), if_exists=True))
            column = conn.dialect.identifier_preparer.quote(prop.column)
            conn.exec_driver_sql(f"ALTER TABLE subscriptions DROP COLUMN {column}")
            conn.execute(sa.delete(definitions).where(definitions.c.name == name))
            conn.execute(sa.delete(history).where(history.c.property == name))
            self._audited(conn, AuditChange(f"property:{name}", audited_definition(prop), None))
        self.db.invalidate()

    def _require_subscription(self, cursor: Any, sub_id: int) -> None:
        cursor.execute(
            f"SELECT hs_object_id FROM subscriptions WHERE hs_object_id = {self.db.mark}",
            (sub_id,),
        )
        if cursor.fetchone() is None:
            raise NotFound(f"subscription {sub_id} not found")

    def associations(self, sub_id: int, object_type: str | None = None) -> list[AssociatedRecord]:
        mark = self.db.mark
        with self.db.reading() as cursor:
            self._require_subscription(cursor, sub_id)
            by_type = _links(cursor, mark, sub_id, object_type)
            found: list[AssociatedRecord] = []
            for otype, ids in by_type.items():
                shown = _labels(cursor, mark, otype, list(ids))
                found.extend(
                    AssociatedRecord(otype, oid, ids[oid], *shown.get(oid, (str(oid), ())))
                    for oid in ids
                )
        return found

    def association_cells(
        self,
        sub_ids: Sequence[int],
        objects: Sequence[str],
        *,
        cap: int | None = 1000,
        all_emails: bool = False,
        all_domains: bool = False,
    ) -> dict[int, dict[str, AssociationCell]]:
        """See ``RecordStore.association_cells``: one query per object type and chunk of
        ``ID_CHUNK`` subscriptions (``_cells_sql``), bound parameters only; the primary key of
        ``associations`` (subscription, object type, object id) finds and orders the rows."""
        names = cell_objects(objects, cap)
        ids = list(dict.fromkeys(int(i) for i in sub_ids))
        by_name: dict[str, dict[int, AssociationCell]] = {}
        mark = self.db.mark
        with self.db.reading() as cursor:
            for name in names:
                details = (name == "contact" and all_emails) or (name == "company" and all_domains)
                cells = by_name[name] = {}
                for part in chunks(ids):
                    sql = _cells_sql(name, mark, ", ".join([mark] * len(part)),
                                     capped=cap is not None, details=details)  # fmt: skip
                    cursor.execute(sql, [name, *part, *(() if cap is None else (cap,))])
                    cells.update(_cells(name, cursor.fetchall(), details))
        empty = AssociationCell((), (), 0)
        return {sid: {name: by_name[name].get(sid, empty) for name in names} for sid in ids}

    def line_items(self, sub_id: int) -> list[LineItem]:
        mark = self.db.mark
        with self.db.reading() as cursor:
            self._require_subscription(cursor, sub_id)
            cursor.execute(
                "SELECT li.id, li.name, li.quantity, li.price FROM line_items li"
                " JOIN associations a ON a.object_type = 'line_item' AND a.object_id = li.id"
                f" WHERE a.subscription_id = {mark} ORDER BY li.id",
                (sub_id,),
            )
            return [
                LineItem(int(i), name, int(quantity), money_from_storage(price))
                for i, name, quantity, price in cursor.fetchall()
            ]

    def payment(self, payment_id: int) -> Payment:
        with self.db.reading() as cursor:
            found = _payments(cursor, self.db.mark, [payment_id])
        if not found:
            raise NotFound(f"payment {payment_id} not found")
        return found[0]

    def associated_subscriptions(self, object_type: str, object_id: int) -> list[int]:
        mark = self.db.mark
        with self.db.reading() as cursor:
            cursor.execute(
                f"SELECT subscription_id FROM {LINKS} a"
                f" WHERE object_type = {mark} AND object_id = {mark} ORDER BY subscription_id",
                (object_type, object_id),
            )
            return [int(r[0]) for r in cursor.fetchall()]

    def associate(self, sub_id: int, object_type: str, object_id: int, type_id: int) -> None:
        self.record_label(object_type, object_id)  # NotFound
        import sqlalchemy as sa

        _LINKS = schema.associations  # noqa: N806
        key = (
            (_LINKS.c.subscription_id == sub_id)
            & (_LINKS.c.object_type == object_type)
            & (_LINKS.c.object_id == object_id)
        )
        with self.db.errors(), self.db.engine.begin() as conn:
            ids = schema.subscriptions.c.hs_object_id
            if conn.execute(sa.select(ids).where(ids == sub_id)).first() is None:
                raise NotFound(f"subscription {sub_id} not found")
            target = f"association:{object_type}:{object_id}"
            if _charged_by_billing(conn, sub_id, object_type, object_id):
                return  # linked through its billing event, with the one payment type
            found = conn.execute(sa.select(_LINKS.c.type_id).where(key)).first()
            if found is not None:
                conn.execute(sa.update(_LINKS).where(key).values(type_id=type_id))
                if found[0] != type_id:
                    self._audited(conn, AuditChange(target, {"type_id": found[0]},
                                                    {"type_id": type_id}, sub_id))  # fmt: skip
                return
            conn.execute(
                sa.insert(_LINKS).values(subscription_id=sub_id, object_type=object_type,
                                         object_id=object_id, type_id=type_id)
            )  # fmt: skip
            self._audited(conn, AuditChange(target, None, {"type_id": type_id}, sub_id))

    def dissociate(self, sub_id: int, object_type: str, object_id: int) -> None:
        import sqlalchemy as sa

        _LINKS = schema.associations  # noqa: N806
        with self.db.errors(), self.db.engine.begin() as conn:
            if _charged_by_billing(conn, sub_id, object_type, object_id):
                raise InvalidState(
                    f"payment {object_id} was charged by billing for subscription {sub_id}:"
                    " it stays associated with it"
                )
            result = conn.execute(
                sa.delete(_LINKS).where(
                    _LINKS.c.subscription_id == sub_id,
                    _LINKS.c.object_type == object_type,
                    _LINKS.c.object_id == object_id,
                )
            )
            if result.rowcount:
                target = f"association:{object_type}:{object_id}"
                self._audited(conn, AuditChange(target, {"associated": True}, None, sub_id))
        if not result.rowcount:
            label = ASSOCIATION_BY_NAME[object_type].label.lower()
            raise NotFound(f"subscription {sub_id} is not associated with {label} {object_id}")

    def record_label(self, object_type: str, object_id: int) -> str:
        if object_type not in ASSOCIATION_BY_NAME:
            raise UsageError(f'unknown object type "{object_type}"')
        with self.db.reading() as cursor:
            found = _labels(cursor, self.db.mark, object_type, [object_id])
        if object_id not in found:
            label = ASSOCIATION_BY_NAME[object_type].label.lower()
            raise NotFound(f"{label} {object_id} not found")
        return found[object_id][0]

    def create_record(self, object_type: str, values: Mapping[str, Any]) -> int:
        import sqlalchemy as sa

        table = schema.OBJECT_TABLES[object_type]
        fields = {
            k: codec.storage_of(v) for k, v in values.items() if k not in ("emails", "domains")
        }
        with self.db.errors(), self.db.engine.begin() as conn:
            # The id comes from the database (rowid, identity): never MAX(id) + 1.
            key = conn.execute(sa.insert(table).values(**fields)).inserted_primary_key
            assert key is not None
            new_id = int(key[0])
            emails = [
                {"contact_id": new_id, "position": position, "email": email}
                for position, email in enumerate(values.get("emails", ()))
            ]
            if emails:
                conn.execute(sa.insert(schema.contact_emails), emails)
            domains = [
                {"company_id": new_id, "position": position, "domain": domain}
                for position, domain in enumerate(values.get("domains", ()))
            ]
            if domains:
                conn.execute(sa.insert(schema.company_domains), domains)
        return new_id

    # -- sync (``subctl sync`` reading this store as its source) ---------------------------

    def changed_since(
        self, since: dt.datetime | None, *, after_id: int = 0, chunk: int = 100
    ) -> Iterator[Sequence[SyncedSubscription]]:
        """Keyset pages (id, or modified date and id): each chunk is one short query, so a
        long sync holds no read transaction open. A subscription without a modified date is
        read by a full sync only."""
        props = self._props(None)
        registry = self.properties()
        modified = registry.get(LAST_MODIFIED)
        assert modified is not None
        columns = ", ".join(quote(p.column) for p in props)
        mod, mark = quote(modified.column), self.db.mark
        last_id, last_ms = after_id, 0 if since is None else ms(since)
        first = True
        while True:
            params: list[int]
            if since is None:
                where, params = f"hs_object_id > {mark}", [last_id]
                order = "hs_object_id"
            elif first:
                where, params = f"{mod} >= {mark}", [last_ms]
                order = f"{mod}, hs_object_id"
            else:
                where = f"({mod} > {mark} OR ({mod} = {mark} AND hs_object_id > {mark}))"
                params, order = [last_ms, last_ms, last_id], f"{mod}, hs_object_id"
            text = f"SELECT {columns} FROM subscriptions WHERE {where} ORDER BY {order}"
            subs = list(self._stream(f"{text} LIMIT {int(chunk)}", params, props))
            if not subs:
                return
            links: dict[int, list[tuple[str, int, int]]] = {}
            sql = (
                f"SELECT subscription_id, object_type, object_id, type_id FROM {LINKS} a"
                " WHERE subscription_id IN ({ids}) ORDER BY subscription_id, object_type,"
                " object_id"
            )
            for sid, otype, oid, type_id in self._by_subscription([s.id for s in subs], sql):
                links.setdefault(int(sid), []).append((otype, int(oid), int(type_id)))
            yield [SyncedSubscription(s, tuple(links.get(s.id, ()))) for s in subs]
            first, last_id = False, subs[-1].id
            stamp = subs[-1].properties.get(LAST_MODIFIED)
            if since is not None:
                assert isinstance(stamp, dt.datetime)  # the WHERE excluded NULL
                last_ms = ms(stamp)

    def archived_since(self, since: dt.datetime | None) -> Iterator[Sequence[int]]:
        return iter(())  # a local delete leaves no tombstone

    def record_values(self, object_type: str, ids: Sequence[int]) -> dict[int, dict[str, Any]]:
        table_name = schema.OBJECT_TABLE_NAMES.get(object_type)
        if table_name is None:
            raise UsageError(f'unknown object type "{object_type}"')
        table = schema.TABLE_BY_NAME[table_name]
        names = [c.name for c in table.columns if c.name not in ("id", "billing_event_id")]
        sql = f"SELECT id, {', '.join(names)} FROM {table_name} WHERE id IN ({{ids}})"
        out: dict[int, dict[str, Any]] = {}
        for row in self._by_subscription(ids, sql):
            values = dict(zip(names, row[1:], strict=True))
            values["created_at"] = codec.ms_to_datetime(values["created_at"])
            out[int(row[0])] = values
        if object_type in _DETAILED and out:
            _, detail_table, key, column = _DETAILED[object_type]
            listed = "emails" if object_type == "contact" else "domains"
            for values in out.values():
                values[listed] = []
            sql = (
                f"SELECT {key}, {column} FROM {detail_table} WHERE {key} IN ({{ids}})"
                f" ORDER BY {key}, position"
            )
            for record_id, value in self._by_subscription(list(out), sql):
                out[int(record_id)][listed].append(value)
        return out


def _cells(name: str, rows: Sequence[Sequence[Any]], details: bool) -> dict[int, AssociationCell]:
    """The cells of the rows of ``_cells_sql`` (rows of one object type, by subscription and
    object id), by subscription. With ``details``, a contact's (company's) rows follow one
    another, one per e-mail (domain)."""
    found: dict[int, tuple[list[int], list[str], int]] = {}
    if name in _DETAILED:
        contact = name == "contact"
        # (subscription, object) -> record id (None: dangling), names, details, count
        records: dict[tuple[int, int], tuple[Any, tuple[Any, ...], list[str], int]] = {}
        for sid, oid, count, rid, *shown, detail in rows:
            got = records.get((sid, oid))
            if got is None:
                got = records[(sid, oid)] = (rid, tuple(shown), [], count)
            if detail is not None:
                got[2].append(detail)
        for (sid, oid), (rid, names, extra, count) in records.items():
            if rid is None:
                label = str(oid)
            elif contact:
                label = labels.contact_label(oid, names[0], names[1], extra, all_emails=details)
            else:
                label = labels.company_label(names[0], extra, all_domains=details)
            cell = found.get(sid)
            if cell is None:
                cell = found[sid] = ([], [], count)
            cell[0].append(oid)
            cell[1].append(label)
    else:
        label_of = _LABELS[name][2]
        for sid, oid, count, rid, *shown in rows:
            cell = found.get(sid)
            if cell is None:
                cell = found[sid] = ([], [], count)
            cell[0].append(oid)
            cell[1].append(str(oid) if rid is None else label_of(*shown))
    return {
        int(sid): AssociationCell(tuple(ids), tuple(shown_labels), int(count))
        for sid, (ids, shown_labels, count) in found.items()
    }


def _charged_by_billing(conn: Any, sub_id: int, object_type: str, object_id: int) -> bool:
    """Whether the association is a payment billing charged the subscription (``LINKS``)."""
    if object_type != "payment":
        return False
    import sqlalchemy as sa

    p, e = schema.payments, schema.billing_events
    found = conn.execute(
        sa.select(p.c.id)
        .join(e, e.c.id == p.c.billing_event_id)
        .where(p.c.id == object_id, e.c.subscription_id == sub_id)
    ).first()
    return found is not None


def _links(
    cursor: Any, mark: str, sub_id: int, object_type: str | None = None
) -> dict[str, dict[int, int]]:
    """The associations of a subscription: object type -> {object id: association type}."""
    only = f" AND object_type = {mark}" if object_type is not None else ""
    cursor.execute(
        f"SELECT object_type, object_id, type_id FROM {LINKS} a WHERE subscription_id = {mark}"
        + only
        + " ORDER BY object_type, object_id",
        (sub_id,) if object_type is None else (sub_id, object_type),
    )
    by_type: dict[str, dict[int, int]] = {}
    for otype, oid, type_id in cursor.fetchall():
        by_type.setdefault(otype, {})[int(oid)] = int(type_id)
    return by_type


def _in(mark: str, ids: Sequence[int]) -> str:
    return "(" + ", ".join([mark] * len(ids)) + ")"


def _payments(cursor: Any, mark: str, ids: Sequence[int]) -> list[Payment]:
    cursor.execute(
        "SELECT id, amount, currency, status, method, kind, created_at, refunds_payment_id"
        f" FROM payments WHERE id IN {_in(mark, ids)} ORDER BY created_at, id",
        list(ids),
    )
    return [
        Payment(
            id=int(pid),
            amount=money_from_storage(amount),
            currency=currency,
            status=status,
            method=method,
            kind=kind,
            created_at=from_storage(PropType.DATETIME, created_at),
            refunds_payment_id=None if refunds is None else int(refunds),
        )
        for pid, amount, currency, status, method, kind, created_at, refunds in cursor.fetchall()
    ]


def _text(value: str) -> str:
    return value


# The label of a record of each object type but contacts and companies (whose labels need their
# e-mails and domains): its table, the columns the label is made of, and ``subctl.labels``'
# function of them, in that order.
_LABELS: dict[str, tuple[str, tuple[str, ...], Callable[..., str]]] = {
    "deal": ("deals", ("name",), _text),
    "line_item": ("line_items", ("name", "quantity"), labels.line_item_label),
    "quote": ("quotes", ("title",), _text),
    "invoice": ("invoices", ("number",), _text),
    "payment": ("payments", ("amount", "currency", "status", "method"), labels.payment_label),
    "order": ("orders", ("name",), _text),
    "payment_link": ("payment_links", ("name",), _text),
    "feedback_submission": ("feedback_submissions", ("survey", "sentiment"),
                            labels.feedback_label),
    "custom_record": ("custom_records", ("name", "object_name"), labels.custom_record_label),
}  # fmt: skip
# Contacts and companies: the table, the table of e-mails / domains and its columns.
_DETAILED = {
    "contact": ("contacts", "contact_emails", "contact_id", "email"),
    "company": ("companies", "company_domains", "company_id", "domain"),
}


def _labels(
    cursor: Any, mark: str, object_type: str, ids: list[int]
) -> dict[int, tuple[str, tuple[str, ...]]]:
    """Display labels (``subctl.labels``) and every email / domain of associated records."""
    marks = _in(mark, ids)
    if object_type in _DETAILED:
        table, detail_table, key, column = _DETAILED[object_type]
        details: dict[int, list[str]] = {}
        cursor.execute(
            f"SELECT {key}, {column} FROM {detail_table} WHERE {key} IN {marks}"
            f" ORDER BY {key}, position",
            ids,
        )
        for record_id, value in cursor.fetchall():
            details.setdefault(int(record_id), []).append(value)
        if object_type == "contact":
            cursor.execute(f"SELECT id, firstname, lastname FROM {table} WHERE id IN {marks}", ids)
            out = {}
            for cid, first, last in cursor.fetchall():
                mails = tuple(details.get(int(cid), ()))
                out[int(cid)] = (labels.contact_label(int(cid), first, last, mails), mails)
            return out
        cursor.execute(f"SELECT id, name FROM {table} WHERE id IN {marks}", ids)
        return {
            int(cid): (labels.company_label(name), tuple(details.get(int(cid), ())))
            for cid, name in cursor.fetchall()
        }
    spec = _LABELS.get(object_type)
    if spec is None:
        return {}  # an object type only a damaged file holds: shown by id
    table, columns, label = spec
    cursor.execute(f"SELECT id, {', '.join(columns)} FROM {table} WHERE id IN {marks}", ids)
    return {int(row[0]): (label(*row[1:]), ()) for row in cursor.fetchall()}


# The associations of one object type of a chunk of subscriptions, each numbered within its
# subscription by object id (``rn``) and counted (``n``): the window functions give the cap and
# the count in the one query (SQLite >= 3.25, PostgreSQL). ``{ids}``: the id list.
_NUMBERED_LINKS = (
    "SELECT subscription_id, object_id,"
    " ROW_NUMBER() OVER (PARTITION BY subscription_id ORDER BY object_id) AS rn,"
    " COUNT(*) OVER (PARTITION BY subscription_id) AS n"
    f" FROM {LINKS} a"
    " WHERE object_type = {mark} AND subscription_id IN ({ids})"
)


def _cells_sql(object_type: str, mark: str, ids: str, *, capped: bool, details: bool) -> str:
    """The query of ``association_cells`` for one object type: rows of subscription id, object
    id, count, the record's id (NULL: a dangling association) and its label's columns;
    ``details``: a contact's (company's) every e-mail (domain), one row each, else the first
    as one column."""
    links = _NUMBERED_LINKS.format(mark=mark, ids=ids)
    where = f" WHERE x.rn <= {mark}" if capped else ""
    order = " ORDER BY x.subscription_id, x.object_id"
    if object_type in _DETAILED:
        table, detail_table, key, column = _DETAILED[object_type]
        names = "r.firstname, r.lastname" if object_type == "contact" else "r.name"
        head = f"SELECT x.subscription_id, x.object_id, x.n, r.id, {names}"
        if details:
            return (
                f"{head}, d.{column} FROM ({links}) x"
                f" LEFT JOIN {table} r ON r.id = x.object_id"
                f" LEFT JOIN {detail_table} d ON d.{key} = x.object_id"
                f"{where}{order}, d.position"
            )
        first = (
            f"(SELECT d.{column} FROM {detail_table} d WHERE d.{key} = x.object_id"
            " ORDER BY d.position LIMIT 1)"
        )
        return f"{head}, {first} FROM ({links}) x LEFT JOIN {table} r ON r.id = x.object_id" + (
            where + order
        )
    table, columns, _label = _LABELS[object_type]
    shown = ", ".join(f"r.{c}" for c in columns)
    return (
        f"SELECT x.subscription_id, x.object_id, x.n, r.id, {shown} FROM ({links}) x"
        f" LEFT JOIN {table} r ON r.id = x.object_id{where}{order}"
    )


def _storer(prop: Property) -> Callable[[Any], Any]:
    """``prop.to_storage``, with fast paths for the types whose typed value is stored as is
    (text) or by one conversion (numbers, booleans). Same results."""
    if prop.type in (PropType.STRING, PropType.ENUMERATION):
        return lambda v: v if v is None or type(v) is str else str(v)
    if prop.type is PropType.NUMBER:
        return lambda v: None if v is None else float(v)
    return prop.to_storage


def _reader(prop: Property) -> Callable[[Any], Any]:
    """``prop.from_storage``, faster: text passes through, and conversions of values that
    repeat (dates, amounts, other numbers) are memoised. Same results."""
    convert = prop.from_storage
    if prop.name == "hs_object_id":  # an integer primary key: unique values, nothing to memoise
        return lambda raw: raw if type(raw) is int else convert(raw)
    if prop.type in (PropType.STRING, PropType.ENUMERATION):
        return lambda raw: raw if raw is None or type(raw) is str else convert(raw)
    if prop.type not in (PropType.DATE, PropType.NUMBER):
        return lambda raw: None if raw is None else convert(raw)
    memo: dict[Any, Any] = {}

    def read(raw: Any) -> Any:
        if raw is None:
            return None
        try:
            return memo[raw]
        except KeyError:
            if len(memo) > 100_000:
                memo.clear()
            value = memo[raw] = convert(raw)
            return value

    return read


def _status_clause(mark: str, expect: str | None) -> tuple[str, list[Any]]:
    # COALESCE keeps the planner on the primary key (IN list) rather than the status index.
    if expect is None:
        return "hs_status IS NULL", []
    return f"COALESCE(hs_status, '') = {mark}", [expect]


class _Write:
    """One subscription's column changes, derived from an operation (``ops.changes``)."""

    __slots__ = ("subscription_id", "expect_status", "values", "at", "source")

    def __init__(self, op: Op, values: dict[str, Any]) -> None:
        self.subscription_id = op.subscription_id
        self.expect_status = op.expect_status
        self.values = values
        self.at = op.at
        self.source = op.source


def _writes(cursor: Any, mark: str, registry: PropertyRegistry, ops: Sequence[Op]) -> list[_Write]:
    """The column changes of the operations, computed as HubSpot computes them (``ops.changes``)
    from the stored values they depend on, read inside the write transaction."""
    stored: dict[int, dict[str, Any]] = {}
    groups: dict[tuple[str, ...], list[int]] = {}
    for op in ops:
        if op.reads:
            groups.setdefault(op.reads, []).append(op.subscription_id)
    for names, ids in groups.items():
        props = [p for p in map(registry.get, names) if p is not None]
        readers = [_reader(p) for p in props]
        columns = ", ".join(f'"{p.column}"' for p in props)
        for part in chunks(ids):
            cursor.execute(
                f"SELECT hs_object_id, {columns} FROM subscriptions WHERE hs_object_id IN"
                f" ({', '.join([mark] * len(part))})",
                part,
            )
            for sid, *raw in cursor.fetchall():
                typed = [read(v) for read, v in zip(readers, raw, strict=True)]
                stored.setdefault(int(sid), {}).update(
                    zip((p.name for p in props), typed, strict=True)
                )
    out = []
    for op in ops:
        items: list[LineItem] = []
        if isinstance(op, Update) and op.line_items:
            items = _line_items_of(cursor, mark, op.subscription_id)
        try:
            values = changes(op, stored.get(op.subscription_id, {}), items)
        except ValueError as exc:
            raise Conflict(
                f"subscription {op.subscription_id}: {exc}; nothing was written"
            ) from exc
        out.append(_Write(op, values))
    return out


def write_ops(
    cursor: Any,
    mark: str,
    sqlite: bool,
    registry: PropertyRegistry,
    ops: Sequence[Op],
    audit: AuditContext | None = None,
    job_id: int | None = None,
) -> None:
    """Carry out the operations in the transaction ``cursor`` is in (which holds the write
    lock on SQLite): column changes, deletions, history, outbox, refunds, line items and
    charges; with ``audit``, one audit row per operation (``_audit``)."""
    every = ops
    upserts = [op for op in ops if isinstance(op, Upsert)]
    if upserts:
        _new_records(cursor, mark, sqlite, [r for op in upserts for r in op.records])
        _create(cursor, mark, sqlite, registry, [op for op in upserts if op.create])
        ops = [op for op in ops if not (isinstance(op, Upsert) and op.create)]
    if not sqlite:
        _lock(cursor, mark, ops)
    writes = _writes(cursor, mark, registry, ops)
    updates = [w for w in writes if w.values]
    replaced = _current(cursor, mark, registry, updates)
    _update(cursor, mark, registry, updates)
    deletes = [op for op in ops if isinstance(op, Delete)]
    deleted = _deleted_before(cursor, mark, deletes) if audit is not None and deletes else {}
    _delete(cursor, mark, deletes)
    history = _history(cursor, mark, registry, updates, replaced)
    if audit is not None:
        _audit(cursor, mark, sqlite, registry, every, history, deleted, audit, job_id)
    _messages(cursor, mark, [msg for op in ops for msg in op.messages])
    _refunds(cursor, mark, sqlite,
             [(op.subscription_id, r) for op in ops for r in refunds_of(op)])  # fmt: skip
    _line_items(cursor, mark, [item for op in ops if isinstance(op, Update)
                               for item in op.line_items])  # fmt: skip
    _charges(cursor, mark, sqlite,
             [(op.subscription_id, c) for op in ops for c in charges_of(op)])  # fmt: skip
    if upserts:
        _associate(cursor, mark, [(op.subscription_id, *link) for op in upserts
                                  for link in op.associations])  # fmt: skip


# -- imports (``ops.Upsert``) ----------------------------------------------------------------

# What a created subscription gets when the row does not give it: created and modified now.
_CREATE_STAMPS = ("hs_createdate", LAST_MODIFIED)


def _continue_ids(cursor: Any, mark: str, table: str, column: str) -> None:
    """PostgreSQL: after rows were inserted with their ids, the identity continues after the
    highest id (SQLite's rowid needs nothing)."""
    cursor.execute(f"SELECT pg_get_serial_sequence({mark}, {mark})", (table, column))
    (sequence,) = cursor.fetchone()
    if sequence is not None:
        cursor.execute(
            f"SELECT setval({mark}, GREATEST((SELECT COALESCE(MAX({column}), 0) FROM {table}) + 1,"
            f" nextval({mark})), false)",
            (sequence, sequence),
        )


def _unused_subscription_id(cursor: Any) -> int:
    """An id for a new subscription that no deleted one had. SQLite's rowid is the highest id
    + 1, and PostgreSQL's identity continues after the highest id once rows were loaded with
    their ids (``_continue_ids``): either gives a deleted subscription's id again when the
    highest were deleted, while its billing events (and through them its payments), outbox
    e-mails, property history and audit entries are kept and would become the new one's. Ids
    are never reused, as in HubSpot: the new id is above every subscription id the workspace
    still names (each a max() on an index)."""
    cursor.execute(
        "SELECT max(m) FROM (SELECT max(hs_object_id) AS m FROM subscriptions"
        " UNION ALL SELECT max(subscription_id) FROM billing_events"
        " UNION ALL SELECT max(subscription_id) FROM outbox"
        " UNION ALL SELECT max(subscription_id) FROM property_history"
        " UNION ALL SELECT max(subscription_id) FROM audit) AS named"
    )
    (highest,) = cursor.fetchone()
    return int(highest or 0) + 1


def _create(
    cursor: Any, mark: str, sqlite: bool, registry: PropertyRegistry, creates: Sequence[Upsert]
) -> None:
    """New subscriptions of an import, with history (one entry per value set, from empty).
    Given ids: one ``executemany`` per set of columns, an id that exists a ``Conflict``; no id:
    one INSERT each, the first with an id above every id still named
    (``_unused_subscription_id``), the others the database's next, written back into the
    operation."""
    if not creates:
        return
    given = [op.subscription_id for op in creates if op.subscription_id]
    taken: list[int] = []
    for part in chunks(given):
        cursor.execute(
            f"SELECT hs_object_id FROM subscriptions WHERE hs_object_id IN {_in(mark, part)}",
            list(part),
        )
        taken.extend(int(r[0]) for r in cursor.fetchall())
    if taken:
        raise Conflict(f"subscription {min(taken)} exists already; nothing was written")
    groups: dict[tuple[str, ...], list[Upsert]] = {}
    rows: dict[int, tuple[Any, ...]] = {}  # id(op) -> stored values, in its group's order
    # an import's rows share a few layouts: their properties' storage conversions, once each
    known: dict[tuple[str, ...], list[Callable[[Any], Any]]] = {}
    for op in creates:
        values = dict(op.values)
        for name in _CREATE_STAMPS:
            if values.get(name) is None:
                values[name] = op.at
        names = tuple(values)
        storers = known.get(names)
        if storers is None:
            storers = known[names] = []
            for name in names:
                prop = registry.get(name)
                if prop is None:
                    raise UsageError(f'unknown property "{name}"')
                storers.append(_storer(prop))
        rows[id(op)] = tuple([f(v) for f, v in zip(storers, values.values(), strict=True)])
        op.values = values
        groups.setdefault(names, []).append(op)
    for names, members in groups.items():
        columns = ", ".join(f'"{registry.get(n).column}"' for n in names)  # type: ignore[union-attr]
        marks = ", ".join([mark] * (len(names) + 1))
        with_id = [op for op in members if op.subscription_id]
        if with_id:
            cursor.executemany(
                f"INSERT INTO subscriptions (hs_object_id, {columns}) VALUES ({marks})",
                [(op.subscription_id, *rows[id(op)]) for op in with_id],
            )
            if not sqlite:
                _continue_ids(cursor, mark, "subscriptions", "hs_object_id")
        sql = (
            f"INSERT INTO subscriptions ({columns}) VALUES ({marks[len(mark) + 2 :]})"
            " RETURNING hs_object_id"
        )
        pending = [op for op in members if not op.subscription_id]
        if pending:  # the first above every id still named; the rest follow it
            first = pending.pop(0)
            first.subscription_id = _unused_subscription_id(cursor)
            cursor.execute(
                f"INSERT INTO subscriptions (hs_object_id, {columns}) VALUES ({marks})",
                (first.subscription_id, *rows[id(first)]),
            )
            if not sqlite:
                _continue_ids(cursor, mark, "subscriptions", "hs_object_id")
        for op in pending:
            cursor.execute(sql, rows[id(op)])
            op.subscription_id = int(cursor.fetchone()[0])
    _created_history(cursor, mark, creates)


def _created_history(cursor: Any, mark: str, creates: Sequence[Upsert]) -> None:
    text = _history_text()
    values: list[Any] = []
    add = values.extend
    for op in creates:
        at = ms(op.at)
        for name, value in op.values.items():
            if value is not None and name not in UNTRACKED and name != "hs_createdate":
                add((op.subscription_id, name, None, text(value), at, op.source))
    insert_flat(cursor, mark, "property_history",
                ("subscription_id", "property", "old_value", "new_value", "changed_at", "source"),
                values)  # fmt: skip


def _new_records(cursor: Any, mark: str, sqlite: bool, records: Sequence[NewRecord]) -> None:
    """Create the associated records an import names unless they exist (with the given ids);
    one that must exist and does not is a ``Conflict`` (nothing written)."""
    wanted: dict[str, dict[int, NewRecord]] = {}
    for r in records:
        wanted.setdefault(r.object_type, {}).setdefault(r.id, r)
    for object_type, by_id in wanted.items():
        table = schema.OBJECT_TABLE_NAMES.get(object_type)
        if table is None:
            raise UsageError(f'unknown object type "{object_type}"')
        ids = list(by_id)
        found: set[int] = set()
        for part in chunks(ids):
            cursor.execute(f"SELECT id FROM {table} WHERE id IN {_in(mark, part)}", list(part))
            found.update(int(r[0]) for r in cursor.fetchall())
        missing = [by_id[i] for i in ids if i not in found]
        unknown = [r.id for r in missing if r.values is None]
        if unknown:
            label = ASSOCIATION_BY_NAME[object_type].label.lower()
            raise Conflict(f"{label} {min(unknown)} not found; nothing was written")
        made: dict[tuple[str, ...], list[list[Any]]] = {}
        children: dict[str, list[tuple[int, int, str]]] = {"emails": [], "domains": []}
        for r in missing:
            assert r.values is not None
            fields = {k: codec.storage_of(v) for k, v in r.values.items()
                      if k not in ("emails", "domains")}  # fmt: skip
            made.setdefault(tuple(fields), []).append([r.id, *fields.values()])
            for key, listed in children.items():
                listed.extend((r.id, n, v) for n, v in enumerate(r.values.get(key, ())))
        for names, rows in made.items():
            marks = ", ".join([mark] * (len(names) + 1))
            cursor.executemany(
                f"INSERT INTO {table} (id, {', '.join(names)}) VALUES ({marks})", rows
            )
        if made and not sqlite:
            _continue_ids(cursor, mark, table, "id")
        insert_many(cursor, mark, "contact_emails", ("contact_id", "position", "email"),
                    children["emails"])  # fmt: skip
        insert_many(cursor, mark, "company_domains", ("company_id", "position", "domain"),
                    children["domains"])  # fmt: skip


def _associate(cursor: Any, mark: str, links: Sequence[tuple[int, str, int, int]]) -> None:
    """Add associations (subscription, object type, record, type id); existing ones stay."""
    if links:
        cursor.executemany(
            "INSERT INTO associations (subscription_id, object_type, object_id, type_id)"
            f" VALUES ({mark}, {mark}, {mark}, {mark})"
            " ON CONFLICT (subscription_id, object_type, object_id) DO NOTHING",
            links,
        )


def _line_items_of(cursor: Any, mark: str, sub_id: int) -> list[LineItem]:
    cursor.execute(
        "SELECT l.id, l.name, l.quantity, l.price FROM line_items l JOIN associations a"
        " ON a.object_type = 'line_item' AND a.object_id = l.id"
        f" WHERE a.subscription_id = {mark} ORDER BY l.id",
        (sub_id,),
    )
    return [
        LineItem(int(i), name, int(q), money_from_storage(price))
        for i, name, q, price in cursor.fetchall()
    ]


def _update(cursor: Any, mark: str, registry: PropertyRegistry, writes: Sequence[_Write]) -> None:
    """One UPDATE per distinct (expected status, new values): a batch of identical changes
    (cancel: status, dates, amounts) is a handful of set-based statements."""
    groups: dict[tuple[str | None, tuple[str, ...], tuple[Any, ...]], list[int]] = {}
    for w in writes:
        key = (w.expect_status, tuple(w.values), tuple(w.values.values()))
        groups.setdefault(key, []).append(w.subscription_id)
    for (expect, names, values), ids in groups.items():
        props = []
        for name in names:
            prop = registry.get(name)
            if prop is None:
                raise UsageError(f'unknown property "{name}"')
            props.append(prop)
        assignments = ", ".join(f'"{p.column}" = {mark}' for p in props)
        params = [p.to_storage(v) for p, v in zip(props, values, strict=True)]
        status_sql, status_params = _status_clause(mark, expect)
        for part in chunks(ids):
            cursor.execute(
                f"UPDATE subscriptions SET {assignments} WHERE hs_object_id IN"
                f" ({', '.join([mark] * len(part))}) AND {status_sql}",
                [*params, *part, *status_params],
            )
            if cursor.rowcount != len(part):
                raise changed_elsewhere(len(part), max(cursor.rowcount, 0), "subscriptions")


def _delete(cursor: Any, mark: str, mutations: Sequence[Delete]) -> None:
    """Delete subscriptions with their associations (payments, invoices, billing events,
    outbox mail, journal and audit entries stay: they are records of their own, and so does
    the property history, which ``import`` of the subscription's backup, with its Record ID,
    shows again: ids are never reused, ``_unused_subscription_id``)."""
    groups: dict[str | None, list[int]] = {}
    for m in mutations:
        groups.setdefault(m.expect_status, []).append(m.subscription_id)
    for expect, ids in groups.items():
        status_sql, status_params = _status_clause(mark, expect)
        for part in chunks(ids):
            marks = ", ".join([mark] * len(part))
            cursor.execute(
                f"DELETE FROM subscriptions WHERE hs_object_id IN ({marks}) AND {status_sql}",
                [*part, *status_params],
            )
            if cursor.rowcount != len(part):
                raise changed_elsewhere(len(part), max(cursor.rowcount, 0), "subscriptions")
            cursor.execute(f"DELETE FROM associations WHERE subscription_id IN ({marks})", part)


def _history_text() -> Callable[[Any], str | None]:
    """Typed value -> history text (``codec.to_text``), with fast paths for the common
    types: a 100,000-item cancel writes half a million history rows."""
    iso_datetime, text_value = codec.iso_datetime, codec.to_text

    by_type: dict[type, Callable[[Any], str]] = {
        int: str,
        Decimal: str,
        dt.date: dt.date.isoformat,
        dt.datetime: iso_datetime,
    }
    memo: dict[Any, str] = {}

    def text(value: Any) -> str | None:
        if value is None or type(value) is str:
            return value
        try:
            return memo[value]
        except KeyError:
            convert = by_type.get(type(value))
            out = memo[value] = convert(value) if convert is not None else text_value(value)
            return out
        except TypeError:  # unhashable
            return text_value(value)

    return text


def _lock(cursor: Any, mark: str, ops: Sequence[Op]) -> None:
    """PostgreSQL: lock the subscriptions the operations change, in ascending id order, before
    the first read of the transaction (SQLite's ``BEGIN IMMEDIATE`` holds the write lock
    already).

    Under READ COMMITTED each statement sees what was committed when it started: locked first,
    the stored values ``_writes`` derives columns from (``ops.changes``) and ``_current``
    records as history are those this transaction replaces, not ones a concurrent operator is
    replacing at the same moment (a lost update). One global order (ids ascending, the same
    in every chunk and every process) means two overlapping batches wait for each other
    rather than deadlock; the conditional UPDATEs (``expect_status``) then refuse what the
    other one changed meanwhile, and the chunk is decided again."""
    ids = sorted({op.subscription_id for op in ops if op.subscription_id})
    for part in chunks(ids):
        cursor.execute(
            f"SELECT hs_object_id FROM subscriptions WHERE hs_object_id IN {_in(mark, part)}"
            " ORDER BY hs_object_id FOR UPDATE",
            list(part),
        )
        cursor.fetchall()


def _current(
    cursor: Any, mark: str, registry: PropertyRegistry, writes: Sequence[_Write]
) -> dict[int, dict[str, Any]]:
    """The stored values the writes are about to replace (tracked properties only), read
    inside the write transaction after the rows were locked (``_lock``; SQLite: the write
    lock of ``BEGIN IMMEDIATE``)."""
    groups: dict[tuple[str, ...], list[int]] = {}
    tracked: dict[tuple[str, ...], tuple[str, ...]] = {}  # a batch sets the same few names
    for m in writes:
        key = tuple(m.values)
        names = tracked.get(key)
        if names is None:
            names = tracked[key] = tuple(n for n in key if n not in UNTRACKED)
        if names:
            groups.setdefault(names, []).append(m.subscription_id)
    out: dict[int, dict[str, Any]] = {}
    for names, ids in groups.items():
        props = [p for p in map(registry.get, names) if p is not None]
        if len(props) < len(names):
            continue  # _update refuses unknown properties
        columns = ", ".join(f'"{p.column}"' for p in props)
        for part in chunks(ids):
            cursor.execute(
                f"SELECT hs_object_id, {columns} FROM subscriptions WHERE hs_object_id IN"
                f" ({', '.join([mark] * len(part))})",
                part,
            )
            for sid, *values in cursor.fetchall():
                out[sid] = dict(zip(names, values, strict=True))
    return out


def _history(
    cursor: Any,
    mark: str,
    registry: PropertyRegistry,
    mutations: Sequence[_Write],
    replaced: Mapping[int, Mapping[str, Any]],
) -> list[Any]:
    """One history entry per property whose stored value changed, from the value replaced
    (``replaced``), not the one the decision saw.

    A batch sets the same few new values and replaces values that repeat (statuses, dates,
    amounts): per property, the new value's storage form and text, and the text of each stored
    value replaced, are computed once (memoised within the call, so bounded by the chunk)."""
    text = _history_text()
    # (name, new value) -> (its storage form, its text, the texts of stored values by raw value)
    new_forms: dict[tuple[str, Any], tuple[Any, str | None, dict[Any, str | None]]] = {}
    old_texts: dict[str, dict[Any, str | None]] = {}
    readers: dict[str, Callable[[Any], Any]] = {}
    values: list[Any] = []
    add = values.extend
    last_at: dt.datetime | None = None
    at = 0
    for m in mutations:
        before = replaced.get(m.subscription_id)
        if not before:
            continue
        if m.at is not last_at:
            last_at, at = m.at, ms(m.at)
        sid, source = m.subscription_id, m.source
        for name, new in m.values.items():
            old_raw = before.get(name, _ABSENT)
            if old_raw is _ABSENT:  # untracked (every write's change stamp), or not read
                continue
            try:
                new_raw, new_text, olds = new_forms[name, new]
            except KeyError:
                new_raw, new_text, olds = new_forms[name, new] = _new_form(
                    registry, name, new, text, old_texts
                )
            except TypeError:  # unhashable
                new_raw, new_text, olds = _new_form(registry, name, new, text, old_texts)
            if old_raw == new_raw:
                continue
            try:
                old_text = olds[old_raw]
            except (KeyError, TypeError):  # not seen yet (or unhashable)
                read = readers.get(name)
                if read is None:
                    prop = registry.get(name)
                    assert prop is not None  # _update refused unknown properties
                    read = readers[name] = _reader(prop)
                old_text = text(read(old_raw))
                with suppress(TypeError):
                    if old_raw or type(old_raw) is not float:  # 0.0 and -0.0 are equal keys
                        olds[old_raw] = old_text
            add((sid, name, old_text, new_text, at, source))
    insert_flat(cursor, mark, "property_history",
                 ("subscription_id", "property", "old_value", "new_value", "changed_at", "source"),
                 values)  # fmt: skip
    return values


# What the audit row of a deleted subscription keeps of it (its history goes with it).
_DELETED_KEPT = ("hs_name", "hs_status")


def _deleted_before(cursor: Any, mark: str, deletes: Sequence[Delete]) -> dict[int, dict[str, Any]]:
    out: dict[int, dict[str, Any]] = {}
    ids = [op.subscription_id for op in deletes]
    for part in chunks(ids):
        cursor.execute(
            f"SELECT hs_object_id, {', '.join(_DELETED_KEPT)} FROM subscriptions"
            f" WHERE hs_object_id IN ({', '.join([mark] * len(part))})",
            part,
        )
        for sid, *kept in cursor.fetchall():
            out[int(sid)] = dict(zip(_DELETED_KEPT, kept, strict=True))
    return out


def _audit(
    cursor: Any,
    mark: str,
    sqlite: bool,
    registry: PropertyRegistry,
    ops: Sequence[Op],
    history: Sequence[Any],
    deleted: Mapping[int, Mapping[str, Any]],
    context: AuditContext,
    job_id: int | None,
) -> None:
    """One audit row per operation, in its transaction: before/after are the history texts of
    the values it changed (from ``_history``'s flat rows: id, property, old, new, at, source),
    a created subscription's values, a deleted one's name and status, the refunds and the
    charge it recorded; highly sensitive values masked (``schema.masked_names``)."""
    masked = masked_names(registry)
    before: dict[int, dict[str, Any]] = {}
    after: dict[int, dict[str, Any]] = {}
    for start in range(0, len(history), 6):
        sid, name, old, new = history[start : start + 4]
        if name in masked:
            old, new = (None if old is None else MASK), (None if new is None else MASK)
        try:
            before[sid][name] = old
            after[sid][name] = new
        except KeyError:
            before[sid], after[sid] = {name: old}, {name: new}
    text = _history_text()
    rows: list[tuple[dt.datetime, int | None, str | None, str | None, str | None]] = []
    for op in ops:
        sid = op.subscription_id
        old_values, new_values = before.pop(sid, None), after.pop(sid, None)
        if isinstance(op, Upsert) and op.create:
            new_values = {k: (MASK if k in masked else text(v)) for k, v in op.values.items()
                          if v is not None}  # fmt: skip
        elif isinstance(op, Delete):
            old_values, new_values = dict(deleted.get(sid, {})), None
        extra: dict[str, Any] = {}
        refunds = refunds_of(op)
        if refunds:
            extra["refunds"] = [{"payment": r.payment_id, "amount": str(r.amount),
                                 "currency": r.currency} for r in refunds]  # fmt: skip
        for charge in charges_of(op):
            extra.setdefault("charges", []).append(
                {
                    "amount": str(charge.amount),
                    "currency": charge.currency,
                    "status": charge.status,
                }  # fmt: skip
            )
        if op.messages:
            extra["emails"] = [msg.kind for msg in op.messages]
        if extra:
            new_values = {**(new_values or {}), **extra}
        rows.append((op.at, sid, type(op).__name__.lower(), dumps(old_values), dumps(new_values)))
    insert_rows(cursor, mark, sqlite, context, rows, job_id)


def _new_form(
    registry: PropertyRegistry,
    name: str,
    new: Any,
    text: Callable[[Any], str | None],
    old_texts: dict[str, dict[Any, str | None]],
) -> tuple[Any, str | None, dict[Any, str | None]]:
    """A new value's storage form and history text, with the memo of the property's
    replaced values' texts."""
    prop = registry.get(name)
    assert prop is not None  # _update refused unknown properties
    return prop.to_storage(new), text(new), old_texts.setdefault(name, {})


def _messages(cursor: Any, mark: str, messages: Sequence[OutboxMessage]) -> None:
    insert_many(
        cursor, mark, "outbox",
        ("subscription_id", "kind", "recipient", "subject", "body", "link", "job_id", "created_at"),
        [(msg.subscription_id, msg.kind, msg.recipient, msg.subject, msg.body, msg.link,
          msg.job_id, ms(msg.created_at)) for msg in messages],
    )  # fmt: skip


def _refunds(
    cursor: Any, mark: str, sqlite: bool, refunds: Sequence[tuple[int, RefundRecord]]
) -> None:
    """Refunds: new payments of kind ``refund``; the refunded payments' statuses change. A
    payment is refunded at most once (the unique index ``ux_payments_refunds``): a second
    refund, in this call or by another run, is a ``Conflict`` and nothing is written."""
    if not refunds:
        return
    _refuse_refunded(cursor, mark, [r.payment_id for _sid, r in refunds])
    _new_payments(cursor, mark, sqlite, [
        (sid, (r.amount, r.currency, "succeeded", r.method, "refund", r.payment_id, r.created_at,
               None))
        for sid, r in refunds
    ])  # fmt: skip
    if sqlite:
        cursor.executemany(
            f"UPDATE payments SET status = {mark} WHERE id = {mark}",
            [(r.refunded_status, r.payment_id) for _sid, r in refunds],
        )
        return
    # PostgreSQL: one UPDATE per new status and thousand payments, not one per payment (each a
    # statement the server executes on its own).
    by_status: dict[str, list[int]] = {}
    for _sid, r in refunds:
        by_status.setdefault(r.refunded_status, []).append(r.payment_id)
    for status, ids in by_status.items():
        for part in chunks(ids):
            cursor.execute(
                f"UPDATE payments SET status = {mark} WHERE id IN {_in(mark, part)}",
                [status, *part],
            )


def _line_items(cursor: Any, mark: str, items: Sequence[LineItem]) -> None:
    cursor.executemany(
        f"UPDATE line_items SET quantity = {mark}, price = {mark} WHERE id = {mark}",
        [(item.quantity, float(item.price), item.id) for item in items],
    )
    if items and cursor.rowcount != len(items):
        raise changed_elsewhere(len(items), max(cursor.rowcount, 0), "line items")


def _charges(
    cursor: Any,
    mark: str,
    sqlite: bool,
    charges: Sequence[tuple[int, Charge]],
    events: Sequence[int | None] | None = None,
) -> None:
    """Payments of charges, each with its subscription's id; ``events``: the billing event
    that charged each (``payments.billing_event_id``)."""
    _new_payments(cursor, mark, sqlite, [
        (sid, (c.amount, c.currency, c.status, c.method, "payment", None, c.created_at, event))
        for (sid, c), event in zip(charges, events or [None] * len(charges), strict=True)
    ])  # fmt: skip


# A new payment record: amount, currency, status, method, kind, refunded payment, created at,
# the billing event that charged it.
_NewPayment = tuple[Decimal, str, str, str | None, str, int | None, dt.datetime, int | None]


def _new_payments(
    cursor: Any, mark: str, sqlite: bool, payments: Sequence[tuple[int, _NewPayment]]
) -> None:
    """New payments (refunds, charges), each with its subscription's id, associated with it
    (a payment with a billing event: through the event).
    Ids come from the database: the rowid (SQLite), the identity's sequence (PostgreSQL)."""
    if not payments:
        return
    rows = [
        (float(amount), currency, status, method, kind, refunded, ms(created), event)
        for _sid, (amount, currency, status, method, kind, refunded, created, event) in payments
    ]
    columns = (
        "amount, currency, status, method, kind, refunds_payment_id, created_at, billing_event_id"
    )
    ids: list[int] = []
    try:
        if sqlite:
            sql = f"INSERT INTO payments ({columns}) VALUES ({', '.join([mark] * 8)})"
            _sqlite_inserted(cursor, sql, rows, ids)
        else:
            cursor.execute(
                "SELECT nextval(pg_get_serial_sequence('payments', 'id'))"
                f" FROM generate_series(1, {mark})",
                (len(rows),),
            )
            ids = [int(r[0]) for r in cursor.fetchall()]
            flat = [v for pid, row in zip(ids, rows, strict=True) for v in (pid, *row)]
            insert_flat(cursor, mark, "payments", ("id", *columns.split(", ")), flat)
    except Exception as exc:
        if "refunds_payment_id" in str(exc) or "ux_payments_refunds" in str(exc):
            done = rows[len(ids)][5] if sqlite else _duplicate_key(str(exc))
            raise Conflict(
                f"payment {done} was already refunded; nothing was written",
                hint="run the command again: payments are re-read first",
            ) from exc
        raise
    # A payment billing charged is linked through its billing event (``LINKS``).
    links = [(sid, pid) for (sid, new), pid in zip(payments, ids, strict=True) if new[7] is None]
    if not links:
        return
    if sqlite:
        cursor.executemany(
            "INSERT INTO associations (subscription_id, object_type, object_id, type_id)"
            f" VALUES ({mark}, 'payment', {mark}, {mark})",
            [(sid, pid, _PAYMENT_TYPE) for sid, pid in links],
        )
        return
    insert_flat(cursor, mark, "associations",
                ("subscription_id", "object_type", "object_id", "type_id"),
                [v for sid, pid in links
                 for v in (sid, "payment", pid, _PAYMENT_TYPE)])  # fmt: skip


def _sqlite_inserted(cursor: Any, sql: str, rows: Sequence[Sequence[Any]], ids: list[int]) -> None:
    """Insert rows into ``payments`` (SQLite, inside the write transaction), appending their
    rowids to ``ids`` in order. One ``executemany``: SQLite gives a new row the largest rowid
    plus one, so the rows get consecutive ids; that is checked (the new ids are exactly the
    range after the previous largest). Otherwise, or on an error, the rows are taken back and
    inserted one at a time (``ids`` then ends before a row that fails)."""
    cursor.execute("SELECT coalesce(max(id), 0) FROM payments")
    (before,) = cursor.fetchone()
    try:
        cursor.executemany(sql, rows)
        cursor.execute(
            "SELECT count(*), coalesce(max(id), 0) FROM payments WHERE id > ?", (before,)
        )
        count, last = cursor.fetchone()
        if count == len(rows) and last == before + len(rows):
            ids.extend(range(before + 1, last + 1))
            return
    except Exception:  # which row failed is unknown: one at a time tells
        pass
    cursor.execute("DELETE FROM payments WHERE id > ?", (before,))
    for row in rows:
        cursor.execute(sql, row)
        ids.append(int(cursor.lastrowid))


def _duplicate_key(text: str) -> str:
    """The value in PostgreSQL's "Key (column)=(value) already exists"."""
    _head, _sep, rest = text.partition(")=(")
    return rest.partition(")")[0] or "?"


def _refuse_refunded(cursor: Any, mark: str, payment_ids: Sequence[int]) -> None:
    """A payment whose status says it was refunded is not refunded again (``Conflict``, nothing
    written), whatever the decisions were based on; a second refund row of a payment is
    refused by the unique index (see ``_new_payments``)."""
    refunded: set[int] = set()
    for part in chunks(sorted(set(payment_ids))):
        marks = ", ".join([mark] * len(part))
        cursor.execute(
            f"SELECT id FROM payments WHERE id IN ({marks})"
            " AND status IN ('refunded', 'partially_refunded')",
            part,
        )
        refunded.update(int(row[0]) for row in cursor.fetchall())
    if refunded:
        raise Conflict(
            f"payment {min(refunded)} was already refunded; nothing was written",
            hint="run the command again: payments are re-read first",
        )


def _definition_values(prop: Property, *, created: bool) -> dict[str, Any]:
    import time

    now = int(time.time() * 1000)
    values: dict[str, Any] = {
        "label": prop.label,
        "field_type": prop.field_type,
        "group_name": prop.group,
        "description": prop.description,
        "options": json.dumps(
            [{"label": o.label, "value": o.value, "description": o.description}
             for o in prop.options]
        ),
        "rules": json.dumps([{"type": t, "args": list(args)} for t, args in prop.rules]),
        "sensitivity": prop.sensitivity,
        "updated_at": now,
    }  # fmt: skip
    if created:
        values |= {"name": prop.name, "type": prop.type.value, "is_unique": prop.unique,
                   "created_at": now}  # fmt: skip
    return values
