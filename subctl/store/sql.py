"""``SqlStore``: the workspace store over SQLAlchemy/SQLModel, for SQLite (local workspace) and
PostgreSQL (team workspace) alike.

The ``subscriptions`` table has one column per property (standard and custom), so custom
properties filter and index like standard ones; its SQLAlchemy table is built from the property
definitions at open time. Reads stream (``yield_per``); bulk loads go through the DB-API's
``executemany`` in chunks.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import importlib.util
import json
import os
import shlex
import sys
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from decimal import Decimal
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlmodel import Session, col, select

from subctl.config import sqlite_url as sqlite_url  # one path-to-URL conversion
from subctl.errors import Conflict, NotFound, StoreUnavailable, SubctlError, UsageError
from subctl.query.ast import Expr, Query
from subctl.query.sql import ASSOCIATIONS, compile_where, regexp
from subctl.schema import (
    ASSOCIATION_BY_NAME,
    STANDARD_PROPERTIES,
    Option,
    Property,
    PropertyRegistry,
    PropType,
    from_storage,
    money_from_storage,
    to_storage,
)
from subctl.store import migrations
from subctl.store.base import (
    AssociatedRecord,
    Change,
    Charge,
    ItemOutcome,
    Job,
    JobItem,
    LineItem,
    Mutation,
    OutboxMessage,
    Payment,
    SavedView,
    Subscription,
    SubscriptionDetail,
)


def lazy_module(name: str) -> ModuleType:
    """A module that executes on first attribute access (``importlib.util.LazyLoader``)."""
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.find_spec(name)
    assert spec is not None and spec.loader is not None, name
    loader = importlib.util.LazyLoader(spec.loader)
    spec.loader = loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    loader.exec_module(module)
    return module


if TYPE_CHECKING:
    from subctl.store import models
else:  # the SQLModel classes load on first use: `list` reads subscriptions without them
    models = lazy_module("subctl.store.models")

STREAM_CHUNK = 1000


def _read_only_url(path: Path) -> sa.URL:
    """A read-only SQLite URI. In a directory subctl cannot write, with no ``-wal`` file
    present, SQLite cannot create the WAL index it needs even to read, so the file is opened
    ``immutable``: nothing can be pending in a WAL, and no subctl can write there either."""
    from urllib.parse import quote

    wal = path.with_name(path.name + "-wal")
    mode = "immutable=1" if _no_write_access(path.parent) and not wal.exists() else "mode=ro"
    return sa.URL.create(
        "sqlite", database=f"file:{quote(str(path))}?{mode}", query={"uri": "true"}
    )


def _is_read_only(exc: BaseException | None) -> bool:
    """SQLITE_READONLY (and its extended codes): a write on a read-only workspace."""
    code = getattr(exc, "sqlite_errorcode", None)
    return isinstance(code, int) and code & 0xFF == 8


def _sqlite_functions(dbapi_conn: Any, _record: Any) -> None:
    """On every SQLite connection (read-only ones too): REGEXP by RE2, replacing the one that
    SQLAlchemy registers (Python's backtracking ``re``)."""
    dbapi_conn.create_function("regexp", 2, regexp, deterministic=True)


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    cursor = dbapi_conn.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=5000")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def _sqlite_read_only_pragmas(dbapi_conn: Any, _record: Any) -> None:
    cursor = dbapi_conn.cursor()
    cursor.execute("PRAGMA busy_timeout=5000")
    cursor.close()


def describe_url(url: str) -> str:
    """A URL safe to print: the password hidden (the one rule, ``config.shown``)."""
    from subctl.config import shown

    return shown(url)


def _no_write_access(path: Path) -> bool:
    """Whether subctl must treat ``path`` as read-only: the user may not write it, or its mode
    grants nobody write access (honoured for root too: someone marked it read-only)."""
    return not os.access(path, os.W_OK) or path.stat().st_mode & 0o222 == 0


# What SQLite says (lower case) when the file is not a sound workspace, and what it says when
# another connection holds the lock; anything else is reported as it is.
_DAMAGED = ("not a database", "malformed", "no such table", "no such column", "corrupt", "utf-8")
_LOCKED = ("locked", "busy")


def unavailable(url: str, cause: BaseException | str, *, damaged: bool = False) -> StoreUnavailable:
    """A database error as the user can act on it (locked, unreachable, or damaged), naming the
    workspace and, for a damaged file, how to recover."""
    text = str(cause)
    lowered = text.lower()
    parsed = sa.make_url(url)
    where = parsed.database if parsed.get_backend_name() == "sqlite" else describe_url(url)
    if not damaged and any(word in lowered for word in _LOCKED):
        return StoreUnavailable(
            f"workspace {where} is busy: {text}",
            hint="another subctl may hold a lock on it; retry in a moment",
        )
    if damaged or any(word in lowered for word in _DAMAGED):
        if parsed.get_backend_name() != "sqlite":
            return StoreUnavailable(f"workspace {where} is damaged: {text}")
        return StoreUnavailable(
            f"workspace {where} is damaged: {text}",
            hint=f"restore it from a backup, salvage it with `sqlite3 {where} .recover`, "
            "or start a new one with `subctl --workspace NEW.db init`",
        )
    if "unable to open" in lowered:
        return StoreUnavailable(
            f"cannot open workspace {where}: {text}",
            hint="check the path and the permissions of the file and its directory",
        )
    return StoreUnavailable(f"workspace {where} unavailable: {text}")


def _command(path: Path | None, verb: str) -> str:
    """A command line for a hint, naming the workspace file unless it is the default one."""
    from subctl.config import default_workspace_path

    try:
        default = default_workspace_path().expanduser().resolve()
    except (OSError, RuntimeError):  # a symlink loop: the path given is not the default one
        default = None
    if path is None or path == default:
        return f"subctl {verb}"
    return f"subctl -w {shlex.quote(str(path))} {verb}"


def _create_private(path: Path) -> None:
    """Create an empty workspace file readable by its owner only (SQLite's journal files
    inherit its mode)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    except FileExistsError:  # created meanwhile by a concurrent `init`: theirs is as good
        pass


class SqlStore:
    """A workspace in a SQL database.

    ``create=True`` (``init``, ``demo``) creates the workspace or upgrades its schema; other
    opens never change the schema. ``adopt=True`` lets ``create`` add subctl's tables to a
    database that already holds other tables. A SQLite file or directory without write access
    is opened read-only (``read_only``): reading works, writing is ``StoreUnavailable``.
    """

    def __init__(self, url: str, *, create: bool = False, adopt: bool = False) -> None:
        try:
            self._connect(url, create, adopt)
        except OSError as exc:  # the path itself: not a directory, a symlink loop, no permission
            where = sa.make_url(url).database or describe_url(url)
            culprit = f" ({exc.filename})" if exc.filename and exc.filename != where else ""
            raise StoreUnavailable(
                f"cannot open workspace {where}: {exc.strerror or exc}{culprit}",
                hint="check the path and its permissions, or choose another with --workspace",
            ) from exc

    def _connect(self, url: str, create: bool, adopt: bool) -> None:
        self.url = url
        parsed = sa.make_url(url)
        self.is_sqlite = parsed.get_backend_name() == "sqlite"
        self.path: Path | None = None
        self.read_only = False
        engine_url: str | sa.URL = url
        if self.is_sqlite and parsed.database and parsed.database != ":memory:":
            path = self.path = Path(parsed.database)
            if path.is_dir():
                raise StoreUnavailable(
                    f"{path} is a directory, not a workspace file",
                    hint=f"e.g. --workspace {path / 'workspace.db'}",
                )
            if not path.exists():
                if not create:
                    raise StoreUnavailable(
                        f"no workspace at {path}",
                        hint=f"create one with `{_command(path, 'init')}`"
                        f" (or `{_command(path, 'demo')}` for sample data)",
                    )
                _create_private(path)
            elif _no_write_access(path) or _no_write_access(path.parent):
                self.read_only = True
                engine_url = _read_only_url(path)
        try:
            self.engine = sa.create_engine(engine_url)
        except ModuleNotFoundError as exc:
            raise StoreUnavailable(
                f"cannot open workspace {describe_url(url)}: {exc}",
                hint="PostgreSQL workspaces need the driver: pip install 'subctl[postgres]'",
            ) from exc
        except sa.exc.ArgumentError as exc:
            raise StoreUnavailable(f"cannot open workspace {describe_url(url)}: {exc}") from exc
        if self.is_sqlite:
            pragmas = _sqlite_read_only_pragmas if self.read_only else _sqlite_pragmas
            sa.event.listen(self.engine, "connect", pragmas)
            sa.event.listen(self.engine, "connect", _sqlite_functions)
        self._registry: PropertyRegistry | None = None
        self._table: sa.Table | None = None
        with self._errors():
            self._open(create, adopt)
            self._check_schema()

    def _where_hint(self) -> str:
        return describe_url(self.url) if self.path is None else str(self.path)

    def _init_command(self) -> str:
        return _command(self.path, "init")

    def _open(self, create: bool, adopt: bool) -> None:
        with self.engine.connect() as conn:
            done = migrations.applied(conn)
            foreign = not done and bool(sa.inspect(conn).get_table_names())
        where = self._where_hint()
        newer = migrations.unknown(done)
        if newer:
            raise StoreUnavailable(
                f"{where} was created by a newer subctl (unknown schema migration "
                f"{sorted(newer)[-1]}); this version cannot use it safely",
                hint="upgrade subctl to open this workspace",
            )
        if not done:
            if not create:
                raise StoreUnavailable(
                    f"{where} is not a subctl workspace",
                    hint=f"create one with `{self._init_command()}`",
                )
            if foreign and not adopt:
                raise StoreUnavailable(
                    f"{where} is a database with other tables, not a subctl workspace",
                    hint=f"choose another path, or run `{self._init_command()} --force` to add"
                    " subctl's tables to it",
                )
        if len(done) < len(migrations.MIGRATIONS):
            if not create:
                # Only `init` and `demo` change the schema: a reading verb must not write.
                raise StoreUnavailable(
                    f"{where} was created by an older subctl and needs a schema upgrade",
                    hint=f"run `{self._init_command()}` to upgrade it",
                )
            migrations.migrate(self.engine)

    def _check_schema(self) -> None:
        """A workspace that lacks a table or column the migrations (or a custom property)
        create is damaged: ``StoreUnavailable`` naming the first one missing, before any verb
        runs into it. One catalogue query for every table's columns, and the definitions."""
        with self.engine.connect() as conn:
            present = _columns(conn, self.is_sqlite)

        def check(table: sa.Table) -> None:
            missing = [c.name for c in table.columns if c.name not in present.get(table.name, ())]
            if table.name not in present:
                raise unavailable(self.url, f"table {table.name} is missing", damaged=True)
            if missing:
                raise unavailable(
                    self.url, f"column {table.name}.{missing[0]} is missing", damaged=True
                )

        for model in models.MODEL_TABLES:
            check(_table(model))
        check(self.table())  # after the definitions: its columns follow from them

    def repair_indexes(self) -> list[str]:
        """Recreate the indexes a SQLite workspace should have and lacks (those of the
        migrations and of custom properties, e.g. after an interrupted bulk load of an older
        subctl); return their names. A unique property whose values are no longer unique is a
        ``Conflict``, and nothing is recreated."""
        if not self.is_sqlite:
            return []
        expected = dict(_migration_indexes())
        for prop in self.properties():
            if not prop.hubspot_defined:
                index = _property_index(prop)
                assert index.name is not None
                expected[index.name] = str(
                    sa.schema.CreateIndex(index).compile(dialect=self.engine.dialect)
                )
        sql = "SELECT name FROM sqlite_master WHERE type = 'index'"
        with self._errors(), self.engine.connect() as conn:
            if set(expected) <= {row[0] for row in conn.exec_driver_sql(sql)}:
                return []
        with self._errors(), self.engine.begin() as conn:
            conn.exec_driver_sql("BEGIN IMMEDIATE")
            present = {row[0] for row in conn.exec_driver_sql(sql)}
            missing = [name for name in expected if name not in present]
            for name in missing:
                try:
                    conn.exec_driver_sql(expected[name])
                except sa.exc.IntegrityError as exc:
                    prop_name = name.removeprefix(CUSTOM_INDEX.format(name=""))
                    raise Conflict(
                        f"{prop_name}: several subscriptions share a value of this unique"
                        " property, so its index cannot be restored; nothing was changed",
                        hint=f"find them with `subctl list --fields {prop_name} --sort"
                        f" {prop_name}`, give them distinct values, and run init again",
                    ) from exc
        return missing

    def require_writable(self) -> None:
        """``StoreUnavailable`` (the read-only message) unless the workspace can be written."""
        if self.read_only:
            raise self._read_only_error()

    def _read_only_error(self) -> StoreUnavailable:
        return StoreUnavailable(
            f"the workspace {self._where_hint()} is read-only",
            hint="reading verbs work; to change it, get write access to the file and its"
            " directory, or work on a copy (-w COPY)",
        )

    @contextmanager
    def _errors(self) -> Iterator[None]:
        try:
            yield
        except (ValueError, OverflowError) as exc:  # stored text not UTF-8, or not of its type
            raise unavailable(self.url, exc, damaged=True) from exc
        except Exception as exc:
            mapped = self.database_error(exc)
            if mapped is None:
                raise
            raise mapped from exc

    def database_error(self, exc: BaseException) -> SubctlError | None:
        """The typed error for a database failure, wrapped by SQLAlchemy or raised by a raw
        DB-API cursor (bulk paths); None for anything else."""
        if _is_read_only(exc.orig if isinstance(exc, sa.exc.DBAPIError) else exc):
            return self._read_only_error()  # a write on a workspace opened read-only
        if isinstance(exc, sa.exc.IntegrityError):
            return Conflict(f"conflict in the workspace: {exc.orig}")
        if isinstance(exc, sa.exc.DatabaseError):  # OperationalError included
            return unavailable(self.url, exc.orig or exc)
        dbapi = self.engine.dialect.loaded_dbapi
        if isinstance(exc, dbapi.IntegrityError):
            return _conflict(str(exc))
        if isinstance(exc, dbapi.DatabaseError):
            return unavailable(self.url, exc)
        return None

    def close(self) -> None:
        self.engine.dispose()

    # -- properties -----------------------------------------------------------------------

    def properties(self) -> PropertyRegistry:
        if self._registry is None:
            with self._errors(), self.engine.connect() as conn:
                rows = conn.execute(sa.select(_DEFINITIONS))
                custom = [_custom(row) for row in rows]
            self._registry = PropertyRegistry([*STANDARD_PROPERTIES, *custom])
        return self._registry

    def table(self) -> sa.Table:
        """The ``subscriptions`` table with a column per known property."""
        if self._table is None:
            self._table = sa.Table(
                "subscriptions",
                sa.MetaData(),
                *(
                    sa.Column(p.column, migrations.ID_TYPE, primary_key=True)
                    if p.name == "hs_object_id"
                    else sa.Column(p.column, migrations.column_type(p.type))
                    for p in self.properties()
                ),
            )
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
        names = [p.name for p in props]
        readers = [_reader(p) for p in props]  # memoised converters: batches read 100k rows
        with self._errors(), self.engine.connect() as conn:
            result = conn.execution_options(yield_per=STREAM_CHUNK).execute(stmt)
            for row in result:
                values = [read(raw) for read, raw in zip(readers, row, strict=True)]
                yield Subscription(id=int(row[0]), properties=dict(zip(names, values, strict=True)))

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
                select(models.PropertyHistoryRow)
                .where(models.PropertyHistoryRow.subscription_id == sub_id)
                .order_by(col(models.PropertyHistoryRow.changed_at).desc(),
                          col(models.PropertyHistoryRow.id).desc())
            ).all()  # fmt: skip
            detail.history = [
                Change(h.property, h.old_value, h.new_value,
                       from_storage(PropType.DATETIME, h.changed_at), h.source)
                for h in history
            ]  # fmt: skip
            detail.outbox = _outbox(session, sub_id)
        return detail

    # -- saved views -------------------------------------------------------------------------

    def views(self) -> list[SavedView]:
        with self._errors(), Session(self.engine) as session:
            rows = session.exec(
                select(models.SavedViewRow).order_by(col(models.SavedViewRow.name))
            ).all()
        return [_view(r) for r in rows]

    def get_view(self, name: str) -> SavedView:
        with self._errors(), Session(self.engine) as session:
            row = session.get(models.SavedViewRow, name)
        if row is None:
            raise NotFound(f'view "{name}" not found', hint="list views with `subctl views`")
        return _view(row)

    def save_view(self, view: SavedView) -> None:
        import time

        with self._errors(), Session(self.engine) as session:
            session.merge(
                models.SavedViewRow(
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
            row = session.get(models.SavedViewRow, name)
            if row is None:
                raise NotFound(f'view "{name}" not found')
            session.delete(row)
            session.commit()

    # -- workspace settings ------------------------------------------------------------------

    def get_setting(self, key: str) -> str | None:
        with self._errors(), Session(self.engine) as session:
            row = session.get(models.WorkspaceSettingRow, key)
        return None if row is None else row.value

    def set_setting(self, key: str, value: str) -> None:
        with self._errors(), self.engine.begin() as conn:
            _put_setting(conn, key, value)

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

    @contextmanager
    def replacing_records(
        self, stamp: tuple[str, str] | None = None
    ) -> Iterator[Callable[[str, Sequence[str], Sequence[Any]], int]]:
        """Replace every subscription and associated record (custom definitions, views and
        settings stay, but those of jobs: ``jobs.<id>.…``) in one transaction: yields
        ``insert(table, columns, rows) -> count`` for the new rows. Nothing is visible until
        the end, and an error, Ctrl-C or a crash leaves the workspace as it was. On SQLite the
        secondary indexes of the bulk tables are dropped for the load (several times faster
        than maintaining them row by row) and rebuilt before the commit, in the same
        transaction (SQLite DDL is transactional).

        ``stamp`` (setting key, token): the setting is set, in the same transaction, to the
        token and ``records_digest()`` of the new records, separated by a space."""
        with self._errors(), self.engine.connect() as conn:
            cursor, mark = self._cursor(conn)
            if self.is_sqlite:
                # Foreign-key checks off: SQLite then empties a table in one step instead of
                # row by row. The pragma only takes effect outside a transaction.
                cursor.execute("PRAGMA foreign_keys=OFF")
            try:
                with conn.begin():
                    if self.is_sqlite:
                        cursor.execute("BEGIN IMMEDIATE")
                    indexes = _drop_bulk_indexes(cursor) if self.is_sqlite else []
                    if self.is_sqlite:
                        for name in RECORD_TABLES:
                            cursor.execute(f"DELETE FROM {name}")
                    else:
                        # Ids of emptied tables start at 1 again, as SQLite's (MAX(id) + 1) do:
                        # RESTART IDENTITY resets the sequences, inside the transaction.
                        cursor.execute(f"TRUNCATE {', '.join(RECORD_TABLES)} RESTART IDENTITY")
                    # Settings of jobs (``jobs.<id>.…``) go with the jobs: new jobs reuse ids.
                    conn.execute(sa.delete(_SETTINGS).where(_SETTINGS.c.key.like("jobs.%")))

                    def insert(table: str, columns: Sequence[str], rows: Sequence[Any]) -> int:
                        marks = ", ".join([mark] * len(columns))
                        cursor.executemany(
                            f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks})", rows
                        )
                        return len(rows)

                    yield insert
                    for ddl in indexes:
                        cursor.execute(ddl)
                    if stamp is not None:
                        key, token = stamp
                        trace = _record_counts(conn, self.is_sqlite, key)
                        value = f"{token} {_digest(trace)}"
                        _put_setting(conn, key, value)
            finally:
                if self.is_sqlite:
                    cursor.execute("PRAGMA foreign_keys=ON")
        if self.is_sqlite:  # the load went through the WAL: give its space back
            with self._errors(), self.engine.connect() as conn:
                conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")

    def has_records(self) -> bool:
        """Whether any record table (those ``replacing_records`` replaces) has a row."""
        with self._errors(), self.engine.connect() as conn:
            return any(
                conn.exec_driver_sql(f"SELECT 1 FROM {name} LIMIT 1").first() is not None
                for name in RECORD_TABLES
            )

    def records_digest(self, stamp_key: str) -> str:
        """A digest of the records, custom definitions, views and settings (see
        ``_record_counts``; ``stamp_key``: the setting that holds the digest, left out): it
        changes when any subctl verb adds, removes or edits one of them."""
        with self._errors(), self.engine.connect() as conn:
            return _digest(_record_counts(conn, self.is_sqlite, stamp_key))

    # -- lifecycle verbs and the batch journal -----------------------------------
    #
    # ``apply`` is one transaction per call: the journal claim, the subscription updates
    # (set-based: one UPDATE ... WHERE id IN (...) per distinct change), deletions, history,
    # outbox and refunds. Statements go through the DB-API cursor (``executemany``), as in
    # ``bulk_insert``, because a batch writes hundreds of thousands of rows.

    def _cursor(self, conn: sa.Connection) -> tuple[Any, str]:
        mark = "?" if self.engine.dialect.paramstyle == "qmark" else "%s"
        return conn.connection.cursor(), mark

    def _by_subscription(
        self, sub_ids: Sequence[int], sql: str, extra: Sequence[Any] = ()
    ) -> Iterator[tuple[Any, ...]]:
        """Rows of ``sql`` (``{ids}``: the id list, ``{mark}``: a placeholder for each of
        ``extra``) for the ids, a chunk at a time; the first column is a subscription id."""
        ids = list(dict.fromkeys(sub_ids))
        with self._errors(), self.engine.connect() as conn:
            cursor, mark = self._cursor(conn)
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
        pairs = [(p.name, _reader(p)) for p in known]
        columns = ", ".join(f'"{p.column}"' for p in known)
        sql = f"SELECT {columns} FROM subscriptions WHERE hs_object_id IN ({{ids}})"
        return {
            row[0]: Subscription(
                row[0], {name: read(raw) for (name, read), raw in zip(pairs, row, strict=True)}
            )
            for row in self._by_subscription(sub_ids, sql)
        }

    def payments_of(
        self, sub_ids: Sequence[int], statuses: Sequence[str] | None = None
    ) -> dict[int, list[Payment]]:
        only = ""
        if statuses is not None:
            only = " AND p.status IN (" + ", ".join(["{mark}"] * len(statuses)) + ")"
        sql = (
            "SELECT a.subscription_id, p.id, p.amount, p.currency, p.status, p.method, p.kind,"
            " p.created_at, p.refunds_payment_id FROM associations a"
            " JOIN payments p ON p.id = a.object_id"
            " WHERE a.object_type = 'payment' AND a.subscription_id IN ({ids})" + only +
            " ORDER BY a.subscription_id, p.created_at, p.id"
        )  # fmt: skip
        out: dict[int, list[Payment]] = {}
        amounts: dict[float, Decimal] = {}  # prices repeat: convert each once
        for row in self._by_subscription(sub_ids, sql, statuses or ()):
            sid, pid, amount, currency, status, method, kind, created, refunds = row
            money = amounts.get(amount)
            if money is None:
                money = amounts[amount] = money_from_storage(amount)
            out.setdefault(int(sid), []).append(
                Payment(
                    id=int(pid),
                    amount=money,
                    currency=currency,
                    status=status,
                    method=method,
                    kind=kind,
                    created_at=from_storage(PropType.DATETIME, created),
                    refunds_payment_id=None if refunds is None else int(refunds),
                )
            )
        return out

    def buyer_emails(self, sub_ids: Sequence[int]) -> dict[int, str]:
        sql = (
            "SELECT a.subscription_id, e.email FROM associations a"
            " JOIN contact_emails e ON e.contact_id = a.object_id"
            " WHERE a.object_type = 'contact' AND a.subscription_id IN ({ids})"
            " ORDER BY a.subscription_id, a.object_id, e.position"
        )
        out: dict[int, str] = {}
        for sid, email in self._by_subscription(sub_ids, sql):
            out.setdefault(int(sid), email)
        return out

    def apply(
        self,
        mutations: Sequence[Mutation],
        *,
        job_id: int | None = None,
        outcomes: Sequence[ItemOutcome] = (),
    ) -> None:
        registry = self.properties()
        with self._errors(), self.engine.begin() as conn:
            cursor, mark = self._cursor(conn)
            if self.is_sqlite:
                # Batches rewrite the same index pages chunk after chunk: keep them cached, and
                # checkpoint the WAL every ~100 MB rather than at every commit (each commit is
                # still durable in the WAL).
                cursor.execute(f"PRAGMA cache_size = -{BATCH_CACHE_KIB}")
                cursor.execute(f"PRAGMA wal_autocheckpoint = {BATCH_CHECKPOINT_PAGES}")
                # The write lock before the first read: the old values history records are
                # the ones this transaction replaces, not a concurrent writer's.
                cursor.execute("BEGIN IMMEDIATE")
            if job_id is not None and outcomes:
                _claim(cursor, mark, job_id, outcomes)
            updates = [m for m in mutations if m.changes and not m.delete]
            replaced = _current(cursor, mark, registry, updates, lock=not self.is_sqlite)
            _update(cursor, mark, registry, updates)
            _delete(cursor, mark, [m for m in mutations if m.delete])
            _history(cursor, mark, registry, updates, replaced)
            _messages(cursor, mark, [msg for m in mutations for msg in m.messages])
            _refunds(cursor, mark, mutations)
            _line_items(cursor, mark, [item for m in mutations for item in m.line_items])
            _charges(cursor, mark, [(m.subscription_id, c) for m in mutations for c in m.charges])

    def create_job(
        self,
        *,
        verb: str,
        action: dict[str, Any],
        selection: dict[str, Any],
        fingerprint: str,
        frozen: bool,
        items: Sequence[tuple[int, str | None]],
        at: dt.datetime,
    ) -> Job:
        now = to_storage(PropType.DATETIME, at)
        row = models.JobRow(
            verb=verb,
            action=json.dumps(action, sort_keys=True),
            selection=json.dumps(selection, sort_keys=True),
            fingerprint=fingerprint,
            frozen=frozen,
            status="unfinished",
            total=len(items),
            created_at=now,
            updated_at=now,
        )
        with self._errors(), Session(self.engine) as session:
            session.add(row)
            session.flush()
            job_id = row.id
            assert job_id is not None
            cursor, mark = self._cursor(session.connection())
            _insert_many(
                cursor, mark, "job_items",
                ("job_id", "subscription_id", "position", "planned_status"),
                [(job_id, sid, pos, status) for pos, (sid, status) in enumerate(items)],
            )  # fmt: skip
            session.commit()
        return self.job(job_id)

    def _jobs(self, where: sa.ColumnElement[bool] | None = None) -> list[Job]:
        stmt = select(models.JobRow).order_by(col(models.JobRow.id).desc())
        if where is not None:
            stmt = stmt.where(where)
        with self._errors(), Session(self.engine) as session:
            rows = session.exec(stmt).all()
            counts: dict[int, dict[str, int]] = {}
            if rows:
                tallies = session.execute(
                    sa.select(
                        col(models.JobItemRow.job_id),
                        col(models.JobItemRow.outcome),
                        sa.func.count(),
                    )
                    .where(col(models.JobItemRow.job_id).in_([r.id for r in rows]))
                    .group_by(col(models.JobItemRow.job_id), col(models.JobItemRow.outcome))
                ).all()
                for jid, outcome, n in tallies:
                    counts.setdefault(jid, {})[outcome or "unprocessed"] = int(n)
        return [_job(r, counts.get(r.id or 0, {})) for r in rows]

    def jobs(self) -> list[Job]:
        return self._jobs()

    def job(self, job_id: int) -> Job:
        found = self._jobs(col(models.JobRow.id) == job_id)
        if not found:
            raise NotFound(f"job {job_id} not found", hint="list batches with `subctl jobs`")
        return found[0]

    def job_items(self, job_id: int, *, unprocessed_only: bool = False) -> Iterator[JobItem]:
        sql = (
            "SELECT subscription_id, position, planned_status, outcome, new_status, note,"
            " processed_at FROM job_items WHERE job_id = {mark}"
            + (" AND outcome IS NULL" if unprocessed_only else "")
            + " ORDER BY position"
        )
        with self._errors(), self.engine.connect() as conn:
            cursor, mark = self._cursor(conn)
            cursor.execute(sql.format(mark=mark), (job_id,))
            while rows := cursor.fetchmany(STREAM_CHUNK):
                for sid, position, planned, outcome, new_status, note, processed in rows:
                    yield JobItem(
                        subscription_id=int(sid),
                        position=int(position),
                        planned_status=planned,
                        outcome=outcome,
                        new_status=new_status,
                        note=note,
                        processed_at=None
                        if processed is None
                        else from_storage(PropType.DATETIME, processed),
                    )

    def unfinished_job(self, fingerprint: str) -> Job | None:
        found = self._jobs(
            sa.and_(
                col(models.JobRow.fingerprint) == fingerprint,
                col(models.JobRow.status) == "unfinished",
            )
        )
        return found[0] if found else None

    def set_job_status(self, job_id: int, status: str, at: dt.datetime) -> None:
        with self._errors(), Session(self.engine) as session:
            row = session.get(models.JobRow, job_id)
            if row is None:
                raise NotFound(f"job {job_id} not found")
            row.status = status
            row.updated_at = to_storage(PropType.DATETIME, at)
            session.add(row)
            session.commit()

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

    def create_property(self, prop: Property) -> None:
        if prop.hubspot_defined or not prop.name.isidentifier():
            raise UsageError(f"cannot create {prop.name}: not a custom property name")
        if self.properties().get(prop.name) is not None:
            raise Conflict(f"property {prop.name} already exists")
        column = sa.Column(prop.column, migrations.column_type(prop.type))
        with self._errors(), self.engine.begin() as conn:
            conn.execute(sa.insert(_DEFINITIONS).values(**_definition_values(prop, created=True)))
            spec = sa.schema.CreateColumn(column).compile(dialect=conn.dialect)
            conn.exec_driver_sql(f"ALTER TABLE subscriptions ADD COLUMN {spec}")
            conn.execute(sa.schema.CreateIndex(_property_index(prop)))
        self._invalidate()

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
        with self._errors(), self.engine.begin() as conn:
            conn.execute(
                sa.update(_DEFINITIONS).where(_DEFINITIONS.c.name == prop.name).values(**values)
            )
        self._invalidate()

    def delete_property(self, name: str) -> None:
        prop = self._definition(name)
        with self._errors(), self.engine.begin() as conn:
            conn.execute(sa.schema.DropIndex(_property_index(prop), if_exists=True))
            column = conn.dialect.identifier_preparer.quote(prop.column)
            conn.exec_driver_sql(f"ALTER TABLE subscriptions DROP COLUMN {column}")
            conn.execute(sa.delete(_DEFINITIONS).where(_DEFINITIONS.c.name == name))
            conn.execute(sa.delete(_HISTORY).where(_HISTORY.c.property == name))
        self._invalidate()

    def _require_subscription(self, conn: sa.Connection, sub_id: int) -> None:
        ids = self.table().c.hs_object_id
        if conn.execute(sa.select(ids).where(ids == sub_id)).first() is None:
            raise NotFound(f"subscription {sub_id} not found")

    def associations(self, sub_id: int, object_type: str | None = None) -> list[AssociatedRecord]:
        stmt = sa.select(_LINKS.c.object_type, _LINKS.c.object_id, _LINKS.c.type_id).where(
            _LINKS.c.subscription_id == sub_id
        )
        if object_type is not None:
            stmt = stmt.where(_LINKS.c.object_type == object_type)
        stmt = stmt.order_by(_LINKS.c.object_type, _LINKS.c.object_id)
        with self._errors(), Session(self.engine) as session:
            self._require_subscription(session.connection(), sub_id)
            by_type: dict[str, dict[int, int]] = {}
            for otype, oid, type_id in session.execute(stmt).all():
                by_type.setdefault(otype, {})[int(oid)] = int(type_id)
            found: list[AssociatedRecord] = []
            for otype, ids in by_type.items():
                labels = _labels(session, otype, list(ids))
                found.extend(
                    AssociatedRecord(otype, oid, ids[oid], *labels.get(oid, (str(oid), ())))
                    for oid in ids
                )
        return found

    def line_items(self, sub_id: int) -> list[LineItem]:
        row = models.LineItemRow
        stmt = (
            select(row)
            .join(
                _LINKS, sa.and_(_LINKS.c.object_type == "line_item", _LINKS.c.object_id == row.id)
            )
            .where(_LINKS.c.subscription_id == sub_id)
            .order_by(col(row.id))
        )
        with self._errors(), Session(self.engine) as session:
            self._require_subscription(session.connection(), sub_id)
            return [
                LineItem(r.id, r.name, r.quantity, money_from_storage(r.price))
                for r in session.exec(stmt)
            ]

    def payment(self, payment_id: int) -> Payment:
        with self._errors(), Session(self.engine) as session:
            found = _payments(session, {payment_id: payment_id})
        if not found:
            raise NotFound(f"payment {payment_id} not found")
        return found[0]

    def associated_subscriptions(self, object_type: str, object_id: int) -> list[int]:
        stmt = (
            sa.select(_LINKS.c.subscription_id)
            .where(_LINKS.c.object_type == object_type, _LINKS.c.object_id == object_id)
            .order_by(_LINKS.c.subscription_id)
        )
        with self._errors(), self.engine.connect() as conn:
            return [int(r[0]) for r in conn.execute(stmt)]

    def associate(self, sub_id: int, object_type: str, object_id: int, type_id: int) -> None:
        self.record_label(object_type, object_id)  # NotFound
        key = (
            (_LINKS.c.subscription_id == sub_id)
            & (_LINKS.c.object_type == object_type)
            & (_LINKS.c.object_id == object_id)
        )
        with self._errors(), self.engine.begin() as conn:
            self._require_subscription(conn, sub_id)
            if conn.execute(sa.select(_LINKS.c.type_id).where(key)).first() is not None:
                conn.execute(sa.update(_LINKS).where(key).values(type_id=type_id))
                return
            conn.execute(
                sa.insert(_LINKS).values(subscription_id=sub_id, object_type=object_type,
                                         object_id=object_id, type_id=type_id)
            )  # fmt: skip

    def dissociate(self, sub_id: int, object_type: str, object_id: int) -> None:
        with self._errors(), self.engine.begin() as conn:
            result = conn.execute(
                sa.delete(_LINKS).where(
                    _LINKS.c.subscription_id == sub_id,
                    _LINKS.c.object_type == object_type,
                    _LINKS.c.object_id == object_id,
                )
            )
        if not result.rowcount:
            label = ASSOCIATION_BY_NAME[object_type].label.lower()
            raise NotFound(f"subscription {sub_id} is not associated with {label} {object_id}")

    def record_label(self, object_type: str, object_id: int) -> str:
        if object_type not in ASSOCIATION_BY_NAME:
            raise UsageError(f'unknown object type "{object_type}"')
        with self._errors(), Session(self.engine) as session:
            found = _labels(session, object_type, [object_id])
        if object_id not in found:
            label = ASSOCIATION_BY_NAME[object_type].label.lower()
            raise NotFound(f"{label} {object_id} not found")
        return found[object_id][0]

    def create_record(self, object_type: str, values: Mapping[str, Any]) -> int:
        model = _RECORD_MODELS[object_type]
        fields = {k: _stored(v) for k, v in values.items() if k not in ("emails", "domains")}
        with self._errors(), Session(self.engine) as session:
            table = model.__table__
            last = session.execute(sa.select(sa.func.max(table.c.id))).scalar()
            new_id = int(last or 0) + 1
            session.execute(sa.insert(table).values(id=new_id, **fields))
            for position, email in enumerate(values.get("emails", ())):
                session.add(
                    models.ContactEmailRow(contact_id=new_id, position=position, email=email)
                )
            for position, domain in enumerate(values.get("domains", ())):
                session.add(
                    models.CompanyDomainRow(company_id=new_id, position=position, domain=domain)
                )
            session.commit()
        return new_id


