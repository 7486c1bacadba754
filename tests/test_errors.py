"""Errors: one line, documented exit codes, tracebacks only with SUBCTL_DEBUG=1, closed pipes."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from subctl.errors import EXIT_CODES
from tests.conftest import Invoke


def test_exit_code_table_is_documented() -> None:
    readme = (Path(__file__).parent.parent / "README.md").read_text()
    for code, meaning in EXIT_CODES:
        assert f"| {code} | {meaning} |" in readme


def test_unexpected_error_is_one_line(seeded: Invoke, monkeypatch: pytest.MonkeyPatch) -> None:
    from subctl.store.sql.records import SqlRecordStore

    def boom(*_: object, **__: object) -> None:
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(SqlRecordStore, "detail", boom)
    result = seeded("view 1")
    assert result.exit_code == 1
    assert result.stderr == (
        "Error: unexpected RuntimeError: disk on fire\nHint: set SUBCTL_DEBUG=1 for a traceback\n"
    )
    monkeypatch.setenv("SUBCTL_DEBUG", "1")
    with pytest.raises(RuntimeError):
        seeded("view 1")


def test_debug_shows_traceback_for_domain_errors(
    seeded: Invoke, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SUBCTL_DEBUG", "1")
    result = seeded("view 4242")
    assert result.exit_code == 3
    assert "Traceback" in result.stderr and "Error: subscription 4242 not found" in result.stderr


def test_usage_error_from_typer_is_exit_2(seeded: Invoke) -> None:
    assert seeded("list --no-such-flag").exit_code == 2
    assert seeded("no-such-command").exit_code == 2


def test_corrupt_workspace_is_unavailable(invoke: Invoke, subctl_home: Path) -> None:
    subctl_home.mkdir(parents=True)
    path = subctl_home / "workspace.db"
    path.write_bytes(b"this is not a database" * 100)
    result = invoke("list")
    assert result.exit_code == 6
    assert result.stderr == (
        f"Error: workspace {path} is damaged: file is not a database\n"
        f"Hint: restore it from a backup, salvage it with `sqlite3 {path} .recover`, "
        "or start a new one with `subctl --workspace NEW.db init`\n"
    )


@pytest.fixture(scope="module")
def big_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A workspace large enough that a writer is still writing when ``head`` exits, billed up
    to the clock (no "billing events due" on stderr)."""
    home = tmp_path_factory.mktemp("big") / "home"
    for args in (["demo", "--count", "3000", "--yes"], ["billing", "run", "--format", "csv"]):
        subprocess.run(
            [sys.executable, "-m", "subctl", *args],
            env={**os.environ, "SUBCTL_HOME": str(home)}, capture_output=True, check=True,
        )  # fmt: skip
    return home


def _into_head(home: Path, args: str) -> subprocess.CompletedProcess[str]:
    """``subctl ARGS | head -c 10``: stdout is the subctl exit code."""
    env = {**os.environ, "SUBCTL_HOME": str(home)}
    env.pop("COLUMNS", None)  # Rich's terminal-width table, as a shell pipe gets it
    script = f"{sys.executable} -m subctl {args} | head -c 10 >/dev/null; echo ${{PIPESTATUS[0]}}"
    return subprocess.run(["bash", "-c", script], env=env, capture_output=True, text=True)


@pytest.mark.parametrize("fmt", ["ndjson", "table"])
def test_closed_pipe_ends_quietly_with_0(big_home: Path, fmt: str) -> None:
    proc = _into_head(big_home, f"list --all --format {fmt}")
    assert (proc.stdout, proc.stderr) == ("0\n", "")


def test_closed_pipe_keeps_the_exit_code_of_a_batch_with_failures(big_home: Path) -> None:
    proc = _into_head(big_home, "pause --where 'status != active' --yes --format ndjson")
    assert proc.stdout == "5\n"
    assert proc.stderr.startswith("Error: ") and "subscriptions failed" in proc.stderr


def test_a_batch_into_a_closed_pipe_still_finishes_its_job(big_home: Path, tmp_path: Path) -> None:
    """``| head`` stops the printing, never the batch: every item is done, the job too."""
    import json
    import shutil

    home = tmp_path / "home"
    shutil.copytree(big_home, home)
    env = {**os.environ, "SUBCTL_HOME": str(home), "SUBCTL_BATCH_CHUNK": "50"}
    script = (f"{sys.executable} -m subctl pause --where 'status = active and cancel_at is empty'"
              " --yes --format ndjson | head -n 1 >/dev/null; echo ${PIPESTATUS[0]}")  # fmt: skip
    proc = subprocess.run(["bash", "-c", script], env=env, capture_output=True, text=True)
    assert proc.stdout == "0\n", proc.stderr
    jobs = subprocess.run(
        [sys.executable, "-m", "subctl", "jobs", "--format", "json"],
        env=env, capture_output=True, text=True, check=True,
    )  # fmt: skip
    job = max(json.loads(jobs.stdout), key=lambda j: j["id"])  # this one (the home is shared)
    assert (job["command"], job["status"], job["unprocessed"]) == ("pause", "done", 0), job


