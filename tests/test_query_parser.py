"""The query language parser: grammar, typing of values, error messages, fuzzing."""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from subctl.errors import UsageError
from subctl.query.ast import And, Condition, Expr, Not, Op, Or
from subctl.query.parser import MAX_DEPTH, QuerySyntaxError, parse
from subctl.schema import STANDARD_PROPERTIES, Option, Property, PropertyRegistry, PropType

TIER = Property(
    "subscription_tier",
    "Subscription tier",
    PropType.ENUMERATION,
    "select",
    options=(
        Option("Basic", "basic"),
        Option("Professional", "professional"),
        Option("Enterprise", "enterprise"),
    ),
    hubspot_defined=False,
)
AUTO_RENEW = Property(
    "auto_renew", "Auto renew", PropType.BOOL, "booleancheckbox", hubspot_defined=False
)
REGISTRY = PropertyRegistry([*STANDARD_PROPERTIES, TIER, AUTO_RENEW])
TODAY = dt.date(2024, 3, 15)
UTC = dt.UTC
NOW = dt.datetime(2024, 3, 15, 12, 0, tzinfo=UTC)


def p(text: str) -> Expr:
    return parse(text, REGISTRY, today=TODAY, now=NOW)


def c(field: str, op: Op, *values: Any) -> Condition:
    return Condition(field, op, values)


def error(text: str) -> QuerySyntaxError:
    with pytest.raises(QuerySyntaxError) as info:
        p(text)
    return info.value


def day(y: int, m: int, d: int) -> tuple[dt.datetime, dt.datetime]:
    start = dt.datetime(y, m, d, tzinfo=UTC)
    return start, dt.datetime(y, m, d, 23, 59, 59, 999_000, tzinfo=UTC)


# -- operators -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("mrr = 5", c("hs_mrr", Op.EQ, 5)),
        ("mrr != 5", c("hs_mrr", Op.NEQ, 5)),
        ("mrr <> 5", c("hs_mrr", Op.NEQ, 5)),
        ("mrr < 5", c("hs_mrr", Op.LT, 5)),
        ("mrr <= 5", c("hs_mrr", Op.LTE, 5)),
        ("mrr > 5", c("hs_mrr", Op.GT, 5)),
        ("mrr >= 5", c("hs_mrr", Op.GTE, 5)),
        ("mrr between 100 and 500", c("hs_mrr", Op.BETWEEN, 100, 500)),
        ("mrr BETWEEN 100 AND 500", c("hs_mrr", Op.BETWEEN, 100, 500)),
        ("status in (unpaid, past_due)", c("hs_status", Op.IN, "unpaid", "past_due")),
        ("status in (unpaid)", c("hs_status", Op.IN, "unpaid")),
        ("status not in (unpaid,past_due)", c("hs_status", Op.NOT_IN, "unpaid", "past_due")),
        ("has payment_method", c("hs_payment_method", Op.HAS_PROPERTY)),
        ("payment_method is not empty", c("hs_payment_method", Op.HAS_PROPERTY)),
        ("payment_method IS EMPTY", c("hs_payment_method", Op.NOT_HAS_PROPERTY)),
        ("not has mrr", Not(c("hs_mrr", Op.HAS_PROPERTY))),
        ('name ~ "acme*"', c("hs_name", Op.CONTAINS_TOKEN, "acme*")),
        ("name !~ acme*", c("hs_name", Op.NOT_CONTAINS_TOKEN, "acme*")),
        ("mrr>=5", c("hs_mrr", Op.GTE, 5)),
        ("mrr>-5", c("hs_mrr", Op.GT, -5)),
        ("name~*@hubspot.com", c("hs_name", Op.CONTAINS_TOKEN, "*@hubspot.com")),
    ],
)
def test_operators(text: str, expected: Expr) -> None:
    assert p(text) == expected


def test_association_fields() -> None:
    assert p("associations.contact = 4211") == c("associations.contact", Op.EQ, 4211)
    assert p("associations.Deal != 7") == c("associations.deal", Op.NEQ, 7)
    assert p("associations.company in (1, 2)") == c("associations.company", Op.IN, 1, 2)
    assert p("associations.company not in (3)") == c("associations.company", Op.NOT_IN, 3)
    assert p("has associations.payment") == c("associations.payment", Op.HAS_PROPERTY)
    assert p("associations.quote is empty") == c("associations.quote", Op.NOT_HAS_PROPERTY)


# -- precedence ------------------------------------------------------------------------------

