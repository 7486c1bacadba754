"""The contract suites: ``test_records*.py`` for every ``RecordStore`` (what HubSpot can also
satisfy: it joins with a fake HubSpot server), ``test_workspace*.py`` for every ``Workspace``.

A backend is a factory of (record store, workspace, local unit of work); record stores are
filled through the backend-neutral ``seed(rows)`` hook (rows of typed property values), never
through SQL. Add a backend by adding it to ``BACKENDS``; today: the SQL stores on SQLite
and on PostgreSQL (a fresh database per test on the test server, tests/pg.py), and
``HttpStore`` over the fake HubSpot server (``tests/fakehub``, in process through
``httpx.MockTransport``, on a virtual clock) with a local SQLite workspace and ``ItemByItem``.
What a remote store cannot do is a capability (``store.base.Capabilities``) the tests read.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from subctl.config import workspace_url
from subctl.store.base import RecordStore, UnitOfWork, Workspace
from subctl.store.sql import open_local, sqlite_url

CONTRACT_COLUMNS = [
    "hs_object_id",
    "hs_name",
    "hs_status",
    "hs_next_payment_due_date",
    "hs_mrr",
    "hs_recurring_billing_frequency",
    "hs_last_payment_amount",
]
CONTRACT_ROWS = [
    (101, "Alpha monthly", "active", dt.date(2026, 12, 1), Decimal("10.00"), "monthly",
     Decimal("10.00")),
    (102, "Beta annual", "unpaid", dt.date(2026, 11, 20), Decimal("25.00"), "annually",
     Decimal("300.00")),
    (103, "Gamma weekly", "canceled", None, Decimal("0.00"), "weekly", Decimal("7.00")),
    (104, "Delta quarterly", "paused", dt.date(2027, 1, 15), Decimal("20.00"), "quarterly",
     Decimal("60.00")),
]  # fmt: skip

SEEDED_AT = dt.datetime(2020, 1, 1, tzinfo=dt.UTC)  # the http backend's seeded records' stamp
Seed = Callable[[Sequence[Mapping[str, Any]]], None]


@dataclass
class Backend:
    records: RecordStore
    workspace: Workspace
    unit: UnitOfWork  # the backend's own unit of work
    seed: Seed  # subscriptions from rows of typed values (property name -> value)
    close: Callable[[], None]


def _local(url: str) -> Backend:
    local = open_local(url, create=True)

    def seed(rows: Sequence[Mapping[str, Any]]) -> None:
        registry = local.records.properties()
        for names in dict.fromkeys(tuple(row) for row in rows):
            props = [registry.get(n) for n in names]
            stored = [
                [p.to_storage(row[p.name]) for p in props if p is not None]
                for row in rows
                if tuple(row) == names
            ]
            local.records.seed("subscriptions", [p.column for p in props if p], stored)

    return Backend(local.records, local.workspace, local.unit, seed, local.close)


def _sqlite(request: pytest.FixtureRequest, tmp_path: Path) -> Backend:
    return _local(sqlite_url(tmp_path / "contract.db"))


def _postgresql(request: pytest.FixtureRequest, tmp_path: Path) -> Backend:
    url: str = request.getfixturevalue("pg_url")  # a fresh database on the test server
    return _local(workspace_url(url))


class VirtualClock:
    """Seconds that pass only when someone sleeps: the client's pacing and the fake's rate
    windows agree, and a test never waits."""

    def __init__(self) -> None:
        self.now = 1_000.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += max(seconds, 0.0)


def _http(request: pytest.FixtureRequest, tmp_path: Path) -> Backend:
    from subctl.store.http.client import HubSpotClient
    from subctl.store.http.records import HttpStore
    from subctl.store.unit import ItemByItem
    from tests.fakehub import FakeHubSpot

    clock = VirtualClock()
    fake = FakeHubSpot(clock=clock)
    client = HubSpotClient("https://api.hubapi.com", "pat-test-token", tier="professional",
                           transport=fake.transport, clock=clock, sleep=clock.sleep)  # fmt: skip
    records = HttpStore(client)
    local = open_local(sqlite_url(tmp_path / "workspace.db"), create=True)

    def seed(rows: Sequence[Mapping[str, Any]]) -> None:
        # HubSpot stamps every record; a seeded one was last changed long ago (a SQL store's
        # seeded rows have no stamp), unless the row says when
        fake.seed([{"hs_lastmodifieddate": SEEDED_AT, **row} for row in rows])

    def close() -> None:
        records.close()
        local.close()

    return Backend(records, local.workspace, ItemByItem(records, local.workspace), seed, close)


BACKENDS: dict[str, Callable[[pytest.FixtureRequest, Path], Backend]] = {
    "sqlite": _sqlite,
    "postgresql": _postgresql,
    "http": _http,
}


@pytest.fixture(params=sorted(BACKENDS))
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Backend]:
    """One backend, its record store holding CONTRACT_ROWS (ids 101-104)."""
    made = BACKENDS[request.param](request, tmp_path)
    made.seed([dict(zip(CONTRACT_COLUMNS, row, strict=True)) for row in CONTRACT_ROWS])
    yield made
    made.close()


@pytest.fixture
def records(backend: Backend) -> RecordStore:
    return backend.records


@pytest.fixture
def workspace(backend: Backend) -> Workspace:
    return backend.workspace


@pytest.fixture
def seed(backend: Backend) -> Seed:
    return backend.seed


@pytest.fixture(params=["own", "item-by-item"])
def unit(request: pytest.FixtureRequest, backend: Backend) -> UnitOfWork:
    """Both units of work over the backend: its own, and the generic item-by-item one."""
    if request.param == "own":
        return backend.unit
    from subctl.store.unit import ItemByItem

    return ItemByItem(backend.records, backend.workspace)
