"""The query language: text -> the typed AST of ``subctl.query.ast``.

A hand-written tokenizer and recursive-descent parser. Keywords are case-insensitive; ``and``
binds tighter than ``or``, ``not`` tighter than ``and``::

    expr      := and_expr ("or" and_expr)*
    and_expr  := unary ("and" unary)*
    unary     := "not" unary | "(" expr ")" | predicate
    predicate := FIELD op value | FIELD "between" value "and" value
               | FIELD ["not"] "in" "(" value ("," value)* ")"
               | "has" FIELD | FIELD "is" ["not"] "empty"
               | FIELD "~" value | FIELD "!~" value
    op        := "=" | "!=" | "<>" | "<" | "<=" | ">" | ">="
    value     := bare word (letters, digits, _ - + . : @ * /) | "double" or 'single' quoted
    FIELD     := internal name, alias, label (quoted if it has spaces) or associations.<object>

Values are typed by the property's type here (``subctl.codec.parse_text``, the
conversion ``--set`` uses too), so compilers never parse text. A day (``2024-01-05``,
``today``) compared with a ``datetime`` property means the whole UTC day: ``=`` is the day's
first to last millisecond, ``!=`` its negation, ``<``/``>=`` compare with the day's start and
``<=``/``>`` with its end. An offset (``canceled_at > -60d``) or
``now`` on a datetime property is an instant: "less than 60 days ago" counts from now, to the
millisecond; on a ``date`` property it stays a whole day.

Every problem, whatever the input, is a ``QuerySyntaxError`` whose message gives the 1-based
column and whose ``detail`` shows the query with a caret line under the offending token.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass
from enum import Enum
from typing import Any

from subctl.codec import (
    NAMED_DAYS,
    UnknownOption,
    ValueParseError,
    parse_date,
    parse_text,
    split_offset,
)
from subctl.errors import UsageError
from subctl.query.ast import (
    ASSOCIATION_PREFIX,
    And,
    Condition,
    Expr,
    Not,
    Op,
    Or,
    RelativeDate,
    Unit,
    resolve,
)
from subctl.schema import (
    ASSOCIATION_BY_NAME,
    MASK,
    Property,
    PropertyRegistry,
    PropType,
    masked_names,
)

MAX_DEPTH = 50  # nested parentheses and "not"s

# How each operator is written in the query language (error messages use it).
SYNTAX: dict[Op, str] = {
    Op.EQ: "=",
    Op.NEQ: "!=",
    Op.LT: "<",
    Op.LTE: "<=",
    Op.GT: ">",
    Op.GTE: ">=",
    Op.BETWEEN: "between",
    Op.IN: "in",
    Op.NOT_IN: "not in",
    Op.HAS_PROPERTY: "has",
    Op.NOT_HAS_PROPERTY: "is empty",
    Op.CONTAINS_TOKEN: "~",
    Op.NOT_CONTAINS_TOKEN: "!~",
}

_EQUALITY = frozenset({Op.EQ, Op.NEQ, Op.IN, Op.NOT_IN, Op.HAS_PROPERTY, Op.NOT_HAS_PROPERTY})
_ORDERED = _EQUALITY | {Op.LT, Op.LTE, Op.GT, Op.GTE, Op.BETWEEN}
OPERATORS_BY_TYPE: dict[PropType, frozenset[Op]] = {
    PropType.STRING: _EQUALITY | {Op.CONTAINS_TOKEN, Op.NOT_CONTAINS_TOKEN},
    PropType.NUMBER: _ORDERED,
    PropType.DATE: _ORDERED,
    PropType.DATETIME: _ORDERED,
    PropType.ENUMERATION: _EQUALITY,
    PropType.BOOL: _EQUALITY,
}
ASSOCIATION_OPERATORS = _EQUALITY

_OPERATOR_TOKENS: dict[str, Op] = {  # longest first: the tokenizer takes the first match
    "<=": Op.LTE,
    ">=": Op.GTE,
    "<>": Op.NEQ,
    "!=": Op.NEQ,
    "!~": Op.NOT_CONTAINS_TOKEN,
    "=": Op.EQ,
    "<": Op.LT,
    ">": Op.GT,
    "~": Op.CONTAINS_TOKEN,
}
_WORD_PUNCTUATION = frozenset("_-+.:@*/")
_RESERVED = ("and", "or", "not")  # never a bare field or value
_STRUCTURE = ("not", "has", "in", "is", "empty")  # words around a field and its values
_AFTER_FIELD = ("between", "in", "is", "not")  # words that follow a field
_NAMED_DAYS = frozenset({"today", "yesterday", "tomorrow"})
_LAST_MS = dt.timedelta(days=1) - dt.timedelta(milliseconds=1)
_MAX_DIGITS = 18  # numbers and record ids stay below 10**18
_LISTED_OPTIONS = 12


class QuerySyntaxError(UsageError):
    """A query that does not parse. ``column`` is 1-based; ``detail`` is the query, indented by
    two spaces, over a caret line marking ``width`` characters from ``column``."""

    def __init__(
        self, message: str, *, query: str, column: int, width: int = 1, hint: str | None = None
    ) -> None:
        shown = "".join(c if c.isprintable() else " " for c in query)
        detail = f"  {shown}\n  {' ' * (column - 1)}{'^' * max(width, 1)}"
        super().__init__(message, hint=hint, detail=detail)
        self.column = column


def parse(
    text: str,
    registry: PropertyRegistry,
    *,
    today: dt.date,
    now: dt.datetime | None = None,
    rolling: bool = False,
) -> Expr:
    """Parse a query. Relative dates (``-60d``, ``today``) count from ``today``; on datetime
    properties, ``now`` and offsets count from the instant ``now`` (default: midnight UTC of
    ``today``). With ``rolling``, they stay ``RelativeDate`` values in the tree (checked at
    ``today``/``now``), resolved when the query is compiled (``ast.resolve``)."""
    expr = _Parser(text, registry, today, now).parse()
    return expr if rolling else resolve(expr, today, now)


def mask_secrets(text: str, registry: PropertyRegistry) -> str:
    """The query with every value compared with a highly sensitive property masked, for
    showing a saved view's query. A query that does not even tokenize is masked whole when it
    names such a property."""
    try:
        tokens = _tokenize(text)
    except QuerySyntaxError:
        return MASK if _secret_named_in(text, registry) else text
    return _masked(text, _secret_spans(tokens, registry), MASK)


def mentions(text: str, registry: PropertyRegistry) -> set[str]:
    """The internal names of the properties a query names as fields (nothing if it does not
    tokenize)."""
    try:
        tokens = _tokenize(text)
    except QuerySyntaxError:
        return set()
    return {prop.name for prop, _, is_field in _walk(tokens, registry) if is_field and prop}


def _walk(
    tokens: list[_Token], registry: PropertyRegistry
) -> Iterator[tuple[Property | None, _Token, bool]]:
    """Each field and value token with the property of its predicate and whether it is the
    field. Read from the tokens alone, so that it also covers a query that does not parse."""
    prop: Property | None = None
    expect_field, in_between = True, False
    secret = masked_names(registry)
    for token, following in zip(tokens, tokens[1:] + tokens[-1:], strict=True):
        named = registry.get(token.text) if token.kind in (_Kind.WORD, _Kind.STRING) else None
        named = named or _quoted_secret(token, registry)
        if token.keyword("or") or (token.keyword("and") and not in_between):
            expect_field, prop = True, None
        elif token.keyword("and", "between"):  # between's "and" joins its two values
            in_between = token.keyword("between")
        elif token.kind not in (_Kind.WORD, _Kind.STRING) or token.keyword(*_STRUCTURE):
            continue
        elif (
            expect_field
            or (named is not None and named.name in secret)
            or (named is not None and (following.kind is _Kind.OPERATOR
                                       or following.keyword(*_AFTER_FIELD)))
        ):  # fmt: skip
            # a field: where one is expected, or (in a query that does not parse) a property
            # followed by an operator, or any highly sensitive one (its values follow)
            prop = named
            expect_field, in_between = False, False
            yield prop, token, True
        else:
            yield prop, token, False


def _secret_spans(tokens: list[_Token], registry: PropertyRegistry) -> list[tuple[int, int]]:
    """The offsets of the values compared with highly sensitive properties."""
    secret = masked_names(registry)
    if not secret:
        return []
    return [
        (token.start, token.end)
        for prop, token, is_field in _walk(tokens, registry)
        if prop is not None
        and prop.name in secret
        and (not is_field or _quoted_secret(token, registry) is not None)
    ]


def _quoted_secret(token: _Token, registry: PropertyRegistry) -> Property | None:
    """The highly sensitive property a quoted text names inside a longer text, as in a query
    quoted whole by mistake (``'tax_id = DK123'``): its values are in that text."""
    if token.kind is not _Kind.STRING or token.text in registry:
        return None
    return _secret_named_in(token.text, registry)


def _secret_named_in(text: str, registry: PropertyRegistry) -> Property | None:
    """A highly sensitive property whose name, label or an alias occurs in ``text``."""
    lowered = text.lower()
    secret = masked_names(registry)
    return next(
        (
            p
            for p in registry
            if p.name in secret and any(n.lower() in lowered for n in (p.name, p.label, *p.aliases))
        ),
        None,
    )


def _masked(text: str, spans: list[tuple[int, int]], mask: str | None = None) -> str:
    """``text`` with each span replaced by ``mask``, or by as many ``*`` (keeping columns)."""
    for start, end in sorted(spans, reverse=True):
        text = text[:start] + (mask or "*" * (end - start)) + text[end:]
    return text


# -- tokens ---------------------------------------------------------------------------------


class _Kind(Enum):
    WORD = "word"
    STRING = "string"
    OPERATOR = "operator"
    OPEN = "("
    CLOSE = ")"
    COMMA = ","
    END = "end"


@dataclass(frozen=True)
class _Token:
    kind: _Kind
    text: str  # as written; a quoted string's content, unescaped
    start: int  # 0-based offsets into the query
    end: int

    def keyword(self, *words: str) -> bool:
        return self.kind is _Kind.WORD and self.text.lower() in words

    def quoted(self, query: str) -> str:
        """The token for a message: as written, in double quotes unless it already has quotes."""
        raw = query[self.start : self.end]
        return raw if self.kind is _Kind.STRING else f'"{raw}"'


_PUNCTUATION = {"(": _Kind.OPEN, ")": _Kind.CLOSE, ",": _Kind.COMMA}


def _is_word_char(ch: str) -> bool:
    return ch.isalnum() or ch in _WORD_PUNCTUATION


def _tokenize(query: str) -> list[_Token]:
    tokens: list[_Token] = []
    i = 0
    while i < len(query):
        ch = query[i]
        start = i
        if ch.isspace():
            i += 1
        elif ch in _PUNCTUATION:
            i += 1
            tokens.append(_Token(_PUNCTUATION[ch], ch, start, i))
        elif ch in "\"'":
            text, i = _string(query, start)
            tokens.append(_Token(_Kind.STRING, text, start, i))
        elif _is_word_char(ch):
            while i < len(query) and _is_word_char(query[i]):
                i += 1
            tokens.append(_Token(_Kind.WORD, query[start:i], start, i))
        else:
            op = next((o for o in _OPERATOR_TOKENS if query.startswith(o, i)), None)
            if op is None:
                raise QuerySyntaxError(
                    f'unexpected character "{ch}" at column {i + 1}', query=query, column=i + 1
                )
            i += len(op)
            tokens.append(_Token(_Kind.OPERATOR, op, start, i))
    tokens.append(_Token(_Kind.END, "", len(query), len(query)))
    return tokens


def _string(query: str, start: int) -> tuple[str, int]:
    """The content of the string opening at ``start`` (a backslash escapes the next character)
    and the offset after its closing quote."""
    quote = query[start]
    chars: list[str] = []
    i = start + 1
    while i < len(query):
        ch = query[i]
        if ch == "\\" and i + 1 < len(query):
            chars.append(query[i + 1])
            i += 2
            continue
        if ch == quote:
            return "".join(chars), i + 1
        chars.append(ch)
        i += 1
    raise QuerySyntaxError(
        f"unterminated string at column {start + 1}",
        query=query,
        column=start + 1,
        width=len(query) - start,
    )


# -- parser ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Field:
    name: str  # the AST field: an internal name or associations.<object>
    label: str  # the name shown in messages
    prop: Property | None  # None for associations


@dataclass(frozen=True)
class _Day:
    """A date-only value given for a datetime property: the whole UTC day."""

    start: dt.datetime | RelativeDate
    end: dt.datetime | RelativeDate


def _start(value: Any) -> Any:
    return value.start if isinstance(value, _Day) else value


def _end(value: Any) -> Any:
    return value.end if isinstance(value, _Day) else value


def _join(kind: type[And] | type[Or], items: list[Expr]) -> Expr:
    """One item as is, several in ``kind``, flattening nested items of the same kind."""
    if len(items) == 1:
        return items[0]
    flat: list[Expr] = []
    for item in items:
        flat.extend(item.items if isinstance(item, kind) else (item,))
    return kind(tuple(flat))


def _spell(ops: frozenset[Op]) -> str:
    """``=, !=, in, not in or has``: the operators usable with a field, as written."""
    words = [SYNTAX[op] for op in Op if op in ops and op is not Op.NOT_HAS_PROPERTY]
    return f"{', '.join(words[:-1])} or {words[-1]}"


class _Parser:
    def __init__(
        self, query: str, registry: PropertyRegistry, today: dt.date, now: dt.datetime | None
    ) -> None:
        self.query = query
        self.registry = registry
        self.today = today
        self.now = now
        try:
            self.tokens = _tokenize(query)
        except QuerySyntaxError as exc:
            if _secret_named_in(query, registry):  # a sensitive value may follow: no echo
                exc.detail = None
            raise
        self.pos = 0
        self.depth = 0

    def parse(self) -> Expr:
        if self._peek().kind is _Kind.END:
            raise QuerySyntaxError(
                "empty query",
                query=self.query,
                column=1,
                hint="for example: status in (unpaid, past_due) and due < +7d",
            )
        expr = self._or()
        token = self._peek()
        if token.kind is not _Kind.END:
            raise self._unexpected(token)
        return expr

    # -- helpers --

    def _peek(self) -> _Token:
        return self.tokens[self.pos]

    def _next(self) -> _Token:
        token = self.tokens[self.pos]
        if token.kind is not _Kind.END:
            self.pos += 1
        return token

    def _error(self, what: str, token: _Token, tail: str = "") -> QuerySyntaxError:
        column = token.start + 1
        spans = _secret_spans(self.tokens, self.registry)
        if (token.start, token.end) in spans:  # a sensitive value: never in a message
            for shown in (f'"{token.text}"', token.quoted(self.query)):
                what = what.replace(shown, f'"{MASK}"')
        return QuerySyntaxError(
            f"{what} at column {column}{tail}",
            query=_masked(self.query, spans),
            column=column,
            width=token.end - token.start,
        )

    def _unexpected(self, token: _Token) -> QuerySyntaxError:
        return self._error(f"unexpected {token.quoted(self.query)}", token)

    def _expect(self, word: str) -> None:
        token = self._next()
        if not token.keyword(word):
            raise self._error(f'expected "{word}"', token)

    # -- expressions --

    def _or(self) -> Expr:
        items = [self._and()]
        while self._peek().keyword("or"):
            self._next()
            items.append(self._and())
        return _join(Or, items)

    def _and(self) -> Expr:
        items = [self._unary()]
        while self._peek().keyword("and"):
            self._next()
            items.append(self._unary())
        return _join(And, items)

    def _unary(self) -> Expr:
        token = self._peek()
        if not (token.keyword("not") or token.kind is _Kind.OPEN):
            return self._predicate()
        self._next()
        if self.depth == MAX_DEPTH:
            raise self._error(f"query nests deeper than {MAX_DEPTH} levels", token)
        self.depth += 1
        if token.kind is _Kind.OPEN:
            expr = self._or()
            close = self._next()
            if close.kind is not _Kind.CLOSE:
                raise self._error('expected ")"', close)
        else:
            expr = Not(self._unary())
        self.depth -= 1
        return expr

    def _predicate(self) -> Expr:
        token = self._next()
        if token.keyword("has"):
            return Condition(self._field(self._next()).name, Op.HAS_PROPERTY)
        field = self._field(token)
        token = self._next()
        if token.kind is _Kind.OPERATOR:
            op = _OPERATOR_TOKENS[token.text]
            self._check(field, op, token)
            value_token = self._peek()
            value = self._value(field)
            if op in (Op.CONTAINS_TOKEN, Op.NOT_CONTAINS_TOKEN) and not str(value).strip("* "):
                # "name ~ ''" would quietly match nothing (or, negated, everything): there is
                # no word to look for, so it is a mistake in the query, not an empty answer.
                raise self._error(
                    f'"{token.text}" needs a word to look for', value_token,
                    f' (for no value, use "{field.label} is empty")',
                )  # fmt: skip
            return self._condition(field, op, [value])
        if token.keyword("between"):
            self._check(field, Op.BETWEEN, token)
            low = self._value(field)
            self._expect("and")
            return self._condition(field, Op.BETWEEN, [low, self._value(field)])
        if token.keyword("in", "not"):
            op = Op.IN
            if token.keyword("not"):
                self._expect("in")
                op = Op.NOT_IN
            self._check(field, op, token)
            return self._condition(field, op, self._list(field))
        if token.keyword("is"):
            op = Op.NOT_HAS_PROPERTY
            if self._peek().keyword("not"):
                self._next()
                op = Op.HAS_PROPERTY
            self._expect("empty")
            return Condition(field.name, op)
        raise self._error(f'expected an operator after "{field.label}"', token)

    def _list(self, field: _Field) -> list[Any]:
        token = self._next()
        if token.kind is not _Kind.OPEN:
            raise self._error('expected "("', token)
        values = [self._value(field)]
        while True:
            token = self._next()
            if token.kind is _Kind.CLOSE:
                return values
            if token.kind is not _Kind.COMMA:
                raise self._error('expected "," or ")"', token)
            values.append(self._value(field))

    def _condition(self, field: _Field, op: Op, values: list[Any]) -> Expr:
        if not any(isinstance(v, _Day) for v in values):
            return Condition(field.name, op, tuple(values))
        # The negations keep NEQ's meaning, which includes records without a value.
        empty = Condition(field.name, Op.NOT_HAS_PROPERTY)
        if op in (Op.IN, Op.NOT_IN):
            days = _join(Or, [self._condition(field, Op.EQ, [v]) for v in values])
            return days if op is Op.IN else Or((Not(days), empty))
        if op in (Op.EQ, Op.NEQ):
            day = Condition(field.name, Op.BETWEEN, (_start(values[0]), _end(values[0])))
            return day if op is Op.EQ else Or((Not(day), empty))
        if op is Op.BETWEEN:
            return Condition(field.name, op, (_start(values[0]), _end(values[1])))
        bound = _end if op in (Op.LTE, Op.GT) else _start
        return Condition(field.name, op, (bound(values[0]),))

    # -- fields and operators --

    def _field(self, token: _Token) -> _Field:
        if token.kind is _Kind.END:
            raise self._error("expected a field", token)
        if token.kind not in (_Kind.WORD, _Kind.STRING) or token.keyword(*_RESERVED):
            raise self._unexpected(token)
        name = token.text.strip()
        if name.lower().startswith(ASSOCIATION_PREFIX):
            obj = name[len(ASSOCIATION_PREFIX) :].lower()
            if obj not in ASSOCIATION_BY_NAME:
                known = ", ".join(ASSOCIATION_BY_NAME)
                raise self._error(f'unknown association "{obj}"', token, f"; one of: {known}")
            return _Field(ASSOCIATION_PREFIX + obj, ASSOCIATION_PREFIX + obj, None)
        prop = self.registry.get(name)
        if prop is None:
            suggestion = self.registry.suggest(name)
            tail = f' (did you mean "{suggestion}"?)' if suggestion else ""
            raise self._error(f'unknown field "{token.text}"', token, tail)
        return _Field(prop.name, self.registry.short_name(prop), prop)

    def _check(self, field: _Field, op: Op, token: _Token) -> None:
        if field.prop is None:
            allowed, kind = ASSOCIATION_OPERATORS, "association"
        else:
            allowed, kind = OPERATORS_BY_TYPE[field.prop.type], field.prop.type.value
        if op not in allowed:
            raise self._error(
                f'operator "{token.text.lower()}" does not apply to {field.label} ({kind})',
                token,
                f"; use {_spell(allowed)}",
            )

    # -- values --

    def _value(self, field: _Field) -> Any:
        token = self._next()
        if token.kind not in (_Kind.WORD, _Kind.STRING) or token.keyword(*_RESERVED):
            raise self._error("expected a value", token)
        prop = field.prop
        if prop is None:
            return self._record_id(token)
        text = token.text
        try:
            relative = self._relative(prop, text)
            if relative is not None:
                return relative
            if prop.type is PropType.DATETIME and _is_day(text.strip()):
                day = parse_date(text, self.today)
                start = dt.datetime(day.year, day.month, day.day, tzinfo=dt.UTC)
                return _Day(start, start + _LAST_MS)
            return parse_text(prop, text, today=self.today, now=self.now)
        except UnknownOption as exc:
            listed = ", ".join(exc.choices[:_LISTED_OPTIONS]) + (
                ", …" if len(exc.choices) > _LISTED_OPTIONS else ""
            )
            article = "an" if field.label[:1].lower() in "aeiou" else "a"
            raise self._error(
                f'"{text}" is not {article} {field.label}', token, f"; one of: {listed}"
            ) from None
        except ValueParseError as exc:
            raise self._error(str(exc), token) from None

    def _relative(self, prop: Property, text: str) -> RelativeDate | _Day | None:
        """A relative date (``today``, ``-60d``, ``now`` …) of a date or datetime property,
        checked at the parser's clock; None for other text. Raises ValueParseError."""
        if prop.type not in (PropType.DATE, PropType.DATETIME):
            return None
        word = text.strip().lower()
        named = word in NAMED_DAYS or (word == "now" and prop.type is PropType.DATE)
        found = (NAMED_DAYS.get(word, 0), "d") if named or word == "now" else split_offset(word)
        if found is None:
            return None
        amount, unit = found[0], _unit(found[1])
        if prop.type is PropType.DATE:
            values = [RelativeDate(amount, unit)]
        elif named:  # a named day on a datetime property: the whole UTC day
            values = [RelativeDate(amount, unit, "start"), RelativeDate(amount, unit, "end")]
        else:  # now and offsets on a datetime property: instants
            values = [RelativeDate(amount, unit, "instant")]
        for value in values:
            value.resolve(self.today, self.now)  # out of the calendar: refused now
        return _Day(*values) if len(values) == 2 else values[0]

    def _record_id(self, token: _Token) -> int:
        text = token.text.strip()
        if not (text.isascii() and text.isdigit() and len(text) <= _MAX_DIGITS):
            raise self._error(f'"{token.text}" is not a record id', token)
        return int(text)


def _unit(letter: str) -> Unit:
    if letter == "w":
        return "w"
    if letter == "m":
        return "m"
    return "y" if letter == "y" else "d"


def _is_day(text: str) -> bool:
    """Whether a datetime value names a calendar day: a date or a named day. Offsets (``-60d``)
    and ``now`` are instants, counted from now."""
    if text.lower() in _NAMED_DAYS:
        return True
    if len(text) != 10:  # epoch milliseconds and ISO datetimes are instants
        return False
    try:
        dt.date.fromisoformat(text)
    except ValueError:
        return False
    return True
