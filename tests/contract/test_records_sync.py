"""The record-store contract, what ``subctl sync`` reads from a source store:
``changed_since`` (full and incremental, with associations), ``archived_since`` and
``record_values``, on every backend."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from subctl.schema import ASSOCIATION_BY_NAME
from subctl.store.base import RecordStore, SyncedSubscription
from subctl.store.ops import Delete
from tests.contract.conftest import Seed

T1 = dt.datetime(2026, 3, 1, 12, 0, 0, 123000, tzinfo=dt.UTC)
T2 = T1 + dt.timedelta(milliseconds=1)
T3 = T1 + dt.timedelta(days=1)
CREATED = dt.datetime(2026, 1, 2, 3, 4, 5, tzinfo=dt.UTC)


def _ids(chunks: list[list[SyncedSubscription]]) -> list[list[int]]:
    return [[s.subscription.id for s in chunk] for chunk in chunks]


def _seed_modified(seed: Seed) -> None:
    # 202 and 201 changed in the same millisecond: the id breaks the tie
    seed(
        [
            {"hs_object_id": oid, "hs_name": f"S{oid}", "hs_status": "active",
             "hs_lastmodifieddate": at}
            for oid, at in ((203, T2), (202, T1), (201, T1), (204, T3))
        ]
    )  # fmt: skip


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
    _seed_modified(seed)
    every = [list(c) for c in records.changed_since(T1, chunk=1)]
    assert _ids(every) == [[201], [202], [203], [204]]  # one at a time: ties kept across pages
    assert _ids([list(c) for c in records.changed_since(T2, chunk=10)]) == [[203, 204]]
    assert list(records.changed_since(T3 + dt.timedelta(milliseconds=1))) == []


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
    assert values == {
        contact: {"firstname": "Ada", "lastname": "Lovelace", "created_at": CREATED,
                  "emails": ["ada@example.com", "a@l.io"]},
    }  # fmt: skip
    assert records.record_values("company", [company]) == {
        company: {"name": "Acme", "created_at": CREATED, "domains": ["acme.com"]}
    }
    assert records.record_values("deal", []) == {}


def test_archived_ids_are_only_deleted_ones(records: RecordStore) -> None:
    records.execute([Delete(subscription_id=103, expect_status="canceled", at=T1, source="t")])
    archived = {i for chunk in records.archived_since(None) for i in chunk}
    assert archived <= {103}  # a store without tombstones yields none: sync compares counts
    assert _ids([list(c) for c in records.changed_since(None, chunk=10)]) == [[101, 102, 104]]
