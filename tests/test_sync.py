"""``subctl sync``, local -> local (the same code reads HubSpot through ``HttpStore``): a full
mirror, incremental changes (values, statuses, deletions, custom properties, associations),
resuming an interrupted sync, the same-millisecond overlap, and what it refuses."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest

from subctl.services import sync as svc
from subctl.store.sql import open_local, sqlite_url
from tests.conftest import Invoke


def _export(
    invoke: Invoke, path: Path, workspace: Path | None = None, what: str = "all+associations"
) -> str:
    args = ["export", "--all", "--properties", what, "-o", str(path), "--force"]
    result = invoke([*(["--workspace", str(workspace)] if workspace else []), *args])
    assert result.exit_code == 0, result.stderr
    return path.read_text()


def _sync(invoke: Invoke, *args: str) -> dict[str, Any]:
    result = invoke(["sync", *args, "--format", "json"])
    assert result.exit_code == 0, result.stderr
    data: dict[str, Any] = json.loads(result.stdout)
    return data


def _counts(data: dict[str, Any]) -> tuple[Any, ...]:
    keys = ("mode", "read", "created", "updated", "unchanged", "archived")
    return tuple(data[k] for k in keys)


def test_a_mirror_follows_every_kind_of_change(demo: Invoke, tmp_path: Path) -> None:
    mirror = tmp_path / "mirror.db"
    first = _sync(demo, "--into", str(mirror))
    assert _counts(first) == ("full", 300, 300, 0, 0, 0)
    assert first["records_copied"] > 0 and first["resumed_after"] is None
    assert _export(demo, tmp_path / "a.csv") == _export(demo, tmp_path / "b.csv", mirror)

    again = _sync(demo, "--into", str(mirror))
    assert again["mode"] == "incremental"
    assert (again["created"], again["updated"], again["archived"]) == (0, 0, 0)

    # values, statuses, deletions, a custom property, associations with a change
    where = "status = active and next_payment_due_date > +10d"
    active = demo(["list", "--where", where, "--format", "ids", "--limit", "1"]).stdout.strip()
    for args in (
        "cancel --where 'status = unpaid' --yes",
        "delete --where 'status = expired' --yes",
        "property create --name tier_x --label 'Tier X' --type string",
        f"update {active} --set tier_x=gold --yes",
        f"associate {active} --contact 17 --replace --yes",
    ):
        result = demo(args)
        assert result.exit_code == 0, (args, result.stderr)
    changed = _sync(demo, "--into", str(mirror))
    assert changed["mode"] == "incremental"
    assert changed["archived"] > 0 and changed["updated"] > 0
    assert changed["properties_created"] == 1
    assert _export(demo, tmp_path / "a.csv") == _export(demo, tmp_path / "b.csv", mirror)
    mirrored = demo(["--workspace", str(mirror), "view", active, "--format", "json"])
    assert [c["id"] for c in json.loads(mirrored.stdout)["associations"]["contact"]] == [17]

    # An association changed alone leaves hs_lastmodifieddate as it is (in HubSpot too):
    # the incremental sync cannot see it; --full does.
    assert demo("associate 7 --contact 17 --replace --yes").exit_code == 0
    _sync(demo, "--into", str(mirror))
    full = _sync(demo, "--into", str(mirror), "--full")
    assert (full["mode"], full["updated"], full["created"]) == ("full", 1, 0)
    assert _export(demo, tmp_path / "a.csv") == _export(demo, tmp_path / "b.csv", mirror)

    assert demo("property delete tier_x --yes").exit_code == 0
    gone = _sync(demo, "--into", str(mirror))
    assert gone["properties_deleted"] == 1
    assert _export(demo, tmp_path / "a.csv") == _export(demo, tmp_path / "b.csv", mirror)


def test_an_interrupted_full_sync_continues_where_it_stopped(
    demo: Invoke, subctl_home: Path, tmp_path: Path
) -> None:
    source = open_local(sqlite_url(subctl_home / "workspace.db"))
    target = open_local(sqlite_url(tmp_path / "mirror.db"), create=True)
    now = dt.datetime(2026, 11, 26, 12, tzinfo=dt.UTC)

    def stop(read: int, total: int | None) -> None:
        assert total == 300
        if read >= 200:
            raise KeyboardInterrupt

    try:
        with pytest.raises(KeyboardInterrupt):
            svc.sync(source.records, target.records, target.workspace, source_key="s",
                     now=now, progress=stop, chunk=100)  # fmt: skip
        assert target.records.count() == 200  # two chunks, each whole
        assert target.workspace.get_setting(svc.CURSOR) == str(
            sorted(s.id for s in source.records.search(_all()))[199]
        )
        report = svc.sync(source.records, target.records, target.workspace, source_key="s",
                          now=now, chunk=100)  # fmt: skip
        assert (report.full, report.read, report.created) == (True, 100, 100)
        assert report.resumed_after is not None
        assert target.workspace.get_setting(svc.CURSOR) is None
    finally:
        source.close()
        target.close()
    assert _export(demo, tmp_path / "a.csv") == _export(
        demo, tmp_path / "b.csv", tmp_path / "mirror.db"
    )


def _all() -> Any:
    from subctl.query.ast import Query

    return Query()


def test_a_record_written_in_the_watermarks_millisecond_is_not_lost(tmp_path: Path) -> None:
    source = open_local(sqlite_url(tmp_path / "source.db"), create=True)
    target = open_local(sqlite_url(tmp_path / "target.db"), create=True)
    at = dt.datetime(2026, 5, 1, 8, 30, 0, 250000, tzinfo=dt.UTC)
    registry = source.records.properties()
    columns = ["hs_object_id", "hs_name", "hs_status", "hs_createdate", "hs_lastmodifieddate"]

    def seed(*rows: tuple[int, str, dt.datetime]) -> None:
        props = [registry.get(c) for c in columns]
        stored = [
            [p.to_storage(v) for p, v in zip(props, (i, n, "active", m, m), strict=True) if p]
            for i, n, m in rows
        ]
        source.records.seed("subscriptions", columns, stored)

    try:
        seed((1, "one", at), (2, "two", at - dt.timedelta(days=1)))
        first = svc.sync(source.records, target.records, target.workspace, source_key="s",
                         now=at)  # fmt: skip
        assert (first.created, first.watermark) == (2, at)
        seed((3, "three", at))  # committed after the sync, in the same millisecond
        second = svc.sync(source.records, target.records, target.workspace, source_key="s",
                          now=at)  # fmt: skip
        assert (second.full, second.created, second.unchanged) == (False, 1, 1)
        assert second.since == at - svc.OVERLAP
        assert sorted(target.records.get_many([1, 2, 3], ["hs_name"])) == [1, 2, 3]
    finally:
        source.close()
        target.close()


@pytest.mark.parametrize(
    ("args", "error"),
    [
        ("sync", "--into is required to sync a local profile"),
        ("sync --into ''", "--into: empty value"),
    ],
)
def test_sync_refuses_without_a_target(demo: Invoke, args: str, error: str) -> None:
    result = demo(args)
    assert (result.exit_code, result.stderr.splitlines()[0]) == (2, f"Error: {error}")


def test_sync_refuses_its_own_workspace_and_a_workspace_that_is_no_mirror(
    demo: Invoke, subctl_home: Path, tmp_path: Path
) -> None:
    own = demo(["sync", "--into", str(subctl_home / "workspace.db")])
    assert (own.exit_code, own.stderr.splitlines()[0]) == (
        2,
        "Error: --into names the workspace being synced from",
    )
    other = tmp_path / "other.db"
    assert demo(["--workspace", str(other), "demo", "--count", "5"]).exit_code == 0
    taken = demo(["sync", "--into", str(other)])
    assert (taken.exit_code, taken.stderr) == (
        2,
        "Error: the target workspace holds records and is no mirror yet: --full makes it one"
        " (records not in the source are removed), or give a new workspace to --into\n",
    )
    made = _sync(demo, "--into", str(other), "--full")  # the demo's 5 replaced by the mirror
    assert made["created"] + made["updated"] + made["unchanged"] == 300
    # (its associated records are kept by id: their labels may differ from the source's)
    assert _export(demo, tmp_path / "a.csv", what="all") == _export(
        demo, tmp_path / "b.csv", other, what="all"
    )
    # another source into the same mirror: only with --full
    third = tmp_path / "third.db"
    assert demo(["--workspace", str(third), "demo", "--count", "3"]).exit_code == 0
    switched = demo(["--workspace", str(third), "sync", "--into", str(other)])
    assert switched.exit_code == 2
    assert switched.stderr.startswith("Error: this workspace mirrors ")


def test_sync_into_a_profile_and_never_into_a_hubspot_one(
    demo: Invoke, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    mirror = tmp_path / "m.db"
    assert demo(["profile", "add", "mirror", "--local", str(mirror)]).exit_code == 0
    synced = demo("sync --into mirror")
    assert synced.stderr.splitlines() == [
        f"✔ Synced 300 subscriptions (full) into sqlite:/{mirror}: 300 created, 0 updated,"
        " 0 unchanged, 0 archived",
        "Query the mirror: subctl --profile mirror list",
    ]
    assert json.loads(synced.stdout)["created"] == 300
    assert mirror.exists()
    monkeypatch.delenv("SUBCTL_TOKEN", raising=False)
    assert demo("profile add prod --hubspot --token-env NO_SUCH_VAR").exit_code == 0
    remote_target = demo("sync --into prod")
    assert remote_target.stderr.splitlines()[0] == (
        "Error: --into: profile prod is a HubSpot profile; give a local one"
    )
    no_token = demo("sync --profile prod")
    assert no_token.exit_code == 4
    assert no_token.stderr.splitlines()[0] == 'Error: profile "prod" has no HubSpot token'


def test_a_progress_bar_on_a_terminal(demo: Invoke, tmp_path: Path) -> None:
    from tests.test_tty import converse

    code, stdout, screen = converse(
        ["sync", "--into", str(tmp_path / "m.db"), "--format", "json"], [(b"Synced 300", b"")]
    )
    assert code == 0, screen.decode(errors="replace")
    assert json.loads(stdout)["created"] == 300


def test_an_interrupted_incremental_sync_loses_nothing(
    demo: Invoke, subctl_home: Path, tmp_path: Path
) -> None:
    mirror = tmp_path / "mirror.db"
    _sync(demo, "--into", str(mirror))
    assert demo("cancel --where 'status in (active, unpaid)' --yes").exit_code == 0
    source = open_local(sqlite_url(subctl_home / "workspace.db"))
    target = open_local(sqlite_url(mirror))
    now = dt.datetime(2026, 11, 26, 12, tzinfo=dt.UTC)

    def stop(read: int, total: int | None) -> None:
        raise KeyboardInterrupt  # after the first chunk is written

    try:
        with pytest.raises(KeyboardInterrupt):
            svc.sync(source.records, target.records, target.workspace, source_key=_key(target),
                     now=now, progress=stop, chunk=20)  # fmt: skip
        moved = target.workspace.get_setting(svc.WATERMARK)
        assert moved is not None and dt.datetime.fromisoformat(moved) == now  # the cancels'
    finally:
        source.close()
        target.close()
    rest = _sync(demo, "--into", str(mirror))
    assert rest["mode"] == "incremental" and rest["updated"] > 0
    assert _export(demo, tmp_path / "a.csv") == _export(demo, tmp_path / "b.csv", mirror)


def _key(target: Any) -> str:
    key = target.workspace.get_setting(svc.SOURCE)
    assert key is not None
    return str(key)
