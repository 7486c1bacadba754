"""The ``SegmentStore`` protocol on ``HttpStore`` (HubSpot's Lists API, the fake's
tests/fakehub/lists.py); the SQL stores are not one: their workspace keeps segments (the
services' local path, tests/test_cli_segments.py; the same CLI output on both:
tests/test_cli_remote_segments.py)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from subctl.errors import InvalidState, NotFound
from subctl.store.base import SegmentStore
from tests.test_http_records import Hub

MANUAL = {"name": "hand", "objectTypeId": "0-69", "processingType": "MANUAL"}


@pytest.fixture
def hub() -> Iterator[Hub]:
    made = Hub()
    made.seed(600)
    yield made
    made.store.close()


def test_http_store_is_a_segment_store_and_the_sql_store_is_not(hub: Hub, tmp_path: Path) -> None:
    from subctl.store.sql import open_local, sqlite_url

    assert isinstance(hub.store, SegmentStore)
    local = open_local(sqlite_url(tmp_path / "w.db"), create=True)
    try:
        assert not isinstance(local.records, SegmentStore)
        assert not isinstance(local.workspace, SegmentStore)
    finally:
        local.close()


def test_a_manual_list_create_change_read_delete(hub: Hub) -> None:
    store = hub.store
    made = store.create_list(MANUAL, list(range(1000, 1300)))
    assert (made.name, made.processing, made.size) == ("hand", "MANUAL", 300)
    assert store.change_list_members("hand", [1300, 1000], [1001, 1002, 9999]) == (
        [1300],
        [1001, 1002],
    )
    members = list(store.list_members("hand"))
    assert members == [1000, *range(1003, 1301)]
    asked = [r.path for r in hub.fake.requests if r.path.endswith("/memberships")]
    assert len(asked) == 2  # 299 members: pages of 250
    assert store.get_list("hand").size == 299
    store.delete_list("hand")
    with pytest.raises(NotFound) as gone:
        store.get_list("hand")
    assert gone.value.exit_code == 3


def test_a_dynamic_list_follows_its_filters(hub: Hub) -> None:
    def status(value: str) -> dict[str, object]:
        return {
            "filterBranchType": "OR", "filterBranchOperator": "OR", "filters": [],
            "filterBranches": [{
                "filterBranchType": "AND", "filterBranchOperator": "AND", "filterBranches": [],
                "filters": [{"filterType": "PROPERTY", "property": "hs_status", "operation": {
                    "operationType": "ENUMERATION", "operator": "IS_ANY_OF", "values": [value],
                    "includeObjectsWithNoValueSet": False}}],
            }],
        }  # fmt: skip

    body = {"name": "dyn", "objectTypeId": "0-69", "processingType": "DYNAMIC"}
    made = hub.store.create_list({**body, "filterBranch": status("active")})
    assert made.size == 150  # every 4th of 600
    hub.store.set_list_filters("dyn", status("paused"))
    assert hub.store.get_list("dyn").size == 150
    assert set(hub.store.list_members("dyn")) == {1000 + i for i in range(600) if i % 4 == 3}


def test_a_name_taken_in_hubspot_is_refused(hub: Hub) -> None:
    hub.store.create_list(MANUAL)
    with pytest.raises(InvalidState) as taken:
        hub.store.create_list(MANUAL)
    assert 'HubSpot already has a list named "hand"' in str(taken.value)


@pytest.mark.parametrize("fault", ["lost-500", "500"])
def test_a_create_whose_answer_is_lost_is_found_by_name(hub: Hub, fault: str) -> None:
    """A POST is not retried blindly: the list is looked up by name, then created if HubSpot
    did not make it (one list either way)."""
    hub.fake.inject(fault)
    made = hub.store.create_list(MANUAL, [1000, 1001])
    assert (made.name, made.size) == ("hand", 2)
    assert [x.name for x in hub.fake.lists.values()] == ["hand"]
    posts = [r for r in hub.fake.requests if r.method == "POST" and r.path == "/crm/v3/lists"]
    assert [r.fault for r in posts][0] == fault
