"""Compile the query AST to a SQLAlchemy expression over the ``subscriptions`` table.

Values are always bound parameters. Semantics shared with the CRM search compiler:
- empty values (HubSpot's rule): a filter on a property never matches a record without a value,
  except the negative operators ``NEQ``/``NOT_IN``/``NOT_CONTAINS_TOKEN`` (and ``is empty``),
  which do. ``not`` is pushed into the operators (``ast.push_not``: ``not a < 5`` is
  ``a >= 5``), so every record matches exactly one of ``Q`` and ``not Q``, except records where
  a field of ``Q`` is empty, which may match neither (``a < 5`` and ``not a < 5`` both skip a
  record without ``a``); no record ever matches both. SQL's NULL logic gives exactly this;
- string matching is case-insensitive; enumerations match their internal value exactly;
- multiple-checkbox enumerations (``;``-joined options): ``EQ``/``IN`` match a record holding
  any of the options given, as in HubSpot;
- ``CONTAINS_TOKEN`` matches a whole word of the value, ``*`` is a wildcard within the word
  (``acme*`` matches "Acme Corp" and "The Acmes", not "Pacme"); words are separated by white
  space and ``,;:!?()[]{}"'`` (see ``TOKEN_SEPARATORS``);
- association pseudo-fields (``associations.contact``) compare associated record ids.
"""

from __future__ import annotations

import datetime as dt
import functools
import re
from collections.abc import Callable
from typing import Any

import sqlalchemy as sa

from subctl.errors import UsageError
from subctl.query.ast import And, Condition, Expr, Op, Or, is_rolling, push_not, resolve
from subctl.schema import ASSOCIATION_BY_NAME, Property, PropertyRegistry, PropType

ASSOCIATIONS = sa.table(
    "associations",
    sa.column("subscription_id"),
    sa.column("object_type"),
    sa.column("object_id"),
)


def compile_where(
    expr: Expr,
    table: sa.TableClause,
    registry: PropertyRegistry,
    *,
    now: dt.datetime | None = None,
) -> sa.ColumnElement[bool]:
    """The SQL condition of ``expr``; relative dates (``ast.RelativeDate``) are resolved at
    ``now`` (default: the current time), today being its UTC day."""
    if is_rolling(expr):
        moment = (now or dt.datetime.now(dt.UTC)).astimezone(dt.UTC)
        expr = resolve(expr, moment.date(), moment)
    return _compile(push_not(expr), table, registry)


def _compile(
    expr: Expr, table: sa.TableClause, registry: PropertyRegistry
) -> sa.ColumnElement[bool]:
    if isinstance(expr, And):
        return sa.and_(*(_compile(i, table, registry) for i in expr.items))
    if isinstance(expr, Or):
        return sa.or_(*(_compile(i, table, registry) for i in expr.items))
    assert isinstance(expr, Condition)  # push_not removed every Not
    if expr.association is not None:
        return _association(expr, table)
    prop = registry.get(expr.field)
    if prop is None:
        raise UsageError(f'unknown field "{expr.field}"')
    return _condition(expr, prop, table.c[prop.column])


def _condition(
    cond: Condition, prop: Property, column: sa.ColumnElement[Any]
) -> sa.ColumnElement[bool]:
    op = cond.op
    if op is Op.HAS_PROPERTY:
        return column.is_not(None)
    if op is Op.NOT_HAS_PROPERTY:
        return column.is_(None)
    if prop.multi_value and op in (Op.EQ, Op.NEQ, Op.IN, Op.NOT_IN):
        return _multi_value(column, op, cond.values)
    folded = prop.type is PropType.STRING
    if folded:
        column = sa.func.lower(column)
    values = [_bind(prop, v, folded) for v in cond.values]
    comparisons: dict[Op, Callable[[Any], sa.ColumnElement[bool]]] = {
        Op.EQ: column.__eq__,
        Op.NEQ: column.is_distinct_from,
        Op.LT: column.__lt__,
        Op.LTE: column.__le__,
        Op.GT: column.__gt__,
        Op.GTE: column.__ge__,
    }
    if op in comparisons:
        return comparisons[op](values[0])
    if op is Op.BETWEEN:
        return column.between(values[0], values[1])
    if op is Op.IN:
        return column.in_(values)
    if op is Op.NOT_IN:
        return sa.or_(column.not_in(values), column.is_(None))
    token = _token_match(column, str(cond.values[0]).lower())
    if op is Op.CONTAINS_TOKEN:
        return token
    return sa.or_(sa.not_(token), column.is_(None))


