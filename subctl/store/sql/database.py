"""The SQL database of a workspace: the engine, opening (read-only, create, adopt), the schema
check, the mapping of database errors, and dialect helpers shared by the record store
(``records.py``), the workspace (``workspace.py``) and the bulk loader (``seed.py``), which all
work over one ``Database``: one engine, one registry of property definitions.

Reading verbs are short and import-bound, so opening, the schema check and the reads run on the
DB-API directly (``sqlite3``; PostgreSQL's driver through the engine's pool) with SQL text from
``compiler.py`` and the light table description of ``schema.py``: a ``list`` or ``view`` on
SQLite imports no SQLAlchemy. The SQLAlchemy engine is created on first use, by writes,
migrations and DDL.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
import os
import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import TYPE_CHECKING, Any

from subctl.codec import datetime_to_ms
from subctl.config import secrets_of
from subctl.config import sqlite_url as sqlite_url  # one path-to-URL conversion
from subctl.errors import Action, AuthError, Conflict, Next, StoreUnavailable, SubctlError
from subctl.schema import (
    STANDARD_PROPERTIES,
    Option,
    Property,
    PropertyRegistry,
    PropType,
)
from subctl.store.sql import schema
from subctl.store.sql.compiler import POSTGRESQL, SQLITE, fold, regexp

if TYPE_CHECKING:
    import sqlalchemy as sa

STREAM_CHUNK = 1000


def _read_only_uri(path: Path) -> str:
    """A read-only SQLite URI. In a directory subctl cannot write, with no ``-wal`` file
    present, SQLite cannot create the WAL index it needs even to read, so the file is opened
    ``immutable``: nothing can be pending in a WAL, and no subctl can write there either."""
    from urllib.parse import quote

    wal = path.with_name(path.name + "-wal")
    mode = "immutable=1" if _no_write_access(path.parent) and not wal.exists() else "mode=ro"
    return f"file:{quote(str(path))}?{mode}"


def parse_url(url: str) -> tuple[str, str | None]:
    """(backend name, database) of a workspace URL: ``("sqlite", path)`` for the URLs
    ``config.workspace_url`` makes, without SQLAlchemy; anything else through SQLAlchemy's
    parser (the URL of a PostgreSQL workspace, a SQLite URL with a query)."""
    from urllib.parse import unquote

    scheme, sep, rest = url.partition("://")
    if sep and scheme.split("+", 1)[0].lower() == "sqlite" and "?" not in rest:
        if rest in ("", "/"):
            return "sqlite", None
        if rest.startswith("/"):
            return "sqlite", unquote(rest[1:])
    if sep and scheme.lower() == PSYCOPG_SCHEME:
        return "postgresql", None  # libpq reads the rest itself (libpq_url)
    import sqlalchemy as sa

    parsed = sa.make_url(url)
    return parsed.get_backend_name(), parsed.database


PSYCOPG_SCHEME = "postgresql+psycopg"  # what config.workspace_url makes of postgresql://


def libpq_url(url: str) -> str:
    """A ``postgresql+psycopg://`` workspace URL as libpq reads it (``postgresql://``)."""
    return "postgresql://" + url.partition("://")[2]


def _is_read_only(exc: BaseException | None) -> bool:
    """SQLITE_READONLY (and its extended codes): a write on a read-only workspace."""
    code = getattr(exc, "sqlite_errorcode", None)
    return isinstance(code, int) and code & 0xFF == 8


def unicode_lower(value: Any) -> Any:
    """``ulower()`` on SQLite: lower case over all of Unicode (``"Éclair"`` -> ``"éclair"``), as
    PostgreSQL's ``lower()`` (``compiler.fold``); SQLite's own ``lower()`` folds ASCII letters
    only. NULL stays NULL."""
    if isinstance(value, str):
        return fold(value)
    if isinstance(value, bytes):
        return value.lower()
    return None if value is None else fold(str(value))


def _sqlite_functions(dbapi_conn: Any, _record: Any) -> None:
    """On every SQLite connection (read-only ones too): REGEXP by RE2, replacing the one that
    SQLAlchemy registers (Python's backtracking ``re``); ``ulower()`` (``unicode_lower``), which
    the query compiler uses where a literal is not ASCII (``store/sql/compiler.py``). SQLite's
    own ``lower()`` stays what it is: indexes on ``lower(column)`` keep meaning what every
    SQLite tool computes, and ASCII matching keeps its speed."""
    dbapi_conn.create_function("regexp", 2, regexp, deterministic=True)
    dbapi_conn.create_function("ulower", 1, unicode_lower, deterministic=True)


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


