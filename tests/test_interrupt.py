"""Ctrl-C in the middle of a batch: what was done is reported, then exit 130 with the way on."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import NOW, Invoke, wait_until_journaled


def _demo_home(tmp_path: Path, count: int, **env: str) -> tuple[Path, dict[str, str]]:
    """A demo workspace of ``count`` subscriptions (seed 3), and the environment to reach it."""
    home = tmp_path / "home"
    environ = {**os.environ, "SUBCTL_HOME": str(home), "SUBCTL_NOW": NOW, **env}
    made = subprocess.run(
        [sys.executable, "-m", "subctl", "demo", "--count", str(count), "--seed", "3"],
        env=environ, capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert made.returncode == 0, made.stderr
    return home, environ


def test_ctrl_c_mid_batch_reports_what_was_done(tmp_path: Path) -> None:
    home, env = _demo_home(tmp_path, 8000, SUBCTL_BATCH_CHUNK="100")
    proc = subprocess.Popen(
        [sys.executable, "-m", "subctl", "cancel", "--where", "status = active", "--yes",
         "--format", "ndjson"],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    wait_until_journaled(home, proc, 300)
    proc.send_signal(signal.SIGINT)
    stdout, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 130, stderr
    printed = [json.loads(line) for line in stdout.splitlines()]
    with sqlite3.connect(home / "workspace.db") as conn:
        (journaled,) = conn.execute(
            "SELECT count(*) FROM job_items WHERE outcome IS NOT NULL"
        ).fetchone()
    assert 0 < len(printed) == journaled
    assert {row["outcome"] for row in printed} == {"ok"}
    assert "Error: interrupted: job 1 stopped after" in stderr
    assert "subctl jobs resume 1" in stderr and "Traceback" not in stderr


def test_ctrl_c_between_a_chunks_commit_and_its_report_reports_that_chunk(
    demo: Invoke, subctl_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from subctl.store.sql.records import SqlRecordStore

    monkeypatch.setenv("SUBCTL_BATCH_CHUNK", "10")
    real = SqlRecordStore.execute
    calls = {"n": 0}

    def execute(self: SqlRecordStore, *args: Any, **kwargs: Any) -> None:
        real(self, *args, **kwargs)  # committed
        calls["n"] += 1
        if calls["n"] == 2:
            os.kill(os.getpid(), signal.SIGINT)  # Ctrl-C before the chunk is reported

    monkeypatch.setattr(SqlRecordStore, "execute", execute)
    result = demo("cancel --where 'status = active' --yes --format ndjson")
    assert result.exit_code == 130, result.stderr
    printed = [json.loads(line) for line in result.stdout.splitlines()]
    with sqlite3.connect(subctl_home / "workspace.db") as conn:
        journaled = {
            sid
            for (sid,) in conn.execute(
                "SELECT subscription_id FROM job_items WHERE outcome IS NOT NULL"
            )
        }
    assert [row["id"] for row in printed] == sorted(journaled) and len(journaled) == 20
    assert "Error: interrupted: job 1 stopped after 20 of " in result.stderr


def test_a_killed_batch_has_printed_what_it_did(tmp_path: Path) -> None:
    home, env = _demo_home(tmp_path, 8000, SUBCTL_BATCH_CHUNK="100")
    out = tmp_path / "out.ndjson"
    with out.open("w") as stdout:
        proc = subprocess.Popen(
            [sys.executable, "-m", "subctl", "cancel", "--where", "status = active", "--yes",
             "--format", "ndjson"],
            env=env, stdout=stdout, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        wait_until_journaled(home, proc, 500)
        proc.kill()
        proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL, "the batch finished before it could be killed"
    lines = out.read_text().split("\n")[:-1]  # complete lines (the last may be cut short)
    printed = {json.loads(line)["id"] for line in lines}
    with sqlite3.connect(home / "workspace.db") as conn:
        journaled = {
            sid
            for (sid,) in conn.execute(
                "SELECT subscription_id FROM job_items WHERE outcome IS NOT NULL"
            )
        }
    assert len(printed) >= 300 and printed <= journaled


def test_ctrl_c_mid_associate_file_reports_the_rows_applied(tmp_path: Path) -> None:
    home, env = _demo_home(tmp_path, 2000)
    pairs = tmp_path / "pairs.csv"
    pairs.write_text("subscription,object,id\n" + "".join(f"{i},deal,1\n" for i in range(2, 2001)))

    def added() -> int:
        try:
            with sqlite3.connect(home / "workspace.db") as conn:
                (count,) = conn.execute(
                    "SELECT count(*) FROM associations WHERE object_type = 'deal' AND object_id = 1"
                ).fetchone()
                return int(count) - 1  # deal 1 is subscription 1's
        except sqlite3.OperationalError:
            return 0

    proc = subprocess.Popen(
        [sys.executable, "-m", "subctl", "associate", "--from-file", str(pairs), "-f", "ndjson"],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and proc.poll() is None and added() < 100:
        time.sleep(0.005)
    proc.send_signal(signal.SIGINT)
    stdout, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 130, stderr
    printed = [json.loads(line) for line in stdout.splitlines()]
    done = added()
    assert 100 <= len(printed) == done < 1999, stderr
    assert {row["outcome"] for row in printed} == {"added"}
    last = printed[-1]["line"]
    assert [row["line"] for row in printed] == list(range(2, last + 1))
    assert stderr.splitlines() == [
        f"Error: interrupted after {done} rows ({done} added); the rows after line {last} were "
        "not applied",
        f"Hint: apply the rest: tail -n +{last + 1} {pairs} | subctl associate --from-file -",
    ]
