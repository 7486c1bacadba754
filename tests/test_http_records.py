"""``HttpStore`` past CRM search's limits, against the fake HubSpot server (which enforces
them: 10,000 results, 5 groups x 6 filters and 18 in all, a 3,000-character body, one sort):
every match once, in the promised order, within a counted number of requests."""

from __future__ import annotations

import collections
import datetime as dt
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest

from subctl.errors import NotFound, UsageError
from subctl.query.ast import And, Condition, Op, Or, Query, Sort
from subctl.store.http.records import HttpStore
from subctl.store.http.search import MAX_BODY, QueryTooComplex, plan
from tests.contract.conftest import VirtualClock
from tests.fakehub import FakeHubSpot

STATUSES = ("active", "unpaid", "canceled", "paused")
SEARCH = "/crm/v3/objects/subscriptions/search"
BATCH_READ = "/crm/v3/objects/subscriptions/batch/read"


class Hub:
    def __init__(self) -> None:
        from subctl.store.http.client import HubSpotClient

        clock = VirtualClock()
        self.fake = FakeHubSpot(clock=clock)
        client = HubSpotClient(
            "https://api.hubapi.com", "pat-test-token", tier="enterprise",
            transport=self.fake.transport, clock=clock, sleep=clock.sleep,
        )  # fmt: skip
        self.store = HttpStore(client)

    def seed(self, n: int, first: int = 1000) -> None:
        """``n`` subscriptions, ids from ``first``: status by i % 4, MRR i % 97, a due date
        i % 50 days into 2027 (none for every 7th)."""
        self.fake.seed([
            {"hs_object_id": first + i, "hs_name": f"Sub {i}", "hs_status": STATUSES[i % 4],
             "hs_mrr": Decimal(i % 97),
             "hs_next_payment_due_date": None if i % 7 == 0
             else dt.date(2027, 1, 1) + dt.timedelta(days=i % 50)}
            for i in range(n)
        ])  # fmt: skip
        self.store.properties()  # read once: not counted below
        self.fake.requests.clear()

    def calls(self) -> collections.Counter[tuple[str, int]]:
        return collections.Counter((r.path, r.status) for r in self.fake.requests)

    def bodies(self) -> list[int]:
        import json

        return [len(json.dumps(r.json, separators=(",", ":")))
                for r in self.fake.requests if r.json is not None]  # fmt: skip


@pytest.fixture
def hub() -> Iterator[Hub]:
    made = Hub()
    yield made
    made.store.close()


@pytest.fixture(scope="module")
def big() -> Iterator[Hub]:
    """25,000 subscriptions: past HubSpot's 10,000 results per search twice over."""
    made = Hub()
    made.seed(25_000)
    yield made
    made.store.close()


def test_25000_matches_come_back_each_once_in_id_order(big: Hub) -> None:
    where = Condition("hs_mrr", Op.GTE, (Decimal(0),))  # every one of them
    big.fake.requests.clear()
    ids = [s.id for s in big.store.search(Query(where=where), ["hs_status"])]
    assert ids == list(range(1000, 26_000))
    # 200 per page: 125 searches, 50 in each of the first two partitions, no error answered
    assert big.calls() == {(SEARCH, 200): 125}
    assert max(big.bodies()) <= MAX_BODY
    partitions = [r.json["filterGroups"][0]["filters"][1:] for r in big.fake.requests
                  if "after" not in r.json]  # fmt: skip
    assert partitions == [[], [{"propertyName": "hs_object_id", "operator": "GT",
                                "value": "10999"}],
                          [{"propertyName": "hs_object_id", "operator": "GT",
                            "value": "20999"}]]  # fmt: skip
    big.fake.requests.clear()
    assert big.store.count(where) == 25_000
    assert big.calls() == {(SEARCH, 200): 1}  # HubSpot's total, from one search


def test_more_groups_than_one_search_allows_are_split_and_merged_without_duplicates(
    hub: Hub,
) -> None:
    hub.seed(2_000)
    # 7 OR groups (HubSpot allows 5), overlapping: i % 97 in 0..5, or status canceled
    groups = [Condition("hs_mrr", Op.EQ, (Decimal(k),)) for k in range(6)]
    where = Or((*groups, Condition("hs_status", Op.EQ, ("canceled",))))
    expected = [1000 + i for i in range(2_000) if i % 97 < 6 or i % 4 == 2]
    ids = [s.id for s in hub.store.search(Query(where=where), ["hs_mrr"])]
    assert ids == expected  # ascending, each once (the canceled ones with MRR 0-5 match twice)
    assert {status for (_path, status) in hub.calls()} == {200}
    searches = [r.json for r in hub.fake.requests]
    assert {len(s["filterGroups"]) for s in searches} == {5, 2}
    assert hub.store.count(where) == len(expected)