def _connect_sqlite(target: str, *, read_only: bool) -> Any:
    """A DB-API connection to a SQLite workspace in autocommit mode (each statement its own
    transaction), with the pragmas and functions of the engine's connections."""
    import sqlite3

    conn = sqlite3.connect(target, uri=read_only, isolation_level=None, check_same_thread=False)
    try:
        (_sqlite_read_only_pragmas if read_only else _sqlite_pragmas)(conn, None)
        _sqlite_functions(conn, None)
    except BaseException:
        conn.close()
        raise
    return conn


def describe_url(url: str) -> str:
    """A URL safe to print: the password hidden (the one rule, ``config.shown``)."""
    from subctl.config import shown

    scheme, sep, rest = url.partition("://")
    if scheme.lower() == PSYCOPG_SCHEME:  # the driver is subctl's business: show what was given
        url = f"postgresql{sep}{rest}"
    return shown(url)


def _no_write_access(path: Path) -> bool:
    """Whether subctl must treat ``path`` as read-only: the user may not write it, or its mode
    grants nobody write access (honoured for root too: someone marked it read-only)."""
    return not os.access(path, os.W_OK) or path.stat().st_mode & 0o222 == 0


# What SQLite says (lower case) when the file is not a sound workspace, and what it says when
# another connection holds the lock; anything else is reported as it is.
_DAMAGED = ("not a database", "malformed", "no such table", "no such column", "corrupt", "utf-8")
_LOCKED = ("locked", "busy")


_AUTH = ("password authentication failed", "no password supplied", "permission denied")
_AUTH_STATES = ("28000", "28P01", "42501")  # authorization, password, insufficient privilege


def unavailable(
    url: str, cause: BaseException | str, *, damaged: bool = False
) -> StoreUnavailable | AuthError:
    """A database error as the user can act on it (locked, unreachable, or damaged), naming the
    workspace and, for a damaged file, how to recover."""
    # One line: a driver's further lines (libpq: "Is the server running on that host …?")
    # become the hint where none is given below.
    message = str(cause)
    for secret in secrets_of(url):  # a driver may quote the URL it was given
        message = message.replace(secret, "***")
    first, *more = message.strip().splitlines() or [""]
    text, detail = first.strip(), " ".join(line.strip() for line in more if line.strip())
    lowered = text.lower()
    backend, database = parse_url(url)
    where = database if backend == "sqlite" else describe_url(url)
    state = getattr(cause, "sqlstate", None)
    if backend != "sqlite" and (state in _AUTH_STATES or any(w in lowered for w in _AUTH)):
        return AuthError(
            f"workspace {where}: access denied: {text}",
            hint=detail
            or "check the user name and password (or PGPASSWORD, ~/.pgpass) and the user's"
            " grants on the database",
        )
    if not damaged and any(word in lowered for word in _LOCKED):
        return StoreUnavailable(
            f"workspace {where} is busy: {text}",
            hint="another subctl may hold a lock on it; retry in a moment",
        )
    if damaged or any(word in lowered for word in _DAMAGED):
        if backend != "sqlite":
            return StoreUnavailable(f"workspace {where} is damaged: {text}")
        return StoreUnavailable(
            f"workspace {where} is damaged: {text}",
            next=Next(Action.RECOVER_WORKSPACE, {"where": where}),
        )
    if "unable to open" in lowered:
        return StoreUnavailable(
            f"cannot open workspace {where}: {text}",
            hint="check the path and the permissions of the file and its directory",
        )
    return StoreUnavailable(f"workspace {where} unavailable: {text}", hint=detail or None)


