"""Reading: search, count, get, views."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from subctl.errors import NotFound
from subctl.query.ast import Condition, Op, Query, Sort
from subctl.store.base import SavedView, Store


def test_search_filters_sorts_and_limits(store: Store) -> None:
    query = Query(
        where=Condition("hs_status", Op.IN, ("active", "unpaid", "paused")),
        sort=Sort("hs_next_payment_due_date", descending=True),
        limit=2,
    )
    assert [s.id for s in store.search(query)] == [104, 101]


def test_search_projects_fields_and_types_values(store: Store) -> None:
    (sub,) = store.search(
        Query(where=Condition("hs_object_id", Op.EQ, (102,))),
        ["hs_next_payment_due_date", "hs_mrr"],
    )
    assert sub.properties == {
        "hs_object_id": 102,
        "hs_next_payment_due_date": dt.date(2026, 11, 20),
        "hs_mrr": Decimal("25.00"),
    }


def test_count(store: Store) -> None:
    assert store.count() == 4
    assert store.count(Condition("hs_status", Op.EQ, ("canceled",))) == 1


def test_get_and_not_found(store: Store) -> None:
    assert store.get(103).properties["hs_name"] == "Gamma weekly"
    assert store.get(103).status == "canceled"
    with pytest.raises(NotFound, match="subscription 999 not found"):
        store.get(999)


def test_views_builtin_and_saved(store: Store) -> None:
    assert [v.name for v in store.views() if v.builtin] == ["scheduled", "unpaid"]
    store.save_view(SavedView("mine", "status = paused", ("id", "name"), "name"))
    assert store.get_view("mine") == SavedView("mine", "status = paused", ("id", "name"), "name")
    store.delete_view("mine")
    with pytest.raises(NotFound):
        store.get_view("mine")
