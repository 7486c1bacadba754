"""Compiling queries to a HubSpot Lists API ``filterBranch`` (DOMAIN.md §7): golden JSON per
operator and property type, the OR-over-AND shape, relative dates kept rolling, and the parts the
Lists API cannot express named in the error."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from subctl.query.lists import ListsUnsupported, list_request, to_filter_branch
from subctl.query.parser import parse
from subctl.schema import STANDARD_PROPERTIES, Option, Property, PropertyRegistry, PropType

AUTO_RENEW = Property(
    "auto_renew", "Auto renew", PropType.BOOL, "booleancheckbox", hubspot_defined=False
)
TIER = Property(
    "subscription_tier", "Subscription tier", PropType.ENUMERATION, "select",
    options=(Option("Basic", "basic"), Option("Professional", "professional"),
             Option("Enterprise", "enterprise")),
    hubspot_defined=False,
)  # fmt: skip
REGISTRY = PropertyRegistry([*STANDARD_PROPERTIES, AUTO_RENEW, TIER])
TODAY = dt.date(2024, 3, 15)


def branch(text: str) -> dict[str, Any]:
    return to_filter_branch(parse(text, REGISTRY, today=TODAY, rolling=True), REGISTRY)


def operation(text: str) -> dict[str, Any]:
    """The operation of the single filter a query compiles to."""
    (conjunction,) = branch(text)["filterBranches"]
    (found,) = conjunction["filters"]
    assert found["filterType"] == "PROPERTY"
    result: dict[str, Any] = found["operation"]
    return result


def with_empty(op: dict[str, Any], empty: bool = False) -> dict[str, Any]:
    return op | {"includeObjectsWithNoValueSet": empty}


def enum(operator: str, *values: str, empty: bool = False) -> dict[str, Any]:
    return with_empty(
        {"operationType": "ENUMERATION", "operator": operator, "values": list(values)}, empty
    )


def number(operator: str, value: int | float, empty: bool = False) -> dict[str, Any]:
    return with_empty({"operationType": "NUMBER", "operator": operator, "value": value}, empty)


def string(operator: str, value: str, empty: bool = False) -> dict[str, Any]:
    return with_empty({"operationType": "STRING", "operator": operator, "value": value}, empty)


def rolling(operator: str, days: int) -> dict[str, Any]:
    return {"operationType": "ROLLING_DATE_RANGE", "operator": operator, "numberOfDays": days,
            "requiresTimeZoneConversion": False, "includeObjectsWithNoValueSet": False}  # fmt: skip


def day(year: int, month: int, d: int, **time: int) -> dict[str, Any]:
    return {"timeType": "DATE", "timezoneSource": "CUSTOM", "zoneId": "UTC",
            "year": year, "month": month, "day": d, **time}  # fmt: skip


def indexed(reference: str = "TODAY", **offset: int) -> dict[str, Any]:
    return {"timeType": "INDEXED", "timezoneSource": "CUSTOM", "zoneId": "UTC",
            "indexReference": {"referenceType": reference}, "offset": offset}  # fmt: skip


def point(operator: str, at: dict[str, Any], endpoint: str) -> dict[str, Any]:
    return with_empty({"operationType": "TIME_POINT", "operator": operator, "timePoint": at,
                       "endpointBehavior": endpoint})  # fmt: skip


def ranged(operator: str, low: dict[str, Any], high: dict[str, Any]) -> dict[str, Any]:
    return with_empty(
        {"operationType": "TIME_RANGED", "operator": operator, "lowerBoundTimePoint": low,
         "upperBoundTimePoint": high, "lowerBoundEndpointBehavior": "INCLUSIVE",
         "upperBoundEndpointBehavior": "INCLUSIVE", "propertyParser": "VALUE"},
        operator == "IS_NOT_BETWEEN",
    )  # fmt: skip


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # enumeration
        ("status = active", enum("IS_ANY_OF", "active")),
        ("status != active", enum("IS_NONE_OF", "active", empty=True)),
        ("status in (canceled, expired)", enum("IS_ANY_OF", "canceled", "expired")),
        ("status not in (active, paused)", enum("IS_NONE_OF", "active", "paused", empty=True)),
        ("subscription_tier = Basic", enum("IS_ANY_OF", "basic")),
        # bool
        (
            "auto_renew = true",
            with_empty({"operationType": "BOOL", "operator": "IS_EQUAL_TO", "value": True}),
        ),  # fmt: skip
        (
            "auto_renew != true",
            with_empty(
                {"operationType": "BOOL", "operator": "IS_NOT_EQUAL_TO", "value": True}, True
            ),
        ),  # fmt: skip
        # number
        ("mrr = 10", number("IS_EQUAL_TO", 10)),
        ("mrr != 10", number("IS_NOT_EQUAL_TO", 10, empty=True)),
        ("mrr > 99.5", number("IS_GREATER_THAN", 99.5)),
        ("mrr >= 100", number("IS_GREATER_THAN_OR_EQUAL_TO", 100)),
        ("mrr < 5", number("IS_LESS_THAN", 5)),
        ("mrr <= 5", number("IS_LESS_THAN_OR_EQUAL_TO", 5)),
        (
            "mrr between 10 and 20",
            with_empty(
                {
                    "operationType": "RANGED_NUMBER",
                    "operator": "IS_BETWEEN",
                    "lowerBound": 10,
                    "upperBound": 20,
                }
            ),
        ),  # fmt: skip
        # string and multistring
        ("name = Acme", string("IS_EQUAL_TO", "Acme")),
        ("name != Acme", string("IS_NOT_EQUAL_TO", "Acme", empty=True)),
        (
            "name in (a, b)",
            with_empty(
                {"operationType": "MULTISTRING", "operator": "IS_EQUAL_TO", "values": ["a", "b"]}
            ),
        ),  # fmt: skip
        (
            "name not in (a)",
            with_empty(
                {"operationType": "MULTISTRING", "operator": "IS_NOT_EQUAL_TO", "values": ["a"]},
                True,
            ),
        ),  # fmt: skip
        # presence, any type
        ("has canceled_at", {"operationType": "ALL_PROPERTY", "operator": "IS_KNOWN"}),
        ("not has canceled_at", {"operationType": "ALL_PROPERTY", "operator": "IS_UNKNOWN"}),
        # rolling dates stay rolling
        ("canceled_at > -60d", rolling("IS_LESS_THAN_X_DAYS_AGO", 60)),
        ("canceled_at < -2w", rolling("IS_MORE_THAN_X_DAYS_AGO", 14)),
        ("next_payment_due_date < +7d", rolling("IS_LESS_THAN_X_DAYS_FROM_NOW", 7)),
        ("next_payment_due_date > +7d", rolling("IS_MORE_THAN_X_DAYS_FROM_NOW", 7)),
        # time points: fixed and indexed
        ("next_payment_due_date < 2024-01-05", point("IS_BEFORE", day(2024, 1, 5), "EXCLUSIVE")),
        ("next_payment_due_date >= 2024-01-05", point("IS_AFTER", day(2024, 1, 5), "INCLUSIVE")),
        (
            "canceled_at > 2024-01-05T10:30:00Z",
            point(
                "IS_AFTER",
                day(2024, 1, 5, hour=10, minute=30, second=0, millisecond=0),
                "EXCLUSIVE",
            ),
        ),  # fmt: skip
        ("next_payment_due_date > -1m", point("IS_AFTER", indexed(months=-1), "EXCLUSIVE")),
        ("canceled_at <= now", point("IS_BEFORE", indexed("NOW", days=0), "INCLUSIVE")),
        # ranges
        (
            "next_payment_due_date between today and +7d",
            ranged("IS_BETWEEN", indexed(days=0), indexed(days=7)),
        ),  # fmt: skip
        (
            "next_payment_due_date = 2024-01-05",
            ranged("IS_BETWEEN", day(2024, 1, 5), day(2024, 1, 5)),
        ),  # fmt: skip
        (
            "next_payment_due_date != 2024-01-05",
            ranged("IS_NOT_BETWEEN", day(2024, 1, 5), day(2024, 1, 5)),
        ),  # fmt: skip
    ],
)
def test_golden_operation_per_operator(text: str, expected: dict[str, Any]) -> None:
    assert operation(text) == expected


def test_reengage_request_verbatim() -> None:
    """The article's re-engage segment, the whole ``POST /crm/v3/lists`` body."""
    text = "status in (canceled, expired) and canceled_at > -60d"
    assert list_request("reengage", "dynamic", text, REGISTRY, today=TODAY) == {
        "name": "reengage",
        "objectTypeId": "0-69",
        "processingType": "DYNAMIC",
        "filterBranch": {
            "filterBranchType": "OR",
            "filterBranchOperator": "OR",
            "filters": [],
            "filterBranches": [
                {
                    "filterBranchType": "AND",
                    "filterBranchOperator": "AND",
                    "filterBranches": [],
                    "filters": [
                        {
                            "filterType": "PROPERTY",
                            "property": "hs_status",
                            "operation": enum("IS_ANY_OF", "canceled", "expired"),
                        },
                        {
                            "filterType": "PROPERTY",
                            "property": "hs_canceled_at",
                            "operation": rolling("IS_LESS_THAN_X_DAYS_AGO", 60),
                        },
                    ],  # fmt: skip
                }
            ],
        },
    }


