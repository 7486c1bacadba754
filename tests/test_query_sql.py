"""Parsed queries run by the SQL compiler against a real (in-memory SQLite) workspace."""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from subctl.query.ast import Condition, Not, Op, Or, Query, fields_of
from subctl.query.parser import parse
from subctl.store.sql import open_local
from subctl.store.sql.compiler import TOKEN_SEPARATORS, token_regex
from subctl.store.sql.records import SqlRecordStore
from tests.conftest import Invoke

TODAY = dt.date(2024, 3, 15)
UTC = dt.UTC


def at(
    year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0, us: int = 0
) -> dt.datetime:
    return dt.datetime(year, month, day, hour, minute, second, us, tzinfo=UTC)


COLUMNS = (
    "hs_object_id", "hs_name", "hs_status", "hs_next_payment_due_date", "hs_mrr",
    "hs_createdate", "hs_canceled_at", "hs_payment_method", "hs_currency_code",
)  # fmt: skip
SUBSCRIPTIONS: list[tuple[Any, ...]] = [
    (1, "Acme Corp", "active", dt.date(2024, 3, 20), Decimal(100), at(2024, 1, 5, 10),
     None, "Visa - 4242", "USD"),
    (2, "The Acmes", "unpaid", dt.date(2024, 3, 10), Decimal("250.5"), at(2024, 1, 6),
     None, "ACH - 1117", "usd"),
    (3, "Globex", "canceled", None, Decimal(500), at(2024, 1, 4, 23, 59, 59, 999_000),
     at(2024, 2, 1, 12), None, "EUR"),
    (4, "acme", "past_due", dt.date(2024, 3, 15), None, at(2024, 1, 5),
     None, "Visa - 1111", "USD"),
    (5, "Initech Acme-Labs", "expired", None, Decimal(0), at(2023, 12, 1),
     at(2023, 12, 31), None, None),
    (6, None, None, None, None, None, None, None, None),
]  # fmt: skip
ASSOCIATIONS = [  # subscription, object type, object id, association type id
    (1, "contact", 4211, 295),
    (2, "contact", 4212, 295),
    (1, "deal", 7, 299),
    (3, "company", 9, 297),
]


@pytest.fixture(scope="module")
def store() -> Iterator[SqlRecordStore]:
    workspace = open_local("sqlite://", create=True).records
    registry = workspace.properties()
    props = [registry.get(name) for name in COLUMNS]
    rows = [
        [prop.to_storage(value) for prop, value in zip(props, row, strict=True) if prop]
        for row in SUBSCRIPTIONS
    ]
    workspace.seed("subscriptions", COLUMNS, rows)
    workspace.seed(
        "associations", ("subscription_id", "object_type", "object_id", "type_id"), ASSOCIATIONS
    )
    yield workspace
    workspace.close()


