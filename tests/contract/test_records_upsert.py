"""The record-store contract of ``ops.Upsert`` (``subctl import``): a create keeps the given id
(or gets one from the store, written back into the operation), its values as given (computed
columns included) and history from empty; an update sets the values and checks the status;
associations are added (existing ones kept) and missing associated records created with their
ids; a record that must exist and does not, or an id taken, is a ``Conflict``, nothing
written."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from subctl.errors import Conflict, InvalidState
from subctl.store import ops
from subctl.store.base import RecordStore

AT = dt.datetime(2026, 11, 26, 12, tzinfo=dt.UTC)
CREATED = dt.datetime(2025, 1, 2, 3, 4, 5, tzinfo=dt.UTC)


def _upsert(sub_id: int, values: dict[str, object], **fields: object) -> ops.Upsert:
    return ops.Upsert(subscription_id=sub_id, expect_status=fields.pop("expect", None), at=AT,
                      source="import", values=values, **fields)  # type: ignore[arg-type]  # fmt: skip


def test_a_create_keeps_its_id_values_and_records_history(records: RecordStore) -> None:
    contact = ops.NewRecord(object_type="contact", id=9001,
                            values={"firstname": "Ada", "lastname": "Lovelace",
                                    "emails": ["ada@example.com"], "created_at": AT})  # fmt: skip
    op = _upsert(501, {"hs_name": "Imported", "hs_status": "active", "hs_mrr": Decimal("9.50"),
                       "hs_createdate": CREATED}, create=True,
                 associations=(("contact", 9001, 295),), records=(contact,))  # fmt: skip
    if not records.capabilities.given_ids:  # HubSpot assigns ids: refused, nothing sent
        with pytest.raises(InvalidState, match="create"):
            records.execute([op])
        assert records.get_many([501], ["hs_name"]) == {}
        return
    records.execute([op])
    sub = records.get(501)
    assert {k: sub.properties[k] for k in ("hs_name", "hs_status", "hs_mrr", "hs_createdate",
                                           "hs_lastmodifieddate")} == {
        "hs_name": "Imported", "hs_status": "active", "hs_mrr": Decimal("9.50"),
        "hs_createdate": CREATED, "hs_lastmodifieddate": AT,
    }  # fmt: skip
    assert [(a.object_type, a.id, a.type_id, a.label) for a in records.associations(501)] == [
        ("contact", 9001, 295, "Ada Lovelace (ada@example.com)")
    ]
    history = {(c.property, c.old_value, c.new_value, c.source)
               for c in records.detail(501).history}  # fmt: skip
    assert history == {("hs_name", None, "Imported", "import"),
                       ("hs_status", None, "active", "import"),
                       ("hs_mrr", None, "9.50", "import")}  # fmt: skip


def test_a_create_without_an_id_gets_one_after_the_highest(records: RecordStore) -> None:
    op = _upsert(0, {"hs_name": "New"}, create=True)
    records.execute([op])
    assert op.subscription_id > 104
    assert records.get(op.subscription_id).properties["hs_name"] == "New"
    given = _upsert(900, {"hs_name": "Given"}, create=True)
    if not records.capabilities.given_ids:  # HubSpot assigns ids
        with pytest.raises(InvalidState, match="HubSpot assigns record ids"):
            records.execute([given])
        assert records.get_many([900], ["hs_name"]) == {}
        return
    records.execute([given])
    after = _upsert(0, {"hs_name": "After"}, create=True)
    records.execute([after])
    assert after.subscription_id == 901


def test_an_update_sets_values_and_adds_associations(records: RecordStore) -> None:
    acme = {"name": "Acme", "domains": ["acme.com"], "created_at": AT}
    made: tuple[ops.NewRecord, ...] = ()
    if records.capabilities.given_ids:  # the import creates the company with its id
        made, company = (ops.NewRecord(object_type="company", id=7001, values=acme),), 7001
    else:  # HubSpot assigns ids: an import associates records that exist
        company = records.create_record("company", acme)
    link = (("company", company, 297),)
    renamed = {"hs_name": "Renamed"}
    records.execute([_upsert(101, renamed, expect="active", associations=link, records=made)])
    assert records.get(101).properties["hs_name"] == "Renamed"
    assert [a.id for a in records.associations(101, "company")] == [company]
    # again: the record exists, the association too; nothing is duplicated
    records.execute([_upsert(101, {}, expect="active", associations=link, records=made)])
    assert [a.id for a in records.associations(101, "company")] == [company]


@pytest.mark.parametrize(
    "op",
    [
        _upsert(101, {"hs_name": "Taken"}, create=True),
        _upsert(102, {"hs_name": "Stale"}, expect="active"),
        _upsert(502, {"hs_name": "Missing record"}, create=True,
                associations=(("payment", 8001, 393),),
                records=(ops.NewRecord(object_type="payment", id=8001, values=None),)),
    ],
    ids=["id taken", "status changed", "record missing"],
)  # fmt: skip
def test_a_refused_upsert_writes_nothing(records: RecordStore, op: ops.Upsert) -> None:
    before = records.get(101).properties["hs_name"], records.get(102).properties["hs_name"]
    if not records.capabilities.given_ids:
        # HubSpot assigns ids: a create with one, or one creating associated records, is
        # refused as an invalid state (a Conflict for the rest) before anything is sent
        along = _upsert(104, {"hs_name": "Along"}, expect="paused")
        with pytest.raises(Conflict if op.create is False else InvalidState):
            records.execute([along, op])
        assert records.get(104).properties["hs_name"] == "Delta quarterly"
        assert (records.get(101).properties["hs_name"],
                records.get(102).properties["hs_name"]) == before  # fmt: skip
        return
    with pytest.raises(Conflict):
        records.execute([_upsert(503, {"hs_name": "Along"}, create=True), op])
    assert (records.get(101).properties["hs_name"], records.get(102).properties["hs_name"]) == (
        before
    )
    assert 503 not in records.get_many([503], ["hs_name"])
