"""Typed coercion of property values from text."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from subctl.errors import UsageError
from subctl.schema import Option, Property, PropType, standard_registry
from subctl.services.values import coerce_value

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
