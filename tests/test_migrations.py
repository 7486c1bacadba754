"""Migrations: recorded, idempotent, and in step with the one schema (``store/sql/schema.py``)."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
import sqlalchemy as sa

from subctl.store.sql import migrations, open_local, schema, sqlite_url
from tests.conftest import NOW, Invoke


def test_migrate_records_and_is_idempotent(tmp_path: Path) -> None:
    engine = sa.create_engine(sqlite_url(tmp_path / "w.db"))
    assert migrations.migrate(engine) == [m.__name__ for m in migrations.MIGRATIONS]
    assert migrations.migrate(engine) == []
    with engine.connect() as conn:
        assert migrations.applied(conn) == {m.__name__ for m in migrations.MIGRATIONS}


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """An empty database per dialect (PostgreSQL: a fresh database on the test server)."""
    if request.param == "sqlite":
        return sqlite_url(tmp_path / "w.db")
    from subctl.config import workspace_url

    return workspace_url(request.getfixturevalue("pg_url"))


# Type names a dialect reports differently from how it compiles them.
_SAME_TYPE = {"FLOAT(53)": "DOUBLE PRECISION", "DOUBLE": "DOUBLE PRECISION"}


def _type_name(type_: sa.types.TypeEngine[object], dialect: sa.Dialect) -> str:
    name = type_.compile(dialect=dialect).upper()
    return _SAME_TYPE.get(name, name)


def test_migrated_schema_matches_the_metadata(database_url: str) -> None:
    """Every table of the migrated database has the metadata's columns, names and types (the
    types per dialect: BIGINT for epoch milliseconds and ids), and nothing else."""
    store = open_local(database_url, create=True).records
    try:
        dialect = store.db.engine.dialect
        inspector = sa.inspect(store.db.engine)
        tables = set(inspector.get_table_names()) - {"_subctl_migrations"}
        assert tables == set(schema.metadata.tables)
        for table in schema.metadata.sorted_tables:
            actual = {
                c["name"]: _type_name(c["type"], dialect) for c in inspector.get_columns(table.name)
            }
            expected = {c.name: _type_name(c.type, dialect) for c in table.columns}
            assert actual == expected, table.name
            indexes = {i["name"] for i in inspector.get_indexes(table.name)}
            assert indexes == {i.name for i in table.indexes}, table.name
        subscriptions = {c["name"] for c in inspector.get_columns("subscriptions")}
        assert subscriptions == {p.column for p in store.properties()}
    finally:
        store.close()


def test_m007_keeps_the_data_of_an_m006_workspace(
    database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An m006 workspace with records upgrades to m007: every row stays, the new object tables
    are empty, and their records get ids from the database and associate like the others."""
    import datetime as dt

    engine = sa.create_engine(database_url)
    with monkeypatch.context() as patch:
        patch.setattr(migrations, "MIGRATIONS", migrations.MIGRATIONS[:6])
        assert migrations.migrate(engine)[-1] == "m006_billing_clock"
    rows = {
        "subscriptions": "INSERT INTO subscriptions (hs_object_id, hs_name, hs_status)"
        " VALUES (7, 'Old', 'active')",
        "contacts": "INSERT INTO contacts (id, firstname, lastname, created_at)"
        " VALUES (3, 'Ada', 'Lovelace', 0)",
        "contact_emails": "INSERT INTO contact_emails VALUES (3, 0, 'ada@example.com')",
        "associations": "INSERT INTO associations VALUES (7, 'contact', 3, 295)",
    }
    with engine.begin() as conn:
        for sql in rows.values():
            conn.exec_driver_sql(sql)
    assert migrations.migrate(engine)[:2] == ["m007_export_objects", "m008_segments"]
    with engine.connect() as conn:
        for table in rows:
            assert conn.exec_driver_sql(f"SELECT COUNT(*) FROM {table}").scalar_one() == 1
        for table in ("orders", "payment_links", "feedback_submissions", "custom_records"):
            assert conn.exec_driver_sql(f"SELECT COUNT(*) FROM {table}").scalar_one() == 0
    engine.dispose()
    store = open_local(database_url).records
    try:
        at = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
        order = store.create_record("order", {"name": "ORD-1", "amount": None,
                                              "currency": "USD", "status": "paid",
                                              "created_at": at})  # fmt: skip
        assert order == 1
        store.associate(7, "order", order, 515)
        cells = store.association_cells([7], ["contact", "order"])[7]
        assert cells["contact"].labels == ("Ada Lovelace (ada@example.com)",)
        assert (cells["order"].ids, cells["order"].labels) == ((1,), ("ORD-1",))
    finally:
        store.close()


