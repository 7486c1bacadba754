"""The Lists API (DOMAIN.md §7) for the fake: lists of subscriptions (``DYNAMIC``, ``SNAPSHOT``,
``MANUAL``), their ``filterBranch`` evaluated as HubSpot describes its filters, and memberships.

Filter semantics (HubSpot's, where they differ from CRM search's word matching):
- a filter on a record without a value matches only with ``includeObjectsWithNoValueSet``
  (``ALL_PROPERTY`` ``IS_KNOWN``/``IS_UNKNOWN`` test exactly that);
- ``STRING``: ``IS_EQUAL_TO``/``IS_NOT_EQUAL_TO`` compare the whole value, ``CONTAINS``/
  ``DOES_NOT_CONTAIN`` a substring, ``STARTS_WITH``/``ENDS_WITH`` the start or end of the whole
  value, all case-insensitively; ``MULTISTRING`` ``IS_EQUAL_TO`` any of ``values``;
- ``ENUMERATION``: exact option values (a multiple checkbox: any option held);
- ``TIME_POINT``/``TIME_RANGED``: ``DATE`` points (UTC here) or ``INDEXED`` ones (``TODAY``/
  ``NOW`` plus an offset, on the fake's wall clock), ``INCLUSIVE``/``EXCLUSIVE`` endpoints;
  ``ROLLING_DATE_RANGE``: ``IS_LESS_THAN_X_DAYS_AGO`` is after midnight UTC ``numberOfDays``
  ago (choice: no upper bound), ``IS_MORE_THAN_X_DAYS_AGO`` before it, and the ``FROM_NOW``
  pair likewise ahead.
A ``SNAPSHOT`` list holds the matches at creation; ``MANUAL`` lists hold what is added.
"""

from __future__ import annotations

import calendar
import datetime as dt
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from subctl.codec import DAY_MS, EPOCH
from tests.fakehub.objects import PropDef, decimal

PROCESSING = ("DYNAMIC", "SNAPSHOT", "MANUAL")


class BadBranch(ValueError):
    pass


@dataclass
class FakeList:
    id: int
    name: str
    object_type_id: str
    processing: str
    branch: Mapping[str, Any] | None
    created_ms: int
    updated_ms: int
    members: dict[int, int] = field(default_factory=dict)  # record id -> added at (ms)


def _ms(moment: dt.datetime) -> int:
    return int((moment - EPOCH) / dt.timedelta(milliseconds=1))


def _shift(day: dt.datetime, offset: Mapping[str, Any]) -> dt.datetime:
    days = int(offset.get("days", 0)) + 7 * int(offset.get("weeks", 0))
    months = int(offset.get("months", 0)) + 12 * int(offset.get("years", 0))
    if months:
        index = day.year * 12 + day.month - 1 + months
        year, month = divmod(index, 12)
        last = calendar.monthrange(year, month + 1)[1]
        day = day.replace(year=year, month=month + 1, day=min(day.day, last))
    return day + dt.timedelta(
        days=days, hours=int(offset.get("hours", 0)), minutes=int(offset.get("minutes", 0))
    )


def point_ms(point: Mapping[str, Any], now_ms: int) -> int:
    """A Lists API time point as epoch ms (UTC)."""
    kind = point.get("timeType")
    if kind == "DATE":
        try:
            moment = dt.datetime(
                int(point["year"]),
                int(point["month"]),
                int(point["day"]),
                int(point.get("hour", 0)),
                int(point.get("minute", 0)),
                int(point.get("second", 0)),
                int(point.get("millisecond", 0)) * 1000,
                tzinfo=dt.UTC,
            )
        except (KeyError, ValueError) as exc:
            raise BadBranch(f"invalid DATE time point: {exc}") from None
        return _ms(moment)
    if kind == "INDEXED":
        now = EPOCH + dt.timedelta(milliseconds=now_ms)
        reference = (point.get("indexReference") or {}).get("referenceType")
        if reference == "TODAY":
            now = now.replace(hour=0, minute=0, second=0, microsecond=0)
        elif reference != "NOW":
            raise BadBranch(f"indexReference: TODAY or NOW, not {reference}")
        return _ms(_shift(now, point.get("offset") or {}))
    raise BadBranch(f"timeType: DATE or INDEXED, not {kind}")