# Core table clauses (not the SQLModel classes): every command reads the definitions, and the
# models need not load for that.
_DEFINITIONS = sa.table(
    "property_definitions",
    *(sa.column(name) for name in ("name", "label", "type", "field_type", "group_name",
                                   "description", "options", "rules", "sensitivity",
                                   "is_unique", "created_at", "updated_at")),
)  # fmt: skip


def _custom(row: Any) -> Property:
    """A custom property from a ``property_definitions`` row (Core row or model)."""
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
        unique=bool(row.is_unique),
        rules=tuple((r["type"], tuple(r.get("args", ()))) for r in json.loads(row.rules)),
    )


def _view(row: models.SavedViewRow) -> SavedView:
    return SavedView(row.name, row.query, tuple(json.loads(row.columns)), row.sort, row.builtin)


def _payments(session: Session, ids: dict[int, int]) -> list[Payment]:
    rows = session.exec(
        select(models.PaymentRow)
        .where(col(models.PaymentRow.id).in_(ids))
        .order_by(col(models.PaymentRow.created_at))
    ).all()
    return [
        Payment(
            id=r.id,
            amount=money_from_storage(r.amount),
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
            select(models.ContactEmailRow).where(col(models.ContactEmailRow.contact_id).in_(ids))
            .order_by(col(models.ContactEmailRow.contact_id), col(models.ContactEmailRow.position))
        ):  # fmt: skip
            emails.setdefault(e.contact_id, []).append(e.email)
        out = {}
        for c in session.exec(select(models.ContactRow).where(col(models.ContactRow.id).in_(ids))):
            name = " ".join(p for p in (c.firstname, c.lastname) if p) or str(c.id)
            mails = tuple(emails.get(c.id, ()))
            out[c.id] = (f"{name} ({mails[0]})" if mails else name, mails)
        return out
    if object_type == "company":
        domains: dict[int, list[str]] = {}
        domain = models.CompanyDomainRow
        for d in session.exec(
            select(domain).where(col(domain.company_id).in_(ids))
            .order_by(col(domain.company_id), col(domain.position))
        ):  # fmt: skip
            domains.setdefault(d.company_id, []).append(d.domain)
        return {
            c.id: (c.name, tuple(domains.get(c.id, ())))
            for c in session.exec(
                select(models.CompanyRow).where(col(models.CompanyRow.id).in_(ids))
            )
        }
    if object_type == "deal":
        rows = session.exec(select(models.DealRow).where(col(models.DealRow.id).in_(ids)))
        return {r.id: (r.name, ()) for r in rows}
    if object_type == "line_item":
        items = session.exec(select(models.LineItemRow).where(col(models.LineItemRow.id).in_(ids)))
        return {r.id: (f"{r.name} × {r.quantity}", ()) for r in items}
    if object_type == "quote":
        quotes = session.exec(select(models.QuoteRow).where(col(models.QuoteRow.id).in_(ids)))
        return {r.id: (r.title, ()) for r in quotes}
    if object_type == "invoice":
        invoices = session.exec(select(models.InvoiceRow).where(col(models.InvoiceRow.id).in_(ids)))
        return {r.id: (r.number, ()) for r in invoices}
    if object_type == "payment":
        payments = session.exec(select(models.PaymentRow).where(col(models.PaymentRow.id).in_(ids)))
        return {
            r.id: (f"{r.amount:.2f} {r.currency} {r.status} ({r.method})", ()) for r in payments
        }
    return {}  # an object type only a damaged file holds: shown by id


# -- lifecycle verbs and the batch journal: helpers of ``SqlStore.apply`` ----------

ID_CHUNK = 1000  # ids per IN (...) list: far below every backend's bound-parameter limit
BATCH_CACHE_KIB = 131_072  # SQLite page cache of a connection that applies batches (128 MiB)
BATCH_CHECKPOINT_PAGES = 25_000  # WAL pages between automatic checkpoints (default 1,000)
UNTRACKED = frozenset({"hs_lastmodifieddate"})  # the change stamp itself has no history
_PAYMENT_TYPE = ASSOCIATION_BY_NAME["payment"].type_id


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


@functools.lru_cache(maxsize=16)  # a chunk shares one timestamp
def _ms(value: dt.datetime) -> int:
    return int(to_storage(PropType.DATETIME, value))


def _chunks(ids: Sequence[int]) -> Iterator[Sequence[int]]:
    for start in range(0, len(ids), ID_CHUNK):
        yield ids[start : start + ID_CHUNK]


def _changed_elsewhere(expected: int, done: int, what: str) -> Conflict:
    return Conflict(
        f"{expected - done} of {expected} {what} changed while the batch ran; nothing was written",
        hint="run the command again (or `subctl jobs resume JOB`): items are re-read first",
    )


ROWS_PER_INSERT = 100  # multi-row INSERT ... VALUES: a third faster than one row per step


def _insert_many(
    cursor: Any, mark: str, table: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]
) -> None:
    _insert_flat(cursor, mark, table, columns, [value for row in rows for value in row])