A, B, C, D = (c("hs_mrr", Op.EQ, n) for n in range(1, 5))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("mrr = 1 or mrr = 2 and mrr = 3", Or((A, And((B, C))))),
        ("mrr = 1 and mrr = 2 or mrr = 3", Or((And((A, B)), C))),
        ("(mrr = 1 or mrr = 2) and mrr = 3", And((Or((A, B)), C))),
        ("not mrr = 1 and mrr = 2", And((Not(A), B))),
        ("not (mrr = 1 and mrr = 2)", Not(And((A, B)))),
        ("not not mrr = 1", Not(Not(A))),
        ("mrr = 1 or (mrr = 2 or mrr = 3) or mrr = 4", Or((A, B, C, D))),
        ("mrr = 1 and (mrr = 2 and mrr = 3)", And((A, B, C))),
        ("((mrr = 1))", A),
        ("mrr = 1 OR mrr = 2 AnD NOT mrr = 3", Or((A, And((B, Not(C)))))),
    ],
)
def test_precedence(text: str, expected: Expr) -> None:
    assert p(text) == expected


def test_examples_from_the_brief() -> None:
    assert p("status in (unpaid, past_due) and next_payment_due_date < +7d") == And(
        (
            c("hs_status", Op.IN, "unpaid", "past_due"),
            c("hs_next_payment_due_date", Op.LT, dt.date(2024, 3, 22)),
        )
    )
    assert p("(status = canceled or status = expired) and canceled_at > -60d") == And(
        (
            Or((c("hs_status", Op.EQ, "canceled"), c("hs_status", Op.EQ, "expired"))),
            c("hs_canceled_at", Op.GT, NOW - dt.timedelta(days=60)),
        )
    )


# -- fields ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "field",
    ["hs_status", "HS_STATUS", "status", "Status", '"Status"', "'status'", '"hs_status"'],
)
def test_internal_names_aliases_and_labels(field: str) -> None:
    assert p(f"{field} = active") == c("hs_status", Op.EQ, "active")


def test_quoted_labels() -> None:
    assert p('"Next payment due date" <= today') == c("hs_next_payment_due_date", Op.LTE, TODAY)
    assert p("'Record ID' = 12") == c("hs_object_id", Op.EQ, 12)
    assert p('"subscription tier" = Basic') == c("subscription_tier", Op.EQ, "basic")


# -- quoting ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ('name = "Acme Corp"', "Acme Corp"),
        ("name = 'Acme Corp'", "Acme Corp"),
        (r'name = "say \"hi\""', 'say "hi"'),
        (r"name = 'it\'s'", "it's"),
        ('name = "it\'s"', "it's"),
        (r'name = "back\\slash"', "back\\slash"),
        (r'name = "\a"', "a"),
        ('name = ""', ""),
        ('name = "and"', "and"),
        ("name = a.b-c_d+e@f:g/h*", "a.b-c_d+e@f:g/h*"),
        ("name = Zürich", "Zürich"),
    ],
)
def test_quoting_and_escapes(text: str, value: str) -> None:
    assert p(text) == c("hs_name", Op.EQ, value)


# -- typing of values ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2024-01-05", dt.date(2024, 1, 5)),
        ("2024-01-05T22:00:00-02:00", dt.date(2024, 1, 6)),
        ("1704412800000", dt.date(2024, 1, 5)),  # epoch ms at midnight UTC, as HubSpot sends
        ("today", TODAY),
        ("TODAY", TODAY),
        ("yesterday", dt.date(2024, 3, 14)),
        ("tomorrow", dt.date(2024, 3, 16)),
        ("-60d", dt.date(2024, 1, 15)),
        ("+7d", dt.date(2024, 3, 22)),
        ("7d", dt.date(2024, 3, 22)),
        ("-2w", dt.date(2024, 3, 1)),
        ("-3m", dt.date(2023, 12, 15)),
        ("+1y", dt.date(2025, 3, 15)),
    ],
)
def test_date_values(value: str, expected: dt.date) -> None:
    assert p(f"due = {value}") == c("hs_next_payment_due_date", Op.EQ, expected)


def test_datetime_day_values_mean_the_whole_utc_day() -> None:
    start, end = day(2024, 1, 5)
    assert p("created = 2024-01-05") == c("hs_createdate", Op.BETWEEN, start, end)
    assert p("created != 2024-01-05") == Or(
        (Not(c("hs_createdate", Op.BETWEEN, start, end)), c("hs_createdate", Op.NOT_HAS_PROPERTY))
    )
    assert p("created < 2024-01-05") == c("hs_createdate", Op.LT, start)
    assert p("created >= 2024-01-05") == c("hs_createdate", Op.GTE, start)
    assert p("created <= 2024-01-05") == c("hs_createdate", Op.LTE, end)
    assert p("created > 2024-01-05") == c("hs_createdate", Op.GT, end)
    assert p("created = today") == c("hs_createdate", Op.BETWEEN, *day(2024, 3, 15))
    assert p("created = yesterday") == c("hs_createdate", Op.BETWEEN, *day(2024, 3, 14))