Test = Callable[[Mapping[str, str]], bool]


def compile_branch(branch: Any, props: Mapping[str, PropDef], now_ms: int) -> Test:
    if not isinstance(branch, Mapping):
        raise BadBranch("a filterBranch is an object")
    kind = branch.get("filterBranchType")
    filters = [_filter(f, props, now_ms) for f in branch.get("filters") or []]
    children = [compile_branch(b, props, now_ms) for b in branch.get("filterBranches") or []]
    parts = filters + children
    if kind == "OR":
        return lambda values: any(p(values) for p in parts)
    if kind == "AND":
        return lambda values: all(p(values) for p in parts)
    if kind == "NOT_ALL":
        return lambda values: not all(p(values) for p in parts)
    if kind == "NOT_ANY":
        return lambda values: not any(p(values) for p in parts)
    raise BadBranch(f"filterBranchType {kind} is not supported by the fake")


def _filter(f: Any, props: Mapping[str, PropDef], now_ms: int) -> Test:
    if not isinstance(f, Mapping) or f.get("filterType") != "PROPERTY":
        raise BadBranch("the fake evaluates PROPERTY filters only")
    prop = props.get(str(f.get("property")))
    if prop is None:
        raise BadBranch(f"Property {f.get('property')} does not exist")
    op = f.get("operation") or {}
    kind, operator = op.get("operationType"), op.get("operator")
    if kind == "ALL_PROPERTY":
        known = operator == "IS_KNOWN"
        return lambda values: (values.get(prop.name) is not None) == known
    empty = bool(op.get("includeObjectsWithNoValueSet", False))
    test = _operation(kind, operator, op, prop, now_ms)

    def match(values: Mapping[str, str]) -> bool:
        raw = values.get(prop.name)
        return empty if raw is None else test(raw)

    return match


def _operation(
    kind: Any, operator: Any, op: Mapping[str, Any], prop: PropDef, now_ms: int
) -> Callable[[str], bool]:
    if kind == "ENUMERATION":
        wanted = {str(v) for v in op.get("values") or []}

        def held(raw: str) -> set[str]:
            return set(raw.split(";")) if prop.multi else {raw}

        found: dict[str, Callable[[str], bool]] = {
            "IS_ANY_OF": lambda raw: bool(held(raw) & wanted),
            "IS_NONE_OF": lambda raw: not held(raw) & wanted,
            "IS_EXACTLY": lambda raw: held(raw) == wanted,
            "IS_NOT_EXACTLY": lambda raw: held(raw) != wanted,
            "CONTAINS_ALL": lambda raw: wanted <= held(raw),
            "DOES_NOT_CONTAIN_ALL": lambda raw: not wanted <= held(raw),
        }
        return _pick(found, kind, operator)
    if kind == "BOOL":
        value = "true" if op.get("value") in (True, "true") else "false"
        return _pick(
            {
                "IS_EQUAL_TO": lambda raw: raw.lower() == value,
                "IS_NOT_EQUAL_TO": lambda raw: raw.lower() != value,
            },
            kind,
            operator,
        )
    if kind in ("NUMBER", "RANGED_NUMBER"):

        def number(raw: str) -> Decimal:
            return decimal(raw) or Decimal(0)

        if kind == "RANGED_NUMBER":
            low, high = Decimal(str(op.get("lowerBound"))), Decimal(str(op.get("upperBound")))
            inside: Callable[[str], bool] = lambda raw: low <= number(raw) <= high  # noqa: E731
            return _pick(
                {"IS_BETWEEN": inside, "IS_NOT_BETWEEN": lambda raw: not inside(raw)},
                kind,
                operator,
            )
        value = Decimal(str(op.get("value")))
        return _pick(
            {
                "IS_EQUAL_TO": lambda raw: number(raw) == value,
                "IS_NOT_EQUAL_TO": lambda raw: number(raw) != value,
                "IS_GREATER_THAN": lambda raw: number(raw) > value,
                "IS_GREATER_THAN_OR_EQUAL_TO": lambda raw: number(raw) >= value,
                "IS_LESS_THAN": lambda raw: number(raw) < value,
                "IS_LESS_THAN_OR_EQUAL_TO": lambda raw: number(raw) <= value,
            },
            kind,
            operator,
        )
    if kind == "STRING":
        text = str(op.get("value", "")).lower()
        return _pick(
            {
                "IS_EQUAL_TO": lambda raw: raw.lower() == text,
                "IS_NOT_EQUAL_TO": lambda raw: raw.lower() != text,
                "CONTAINS": lambda raw: text in raw.lower(),
                "DOES_NOT_CONTAIN": lambda raw: text not in raw.lower(),
                "STARTS_WITH": lambda raw: raw.lower().startswith(text),
                "ENDS_WITH": lambda raw: raw.lower().endswith(text),
            },
            kind,
            operator,
        )
    if kind == "MULTISTRING":
        texts = {str(v).lower() for v in op.get("values") or []}
        return _pick(
            {
                "IS_EQUAL_TO": lambda raw: raw.lower() in texts,
                "IS_NOT_EQUAL_TO": lambda raw: raw.lower() not in texts,
            },
            kind,
            operator,
        )
    if kind in ("TIME_POINT", "TIME_RANGED", "ROLLING_DATE_RANGE"):
        if prop.type not in ("date", "datetime"):
            raise BadBranch(f"{kind} applies to dates, not {prop.name}")
        return _time(kind, operator, op, now_ms)
    raise BadBranch(f"operationType {kind} is not supported by the fake")