@pytest.fixture
def capped(monkeypatch: pytest.MonkeyPatch, hub: Hub) -> Hub:
    """2,500 subscriptions behind a result cap of 1,000 (the fake's and the store's): the
    partitioning of 25,000 behind 10,000, at a tenth of the cost."""
    import tests.fakehub.app
    from subctl.store.http import search

    monkeypatch.setattr(tests.fakehub.app, "RESULT_CAP", 1_000)
    monkeypatch.setattr(search, "RESULT_CAP", 1_000)
    hub.seed(2_500)
    return hub


def test_a_sort_that_cannot_survive_partitioning_is_applied_client_side(capped: Hub) -> None:
    query = Query(sort=Sort("hs_next_payment_due_date", descending=True))
    subs = list(capped.store.search(query, ["hs_next_payment_due_date"]))
    dated = [(s.properties["hs_next_payment_due_date"], s.id) for s in subs]
    with_date = [d for d in dated if d[0] is not None]
    assert dated[len(with_date) :] == [(None, 1000 + i) for i in range(0, 2_500, 7)]  # last
    assert with_date == sorted(with_date, key=lambda d: (-d[0].toordinal(), d[1]))
    assert len({s.id for s in subs}) == 2_500
    # one sorted search found too many, then 13 pages in id order (3 partitions)
    sorts = [r.json["sorts"][0]["propertyName"] for r in capped.fake.requests]
    assert sorts == ["hs_next_payment_due_date"] + ["hs_object_id"] * 13


def test_a_split_and_sorted_query_is_sorted_client_side(hub: Hub) -> None:
    hub.seed(500)
    where = Or(tuple(Condition("hs_mrr", Op.EQ, (Decimal(k),)) for k in range(7)))
    query = Query(where=where, sort=Sort("hs_mrr", descending=True), limit=4)
    found = [(s.properties["hs_mrr"], s.id) for s in hub.store.search(query, ["hs_mrr"])]
    assert found == [(Decimal(6), 1006), (Decimal(6), 1103), (Decimal(6), 1200), (Decimal(6), 1297)]


def test_a_sort_within_10000_is_hubspots_and_a_limit_reads_no_further(big: Hub) -> None:
    big.fake.requests.clear()
    query = Query(where=Condition("hs_mrr", Op.LT, (Decimal(2),)), sort=Sort("hs_mrr"), limit=3)
    assert [s.id for s in big.store.search(query, ["hs_mrr"])] == [1000, 1097, 1194]
    (request,) = big.fake.requests
    assert request.json["sorts"] == [{"propertyName": "hs_mrr", "direction": "ASCENDING"}]
    assert request.json["limit"] == 3


def test_an_id_list_is_read_100_per_batch_never_a_search(big: Hub) -> None:
    ids = list(range(1000, 3500))  # 2,500 ids: an IN list far over 3,000 characters
    big.fake.requests.clear()
    found = [s.id for s in big.store.search(Query(where=Condition("hs_object_id", Op.IN,
                                                                   tuple(ids))))]  # fmt: skip
    assert found == ids
    assert big.calls() == {(BATCH_READ, 200): 25}
    big.fake.requests.clear()
    assert len(big.store.get_many([*ids, 99], ["hs_status"])) == 2_500
    assert sum(big.calls().values()) == 26  # 2,501 ids: 26 batches; 99 is no subscription


def test_a_long_in_list_of_another_property_is_split_across_groups(hub: Hub) -> None:
    hub.seed(300)
    names = tuple(f"sub {i}" for i in range(0, 300, 2))  # 150 names: ~1,700 characters
    where = And((Condition("hs_name", Op.IN, names), Condition("hs_status", Op.NEQ, ("x",))))
    wider = Or((where, Condition("hs_name", Op.IN, tuple(f"sub {i}" for i in range(1, 300, 2)))))
    ids = [s.id for s in hub.store.search(Query(where=wider))]
    assert ids == list(range(1000, 1300))
    assert len(hub.fake.requests) > 1 and max(hub.bodies()) <= MAX_BODY


def test_a_full_group_past_10000_is_refused_before_any_row(big: Hub) -> None:
    six = And(tuple(Condition("hs_status", Op.NEQ, (f"x{k}",)) for k in range(6)))
    with pytest.raises(QueryTooComplex, match="more than 10,000") as raised:
        next(iter(big.store.search(Query(where=six))))
    assert raised.value.exit_code == 2
    seven = And(tuple(Condition("hs_status", Op.NEQ, (f"x{k}",)) for k in range(7)))
    with pytest.raises(QueryTooComplex, match="7 filters in one filter group"):
        big.store.count(seven)


def test_plan_packs_groups_within_every_limit() -> None:
    one: list[dict[str, Any]] = [{"propertyName": "hs_status", "operator": "EQ", "value": "a"}]
    assert [len(s) for s in plan([one] * 12, 2_500)] == [5, 5, 2]
    wide = [dict(one[0]) for _ in range(5)]  # 5 filters and room for the id range: 6 each
    assert [len(s) for s in plan([wide] * 4, 2_500)] == [3, 1]  # 18 filters at most