def ids(store: SqlRecordStore, text: str) -> list[int]:
    where = parse(text, store.properties(), today=TODAY)
    found = [s.id for s in store.search(Query(where=where), fields=["hs_object_id"])]
    assert store.count(where) == len(found)
    return found


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # enumerations: internal values, labels
        ("status = active", [1]),
        ("status = Active", [1]),
        ("status != active", [2, 3, 4, 5, 6]),  # NEQ includes records without a value
        ("status in (unpaid, 'Past due')", [2, 4]),
        ("status not in (unpaid, past_due)", [1, 3, 5, 6]),
        # numbers
        ("mrr = 250.5", [2]),
        ("mrr < 250.5", [1, 5]),
        ("mrr <= 250.5", [1, 2, 5]),
        ("mrr > 100", [2, 3]),
        ("mrr >= 100", [1, 2, 3]),
        ("mrr between 100 and 250.5", [1, 2]),
        ("not mrr < 100", [1, 2, 3]),  # NOT LT is GTE: no value, no match
        ("not mrr between 1 and 499", [3, 5]),
        ("id in (2, 5)", [2, 5]),
        # presence
        ("has mrr", [1, 2, 3, 5]),
        ("mrr is empty", [4, 6]),
        ("not has mrr", [4, 6]),
        ("mrr is not empty", [1, 2, 3, 5]),
        # strings match case-insensitively
        ("name = acme", [4]),
        ("name = ACME", [4]),
        ("name = 'acme corp'", [1]),
        ("name != acme", [1, 2, 3, 5, 6]),
        ("name in (ACME, globex)", [3, 4]),
        ("name not in (ACME, globex)", [1, 2, 5, 6]),
        ("currency = usd", [1, 2, 4]),
        # tokens: whole words, * within a word
        ("name ~ acme", [1, 4]),
        ("name ~ ACME*", [1, 2, 4, 5]),
        ("name ~ *labs", [5]),
        ("name ~ a*e", [1, 4]),
        ("payment_method ~ visa", [1, 4]),
        ("name !~ acme*", [3, 6]),  # NOT_CONTAINS_TOKEN includes records without a value
        ("name ~ '100%'", []),
        ("name ~ acm_", []),  # LIKE wildcards are literal
        # dates (today is 2024-03-15)
        ("due = 2024-03-15", [4]),
        ("due = today", [4]),
        ("due < today", [2]),
        ("due <= today", [2, 4]),
        ("due > +3d", [1]),
        ("due between -7d and +7d", [1, 2, 4]),
        ("due != today", [1, 2, 3, 5, 6]),
        # datetimes: a date means the whole UTC day
        ("created = 2024-01-05", [1, 4]),
        ("created != 2024-01-05", [2, 3, 5, 6]),  # like NEQ: 6 has no create date
        ("created > 2024-01-05", [2]),
        ("created >= 2024-01-05", [1, 2, 4]),
        ("created < 2024-01-05", [3, 5]),
        ("created <= 2024-01-05", [1, 3, 4, 5]),
        ("created between 2024-01-04 and 2024-01-05", [1, 3, 4]),
        ("created in (2024-01-04, 2024-01-06)", [2, 3]),
        ("created = 2024-01-05T10:00:00Z", [1]),
        ("created < '2024-01-05T10:00'", [3, 4, 5]),
        ("canceled_at > -60d", [3]),
        # associations
        ("associations.contact = 4211", [1]),
        ("associations.contact in (4211, 4212)", [1, 2]),
        ("associations.contact != 4211", [2, 3, 4, 5, 6]),
        ("not associations.contact = 4211", [2, 3, 4, 5, 6]),
        ("associations.contact not in (4211, 4212)", [3, 4, 5, 6]),
        ("has associations.deal", [1]),
        ("associations.company is empty", [1, 2, 4, 5, 6]),
        # combinations
        ("(status = canceled or status = expired) and canceled_at > -60d", [3]),
        ("status = active or mrr > 200 and name ~ glob*", [1, 3]),
        ("(status = active or mrr > 200) and name ~ glob*", [3]),
        ("not (status = active or has mrr)", [4, 6]),
        ("status in (unpaid, past_due) and due < +7d", [2, 4]),
    ],
)
def test_search(store: SqlRecordStore, text: str, expected: list[int]) -> None:
    assert ids(store, text) == expected


@pytest.mark.parametrize("text", ["name ~ a*p", "name ~ the*acmes"])
def test_token_wildcard_stays_within_a_word(store: SqlRecordStore, text: str) -> None:
    assert ids(store, text) == []


@pytest.mark.parametrize(
    ("token", "text", "matches"),
    [
        ("acme", "Acme, Inc", True),
        ("acme*", "The Acmes (EU)", True),
        ("*@hubspot.com", "ops@hubspot.com", True),
        ("*@hubspot.com", "ops@hubspot.community", False),
        ("a*p", "Acme Corp", False),
        ("50%", "50% off", True),
        ("50%", "500 off", False),
        ("a_b", "axb", False),
    ],
)
def test_token_regex(token: str, text: str, matches: bool) -> None:
    assert bool(re.search(token_regex(token), text.lower())) is matches


# -- CONTAINS_TOKEN runs in linear time ------------------------------------------------------

SEPARATORS = "[" + re.escape(TOKEN_SEPARATORS) + "]"


def _glob(token: str, word: str) -> bool:
    """Whether ``word`` matches ``token`` (``*`` any run of characters), greedily: linear."""
    if "*" not in token:
        return word == token
    first, *middle, last = token.split("*")
    if not word.startswith(first) or len(word) < len(first) + len(last):
        return False
    at, end = len(first), len(word) - len(last)
    for part in middle:
        found = word.find(part, at, end)
        if found < 0:
            return False
        at = found + len(part)
    return word.endswith(last)


ADVERSARIAL_NAMES = ["a" * 41 + "b", "ab" * 21, "a" * 120 + "!", "a-" * 30 + "x"]


@pytest.fixture(scope="module")
def adversarial() -> Iterator[SqlRecordStore]:
    workspace = open_local("sqlite://", create=True).records
    rows = [(i, name) for i, name in enumerate(ADVERSARIAL_NAMES, start=1)]
    workspace.seed("subscriptions", ("hs_object_id", "hs_name"), rows)
    yield workspace
    workspace.close()