def _create_private(path: Path) -> None:
    """Create an empty workspace file readable by its owner only (SQLite's journal files
    inherit its mode)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    except FileExistsError:  # created meanwhile by a concurrent `init`: theirs is as good
        pass


class Database:
    """A workspace's SQL database.

    ``create=True`` (``init``, ``demo``) creates the workspace or upgrades its schema; other
    opens never change the schema. ``adopt=True`` lets ``create`` add subctl's tables to a
    database that already holds other tables. A SQLite file or directory without write access
    is opened read-only (``read_only``): reading works, writing is ``StoreUnavailable``.
    """

    def __init__(self, url: str, *, create: bool = False, adopt: bool = False) -> None:
        try:
            self._connect(url, create, adopt)
        except OSError as exc:  # the path itself: not a directory, a symlink loop, no permission
            where = parse_url(url)[1] or describe_url(url)
            culprit = f" ({exc.filename})" if exc.filename and exc.filename != where else ""
            raise StoreUnavailable(
                f"cannot open workspace {where}: {exc.strerror or exc}{culprit}",
                next=Next(Action.CHOOSE_WORKSPACE),
            ) from exc

    def _connect(self, url: str, create: bool, adopt: bool) -> None:
        self.url = url
        backend, database = parse_url(url)
        self.is_sqlite = backend == "sqlite"
        self.dialect = SQLITE if self.is_sqlite else POSTGRESQL
        self.mark = "?" if self.is_sqlite else "%s"  # the DB-API placeholder
        self.path: Path | None = None
        self.read_only = False
        self._engine: sa.Engine | None = None
        self._reader: Any = None  # the DB-API connection reads go through
        # PostgreSQL through psycopg: reads use a driver connection of their own, without
        # SQLAlchemy (short read commands import only what the read needs).
        self._direct_postgresql = url.partition("://")[0].lower() == PSYCOPG_SCHEME
        self._engine_url: str | sa.URL = url
        self._sqlite_target = ":memory:"
        if self.is_sqlite and database and database != ":memory:":
            path = self.path = Path(database)
            self._sqlite_target = str(path)
            if path.is_dir():
                raise StoreUnavailable(
                    f"{path} is a directory, not a workspace file",
                    next=Next(Action.NAME_WORKSPACE_FILE, {"path": path}),
                )
            if not path.exists():
                if not create:
                    raise StoreUnavailable(
                        f"no workspace at {path}",
                        next=Next(Action.CREATE_WORKSPACE, {"path": path, "demo": True}),
                    )
                _create_private(path)
            elif _no_write_access(path) or _no_write_access(path.parent):
                self.read_only = True
                self._sqlite_target = _read_only_uri(path)
        elif self.is_sqlite:
            # An in-memory database exists per connection: reads and writes share the engine's.
            self.engine  # noqa: B018
        elif self._direct_postgresql:
            self._psycopg()  # the driver: a missing one is reported now
        else:
            self.engine  # noqa: B018  # the driver: a missing one is reported now
        self._registry: PropertyRegistry | None = None
        self._table: sa.Table | None = None
        with self.errors():
            self._open(create, adopt)
            self._check_schema()

    @property
    def engine(self) -> sa.Engine:
        """The SQLAlchemy engine (writes, migrations, DDL), created on first use."""
        if self._engine is None:
            import sqlalchemy as sa

            if self.read_only:
                self._engine_url = sa.URL.create(
                    "sqlite", database=self._sqlite_target, query={"uri": "true"}
                )
            try:
                engine = sa.create_engine(self._engine_url)
            except ModuleNotFoundError as exc:
                raise self._no_driver(exc) from exc
            except sa.exc.ArgumentError as exc:
                raise StoreUnavailable(
                    f"cannot open workspace {describe_url(self.url)}: {exc}"
                ) from exc
            if self.is_sqlite:
                pragmas = _sqlite_read_only_pragmas if self.read_only else _sqlite_pragmas
                sa.event.listen(engine, "connect", pragmas)
                sa.event.listen(engine, "connect", _sqlite_functions)
            self._engine = engine
        return self._engine

    def _no_driver(self, exc: ModuleNotFoundError) -> StoreUnavailable:
        return StoreUnavailable(
            f"cannot open workspace {describe_url(self.url)}: {exc}",
            next=Next(Action.INSTALL_DRIVER, {"extra": "postgres"}),
        )

    def _psycopg(self) -> Any:
        try:
            import psycopg
        except ModuleNotFoundError as exc:
            raise self._no_driver(exc) from exc
        return psycopg

    @contextmanager
    def reading(self) -> Iterator[Any]:
        """A DB-API cursor for reads (placeholders: ``self.mark``), database errors mapped.
        SQLite and PostgreSQL through psycopg: one connection of this process, in autocommit
        mode; otherwise a connection of the engine's pool, returned (rolled back) afterwards."""
        with self.errors():
            if self._direct_postgresql:
                if self._reader is None:
                    self._reader = self._psycopg().connect(libpq_url(self.url), autocommit=True)
                with self._reader.cursor() as cursor:
                    yield cursor
                return
            if not self.is_sqlite or self._sqlite_target == ":memory:":
                conn = self.engine.raw_connection()
                cursor = conn.cursor()
                try:
                    yield cursor
                finally:
                    cursor.close()
                    conn.close()
                return
            if self._reader is None:
                self._reader = _connect_sqlite(self._sqlite_target, read_only=self.read_only)
            cursor = self._reader.cursor()
            try:
                yield cursor
            finally:
                # A stream left unfinished (a reader of stdout that stopped early) is closed
                # when it is collected, after the store: its cursor went with the connection.
                with suppress(sqlite3.ProgrammingError):
                    cursor.close()

    def _where_hint(self) -> str:
        return describe_url(self.url) if self.path is None else str(self.path)

    def _next(self, action: Action) -> Next:
        """A next step about this workspace (e.g. ``init`` it): its file, or its URL (password
        masked) when it is not a file."""
        where: Path | str | None = self.path
        if where is None and not (self.is_sqlite and self._sqlite_target == ":memory:"):
            where = describe_url(self.url)
        return Next(action, {"path": where})

    def _tables(self, cursor: Any) -> set[str]:
        if self.is_sqlite:
            cursor.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite~_%'"
                " ESCAPE '~'"
            )
        else:
            cursor.execute(
                "SELECT tablename FROM pg_catalog.pg_tables WHERE schemaname = current_schema()"
            )
        return {str(row[0]) for row in cursor.fetchall()}

    def _open(self, create: bool, adopt: bool) -> None:
        with self.reading() as cursor:
            tables = self._tables(cursor)
            done: set[str] = set()
            if schema.MIGRATIONS_TABLE in tables:
                cursor.execute(f"SELECT name FROM {schema.MIGRATIONS_TABLE}")
                done = {str(row[0]) for row in cursor.fetchall()}
            foreign = not done and bool(tables)
        where = self._where_hint()
        newer = done - set(schema.MIGRATIONS)
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
                    next=self._next(Action.CREATE_WORKSPACE),
                )
            if foreign and not adopt:
                raise StoreUnavailable(
                    f"{where} is a database with other tables, not a subctl workspace",
                    next=self._next(Action.ADOPT_WORKSPACE),
                )
            taken = sorted(tables & ({schema.MIGRATIONS_TABLE} | set(schema.TABLE_BY_NAME)))
            if taken:
                # Adopting adds subctl's tables next to the others: one of the same name would
                # be taken for subctl's (or stop the migration half-way). Nothing is created.
                named = (
                    f"a table named {taken[0]} already exists and is not subctl's"
                    if len(taken) == 1
                    else f"tables named {', '.join(taken)} already exist and are not subctl's"
                )
                raise StoreUnavailable(
                    f"{where}: {named}; subctl cannot add its tables to this database",
                    hint="choose another database, or rename or drop "
                    + ("that table" if len(taken) == 1 else "those tables"),
                )
        if len(done) < len(schema.MIGRATIONS):
            if not create:
                # Only `init` and `demo` change the schema: a reading verb must not write.
                raise StoreUnavailable(
                    f"{where} was created by an older subctl and needs a schema upgrade",
                    next=self._next(Action.UPGRADE_WORKSPACE),
                )
            from subctl.store.sql import migrations

            migrations.migrate(self.engine)

    def _check_schema(self) -> None:
        """A workspace that lacks a table or column the migrations (or a custom property)
        create is damaged: ``StoreUnavailable`` naming the first one missing, before any verb
        runs into it. One catalogue query for every table's columns, and the definitions."""
        with self.reading() as cursor:
            present = _columns(cursor, self.is_sqlite)

        def check(name: str, columns: Sequence[str]) -> None:
            missing = [c for c in columns if c not in present.get(name, ())]
            if name not in present:
                raise unavailable(self.url, f"table {name} is missing", damaged=True)
            if missing:
                raise unavailable(self.url, f"column {name}.{missing[0]} is missing", damaged=True)

        for table in schema.TABLES:
            if table.name != "subscriptions":
                check(table.name, [c.name for c in table.columns])
        # after the definitions: its columns follow from them
        check("subscriptions", [p.column for p in self.properties()])

    def repair_indexes(self) -> list[str]:
        """Recreate the indexes a SQLite workspace should have and lacks (those of the
        migrations and of custom properties, e.g. after an interrupted bulk load of an older
        subctl); return their names. A unique property whose values are no longer unique is a
        ``Conflict``, and nothing is recreated."""
        if not self.is_sqlite:
            return []
        import sqlalchemy as sa

        expected = dict(migration_indexes())
        for prop in self.properties():
            if not prop.hubspot_defined:
                index = property_index(prop)
                assert index.name is not None
                expected[index.name] = str(
                    sa.schema.CreateIndex(index).compile(dialect=self.engine.dialect)
                )
        sql = "SELECT name FROM sqlite_master WHERE type = 'index'"
        with self.errors(), self.engine.connect() as conn:
            if set(expected) <= {row[0] for row in conn.exec_driver_sql(sql)}:
                return []
        with self.errors(), self.engine.begin() as conn:
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
                        next=Next(Action.FIND_DUPLICATES, {"property": prop_name}),
                    ) from exc
        return missing

    def require_writable(self) -> None:
        """``StoreUnavailable`` (the read-only message) unless the workspace can be written."""
        if self.read_only:
            raise self._read_only_error()

    def _read_only_error(self) -> StoreUnavailable:
        return StoreUnavailable(
            f"the workspace {self._where_hint()} is read-only",
            next=Next(Action.WORK_ON_COPY),
        )

    @contextmanager
    def errors(self) -> Iterator[None]:
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
        DB-API cursor (reads, bulk paths); None for anything else."""
        if _lost_race(exc):
            return changed_elsewhere_race()
        if self._engine is not None:
            import sqlalchemy as sa

            if _is_read_only(exc.orig if isinstance(exc, sa.exc.DBAPIError) else exc):
                return self._read_only_error()  # a write on a workspace opened read-only
            if isinstance(exc, sa.exc.IntegrityError):
                return Conflict(f"conflict in the workspace: {exc.orig}")
            if isinstance(exc, sa.exc.DatabaseError):  # OperationalError included
                return unavailable(self.url, exc.orig or exc)
        if _is_read_only(exc):
            return self._read_only_error()
        dbapi = self.dbapi()
        if isinstance(exc, dbapi.IntegrityError):
            return _conflict(str(exc))
        if isinstance(exc, dbapi.DatabaseError):
            return unavailable(self.url, exc)
        return None

    def dbapi(self) -> Any:
        """The DB-API module of the database's driver."""
        if self.is_sqlite:
            import sqlite3

            return sqlite3
        if self._direct_postgresql:
            return self._psycopg()
        return self.engine.dialect.loaded_dbapi

    def close(self) -> None:
        if self._reader is not None:
            self._reader.close()
            self._reader = None
        if self._engine is not None:
            self._engine.dispose()

    # -- properties -----------------------------------------------------------------------

    def properties(self) -> PropertyRegistry:
        if self._registry is None:
            columns = [c.name for c in schema.DEFINITIONS.columns]
            with self.reading() as cursor:
                cursor.execute(f"SELECT {', '.join(columns)} FROM property_definitions")
                custom = [custom_property(_Row(columns, row)) for row in cursor.fetchall()]
            self._registry = PropertyRegistry([*STANDARD_PROPERTIES, *custom])
        return self._registry

    def table(self) -> sa.Table:
        """The ``subscriptions`` table with a column per known property (SQLAlchemy)."""
        if self._table is None:
            self._table = schema.subscriptions_table(self.properties())
        return self._table

    def invalidate(self) -> None:
        """Forget the property definitions (after a change to them)."""
        self._registry = None
        self._table = None

    def cursor(self, conn: sa.Connection) -> tuple[Any, str]:
        """The DB-API cursor of ``conn`` and its parameter placeholder (bulk paths)."""
        mark = "?" if self.engine.dialect.paramstyle == "qmark" else "%s"
        return conn.connection.cursor(), mark


