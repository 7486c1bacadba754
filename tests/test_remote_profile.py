"""A HubSpot profile end to end in ``AppContext``: the record store comes from
``open_remote`` with the profile's URL, tier and token; the journal, views and settings live in
the profile's own local workspace; batches use the item-by-item unit; ``sync`` mirrors the
remote records into that workspace by default.

The remote store here is a stand-in (a SQL record store behind ``open_remote``), so these
tests check the wiring; ``test_sync_remote.py`` runs sync over ``HttpStore`` and the fake
HubSpot server."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from subctl.store.sql import open_local, sqlite_url
from tests.conftest import Invoke

TOKEN = "pat-eu1-11112222-STANDIN"


@pytest.fixture
def remote(
    demo: Invoke, subctl_home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> dict[str, Any]:
    """The demo workspace as the "remote" account of profile prod (active), and the calls
    made to open it."""
    import subctl.context

    calls: list[tuple[str, str, str]] = []
    opened: list[Any] = []

    def open_remote(base_url: str, token: str, tier: str, **_: Any) -> Any:
        calls.append((base_url, token, tier))
        backend = open_local(sqlite_url(subctl_home / "workspace.db"))
        opened.append(backend)
        return backend.records

    monkeypatch.setattr(subctl.context, "open_remote", open_remote)
    monkeypatch.setenv("PROD_TOKEN", TOKEN)
    added = demo(
        "profile add prod --hubspot --token-env PROD_TOKEN --tier starter"
        " --base-url https://api-eu1.hubapi.com/"
    )
    assert added.exit_code == 0, added.stderr
    assert demo("profile use prod").exit_code == 0
    yield {"calls": calls, "workspace": subctl_home / "profiles" / "prod.db"}
    for backend in opened:
        backend.close()


def test_a_remote_profile_reads_the_remote_store(demo: Invoke, remote: dict[str, Any]) -> None:
    listed = demo("list --where 'status = active' --format ids --limit 3")
    assert listed.exit_code == 0, listed.stderr
    assert len(listed.stdout.split()) == 3
    assert remote["calls"] == [("https://api-eu1.hubapi.com", TOKEN, "starter")]
    assert remote["workspace"].exists()  # its own workspace, made on first use
    assert TOKEN not in listed.stdout + listed.stderr


def test_a_remote_batch_is_journaled_in_the_profiles_workspace(
    demo: Invoke, remote: dict[str, Any]
) -> None:
    ids = demo("list --where 'status = active' --format ids --limit 2").stdout.split()
    paused = demo(["pause", *ids, "--yes"])
    assert paused.exit_code == 0, paused.stderr
    journal = open_local(sqlite_url(remote["workspace"]))
    try:
        (job,) = journal.workspace.jobs()
        assert (job.verb, job.total, job.counts.get("ok")) == ("pause", 2, 2)
    finally:
        journal.close()
    # the default profile's workspace (the stand-in remote) has no journal of it
    assert json.loads(demo("--profile default jobs list --format json").stdout) == []


def test_sync_mirrors_a_remote_profile_into_its_own_workspace(
    demo: Invoke, remote: dict[str, Any]
) -> None:
    synced = demo("sync --format json")
    assert synced.exit_code == 0, synced.stderr
    data = json.loads(synced.stdout)
    assert (data["mode"], data["created"]) == ("full", 300)
    assert data["source"] == "hubspot https://api-eu1.hubapi.com (profile prod)"
    local = demo(["--workspace", str(remote["workspace"]), "list", "--all", "--format", "ids"])
    assert len(local.stdout.split()) == 300, local.stderr
    again = json.loads(demo("sync --format json").stdout)
    assert (again["mode"], again["created"], again["updated"]) == ("incremental", 0, 0)