@settings(deadline=dt.timedelta(seconds=2), max_examples=40)
@given(
    word=st.sampled_from(["a", "ab", "a-", "b"]),
    wildcards=st.integers(min_value=1, max_value=12),
    extra=st.lists(st.sampled_from(["a", "b", ""]), max_size=3),
    negate=st.booleans(),
)
def test_word_patterns_with_many_wildcards_stay_fast(
    adversarial: SqlRecordStore, word: str, wildcards: int, extra: list[str], negate: bool
) -> None:
    # Each pattern "a*a*…*a" against a long word that almost matches made a backtracking
    # matcher explore every split of the word: seconds at 8 wildcards, minutes at 12.
    token = "*".join([word] * (wildcards + 1) + extra)
    text = f'name {"!~" if negate else "~"} "{token}"'
    found = set(ids(adversarial, text))
    expected = {
        i
        for i, name in enumerate(ADVERSARIAL_NAMES, start=1)
        if any(_glob(token, w) for w in re.split(SEPARATORS, name)) is not negate
    }
    assert found == expected


def test_sqlite_regexp_is_re2() -> None:
    import re2

    from subctl.store.sql.compiler import _compiled

    workspace = open_local("sqlite://", create=True).records
    workspace.seed("subscriptions", ("hs_object_id", "hs_name"), [(1, "a" * 41 + "b")])
    _compiled.cache_clear()
    assert ids(workspace, "name ~ a*a*a") == []
    assert _compiled.cache_info().misses == 1  # the store's REGEXP went through RE2
    assert isinstance(_compiled(token_regex("a*a*a")), re2._Regexp)
    workspace.close()


# -- multiple-checkbox properties -------------------------------------------------------------


def _listed(invoke: Invoke, where: str) -> list[int]:
    result = invoke(["list", "--where", where, "--fields", "id", "--format", "json"])
    assert result.exit_code == 0, result.stderr
    return sorted(row["hs_object_id"] for row in json.loads(result.stdout))


def test_multiple_checkbox_filters_match_any_held_option(seeded: Invoke) -> None:
    created = seeded(
        "property create --name tiers --label Tiers --type enumeration --field-type checkbox "
        "--option Basic --option Premium --option Gold_plan"
    )
    assert created.exit_code == 0, created.stderr
    assert seeded("update 1 --set 'tiers=basic;premium'").exit_code == 0
    assert seeded("update 5 --set tiers=gold_plan").exit_code == 0
    assert _listed(seeded, "tiers = premium") == [1]
    assert _listed(seeded, "tiers in (premium)") == [1]
    assert _listed(seeded, "tiers in (Basic, gold_plan)") == [1, 5]
    assert _listed(seeded, "tiers != premium") == [2, 3, 4, 5]  # with the records without
    assert _listed(seeded, "tiers not in (basic, gold_plan)") == [2, 3, 4]
    assert _listed(seeded, "not tiers = basic") == [2, 3, 4, 5]


def test_a_leading_semicolon_appends_options(seeded: Invoke) -> None:
    created = seeded(
        "property create --name tiers --label Tiers --type enumeration --field-type checkbox "
        "--option Basic --option Premium --option Gold"
    )
    assert created.exit_code == 0, created.stderr
    assert seeded("update 1 --set tiers=basic").exit_code == 0
    appended = seeded("update 1 5 --set 'tiers=;Premium;basic' --yes --format json")
    assert appended.exit_code == 0, appended.stderr
    notes = [row["note"] for row in json.loads(appended.stdout)]
    assert notes == ["set tiers=basic;premium", "set tiers=premium;basic"]
    view = json.loads(seeded("view 1 --format json").stdout)
    assert view["properties"]["tiers"] == "basic;premium"
    refused = seeded("update 1 --set 'tiers=;'")
    assert refused.exit_code == 2
    assert refused.stderr.startswith('Error: tiers: ";" appends options; name at least one')


# -- relative dates on datetime properties ----------------------------------------------------


def test_datetime_offsets_count_from_now_not_midnight(seeded: Invoke) -> None:
    # Now is 2026-11-26T12:00Z; subscription 4 was canceled 2026-10-01T09:30Z, 56 days and
    # 2.5 hours ago: "more than 56 days ago", and not "less than 56 days ago".
    assert _listed(seeded, "canceled_at < -56d") == [4]
    assert _listed(seeded, "canceled_at > -56d") == []
    assert _listed(seeded, "canceled_at > -57d") == [4]
    assert _listed(seeded, "canceled_at < now") == [4]
    # date properties keep whole days: due 2026-11-20 is "before -6d" (2026-11-20) only with <=
    assert _listed(seeded, "due < -6d") == []
    assert _listed(seeded, "due <= -6d") == [2]


