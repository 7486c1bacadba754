"""A first ``subctl sync`` that fails binds nothing: the target mirrors a source only once a
first sync of it completes (``services/sync.py``), so another source can be synced into it
without ``--full``; the same source run again continues where the failed sync stopped."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from subctl.errors import SubctlError
from subctl.services import sync as svc
from subctl.store.sql import open_local, sqlite_url
from tests.fakehub import FakeHubSpot
from tests.fakehub.app import all_scopes
from tests.test_sync_remote import NOW, TOKEN, VirtualClock, _rows

READ = "crm.objects.subscriptions.read"


def _hub(rows: list[dict[str, Any]], scopes: Any = None) -> tuple[FakeHubSpot, Any]:
    from subctl.store.http.client import HubSpotClient
    from subctl.store.http.records import HttpStore

    clock = VirtualClock()
    fake = FakeHubSpot(clock=clock, token=TOKEN, scopes=scopes)
    fake.seed(rows)
    client = HubSpotClient(
        "https://api.hubapi.com", TOKEN, transport=fake.transport, clock=clock, sleep=clock.sleep
    )
    return fake, HttpStore(client)


@pytest.fixture
def target(tmp_path: Path) -> Iterator[Any]:
    opened = open_local(sqlite_url(tmp_path / "mirror.db"), create=True)
    yield opened
    opened.close()


def _other_source(target: Any) -> svc.SyncReport:
    """A sync of another account (50 subscriptions, renamed), without ``--full``."""
    rows = _rows(50)
    for row in rows:
        row["hs_name"] = f"B {row['hs_object_id']}"
    _fake, store = _hub(rows)
    try:
        return svc.sync(store, target.records, target.workspace, source_key="hub B", now=NOW)
    finally:
        store.close()


def test_a_first_sync_refused_midway_binds_nothing(target: Any) -> None:
    fake, store = _hub(_rows(250))

    def refuse(read: int, total: int | None) -> None:  # HubSpot refuses the second page
        fake.scopes = fake.scopes - {READ}

    try:
        with pytest.raises(SubctlError):
            svc.sync(store, target.records, target.workspace, source_key="hub A", now=NOW,
                     progress=refuse)  # fmt: skip
    finally:
        store.close()
    assert target.records.count() == 100  # the first chunk, whole
    assert target.workspace.get_setting(svc.SOURCE) is None
    report = _other_source(target)
    assert (report.full, report.updated, report.archived) == (True, 50, 50)  # ids 1-50 again
    assert target.records.count() == 50
    assert target.records.get(7).properties["hs_name"] == "B 7"
    assert target.workspace.get_setting(svc.SOURCE) == "hub B"
    assert target.workspace.get_setting("sync.pending_source") is None


def test_a_first_sync_without_the_scope_binds_nothing(target: Any) -> None:
    """The token cannot read property definitions: refused before any record is written."""
    _fake, store = _hub(_rows(250), scopes=all_scopes() - {"crm.schemas.subscriptions.read"})
    try:
        with pytest.raises(SubctlError):
            svc.sync(store, target.records, target.workspace, source_key="hub A", now=NOW)
    finally:
        store.close()
    assert target.records.count() == 0
    assert target.workspace.get_setting(svc.SOURCE) is None
    report = _other_source(target)
    assert (report.full, report.created) == (True, 50)
    assert target.workspace.get_setting(svc.SOURCE) == "hub B"


def test_the_same_source_continues_a_failed_first_sync(target: Any) -> None:
    fake, store = _hub(_rows(250))
    calls = []

    def refuse(read: int, total: int | None) -> None:
        calls.append(read)
        if len(calls) == 2:
            fake.scopes = fake.scopes - {READ}

    try:
        with pytest.raises(SubctlError):
            svc.sync(store, target.records, target.workspace, source_key="hub A", now=NOW,
                     progress=refuse)  # fmt: skip
        assert target.records.count() == 200
        fake.scopes = fake.scopes | {READ}
        report = svc.sync(store, target.records, target.workspace, source_key="hub A", now=NOW)
    finally:
        store.close()
    assert (report.full, report.resumed_after, report.created) == (True, 200, 50)
    assert target.workspace.get_setting(svc.SOURCE) == "hub A"
    # bound now: another source needs --full again
    with pytest.raises(SubctlError, match="mirrors hub A"):
        _other_source(target)
