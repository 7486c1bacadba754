"""The common queries use indexes (EXPLAIN QUERY PLAN on the compiled SQL)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
import sqlalchemy as sa

from subctl.query.ast import Query, Sort
from subctl.query.parser import parse
from subctl.store.sql import SqlStore, sqlite_url

TODAY = dt.date(2026, 11, 26)


@pytest.fixture
def store(tmp_path: Path) -> SqlStore:
    return SqlStore(sqlite_url(tmp_path / "w.db"), create=True)


def plan(store: SqlStore, where: str, sort: str | None = None) -> str:
    expr = parse(where, store.properties(), today=TODAY)
    stmt, _ = store._select(["hs_name"])
    stmt = store._where(stmt, expr)
    if sort:
        stmt = stmt.order_by(store.table().c[sort])
    compiled = stmt.compile(
        dialect=store.engine.dialect, compile_kwargs={"render_postcompile": True}
    )
    params = tuple(compiled.params[name] for name in compiled.positiontup or ())
    with store.engine.connect() as conn:
        rows = conn.exec_driver_sql("EXPLAIN QUERY PLAN " + str(compiled), params).all()
    return " | ".join(str(r[-1]) for r in rows)


@pytest.mark.parametrize(
    ("where", "index"),
    [
        ("status = unpaid", "ix_subscriptions_status_due"),
        ("status in (unpaid, past_due) and next_payment_due_date < +7d",
         "ix_subscriptions_status_due"),
        ("next_payment_due_date between today and +30d", "ix_subscriptions_due"),
        ("canceled_at > -60d", "ix_subscriptions_canceled_at"),
        ("associations.contact = 4211", "ix_associations_object"),
    ],
)  # fmt: skip
def test_common_queries_use_an_index(store: SqlStore, where: str, index: str) -> None:
    assert f"INDEX {index}" in plan(store, where)


def test_list_unpaid_sorted_by_due_date_needs_no_sort_step(store: SqlStore) -> None:
    text = plan(store, "status = unpaid", sort="hs_next_payment_due_date")
    assert "ix_subscriptions_status_due" in text
    assert "TEMP B-TREE" not in text


def test_values_are_bound_never_inlined(store: SqlStore) -> None:
    expr = parse('name ~ "x\'; drop table subscriptions; --"', store.properties(), today=TODAY)
    stmt = store._where(sa.select(store.table().c.hs_object_id), expr)
    sql = str(stmt.compile(dialect=store.engine.dialect))
    assert "drop table" not in sql.lower()
    assert list(store.search(Query(where=expr, sort=Sort("hs_name")))) == []