def _time(kind: Any, operator: Any, op: Mapping[str, Any], now_ms: int) -> Callable[[str], bool]:
    def after(bound: int, inclusive: bool) -> Callable[[int], bool]:
        return (lambda v: v >= bound) if inclusive else (lambda v: v > bound)

    def before(bound: int, inclusive: bool) -> Callable[[int], bool]:
        return (lambda v: v <= bound) if inclusive else (lambda v: v < bound)

    if kind == "TIME_POINT":
        bound = point_ms(op.get("timePoint") or {}, now_ms)
        inclusive = op.get("endpointBehavior") == "INCLUSIVE"
        check = _pick(
            {"IS_BEFORE": before(bound, inclusive), "IS_AFTER": after(bound, inclusive)},
            kind,
            operator,
        )
        return lambda raw: check(int(raw))
    if kind == "TIME_RANGED":
        low = after(
            point_ms(op.get("lowerBoundTimePoint") or {}, now_ms),
            op.get("lowerBoundEndpointBehavior", "INCLUSIVE") == "INCLUSIVE",
        )
        high = before(
            point_ms(op.get("upperBoundTimePoint") or {}, now_ms),
            op.get("upperBoundEndpointBehavior", "INCLUSIVE") == "INCLUSIVE",
        )
        inside = lambda v: low(v) and high(v)  # noqa: E731
        check = _pick(
            {"IS_BETWEEN": inside, "IS_NOT_BETWEEN": lambda v: not inside(v)}, kind, operator
        )
        return lambda raw: check(int(raw))
    days = int(op.get("numberOfDays", 0))
    today = now_ms - now_ms % DAY_MS
    rolling: dict[str, Callable[[int], bool]] = {
        "IS_LESS_THAN_X_DAYS_AGO": lambda v: v > today - days * DAY_MS,
        "IS_MORE_THAN_X_DAYS_AGO": lambda v: v < today - days * DAY_MS,
        "IS_LESS_THAN_X_DAYS_FROM_NOW": lambda v: v < today + days * DAY_MS,
        "IS_MORE_THAN_X_DAYS_FROM_NOW": lambda v: v > today + days * DAY_MS,
    }
    check = _pick(rolling, kind, operator)
    return lambda raw: check(int(raw))


def _pick(found: Mapping[str, Any], kind: Any, operator: Any) -> Any:
    if operator not in found:
        raise BadBranch(f"{kind} has no operator {operator}")
    return found[operator]


def members(records: Sequence[tuple[int, Mapping[str, str]]], test: Test) -> list[int]:
    return [i for i, values in records if test(values)]