def _insert_flat(
    cursor: Any, mark: str, table: str, columns: Sequence[str], values: Sequence[Any]
) -> None:
    """Insert rows given as one flat list of values, with multi-row ``VALUES`` lists
    (``ROWS_PER_INSERT`` rows a statement)."""
    width = len(columns)
    count = len(values) // width
    if not count:
        return
    one = "(" + ", ".join([mark] * width) + ")"
    head = f"INSERT INTO {table} ({', '.join(columns)}) VALUES "
    step = ROWS_PER_INSERT * width
    full = count - count % ROWS_PER_INSERT
    if full:
        cursor.executemany(
            head + ", ".join([one] * ROWS_PER_INSERT),
            [values[start : start + step] for start in range(0, full * width, step)],
        )
    if full < count:
        cursor.execute(head + ", ".join([one] * (count - full)), values[full * width :])


def _status_clause(mark: str, expect: str | None) -> tuple[str, list[Any]]:
    # COALESCE keeps the planner on the primary key (IN list) rather than the status index.
    if expect is None:
        return "hs_status IS NULL", []
    return f"COALESCE(hs_status, '') = {mark}", [expect]


def _claim(cursor: Any, mark: str, job_id: int, outcomes: Sequence[ItemOutcome]) -> None:
    """Journal the outcomes (one UPDATE per distinct outcome); every item must still be
    unprocessed, else another run has it."""
    groups: dict[tuple[str, str | None, str, int], list[int]] = {}
    for o in outcomes:
        key = (o.outcome, o.new_status, o.note, _ms(o.at))
        groups.setdefault(key, []).append(o.subscription_id)
    singles = [(*key, job_id, ids[0]) for key, ids in groups.items() if len(ids) == 1]
    if singles:  # outcomes with a note of their own: one executemany
        cursor.executemany(
            f"UPDATE job_items SET outcome = {mark}, new_status = {mark}, note = {mark},"
            f" processed_at = {mark} WHERE job_id = {mark} AND subscription_id = {mark}"
            " AND outcome IS NULL",
            singles,
        )
        if cursor.rowcount != len(singles):
            raise _changed_elsewhere(len(singles), max(cursor.rowcount, 0), "journal items")
    for (outcome, new_status, note, at), ids in groups.items():
        if len(ids) == 1:
            continue
        for part in _chunks(ids):
            cursor.execute(
                f"UPDATE job_items SET outcome = {mark}, new_status = {mark}, note = {mark},"
                f" processed_at = {mark} WHERE job_id = {mark} AND subscription_id IN"
                f" ({', '.join([mark] * len(part))}) AND outcome IS NULL",
                [outcome, new_status, note, at, job_id, *part],
            )
            if cursor.rowcount != len(part):
                raise _changed_elsewhere(len(part), max(cursor.rowcount, 0), "journal items")


