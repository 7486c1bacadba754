"""Migrations: recorded, idempotent, and in step with the SQLModel models."""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa

from subctl.store import migrations
from subctl.store.models import MODEL_TABLES
from subctl.store.sql import SqlStore, sqlite_url


def test_migrate_records_and_is_idempotent(tmp_path: Path) -> None:
    engine = sa.create_engine(sqlite_url(tmp_path / "w.db"))
    assert migrations.migrate(engine) == [m.__name__ for m in migrations.MIGRATIONS]
    assert migrations.migrate(engine) == []
    with engine.connect() as conn:
        assert migrations.applied(conn) == {m.__name__ for m in migrations.MIGRATIONS}


def test_schema_matches_models(tmp_path: Path) -> None:
    store = SqlStore(sqlite_url(tmp_path / "w.db"), create=True)
    inspector = sa.inspect(store.engine)
    for model in MODEL_TABLES:
        table = model.__table__  # type: ignore[attr-defined]
        actual = {c["name"] for c in inspector.get_columns(table.name)}
        assert actual == {c.name for c in table.columns}, table.name
    columns = {c["name"] for c in inspector.get_columns("subscriptions")}
    assert columns == {p.column for p in store.properties()}


def test_status_and_due_date_are_indexed(tmp_path: Path) -> None:
    store = SqlStore(sqlite_url(tmp_path / "w.db"), create=True)
    with store.engine.connect() as conn:
        plan = conn.exec_driver_sql(
            "EXPLAIN QUERY PLAN SELECT hs_object_id FROM subscriptions WHERE hs_status = ? "
            "ORDER BY hs_next_payment_due_date LIMIT 50",
            ("unpaid",),
        ).all()
    assert "INDEX ix_subscriptions_status_due" in " ".join(str(r[-1]) for r in plan)


def test_opening_a_missing_workspace_does_not_create_it(tmp_path: Path) -> None:
    import pytest

    from subctl.errors import StoreUnavailable

    with pytest.raises(StoreUnavailable):
        SqlStore(sqlite_url(tmp_path / "nope.db"))
    assert not (tmp_path / "nope.db").exists()