class _Row:
    """A DB-API row with its columns as attributes."""

    def __init__(self, names: Sequence[str], values: Sequence[Any]) -> None:
        self.__dict__.update(zip(names, values, strict=True))

    def __getattr__(self, name: str) -> Any:
        raise AttributeError(name)


def custom_property(row: Any) -> Property:
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


# -- helpers of the record store and the workspace ---------------------------------

ID_CHUNK = 1000  # ids per IN (...) list: far below every backend's bound-parameter limit


@functools.lru_cache(maxsize=16)  # a chunk shares one timestamp
def ms(value: dt.datetime) -> int:
    return datetime_to_ms(value)


def chunks(ids: Sequence[int]) -> Iterator[Sequence[int]]:
    for start in range(0, len(ids), ID_CHUNK):
        yield ids[start : start + ID_CHUNK]


# PostgreSQL's answers when two transactions wanted the same rows: a deadlock (each waits for
# the other; one is rolled back) or a serialization failure. Nothing of that transaction was
# written, so it is a ``Conflict``: the batch engine reads the chunk again and decides anew,
# rather than stopping with "workspace unavailable".
_RACE_STATES = ("40P01", "40001")


def _lost_race(exc: BaseException) -> bool:
    cause: BaseException | None = exc
    for _ in range(3):  # the driver's error, possibly wrapped by SQLAlchemy
        if cause is None:
            return False
        if getattr(cause, "sqlstate", None) in _RACE_STATES:
            return True
        cause = getattr(cause, "orig", None) or cause.__cause__
    return False


