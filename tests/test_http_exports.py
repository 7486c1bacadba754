"""Server-side exports (``subctl.store.http.exports``) against the fake HubSpot's CRM exports:
start, poll, download before the link expires (renewed when it has), unzip a big CSV, never
send the token to the file's host."""

from __future__ import annotations

import datetime as dt
import io
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from subctl.errors import InDoubt, StoreUnavailable
from subctl.store.http.client import HubSpotClient
from subctl.store.http.exports import ExportRequest, Fetch, plain_fetch, run
from tests.conftest import Invoke
from tests.fakehub import FakeHubSpot

TOKEN = "pat-test-token"


class Clock:
    def __init__(self) -> None:
        self.t = 0.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.t

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.t += seconds


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def hub(clock: Clock) -> FakeHubSpot:
    fake = FakeHubSpot(clock=clock, token=TOKEN, export_polls=3)
    fake.add_record("subscriptions", {"hs_name": "Alpha", "hs_status": "active"}, record_id=1)
    fake.add_record("subscriptions", {"hs_name": "Beta", "hs_status": "unpaid"}, record_id=2)
    fake.add_record("subscriptions", {"hs_name": "Gamma", "hs_status": "active"}, record_id=3)
    contact = fake.add_record("contacts", {"email": "ada@example.com"}, record_id=17)
    fake.associate(3, "contacts", contact, 295)
    return fake


@pytest.fixture
def api(hub: FakeHubSpot, clock: Clock) -> Iterator[HubSpotClient]:
    client = HubSpotClient(
        "https://api.hubapi.com", TOKEN, transport=hub.transport, clock=clock, sleep=clock.sleep
    )
    yield client
    client.close()


ACTIVE = [{"filters": [{"propertyName": "hs_status", "operator": "EQ", "value": "active"}]}]


def test_an_export_is_polled_then_downloaded_without_the_token(
    hub: FakeHubSpot, api: HubSpotClient, clock: Clock
) -> None:
    out = io.BytesIO()
    request = ExportRequest("subs", "CSV", ["hs_name", "hs_status"], ACTIVE, associated=["CONTACT"])
    outcome = run(
        api, request, out, fetch=plain_fetch(hub.transport), sleep=clock.sleep, clock=clock
    )
    assert out.getvalue().decode() == (
        "Record ID,Name,Status,Associated Contact IDs\n1,Alpha,Active,\n3,Gamma,Active,17\n"
    )
    assert outcome.states == ["PROCESSING", "PROCESSING", "PROCESSING", "COMPLETE"]
    assert clock.slept == [1.0, 2.0, 4.0]  # the interval doubles
    assert (outcome.renewals, outcome.zipped, outcome.bytes) == (0, False, len(out.getvalue()))
    assert hub.exports.downloads == [(int(outcome.task_id), 200)]  # no token: S3 took it
    start = next(r for r in hub.requests if r.method == "POST")
    assert start.json["objectProperties"] == ["hs_name", "hs_status"]
    assert start.json["publicCrmSearchRequest"]["filterGroups"] == ACTIVE


def test_an_expired_link_is_replaced_by_polling_again(
    hub: FakeHubSpot, api: HubSpotClient, clock: Clock
) -> None:
    slow = plain_fetch(hub.transport)
    calls = []

    @contextmanager
    def late(url: str) -> Iterator[tuple[int, Iterator[bytes]]]:
        calls.append(url)
        if len(calls) == 1:
            clock.t += 301  # the first download starts after the link expired
        with slow(url) as found:
            yield found

    out = io.BytesIO()
    outcome = run(
        api,
        ExportRequest("subs", "CSV", ["hs_name"]),
        out,
        fetch=late,
        sleep=clock.sleep,
        clock=clock,
    )
    assert outcome.renewals == 1 and len(set(calls)) == 2
    assert [status for _task, status in hub.exports.downloads] == [403, 200]
    assert out.getvalue().decode().splitlines()[0] == "Record ID,Name"


def test_a_zipped_csv_is_unpacked(hub: FakeHubSpot, api: HubSpotClient, clock: Clock) -> None:
    hub.exports.zip_bytes = 10
    out = io.BytesIO()
    outcome = run(
        api,
        ExportRequest("subs", "CSV", ["hs_name"], internal_names=True),
        out,
        fetch=plain_fetch(hub.transport),
        sleep=clock.sleep,
        clock=clock,
    )
    assert outcome.zipped
    assert out.getvalue().decode() == "hs_object_id,hs_name\n1,Alpha\n2,Beta\n3,Gamma\n"


def test_xlsx_is_written_as_hubspot_made_it(
    hub: FakeHubSpot, api: HubSpotClient, clock: Clock
) -> None:
    out = io.BytesIO()
    run(
        api,
        ExportRequest("subs", "XLSX", ["hs_name"]),
        out,
        fetch=plain_fetch(hub.transport),
        sleep=clock.sleep,
        clock=clock,
    )
    from python_calamine import CalamineWorkbook

    sheet = CalamineWorkbook.from_filelike(io.BytesIO(out.getvalue())).get_sheet_by_index(0)
    assert sheet.to_python()[:2] == [["Record ID", "Name"], ["1", "Alpha"]]