def test_upsell_snapshot_and_manual_requests() -> None:
    text = "subscription_tier = basic and status = active"
    body = list_request("upsell", "snapshot", text, REGISTRY, today=TODAY)
    assert body["processingType"] == "SNAPSHOT"
    (conjunction,) = body["filterBranch"]["filterBranches"]
    assert [(f["property"], f["operation"]) for f in conjunction["filters"]] == [
        ("subscription_tier", enum("IS_ANY_OF", "basic")),
        ("hs_status", enum("IS_ANY_OF", "active")),
    ]
    assert list_request("vip", "manual", None, REGISTRY, today=TODAY) == {
        "name": "vip", "objectTypeId": "0-69", "processingType": "MANUAL",
    }  # fmt: skip


def test_or_root_over_and_branches_after_negation() -> None:
    """``not (a and b)`` is ``not a or not b``: two AND branches of one filter each."""
    found = branch("not (status = active and mrr > 10) and name = acme")
    assert [[f["operation"]["operator"] for f in b["filters"]]
            for b in found["filterBranches"]] == [
        ["IS_NONE_OF", "IS_EQUAL_TO"],
        ["IS_LESS_THAN_OR_EQUAL_TO", "IS_EQUAL_TO"],
    ]  # fmt: skip
    assert {b["filterBranchType"] for b in found["filterBranches"]} == {"AND"}


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("mrr in (1, 2)", '"mrr in (1, 2)": a number is compared with'),
        # ~ is a word of the value; the Lists API tests the whole value (tests/test_fakehub.py
        # ::test_starts_with_is_the_whole_values_start_not_a_words)
        ("name ~ acme*", '"name ~ acme*": a HubSpot list matches the whole value'),
        ("name ~ acme", '"name ~ acme": a HubSpot list matches the whole value'),
        ("name ~ '*@x.io'", '"name ~ *@x.io": a HubSpot list matches the whole value'),
        ("name !~ acme", '"name !~ acme": a HubSpot list matches the whole value'),
        (
            "canceled_at = 2024-01-05T00:00:00Z",
            '"canceled_at = 2024-01-05T00:00:00Z": a date is compared with',
        ),  # fmt: skip
        (
            "status = active and associations.contact = 1",
            '"associations.contact = 1": association filters are not compiled',
        ),  # fmt: skip
    ],
)
def test_unsupported_parts_are_named(text: str, message: str) -> None:
    with pytest.raises(ListsUnsupported) as raised:
        branch(text)
    assert str(raised.value).startswith(f"the HubSpot Lists API cannot express {message}")
    assert raised.value.exit_code == 2


def test_stored_members_are_no_filter_for_lists_or_search() -> None:
    """A snapshot or manual segment's members (``--segment``) are ids in the workspace: neither
    HubSpot API can filter by them."""
    from subctl.query.ast import SEGMENT_FIELD, Condition, Op
    from subctl.store.http.search import QueryTooComplex, to_filter_groups

    members = Condition(SEGMENT_FIELD, Op.EQ, ("vip",))
    with pytest.raises(ListsUnsupported, match="stored members are not a filter"):
        to_filter_branch(members, REGISTRY)
    with pytest.raises(QueryTooComplex, match="cannot select a segment's stored members"):
        to_filter_groups(members, REGISTRY)