def test_postgres_without_its_driver_says_how_to_install_it(
    invoke: Invoke, monkeypatch: pytest.MonkeyPatch
) -> None:
    import sys

    monkeypatch.setitem(sys.modules, "psycopg", None)  # not installed: importing it fails
    result = invoke(["--workspace", "postgresql://u:secret@localhost/db", "list"])
    assert result.exit_code == 6
    assert "secret" not in result.stderr
    assert "pip install 'subctl[postgres]'" in result.stderr


def test_workspace_targets_that_cannot_be_workspaces(invoke: Invoke, tmp_path: Path) -> None:
    web = invoke(["--workspace", "http://example.invalid/x", "list"])
    assert web.exit_code == 2
    assert web.stderr.startswith('Error: unsupported workspace URL scheme "http"')
    folder = invoke(["--workspace", str(tmp_path), "list"])
    assert folder.exit_code == 6
    assert folder.stderr.startswith(f"Error: {tmp_path} is a directory, not a workspace file")


# -- bad input at the edges: a usage error, one line, the traceback only with SUBCTL_DEBUG -----


def test_unparseable_pinned_clock_is_a_usage_error(
    seeded: Invoke, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SUBCTL_NOW", "garbage")
    result = seeded("list")
    assert (result.exit_code, result.stdout) == (2, "")
    assert result.stderr == (
        'Error: SUBCTL_NOW="garbage" is not an ISO 8601 date and time\n'
        "Hint: e.g. SUBCTL_NOW=2026-11-26T12:00:00Z, or unset it for the real clock\n"
    )
    monkeypatch.setenv("SUBCTL_DEBUG", "1")
    debug = seeded("list")
    assert debug.exit_code == 2
    assert "Traceback" in debug.stderr and "ValueError" in debug.stderr


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("profiles = 3\n", "profiles must be a table of profiles, e.g. [profiles.default]"),
        ("active = 3\n", "active must be a profile name (a string)"),
        (
            '[profiles]\ndefault = "x.db"\n',
            "profiles.default must be a table, e.g. [profiles.default]",
        ),
        ("[profiles.default]\nworkspace = 7\n", "profiles.default.workspace must be a string"),
        (
            '[profiles.default]\nwrkspace = "x.db"\n',
            "profiles.default.wrkspace is not a profile setting",
        ),
        ('profile = "x"\n', "profile is not a setting (known: active, language, profiles)"),
    ],
)
def test_malformed_config_names_the_file_and_the_key(
    invoke: Invoke, subctl_home: Path, monkeypatch: pytest.MonkeyPatch, text: str, message: str
) -> None:
    subctl_home.mkdir()
    path = subctl_home / "config.toml"
    path.write_text(text)
    result = invoke("list")
    assert result.exit_code == 2
    assert result.stderr == (
        f"Error: {path}: {message}\n"
        "Hint: edit or remove the file; its keys: active, language, profiles.NAME.KEY (KEY:"
        " workspace, kind, base_url, tier, token_env, permissions)\n"
    )
    monkeypatch.setenv("SUBCTL_DEBUG", "1")
    debug = invoke("list")
    assert debug.exit_code == 2 and "Traceback" in debug.stderr


def test_config_that_is_not_toml_is_a_usage_error(invoke: Invoke, subctl_home: Path) -> None:
    subctl_home.mkdir()
    (subctl_home / "config.toml").write_bytes(b"active = \xff\n")
    result = invoke("list")
    assert result.exit_code == 2
    assert result.stderr == f"Error: cannot read {subctl_home / 'config.toml'}: not UTF-8 text\n"


