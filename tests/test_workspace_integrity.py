"""Opening a workspace: read-only files and directories, foreign databases, and history written
from the values a write actually replaced."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import NOW, Invoke

READING_VERBS = [
    "list",
    "list --view unpaid",
    "view 1",
    "filter --where 'status = active'",
    "views",
    "views list",
    "views show unpaid",
    "jobs",
    "jobs list",
    "property list",
]
WRITING_VERBS = [
    "cancel 1 --yes",
    "update 1 --set name=Renamed --yes",
    "filter --where 'status = active' --save-view mine",
    "property create --name tier --label Tier --type string --field-type text",
    "demo --count 5 --yes",
]


@pytest.fixture
def read_only_file(demo: Invoke, subctl_home: Path) -> Iterator[Path]:
    path = subctl_home / "workspace.db"
    path.chmod(0o444)
    yield path
    path.chmod(0o600)


@pytest.fixture
def read_only_directory(demo: Invoke, subctl_home: Path) -> Iterator[Path]:
    subctl_home.chmod(0o555)
    yield subctl_home
    subctl_home.chmod(0o755)


def _check_read_only(invoke: Invoke, path: Path) -> None:
    before = path.read_bytes()
    for verb in READING_VERBS:
        result = invoke(f"{verb} --format json" if verb.startswith(("list", "filter")) else verb)
        assert result.exit_code == 0, (verb, result.stderr)
    for verb in WRITING_VERBS:
        result = invoke(verb)
        assert result.exit_code == 6, (verb, result.stdout, result.stderr)
        assert result.stderr.startswith(f"Error: the workspace {path} is read-only\n"), verb
        assert "lock" not in result.stderr
    assert path.read_bytes() == before


def test_a_read_only_workspace_file_can_be_read_not_written(
    read_only_file: Path, invoke: Invoke
) -> None:
    _check_read_only(invoke, read_only_file)


def test_a_workspace_in_a_read_only_directory_can_be_read_not_written(
    read_only_directory: Path, invoke: Invoke
) -> None:
    _check_read_only(invoke, read_only_directory / "workspace.db")


def test_init_refuses_a_foreign_sqlite_file_without_force(invoke: Invoke, tmp_path: Path) -> None:
    path = tmp_path / "notes.db"
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE notes (body TEXT)")
        conn.execute("INSERT INTO notes VALUES ('keep me')")
    for verb in ("init", "demo --count 5 --yes"):
        result = invoke(["-w", str(path), *verb.split()])
        assert result.exit_code == 6, result.stderr
        assert result.stderr.splitlines() == [
            f"Error: {path} is a database with other tables, not a subctl workspace",
            f"Hint: choose another path, or run `subctl -w {path} init --force` to add"
            " subctl's tables to it",
        ]
    with sqlite3.connect(path) as conn:
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert tables == {"notes"}
    forced = invoke(["-w", str(path), "init", "--force"])
    assert forced.exit_code == 0, forced.stderr
    assert invoke(["-w", str(path), "list"]).exit_code == 0
    with sqlite3.connect(path) as conn:
        assert conn.execute("SELECT body FROM notes").fetchall() == [("keep me",)]


def test_a_new_workspace_file_is_private(invoke: Invoke, subctl_home: Path) -> None:
    assert invoke("init").exit_code == 0
    assert (subctl_home / "workspace.db").stat().st_mode & 0o777 == 0o600


# -- history under concurrent writers -----------------------------------------------------

NAME_OF_1 = "SELECT hs_name FROM subscriptions WHERE hs_object_id = 1"
WRITER = """
import datetime as dt, os, sys, time
from subctl.store.ops import Update
from subctl.store.sql import open_local, sqlite_url
store = open_local(sqlite_url(sys.argv[1])).records
tag, go = sys.argv[2], sys.argv[3]
while not os.path.exists(go):
    time.sleep(0.001)
for i in range(int(sys.argv[4])):
    sub = store.get(1)  # the value the decision sees; the other writer may replace it first
    at = dt.datetime.now(dt.UTC)
    store.execute([Update(subscription_id=1, expect_status=sub.status, at=at, source="test",
                          values={"hs_name": f"{tag}-{i}"})])