def changed_elsewhere_race() -> Conflict:
    return Conflict(
        "another process wrote the same rows at the same time; nothing was written",
        next=Next(Action.RETRY_BATCH),
    )


def changed_elsewhere(expected: int, done: int, what: str) -> Conflict:
    return Conflict(
        f"{expected - done} of {expected} {what} changed while the batch ran; nothing was written",
        next=Next(Action.RETRY_BATCH),
    )


ROWS_PER_INSERT = 100  # multi-row INSERT ... VALUES: a third faster than one row per step
# PostgreSQL: from this many rows on, COPY (its start and end are round trips of their own: a
# few rows, an item-by-item unit's, go faster as one INSERT)
COPY_MIN = 200


def insert_many(
    cursor: Any, mark: str, table: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]
) -> None:
    insert_flat(cursor, mark, table, columns, [value for row in rows for value in row])


def insert_flat(
    cursor: Any, mark: str, table: str, columns: Sequence[str], values: Sequence[Any]
) -> None:
    """Insert rows given as one flat list of values, with multi-row ``VALUES`` lists
    (``ROWS_PER_INSERT`` rows a statement)."""
    width = len(columns)
    count = len(values) // width
    if not count:
        return
    if count >= COPY_MIN and mark != "?" and hasattr(cursor, "copy"):
        copy_flat(cursor, table, columns, values)
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


