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
import math
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
    RelativeDate,
    is_rolling,
    push_not,
    resolve,
)
from subctl.query.parser import SYNTAX
from subctl.schema import ASSOCIATION_BY_NAME, Property, PropertyRegistry, PropType

MAX_GROUPS = 5
MAX_FILTERS_PER_GROUP = 6
MAX_FILTERS = 18

_HINT = "simplify it: `status in (a, b)` is one filter, `status = a or status = b` two groups"


class QueryTooComplex(UsageError):
    """A query CRM search cannot express, or that needs more filters than it allows."""


def to_filter_groups(
    expr: Expr, registry: PropertyRegistry, *, now: dt.datetime | None = None
) -> list[dict[str, Any]]:
    """The ``filterGroups`` of a CRM search request; raises QueryTooComplex beyond its limits.

    CRM search has no rolling date filter (DOMAIN.md §3): relative dates are resolved at ``now``
    (default: the current time, today being its UTC day) and sent as epoch milliseconds. A
    dynamic list can keep them rolling: see ``rolling_date_filter``."""
    if is_rolling(expr):
        moment = (now or dt.datetime.now(dt.UTC)).astimezone(dt.UTC)
        expr = resolve(expr, moment.date(), moment)
    normal = _associations(push_not(expr))
    needed = _count_groups(normal)
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


def _count_groups(expr: Expr) -> int:
    """How many groups the disjunctive normal form has, without building it."""
    if isinstance(expr, Or):
        return sum(_count_groups(i) for i in expr.items)
    if isinstance(expr, And):
        return math.prod(_count_groups(i) for i in expr.items)
    return 1


def dnf(expr: Expr) -> list[list[Condition]]:
    """The disjunctive normal form of a negation-free expression (``push_not``): an OR of
    AND groups of conditions (HubSpot's filter groups; the Lists API's AND branches)."""
    if isinstance(expr, Or):
        return [group for item in expr.items for group in dnf(item)]
    if isinstance(expr, And):
        groups: list[list[Condition]] = [[]]
        for item in expr.items:
            choices = dnf(item)
            groups = [group + choice for group in groups for choice in choices]
        return groups
    assert isinstance(expr, Condition)
    return [[expr]]


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


# The Lists API's rolling operators (DOMAIN.md §7), by the query's operator and the offset's
# direction: "changed < 30 days ago" is ``changed > -30d``.
_ROLLING: dict[tuple[Op, bool], str] = {
    (Op.GT, True): "IS_LESS_THAN_X_DAYS_AGO",
    (Op.GTE, True): "IS_LESS_THAN_X_DAYS_AGO",
    (Op.LT, True): "IS_MORE_THAN_X_DAYS_AGO",
    (Op.LTE, True): "IS_MORE_THAN_X_DAYS_AGO",
    (Op.LT, False): "IS_LESS_THAN_X_DAYS_FROM_NOW",
    (Op.LTE, False): "IS_LESS_THAN_X_DAYS_FROM_NOW",
    (Op.GT, False): "IS_MORE_THAN_X_DAYS_FROM_NOW",
    (Op.GTE, False): "IS_MORE_THAN_X_DAYS_FROM_NOW",
}


def rolling_date_filter(cond: Condition, registry: PropertyRegistry) -> dict[str, Any] | None:
    """A Lists API ``ROLLING_DATE_RANGE`` filter (DOMAIN.md §7) for a comparison of a date or
    datetime property with a relative date in days or weeks (``changed > -30d``), so that a
    dynamic list keeps rolling; None when HubSpot has no rolling form for the condition (months
    and years, equality, ranges): compile it with ``to_filter_groups``, which resolves it."""
    prop = registry.get(cond.field) if cond.association is None else None
    if prop is None or prop.type not in (PropType.DATE, PropType.DATETIME):
        return None
    if len(cond.values) != 1 or not isinstance(cond.values[0], RelativeDate):
        return None
    days = cond.values[0].days
    operator = _ROLLING.get((cond.op, (days or 0) < 0))
    if days is None or days == 0 or operator is None:
        return None
    return {
        "filterType": "PROPERTY",
        "property": prop.name,
        "operation": {
            "operationType": "ROLLING_DATE_RANGE",
            "operator": operator,
            "numberOfDays": abs(days),
            "requiresTimeZoneConversion": False,
            "includeObjectsWithNoValueSet": False,
        },
    }


def _value(prop: Property, value: Any) -> str:
    return to_wire(prop.type, value)
