"""The value codec: every direction of every property type round-trips (typed -> storage ->
typed, typed -> wire -> typed, typed -> text -> typed)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from subctl import codec
from subctl.codec import PropType
from subctl.schema import Option, Property

TODAY = dt.date(2026, 11, 26)
OPTIONS = (Option("Basic", "basic"), Option("Pro plan", "pro_plan"), Option("A;B", "a_b"))


def _prop(ptype: PropType, *, money: bool = False) -> Property:
    kinds = {PropType.BOOL: "booleancheckbox", PropType.ENUMERATION: "select",
             PropType.NUMBER: "number", PropType.STRING: "text"}  # fmt: skip
    field_type = kinds.get(ptype, "date")
    options = OPTIONS if ptype is PropType.ENUMERATION else ()
    return Property("p", "P", ptype, field_type, options=options, money=money)


def _number(x: float) -> Any:
    """A number a property holds (as ``parse_number`` accepts it): the typed value of a double."""
    return codec.from_storage(PropType.NUMBER, x)


finite = st.floats(allow_nan=False, allow_infinity=False)
numbers = finite.filter(lambda x: x == 0 or 1e-12 <= abs(x) < 1e18).map(_number)
amounts = st.integers(-(10**13), 10**13).map(lambda cents: Decimal(cents) / 100)
dates = st.dates()
datetimes = st.datetimes(timezones=st.just(dt.UTC)).map(
    lambda d: d.replace(microsecond=d.microsecond // 1000 * 1000)
)
texts = st.text(st.characters(exclude_categories=("Cs",)))
TYPED: dict[PropType, st.SearchStrategy[Any]] = {
    PropType.STRING: texts.filter(bool),
    PropType.NUMBER: numbers,
    PropType.DATE: dates,
    PropType.DATETIME: datetimes,
    PropType.ENUMERATION: st.sampled_from([o.value for o in OPTIONS]),
    PropType.BOOL: st.booleans(),
}
assert set(TYPED) == set(PropType)
typed_values = st.one_of(*(st.tuples(st.just(t), s) for t, s in TYPED.items()))


@given(typed_values)
def test_storage_round_trip(case: tuple[PropType, Any]) -> None:
    ptype, value = case
    stored = codec.to_storage(ptype, value)
    assert codec.from_storage(ptype, stored) == value
    assert _prop(ptype).from_storage(_prop(ptype).to_storage(value)) == value


@given(typed_values)
def test_wire_round_trip(case: tuple[PropType, Any]) -> None:
    ptype, value = case
    wire = codec.to_wire(ptype, value)
    assert isinstance(wire, str)
    assert codec.from_wire(ptype, wire) == value


@given(typed_values)
def test_text_round_trip(case: tuple[PropType, Any]) -> None:
    ptype, value = case
    text = codec.to_text(value)
    assert codec.parse_text(_prop(ptype), text, today=TODAY) == value


@given(amounts)
def test_amounts_round_trip(amount: Decimal) -> None:
    prop = _prop(PropType.NUMBER, money=True)
    back = prop.from_storage(prop.to_storage(amount))
    assert back == amount and isinstance(back, Decimal)
    assert codec.from_wire(PropType.NUMBER, codec.to_wire(PropType.NUMBER, amount), money=True) == (
        amount
    )
    assert codec.parse_text(prop, codec.to_text(amount), today=TODAY) == amount


@given(datetimes)
def test_epoch_ms(moment: dt.datetime) -> None:
    ms = codec.datetime_to_ms(moment)
    assert codec.ms_to_datetime(ms) == moment
    assert codec.ms_to_datetime(str(ms)) == moment
    assert codec.ms_to_date(codec.date_to_ms(moment.date())) == moment.date()


@pytest.mark.parametrize(
    ("ptype", "wire", "typed"),
    [
        (PropType.DATE, "1767225600000", dt.date(2026, 1, 1)),
        (PropType.DATE, "2026-01-01", dt.date(2026, 1, 1)),
        (PropType.DATETIME, "2019-10-30T03:30:17.883Z",
         dt.datetime(2019, 10, 30, 3, 30, 17, 883000, tzinfo=dt.UTC)),
        (PropType.DATETIME, "1767225600000", dt.datetime(2026, 1, 1, tzinfo=dt.UTC)),
        (PropType.NUMBER, "12.50", Decimal("12.5")),
        (PropType.NUMBER, "30", 30),
        (PropType.BOOL, "true", True),
        (PropType.BOOL, "false", False),
        (PropType.STRING, "", None),
    ],
)  # fmt: skip
def test_hubspot_forms(ptype: PropType, wire: str, typed: Any) -> None:
    assert codec.from_wire(ptype, wire) == typed


def test_texts() -> None:
    moment = dt.datetime(2026, 1, 2, 3, 4, 5, 678000, tzinfo=dt.UTC)
    assert codec.to_text(moment) == "2026-01-02T03:04:05.678Z"
    assert codec.to_text(dt.datetime(999, 1, 1, tzinfo=dt.UTC)) == "0999-01-01T00:00:00.000Z"
    assert codec.short_datetime(moment.replace(microsecond=0)) == "2026-01-02T03:04:05Z"
    assert codec.short_datetime(moment) == "2026-01-02T03:04:05.678Z"
    assert codec.to_text(True) == "true"
    assert codec.to_text(None) == ""
    assert codec.to_text([1, dt.date(2026, 1, 1)]) == "1; 2026-01-01"
    assert codec.to_json(Decimal("1.50")) == 1.5
    assert codec.storage_of(moment) == codec.datetime_to_ms(moment)
    assert codec.storage_of(Decimal("2.5")) == 2.5