def test_a_link_that_keeps_expiring_and_an_export_that_never_ends_give_up(
    hub: FakeHubSpot, api: HubSpotClient, clock: Clock
) -> None:
    @contextmanager
    def always_late(url: str) -> Iterator[tuple[int, Iterator[bytes]]]:
        yield 403, iter(())

    with pytest.raises(StoreUnavailable, match="kept expiring"):
        run(
            api,
            ExportRequest("subs", "CSV", ["hs_name"]),
            io.BytesIO(),
            fetch=always_late,
            sleep=clock.sleep,
            clock=clock,
        )
    hub.exports.polls = 10_000
    with pytest.raises(StoreUnavailable, match="not ready after 60 s") as caught:
        run(
            api,
            ExportRequest("subs", "CSV", ["hs_name"]),
            io.BytesIO(),
            fetch=plain_fetch(hub.transport),
            sleep=clock.sleep,
            clock=clock,
            deadline=60,
        )
    assert caught.value.hint and "exports page" in caught.value.hint


def test_the_start_is_not_retried_after_a_lost_answer(
    hub: FakeHubSpot, api: HubSpotClient, clock: Clock
) -> None:
    hub.inject("lost-500", on="/export/async")
    with pytest.raises(InDoubt, match="may have been applied"):
        run(
            api,
            ExportRequest("subs", "CSV", ["hs_name"]),
            io.BytesIO(),
            fetch=plain_fetch(hub.transport),
            sleep=clock.sleep,
            clock=clock,
        )
    assert [r.path for r in hub.requests].count("/crm/v3/exports/export/async") == 1


def test_fetch_is_the_type_run_takes() -> None:
    fetch: Fetch = plain_fetch()
    assert callable(fetch)


# -- export --server-side: the service over HttpStore, and the CLI's refusals ----------------


@pytest.fixture
def store_and_workspace(tmp_path: Path) -> Iterator[tuple[FakeHubSpot, Any, Any]]:
    from subctl.store.http import open_remote
    from subctl.store.sql import open_local, sqlite_url

    fake = FakeHubSpot(token=TOKEN)  # real clock: one poll, one second's wait
    fake.add_record("subscriptions", {"hs_name": "Alpha", "hs_status": "active"}, record_id=1)
    fake.add_record("subscriptions", {"hs_name": "Beta", "hs_status": "unpaid"}, record_id=2)
    store = open_remote("https://api.hubapi.com", TOKEN, "professional", transport=fake.transport)
    local = open_local(sqlite_url(tmp_path / "ws.db"), create=True)
    yield fake, store, local.workspace
    store.close()
    local.close()


def test_export_by_store_writes_hubspots_file(
    store_and_workspace: tuple[FakeHubSpot, Any, Any],
) -> None:
    from subctl.services.exports import ExportRequest as Request
    from subctl.services.exports import export_by_store

    fake, store, workspace = store_and_workspace
    out = io.BytesIO()
    states: list[str] = []
    count = export_by_store(
        store,
        workspace,
        Request(where="status = unpaid"),
        "csv",
        out,
        dt.date(2026, 11, 26),
        progress=states.append,
    )
    assert count == 1 and states == ["PROCESSING", "COMPLETE"]
    header, row = out.getvalue().decode().splitlines()
    assert header.startswith("Record ID,Name,Status,") and row.startswith("2,Beta,Unpaid,")
    start = next(r for r in fake.requests if r.path == "/crm/v3/exports/export/async")
    assert start.json["publicCrmSearchRequest"]["filterGroups"] == [
        {"filters": [{"propertyName": "hs_status", "operator": "EQ", "value": "unpaid"}]}
    ]
    assert start.json["language"] == "EN" and "hs_object_id" not in start.json["objectProperties"]


@pytest.mark.parametrize(
    ("request_args", "fmt", "message"),
    [
        ({"all": True}, "json", "csv, xlsx or xls, not json"),
        ({"segment": "vip"}, "csv", "cannot export a segment"),
        ({"all": True, "properties": "all+associations"}, "csv", "at most 4 associated"),
        ({"all": True, "all_emails": True}, "csv", "association columns"),
    ],
)
def test_export_by_store_refuses_what_hubspot_cannot_before_a_request(
    store_and_workspace: tuple[FakeHubSpot, Any, Any],
    request_args: dict[str, Any],
    fmt: str,
    message: str,
) -> None:
    from subctl.errors import UsageError
    from subctl.services.exports import ExportRequest as Request
    from subctl.services.exports import export_by_store

    fake, store, workspace = store_and_workspace
    with pytest.raises(UsageError, match=message):
        export_by_store(
            store, workspace, Request(**request_args), fmt, io.BytesIO(), dt.date(2026, 11, 26)
        )
    assert not any(r.path.startswith("/crm/v3/exports") for r in fake.requests)


def test_server_side_on_a_local_profile_is_refused(seeded: Invoke, tmp_path: Path) -> None:
    target = tmp_path / "subs.csv"
    found = seeded(f"export -a -o {target} --server-side")
    assert found.exit_code == 2
    assert found.stderr.splitlines()[0] == (
        "Error: --server-side asks HubSpot's CRM exports to build the file; this profile's "
        "records are in a local workspace"
    )
    assert not target.exists()