"""


def test_concurrent_updates_record_the_values_they_replaced(
    demo: Invoke, subctl_home: Path, tmp_path: Path
) -> None:
    path = subctl_home / "workspace.db"
    with sqlite3.connect(path) as conn:
        (first,) = conn.execute(NAME_OF_1).fetchone()
    go, rounds = tmp_path / "go", 150
    env = {**os.environ, "SUBCTL_NOW": NOW}
    writers = [
        subprocess.Popen([sys.executable, "-c", WRITER, str(path), tag, str(go), str(rounds)],
                         env=env, stderr=subprocess.PIPE, text=True)
        for tag in ("a", "b")
    ]  # fmt: skip
    go.touch()
    errors = [w.communicate(timeout=120)[1] for w in writers]
    assert [w.returncode for w in writers] == [0, 0], errors
    with sqlite3.connect(path) as conn:
        history = conn.execute(
            "SELECT old_value, new_value FROM property_history"
            " WHERE subscription_id = 1 AND property = 'hs_name' ORDER BY id"
        ).fetchall()
        (last,) = conn.execute(NAME_OF_1).fetchone()
    assert len(history) == 2 * rounds
    olds = [old for old, _new in history]
    news = [new for _old, new in history]
    assert olds == [first, *news[:-1]]  # each entry starts where the previous one ended
    assert news[-1] == last


# -- foreign databases on every backend ---------------------------------------------------


def _foreign(backend: str, tmp_path: Path, request: pytest.FixtureRequest, ddl: str) -> str:
    """A database holding one table of another application (``ddl``): its --workspace target."""
    if backend == "sqlite":
        path = tmp_path / "other.db"
        with sqlite3.connect(path) as conn:
            conn.execute(ddl)
        return str(path)
    import psycopg

    from subctl.store.sql.database import libpq_url

    url: str = request.getfixturevalue("pg_url")
    with psycopg.connect(libpq_url(url), autocommit=True) as conn:
        conn.execute(ddl)
    return url


def _tables(backend: str, target: str) -> set[str]:
    if backend == "sqlite":
        with sqlite3.connect(target) as conn:
            return {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    import psycopg

    from subctl.store.sql.database import libpq_url

    with psycopg.connect(libpq_url(target), autocommit=True) as conn:
        rows = conn.execute(
            "SELECT tablename FROM pg_catalog.pg_tables WHERE schemaname = current_schema()"
        ).fetchall()
    return {r[0] for r in rows}


@pytest.mark.backends("sqlite", "postgresql")
def test_the_adopt_hint_names_the_workspace_on_every_backend(
    backend: str, tmp_path: Path, request: pytest.FixtureRequest, invoke: Invoke
) -> None:
    import shlex

    from subctl.store.sql import describe_url

    target = _foreign(backend, tmp_path, request, "CREATE TABLE notes (body TEXT)")
    result = invoke(["-w", target, "init"])
    assert result.exit_code == 6, result.stderr
    named = target if backend == "sqlite" else describe_url(target)
    assert f"run `subctl -w {shlex.quote(named)} init --force` to add" in result.stderr


@pytest.mark.backends("sqlite", "postgresql")
def test_init_force_refuses_a_foreign_table_of_subctls_name(
    backend: str, tmp_path: Path, request: pytest.FixtureRequest, invoke: Invoke
) -> None:
    target = _foreign(backend, tmp_path, request, "CREATE TABLE subscriptions (body TEXT)")
    result = invoke(["-w", target, "init", "--force"])
    assert result.exit_code == 6, result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) == 2, result.stderr
    assert lines[0].startswith("Error: "), result.stderr
    assert lines[0].endswith(
        ": a table named subscriptions already exists and is not subctl's; subctl cannot add"
        " its tables to this database"
    ), result.stderr
    assert lines[1] == "Hint: choose another database, or rename or drop that table"
    assert _tables(backend, target) == {"subscriptions"}