def test_datetime_duration_rules_count_from_now(seeded: Invoke) -> None:
    created = seeded(
        "property create --name go_live --label 'Go live' --type datetime --field-type date "
        "--rule AFTER_DATETIME_DURATION:PT48H"
    )
    assert created.exit_code == 0, created.stderr
    early = seeded("update 1 --set go_live=2026-11-28T11:00:00Z")  # 47 hours from now
    assert early.exit_code == 2
    assert "PT48H after now (AFTER_DATETIME_DURATION PT48H)" in early.stderr
    assert seeded("update 1 --set go_live=2026-11-28T12:00:00Z").exit_code == 0
    preview = seeded(
        "property create --name go_live2 --label 'Go live 2' --type datetime --field-type date "
        "--rule AFTER_DATETIME_DURATION:PT48H --preview --sample 2026-11-28T11:00:00Z"
    )
    assert preview.exit_code == 2
    assert "PT48H after now (AFTER_DATETIME_DURATION PT48H)" in preview.stderr


# -- complement: not Q and empty values --------------------------------------------------------

DEMO_TODAY = dt.date(2026, 11, 26)
DEMO_NOW = dt.datetime(2026, 11, 26, 12, tzinfo=UTC)


@pytest.fixture(scope="module")
def demo_store() -> Iterator[SqlRecordStore]:
    from subctl.services.demo import populate

    workspace = open_local("sqlite://", create=True).records
    populate(workspace, count=400, seed=7, today=DEMO_TODAY)
    yield workspace
    workspace.close()


def _leaf() -> st.SearchStrategy[str]:
    numbers = st.sampled_from(["0", "49.5", "99", "100", "250", "1e3", "-1"])
    days = st.sampled_from(["2026-11-20", "today", "-60d", "+7d", "-1y", "2025-01-01"])
    instants = st.sampled_from(["now", "-60d", "-1d", "2026-10-01T09:30:00Z", "2025-06-01"])
    ordered = st.sampled_from(["=", "!=", "<", "<=", ">", ">="])
    return st.one_of(
        st.builds("mrr {} {}".format, ordered, numbers),
        st.builds("next_payment_amount {} {}".format, ordered, numbers),
        st.builds("mrr between {} and {}".format, numbers, numbers),
        st.builds("due {} {}".format, ordered, days),
        st.builds("due between {} and {}".format, days, days),
        st.builds("canceled_at {} {}".format, ordered, instants),
        st.builds("canceled_at between {} and {}".format, instants, instants),
        st.builds("created {} {}".format, ordered, instants),
        st.builds(
            "status {} {}".format,
            st.sampled_from(["=", "!="]),
            st.sampled_from(["active", "canceled", "PAST_DUE"]),
        ),
        st.builds("status {} (unpaid, paused)".format, st.sampled_from(["in", "not in"])),
        st.builds(
            "name {} {}".format,
            st.sampled_from(["~", "!~"]),
            st.sampled_from(["acme*", "*a*", "global*", "x"]),
        ),
        st.builds("has {}".format, st.sampled_from(["canceled_at", "mrr", "pause_reason"])),
        st.builds("{} is empty".format, st.sampled_from(["canceled_at", "due", "frequency"])),
        st.builds("payment_method {} {}".format, st.sampled_from(["=", "!="]), st.just("x")),
    )


QUERIES = st.recursive(
    _leaf(),
    lambda inner: st.one_of(
        st.builds("({}) and ({})".format, inner, inner),
        st.builds("({}) or ({})".format, inner, inner),
        st.builds("not ({})".format, inner),
    ),
    max_leaves=4,
)


@settings(max_examples=150, deadline=None)
@given(QUERIES)
def test_not_q_is_the_complement_of_q_up_to_empty_values(
    demo_store: SqlRecordStore, text: str
) -> None:
    # The rule (store/sql/compiler.py): a filter on a property never matches a record without a
    # value, except the negative operators (!=, not in, !~, is empty). So every record matches
    # exactly one of Q and not Q, or, when one of Q's fields is empty, possibly neither; never
    # both.
    registry = demo_store.properties()
    query = parse(text, registry, today=DEMO_TODAY, now=DEMO_NOW)
    some_empty = Or(tuple(Condition(f, Op.NOT_HAS_PROPERTY) for f in sorted(fields_of(query))))
    matched, complement, empty, every = (
        {s.id for s in demo_store.search(Query(where=where), fields=["hs_object_id"])}
        for where in (query, Not(query), some_empty, None)
    )
    assert not matched & complement
    neither = every - matched - complement
    assert neither <= empty
    assert demo_store.count(query) + demo_store.count(Not(query)) + len(neither) == len(every)
