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
    from subctl.store.sql import SqlStore

    def boom(*_: object, **__: object) -> None:
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(SqlStore, "detail", boom)
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


@pytest.mark.parametrize("fmt", ["ndjson", "table"])
def test_closed_pipe_ends_quietly_with_0(seeded: Invoke, subctl_home: Path, fmt: str) -> None:
    env = {**os.environ, "SUBCTL_HOME": str(subctl_home)}
    env.pop("COLUMNS")  # Rich's terminal-width table, as a shell pipe gets it
    script = (
        f"{sys.executable} -m subctl list --all --format {fmt} | head -c 10 >/dev/null;"
        " echo rc=${PIPESTATUS[0]}"
    )
    # enough rows that the writer is still writing when head exits
    seed = subprocess.run(
        [sys.executable, "-m", "subctl", "demo", "--count", "20000", "--yes"],
        env=env, capture_output=True, text=True, check=True,
    )  # fmt: skip
    assert seed.returncode == 0
    proc = subprocess.run(["bash", "-c", script], env=env, capture_output=True, text=True)
    assert proc.stderr == ""
    assert proc.stdout.strip() == "rc=0"


def test_postgres_without_its_driver_says_how_to_install_it(invoke: Invoke) -> None:
    pytest.importorskip("sqlalchemy")
    try:
        import psycopg  # noqa: F401
    except ImportError:
        result = invoke(["--workspace", "postgresql://u:secret@localhost/db", "list"])
        assert result.exit_code == 6
        assert "secret" not in result.stderr
        assert "pip install 'subctl[postgres]'" in result.stderr
    else:
        pytest.skip("psycopg is installed")


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
        ('profile = "x"\n', "profile is not a setting (known: active, profiles)"),
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
        "Hint: fix the file, or set values with `subctl config set KEY VALUE`\n"
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
        ("ascii", "json", '"Acme Corp ? Pro monthly"'),
        ("ascii", "table", "Acme Corp ? Pro monthly"),
        ("latin-1", "csv", "Acme Corp ? Pro monthly"),
    ],
)
def test_output_a_terminal_cannot_encode_is_degraded(
    seeded: Invoke, subctl_home: Path, encoding: str, fmt: str, expected: str
) -> None:
    env = {**os.environ, "SUBCTL_HOME": str(subctl_home), "PYTHONIOENCODING": encoding}
    proc = subprocess.run(
        [sys.executable, "-m", "subctl", "list", "--format", fmt, "--fields", "name"],
        env=env, capture_output=True, check=False,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == b""
    assert expected in proc.stdout.decode(encoding)


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