def _update(
    cursor: Any, mark: str, registry: PropertyRegistry, mutations: Sequence[Mutation]
) -> None:
    """One UPDATE per distinct (expected status, new values): a batch of identical changes
    (cancel: status, dates, amounts) is a handful of set-based statements."""
    groups: dict[tuple[str | None, tuple[str, ...], tuple[Any, ...]], list[int]] = {}
    for m in mutations:
        key = (m.expect_status, tuple(m.changes), tuple(new for _old, new in m.changes.values()))
        groups.setdefault(key, []).append(m.subscription_id)
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
        for part in _chunks(ids):
            cursor.execute(
                f"UPDATE subscriptions SET {assignments} WHERE hs_object_id IN"
                f" ({', '.join([mark] * len(part))}) AND {status_sql}",
                [*params, *part, *status_params],
            )
            if cursor.rowcount != len(part):
                raise _changed_elsewhere(len(part), max(cursor.rowcount, 0), "subscriptions")


def _delete(cursor: Any, mark: str, mutations: Sequence[Mutation]) -> None:
    """Delete subscriptions with their associations and history (payments, invoices, outbox
    mail and journal entries stay: they are records of their own)."""
    groups: dict[str | None, list[int]] = {}
    for m in mutations:
        groups.setdefault(m.expect_status, []).append(m.subscription_id)
    for expect, ids in groups.items():
        status_sql, status_params = _status_clause(mark, expect)
        for part in _chunks(ids):
            marks = ", ".join([mark] * len(part))
            cursor.execute(
                f"DELETE FROM subscriptions WHERE hs_object_id IN ({marks}) AND {status_sql}",
                [*part, *status_params],
            )
            if cursor.rowcount != len(part):
                raise _changed_elsewhere(len(part), max(cursor.rowcount, 0), "subscriptions")
            cursor.execute(f"DELETE FROM associations WHERE subscription_id IN ({marks})", part)
            cursor.execute(f"DELETE FROM property_history WHERE subscription_id IN ({marks})", part)