def copy_flat(cursor: Any, table: str, columns: Sequence[str], values: Sequence[Any]) -> None:
    """PostgreSQL through psycopg 3: the rows by ``COPY … FROM STDIN``, one stream (a 100,000-item
    cancel's half million history rows: a third of the time of multi-row INSERTs, which the
    server parses and plans a statement at a time). Constraint violations are raised as an
    INSERT's would be."""
    width = len(columns)
    with cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
        write = copy.write_row
        for start in range(0, len(values), width):
            write(values[start : start + width])


def _columns(cursor: Any, is_sqlite: bool) -> dict[str, set[str]]:
    """The columns of every table of the database, by table: one catalogue query."""
    if is_sqlite:
        cursor.execute(
            "SELECT m.name, p.name FROM sqlite_master AS m JOIN pragma_table_info(m.name) AS p"
            " WHERE m.type = 'table'"
        )
    else:
        cursor.execute(
            "SELECT table_name, column_name FROM information_schema.columns"
            " WHERE table_schema = current_schema()"
        )
    present: dict[str, set[str]] = {}
    for table, column in cursor.fetchall():
        present.setdefault(str(table), set()).add(str(column))
    return present


def put_setting(conn: sa.Connection, key: str, value: str) -> None:
    """Set a workspace setting within the connection's transaction."""
    import sqlalchemy as sa

    settings = schema.workspace_settings
    conn.execute(sa.delete(settings).where(settings.c.key == key))
    conn.execute(sa.insert(settings).values(key=key, value=value))


CUSTOM_INDEX = "ix_subscriptions_cp_{name}"


@functools.cache
def migration_indexes() -> tuple[tuple[str, str], ...]:
    """(name, DDL) of every index the migrations create, from a replay in memory."""
    import sqlalchemy as sa

    from subctl.store.sql import migrations

    engine = sa.create_engine("sqlite://")
    migrations.migrate(engine)
    with engine.connect() as conn:
        rows = conn.exec_driver_sql(
            "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL"
            " ORDER BY name"
        ).all()
    engine.dispose()
    return tuple((str(name), str(sql)) for name, sql in rows)


def property_index(prop: Property) -> sa.Index:
    import sqlalchemy as sa

    column = sa.Column(prop.column, schema.column_type(prop.type))
    sa.Table("subscriptions", sa.MetaData(), column)
    indexed = sa.func.lower(column) if prop.type is PropType.STRING else column
    return sa.Index(CUSTOM_INDEX.format(name=prop.name), indexed, unique=prop.unique)


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
