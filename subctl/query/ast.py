"""A small typed AST for subscription queries.

One parsed query compiles both to SQL (local and team workspaces) and to HubSpot CRM search
``filterGroups`` (remote profile). Leaves carry HubSpot's operators and *typed* values (already
converted by the property's type: ``date``, ``datetime``, ``Decimal``/``int``, ``bool``, ``str``),
so compilers never parse text.

Relative dates (``-60d``, ``today``, ``+2w``) can stay relative in the tree as ``RelativeDate``
values (``parse(..., rolling=True)``), resolved against the clock when a compiler runs
(``resolve``), so a saved query keeps rolling.

Fields are internal property names (``hs_status``) or association pseudo-fields
(``associations.contact``), as in CRM search.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass, replace
from enum import StrEnum
from typing import Any, Literal

from subctl.codec import ValueParseError, add_months


class Op(StrEnum):
    EQ = "EQ"
    NEQ = "NEQ"
    LT = "LT"
    LTE = "LTE"
    GT = "GT"
    GTE = "GTE"
    BETWEEN = "BETWEEN"
    IN = "IN"
    NOT_IN = "NOT_IN"
    HAS_PROPERTY = "HAS_PROPERTY"
    NOT_HAS_PROPERTY = "NOT_HAS_PROPERTY"
    CONTAINS_TOKEN = "CONTAINS_TOKEN"
    NOT_CONTAINS_TOKEN = "NOT_CONTAINS_TOKEN"


# How many values each operator takes (None: one or more).
ARITY: dict[Op, int | None] = {
    Op.EQ: 1,
    Op.NEQ: 1,
    Op.LT: 1,
    Op.LTE: 1,
    Op.GT: 1,
    Op.GTE: 1,
    Op.BETWEEN: 2,
    Op.IN: None,
    Op.NOT_IN: None,
    Op.HAS_PROPERTY: 0,
    Op.NOT_HAS_PROPERTY: 0,
    Op.CONTAINS_TOKEN: 1,
    Op.NOT_CONTAINS_TOKEN: 1,
}

# The operator a NOT turns each operator into (used to push negation down to the leaves,
# since CRM search has no NOT). LT/GT negations are exact only for non-null values; compilers
# that need exactness handle nulls explicitly.
NEGATION: dict[Op, Op] = {
    Op.EQ: Op.NEQ,
    Op.NEQ: Op.EQ,
    Op.IN: Op.NOT_IN,
    Op.NOT_IN: Op.IN,
    Op.HAS_PROPERTY: Op.NOT_HAS_PROPERTY,
    Op.NOT_HAS_PROPERTY: Op.HAS_PROPERTY,
    Op.CONTAINS_TOKEN: Op.NOT_CONTAINS_TOKEN,
    Op.NOT_CONTAINS_TOKEN: Op.CONTAINS_TOKEN,
    Op.LT: Op.GTE,
    Op.LTE: Op.GT,
    Op.GT: Op.LTE,
    Op.GTE: Op.LT,
}

ASSOCIATION_PREFIX = "associations."
# A pseudo-field: ``Condition(SEGMENT_FIELD, EQ, (name,))`` holds the members stored for a
# snapshot or manual segment (``--segment``); no property can be named so. ``NEQ``: not one.
SEGMENT_FIELD = "@segment"


@dataclass(frozen=True)
class Condition:
    field: str
    op: Op
    values: tuple[Any, ...] = ()

    def __post_init__(self) -> None:
        arity = ARITY[self.op]
        if arity is None and not self.values:
            raise ValueError(f"{self.op} needs at least one value")
        if arity is not None and len(self.values) != arity:
            raise ValueError(f"{self.op} takes {arity} value(s), got {len(self.values)}")

    @property
    def association(self) -> str | None:
        """The object name of an ``associations.<object>`` field, else None."""
        if self.field.startswith(ASSOCIATION_PREFIX):
            return self.field[len(ASSOCIATION_PREFIX) :]
        return None


@dataclass(frozen=True)
class And:
    items: tuple[Expr, ...]


@dataclass(frozen=True)
class Or:
    items: tuple[Expr, ...]


@dataclass(frozen=True)
class Not:
    item: Expr


Expr = Condition | And | Or | Not


def all_of(*items: Expr | None) -> Expr | None:
    """AND the given expressions, dropping Nones; None when nothing is left."""
    present = tuple(i for i in items if i is not None)
    if not present:
        return None
    if len(present) == 1:
        return present[0]
    return And(present)


@dataclass(frozen=True)
class Sort:
    field: str
    descending: bool = False


@dataclass(frozen=True)
class Query:
    """What to fetch: a filter, at most one sort (as in CRM search), and a limit (None: all)."""

    where: Expr | None = None
    sort: Sort | None = None
    limit: int | None = None


def fields_of(expr: Expr | None) -> set[str]:
    """Every field an expression mentions."""
    if expr is None:
        return set()
    if isinstance(expr, Condition):
        return {expr.field}
    if isinstance(expr, Not):
        return fields_of(expr.item)
    found: set[str] = set()
    for item in expr.items:
        found |= fields_of(item)
    return found


def push_not(expr: Expr, negate: bool = False) -> Expr:
    """Negation normal form: NOTs pushed down into the leaves' operators.

    Both compilers use it, so a query means the same on every backend (CRM search has no NOT).
    NOT over ``BETWEEN`` becomes ``LT low OR GT high``.
    """
    if isinstance(expr, Not):
        return push_not(expr.item, not negate)
    if isinstance(expr, And | Or):
        items = tuple(push_not(i, negate) for i in expr.items)
        flip = negate ^ isinstance(expr, Or)
        return Or(items) if flip else And(items)
    if not negate:
        return expr
    if expr.op is Op.BETWEEN:
        low, high = expr.values
        return Or((Condition(expr.field, Op.LT, (low,)), Condition(expr.field, Op.GT, (high,))))
    return Condition(expr.field, NEGATION[expr.op], expr.values)


# -- relative dates -----------------------------------------------------------------------------

Unit = Literal["d", "w", "m", "y"]
_LAST_MS = dt.timedelta(days=1) - dt.timedelta(milliseconds=1)


@dataclass(frozen=True)
class RelativeDate:
    """A date counted from the clock at evaluation: ``offset`` units (days, weeks, months,
    years; months and years keep the day of month, clamped) from today.

    ``kind`` says what it resolves to: ``date`` a day (date properties); ``start`` / ``end`` the
    first / last millisecond of that UTC day (a named day on a datetime property); ``instant``
    the instant ``now`` moved by the offset (``now`` and offsets on a datetime property)."""

    offset: int
    unit: Unit = "d"
    kind: Literal["date", "start", "end", "instant"] = "date"

    def resolve(self, today: dt.date, now: dt.datetime | None = None) -> dt.date | dt.datetime:
        """The concrete value at ``today`` / ``now`` (default: midnight UTC of ``today``);
        ValueParseError("date out of range") beyond the calendar."""
        if now is None:
            now = dt.datetime(today.year, today.month, today.day, tzinfo=dt.UTC)
        base = now.date() if self.kind == "instant" else today
        try:
            if self.unit in ("d", "w"):
                day = base + dt.timedelta(days=self.offset * (7 if self.unit == "w" else 1))
            else:
                day = add_months(base, self.offset * (12 if self.unit == "y" else 1))
            if self.kind == "date":
                return day
            if self.kind == "instant":
                return dt.datetime.combine(day, now.timetz())
            start = dt.datetime(day.year, day.month, day.day, tzinfo=dt.UTC)
            return start if self.kind == "start" else start + _LAST_MS
        except OverflowError as exc:
            raise ValueParseError("date out of range") from exc

    @property
    def days(self) -> int | None:
        """The offset in days, when it is a whole number of days (``d`` or ``w``)."""
        if self.unit == "d":
            return self.offset
        if self.unit == "w":
            return self.offset * 7
        return None


def is_rolling(expr: Expr | None) -> bool:
    """Whether an expression holds a relative date."""
    if expr is None:
        return False
    if isinstance(expr, Condition):
        return any(isinstance(v, RelativeDate) for v in expr.values)
    if isinstance(expr, Not):
        return is_rolling(expr.item)
    return any(is_rolling(i) for i in expr.items)


def resolve(expr: Expr, today: dt.date, now: dt.datetime | None = None) -> Expr:
    """The expression with every relative date resolved at ``today`` / ``now`` (the same tree
    when there is none)."""
    if not is_rolling(expr):
        return expr
    if isinstance(expr, Condition):
        values = tuple(
            v.resolve(today, now) if isinstance(v, RelativeDate) else v for v in expr.values
        )
        return replace(expr, values=values)
    if isinstance(expr, Not):
        return Not(resolve(expr.item, today, now))
    items = tuple(resolve(i, today, now) for i in expr.items)
    return And(items) if isinstance(expr, And) else Or(items)


def count_groups(expr: Expr) -> int:
    """How many groups the disjunctive normal form has, without building it."""
    if isinstance(expr, Or):
        return sum(count_groups(i) for i in expr.items)
    if isinstance(expr, And):
        return math.prod(count_groups(i) for i in expr.items)
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