def _history_text() -> Callable[[Any], str | None]:
    """Typed value -> history text (``export.values.text_value``), with fast paths for the
    common types: a 100,000-item cancel writes half a million history rows."""
    from subctl.export.values import iso_datetime, text_value

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


def _current(
    cursor: Any, mark: str, registry: PropertyRegistry, mutations: Sequence[Mutation], *, lock: bool
) -> dict[int, dict[str, Any]]:
    """The stored values the mutations are about to replace (tracked properties only), read
    inside the write transaction; ``lock``: ``FOR UPDATE`` (PostgreSQL; SQLite's transaction
    already holds the write lock)."""
    groups: dict[tuple[str, ...], list[int]] = {}
    for m in mutations:
        names = tuple(n for n in m.changes if n not in UNTRACKED)
        if names:
            groups.setdefault(names, []).append(m.subscription_id)
    out: dict[int, dict[str, Any]] = {}
    for names, ids in groups.items():
        props = [p for p in map(registry.get, names) if p is not None]
        if len(props) < len(names):
            continue  # _update refuses unknown properties
        columns = ", ".join(f'"{p.column}"' for p in props)
        for part in _chunks(ids):
            cursor.execute(
                f"SELECT hs_object_id, {columns} FROM subscriptions WHERE hs_object_id IN"
                f" ({', '.join([mark] * len(part))})" + (" FOR UPDATE" if lock else ""),
                part,
            )
            for sid, *values in cursor.fetchall():
                out[int(sid)] = dict(zip(names, values, strict=True))
    return out


