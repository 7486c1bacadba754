"""The SQL backend: SQLite (local workspace) and PostgreSQL (team workspace).

``open_local(url)`` opens one database and returns the record store and the workspace over it
(``LocalBackend``): one engine, one registry of property definitions.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from subctl.config import sqlite_url as sqlite_url  # one path-to-URL conversion
from subctl.store.base import ItemOutcome
from subctl.store.ops import Op
from subctl.store.sql.billing import SqlBilling
from subctl.store.sql.database import Database
from subctl.store.sql.database import describe_url as describe_url
from subctl.store.sql.records import SqlRecordStore
from subctl.store.sql.reports import SqlReports
from subctl.store.sql.workspace import SqlWorkspace


@dataclass(frozen=True, slots=True)
class LocalBackend:
    """A local profile's stores: both over one database."""

    db: Database
    records: SqlRecordStore
    workspace: SqlWorkspace
    unit: SqlUnitOfWork
    billing: SqlBilling
    reports: SqlReports

    def close(self) -> None:
        self.db.close()


def open_local(url: str, *, create: bool = False, adopt: bool = False) -> LocalBackend:
    """Open the workspace database at ``url`` (see ``Database`` for ``create`` and ``adopt``)."""
    db = Database(url, create=create, adopt=adopt)
    records = SqlRecordStore(db)
    return LocalBackend(
        db, records, SqlWorkspace(db), SqlUnitOfWork(records), SqlBilling(records), SqlReports(db)
    )


class SqlUnitOfWork:
    """The ``UnitOfWork`` of a local profile: a chunk's operations and its journal outcomes in
    one transaction of the database both stores share (nothing is ever in doubt)."""

    def __init__(self, records: SqlRecordStore) -> None:
        self.records = records

    def write(self, job_id: int, ops: Sequence[Op], outcomes: Sequence[ItemOutcome]) -> None:
        self.records.execute(ops, job_id=job_id, outcomes=outcomes)

    def in_doubt(self, job_id: int) -> set[int]:
        return set()