@pytest.mark.parametrize(
    ("encoding", "fmt", "expected"),
    [
        ("ascii", "json", '"Acme Corp \\u2013 Pro monthly"'),  # JSON's own escape: exact
        ("ascii", "table", "Acme Corp \\u2013 Pro monthly"),
        ("latin-1", "csv", "Acme Corp \\u2013 Pro monthly"),
    ],
)
def test_output_a_terminal_cannot_encode_is_degraded(
    seeded: Invoke, subctl_home: Path, encoding: str, fmt: str, expected: str
) -> None:
    assert seeded("billing run --format csv").exit_code == 0  # nothing due: stderr stays empty
    env = {**os.environ, "SUBCTL_HOME": str(subctl_home), "PYTHONIOENCODING": encoding}
    proc = subprocess.run(
        [sys.executable, "-m", "subctl", "list", "--format", fmt, "--fields", "name"],
        env=env, capture_output=True, check=False,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == b""
    assert expected in proc.stdout.decode(encoding)
    if fmt == "json":
        import json

        assert {"hs_name": "Acme Corp – Pro monthly"} in json.loads(proc.stdout)


def test_ids_on_stdin_with_cr_only_line_endings(seeded: Invoke, subctl_home: Path) -> None:
    # a real process: its stdin does not translate a lone CR as CliRunner's input does
    env = {**os.environ, "SUBCTL_HOME": str(subctl_home)}
    argv = ["pause", "--from-file", "-", "--dry-run", "--format", "csv"]
    proc = subprocess.run(
        [sys.executable, "-m", "subctl", *argv],
        input="id\r1\r3\r", env=env, capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert proc.returncode == 5, proc.stderr  # subscription 3 is unpaid: it would fail
    assert [line.split(",")[0] for line in proc.stdout.splitlines()] == ["id", "1", "3"]


# -- faults: every damaged or unusable workspace ends in a documented exit code ---------------

DOCUMENTED = {0, 2, 3, 4, 5, 6, 130}
PROBES = [
    ["list", "--limit", "5"],
    ["view", "3"],
    ["property", "list"],
    ["pause", "4", "--yes"],
    ["init"],
]


def _run_quietly(argv: list[str]) -> tuple[int, str]:
    from typer.testing import CliRunner

    from subctl.cli import run

    with CliRunner().isolation() as (_, err, _):
        return run(argv), err.getvalue().decode()


def _assert_documented(argv: list[str]) -> None:
    code, stderr = _run_quietly(argv)
    assert code in DOCUMENTED, (argv, stderr)
    # the catch-all of cli.run; a damaged file's own message may say "unexpected end of data"
    assert "\nError: unexpected " not in "\n" + stderr, (argv, stderr)
    assert "Traceback" not in stderr, (argv, stderr)
    if code:
        assert any(line.startswith("Error: ") for line in stderr.splitlines()), (argv, stderr)


@pytest.fixture(scope="module")
def pristine(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    """A small demo workspace's bytes (checkpointed: the file is the whole database)."""
    path = tmp_path_factory.mktemp("pristine") / "w.db"
    code, stderr = _run_quietly(["--workspace", str(path), "demo", "--count", "30", "--yes"])
    assert code == 0, stderr
    return path.read_bytes()


@pytest.mark.parametrize("seed", range(30))
def test_byte_flips_end_in_a_documented_exit_code(
    pristine: bytes, tmp_path: Path, seed: int
) -> None:
    import random

    rng = random.Random(seed)
    data = bytearray(pristine)
    for _ in range(rng.choice([1, 4, 16, 64, 256])):
        data[rng.randrange(len(data))] = rng.randrange(256)
    path = tmp_path / "flipped.db"
    path.write_bytes(data)
    for probe in PROBES:
        _assert_documented(["--workspace", str(path), *probe])


# A table or column the migrations create is missing: every open, `init` and `demo` included,
# is exit 6 (the workspace is damaged), before any verb runs into it.
SCHEMA_DAMAGE = [
    "DROP TABLE subscriptions",
    "ALTER TABLE subscriptions DROP COLUMN hs_name",
    "DROP TABLE _subctl_migrations",
    "DROP TABLE associations",
    "ALTER TABLE line_items DROP COLUMN price",
    "DROP TABLE property_definitions",
]
# Damaged values in an intact schema: the open check does not read values (that would cost a
# scan of every table); the verbs that read them end in a documented code, and the others,
# `init` among them, rightly succeed.
DATA_DAMAGE = [
    "UPDATE associations SET object_type = 'conBact'"
    " WHERE rowid = (SELECT min(rowid) FROM associations WHERE subscription_id = 3)",
    "UPDATE subscriptions SET hs_name = CAST(X'FF41' AS TEXT)",
    "UPDATE subscriptions SET hs_status = NULL, hs_createdate = 'soon'",
]


def _damaged_copy(pristine: bytes, tmp_path: Path, damage: str) -> Path:
    import sqlite3

    path = tmp_path / "damaged.db"
    path.write_bytes(pristine)
    with sqlite3.connect(path) as conn:
        conn.execute(damage)
    conn.close()
    return path


@pytest.mark.parametrize("damage", SCHEMA_DAMAGE)
def test_damaged_schema_is_exit_6_for_every_verb(
    pristine: bytes, tmp_path: Path, damage: str
) -> None:
    path = _damaged_copy(pristine, tmp_path, damage)
    for probe in [*PROBES, ["demo", "--count", "5", "--yes"]]:
        code, stderr = _run_quietly(["--workspace", str(path), *probe])
        assert code == 6, (probe, stderr)
        assert stderr.startswith(f"Error: {path} ") or stderr.startswith(
            f"Error: workspace {path} is damaged: "
        ), (probe, stderr)
        assert "Traceback" not in stderr and "unexpected" not in stderr, (probe, stderr)


def test_init_names_the_missing_column(pristine: bytes, tmp_path: Path) -> None:
    path = _damaged_copy(pristine, tmp_path, "ALTER TABLE subscriptions DROP COLUMN hs_name")
    assert _run_quietly(["--workspace", str(path), "init"]) == (
        6,
        f"Error: workspace {path} is damaged: column subscriptions.hs_name is missing\n"
        f"Hint: restore it from a backup, salvage it with `sqlite3 {path} .recover`, "
        "or start a new one with `subctl --workspace NEW.db init`\n",
    )


def test_a_custom_property_without_its_column_is_damage(invoke: Invoke, subctl_home: Path) -> None:
    import sqlite3

    assert invoke("init").exit_code == 0
    made = invoke("property create --name order_code --label 'Order code' --type string")
    assert made.exit_code == 0, made.stderr
    path = subctl_home / "workspace.db"
    with sqlite3.connect(path) as conn:
        conn.execute("DROP INDEX ix_subscriptions_cp_order_code")
        conn.execute("ALTER TABLE subscriptions DROP COLUMN order_code")
    conn.close()
    result = invoke("list")
    assert (result.exit_code, result.stderr.splitlines()[0]) == (
        6,
        f"Error: workspace {path} is damaged: column subscriptions.order_code is missing",
    )


@pytest.mark.parametrize("damage", DATA_DAMAGE)
def test_damaged_values_end_in_a_documented_exit_code(
    pristine: bytes, tmp_path: Path, damage: str
) -> None:
    path = _damaged_copy(pristine, tmp_path, damage)
    for probe in [*PROBES, ["demo", "--count", "5", "--yes"]]:
        _assert_documented(["--workspace", str(path), *probe])


@pytest.mark.parametrize(
    "content",
    [b"", b"this is not a database" * 100, b"SQLite format 3\0" + bytes(range(256)) * 20],
)
def test_demo_and_init_on_a_corrupt_file(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "corrupt.db"
    path.write_bytes(content)
    for probe in [["demo", "--count", "5", "--yes"], ["init"], ["list"]]:
        _assert_documented(["--workspace", str(path), *probe])


def test_unusable_paths_end_in_a_documented_exit_code(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    loop, other = tmp_path / "loop", tmp_path / "other"
    loop.symlink_to(other)
    other.symlink_to(loop)
    a_file = tmp_path / "a-file"
    a_file.write_text("")
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o000)  # unreadable unless the tests run as root
    for target in [loop, loop / "workspace.db", a_file / "workspace.db", locked / "w.db"]:
        for probe in [["list"], ["init"]]:
            _assert_documented(["--workspace", str(target), *probe])
    for home in [loop, a_file, a_file / "sub", locked]:
        monkeypatch.setenv("SUBCTL_HOME", str(home))
        for probe in [["list"], ["init"], ["config", "set", "active", "x"]]:
            _assert_documented(probe)
    locked.chmod(0o700)


def test_debug_shows_the_traceback_of_a_damaged_workspace(
    invoke: Invoke, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "corrupt.db"
    path.write_bytes(b"this is not a database" * 100)
    monkeypatch.setenv("SUBCTL_DEBUG", "1")
    result = invoke(["--workspace", str(path), "list"])
    assert result.exit_code == 6
    assert "Traceback" in result.stderr
    assert f"Error: workspace {path} is damaged: file is not a database" in result.stderr


def test_debug_shows_the_traceback_of_an_unusable_path(
    invoke: Invoke, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    a_file = tmp_path / "a-file"
    a_file.write_text("")
    target = a_file / "workspace.db"
    plain = invoke(["--workspace", str(target), "init"])
    assert plain.exit_code == 6
    assert plain.stderr == (
        f"Error: cannot open workspace {target}: File exists ({a_file})\n"
        "Hint: check the path and its permissions, or choose another with --workspace\n"
    )
    monkeypatch.setenv("SUBCTL_DEBUG", "1")
    debug = invoke(["--workspace", str(target), "init"])
    assert (
        debug.exit_code == 6 and "Traceback" in debug.stderr and "FileExistsError" in debug.stderr
    )


def test_database_error_outside_the_store_mapping_is_unavailable(
    seeded: Invoke, subctl_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from subctl.services import workspace as svc
    from subctl.store.sql.records import SqlRecordStore

    def statement_on_the_engine(store: SqlRecordStore, *_: object, **__: object) -> None:
        with store.db.engine.connect() as conn:  # as demo's index rebuild does
            conn.exec_driver_sql("SELECT * FROM no_such_table")

    monkeypatch.setattr(svc, "fill_demo", statement_on_the_engine)
    result = seeded("demo --count 5 --yes")
    assert result.exit_code == 6
    path = subctl_home / "workspace.db"
    assert result.stderr.splitlines()[-2:] == [
        f"Error: workspace {path} is damaged: no such table: no_such_table",
        f"Hint: restore it from a backup, salvage it with `sqlite3 {path} .recover`, "
        "or start a new one with `subctl --workspace NEW.db init`",
    ]


@pytest.mark.parametrize(
    ("argv", "first"),
    [
        (["list", "--limit", "abc"], "Error: Invalid value for '--limit' / '-n': "),
        (["view"], "Error: Missing argument 'ID'."),
        (["list", "--no-such-flag"], "Error: No such option: --no-such-flag"),
    ],
)
def test_framework_usage_errors_read_like_every_error(
    invoke: Invoke, argv: list[str], first: str
) -> None:
    """One ``Error:`` line and a hint naming the help; no usage block before it."""
    result = invoke(argv)
    assert result.exit_code == 2
    lines = result.stderr.splitlines()
    assert len(lines) == 2 and lines[0].startswith(first), result.stderr
    assert lines[1] == f"Hint: see `subctl {argv[0]} --help`"


def test_a_postgresql_user_without_grants_is_refused_with_exit_4(
    invoke: Invoke, pg_url: str
) -> None:
    import psycopg

    assert invoke(["--workspace", pg_url, "init"]).exit_code == 0
    role = "reader_" + pg_url.rsplit("_", 1)[-1]
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute(f"DROP ROLE IF EXISTS {role}")
        conn.execute(f"CREATE ROLE {role} LOGIN PASSWORD 'Hunter2secret'")
    scheme, rest = pg_url.split("://", 1)
    url = f"{scheme}://{role}:Hunter2secret@{rest.split('@', 1)[1]}"
    try:
        result = invoke(["--workspace", url, "list"])
        assert (result.exit_code, result.stdout) == (4, ""), result.stderr
        assert result.stderr.startswith(f"Error: workspace {scheme}://{role}:***@"), result.stderr
        assert "access denied: permission denied for table" in result.stderr
        assert "Hunter2secret" not in result.stderr
    finally:
        with psycopg.connect(pg_url, autocommit=True) as conn:
            conn.execute(f"DROP OWNED BY {role}")
            conn.execute(f"DROP ROLE {role}")


def test_a_driver_message_never_shows_the_password(invoke: Invoke) -> None:
    """An unencoded @ splits the password: libpq names the rest as a host."""
    result = invoke(["--workspace", "postgresql://alice:wr@ngPW1@127.0.0.1:1/db", "list"])
    assert result.exit_code == 6
    assert "ngPW1" not in result.stderr and "wr@" not in result.stderr, result.stderr


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="/dev/full is Linux's")
@pytest.mark.parametrize(
    "args", ["list --all --format csv", "list --all", "export --all -o -", "view 1", "--help"]
)
def test_a_full_stdout_is_a_disk_full_error(big_home: Path, args: str) -> None:
    """``> /dev/full``: one line and exit 6 (a full disk), like a full disk under a file."""
    env = {**os.environ, "SUBCTL_HOME": str(big_home)}
    with open("/dev/full", "w") as full:
        proc = subprocess.run(
            [sys.executable, "-m", "subctl", *args.split()],
            env=env, stdout=full, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
    assert (proc.returncode, proc.stderr) == (
        6,
        "Error: disk full: cannot write the output\n"
        "Hint: free some space, or send the output to another disk\n",
    )