def test_m011_links_billing_payments_through_their_events(
    database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An m010 workspace whose billing wrote association rows for its payments upgrades to
    m011: those rows go, the payments stay associated (through their billing event); a payment
    billing did not charge keeps its row."""
    engine = sa.create_engine(database_url)
    with monkeypatch.context() as patch:
        patch.setattr(migrations, "MIGRATIONS", migrations.MIGRATIONS[:10])
        assert migrations.migrate(engine)[-1] == "m010_billing_job_index"
    with engine.begin() as conn:
        for sql in (
            "INSERT INTO subscriptions (hs_object_id, hs_name, hs_status)"
            " VALUES (7, 'Old', 'active')",
            "INSERT INTO billing_events (id, subscription_id, kind, at, outcome)"
            " VALUES (1, 7, 'renewal', 0, 'succeeded')",
            "INSERT INTO payments (id, amount, currency, status, method, kind, created_at,"
            " billing_event_id) VALUES (40, 10, 'USD', 'succeeded', 'card', 'payment', 0, 1)",
            "INSERT INTO payments (id, amount, currency, status, method, kind, created_at)"
            " VALUES (41, 10, 'USD', 'succeeded', 'card', 'payment', 0)",
            "INSERT INTO associations VALUES (7, 'payment', 40, 393)",
            "INSERT INTO associations VALUES (7, 'payment', 41, 393)",
        ):
            conn.exec_driver_sql(sql)
    assert migrations.migrate(engine)[0] == "m011_billing_payment_links"
    with engine.connect() as conn:
        rows = conn.exec_driver_sql("SELECT object_id FROM associations ORDER BY object_id")
        assert [int(r[0]) for r in rows] == [41]
    engine.dispose()
    store = open_local(database_url).records
    try:
        assert [p.id for p in store.payments_of([7])[7]] == [40, 41]
        assert store.associated_subscriptions("payment", 40) == [7]
        assert store.association_cells([7], ["payment"])[7]["payment"].ids == (40, 41)
    finally:
        store.close()


def test_status_and_due_date_are_indexed(tmp_path: Path) -> None:
    store = open_local(sqlite_url(tmp_path / "w.db"), create=True).records
    with store.db.engine.connect() as conn:
        plan = conn.exec_driver_sql(
            "EXPLAIN QUERY PLAN SELECT hs_object_id FROM subscriptions WHERE hs_status = ? "
            "ORDER BY hs_next_payment_due_date LIMIT 50",
            ("unpaid",),
        ).all()
    assert "INDEX ix_subscriptions_status_due" in " ".join(str(r[-1]) for r in plan)


def test_opening_a_missing_workspace_does_not_create_it(tmp_path: Path) -> None:
    from subctl.errors import StoreUnavailable

    with pytest.raises(StoreUnavailable):
        open_local(sqlite_url(tmp_path / "nope.db"))
    assert not (tmp_path / "nope.db").exists()


# -- schema versions ---------------------------------------------------------------------


def _old_workspace(path: Path, monkeypatch: pytest.MonkeyPatch, applied: int = 1) -> None:
    """A workspace as an older subctl left it: only the first ``applied`` migrations."""
    engine = sa.create_engine(sqlite_url(path))
    with monkeypatch.context() as patch:
        patch.setattr(migrations, "MIGRATIONS", migrations.MIGRATIONS[:applied])
        migrations.migrate(engine)
    engine.dispose()


def _ledger(path: Path) -> set[str]:
    with sqlite3.connect(path) as conn:
        return {row[0] for row in conn.execute("SELECT name FROM _subctl_migrations")}


def test_a_workspace_of_a_newer_subctl_is_refused(invoke: Invoke, subctl_home: Path) -> None:
    assert invoke("init").exit_code == 0
    with sqlite3.connect(subctl_home / "workspace.db") as conn:
        conn.execute("INSERT INTO _subctl_migrations VALUES ('m999_from_the_future', 0)")
    for verb in ("list", "init", "demo --count 5 --yes"):
        result = invoke(verb)
        assert result.exit_code == 6, (verb, result.stderr)
        assert "was created by a newer subctl" in result.stderr
        assert "m999_from_the_future" in result.stderr
        assert "Hint: upgrade subctl" in result.stderr


def test_reading_verbs_do_not_migrate_an_old_workspace(
    invoke: Invoke, subctl_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = subctl_home / "workspace.db"
    path.parent.mkdir(parents=True)
    _old_workspace(path, monkeypatch)
    for verb in ("list", "view 1", "views", "jobs"):
        result = invoke(verb)
        assert result.exit_code == 6, (verb, result.stderr)
        assert result.stderr.splitlines() == [
            f"Error: {path} was created by an older subctl and needs a schema upgrade",
            "Hint: run `subctl init` to upgrade it",
        ]
    assert _ledger(path) == {"m001_initial"}
    assert invoke("init").exit_code == 0
    assert _ledger(path) == {m.__name__ for m in migrations.MIGRATIONS}
    assert invoke("list").exit_code == 0


def test_hints_name_the_workspace_given_with_w(
    invoke: Invoke, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "my team.db"
    _old_workspace(path, monkeypatch)
    result = invoke(["-w", str(path), "list"])
    assert result.exit_code == 6
    assert f"Hint: run `subctl -w '{path}' init` to upgrade it" in result.stderr
    missing = invoke(["-w", str(tmp_path / "none.db"), "list"])
    assert missing.exit_code == 6
    none = tmp_path / "none.db"
    assert f"create one with `subctl -w {none} init` (or `subctl -w {none} demo`" in missing.stderr


def test_eight_processes_upgrade_an_old_workspace_at_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "w.db"
    _old_workspace(path, monkeypatch)
    go = tmp_path / "go"
    # Each process imports everything, then waits for the go file, so that all of them open
    # the workspace together.
    script = (
        "import os, sys, time\n"
        "import subctl.store.sql\n"
        "from subctl.cli import main\n"
        "while not os.path.exists(sys.argv[1]): time.sleep(0.001)\n"
        "main(['-w', sys.argv[2], 'init'])\n"
    )
    env = {**os.environ, "SUBCTL_HOME": str(tmp_path / "home"), "SUBCTL_NOW": NOW}
    procs = [
        subprocess.Popen([sys.executable, "-c", script, str(go), str(path)], env=env,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for _ in range(8)
    ]  # fmt: skip
    go.touch()
    results = [(p.wait(timeout=120), p.stderr.read() if p.stderr else "") for p in procs]
    for proc in procs:
        for stream in (proc.stdout, proc.stderr):
            if stream is not None:
                stream.close()
    assert [code for code, _ in results] == [0] * 8, results
    assert _ledger(path) == {m.__name__ for m in migrations.MIGRATIONS}


def test_the_schema_description_knows_every_migration() -> None:
    """Opening reads the ledger against ``schema.MIGRATIONS`` (no SQLAlchemy): the names of
    the migration functions, in order."""
    assert schema.MIGRATIONS == tuple(m.__name__ for m in migrations.MIGRATIONS)
    assert schema.MIGRATIONS_TABLE == migrations._LEDGER.name
