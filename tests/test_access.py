"""Permissions (services/access.py): a ``view,export`` identity cannot change anything and can
list and export; on SQLite the identity is a profile (its permissions in the config), on
PostgreSQL a database role granted by the workspace's admin (``subctl access``)."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import typer

from subctl.cli import app
from subctl.services.access import NEEDS
from tests.conftest import Invoke, Result, WorkspaceCase, checksum, connect

pytestmark = pytest.mark.backends("sqlite", "postgresql")


def command_paths() -> list[str]:
    paths: list[str] = []

    def walk(command: object, prefix: list[str]) -> None:
        sub = getattr(command, "commands", None)
        if sub is None:
            paths.append(" ".join(prefix))
            return
        for name, child in sub.items():
            walk(child, [*prefix, name])

    walk(typer.main.get_command(app), [])
    return sorted(paths)


@pytest.mark.backends("sqlite")
def test_every_command_declares_what_it_needs_once() -> None:
    assert command_paths() == sorted(NEEDS)


def _as_role(url: str, role: str) -> str:
    scheme, rest = url.split("://", 1)
    return f"{scheme}://{role}@{rest.split('@', 1)[1]}"


def create_role(ws: WorkspaceCase, prefix: str = "ci") -> str:
    role = f"{prefix}_{uuid.uuid4().hex[:10]}"
    with connect(ws) as conn:
        conn.exec_driver_sql(f"CREATE ROLE {role} LOGIN")
        conn.commit()
    return role


Restricted = tuple[Callable[[str], Result], str]


@pytest.fixture
def restricted(seeded: Invoke, ws: WorkspaceCase, monkeypatch: pytest.MonkeyPatch) -> Restricted:
    """Run subctl as a ``view,export`` identity: the profile "nightly" (SQLite), or a database
    role the admin granted view and export (PostgreSQL). Returns (invoke, how errors name it)."""
    if ws.is_sqlite:
        result = seeded("config set profiles.nightly.permissions export,view")
        assert result.exit_code == 0, result.stderr
        assert seeded("config get profiles.nightly.permissions").stdout == "view,export\n"
        return (lambda args: seeded(f"-p nightly {args}")), 'profile "nightly"'
    assert ws.target is not None
    role = create_role(ws)
    granted = seeded(f"access grant {role} view export")
    assert (granted.exit_code, granted.stderr) == (0, f"✔ Granted {role}: view, export\n")

    def as_role(args: str) -> Result:
        with monkeypatch.context() as patch:
            patch.setenv("SUBCTL_WORKSPACE", _as_role(ws.target or "", role))
            return seeded(args)

    return as_role, f'user "{role}"'


DENIED = [
    ("cancel 1 --yes", "edit", "cancel"),
    ("cancel 1 --refund unused --yes", "edit", "cancel"),
    ("pause 1 --yes", "edit", "pause"),
    ("update 1 --set hs_name=Changed --yes", "edit", "update"),
    ("delete 1 --yes", "delete", "delete"),
    ("associate 3 --contact 17", "edit", "associate"),
    ("property create --name tier --type string --label Tier", "properties", "property create"),
    ("property settings --tier enterprise", "properties", "property settings"),
    ("list --show-sensitive", "sensitive_data", "list"),
    ("view 1 --show-sensitive", "sensitive_data", "view"),
    ("export --all --show-sensitive -f csv -o out.csv", "sensitive_data", "export"),
    ("clock advance 1d", "edit", "clock advance"),
    ("segment create s --where 'status = active'", "edit", "segment create"),
    ("filter --where 'status = active' --save-view mine --yes", "edit", "filter"),
    ("demo --count 10 --seed 1 --yes", "edit", "demo"),  # would replace the records
]


@pytest.mark.parametrize(("args", "permission", "verb"), DENIED)
def test_a_view_export_identity_changes_nothing(
    restricted: Restricted, ws: WorkspaceCase, args: str, permission: str, verb: str
) -> None:
    run, who = restricted
    before = checksum(ws)
    result = run(args)
    assert (result.exit_code, result.stdout) == (4, "")
    assert result.stderr == f'Error: {who} lacks the "{permission}" permission needed by {verb}\n'
    assert checksum(ws) == before  # nothing written: not a job, not an audit row


def test_a_view_export_identity_lists_and_exports(
    restricted: Restricted, tmp_path: Path, ws: WorkspaceCase
) -> None:
    run, _who = restricted
    listed = run(
        "list --where 'id <= 2' --fields hs_object_id,hs_status --sort hs_object_id -f csv"
    )
    assert (listed.exit_code, listed.stdout) == (0, "hs_object_id,hs_status\n1,active\n2,unpaid\n")
    out = tmp_path / "all.csv"
    exported = run(f"export --where 'id <= 2' -f csv -o {out}")
    assert exported.exit_code == 0, exported.stderr
    assert len(out.read_text().splitlines()) == 3
    # delete --backup exports too: the delete permission alone would not be enough
    denied = run(f"delete 4 --backup {tmp_path / 'b.csv'} --yes")
    assert denied.exit_code == 4


@pytest.mark.backends("sqlite")
def test_profile_permissions_are_checked_when_set(seeded: Invoke) -> None:
    bad = seeded("config set profiles.nightly.permissions view,cancel")
    assert (bad.exit_code, bad.stderr) == (
        2, 'Error: profiles.nightly.permissions: unknown permission "cancel"; one of: view, edit,'
        " delete, export, properties, sensitive_data\n"
    )  # fmt: skip
    ok = seeded("config set profiles.editor.permissions view,edit")
    assert ok.exit_code == 0
    assert seeded("-p editor delete 4 --yes").exit_code == 4
    assert seeded("-p editor pause 1 --yes").exit_code == 0
    # a profile without the key has every permission
    assert seeded("delete 4 --yes").exit_code == 0
    # resuming a job needs what the job's verb needs (job 2: that delete)
    resumed = seeded("-p editor jobs resume 2 --yes")
    assert (resumed.exit_code, resumed.stderr) == (
        4, 'Error: profile "editor" lacks the "delete" permission needed by delete\n'
    )  # fmt: skip


@pytest.mark.backends("sqlite")
def test_profile_add_takes_permissions(seeded: Invoke, subctl_home: Path) -> None:
    ws = subctl_home / "workspace.db"
    added = seeded(f"profile add ci --local {ws} --permissions export,view")
    assert added.exit_code == 0, added.stderr
    assert seeded("config get profiles.ci.permissions").stdout == "view,export\n"
    assert json.loads(seeded("profile show ci -f json").stdout)["permissions"] == "view,export"
    refused = seeded("-p ci cancel 1 --yes")
    assert (refused.exit_code, refused.stderr) == (
        4, 'Error: profile "ci" lacks the "edit" permission needed by cancel\n'
    )  # fmt: skip
    bad = seeded(f"profile add ci2 --local {ws} --permissions view,bogus")
    assert bad.exit_code == 2


@pytest.mark.backends("sqlite")
def test_access_needs_a_team_workspace(seeded: Invoke) -> None:
    result = seeded("access grant bob view")
    assert result.exit_code == 2
    assert result.stderr.startswith("Error: access grants are for a team workspace (PostgreSQL)")


# -- team workspaces ---------------------------------------------------------------------------


@pytest.fixture
def team(seeded: Invoke, ws: WorkspaceCase, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    if ws.is_sqlite:
        pytest.skip("team workspaces are PostgreSQL")
    yield


def _runner(seeded: Invoke, ws: WorkspaceCase, monkeypatch: pytest.MonkeyPatch, role: str):  # type: ignore[no-untyped-def]
    def run(args: str) -> Result:
        with monkeypatch.context() as patch:
            patch.setenv("SUBCTL_WORKSPACE", _as_role(ws.target or "", role))
            return seeded(args)

    return run


@pytest.mark.usefixtures("team")
def test_the_creator_is_the_first_admin_and_grants_are_listed(
    seeded: Invoke, ws: WorkspaceCase
) -> None:
    role = create_role(ws)
    assert seeded(f"access grant {role} view,export").exit_code == 0
    listed = seeded("access list -f csv")
    assert listed.exit_code == 0, listed.stderr
    assert listed.stdout == (
        "user,permissions,granted_by\n"
        f'{role},"view,export",subctl_test\n'
        'subctl_test,"view,edit,delete,export,properties,sensitive_data,admin",subctl_test\n'
    )


@pytest.mark.usefixtures("team")
def test_nobody_grants_what_they_lack(
    seeded: Invoke, ws: WorkspaceCase, monkeypatch: pytest.MonkeyPatch
) -> None:
    viewer, deputy = create_role(ws, "viewer"), create_role(ws, "deputy")
    assert seeded(f"access grant {viewer} view").exit_code == 0
    assert seeded(f"access grant {deputy} view admin").exit_code == 0
    as_viewer = _runner(seeded, ws, monkeypatch, viewer)
    itself = as_viewer(f"access grant {viewer} edit")
    assert (itself.exit_code, itself.stderr) == (
        4, f'Error: user "{viewer}" lacks the "admin" permission needed by access grant\n'
    )  # fmt: skip
    as_deputy = _runner(seeded, ws, monkeypatch, deputy)
    widen = as_deputy(f"access grant {deputy} edit")
    assert (widen.exit_code, widen.stderr) == (
        4, f'Error: user "{deputy}" cannot grant "edit": they lack it themselves\n'
    )  # fmt: skip
    assert as_deputy(f"access grant {viewer} view").exit_code == 0  # what the deputy holds
    # a sensitive-data grant is no longer self-service: an admin's act
    assert seeded(f"access grant {viewer} properties").exit_code == 0
    settings = as_viewer("property settings --grant sensitive_data.view")
    assert (settings.exit_code, settings.stderr) == (
        4, f'Error: user "{viewer}" lacks the "admin" permission needed by property settings\n'
    )  # fmt: skip
    missing = seeded("access grant nobody_here view")
    assert missing.exit_code == 3
    assert missing.stderr.startswith('Error: no database role "nobody_here"')
    assert seeded(f"access revoke {deputy} admin").exit_code == 0
    last = seeded("access revoke subctl_test admin")
    assert (last.exit_code, last.stderr.splitlines()[0]) == (
        2, 'Error: "subctl_test" is the last admin of this workspace: grant admin to another user'
        " first"
    )  # fmt: skip


@pytest.mark.usefixtures("team")
def test_a_member_can_append_to_the_audit_log_but_not_rewrite_it(
    seeded: Invoke, ws: WorkspaceCase, monkeypatch: pytest.MonkeyPatch
) -> None:
    import sqlalchemy as sa

    role = create_role(ws, "editor")
    assert seeded(f"access grant {role} view edit").exit_code == 0
    as_editor = _runner(seeded, ws, monkeypatch, role)
    done = as_editor("--actor ann pause 1 --yes")
    assert done.exit_code == 0, done.stderr
    audit = seeded("audit --id 1 -f csv")
    assert f",ann,{role},default,pause,1,pause," in audit.stdout
    # billing's audit: the member's run appends its events, which nobody but the owner changes
    billed = as_editor("--actor ann clock set 2026-12-01")
    assert billed.exit_code == 0, billed.stderr
    assert f",ann,{role},default,clock set,2,billing," in seeded("audit --id 2 -f csv").stdout
    engine = sa.create_engine(_as_role(ws.url, role))
    try:
        for statement in ("UPDATE audit SET actor = 'x'", "DELETE FROM audit",
                          f"INSERT INTO access VALUES ('{role}', 'delete', 'me', 0)",
                          "UPDATE billing_events SET outcome = 'x'",
                          "DELETE FROM billing_events"):  # fmt: skip
            with engine.connect() as conn, pytest.raises(sa.exc.ProgrammingError) as denied:
                conn.exec_driver_sql(statement)
            assert "permission denied" in str(denied.value)
    finally:
        engine.dispose()
