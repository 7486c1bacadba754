"""Compile the query AST to SQL text and bound parameters over the ``subscriptions`` table, for
SQLite (``?`` placeholders) and PostgreSQL (``%s``): the read path runs it on the DB-API directly
(no SQLAlchemy import), and the write path selects with it too.

Values are always bound parameters; identifiers come only from the property registry.
Semantics shared with the CRM search compiler:
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
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from subctl.errors import UsageError
from subctl.query.ast import (
    SEGMENT_FIELD,
    And,
    Condition,
    Expr,
    Op,
    Or,
    Query,
    is_rolling,
    push_not,
    resolve,
)
from subctl.schema import ASSOCIATION_BY_NAME, Property, PropertyRegistry, PropType
from subctl.store.sql.schema import LINKS

SQLITE = "sqlite"
POSTGRESQL = "postgresql"


@dataclass
class Sql:
    """SQL text with its placeholders (``?`` or ``%s``) and the parameters they bind, in order."""

    dialect: str = SQLITE
    text: str = ""
    params: list[Any] = field(default_factory=list)

    @property
    def mark(self) -> str:
        return "?" if self.dialect == SQLITE else "%s"

    def bind(self, value: Any) -> str:
        self.params.append(value)
        return self.mark

    def binds(self, values: Sequence[Any]) -> str:
        self.params.extend(values)
        return ", ".join([self.mark] * len(values))


def day_of_month(column: str, sqlite: bool) -> str:
    """SQL: the day of month (UTC) of an epoch-ms ``column``, 0 when it is NULL (a
    subscription's billing day: ``billing.next_period_end``)."""
    if sqlite:
        day = f"CAST(strftime('%d', {column} / 1000, 'unixepoch') AS INTEGER)"
    else:
        day = f"CAST(EXTRACT(DAY FROM to_timestamp({column} / 1000) AT TIME ZONE 'UTC') AS INTEGER)"
    return f"COALESCE({day}, 0)"


def quote(name: str) -> str:
    """An identifier of the schema or the property registry, quoted for both dialects."""
    return '"' + name.replace('"', '""') + '"'


def compile_where(
    expr: Expr,
    registry: PropertyRegistry,
    sql: Sql | None = None,
    *,
    now: dt.datetime | None = None,
    dialect: str = SQLITE,
) -> Sql:
    """The SQL condition of ``expr`` (appended to ``sql``'s parameters); relative dates
    (``ast.RelativeDate``) are resolved at ``now`` (default: the current time), today being its
    UTC day. The returned ``Sql`` holds the condition's text."""
    out = Sql(dialect) if sql is None else Sql(sql.dialect, params=sql.params)
    if is_rolling(expr):
        moment = (now or dt.datetime.now(dt.UTC)).astimezone(dt.UTC)
        expr = resolve(expr, moment.date(), moment)
    out.text = _compile(push_not(expr), registry, out)
    return out


def select_sql(
    query: Query,
    props: Sequence[Property],
    registry: PropertyRegistry,
    *,
    dialect: str = SQLITE,
    now: dt.datetime | None = None,
) -> Sql:
    """``SELECT`` of ``props`` for ``query`` (filter, sort then id, limit)."""
    sql = Sql(dialect)
    text = f"SELECT {', '.join(quote(p.column) for p in props)} FROM subscriptions"
    if query.where is not None:
        text += " WHERE " + compile_where(query.where, registry, sql, now=now).text
    order = []
    if query.sort is not None:
        prop = registry.get(query.sort.field)
        if prop is None:
            raise UsageError(f'cannot sort by unknown field "{query.sort.field}"')
        direction = "DESC" if query.sort.descending else "ASC"
        # Text sorts by code point on both (SQLite's BINARY; PostgreSQL's "C" whatever the
        # database's collation), so a listing is in the same order on either backend.
        textual = prop.type in (PropType.STRING, PropType.ENUMERATION) and dialect != SQLITE
        collate = ' COLLATE "C"' if textual else ""
        order.append(f"{quote(prop.column)}{collate} {direction} NULLS LAST")
    order.append("hs_object_id")
    text += " ORDER BY " + ", ".join(order)
    if query.limit is not None:
        text += " LIMIT " + sql.bind(query.limit)
    sql.text = text
    return sql


def count_sql(
    where: Expr | None,
    registry: PropertyRegistry,
    *,
    dialect: str = SQLITE,
    now: dt.datetime | None = None,
) -> Sql:
    sql = Sql(dialect)
    text = "SELECT count(*) FROM subscriptions"
    if where is not None:
        text += " WHERE " + compile_where(where, registry, sql, now=now).text
    sql.text = text
    return sql


def _compile(expr: Expr, registry: PropertyRegistry, sql: Sql) -> str:
    if isinstance(expr, And | Or):
        if not expr.items:
            return "1 = 1" if isinstance(expr, And) else "1 = 0"
        joiner = " AND " if isinstance(expr, And) else " OR "
        return "(" + joiner.join(_compile(i, registry, sql) for i in expr.items) + ")"
    assert isinstance(expr, Condition)  # push_not removed every Not
    if expr.association is not None:
        return _association(expr, sql)
    if expr.field == SEGMENT_FIELD:
        return _segment(expr, sql)
    prop = registry.get(expr.field)
    if prop is None:
        raise UsageError(f'unknown field "{expr.field}"')
    return _condition(expr, prop, quote(prop.column), sql)


_COMPARISONS = {Op.EQ: "=", Op.LT: "<", Op.LTE: "<=", Op.GT: ">", Op.GTE: ">="}


def _condition(cond: Condition, prop: Property, column: str, sql: Sql) -> str:
    op = cond.op
    if op is Op.HAS_PROPERTY:
        return f"{column} IS NOT NULL"
    if op is Op.NOT_HAS_PROPERTY:
        return f"{column} IS NULL"
    if prop.multi_value and op in (Op.EQ, Op.NEQ, Op.IN, Op.NOT_IN):
        return _multi_value(column, op, cond.values, sql)
    raw = column
    folded = prop.type is PropType.STRING
    values = [_bind(prop, v, folded) for v in cond.values]
    if folded and op not in (Op.CONTAINS_TOKEN, Op.NOT_CONTAINS_TOKEN):  # those fold their own
        # an order (<, between) is about every character of the value: "İstanbul" < "j"
        ordered = op in _ORDERS
        column = _fold(sql, [v for v in values if isinstance(v, str)], column, ordered=ordered)
    if op in _COMPARISONS:
        return f"{column} {_COMPARISONS[op]} {sql.bind(values[0])}"
    if op is Op.NEQ:
        distinct = "IS NOT" if sql.dialect == SQLITE else "IS DISTINCT FROM"
        return f"{column} {distinct} {sql.bind(values[0])}"
    if op is Op.BETWEEN:
        return f"{column} BETWEEN {sql.bind(values[0])} AND {sql.bind(values[1])}"
    if op is Op.IN:
        return f"{column} IN ({sql.binds(values)})" if values else "1 = 0"
    if op is Op.NOT_IN:
        if not values:
            return "1 = 1"
        return f"({column} NOT IN ({sql.binds(values)}) OR {raw} IS NULL)"
    token = _token_match(raw, fold(str(cond.values[0])), sql)
    if op is Op.CONTAINS_TOKEN:
        return token
    return f"(NOT {token} OR {raw} IS NULL)"


# Case-insensitive matching folds text character by character with Unicode's simple lower-case
# mapping, as PostgreSQL's ``lower()`` does (``towlower`` of a UTF-8 locale): Python's
# ``str.lower`` differs in two places, the dotted capital I (U+0130 -> "i" and a combining dot)
# and a word-final capital sigma ("ς" rather than "σ"); ``fold`` corrects both.
DOTTED_I = "\u0130"
SIGMA = "\u03a3"
KELVIN = "\u212a"  # with U+0130, the characters beyond ASCII whose lower case is ASCII


def fold(text: str) -> str:
    """``text`` lower-cased as PostgreSQL's ``lower()`` does (see above); ``ulower()`` on
    SQLite and the literals compared on both."""
    lowered = text.lower()
    if lowered.isascii() or (DOTTED_I not in text and SIGMA not in text):
        return lowered
    return "".join("i" if c == DOTTED_I else c.lower()[0] for c in text)


_ORDERS = (Op.LT, Op.LTE, Op.GT, Op.GTE, Op.BETWEEN)


def _fold(sql: Sql, literals: Sequence[Any], column: str, *, ordered: bool = False) -> str:
    """``column`` lower-cased to compare with literals lower-cased by ``fold``, the same on
    both dialects.

    PostgreSQL: ``lower()``. SQLite's ``lower()`` folds ASCII only, which is all an ASCII
    literal needs (and its indexes on ``lower(column)`` serve it), except for the Kelvin sign
    and U+0130, the characters beyond ASCII that fold into ASCII ("k", "i"): an ASCII literal
    holding one of those letters (an order: any literal) folds them first (no index then: a
    scan, in C). A literal
    beyond ASCII takes ``ulower()`` (``fold``, registered on every connection: ``"éclair"``
    finds ``"Éclair"`` on both)."""
    if sql.dialect != SQLITE:
        return f"lower({column})"
    if not all(str(v).isascii() for v in literals):
        return f"ulower({column})"
    if ordered or any("k" in str(v) for v in literals):
        column = f"replace({column}, {sql.bind(KELVIN)}, 'k')"
    if ordered or any("i" in str(v) for v in literals):
        column = f"replace({column}, {sql.bind(DOTTED_I)}, 'i')"
    return f"lower({column})"


def _multi_value(column: str, op: Op, values: tuple[Any, ...], sql: Sql) -> str:
    """A multiple-checkbox value is ``;``-joined options; as in HubSpot, ``EQ``/``IN`` match a
    record holding any of the options given (``tier = premium`` matches ``basic;premium``) and
    ``NEQ``/``NOT_IN`` are their complements, including records without a value."""
    framed = f"({sql.mark} || {column} || {sql.mark})"
    likes = []
    for v in values:
        sql.params.extend([";", ";"])
        likes.append(f"{framed} LIKE {sql.bind(f'%;{_like_escape(str(v))};%')} ESCAPE '\\'")
    holds = "(" + " OR ".join(likes) + ")" if likes else "1 = 0"
    if op in (Op.EQ, Op.IN):
        return holds
    return f"(NOT {holds} OR {column} IS NULL)"


def _like_escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _bind(prop: Property, value: Any, folded: bool) -> Any:
    stored = prop.to_storage(value)
    return fold(stored) if folded and isinstance(stored, str) else stored


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


def _token_match(column: str, token: str, sql: Sql) -> str:
    # LIKE narrows cheaply (in C) on the token's literal parts; the regular expression then
    # checks word boundaries: REGEXP on SQLite (``regexp`` above, registered on every
    # connection) and ~ on PostgreSQL (whose engine does not backtrack on patterns without
    # back-references).
    pattern = "%" + _like_escape(token).replace("*", "%") + "%"
    like = f"{_fold(sql, (token,), column)} LIKE {sql.bind(pattern)} ESCAPE '\\'"
    regexp_op = "REGEXP" if sql.dialect == SQLITE else "~"
    folded = _fold(sql, (token,), column)
    return f"({like} AND {folded} {regexp_op} {sql.bind(token_regex(token))})"


def _segment(cond: Condition, sql: Sql) -> str:
    """The stored members of a snapshot or manual segment (the workspace's
    ``segment_members``, in the same database)."""
    if cond.op not in (Op.EQ, Op.NEQ):
        raise UsageError(f"a segment's membership is tested with = or !=; not {cond.op.value}")
    ids = f"SELECT subscription_id FROM segment_members WHERE segment = {sql.bind(cond.values[0])}"
    return f"hs_object_id {'NOT IN' if cond.op is Op.NEQ else 'IN'} ({ids})"


def _association(cond: Condition, sql: Sql) -> str:
    name = cond.association
    if name not in ASSOCIATION_BY_NAME:
        raise UsageError(f'unknown association "{name}"; one of: {", ".join(ASSOCIATION_BY_NAME)}')
    op = cond.op
    if op not in (Op.EQ, Op.IN, Op.NEQ, Op.NOT_IN, Op.HAS_PROPERTY, Op.NOT_HAS_PROPERTY):
        raise UsageError(f"associations.{name} supports =, !=, in, not in and has; not {op.value}")
    ids = f"SELECT subscription_id FROM {LINKS} a WHERE object_type = {sql.bind(name)}"
    values = [int(v) for v in cond.values]
    if op in (Op.EQ, Op.IN, Op.NEQ, Op.NOT_IN):
        ids += f" AND object_id IN ({sql.binds(values)})" if values else " AND 1 = 0"
    negated = op in (Op.NEQ, Op.NOT_IN, Op.NOT_HAS_PROPERTY)
    return f"hs_object_id {'NOT IN' if negated else 'IN'} ({ids})"