def test_datetime_offsets_are_instants_counted_from_now() -> None:
    # "less than 60 days ago" means since this instant 60 days back, not since a day boundary.
    assert p("canceled_at > -60d") == c("hs_canceled_at", Op.GT, NOW - dt.timedelta(days=60))
    assert p("canceled_at <= -2w") == c("hs_canceled_at", Op.LTE, NOW - dt.timedelta(weeks=2))
    assert p("created < now") == c("hs_createdate", Op.LT, NOW)
    assert p("created >= -1m") == c(
        "hs_createdate", Op.GTE, dt.datetime(2024, 2, 15, 12, tzinfo=UTC)
    )
    # date properties keep whole days
    assert p("due > -60d") == c("hs_next_payment_due_date", Op.GT, dt.date(2024, 1, 15))


def test_datetime_day_ranges_and_lists() -> None:
    assert p("created between 2024-01-05 and 2024-01-07") == c(
        "hs_createdate", Op.BETWEEN, day(2024, 1, 5)[0], day(2024, 1, 7)[1]
    )
    instant = dt.datetime(2024, 1, 6, 10, 0, tzinfo=UTC)
    days = Or(
        (
            c("hs_createdate", Op.BETWEEN, *day(2024, 1, 5)),
            c("hs_createdate", Op.EQ, instant),
        )
    )
    assert p('created in (2024-01-05, "2024-01-06T10:00Z")') == days
    assert p('created not in (2024-01-05, "2024-01-06T10:00Z")') == Or(
        (Not(days), c("hs_createdate", Op.NOT_HAS_PROPERTY))
    )


def test_datetime_instants() -> None:
    at = dt.datetime(2024, 1, 5, 10, 30, tzinfo=UTC)
    assert p("created = 2024-01-05T10:30:00Z") == c("hs_createdate", Op.EQ, at)
    assert p("created > 2024-01-05T12:30:00+02:00") == c("hs_createdate", Op.GT, at)
    assert p("created < 2024-01-05T10:30") == c("hs_createdate", Op.LT, at)
    assert p('created in ("2024-01-05 10:30")') == c("hs_createdate", Op.IN, at)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("100", 100),
        ("-5", -5),
        ("1.0", 1),
        ("1e2", 100),
        ("19.99", Decimal("19.99")),
        ("+0.5", Decimal("0.5")),
        ('"42"', 42),
    ],
)
def test_number_values(value: str, expected: int | Decimal) -> None:
    parsed = p(f"mrr = {value}")
    assert parsed == c("hs_mrr", Op.EQ, expected)
    assert isinstance(parsed, Condition)
    assert type(parsed.values[0]) is type(expected)


@pytest.mark.parametrize(
    ("value", "expected"),
    [("true", True), ("YES", True), ("1", True), ("false", False), ("No", False), ("0", False)],
)
def test_bool_values(value: str, expected: bool) -> None:
    assert p(f"auto_renew = {value}") == c("auto_renew", Op.EQ, expected)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("status = past_due", "past_due"),
        ("status = Unpaid", "unpaid"),
        ("status = UNPAID", "unpaid"),
        ('status = "past due"', "past_due"),
        ("subscription_tier = basic", "basic"),
        ("subscription_tier = Enterprise", "enterprise"),
        ("frequency = 'Every six months'", "per_six_months"),
    ],
)
def test_enumeration_values_by_value_or_label(text: str, expected: str) -> None:
    parsed = p(text)
    assert isinstance(parsed, Condition)
    assert parsed.values == (expected,)


def test_enumeration_lists_check_every_value() -> None:
    assert p("status in (Active, paused)") == c("hs_status", Op.IN, "active", "paused")
    assert error("status in (active, bogus)").message == (
        '"bogus" is not a status at column 20; one of: '
        "active, unpaid, past_due, canceled, expired, scheduled, paused"
    )


def test_strings_keep_their_case() -> None:
    assert p("currency = USD") == c("hs_currency_code", Op.EQ, "USD")


# -- errors ----------------------------------------------------------------------------------


