"""Compile the query AST to a HubSpot Lists API ``filterBranch`` (DOMAIN.md §7): the definition
of a segment as HubSpot would hold it (``POST /crm/v3/lists``).

The shape is the spec's own example: an ``OR`` root over ``AND`` branches (the query in
negation then disjunctive normal form, as for CRM search: ``subctl.store.http.search``), each
holding ``PROPERTY`` filters. Relative dates stay relative (``parse(..., rolling=True)``): a
comparison with a day offset is a ``ROLLING_DATE_RANGE`` (``rolling_date_filter``), other relative
dates are ``INDEXED`` time points counted from today (or now, for ``now``-based datetimes).

Per property type (``operationType``: operators):

- enumeration: ``ENUMERATION`` ``IS_ANY_OF`` (``=``, ``in``), ``IS_NONE_OF`` (``!=``, ``not in``)
- bool: ``BOOL`` ``IS_EQUAL_TO`` / ``IS_NOT_EQUAL_TO``
- number: ``NUMBER`` ``IS_EQUAL_TO``, ``IS_NOT_EQUAL_TO``, ``IS_GREATER_THAN``,
  ``IS_GREATER_THAN_OR_EQUAL_TO``, ``IS_LESS_THAN``, ``IS_LESS_THAN_OR_EQUAL_TO``;
  ``between``: ``RANGED_NUMBER`` ``IS_BETWEEN``
- string: ``STRING`` ``IS_EQUAL_TO``, ``IS_NOT_EQUAL_TO``; ``in``/``not in``:
  ``MULTISTRING`` ``IS_EQUAL_TO`` / ``IS_NOT_EQUAL_TO`` with ``values``;
  ``~``/``!~`` (a word of the value) are refused: the Lists API's ``CONTAINS``,
  ``STARTS_WITH`` and ``ENDS_WITH`` test the whole value, so a list would hold other members
- date, datetime: ``ROLLING_DATE_RANGE`` (``> -60d``), ``TIME_POINT`` ``IS_BEFORE`` /
  ``IS_AFTER`` (``<``, ``<=``, ``>``, ``>=``; the endpoint inclusive for ``<=``/``>=``),
  ``TIME_RANGED`` ``IS_BETWEEN`` (``between``; ``=`` on a date: that day) / ``IS_NOT_BETWEEN``
- any type: ``has``/``not has``: ``ALL_PROPERTY`` ``IS_KNOWN`` / ``IS_UNKNOWN``

As in CRM search, the negative operators match records without a value
(``includeObjectsWithNoValueSet``). Anything else (association pseudo-fields, ``<`` on a
string, ``in`` on a number, ``~``, ``=`` on a datetime) raises
``ListsUnsupported`` naming the part of the query.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from subctl.codec import to_wire
from subctl.errors import UsageError
from subctl.query.ast import (
    SEGMENT_FIELD,
    Condition,
    Expr,
    Op,
    RelativeDate,
    dnf,
    push_not,
)
from subctl.query.parser import SYNTAX
from subctl.schema import Property, PropertyRegistry, PropType

OBJECT_TYPE_ID = "0-69"  # Commerce Subscriptions
PROCESSING_TYPES = {"dynamic": "DYNAMIC", "snapshot": "SNAPSHOT", "manual": "MANUAL"}


class ListsUnsupported(UsageError):
    """A query, or a part of it, the Lists API cannot express."""


class _Refused(Exception):
    """A condition an operation builder cannot express: why (``_filter`` names the part)."""


def list_request(
    name: str, kind: str, where: str | None, registry: PropertyRegistry, *, today: dt.date
) -> dict[str, Any]:
    """The ``POST /crm/v3/lists`` body of a segment: a manual list has no filters."""
    body: dict[str, Any] = {
        "name": name,
        "objectTypeId": OBJECT_TYPE_ID,
        "processingType": PROCESSING_TYPES[kind],
    }
    if kind != "manual":
        from subctl.query.parser import parse

        assert where is not None
        expr = parse(where, registry, today=today, rolling=True)
        body["filterBranch"] = to_filter_branch(expr, registry)
    return body


def to_filter_branch(expr: Expr, registry: PropertyRegistry) -> dict[str, Any]:
    """An ``OR`` root over one ``AND`` branch per conjunction of the query's disjunctive
    normal form; raises ListsUnsupported."""
    branches = []
    for conjunction in dnf(push_not(expr)):
        branches.append(
            {
                "filterBranchType": "AND",
                "filterBranchOperator": "AND",
                "filterBranches": [],
                "filters": [_filter(c, registry) for c in conjunction],
            }
        )
    return {
        "filterBranchType": "OR",
        "filterBranchOperator": "OR",
        "filters": [],
        "filterBranches": branches,
    }


def _shown(value: Any) -> str:
    if isinstance(value, RelativeDate):
        return f"{value.offset:+d}{value.unit}"
    if isinstance(value, dt.datetime):
        return value.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")
    return str(value)


def _part(cond: Condition, registry: PropertyRegistry) -> str:
    """The condition as the query language writes it (for messages)."""
    prop = registry.get(cond.field) if cond.association is None else None
    field = registry.short_name(prop) if prop is not None else cond.field
    op = SYNTAX.get(cond.op, cond.op.value)
    if cond.op in (Op.HAS_PROPERTY, Op.NOT_HAS_PROPERTY):
        return f"{op} {field}"
    shown = [_shown(v) for v in cond.values]
    if cond.op is Op.BETWEEN:
        return f"{field} between {shown[0]} and {shown[1]}"
    if cond.op in (Op.IN, Op.NOT_IN):
        return f"{field} {op} ({', '.join(shown)})"
    return f"{field} {op} {shown[0]}"


def _unsupported(cond: Condition, why: str, registry: PropertyRegistry) -> ListsUnsupported:
    part = _part(cond, registry)
    hint = None
    if cond.op in (Op.CONTAINS_TOKEN, Op.NOT_CONTAINS_TOKEN):
        hint = "match whole values with = or in (...), or keep the segment on a local profile"
    return ListsUnsupported(f'the HubSpot Lists API cannot express "{part}": {why}', hint=hint)


def _filter(cond: Condition, registry: PropertyRegistry) -> dict[str, Any]:
    try:
        return _property_filter(cond, registry)
    except _Refused as exc:
        raise _unsupported(cond, str(exc), registry) from None


def _property_filter(cond: Condition, registry: PropertyRegistry) -> dict[str, Any]:
    if cond.field == SEGMENT_FIELD:
        raise ListsUnsupported("a segment's stored members are not a filter")
    if cond.association is not None:
        raise _Refused("association filters are not compiled (property filters only)")
    prop = registry.get(cond.field)
    if prop is None:
        raise UsageError(f'unknown field "{cond.field}"')
    if cond.op in (Op.HAS_PROPERTY, Op.NOT_HAS_PROPERTY):
        known = cond.op is Op.HAS_PROPERTY
        operation: dict[str, Any] = {
            "operationType": "ALL_PROPERTY",
            "operator": "IS_KNOWN" if known else "IS_UNKNOWN",
        }
    elif prop.type is PropType.ENUMERATION:
        operation = _enumeration(cond, prop)
    elif prop.type is PropType.BOOL:
        operation = _bool(cond)
    elif prop.type is PropType.NUMBER:
        operation = _number(cond)
    elif prop.type is PropType.STRING:
        operation = _string(cond)
    else:
        rolling = rolling_date_filter(cond, registry)
        if rolling is not None:
            return rolling
        operation = _time(cond, prop)
    if "includeObjectsWithNoValueSet" not in operation and operation["operationType"] != (
        "ALL_PROPERTY"
    ):
        operation["includeObjectsWithNoValueSet"] = cond.op in _NEGATIVE
    return {"filterType": "PROPERTY", "property": prop.name, "operation": operation}


_NEGATIVE = frozenset({Op.NEQ, Op.NOT_IN, Op.NOT_CONTAINS_TOKEN})


def _enumeration(cond: Condition, prop: Property) -> dict[str, Any]:
    operators = {Op.EQ: "IS_ANY_OF", Op.IN: "IS_ANY_OF", Op.NEQ: "IS_NONE_OF",
                 Op.NOT_IN: "IS_NONE_OF"}  # fmt: skip
    if cond.op not in operators:
        raise _Refused("an enumeration is matched with =, !=, in or not in")
    return {
        "operationType": "ENUMERATION",
        "operator": operators[cond.op],
        "values": [to_wire(prop.type, v) for v in cond.values],
    }


def _bool(cond: Condition) -> dict[str, Any]:
    if cond.op not in (Op.EQ, Op.NEQ):
        raise _Refused("a checkbox is matched with = or !=")
    return {
        "operationType": "BOOL",
        "operator": "IS_EQUAL_TO" if cond.op is Op.EQ else "IS_NOT_EQUAL_TO",
        "value": bool(cond.values[0]),
    }


_NUMBER_OPERATORS = {
    Op.EQ: "IS_EQUAL_TO",
    Op.NEQ: "IS_NOT_EQUAL_TO",
    Op.GT: "IS_GREATER_THAN",
    Op.GTE: "IS_GREATER_THAN_OR_EQUAL_TO",
    Op.LT: "IS_LESS_THAN",
    Op.LTE: "IS_LESS_THAN_OR_EQUAL_TO",
}


def _numeric(value: Any) -> int | float:
    number = Decimal(str(value))
    return int(number) if number == number.to_integral_value() else float(number)


def _number(cond: Condition) -> dict[str, Any]:
    if cond.op is Op.BETWEEN:
        low, high = (_numeric(v) for v in cond.values)
        return {"operationType": "RANGED_NUMBER", "operator": "IS_BETWEEN",
                "lowerBound": low, "upperBound": high}  # fmt: skip
    if cond.op not in _NUMBER_OPERATORS:
        raise _Refused("a number is compared with = != < <= > >= or between")
    return {
        "operationType": "NUMBER",
        "operator": _NUMBER_OPERATORS[cond.op],
        "value": _numeric(cond.values[0]),
    }


def _string(cond: Condition) -> dict[str, Any]:
    values = [str(v) for v in cond.values]
    if cond.op in (Op.EQ, Op.NEQ):
        operator = "IS_EQUAL_TO" if cond.op is Op.EQ else "IS_NOT_EQUAL_TO"
        return {"operationType": "STRING", "operator": operator, "value": values[0]}
    if cond.op in (Op.IN, Op.NOT_IN):
        operator = "IS_EQUAL_TO" if cond.op is Op.IN else "IS_NOT_EQUAL_TO"
        return {"operationType": "MULTISTRING", "operator": operator, "values": values}
    if cond.op in (Op.CONTAINS_TOKEN, Op.NOT_CONTAINS_TOKEN):
        # Choice: refused. ``~`` matches a whole word of the value (``acme*``: a word starting
        # with acme, in the SQL store and in CRM search); the Lists API's STRING operators test
        # the whole value (STARTS_WITH "acme" misses "delta, acme-app.io", CONTAINS "acme"
        # takes "Pacme"), so the list would hold other members than the same local segment.
        raise _Refused(
            "a HubSpot list matches the whole value (CONTAINS, STARTS_WITH, ENDS_WITH), not a "
            "word as ~ and !~ do, so it would hold other members"
        )
    raise _Refused("a text is matched with = != in not in ~ or !~")


_UNITS = {"d": "days", "w": "weeks", "m": "months", "y": "years"}


def _time_point(value: Any, prop: Property) -> dict[str, Any]:
    point: dict[str, Any]
    if isinstance(value, RelativeDate):
        reference = "NOW" if value.kind == "instant" else "TODAY"
        point = {"timeType": "INDEXED", "timezoneSource": "CUSTOM", "zoneId": "UTC",
                 "indexReference": {"referenceType": reference},
                 "offset": {_UNITS[value.unit]: value.offset}}  # fmt: skip
        return point  # a named day on a datetime (start/end of the day): that day, as HubSpot
    point = {"timeType": "DATE", "timezoneSource": "CUSTOM", "zoneId": "UTC",
             "year": value.year, "month": value.month, "day": value.day}  # fmt: skip
    if isinstance(value, dt.datetime):
        value = value.astimezone(dt.UTC)
        point.update(hour=value.hour, minute=value.minute, second=value.second,
                     millisecond=value.microsecond // 1000)  # fmt: skip
    return point


def _time(cond: Condition, prop: Property) -> dict[str, Any]:
    before_after = {
        Op.LT: ("IS_BEFORE", "EXCLUSIVE"),
        Op.LTE: ("IS_BEFORE", "INCLUSIVE"),
        Op.GT: ("IS_AFTER", "EXCLUSIVE"),
        Op.GTE: ("IS_AFTER", "INCLUSIVE"),
    }
    if cond.op in before_after:
        operator, endpoint = before_after[cond.op]
        return {"operationType": "TIME_POINT", "operator": operator,
                "timePoint": _time_point(cond.values[0], prop),
                "endpointBehavior": endpoint}  # fmt: skip
    if cond.op is Op.BETWEEN:
        low, high = cond.values
        return _ranged("IS_BETWEEN", low, high, prop)
    if cond.op in (Op.EQ, Op.NEQ) and prop.type is PropType.DATE:
        day = cond.values[0]
        return _ranged("IS_BETWEEN" if cond.op is Op.EQ else "IS_NOT_BETWEEN", day, day, prop)
    raise _Refused("a date is compared with < <= > >= or between (= only on a date property)")


def _ranged(operator: str, low: Any, high: Any, prop: Property) -> dict[str, Any]:
    return {
        "operationType": "TIME_RANGED",
        "operator": operator,
        "lowerBoundTimePoint": _time_point(low, prop),
        "upperBoundTimePoint": _time_point(high, prop),
        "lowerBoundEndpointBehavior": "INCLUSIVE",
        "upperBoundEndpointBehavior": "INCLUSIVE",
        "propertyParser": "VALUE",
    }


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
