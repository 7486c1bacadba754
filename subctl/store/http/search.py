"""Compile the query AST to HubSpot CRM search ``filterGroups`` (DOMAIN.md §3).

CRM search has no NOT and only one level of nesting: filters in a group are ANDed, groups are
ORed. So a query is put in negation normal form (``ast.push_not``), then in disjunctive normal
form; each conjunction becomes one filter group. Values are sent as HubSpot exchanges them:
dates and datetimes as epoch milliseconds (dates at midnight UTC), numbers as plain decimals,
booleans as ``true``/``false``, enumerations as their internal value.

Both compilers follow HubSpot's rule for empty values (see ``subctl.store.sql.compiler``): a
filter never matches a record without a value, except ``NEQ``/``NOT_IN``/``NOT_CONTAINS_TOKEN``,
which do; so the negative operators are sent as they are, without an ``OR NOT_HAS_PROPERTY``
group. ``EQ`` and ``IN`` on a multiple-checkbox property match a record holding any of the
options, in HubSpot as in SQL.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from subctl.codec import to_wire
from subctl.errors import UsageError
from subctl.query.ast import (
    SEGMENT_FIELD,
    And,
    Condition,
    Expr,
    Op,
    Or,
    count_groups,
    dnf,
    is_rolling,
    push_not,
    resolve,
)
from subctl.query.parser import SYNTAX
from subctl.schema import ASSOCIATION_BY_NAME, Property, PropertyRegistry, PropType

MAX_GROUPS = 5
MAX_FILTERS_PER_GROUP = 6
MAX_FILTERS = 18
MAX_BODY = 3_000  # characters of a search request's body
RESULT_CAP = 10_000  # results one search pages through
PAGE = 200  # results per search page
# A query whose normal form has more groups is refused rather than split: each 5 groups cost
# at least one search per page (5 per second).
MAX_SPLIT_GROUPS = 50

_HINT = "simplify it: `status in (a, b)` is one filter, `status = a or status = b` two groups"


class QueryTooComplex(UsageError):
    """A query CRM search cannot express, or that needs more filters than it allows."""


def to_filter_groups(
    expr: Expr, registry: PropertyRegistry, *, now: dt.datetime | None = None
) -> list[dict[str, Any]]:
    """The ``filterGroups`` of ONE CRM search request; raises QueryTooComplex beyond its
    limits (``HttpStore`` splits such a query into several searches instead: ``plan``).

    CRM search has no rolling date filter (DOMAIN.md §3): relative dates are resolved at ``now``
    (default: the current time, today being its UTC day) and sent as epoch milliseconds. A
    dynamic list can keep them rolling: see ``subctl.query.lists.rolling_date_filter``."""
    normal = _normal(expr, now)
    needed = count_groups(normal)
    if needed > MAX_GROUPS:
        raise QueryTooComplex(
            f"query needs {needed} filter groups; HubSpot search allows at most {MAX_GROUPS}",
            hint=_HINT,
        )
    groups = [[_filter(c, registry) for c in conjunction] for conjunction in dnf(normal)]
    widest = max((len(g) for g in groups), default=0)
    if widest > MAX_FILTERS_PER_GROUP:
        raise QueryTooComplex(
            f"query needs {widest} filters in one filter group; HubSpot search allows at most "
            f"{MAX_FILTERS_PER_GROUP} per group",
            hint=_HINT,
        )
    total = sum(len(g) for g in groups)
    if total > MAX_FILTERS:
        raise QueryTooComplex(
            f"query needs {total} filters; HubSpot search allows at most {MAX_FILTERS} in all",
            hint=_HINT,
        )
    return [{"filters": g} for g in groups]


def _normal(expr: Expr, now: dt.datetime | None) -> Expr:
    if is_rolling(expr):
        moment = (now or dt.datetime.now(dt.UTC)).astimezone(dt.UTC)
        expr = resolve(expr, moment.date(), moment)
    return _associations(push_not(expr))


Group = list[dict[str, Any]]  # the filters of one filter group (ANDed)


def compile_groups(
    expr: Expr | None, registry: PropertyRegistry, *, now: dt.datetime | None = None
) -> list[Group]:
    """The filter groups of a query, as many as its disjunctive normal form has (``plan`` packs
    them into searches); ``[[]]`` (one group, no filter) for no filter. A group wider than one
    search allows cannot be split (its filters are ANDed): ``QueryTooComplex``; so can a query
    whose normal form has more than ``MAX_SPLIT_GROUPS`` groups (each costs searches)."""
    if expr is None:
        return [[]]
    normal = _normal(expr, now)
    needed = count_groups(normal)
    if needed > MAX_SPLIT_GROUPS:
        raise QueryTooComplex(
            f"query needs {needed} filter groups; subctl splits a query into at most "
            f"{MAX_SPLIT_GROUPS} groups ({MAX_GROUPS} per HubSpot search)",
            hint=_HINT,
        )
    groups = [[_filter(c, registry) for c in conjunction] for conjunction in dnf(normal)]
    for group in groups:
        if len(group) > MAX_FILTERS_PER_GROUP:
            raise QueryTooComplex(
                f"query needs {len(group)} filters in one filter group; HubSpot search allows "
                f"at most {MAX_FILTERS_PER_GROUP} per group, and the filters of a group cannot "
                "be split into several searches",
                hint=_HINT,
            )
    return groups


def _size(value: Any) -> int:
    return len(json.dumps(value, separators=(",", ":")))


def split_wide_in(groups: list[Group], budget: int) -> list[Group]:
    """Groups whose JSON is over ``budget`` characters, split on their longest ``IN`` list:
    ``a AND x IN (v1..vn)`` is the OR of ``a AND x IN (chunk)`` over chunks of the values
    (merged without duplicates like any split query). A group over budget without an ``IN``
    to split (a long ``NOT_IN``: its chunks would be ANDed) is ``QueryTooComplex``."""
    out: list[Group] = []
    for group in groups:
        if _size({"filters": group}) <= budget:
            out.append(group)
            continue
        wide = [i for i, f in enumerate(group) if f["operator"] == "IN" and len(f["values"]) > 1]
        if not wide:
            raise QueryTooComplex(
                f"query is too long for one HubSpot search ({MAX_BODY:,} characters at most)",
                hint="select many ids with --from-file (read 100 per request), not in (...)",
            )
        at = max(wide, key=lambda i: len(group[i]["values"]))
        values = group[at]["values"]
        half = len(values) // 2
        parts = [[*group[:at], {**group[at], "values": chunk}, *group[at + 1 :]]
                 for chunk in (values[:half], values[half:])]  # fmt: skip
        out.extend(split_wide_in(parts, budget))
    return out


def plan(groups: list[Group], budget: int) -> list[list[Group]]:
    """Pack filter groups into as few searches as HubSpot's limits allow (DOMAIN.md §3: 5
    groups, 6 filters per group, 18 in all, a 3,000-character body: ``budget`` is what is left
    of it for the groups), in their order. Each group that can take one more filter keeps room
    for it: the ``hs_object_id`` range filter that partitions a search past 10,000 results."""
    searches: list[list[Group]] = []
    current: list[Group] = []
    filters = size = 0
    for group in split_wide_in(groups, budget - 20):
        need = len(group) + (1 if len(group) < MAX_FILTERS_PER_GROUP else 0)
        grown = _size({"filters": group}) + 60  # the range filter and the separator
        if current and (
            len(current) == MAX_GROUPS or filters + need > MAX_FILTERS or size + grown > budget
        ):
            searches.append(current)
            current, filters, size = [], 0, 0
        current.append(group)
        filters += need
        size += grown
    if current:
        searches.append(current)
    return searches


def partitionable(groups: list[Group]) -> bool:
    """Whether every group has room for the ``hs_object_id`` range filter."""
    return (
        all(len(g) < MAX_FILTERS_PER_GROUP for g in groups)
        and sum(len(g) + 1 for g in groups) <= MAX_FILTERS
    )


def _associations(expr: Expr) -> Expr:
    """CRM search matches associations only with ``EQ``: ``IN`` becomes one ``EQ`` per id (so
    one group each); anything else cannot be expressed."""
    if isinstance(expr, And | Or):
        return type(expr)(tuple(_associations(i) for i in expr.items))
    assert isinstance(expr, Condition)  # push_not removed every Not
    if expr.association is None or expr.op is Op.EQ:
        return expr
    if expr.op is Op.IN:
        return Or(tuple(Condition(expr.field, Op.EQ, (v,)) for v in expr.values))
    raise QueryTooComplex(
        f'HubSpot search cannot express "{expr.field} {SYNTAX[expr.op]}": '
        "it matches associations only with = (or in)"
    )


def _filter(cond: Condition, registry: PropertyRegistry) -> dict[str, Any]:
    if cond.field == SEGMENT_FIELD:
        raise QueryTooComplex(
            "HubSpot search cannot select a segment's stored members",
            hint="use a dynamic segment (its query is sent), or its ids with --from-file",
        )
    if cond.association is not None:
        if cond.association not in ASSOCIATION_BY_NAME:
            known = ", ".join(ASSOCIATION_BY_NAME)
            raise UsageError(f'unknown association "{cond.association}"; one of: {known}')
        return {"propertyName": cond.field, "operator": "EQ", "value": str(cond.values[0])}
    prop = registry.get(cond.field)
    if prop is None:
        raise UsageError(f'unknown field "{cond.field}"')
    # NEQ, NOT_IN and NOT_CONTAINS_TOKEN go out as they are: see the module docstring.
    found: dict[str, Any] = {"propertyName": prop.name, "operator": cond.op.value}
    values = [_value(prop, v) for v in cond.values]
    if cond.op in (Op.IN, Op.NOT_IN):
        # CRM search requires lowercase values in IN lists of string properties.
        found["values"] = [v.lower() for v in values] if prop.type is PropType.STRING else values
    elif cond.op is Op.BETWEEN:
        found["value"], found["highValue"] = values
    elif values:
        found["value"] = values[0]
    return found


def _value(prop: Property, value: Any) -> str:
    return to_wire(prop.type, value)