ENUM_STATUS = "active, unpaid, past_due, canceled, expired, scheduled, paused"
NOT_A_DATE = "is not a date (YYYY-MM-DD, today, or an offset like -60d, +7d, -3m)"


@pytest.mark.parametrize(
    ("text", "message", "width"),
    [
        ("staus = active", 'unknown field "staus" at column 1 (did you mean "status"?)', 5),
        ("zzzzzz = 1", 'unknown field "zzzzzz" at column 1', 6),
        ("status = bogus", f'"bogus" is not a status at column 10; one of: {ENUM_STATUS}', 5),
        ("status = ACTIVE_", f'"ACTIVE_" is not a status at column 10; one of: {ENUM_STATUS}', 7),
        ("subscription_tier = premium", '"premium" is not a subscription_tier at column 21; '
         "one of: basic, professional, enterprise", 7),
        ("billable = maybe", '"maybe" is not an invoice_creation at column 12; one of: on, off', 5),
        ("mrr > and x", "expected a value at column 7", 3),
        ("status in (, x)", "expected a value at column 12", 1),
        ("mrr =", "expected a value at column 6", 1),
        ("has )", 'unexpected ")" at column 5', 1),
        ("mrr = 1)", 'unexpected ")" at column 8', 1),
        ('mrr = 1 "x"', 'unexpected "x" at column 9', 3),
        ("mrr = 1 and", "expected a field at column 12", 1),
        ("mrr = 1 and or", 'unexpected "or" at column 13', 2),
        ('name = "acme', "unterminated string at column 8", 5),
        ("name = 'acme\\'", "unterminated string at column 8", 7),
        ("name # x", 'unexpected character "#" at column 6', 1),
        ("mrr ! 1", 'unexpected character "!" at column 5', 1),
        ("(mrr = 1", 'expected ")" at column 9', 1),
        ("(mrr = 1 mrr = 2)", 'expected ")" at column 10', 3),
        ("status active", 'expected an operator after "status" at column 8', 6),
        ("status", 'expected an operator after "status" at column 7', 1),
        ("status not (active)", 'expected "in" at column 12', 1),
        ("status in active", 'expected "(" at column 11', 6),
        ("status in (active paused)", 'expected "," or ")" at column 19', 6),
        ("mrr between 1 or 2", 'expected "and" at column 15', 2),
        ("mrr is nothing", 'expected "empty" at column 8', 7),
        ("status < active", 'operator "<" does not apply to status (enumeration) at column 8; '
         "use =, !=, in, not in or has", 1),
        ("mrr ~ 5", 'operator "~" does not apply to mrr (number) at column 5; '
         "use =, !=, <, <=, >, >=, between, in, not in or has", 1),
        ("name BETWEEN a and b", 'operator "between" does not apply to name (string) at column 6;'
         " use =, !=, in, not in, has, ~ or !~", 7),
        ("auto_renew > true", 'operator ">" does not apply to auto_renew (bool) at column 12; '
         "use =, !=, in, not in or has", 1),
        ("associations.contact < 5", 'operator "<" does not apply to associations.contact '
         "(association) at column 22; use =, !=, in, not in or has", 1),
        ("associations.contact = bob", '"bob" is not a record id at column 24', 3),
        ("associations.contact = -1", '"-1" is not a record id at column 24', 2),
        ("associations.person = 1", 'unknown association "person" at column 1; one of: '
         "contact, company, deal, line_item, quote, invoice, payment, order, payment_link, "
         "feedback_submission, custom_record", 19),
        ("mrr = abc", '"abc" is not a number at column 7', 3),
        ("mrr = nan", '"nan" is not a number at column 7', 3),
        ("mrr = Infinity", '"Infinity" is not a number at column 7', 8),
        ("mrr = 1e18", '"1e18" is out of range (numbers are below 1e18 and, except 0, at least '
                       "1e-12 in size) at column 7", 4),
        ("auto_renew = maybe", '"maybe" is not true or false at column 14', 5),
        ("due < soon", f'"soon" {NOT_A_DATE} at column 7', 4),
        ("due < 2024-02-30", f'"2024-02-30" {NOT_A_DATE} at column 7', 10),
        ("due > +99999y", "date out of range at column 7", 7),
        ("created = soon", f'"soon" {NOT_A_DATE} at column 11', 4),
        ("created > '0001-01-01T00:00+05:00'", "date out of range at column 11", 24),
    ],
)  # fmt: skip
def test_error_messages(text: str, message: str, width: int) -> None:
    exc = error(text)
    assert exc.message == message
    match = re.search(r"at column (\d+)", message)
    assert match is not None
    column = int(match.group(1))
    assert exc.column == column
    assert exc.detail == f"  {text}\n  {' ' * (column - 1)}{'^' * width}"