def test_get_detail_and_not_found(hub: Hub) -> None:
    hub.seed(3)
    assert hub.store.get(1001).properties["hs_name"] == "Sub 1"
    assert hub.store.detail(1002).subscription.status == "canceled"
    for read in (hub.store.get, hub.store.detail, hub.store.line_items, hub.store.associations):
        with pytest.raises(NotFound, match="subscription 5 not found"):
            read(5)  # type: ignore[operator]
    with pytest.raises(UsageError, match='unknown property "nope"'):
        list(hub.store.search_stored(Query(), ["nope"]))
    # stored values as a SQL store reads them: the id an integer, amounts floats
    query = Query(sort=Sort("hs_name", descending=True))
    assert list(hub.store.search_stored(query, ["hs_status", "hs_object_id", "hs_mrr"])) == [
        [["canceled", 1002, 2.0], ["unpaid", 1001, 1.0], ["active", 1000, 0.0]]
    ]


def test_association_cells_are_batched(hub: Hub) -> None:
    hub.seed(1500)
    deal = hub.store.create_record("deal", {"name": "Shared"})
    for sid in (1000, 1499):
        hub.store.associate(sid, "deal", deal, 299)
    hub.fake.requests.clear()
    cells = hub.store.association_cells(list(range(1000, 1500)), ["deal", "contact"])
    assert cells[1499]["deal"].labels == ("Shared",) and cells[1000]["deal"].count == 1
    # one v4 batch read per object type (500 ids), one batch read of the deal shown
    assert sum(hub.calls().values()) == 3


# -- what ``subctl sync`` reads (SYNC-API) ------------------------------------------------------


def _synced(chunks: Iterator[Any]) -> list[Any]:
    return [s for chunk in chunks for s in chunk]


def test_a_full_sync_reads_100_per_list_page_with_associations_inline(hub: Hub) -> None:
    hub.seed(1_050)
    contact = hub.fake.add_record("contacts", {"firstname": "Ada", "email": "ada@x.io"})
    hub.fake.associate(1003, "contacts", contact, 295)
    hub.fake.requests.clear()
    synced = _synced(hub.store.changed_since(None))
    assert [s.subscription.id for s in synced] == list(range(1000, 2050))
    assert synced[3].associations == (("contact", contact, 295),)
    assert synced[3].subscription.properties["hs_status"] == "paused"
    assert hub.calls() == {("/crm/v3/objects/subscriptions", 200): 11}  # 1,050 / 100
    resumed = _synced(hub.store.changed_since(None, after_id=2000))  # a stopped sync resumes
    assert [s.subscription.id for s in resumed] == list(range(2001, 2050))
    assert hub.store.record_values("contact", [contact, 5])[contact]["emails"] == ["ada@x.io"]


def test_an_incremental_sync_is_one_search_when_nothing_changed(hub: Hub) -> None:
    hub.seed(300)
    newest = max(s.properties["hs_lastmodifieddate"]
                 for s in hub.store.search(Query(), ["hs_lastmodifieddate"]))  # fmt: skip
    hub.fake.requests.clear()
    later = newest + dt.timedelta(milliseconds=1)
    assert _synced(hub.store.changed_since(later)) == []
    assert hub.calls() == {(SEARCH, 200): 1}
    hub.fake.modify(1007, hs_name="Renamed")
    hub.fake.modify(1002, hs_name="Renamed too")
    hub.fake.requests.clear()
    changed = _synced(hub.store.changed_since(later))
    assert [s.subscription.id for s in changed] == [1007, 1002]  # by modification, then id
    # the sorted search, each record's associations inline (fewer records than object types:
    # cheaper than one v4 batch read per type)
    assert sum(hub.calls().values()) == 1 + 2
    many = hub.store.changed_since(newest - dt.timedelta(days=365), chunk=100)
    hub.fake.requests.clear()
    assert len(_synced(many)) == 300
    assert sum(hub.calls().values()) == 2 + 11  # 2 pages, a v4 batch read per object type


def test_an_incremental_sync_past_10000_changes_reads_the_list(capped: Hub) -> None:
    since = dt.datetime(2000, 1, 1, tzinfo=dt.UTC)  # everything changed since
    capped.fake.modify(1001, hs_name="Last")
    capped.fake.requests.clear()
    changed = _synced(capped.store.changed_since(since, chunk=100))
    assert len(changed) == 2_500 and changed[-1].subscription.id == 1001
    stamps = [(s.subscription.properties["hs_lastmodifieddate"], s.subscription.id)
              for s in changed]  # fmt: skip
    assert stamps == sorted(stamps)
    assert capped.calls() == {(SEARCH, 200): 1, ("/crm/v3/objects/subscriptions", 200): 25}


def test_archived_since(hub: Hub) -> None:
    hub.seed(5)
    hub.fake.archive(1001)
    hub.fake.archive(1003)
    assert _synced(hub.store.archived_since(None)) == [1001, 1003]
    future = dt.datetime.now(dt.UTC) + dt.timedelta(days=1)
    assert _synced(hub.store.archived_since(future)) == []
