"""The record-store contract: custom property definitions, records and associations."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from subctl.errors import Conflict, NotFound, UsageError
from subctl.query.ast import Condition, Op, Query
from subctl.schema import Option, Property, PropType
from subctl.store.base import RecordStore
from subctl.store.ops import Update

AT = dt.datetime(2026, 11, 26, 12, tzinfo=dt.UTC)
TIER = Property(
    "subscription_tier", "Subscription tier", PropType.ENUMERATION, "select",
    options=(Option("Basic", "basic"), Option("Professional", "professional")),
    description="Plan tier", group="plans", hubspot_defined=False,
)  # fmt: skip
CODE = Property(
    "order_code", "Order code", PropType.STRING, "text", hubspot_defined=False,
    sensitivity="highly_sensitive", unique=True,
    rules=(("MIN_LENGTH", ("2",)), ("REGEX", ("^[A-Z]+$", "capitals"))),
)  # fmt: skip


def _set(records: RecordStore, sub_id: int, status: str, **values: object) -> None:
    records.execute([Update(subscription_id=sub_id, expect_status=status, at=AT, source="test",
                          values=dict(values))])  # fmt: skip


def _ids(records: RecordStore, where: Condition) -> list[int]:
    return [s.id for s in records.search(Query(where=where))]


def test_create_property_defines_a_filterable_column(records: RecordStore) -> None:
    records.create_property(TIER)
    assert records.properties().get("subscription_tier") == TIER
    assert records.properties().get("Subscription tier") == TIER
    assert records.get(101).properties["subscription_tier"] is None
    _set(records, 101, "active", subscription_tier="basic")
    _set(records, 102, "unpaid", subscription_tier="professional")
    assert _ids(records, Condition("subscription_tier", Op.EQ, ("basic",))) == [101]
    assert records.count(Condition("subscription_tier", Op.HAS_PROPERTY)) == 2
    with pytest.raises(Conflict):
        records.create_property(TIER)


def test_string_property_filters_case_insensitively_and_unique_values_conflict(
    records: RecordStore,
) -> None:
    records.create_property(CODE)
    assert records.properties().get("order_code") == CODE
    _set(records, 101, "active", order_code="AB")
    assert _ids(records, Condition("order_code", Op.EQ, ("ab",))) == [101]
    with pytest.raises(Conflict):
        _set(records, 102, "unpaid", order_code="AB")


def test_update_property(records: RecordStore) -> None:
    records.create_property(TIER)
    edited = Property(
        TIER.name, "Tier", TIER.type, "radio", options=(*TIER.options, Option("Gold", "gold")),
        hubspot_defined=False, rules=(), sensitivity="sensitive",
    )  # fmt: skip
    records.update_property(edited)
    assert records.properties().get("subscription_tier") == edited
    with pytest.raises(UsageError):
        records.update_property(Property(TIER.name, "Tier", PropType.STRING, "text",
                                       hubspot_defined=False))  # fmt: skip
    with pytest.raises(NotFound):
        records.update_property(Property("nope", "Nope", PropType.STRING, "text",
                                       hubspot_defined=False))  # fmt: skip


def test_delete_property_removes_definition_and_values(records: RecordStore) -> None:
    records.create_property(TIER)
    _set(records, 101, "active", subscription_tier="basic")
    records.delete_property("subscription_tier")
    assert records.properties().get("subscription_tier") is None
    assert "subscription_tier" not in records.get(101).properties
    with pytest.raises(NotFound):
        records.delete_property("subscription_tier")
    with pytest.raises(NotFound):
        records.delete_property("hs_status")
    records.create_property(TIER)  # the name is free again, with no values
    assert records.count(Condition("subscription_tier", Op.HAS_PROPERTY)) == 0


def test_records_and_associations(records: RecordStore) -> None:
    contact = records.create_record(
        "contact", {"firstname": "Ada", "lastname": "Lovelace", "created_at": AT,
                    "emails": ["ada@example.com", "ada@work.example"]},
    )  # fmt: skip
    company = records.create_record("company", {"name": "Acme", "domains": ["acme.com"],
                                              "created_at": AT})  # fmt: skip
    item = records.create_record(
        "line_item", {"name": "Pro plan", "quantity": 2, "price": Decimal("10"), "created_at": AT}
    )
    assert records.record_label("contact", contact) == "Ada Lovelace (ada@example.com)"
    assert records.record_label("line_item", item) == "Pro plan × 2"
    with pytest.raises(NotFound, match="contact 999 not found"):
        records.record_label("contact", 999)

    assert records.associations(101) == []
    records.associate(101, "contact", contact, 295)
    records.associate(101, "contact", contact, 295)  # idempotent
    records.associate(101, "company", company, 297)
    records.associate(102, "company", company, 297)
    (link,) = records.associations(101, "contact")
    assert (link.object_type, link.id, link.type_id, link.details) == (
        "contact",
        contact,
        295,
        ("ada@example.com", "ada@work.example"),
    )
    assert [(a.object_type, a.type_id) for a in records.associations(101)] == [
        ("company", 297),
        ("contact", 295),
    ]
    assert records.associated_subscriptions("company", company) == [101, 102]
    assert [s.id for s in records.search(
        Query(where=Condition("associations.company", Op.EQ, (company,)))
    )] == [101, 102]  # fmt: skip

    records.dissociate(101, "company", company)
    assert records.associated_subscriptions("company", company) == [102]
    with pytest.raises(NotFound):
        records.dissociate(101, "company", company)
    with pytest.raises(NotFound):
        records.associate(999, "contact", contact, 295)
    with pytest.raises(NotFound):
        records.associate(101, "deal", 12345, 299)
    with pytest.raises(NotFound):
        records.associations(999)


def test_every_associable_object_can_be_created(records: RecordStore) -> None:
    values: dict[str, dict[str, object]] = {
        "contact": {"firstname": None, "lastname": None, "emails": ["x@example.com"]},
        "company": {"name": "Globex", "domains": []},
        "deal": {"name": "Big deal", "amount": Decimal("1000"), "stage": None},
        "line_item": {"name": "Seat", "quantity": 1, "price": Decimal("5")},
        "quote": {"title": "Q-1", "status": None},
        "invoice": {"number": "INV-1", "amount": None, "status": None},
        "payment": {"amount": Decimal("99.50"), "currency": "USD", "status": "succeeded",
                    "method": "card"},
    }  # fmt: skip
    for object_type, fields in values.items():
        first = records.create_record(object_type, {**fields, "created_at": AT})
        second = records.create_record(object_type, {**fields, "created_at": AT})
        assert second == first + 1
        assert records.record_label(object_type, first)