def test_error_detail_is_the_query_over_a_caret_line() -> None:
    assert error("staus = active").detail == "  staus = active\n  ^^^^^"
    assert error("mrr = 1 and status = bogus").detail == (
        "  mrr = 1 and status = bogus\n                       ^^^^^"
    )


def test_errors_are_usage_errors() -> None:
    exc = error("staus = x")
    assert isinstance(exc, UsageError)
    assert exc.exit_code == 2
    assert str(exc) == exc.message


@pytest.mark.parametrize("text", ["", "   ", "\t\n"])
def test_empty_query(text: str) -> None:
    exc = error(text)
    assert exc.message == "empty query"
    assert exc.hint is not None


def test_detail_keeps_the_caret_aligned_under_control_characters() -> None:
    exc = error("mrr\t=\nabc")
    assert exc.message == '"abc" is not a number at column 7'
    assert exc.detail == "  mrr = abc\n        ^^^"


@pytest.mark.parametrize("opener", ["(", "not ", "not ("])
def test_deep_nesting_is_a_clean_error(opener: str) -> None:
    exc = error(opener * 10_000 + "has mrr")
    assert exc.message.startswith(f"query nests deeper than {MAX_DEPTH} levels at column ")


def test_nesting_up_to_the_limit_parses() -> None:
    assert p("(" * MAX_DEPTH + "mrr = 1" + ")" * MAX_DEPTH) == A
    expected: Expr = A
    for _ in range(MAX_DEPTH):
        expected = Not(expected)
    assert p("not " * MAX_DEPTH + "mrr = 1") == expected


# -- fuzzing ---------------------------------------------------------------------------------


def parses_or_fails_cleanly(text: str) -> None:
    try:
        result = p(text)
    except QuerySyntaxError as exc:
        assert exc.message
        query_line, caret_line = (exc.detail or "").split("\n")
        assert len(query_line) == len(text) + 2
        assert caret_line.strip() and set(caret_line.strip()) == {"^"}
    else:
        assert isinstance(result, Condition | And | Or | Not)


@settings(max_examples=500)
@given(st.text())
def test_any_text_parses_or_raises_query_syntax_error(text: str) -> None:
    parses_or_fails_cleanly(text)


TOKENS = [
    "(", ")", ",", "=", "!=", "<>", "<", "<=", ">", ">=", "~", "!~", "and", "or", "not", "in",
    "between", "has", "is", "empty", "status", "mrr", "name", "due", "created", "canceled_at",
    "auto_renew", "subscription_tier", "associations.contact", "associations.nope",
    '"Next payment due date"',
    "unpaid", "Active", "bogus", "-60d", "+7d", "today", "2024-01-05", "2024-01-05T10:00Z",
    "100", "1.5", "1e400", "-1", "true", "no", '"acme*"', "'it\\'s'", '"open', "'", "\\", "#",
    "staus", "0001-01-01T00:00+05:00", "99999y",
]  # fmt: skip


@settings(max_examples=1000)
@given(st.lists(st.sampled_from(TOKENS), max_size=14), st.sampled_from([" ", ""]))
def test_token_soup_parses_or_raises_query_syntax_error(tokens: list[str], sep: str) -> None:
    parses_or_fails_cleanly(sep.join(tokens))


PREDICATES = st.sampled_from(
    [
        "status = unpaid", "status in (Active, 'past due')", "status not in (canceled)",
        "mrr between 1 and 2.5", "mrr >= 100", "due < +7d", "due >= -3m", "created = today",
        "created != 2024-01-05", "canceled_at > -60d", "name ~ 'acme*'", "name !~ foo",
        "has payment_method", "mrr is empty", "mrr is not empty", "auto_renew = yes",
        "subscription_tier = Basic", "associations.contact = 4211", "associations.deal in (1, 2)",
        '"Next payment due date" <= today',
    ]
)  # fmt: skip


def _combine(children: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    return st.one_of(
        st.tuples(children, st.sampled_from(["and", "or", "AND", "Or"]), children).map(" ".join),
        children.map(lambda q: f"not {q}"),
        children.map(lambda q: f"({q})"),
    )


@settings(max_examples=300)
@given(st.recursive(PREDICATES, _combine, max_leaves=12))
def test_well_formed_queries_parse(text: str) -> None:
    assert isinstance(p(text), Condition | And | Or | Not)
