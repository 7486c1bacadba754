"""The record-store contract, association cells: what an export's association columns show
(``RecordStore.association_cells``), on every backend."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import pytest

from subctl.errors import InputError
from subctl.schema import ASSOCIATION_BY_NAME
from subctl.store.base import AssociationCell, RecordStore

AT = dt.datetime(2026, 1, 2, 3, 4, 5, tzinfo=dt.UTC)

# One record of every object type, with the label it shows.
RECORDS: dict[str, tuple[dict[str, Any], str]] = {
    "contact": ({"firstname": "Ada", "lastname": "Lovelace",
                 "emails": ["ada@example.com", "ada@work.example", "a@l.example"]},
                "Ada Lovelace (ada@example.com)"),
    "company": ({"name": "Acme Inc", "domains": ["acme.com", "acme-app.io"]}, "Acme Inc"),
    "deal": ({"name": "Big deal", "amount": Decimal("1000"), "stage": None}, "Big deal"),
    "line_item": ({"name": "Seat", "quantity": 3, "price": Decimal("5")}, "Seat × 3"),
    "quote": ({"title": "Q-1", "status": None}, "Q-1"),
    "invoice": ({"number": "INV-0000001", "amount": None, "status": None}, "INV-0000001"),
    "payment": ({"amount": Decimal("99.5"), "currency": "USD", "status": "succeeded",
                 "method": "card"}, "99.50 USD succeeded (card)"),
    "order": ({"name": "Order 1001", "amount": Decimal("99.5"), "currency": "USD",
               "status": "paid"}, "Order 1001"),
    "payment_link": ({"name": "Pro plan checkout", "url": "https://pay.example/p/1"},
                     "Pro plan checkout"),
    "feedback_submission": ({"survey": "NPS survey", "sentiment": "positive"},
                            "NPS survey (positive)"),
    "custom_record": ({"object_name": "License", "name": "Seat license 7"},
                      "Seat license 7 (License)"),
}  # fmt: skip


def _create(records: RecordStore, object_type: str, values: dict[str, Any]) -> int:
    return records.create_record(object_type, {**values, "created_at": AT})


def _link(records: RecordStore, sub_id: int, object_type: str, object_id: int) -> None:
    records.associate(sub_id, object_type, object_id, ASSOCIATION_BY_NAME[object_type].type_id)


def test_every_object_type_has_a_record_and_a_label(records: RecordStore) -> None:
    assert set(RECORDS) == set(ASSOCIATION_BY_NAME)
    made = {}
    for object_type, (values, label) in RECORDS.items():
        made[object_type] = record_id = _create(records, object_type, values)
        assert records.record_label(object_type, record_id) == label
        _link(records, 101, object_type, record_id)
    cells = records.association_cells([101, 102], list(RECORDS))
    assert cells[101] == {
        name: AssociationCell((made[name],), (label,), 1) for name, (_v, label) in RECORDS.items()
    }
    assert cells[102] == dict.fromkeys(RECORDS, AssociationCell((), (), 0))  # none: empty
    found = {(a.object_type, a.id, a.type_id, a.label) for a in records.associations(101)}
    assert found == {
        (name, made[name], ASSOCIATION_BY_NAME[name].type_id, label)
        for name, (_v, label) in RECORDS.items()
    }


def test_ordered_by_id_capped_and_counted(records: RecordStore) -> None:
    deals = [_create(records, "deal", {"name": f"Deal {n}"}) for n in range(5)]
    for deal in reversed(deals):  # associated in the other order: cells follow the ids
        _link(records, 101, "deal", deal)
    for deal in deals[:2]:
        _link(records, 102, "deal", deal)
    cells = records.association_cells([102, 101, 103, 101], ["deal"], cap=3)
    assert list(cells) == [102, 101, 103]  # the ids given, once each
    assert cells[101]["deal"] == AssociationCell(
        tuple(deals[:3]), ("Deal 0", "Deal 1", "Deal 2"), 5
    )
    assert cells[102]["deal"] == AssociationCell(tuple(deals[:2]), ("Deal 0", "Deal 1"), 2)
    assert cells[103]["deal"] == AssociationCell((), (), 0)
    everything = records.association_cells([101], ["deal"], cap=None)[101]["deal"]
    assert everything.ids == tuple(deals) and everything.count == 5
    assert records.association_cells([101], ["deal"])[101]["deal"].count == 5  # default 1,000
    one = records.association_cells([101], ["deal"], cap=1)[101]["deal"]
    assert one == AssociationCell((deals[0],), ("Deal 0",), 5)


def test_more_subscriptions_than_one_chunk(records: RecordStore) -> None:
    """A subscription past the first chunk of 1,000 ids (most of them no subscription's)."""
    deal = _create(records, "deal", {"name": "Shared"})
    _link(records, 104, "deal", deal)
    ids = [*range(200, 1400), 104]
    cells = records.association_cells(ids, ["deal", "contact"])
    assert len(cells) == 1201
    assert cells[104]["deal"] == AssociationCell((deal,), ("Shared",), 1)
    assert cells[1399] == {
        "deal": AssociationCell((), (), 0),
        "contact": AssociationCell((), (), 0),
    }


def test_all_emails_and_all_domains(records: RecordStore) -> None:
    ada = _create(records, "contact", RECORDS["contact"][0])
    nameless = _create(records, "contact", {"firstname": None, "lastname": None,
                                            "emails": ["x@example.com"]})  # fmt: skip
    mailless = _create(records, "contact", {"firstname": "Bo", "lastname": None, "emails": []})
    acme = _create(records, "company", RECORDS["company"][0])
    bare = _create(records, "company", {"name": "Bare Ltd", "domains": []})
    for contact in (ada, nameless, mailless):
        _link(records, 101, "contact", contact)
    for company in (acme, bare):
        _link(records, 101, "company", company)
    plain = records.association_cells([101], ["contact", "company"])[101]
    assert plain["contact"].labels == ("Ada Lovelace (ada@example.com)",
                                       f"{nameless} (x@example.com)", "Bo")  # fmt: skip
    assert plain["company"].labels == ("Acme Inc", "Bare Ltd")
    every = records.association_cells(
        [101], ["contact", "company"], all_emails=True, all_domains=True, cap=2
    )[101]
    assert every["contact"] == AssociationCell(
        (ada, nameless),
        ("Ada Lovelace (ada@example.com, ada@work.example, a@l.example)",
         f"{nameless} (x@example.com)"),
        3,
    )  # fmt: skip
    assert every["company"] == AssociationCell(
        (acme, bare), ("Acme Inc (acme.com, acme-app.io)", "Bare Ltd"), 2
    )
    # each option widens only its own object's labels
    mixed = records.association_cells([101], ["contact", "company"], all_domains=True)[101]
    assert mixed["contact"] == plain["contact"]
    assert mixed["company"] == every["company"]


def test_unknown_object_or_a_cap_below_1_is_an_input_error(records: RecordStore) -> None:
    with pytest.raises(InputError, match='unknown object "ticket"; one of: contact, company') as e:
        records.association_cells([101], ["deal", "ticket"])
    assert e.value.input == "associations"
    for cap in (0, -1):
        with pytest.raises(InputError, match="is not a positive whole number") as caught:
            records.association_cells([101], ["deal"], cap=cap)
        assert caught.value.input == "cap"


def test_nothing_asked_nothing_read(records: RecordStore) -> None:
    assert records.association_cells([], ["deal"]) == {}
    assert records.association_cells([101], []) == {101: {}}
