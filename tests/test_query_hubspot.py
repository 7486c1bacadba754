"""Compiling queries to CRM search filterGroups: golden JSON, DNF expansion, HubSpot's limits."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from subctl.errors import UsageError
from subctl.query.ast import And, Condition, Expr, Not, Op, Or
from subctl.query.parser import parse
from subctl.schema import STANDARD_PROPERTIES, Option, Property, PropertyRegistry, PropType
from subctl.store.http.search import (
    MAX_FILTERS,
    MAX_FILTERS_PER_GROUP,
    MAX_GROUPS,
    QueryTooComplex,
    to_filter_groups,
)

AUTO_RENEW = Property(
    "auto_renew", "Auto renew", PropType.BOOL, "booleancheckbox", hubspot_defined=False
)
REGISTRY = PropertyRegistry([*STANDARD_PROPERTIES, AUTO_RENEW])
TODAY = dt.date(2024, 3, 15)
JAN_5 = "1704412800000"  # 2024-01-05T00:00:00Z in epoch milliseconds
JAN_5_LAST_MS = "1704499199999"  # 2024-01-05T23:59:59.999Z


def groups(text: str) -> list[dict[str, Any]]:
    return to_filter_groups(parse(text, REGISTRY, today=TODAY), REGISTRY)


def one(text: str) -> dict[str, Any]:
    """The single filter a query compiles to."""
    (group,) = groups(text)
    (found,) = group["filters"]
    assert isinstance(found, dict)
    return found


def f(name: str, op: str, value: str | None = None, **extra: Any) -> dict[str, Any]:
    found: dict[str, Any] = {"propertyName": name, "operator": op}
    if value is not None:
        found["value"] = value
    return found | extra


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("status = active", f("hs_status", "EQ", "active")),
        ("status != Active", f("hs_status", "NEQ", "active")),
        ("mrr < 100", f("hs_mrr", "LT", "100")),
        ("mrr <= 99.5", f("hs_mrr", "LTE", "99.5")),
        ("mrr > 1e3", f("hs_mrr", "GT", "1000")),
        ("mrr >= 0.10", f("hs_mrr", "GTE", "0.10")),
        ("mrr between 100 and 500", f("hs_mrr", "BETWEEN", "100", highValue="500")),
        ("status in (unpaid, past_due)", f("hs_status", "IN", values=["unpaid", "past_due"])),
        ("status not in (Canceled)", f("hs_status", "NOT_IN", values=["canceled"])),
        ("name in (Acme, 'FOO Inc')", f("hs_name", "IN", values=["acme", "foo inc"])),
        ("name not in (Acme)", f("hs_name", "NOT_IN", values=["acme"])),
        ("name = 'Acme Corp'", f("hs_name", "EQ", "Acme Corp")),
        ("has payment_method", f("hs_payment_method", "HAS_PROPERTY")),
        ("payment_method is empty", f("hs_payment_method", "NOT_HAS_PROPERTY")),
        ("not has mrr", f("hs_mrr", "NOT_HAS_PROPERTY")),
        ("name ~ '*@hubspot.com'", f("hs_name", "CONTAINS_TOKEN", "*@hubspot.com")),
        ("name !~ Acme*", f("hs_name", "NOT_CONTAINS_TOKEN", "Acme*")),
        ("due = 2024-01-05", f("hs_next_payment_due_date", "EQ", JAN_5)),
        ("due < -60d", f("hs_next_payment_due_date", "LT", "1705276800000")),
        ("created = 2024-01-05", f("hs_createdate", "BETWEEN", JAN_5, highValue=JAN_5_LAST_MS)),
        ("created > 2024-01-05", f("hs_createdate", "GT", JAN_5_LAST_MS)),
        ("created >= 2024-01-05", f("hs_createdate", "GTE", JAN_5)),
        ("created = 2024-01-05T10:00:00+01:00", f("hs_createdate", "EQ", "1704445200000")),
        ("auto_renew = yes", f("auto_renew", "EQ", "true")),
        ("auto_renew != 0", f("auto_renew", "NEQ", "false")),
        ("associations.contact = 4211", f("associations.contact", "EQ", "4211")),
        ("not mrr < 5", f("hs_mrr", "GTE", "5")),
        ("not status in (active)", f("hs_status", "NOT_IN", values=["active"])),
    ],
)
def test_golden_filter_per_operator(text: str, expected: dict[str, Any]) -> None:
    assert one(text) == expected


def test_documented_example() -> None:
    text = "status in (unpaid, past_due) and due between 2020-01-20 and 2022-01-20"
    assert groups(text) == [
        {
            "filters": [
                {"propertyName": "hs_status", "operator": "IN", "values": ["unpaid", "past_due"]},
                {
                    "propertyName": "hs_next_payment_due_date",
                    "operator": "BETWEEN",
                    "value": "1579478400000",
                    "highValue": "1642636800000",
                },
            ]
        }
    ]


def test_or_of_ands_is_one_group_each() -> None:
    assert groups("status = active and mrr > 5 or status = paused") == [
        {"filters": [f("hs_status", "EQ", "active"), f("hs_mrr", "GT", "5")]},
        {"filters": [f("hs_status", "EQ", "paused")]},
    ]


def test_and_over_ors_distributes() -> None:
    text = "(status = canceled or status = expired) and (mrr > 5 or has payment_method)"
    canceled, expired = f("hs_status", "EQ", "canceled"), f("hs_status", "EQ", "expired")
    mrr, method = f("hs_mrr", "GT", "5"), f("hs_payment_method", "HAS_PROPERTY")
    assert groups(text) == [
        {"filters": [canceled, mrr]},
        {"filters": [canceled, method]},
        {"filters": [expired, mrr]},
        {"filters": [expired, method]},
    ]


def test_not_is_pushed_down() -> None:
    assert groups("not (status = active and mrr >= 5)") == [
        {"filters": [f("hs_status", "NEQ", "active")]},
        {"filters": [f("hs_mrr", "LT", "5")]},
    ]
    assert groups("not mrr between 1 and 2") == [
        {"filters": [f("hs_mrr", "LT", "1")]},
        {"filters": [f("hs_mrr", "GT", "2")]},
    ]
    assert groups("created != 2024-01-05") == [
        {"filters": [f("hs_createdate", "LT", JAN_5)]},
        {"filters": [f("hs_createdate", "GT", JAN_5_LAST_MS)]},
        {"filters": [{"propertyName": "hs_createdate", "operator": "NOT_HAS_PROPERTY"}]},
    ]


def test_nested_expansion_fits_the_limits() -> None:
    text = (
        "(status = unpaid or (status = past_due and not (mrr < 10 or has payment_method)))"
        " and due < +7d and currency = USD"
    )
    due = f("hs_next_payment_due_date", "LT", "1711065600000")
    usd = f("hs_currency_code", "EQ", "USD")
    assert groups(text) == [
        {"filters": [f("hs_status", "EQ", "unpaid"), due, usd]},
        {
            "filters": [
                f("hs_status", "EQ", "past_due"),
                f("hs_mrr", "GTE", "10"),
                f("hs_payment_method", "NOT_HAS_PROPERTY"),
                due,
                usd,
            ]
        },
    ]


def test_association_in_becomes_one_group_per_id() -> None:
    assert groups("associations.deal in (7, 8) and status = active") == [
        {"filters": [f("associations.deal", "EQ", "7"), f("hs_status", "EQ", "active")]},
        {"filters": [f("associations.deal", "EQ", "8"), f("hs_status", "EQ", "active")]},
    ]


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("associations.contact != 1", "associations.contact !="),
        ("not associations.contact = 1", "associations.contact !="),
        ("associations.contact not in (1, 2)", "associations.contact not in"),
        ("has associations.contact", "associations.contact has"),
        ("associations.contact is empty", "associations.contact is empty"),
    ],
)
def test_associations_only_match_with_eq(text: str, shown: str) -> None:
    with pytest.raises(QueryTooComplex) as info:
        groups(text)
    assert info.value.message == (
        f'HubSpot search cannot express "{shown}": it matches associations only with = (or in)'
    )
    assert info.value.exit_code == 2


def test_too_many_groups() -> None:
    text = "(mrr = 1 or mrr = 2) and (due = today or due = tomorrow) and (name ~ a or name ~ b)"
    with pytest.raises(QueryTooComplex) as info:
        groups(text)
    assert info.value.message == "query needs 8 filter groups; HubSpot search allows at most 5"
    assert info.value.hint is not None


def test_group_count_is_computed_without_expanding() -> None:
    text = " and ".join(f"(mrr = {n} or mrr = {n + 1})" for n in range(40))
    with pytest.raises(QueryTooComplex) as info:
        groups(text)
    assert info.value.message == (
        f"query needs {2**40} filter groups; HubSpot search allows at most 5"
    )


def test_too_many_filters_in_a_group() -> None:
    text = " and ".join(f"mrr != {n}" for n in range(MAX_FILTERS_PER_GROUP + 1))
    with pytest.raises(QueryTooComplex) as info:
        groups(text)
    assert info.value.message == (
        "query needs 7 filters in one filter group; HubSpot search allows at most 6 per group"
    )


def test_too_many_filters_in_all() -> None:
    text = "(mrr = 1 or mrr = 2 or mrr = 3 or mrr = 4) and due < today and has name and name ~ x"
    assert sum(len(g["filters"]) for g in groups(text)) == 16
    with pytest.raises(QueryTooComplex) as info:
        groups(f"{text} and status = active")
    assert info.value.message == "query needs 20 filters; HubSpot search allows at most 18 in all"


def test_at_the_limits() -> None:
    six = " and ".join(f"mrr != {n}" for n in range(6))
    assert len(groups(six)[0]["filters"]) == 6
    three_groups = " or ".join(f"({six})" for _ in range(3))
    assert [len(g["filters"]) for g in groups(three_groups)] == [6, 6, 6]
    five = " or ".join(f"mrr = {n}" for n in range(5))
    assert len(groups(five)) == 5


def test_unknown_fields_in_a_hand_built_ast() -> None:
    with pytest.raises(UsageError, match='unknown field "nope"'):
        to_filter_groups(Condition("nope", Op.EQ, ("x",)), REGISTRY)
    with pytest.raises(UsageError, match='unknown association "person"'):
        to_filter_groups(Condition("associations.person", Op.EQ, (1,)), REGISTRY)


# -- DNF is equivalent to the query ----------------------------------------------------------
# Atoms are "mrr = n" with n in 0..3; a hypothesis-drawn set says which n hold. The query,
# evaluated directly, must agree with its filter groups (EQ holds when n is in the set, NEQ
# when it is not).

ATOMS = [Condition("hs_mrr", Op.EQ, (n,)) for n in range(4)]


def _exprs() -> st.SearchStrategy[Expr]:
    def extend(children: st.SearchStrategy[Expr]) -> st.SearchStrategy[Expr]:
        items = st.lists(children, min_size=2, max_size=3).map(tuple)
        return st.one_of(items.map(And), items.map(Or), children.map(Not))

    return st.recursive(st.sampled_from(ATOMS), extend, max_leaves=6)


def _holds(expr: Expr, true: frozenset[int]) -> bool:
    if isinstance(expr, Not):
        return not _holds(expr.item, true)
    if isinstance(expr, And):
        return all(_holds(i, true) for i in expr.items)
    if isinstance(expr, Or):
        return any(_holds(i, true) for i in expr.items)
    return expr.values[0] in true


def _group_holds(group: dict[str, Any], true: frozenset[int]) -> bool:
    return all((int(x["value"]) in true) == (x["operator"] == "EQ") for x in group["filters"])


@settings(max_examples=300)
@given(_exprs(), st.frozensets(st.integers(0, 3)))
def test_filter_groups_mean_the_query(expr: Expr, true: frozenset[int]) -> None:
    try:
        found = to_filter_groups(expr, REGISTRY)
    except QueryTooComplex:
        return
    assert len(found) <= MAX_GROUPS
    assert all(len(g["filters"]) <= MAX_FILTERS_PER_GROUP for g in found)
    assert sum(len(g["filters"]) for g in found) <= MAX_FILTERS
    assert any(_group_holds(g, true) for g in found) == _holds(expr, true)


TIERS = Property(
    "tiers",
    "Tiers",
    PropType.ENUMERATION,
    "checkbox",
    options=tuple(Option(label, label.lower()) for label in ("Basic", "Premium", "Gold")),
    hubspot_defined=False,
)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # HubSpot's EQ/IN on a multiple checkbox match a record holding any of the options;
        # the SQL compiler matches the same records (test_query_sql).
        ("tiers = Premium", f("tiers", "EQ", "premium")),
        ("tiers in (premium, gold)", f("tiers", "IN", values=["premium", "gold"])),
        ("tiers != premium", f("tiers", "NEQ", "premium")),
        ("not tiers in (gold)", f("tiers", "NOT_IN", values=["gold"])),
    ],
)
def test_golden_multiple_checkbox_filters(text: str, expected: dict[str, Any]) -> None:
    registry = PropertyRegistry([*STANDARD_PROPERTIES, TIERS])
    (group,) = to_filter_groups(parse(text, registry, today=TODAY), registry)
    assert group["filters"] == [expected]