def _history(
    cursor: Any,
    mark: str,
    registry: PropertyRegistry,
    mutations: Sequence[Mutation],
    replaced: Mapping[int, Mapping[str, Any]],
) -> None:
    """One history entry per property whose stored value changed, from the value replaced
    (``replaced``), not the one the decision saw."""
    text = _history_text()
    readers: dict[str, Callable[[Any], Any]] = {}
    stored: dict[tuple[str, Any], Any] = {}  # a batch sets the same few new values
    values: list[Any] = []
    add = values.extend
    for m in mutations:
        at = _ms(m.at)
        sid, source = m.subscription_id, m.source
        before = replaced.get(sid, {})
        for name, (_seen, new) in m.changes.items():
            if name in UNTRACKED or name not in before:
                continue
            prop = registry.get(name)
            assert prop is not None  # _update refused unknown properties
            old_raw = before[name]
            try:
                new_raw = stored[name, new]
            except KeyError:
                new_raw = stored[name, new] = prop.to_storage(new)
            except TypeError:  # unhashable
                new_raw = prop.to_storage(new)
            if old_raw == new_raw:
                continue
            read = readers.get(name)
            if read is None:
                read = readers[name] = _reader(prop)
            add((sid, name, text(read(old_raw)), text(new), at, source))
    _insert_flat(cursor, mark, "property_history",
                 ("subscription_id", "property", "old_value", "new_value", "changed_at", "source"),
                 values)  # fmt: skip


