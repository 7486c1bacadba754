"""Segments on a remote profile are HubSpot lists (issue #14 item 2), end to end through the
CLI against the fake HubSpot server's Lists API (tests/fakehub/lists.py)."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from tests.conftest import Invoke
from tests.fakehub import FakeHubSpot
from tests.test_cli_remote import TOKEN, hub, on_hub, remote

__all__ = ["hub", "remote"]  # the fixtures, shared with test_cli_remote


def ok(invoke: Invoke, args: str) -> str:
    done = on_hub(invoke, args)
    assert done.exit_code == 0, done.stderr
    return done.stdout


def the_list(fake: FakeHubSpot, name: str) -> tuple[str, list[int]]:
    [found] = [x for x in fake.lists.values() if x.name == name]
    members = sorted(fake._list_ids(found, fake._type(found.object_type_id)))
    return found.processing, members


def unpaid(fake: FakeHubSpot, sub_id: int) -> None:
    """Subscription ``sub_id`` becomes unpaid in HubSpot (its billing did it)."""
    fake.records["subscriptions"][sub_id].props["hs_status"] = "unpaid"


def paths(fake: FakeHubSpot) -> list[str]:
    return [f"{r.method} {r.path}" for r in fake.requests]


def test_a_dynamic_segment_is_a_dynamic_list(remote: Invoke, hub: FakeHubSpot) -> None:
    created = ok(remote, "segment create owed --where 'status = unpaid' --format json")
    assert json.loads(created)["size"] == 2
    assert the_list(hub, "owed") == ("DYNAMIC", [2, 3])
    [found] = hub.lists.values()
    assert found.branch["filterBranches"][0]["filters"][0]["property"] == "hs_status"
    # the list follows HubSpot: a record that becomes unpaid is a member at once
    unpaid(hub, 1)
    hub.requests.clear()
    out = ok(remote, "list --segment owed --fields id,name --sort id --format csv")
    assert out == (
        "hs_object_id,hs_name\n1,Acme Corp – Pro monthly\n2,Globex – Basic annual\n"
        "3,Initech – Team quarterly\n"
    )
    assert not any(p.endswith("/search") for p in paths(hub))  # memberships + batch read
    assert any("/memberships" in p for p in paths(hub))


def test_list_show_members_and_segment_list(remote: Invoke, hub: FakeHubSpot) -> None:
    ok(remote, "segment create owed --where 'status = unpaid' --description 'to chase'")
    rows = json.loads(ok(remote, "segment list --format json"))
    assert [(r["name"], r["kind"], r["size"], r["query"], r["description"]) for r in rows] == [
        ("owed", "dynamic", 2, "status = unpaid", "to chase")
    ]
    shown = json.loads(ok(remote, "segment show owed --format json"))
    [found] = hub.lists.values()
    assert (shown["size"], shown["hubspot_list_id"]) == (2, str(found.id))
    assert ok(remote, "segment members owed --format ids") == "2\n3\n"


def test_a_snapshot_is_a_snapshot_list_and_refresh_takes_it_again(
    remote: Invoke, hub: FakeHubSpot
) -> None:
    ok(remote, "segment create snap --snapshot --where 'status = unpaid'")
    assert the_list(hub, "snap") == ("SNAPSHOT", [2, 3])
    unpaid(hub, 1)
    assert ok(remote, "segment members snap --format ids") == "2\n3\n"  # frozen
    diff = json.loads(ok(remote, "segment diff snap --format json"))
    assert (diff["entered"], diff["left"], diff["size"]) == ([], [], 2)
    refreshed = json.loads(ok(remote, "segment refresh snap --format json"))
    assert (refreshed["size"], refreshed["entered"], refreshed["left"]) == (3, 1, 0)
    assert the_list(hub, "snap") == ("SNAPSHOT", [1, 2, 3])
    assert (
        ok(remote, "list --segment snap --fields id --format csv") == "hs_object_id\n2\n3\n1\n"
    )  # by due


def test_a_manual_segment_is_a_manual_list(remote: Invoke, hub: FakeHubSpot) -> None:
    ok(remote, "segment create hand --manual 1 4")
    assert the_list(hub, "hand") == ("MANUAL", [1, 4])
    ok(remote, "segment add hand 3 4")
    ok(remote, "segment remove hand 1")
    assert the_list(hub, "hand") == ("MANUAL", [3, 4])
    changes = [p for p in paths(hub) if "/memberships/" in p]
    assert len(changes) == 3 and all(p.startswith("PUT ") for p in changes)
    missing = on_hub(remote, "segment add hand 999")
    assert missing.exit_code == 3, missing.stderr
    assert the_list(hub, "hand") == ("MANUAL", [3, 4])


def test_segment_and_other_filters_search_by_chunks_of_members(
    remote: Invoke, hub: FakeHubSpot
) -> None:
    ok(remote, "segment create hand --manual 1 2 3 4 5")
    hub.requests.clear()
    out = ok(remote, "list --segment hand --status unpaid --fields id --format csv")
    assert out == "hs_object_id\n2\n3\n"
    [search] = [r for r in hub.requests if r.path.endswith("/search")]
    assert len(json.dumps(search.json)) < 3000


def test_a_dynamic_edit_changes_the_lists_filters(remote: Invoke, hub: FakeHubSpot) -> None:
    ok(remote, "segment create owed --where 'status = unpaid'")
    ok(remote, "segment edit owed --where 'status = canceled'")
    assert the_list(hub, "owed") == ("DYNAMIC", [4])
    assert any(p.endswith("/update-list-filters") for p in paths(hub))


def test_delete_deletes_the_list(remote: Invoke, hub: FakeHubSpot) -> None:
    ok(remote, "segment create owed --where 'status = unpaid'")
    ok(remote, "segment delete owed --yes")
    assert hub.lists == {}
    gone = on_hub(remote, "segment show owed")
    assert gone.exit_code == 3


def test_a_list_deleted_in_hubspot_is_not_found(remote: Invoke, hub: FakeHubSpot) -> None:
    """Exit 3 with nothing on stdout: the CSV header is not written before the error."""
    ok(remote, "segment create owed --where 'status = unpaid'")
    hub.lists.clear()
    done = on_hub(remote, "list --segment owed --format csv")
    assert (done.exit_code, done.stdout) == (3, "")
    assert 'HubSpot has no list "owed"' in done.stderr


@pytest.mark.parametrize("where", ["name ~ acme*", "associations.contact = 17"])
def test_a_query_a_list_cannot_hold_is_refused_before_anything(
    remote: Invoke, hub: FakeHubSpot, where: str
) -> None:
    done = on_hub(remote, f"segment create odd --where '{where}'")
    assert done.exit_code == 2, done.stderr
    assert done.stderr.startswith("Error: ")
    assert hub.lists == {}
    assert on_hub(remote, "segment list --format json").stdout.strip() == "[]"


def test_local_segments_stay_in_the_workspace(remote: Invoke, hub: FakeHubSpot) -> None:
    done = remote("segment create owed --where 'status = unpaid'")
    assert done.exit_code == 0, done.stderr
    assert hub.lists == {}


# -- the same segments, locally and on HubSpot -------------------------------------------------

KINDS = [
    "owed --where 'status = unpaid'",
    "snap --snapshot --where 'status in (unpaid, canceled)'",
    "hand --manual 1 3 5",
]


@pytest.mark.parametrize("create", KINDS)
def test_a_segment_selects_what_it_selects_locally(
    remote: Invoke, hub: FakeHubSpot, create: str
) -> None:
    name = create.split()[0]
    for run in (remote, lambda args: on_hub(remote, args)):
        made = run(f"segment create {create}")
        assert made.exit_code == 0, made.stderr
    for args in (
        f"segment members {name} --format ids",
        f"list --segment {name} --fields id,name,status --sort name --format json",
        f"list --segment {name} --due-before 2027-01-01 --fields id,due --format csv",
        f"list --segment {name} --sort mrr:desc --fields id,mrr --format csv",
        f"segment diff {name} --format json",
    ):
        local = remote(args)
        far = on_hub(remote, args)
        assert (far.exit_code, far.stdout) == (0, local.stdout), (args, far.stderr)
        assert local.stdout.strip()


def test_a_batch_verb_runs_on_a_lists_members(remote: Invoke, hub: FakeHubSpot) -> None:
    ok(remote, "segment create owed --where 'status = unpaid'")
    done = on_hub(remote, "cancel --segment owed --yes --format json")
    assert done.exit_code == 0, done.stderr
    assert [hub.subscription(i)["hs_status"] for i in (1, 2, 3)] == [
        "active",
        "canceled",
        "canceled",
    ]


def test_a_big_list_is_read_by_membership_pages_and_batch_reads(
    remote: Invoke, hub: FakeHubSpot, tmp_path: Path
) -> None:
    hub.seed(
        [
            {"hs_object_id": 1000 + i, "hs_name": f"bulk {i}", "hs_status": "active"}
            for i in range(600)
        ]
    )
    ids = tmp_path / "ids.txt"
    ids.write_text("".join(f"{1000 + i}\n" for i in range(600)))
    ok(remote, f"segment create bulk --manual --from-file {ids}")
    hub.requests.clear()
    out = ok(remote, "list --segment bulk --all --fields id --format ids")
    assert out == "".join(f"{1000 + i}\n" for i in range(600))
    asked = Counter(r.path.rsplit("/", 1)[-1] for r in hub.requests)
    # 3 membership pages of 250, 6 batch reads of 100, and the list found by name once
    assert (asked["memberships"], asked["read"], asked["bulk"]) == (3, 6, 1), asked
    assert not any(r.path.endswith("/search") for r in hub.requests)


def test_show_and_list_print_exactly(remote: Invoke, hub: FakeHubSpot) -> None:
    ok(remote, "segment create owed --where 'status = unpaid' --description 'to chase'")
    [held] = hub.lists.values()
    at = "2026-11-26T12:00:00.000Z"
    assert ok(remote, "segment list --format json") == (
        '[\n{"name": "owed", "kind": "dynamic", "size": 2, "refreshed_at": "' + at + '", '
        '"query": "status = unpaid", "description": "to chase"}\n]\n'
    )
    status = {
        "filterType": "PROPERTY",
        "property": "hs_status",
        "operation": {
            "operationType": "ENUMERATION",
            "operator": "IS_ANY_OF",
            "values": ["unpaid"],
            "includeObjectsWithNoValueSet": False,
        },
    }
    branch = {
        "filterBranchType": "OR", "filterBranchOperator": "OR", "filters": [],
        "filterBranches": [{"filterBranchType": "AND", "filterBranchOperator": "AND",
                            "filterBranches": [], "filters": [status]}],
    }  # fmt: skip
    assert held.branch == branch
    shown = ok(remote, "segment show owed --format json")
    assert json.loads(shown) == {
        "name": "owed",
        "kind": "dynamic",
        "query": "status = unpaid",
        "description": "to chase",
        "size": 2,
        "created_at": at,
        "refreshed_at": at,
        "refreshes": [{"at": at, "size": 2, "entered": 2, "left": 0}],
        "hubspot_list": {
            "name": "owed",
            "objectTypeId": "0-69",
            "processingType": "DYNAMIC",
            "filterBranch": branch,
        },
        "hubspot_list_id": str(held.id),
    }


def test_a_snapshot_edit_creates_its_list_again(remote: Invoke, hub: FakeHubSpot) -> None:
    ok(remote, "segment create snap --snapshot --where 'status = unpaid'")
    [first] = hub.lists
    ok(remote, "segment edit snap --where 'status = canceled'")
    assert the_list(hub, "snap") == ("SNAPSHOT", [4])
    assert first not in hub.lists  # a new list: HubSpot cannot refilter a snapshot
    diff = json.loads(ok(remote, "segment diff snap --format json"))
    assert (diff["size"], diff["entered"], diff["left"]) == (1, [], [])


def test_a_list_of_that_name_in_hubspot_is_refused(remote: Invoke, hub: FakeHubSpot) -> None:
    made = hub.transport
    import httpx

    with httpx.Client(transport=made, base_url="https://api.hubapi.com") as api:
        body = {"name": "owed", "objectTypeId": "0-69", "processingType": "MANUAL"}
        answer = api.post("/crm/v3/lists", json=body, headers={"Authorization": f"Bearer {TOKEN}"})
        assert answer.status_code == 200, answer.text
    done = on_hub(remote, "segment create owed --where 'status = unpaid'")
    assert (done.exit_code, done.stdout) == (5, "")
    assert done.stderr.startswith('Error: HubSpot already has a list named "owed"')
    assert on_hub(remote, "segment list --format json").stdout.strip() == "[]"


def test_a_lists_changes_are_audited(remote: Invoke, hub: FakeHubSpot) -> None:
    ok(remote, "--actor ops segment create hand --manual 1")
    ok(remote, "--actor ops segment add hand 1 3")
    ok(remote, "--actor ops segment remove hand 1 5")
    rows = json.loads(ok(remote, "audit -f json"))
    assert [(r["actor"], r["verb"], r["target"], r["before"], r["after"]) for r in rows] == [
        ("ops", "segment create", "segment:hand", None,
         {"kind": "manual", "query": None, "description": ""}),
        ("ops", "segment add", "segment:hand", None, {"added": [3]}),
        ("ops", "segment remove", "segment:hand", {"removed": [1]}, None),
    ]  # fmt: skip


def test_segment_list_still_lists_a_segment_whose_list_is_gone(
    remote: Invoke, hub: FakeHubSpot
) -> None:
    ok(remote, "segment create owed --where 'status = unpaid'")
    ok(remote, "segment create hand --manual 1")
    hub.lists = {k: v for k, v in hub.lists.items() if v.name != "owed"}
    rows = json.loads(ok(remote, "segment list --format json"))
    assert [(r["name"], r["size"]) for r in rows] == [("hand", 1), ("owed", None)]
    shown = on_hub(remote, "segment show owed")
    assert (shown.exit_code, shown.stdout) == (3, "")
    assert "segment delete owed" in shown.stderr
    ok(remote, "segment delete owed --yes")  # the local definition goes too
    assert [r["name"] for r in json.loads(ok(remote, "segment list --format json"))] == ["hand"]


def test_associate_runs_on_a_lists_members(remote: Invoke, hub: FakeHubSpot) -> None:
    ok(remote, "segment create hand --manual 2 3")
    hub.requests.clear()
    done = on_hub(remote, "associate --segment hand --company 77 --yes")
    assert done.exit_code == 0, done.stderr
    puts = sorted(r.path for r in hub.requests if r.method == "PUT" and "associations" in r.path)
    assert len(puts) == 2 and all("/77" in p for p in puts), puts
    assert [p.split("/")[5] for p in puts] == ["2", "3"]