def _multi_value(
    column: sa.ColumnElement[Any], op: Op, values: tuple[Any, ...]
) -> sa.ColumnElement[bool]:
    """A multiple-checkbox value is ``;``-joined options; as in HubSpot, ``EQ``/``IN`` match a
    record holding any of the options given (``tier = premium`` matches ``basic;premium``) and
    ``NEQ``/``NOT_IN`` are their complements, including records without a value."""
    framed = sa.literal(";") + column + sa.literal(";")
    holds = sa.or_(*(framed.like(f"%;{_like_escape(str(v))};%", escape="\\") for v in values))
    if op in (Op.EQ, Op.IN):
        return holds
    return sa.or_(sa.not_(holds), column.is_(None))


def _like_escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _bind(prop: Property, value: Any, folded: bool) -> Any:
    stored = prop.to_storage(value)
    return stored.lower() if folded and isinstance(stored, str) else stored


# Characters that separate words for CONTAINS_TOKEN. "@", ".", "-" and "_" stay inside a word,
# so "*@hubspot.com" matches an email address.
TOKEN_SEPARATORS = " \t\r\n,;:!?()[]{}\"'"


def token_regex(token: str) -> str:
    """A regular expression matching ``token`` as a whole word; ``*`` spans word characters."""
    word = "[^" + re.escape(TOKEN_SEPARATORS) + "]*"
    body = word.join(re.escape(part) for part in token.split("*"))
    edge = "[" + re.escape(TOKEN_SEPARATORS) + "]"
    return f"(^|{edge}){body}($|{edge})"


@functools.lru_cache(maxsize=64)
def _compiled(pattern: str) -> Any:
    import re2

    return re2.compile(pattern)


def regexp(pattern: str, value: str | None) -> bool | None:
    """SQLite's ``REGEXP`` function, as the SQL store registers it: RE2, which matches in time
    linear in the value whatever the pattern (a backtracking engine takes exponential time on
    word patterns with many ``*``). NULL for a NULL value, as SQL functions do."""
    if value is None:
        return None
    return _compiled(pattern).search(value) is not None


def _token_match(column: sa.ColumnElement[Any], token: str) -> sa.ColumnElement[bool]:
    # LIKE narrows cheaply (in C) on the token's literal parts; the regular expression then
    # checks word boundaries. SQLAlchemy maps regexp_match to REGEXP on SQLite (``regexp``
    # above, registered by the SQL store) and to ~* on PostgreSQL (whose engine does not
    # backtrack on patterns without back-references).
    pattern = "%" + _like_escape(token).replace("*", "%") + "%"
    return sa.and_(
        sa.func.lower(column).like(pattern, escape="\\"),
        sa.func.lower(column).regexp_match(token_regex(token)),
    )


def _association(cond: Condition, table: sa.TableClause) -> sa.ColumnElement[bool]:
    name = cond.association
    if name not in ASSOCIATION_BY_NAME:
        raise UsageError(f'unknown association "{name}"; one of: {", ".join(ASSOCIATION_BY_NAME)}')
    ids = sa.select(ASSOCIATIONS.c.subscription_id).where(ASSOCIATIONS.c.object_type == name)
    op = cond.op
    values = [int(v) for v in cond.values]
    if op in (Op.EQ, Op.IN):
        ids = ids.where(ASSOCIATIONS.c.object_id.in_(values))
    elif op in (Op.NEQ, Op.NOT_IN):
        ids = ids.where(ASSOCIATIONS.c.object_id.in_(values))
        return table.c.hs_object_id.not_in(ids)
    elif op is Op.NOT_HAS_PROPERTY:
        return table.c.hs_object_id.not_in(ids)
    elif op is not Op.HAS_PROPERTY:
        raise UsageError(f"associations.{name} supports =, !=, in, not in and has; not {op.value}")
    return table.c.hs_object_id.in_(ids)
