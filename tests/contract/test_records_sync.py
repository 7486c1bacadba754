"""The record-store contract, what ``subctl sync`` reads from a source store:
``changed_since`` (full and incremental, with associations), ``archived_since`` and
``record_values``, on every backend."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from subctl.schema import ASSOCIATION_BY_NAME
from subctl.store.base import RecordStore, SyncedSubscription
from subctl.store.ops import LAST_MODIFIED, Delete
from tests.contract.conftest import Seed

T1 = dt.datetime(2026, 3, 1, 12, 0, 0, 123000, tzinfo=dt.UTC)
CREATED = dt.datetime(2026, 1, 2, 3, 4, 5, tzinfo=dt.UTC)


def _ids(chunks: list[list[SyncedSubscription]]) -> list[list[int]]:
    return [[s.subscription.id for s in chunk] for chunk in chunks]


def test_a_full_read_is_every_subscription_by_id_in_chunks(records: RecordStore) -> None:
    chunks = [list(c) for c in records.changed_since(None, chunk=3)]
    assert _ids(chunks) == [[101, 102, 103], [104]]
    first = chunks[0][0].subscription
    assert first.properties == records.get(101).properties  # every property, typed
    assert first.properties["hs_mrr"] == Decimal("10.00")
    resumed = [list(c) for c in records.changed_since(None, after_id=102, chunk=3)]
    assert _ids(resumed) == [[103, 104]]


def test_an_incremental_read_is_by_modified_date_then_id_inclusive(
    records: RecordStore, seed: Seed
) -> None:
    # A local store keeps the modified dates it is given (202 and 201 in one millisecond, the
    # id breaks the tie); HubSpot stamps its own: the test reads them back.
    ids = [201, 202, 203, 204]
    given = {202: T1, 201: T1, 203: T1 + dt.timedelta(milliseconds=1), 204: T1 + dt.timedelta(1)}
    seed([{"hs_object_id": i, "hs_name": f"S{i}", "hs_status": "active",
           "hs_lastmodifieddate": at} for i, at in given.items()])  # fmt: skip
    stamps = {
        sid: sub.properties[LAST_MODIFIED]
        for sid, sub in records.get_many(ids, [LAST_MODIFIED]).items()
    }
    assert all(isinstance(at, dt.datetime) for at in stamps.values()), stamps
    expected = sorted(ids, key=lambda i: (stamps[i], i))

    def read(since: dt.datetime, chunk: int) -> list[tuple[dt.datetime, int]]:
        out = []
        for part in records.changed_since(since, chunk=chunk):
            assert 1 <= len(part) <= chunk
            out.extend((s.subscription.properties[LAST_MODIFIED], s.subscription.id) for s in part)
        return out

    every = read(min(stamps.values()), 1)
    assert every == sorted(every)  # by (modified date, id), ties kept across pages
    assert [i for _, i in every if i in stamps] == expected
    newest = stamps[expected[-1]]
    last = read(newest, 10)  # inclusive: the newest itself (and its millisecond's others)
    assert expected[-1] in {i for _, i in last} and all(at >= newest for at, _ in last)
    assert read(newest + dt.timedelta(milliseconds=1), 10) == []


def test_associations_come_with_each_subscription(records: RecordStore) -> None:
    contact = records.create_record(
        "contact",
        {"firstname": "Ada", "lastname": "Lovelace", "emails": ["ada@example.com", "a@l.io"],
         "created_at": CREATED},
    )  # fmt: skip
    company = records.create_record(
        "company", {"name": "Acme", "domains": ["acme.com"], "created_at": CREATED}
    )
    for object_type, object_id in (("contact", contact), ("company", company)):
        type_id = ASSOCIATION_BY_NAME[object_type].type_id
        records.associate(102, object_type, object_id, type_id)
    chunk = list(next(iter(records.changed_since(None, after_id=101, chunk=2))))
    assert chunk[0].associations == (
        ("company", company, ASSOCIATION_BY_NAME["company"].type_id),
        ("contact", contact, ASSOCIATION_BY_NAME["contact"].type_id),
    )
    assert chunk[1].associations == ()
    values = records.record_values("contact", [contact, 999_999])
    company_values = records.record_values("company", [company])
    if not records.capabilities.own_clock:  # HubSpot stamps a record's creation itself
        for found in (values[contact], company_values[company]):
            assert isinstance(found.pop("created_at"), dt.datetime)
            found["created_at"] = CREATED
    assert values == {
        contact: {"firstname": "Ada", "lastname": "Lovelace", "created_at": CREATED,
                  "emails": ["ada@example.com", "a@l.io"]},
    }  # fmt: skip
    assert company_values == {
        company: {"name": "Acme", "created_at": CREATED, "domains": ["acme.com"]}
    }
    assert records.record_values("deal", []) == {}


def test_archived_ids_are_only_deleted_ones(records: RecordStore) -> None:
    records.execute([Delete(subscription_id=103, expect_status="canceled", at=T1, source="t")])
    archived = {i for chunk in records.archived_since(None) for i in chunk}
    assert archived <= {103}  # a store without tombstones yields none: sync compares counts
    assert _ids([list(c) for c in records.changed_since(None, chunk=10)]) == [[101, 102, 104]]
