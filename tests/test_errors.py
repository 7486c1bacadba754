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
    (subctl_home / "workspace.db").write_bytes(b"this is not a database" * 100)
    result = invoke("list")
    assert result.exit_code == 6
    assert result.stderr.startswith("Error: workspace unavailable: ")


def test_broken_pipe_does_not_traceback(seeded: Invoke, subctl_home: Path) -> None:
    env = {**os.environ, "SUBCTL_HOME": str(subctl_home)}
    script = (
        f"{sys.executable} -m subctl list --all --format ndjson | head -c 10 >/dev/null;"
        " echo rc=${PIPESTATUS[0]}"
    )
    # enough rows that the writer is still writing when head exits
    seed = subprocess.run(
        [sys.executable, "-m", "subctl", "demo", "--count", "20000", "--yes"],
        env=env, capture_output=True, text=True, check=True,
    )  # fmt: skip
    assert seed.returncode == 0
    proc = subprocess.run(["bash", "-c", script], env=env, capture_output=True, text=True)
    assert "Traceback" not in proc.stderr and "Exception ignored" not in proc.stderr, proc.stderr
    assert proc.stdout.strip() in ("rc=0", "rc=1")


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
