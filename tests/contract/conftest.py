"""The store contract suite: every test here runs against every Store implementation.

Add a backend by adding a parameter to ``store``; today: the SQL store on SQLite and on
PostgreSQL (a fresh database per test on the test server, tests/pg.py). The remote
HubSpot store joins with a fake HubSpot server.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest

from subctl.config import workspace_url
from subctl.schema import standard_registry
from subctl.store.base import Store
from subctl.store.sql import SqlStore, sqlite_url

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


def _seed(store: SqlStore) -> SqlStore:
    registry = standard_registry()
    props = [registry.get(c) for c in CONTRACT_COLUMNS]
    store.bulk_insert(
        "subscriptions",
        CONTRACT_COLUMNS,
        [[p.to_storage(v) for p, v in zip(props, row, strict=True)] for row in CONTRACT_ROWS],  # type: ignore[union-attr]
    )
    return store


def _sqlite(request: pytest.FixtureRequest, tmp_path: Path) -> SqlStore:
    return SqlStore(sqlite_url(tmp_path / "contract.db"), create=True)


def _postgresql(request: pytest.FixtureRequest, tmp_path: Path) -> SqlStore:
    url: str = request.getfixturevalue("pg_url")  # a fresh database on the test server
    return SqlStore(workspace_url(url), create=True)


BACKENDS = {"sqlite": _sqlite, "postgresql": _postgresql}


@pytest.fixture(params=list(BACKENDS))
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    """A store holding CONTRACT_ROWS (ids 101-104), one per backend."""
    backend = _seed(BACKENDS[request.param](request, tmp_path))
    yield backend
    backend.close()