def _messages(cursor: Any, mark: str, messages: Sequence[OutboxMessage]) -> None:
    _insert_many(
        cursor, mark, "outbox",
        ("subscription_id", "kind", "recipient", "subject", "body", "link", "job_id", "created_at"),
        [(msg.subscription_id, msg.kind, msg.recipient, msg.subject, msg.body, msg.link,
          msg.job_id, _ms(msg.created_at)) for msg in messages],
    )  # fmt: skip


def _refunds(cursor: Any, mark: str, mutations: Sequence[Mutation]) -> None:
    """Refund payments get ids after the highest payment id (inside the write transaction)."""
    refunds = [(m.subscription_id, r) for m in mutations for r in m.refunds]
    if not refunds:
        return
    _refuse_refunded(cursor, mark, [r.payment_id for _sid, r in refunds])
    _new_payments(cursor, mark, [
        (sid, (r.amount, r.currency, "succeeded", r.method, "refund", r.payment_id, r.created_at))
        for sid, r in refunds
    ])  # fmt: skip
    cursor.executemany(
        f"UPDATE payments SET status = {mark} WHERE id = {mark}",
        [(r.refunded_status, r.payment_id) for _sid, r in refunds],
    )


def _line_items(cursor: Any, mark: str, items: Sequence[LineItem]) -> None:
    cursor.executemany(
        f"UPDATE line_items SET quantity = {mark}, price = {mark} WHERE id = {mark}",
        [(item.quantity, float(item.price), item.id) for item in items],
    )
    if items and cursor.rowcount != len(items):
        raise _changed_elsewhere(len(items), max(cursor.rowcount, 0), "line items")


def _charges(cursor: Any, mark: str, charges: Sequence[tuple[int, Charge]]) -> None:
    _new_payments(cursor, mark, [
        (sid, (c.amount, c.currency, c.status, c.method, "payment", None, c.created_at))
        for sid, c in charges
    ])  # fmt: skip


# A new payment record: amount, currency, status, method, kind, refunded payment, created at.
_NewPayment = tuple[Decimal, str, str, str | None, str, int | None, dt.datetime]


