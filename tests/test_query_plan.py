"""The common queries use indexes (EXPLAIN QUERY PLAN on the compiled SQL)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from subctl.query.ast import Query, Sort
from subctl.query.parser import parse
from subctl.store.sql import open_local, sqlite_url
from subctl.store.sql.compiler import compile_where, select_sql
from subctl.store.sql.records import SqlRecordStore

TODAY = dt.date(2026, 11, 26)


@pytest.fixture
def store(tmp_path: Path) -> SqlRecordStore:
    return open_local(sqlite_url(tmp_path / "w.db"), create=True).records


def plan(store: SqlRecordStore, where: str, sort: str | None = None) -> str:
    registry = store.properties()
    expr = parse(where, registry, today=TODAY)
    fields = [registry.get(name) for name in ("hs_object_id", "hs_name")]
    query = Query(where=expr, sort=Sort(sort) if sort else None)
    sql = select_sql(query, [p for p in fields if p is not None], registry)
    if not sort:  # the order by id alone: what the filter's index gives
        sql.text = sql.text.replace(" ORDER BY hs_object_id", "")
    with store.db.reading() as cursor:
        cursor.execute("EXPLAIN QUERY PLAN " + sql.text, sql.params)
        rows = cursor.fetchall()
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
def test_common_queries_use_an_index(store: SqlRecordStore, where: str, index: str) -> None:
    assert f"INDEX {index}" in plan(store, where)


def test_list_unpaid_sorted_by_due_date_needs_no_sort_step(store: SqlRecordStore) -> None:
    text = plan(store, "status = unpaid", sort="hs_next_payment_due_date")
    assert "ix_subscriptions_status_due" in text
    assert "TEMP B-TREE" not in text


def test_values_are_bound_never_inlined(store: SqlRecordStore) -> None:
    expr = parse('name ~ "x\'; drop table subscriptions; --"', store.properties(), today=TODAY)
    sql = compile_where(expr, store.properties())
    assert "drop table" not in sql.text.lower()
    assert any("drop table" in str(p) for p in sql.params)
    assert list(store.search(Query(where=expr, sort=Sort("hs_name")))) == []
