"""``subctl sync`` from HubSpot (``HttpStore`` over the fake server, on a virtual clock): the
request budget of issue #14 (50,000 subscriptions in at most 520 requests; a second sync with
nothing changed, a handful) and remote changes and archives mirrored."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from subctl.schema import ASSOCIATION_BY_NAME
from subctl.services import sync as svc
from subctl.store.sql import open_local, sqlite_url
from tests.conftest import Invoke
from tests.fakehub import FakeHubSpot

TOKEN = "pat-test-token"
NOW = dt.datetime(2026, 11, 26, 12, tzinfo=dt.UTC)


class VirtualClock:
    """Time that passes only when someone sleeps: the pacing of 520 requests costs nothing."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += max(0.0, seconds)


@pytest.fixture
def hub() -> Iterator[tuple[FakeHubSpot, Any]]:
    from subctl.store.http.client import HubSpotClient
    from subctl.store.http.records import HttpStore

    clock = VirtualClock()
    fake = FakeHubSpot(clock=clock, token=TOKEN)
    client = HubSpotClient(
        "https://api.hubapi.com", TOKEN, transport=fake.transport, clock=clock, sleep=clock.sleep
    )
    store = HttpStore(client)
    yield fake, store
    store.close()


def _rows(n: int) -> list[dict[str, Any]]:
    statuses = ("active", "paused", "canceled", "unpaid")
    return [
        {"hs_object_id": i, "hs_name": f"Subscription {i}", "hs_status": statuses[i % 4],
         "hs_mrr": Decimal(i % 500), "hs_recurring_billing_frequency": "monthly",
         "hs_lastmodifieddate": dt.datetime(2026, 1, 1, tzinfo=dt.UTC) + dt.timedelta(seconds=i)}
        for i in range(1, n + 1)
    ]  # fmt: skip


def test_fifty_thousand_subscriptions_in_the_request_budget(
    hub: tuple[FakeHubSpot, Any], tmp_path: Path
) -> None:
    fake, store = hub
    fake.seed(_rows(50_000))
    target = open_local(sqlite_url(tmp_path / "mirror.db"), create=True)
    try:
        first = svc.sync(store, target.records, target.workspace, source_key="hub", now=NOW)
        used = len(fake.requests)
        assert (first.full, first.created) == (True, 50_000)
        assert target.records.count() == 50_000
        assert used <= 520, used
        fake.requests.clear()
        second = svc.sync(store, target.records, target.workspace, source_key="hub", now=NOW)
        assert (second.full, second.created, second.updated, second.archived) == (
            False, 0, 0, 0)  # fmt: skip
        assert len(fake.requests) <= 5, [(r.method, r.path) for r in fake.requests]
        # a change and an archive made in HubSpot
        fake.modify(77, hs_name="Renamed in HubSpot")
        fake.archive(78)
        third = svc.sync(store, target.records, target.workspace, source_key="hub", now=NOW)
        assert (third.updated, third.archived) == (1, 1)
        assert target.records.get(77).properties["hs_name"] == "Renamed in HubSpot"
        assert target.records.get_many([78], ["hs_name"]) == {}
    finally:
        target.close()


def test_sync_a_hubspot_profile_end_to_end(
    invoke: Invoke, subctl_home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The CLI over a real socket: profile, token from its variable, sync into a local
    profile, a remote change mirrored; no output carries the token."""
    fake = FakeHubSpot(token=TOKEN)
    fake.seed(_rows(250))
    contact = fake.add_record("contacts", {"firstname": "Ada", "email": "ada@example.com"})
    fake.associate(7, "contacts", contact, ASSOCIATION_BY_NAME["contact"].type_id)
    monkeypatch.setenv("HUB_TOKEN", TOKEN)
    outputs = []
    with fake.serve() as url:
        for args in (
            ["profile", "add", "prod", "--hubspot", "--base-url", url, "--token-env", "HUB_TOKEN"],
            ["profile", "add", "mirror", "--local", str(tmp_path / "mirror.db")],
            ["sync", "--profile", "prod", "--into", "mirror", "--format", "json"],
        ):
            result = invoke(args)
            assert result.exit_code == 0, result.stderr
            outputs.append(result)
        first = json.loads(outputs[-1].stdout)
        assert (first["mode"], first["created"], first["records_copied"]) == ("full", 250, 1)
        fake.modify(9, hs_name="Renamed")
        again = invoke("sync --profile prod --into mirror --format json")
        assert again.exit_code == 0, again.stderr
        outputs.append(again)
        assert (json.loads(again.stdout)["updated"], json.loads(again.stdout)["created"]) == (1, 0)
    view = invoke("--profile mirror view 7 --format json")
    assert [c["id"] for c in json.loads(view.stdout)["associations"]["contact"]] == [contact]
    named = invoke("--profile mirror view 9 --format json")
    assert json.loads(named.stdout)["properties"]["hs_name"] == "Renamed"
    for result in outputs:
        assert TOKEN not in result.stdout + result.stderr
