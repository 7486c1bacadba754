"""Typed coercion of property values from text."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from subctl.errors import UsageError
from subctl.schema import Option, Property, PropType, standard_registry
from subctl.services.values import coerce_value
from tests.conftest import Invoke

TODAY = dt.date(2026, 11, 26)
REG = standard_registry()
TIER = Property("subscription_tier", "Subscription tier", PropType.ENUMERATION, "select",
                options=(Option("Basic", "basic"), Option("Professional", "professional")),
                hubspot_defined=False)  # fmt: skip


@pytest.mark.parametrize(
    ("name", "text", "expected"),
    [
        ("next_payment_due_date", "2026-12-24", dt.date(2026, 12, 24)),
        ("next_payment_due_date", "+7d", dt.date(2026, 12, 3)),
        ("canceled_at", "2026-01-02T03:04:05Z", dt.datetime(2026, 1, 2, 3, 4, 5, tzinfo=dt.UTC)),
        ("mrr", "12.5", Decimal("12.5")),
        ("net_payment_terms", "30", 30),
        ("status", "Unpaid", "unpaid"),
        ("status", "past_due", "past_due"),
        ("name", "=cmd", "=cmd"),
        ("name", "", None),
    ],
)
def test_coerce(name: str, text: str, expected: object) -> None:
    prop = REG.get(name)
    assert prop is not None
    assert coerce_value(prop, text, today=TODAY) == expected


@pytest.mark.parametrize(
    ("prop_name", "text", "message"),
    [
        ("mrr", "ten", 'mrr: "ten" is not a number'),
        ("mrr", "nan", 'mrr: "nan" is not a number'),
        ("status", "bogus", 'status: "bogus" is not an option (active, unpaid, past_due, '
                            "canceled, expired, scheduled, paused)"),
        ("due", "someday", 'next_payment_due_date: "someday" is not a date'),
    ],
)  # fmt: skip
def test_coerce_errors(prop_name: str, text: str, message: str) -> None:
    prop = REG.get(prop_name)
    assert prop is not None
    with pytest.raises(UsageError) as info:
        coerce_value(prop, text, today=TODAY)
    assert info.value.message.startswith(message)


def test_custom_enumeration_by_label_or_value() -> None:
    assert coerce_value(TIER, "basic", today=TODAY) == "basic"
    assert coerce_value(TIER, "PROFESSIONAL", today=TODAY) == "professional"
    with pytest.raises(UsageError, match=r'subscription_tier: "gold" is not an option'):
        coerce_value(TIER, "gold", today=TODAY)


@given(st.text(max_size=40))
def test_any_text_parses_or_is_a_usage_error(text: str) -> None:
    for prop in REG:
        try:
            coerce_value(prop, text, today=TODAY)
        except UsageError:
            pass


@pytest.mark.parametrize("text", ["0001-01-01T00:00+05:00", "9999-12-31T23:59-05:00"])
def test_out_of_range_dates_are_usage_errors(text: str) -> None:
    for name in ("due", "canceled_at"):
        prop = REG.get(name)
        assert prop is not None
        with pytest.raises(UsageError, match="out of range"):
            coerce_value(prop, text, today=TODAY)


def test_errors_never_echo_highly_sensitive_values() -> None:
    for ptype, field_type in ((PropType.NUMBER, "number"), (PropType.DATE, "date"),
                              (PropType.BOOL, "booleancheckbox")):  # fmt: skip
        secret = Property("secret", "Secret", ptype, field_type, hubspot_defined=False,
                          sensitivity="highly_sensitive")  # fmt: skip
        with pytest.raises(UsageError) as info:
            coerce_value(secret, "DK-12345678", today=TODAY)
        assert "DK-12345678" not in info.value.message
        assert info.value.message.startswith("secret: ****** is not")


@pytest.mark.parametrize("text", ["1e27", "-1e18", "1e-400", "1E+30"])
def test_numbers_out_of_range_are_refused(text: str) -> None:
    prop = REG.get("mrr")
    assert prop is not None
    with pytest.raises(UsageError, match="out of range"):
        coerce_value(prop, text, today=TODAY)


def test_huge_stored_money_still_reads_back() -> None:
    prop = REG.get("mrr")
    assert prop is not None
    assert prop.from_storage(1e27) == Decimal("1000000000000000013287555072.00")


# -- one conversion for --set, --where literals and files -------------------------------------


def _ids(invoke: Invoke, where: str) -> list[int]:
    result = invoke(["list", "--where", where, "--fields", "id", "--format", "json"])
    assert result.exit_code == 0, result.stderr
    return sorted(row["hs_object_id"] for row in json.loads(result.stdout))


def test_set_and_where_accept_the_same_words(seeded: Invoke) -> None:
    for args in (
        "property create --name flag --label Flag --type bool --field-type booleancheckbox",
        "property create --name score --label Score --type number --field-type number",
    ):
        assert seeded(args).exit_code == 0
    assert seeded("update 1 --set flag=on --set score=12.345").exit_code == 0
    assert seeded("update 5 --set flag=off --set score=0.5").exit_code == 0
    assert _ids(seeded, "flag = on") == [1]
    assert _ids(seeded, "flag = OFF") == [5]
    # what view shows is what --where matches
    shown = json.loads(seeded("view 1 --format json").stdout, parse_float=Decimal)
    assert shown["properties"]["score"] == Decimal("12.345")
    assert _ids(seeded, "score = 12.345") == [1]
    assert _ids(seeded, "score = 12.34") == []


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("1e-13", '"1e-13" is out of range'),
        ("999999999999999999", '"999999999999999999" has more digits than a number property '
                               "holds exactly (up to 15 significant digits)"),
        ("0.12345678901234567", '"0.12345678901234567" has more digits'),
    ],
)  # fmt: skip
def test_numbers_set_and_where_refuse_alike(seeded: Invoke, text: str, message: str) -> None:
    assert seeded("property create --name score --label Score --type number").exit_code == 0
    updated = seeded(f"update 1 --set score={text}")
    assert updated.exit_code == 2
    assert updated.stderr.startswith(f"Error: score: {message}")
    listed = seeded(["list", "--where", f"score = {text}"])
    assert listed.exit_code == 2
    assert listed.stderr.startswith(f"Error: {message}")


@given(st.decimals(allow_nan=False, allow_infinity=False, places=None))
def test_accepted_numbers_read_back_exactly(number: Decimal) -> None:
    prop = REG.get("net_payment_terms")
    assert prop is not None
    try:
        value = coerce_value(prop, str(number), today=TODAY)
    except UsageError:
        return
    assert Decimal(value) == number
    assert prop.from_storage(prop.to_storage(value)) == number


@pytest.mark.parametrize(
    ("name", "text", "expected"),
    [
        ("due", "1798243200000", dt.date(2026, 12, 26)),  # epoch ms at midnight UTC
        ("due", "2026-12-26T00:00:00Z", dt.date(2026, 12, 26)),
        (
            "canceled_at",
            "1798243200123",
            dt.datetime(2026, 12, 26, 0, 0, 0, 123_000, tzinfo=dt.UTC),
        ),
        ("canceled_at", "-60d", dt.datetime(2026, 9, 27, 12, tzinfo=dt.UTC)),
        ("canceled_at", "now", dt.datetime(2026, 11, 26, 12, tzinfo=dt.UTC)),
        ("canceled_at", "yesterday", dt.datetime(2026, 11, 25, tzinfo=dt.UTC)),
        ("status", "PAST_DUE", "past_due"),
        ("status", " Past due ", "past_due"),
    ],
)
def test_epoch_milliseconds_offsets_and_case(name: str, text: str, expected: object) -> None:
    prop = REG.get(name)
    assert prop is not None
    now = dt.datetime(2026, 11, 26, 12, tzinfo=dt.UTC)
    assert coerce_value(prop, text, today=TODAY, now=now) == expected


@pytest.mark.parametrize(
    "text", ["2026-12-26T10:00:00Z", "1798243200001", "2026-12-26T00:00-02:00"]
)
def test_a_datetime_for_a_date_property_is_refused_not_truncated(text: str) -> None:
    prop = REG.get("due")
    assert prop is not None
    with pytest.raises(UsageError, match="has a time of day; a date takes a day"):
        coerce_value(prop, text, today=TODAY)


def test_status_values_match_case_insensitively(seeded: Invoke) -> None:
    assert _ids(seeded, "status in (PAST_DUE, UNPAID)") == _ids(seeded, "status = unpaid") == [2, 3]
    assert _ids(seeded, "status != PAST_DUE") == [1, 2, 3, 4, 5]
