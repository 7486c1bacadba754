"""The SQL backend: SQLite (local workspace) and PostgreSQL (team workspace).

``open_local(url)`` opens one database and returns the record store and the workspace over it
(``LocalBackend``): one engine, one registry of property definitions.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from subctl.config import sqlite_url as sqlite_url  # one path-to-URL conversion
from subctl.store.base import ItemOutcome, SubscriptionDetail
from subctl.store.ops import Op
from subctl.store.sql.database import Database
from subctl.store.sql.database import describe_url as describe_url
from subctl.store.sql.records import SqlRecordStore
from subctl.store.sql.workspace import SqlWorkspace

if TYPE_CHECKING:
    import sqlalchemy as sa


@dataclass(frozen=True, slots=True)
class LocalBackend:
    """A local profile's stores: both over one database."""

    db: Database
    records: SqlRecordStore
    workspace: SqlWorkspace
    both: SqlStore
    unit: SqlUnitOfWork

    def close(self) -> None:
        self.db.close()


def open_local(url: str, *, create: bool = False, adopt: bool = False) -> LocalBackend:
    """Open the workspace database at ``url`` (see ``Database`` for ``create`` and ``adopt``)."""
    db = Database(url, create=create, adopt=adopt)
    records = SqlRecordStore(db)
    return LocalBackend(db, records, SqlWorkspace(db), SqlStore.over(db), SqlUnitOfWork(records))


class SqlUnitOfWork:
    """The ``UnitOfWork`` of a local profile: a chunk's operations and its journal outcomes in
    one transaction of the database both stores share (nothing is ever in doubt)."""

    def __init__(self, records: SqlRecordStore) -> None:
        self.records = records

    def write(self, job_id: int, ops: Sequence[Op], outcomes: Sequence[ItemOutcome]) -> None:
        self.records.execute(ops, job_id=job_id, outcomes=outcomes)

    def in_doubt(self, job_id: int) -> set[int]:
        return set()


class SqlStore(SqlRecordStore, SqlWorkspace):
    """The record store and the workspace of one database as one object (``base.Store``), for
    services that still take both together."""

    def __init__(self, url: str, *, create: bool = False, adopt: bool = False) -> None:
        super().__init__(Database(url, create=create, adopt=adopt))

    @classmethod
    def over(cls, db: Database) -> SqlStore:
        store = cls.__new__(cls)
        SqlRecordStore.__init__(store, db)
        return store

    @property
    def engine(self) -> sa.Engine:
        return self.db.engine

    def table(self) -> sa.Table:
        return self.db.table()

    def bulk_insert(self, table: str, columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> int:
        return self.seed(table, columns, rows)

    def detail(self, sub_id: int) -> SubscriptionDetail:
        detail = SqlRecordStore.detail(self, sub_id)
        detail.outbox = self.outbox(sub_id)
        return detail

    def close(self) -> None:
        self.db.close()