def _new_payments(cursor: Any, mark: str, payments: Sequence[tuple[int, _NewPayment]]) -> None:
    """New payments (refunds, charges), each with its subscription's id: ids after the highest
    payment id (inside the write transaction), associated with their subscription."""
    if not payments:
        return
    cursor.execute("SELECT COALESCE(MAX(id), 0) FROM payments")
    first = int(cursor.fetchone()[0]) + 1
    cursor.executemany(
        "INSERT INTO payments (id, amount, currency, status, method, kind, refunds_payment_id,"
        f" created_at) VALUES ({', '.join([mark] * 8)})",
        [
            (first + i, float(amount), currency, status, method, kind, refunded, _ms(created))
            for i, (_sid, (amount, currency, status, method, kind, refunded, created))
            in enumerate(payments)
        ],
    )  # fmt: skip
    cursor.executemany(
        "INSERT INTO associations (subscription_id, object_type, object_id, type_id)"
        f" VALUES ({mark}, 'payment', {mark}, {mark})",
        [(sid, first + i, _PAYMENT_TYPE) for i, (sid, _p) in enumerate(payments)],
    )


def _refuse_refunded(cursor: Any, mark: str, payment_ids: Sequence[int]) -> None:
    """A payment is refunded at most once: ``Conflict`` (nothing written) when one of
    ``payment_ids`` already has a refund or a refunded status (another run, or a payment
    associated with several subscriptions), or appears twice. Checked inside the write
    transaction, whatever the decisions were based on."""
    counts = Counter(payment_ids)
    twice = {pid for pid, n in counts.items() if n > 1}
    refunded: set[int] = set()
    for part in _chunks(sorted(counts)):
        marks = ", ".join([mark] * len(part))
        cursor.execute(
            f"SELECT id FROM payments WHERE id IN ({marks})"
            " AND status IN ('refunded', 'partially_refunded')"
            f" UNION SELECT refunds_payment_id FROM payments WHERE refunds_payment_id IN ({marks})",
            [*part, *part],
        )
        refunded.update(int(row[0]) for row in cursor.fetchall())
    if refunded or twice:
        pid = min(refunded or twice)
        raise Conflict(
            f"payment {pid} was already refunded; nothing was written",
            hint="run the command again: payments are re-read first",
        )


def _job(row: models.JobRow, counts: dict[str, int]) -> Job:
    assert row.id is not None
    tally = {k: counts.get(k, 0) for k in ("ok", "skipped", "failed", "attention", "unprocessed")}
    return Job(
        id=row.id,
        verb=row.verb,
        action=json.loads(row.action),
        selection=json.loads(row.selection),
        fingerprint=row.fingerprint,
        frozen=row.frozen,
        status=row.status,
        total=row.total,
        created_at=from_storage(PropType.DATETIME, row.created_at),
        updated_at=from_storage(PropType.DATETIME, row.updated_at),
        counts=tally,
    )


def _outbox(session: Session, sub_id: int) -> list[OutboxMessage]:
    rows = session.exec(
        select(models.OutboxRow)
        .where(models.OutboxRow.subscription_id == sub_id)
        .order_by(col(models.OutboxRow.created_at).desc(), col(models.OutboxRow.id).desc())
    ).all()
    return [
        OutboxMessage(
            subscription_id=r.subscription_id,
            kind=r.kind,
            recipient=r.recipient,
            subject=r.subject,
            body=r.body,
            created_at=from_storage(PropType.DATETIME, r.created_at),
            link=r.link,
            job_id=r.job_id,
            id=r.id,
        )
        for r in rows
    ]


# -- bulk loading: helpers ------------------------------------------------------------

# Every table of records, children before parents (the order of deletion).
RECORD_TABLES = ("associations", "property_history", "subscriptions", "payments", "invoices",
                 "quotes", "line_items", "deals", "company_domains", "companies",
                 "contact_emails", "contacts", "outbox", "job_items", "jobs")  # fmt: skip
BULK_INDEXED_TABLES = ("subscriptions", "associations")


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
    if is_sqlite:
        last = conn.exec_driver_sql(
            "SELECT rowid, subscription_id, object_type, object_id FROM associations"
            " ORDER BY rowid DESC LIMIT 1"
        ).first()
        counts["associations_trace"] = None if last is None else [str(v) for v in last]
    else:
        checksum = sa.func.sum(_LINKS.c.object_id * 7 + _LINKS.c.subscription_id)
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


def _table(model: type[Any]) -> sa.Table:
    table: sa.Table = model.__table__
    return table


def _columns(conn: sa.Connection, is_sqlite: bool) -> dict[str, set[str]]:
    """The columns of every table of the database, by table."""
    present: dict[str, set[str]] = {}
    if is_sqlite:
        rows = conn.exec_driver_sql(
            "SELECT m.name, p.name FROM sqlite_master AS m JOIN pragma_table_info(m.name) AS p"
            " WHERE m.type = 'table'"
        )
        for table, column in rows:
            present.setdefault(table, set()).add(column)
        return present
    for (_schema, table), columns in sa.inspect(conn).get_multi_columns().items():
        present[table] = {c["name"] for c in columns}
    return present


def _put_setting(conn: sa.Connection, key: str, value: str) -> None:
    """Set a workspace setting within the connection's transaction."""
    conn.execute(sa.delete(_SETTINGS).where(_SETTINGS.c.key == key))
    conn.execute(sa.insert(_SETTINGS).values(key=key, value=value))


def _digest(counts: Mapping[str, Any]) -> str:
    return hashlib.sha256(json.dumps(counts, sort_keys=True).encode()).hexdigest()


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


# -- properties & associations: helpers ---------------------------------------------

CUSTOM_INDEX = "ix_subscriptions_cp_{name}"
_HISTORY = sa.table(
    "property_history",
    *(sa.column(name) for name in ("id", "subscription_id", "property", "old_value",
                                   "new_value", "changed_at", "source")),
)  # fmt: skip
_SETTINGS = _table(models.WorkspaceSettingRow)
_LINKS = sa.table(
    "associations",
    sa.column("subscription_id"),
    sa.column("object_type"),
    sa.column("object_id"),
    sa.column("type_id"),
)
_RECORD_MODELS: dict[str, Any] = {
    "contact": models.ContactRow,
    "company": models.CompanyRow,
    "deal": models.DealRow,
    "line_item": models.LineItemRow,
    "quote": models.QuoteRow,
    "invoice": models.InvoiceRow,
    "payment": models.PaymentRow,
}


@functools.cache
def _migration_indexes() -> tuple[tuple[str, str], ...]:
    """(name, DDL) of every index the migrations create, from a replay in memory."""
    engine = sa.create_engine("sqlite://")
    migrations.migrate(engine)
    with engine.connect() as conn:
        rows = conn.exec_driver_sql(
            "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL"
            " ORDER BY name"
        ).all()
    engine.dispose()
    return tuple((str(name), str(sql)) for name, sql in rows)


def _property_index(prop: Property) -> sa.Index:
    column = sa.Column(prop.column, migrations.column_type(prop.type))
    sa.Table("subscriptions", sa.MetaData(), column)
    indexed = sa.func.lower(column) if prop.type is PropType.STRING else column
    return sa.Index(CUSTOM_INDEX.format(name=prop.name), indexed, unique=prop.unique)


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


def _stored(value: Any) -> Any:
    """A record field's value as stored: datetimes as epoch ms, decimals as floats."""
    if isinstance(value, dt.datetime):
        return to_storage(PropType.DATETIME, value)
    if isinstance(value, Decimal):
        return float(value)
    return value


def _conflict(text: str) -> Conflict:
    """A constraint violation; a unique custom property's index names the property."""
    prefix = CUSTOM_INDEX.format(name="")
    at = text.find(prefix)
    if at >= 0:
        name = text[at + len(prefix) :].split("'")[0].split('"')[0].split()[0]
        return Conflict(
            f"{name}: the value is already used by another subscription (unique values)"
        )
    return Conflict(f"conflict in the workspace: {text}")
