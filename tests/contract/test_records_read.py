"""The record-store contract, reading: search, count, get."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from subctl.errors import NotFound
from subctl.query.ast import Condition, Op, Query, Sort
from subctl.store.base import RecordStore


def test_search_filters_sorts_and_limits(records: RecordStore) -> None:
    query = Query(
        where=Condition("hs_status", Op.IN, ("active", "unpaid", "paused")),
        sort=Sort("hs_next_payment_due_date", descending=True),
        limit=2,
    )
    assert [s.id for s in records.search(query)] == [104, 101]


def test_search_projects_fields_and_types_values(records: RecordStore) -> None:
    (sub,) = records.search(
        Query(where=Condition("hs_object_id", Op.EQ, (102,))),
        ["hs_next_payment_due_date", "hs_mrr"],
    )
    assert sub.properties == {
        "hs_object_id": 102,
        "hs_next_payment_due_date": dt.date(2026, 11, 20),
        "hs_mrr": Decimal("25.00"),
    }


def test_count(records: RecordStore) -> None:
    assert records.count() == 4
    assert records.count(Condition("hs_status", Op.EQ, ("canceled",))) == 1


def test_get_and_not_found(records: RecordStore) -> None:
    assert records.get(103).properties["hs_name"] == "Gamma weekly"
    assert records.get(103).status == "canceled"
    with pytest.raises(NotFound, match="subscription 999 not found"):
        records.get(999)
