"""Relative dates stay relative in the query AST: ``parse(rolling=True)`` keeps ``RelativeDate``
values, resolved at evaluation against the clock, so a saved query keeps rolling."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given
from hypothesis import strategies as st

from subctl.query.ast import Condition, Op, RelativeDate, is_rolling, resolve
from subctl.query.lists import rolling_date_filter
from subctl.query.parser import QuerySyntaxError, parse
from subctl.schema import standard_registry
from subctl.store.http.search import to_filter_groups
from subctl.store.sql.compiler import compile_where

REGISTRY = standard_registry()
TODAY = dt.date(2024, 3, 15)
NOW = dt.datetime(2024, 3, 15, 12, 0, tzinfo=dt.UTC)

words = st.one_of(
    st.sampled_from(["today", "yesterday", "tomorrow", "now", "TODAY"]),
    st.builds(
        lambda sign, n, unit: f"{sign}{n}{unit}",
        st.sampled_from(["", "+", "-"]),
        st.integers(0, 400),
        st.sampled_from("dwmyDW"),
    ),
)
fields = st.sampled_from(["due", "created", "canceled_at", "start_date"])
ops = st.sampled_from(["=", "!=", "<", "<=", ">", ">="])
days = st.dates(dt.date(1900, 1, 1), dt.date(2100, 12, 31))
times = st.times().map(lambda t: t.replace(microsecond=t.microsecond // 1000 * 1000))


def _clock(day: dt.date, time: dt.time) -> dt.datetime:
    return dt.datetime.combine(day, time, tzinfo=dt.UTC)


@given(fields, ops, words, days, times, days, times)
def test_a_rolling_query_resolves_as_parsing_at_that_clock(
    field: str, op: str, word: str, day1: dt.date, t1: dt.time, day2: dt.date, t2: dt.time
) -> None:
    text = f"{field} {op} {word}"
    rolling = parse(text, REGISTRY, today=day1, now=_clock(day1, t1), rolling=True)
    assert is_rolling(rolling)
    later = resolve(rolling, day2, _clock(day2, t2))
    assert later == parse(text, REGISTRY, today=day2, now=_clock(day2, t2))
    assert not is_rolling(later)


@given(fields, ops, words)
def test_parse_resolves_by_default(field: str, op: str, word: str) -> None:
    resolved = parse(f"{field} {op} {word}", REGISTRY, today=TODAY, now=NOW)
    assert not is_rolling(resolved)


def test_relative_values() -> None:
    due = parse("due < -60d", REGISTRY, today=TODAY, rolling=True)
    assert due == Condition("hs_next_payment_due_date", Op.LT, (RelativeDate(-60, "d"),))
    canceled = parse("canceled_at > -2w", REGISTRY, today=TODAY, rolling=True)
    assert canceled == Condition("hs_canceled_at", Op.GT, (RelativeDate(-2, "w", "instant"),))
    assert RelativeDate(-1, "m").resolve(dt.date(2024, 3, 31)) == dt.date(2024, 2, 29)
    assert RelativeDate(1, "y", "end").resolve(TODAY) == dt.datetime(
        2025, 3, 15, 23, 59, 59, 999000, tzinfo=dt.UTC
    )


def test_errors_stay_as_they_were() -> None:
    for rolling in (False, True):
        with pytest.raises(QuerySyntaxError, match="date out of range at column 7"):
            parse("due < +99999y", REGISTRY, today=TODAY, rolling=rolling)


def test_sql_compiler_resolves_at_its_clock() -> None:
    where = parse("due < -1d", REGISTRY, today=TODAY, rolling=True)
    compiled = compile_where(where, REGISTRY, now=NOW)
    assert compiled.text == '"hs_next_payment_due_date" < ?'
    assert compiled.params == [1710374400000]  # 2024-03-14
    later = compile_where(where, REGISTRY, now=NOW + dt.timedelta(days=1), dialect="postgresql")
    assert (later.text, later.params) == ('"hs_next_payment_due_date" < %s', [1710460800000])


def test_hubspot_search_resolves_and_lists_keep_rolling() -> None:
    where = parse("updated > -30d", REGISTRY, today=TODAY, now=NOW, rolling=True)
    (group,) = to_filter_groups(where, REGISTRY, now=NOW)
    assert group["filters"][0]["value"] == str(
        int((NOW - dt.timedelta(days=30)).timestamp() * 1000)
    )
    assert isinstance(where, Condition)
    assert rolling_date_filter(where, REGISTRY) == {
        "filterType": "PROPERTY",
        "property": "hs_lastmodifieddate",
        "operation": {"operationType": "ROLLING_DATE_RANGE", "operator": "IS_LESS_THAN_X_DAYS_AGO",
                      "numberOfDays": 30, "requiresTimeZoneConversion": False,
                      "includeObjectsWithNoValueSet": False},
    }  # fmt: skip
    ahead = parse("due < +1w", REGISTRY, today=TODAY, rolling=True)
    assert isinstance(ahead, Condition)
    found = rolling_date_filter(ahead, REGISTRY)
    assert found is not None
    assert found["operation"]["operator"] == "IS_LESS_THAN_X_DAYS_FROM_NOW"
    assert found["operation"]["numberOfDays"] == 7
    months = parse("due < -1m", REGISTRY, today=TODAY, rolling=True)
    assert isinstance(months, Condition)
    assert rolling_date_filter(months, REGISTRY) is None  # no rolling form: resolved instead
