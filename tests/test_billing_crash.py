"""Issue #12, "Done when" (third line): a SIGKILL in the middle of a billing run on 100,000
subscriptions, then a rerun, leaves exactly what an uninterrupted run leaves: the same
subscriptions, payments, billing events, e-mails and history, row for row (ids included: a
transaction holds whole days, so a killed one leaves nothing behind, not even a used id).

Two copies of one demo workspace run the same billing up to 30 days after the demo's day, side
by side: one uninterrupted, one killed (SIGKILL) once its first days are committed and then run
again to the same time, as ``jobs resume`` does (the journaled run, continued)."""

from __future__ import annotations

import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from tests.conftest import NOW

COUNT = 100_000
DAYS = 30
# The billing run, as a user starts it (``clock advance``: the clock moves, then billing runs up
# to it, journaled) and continues it after a crash (``jobs resume``).
ADVANCE = ("clock", "advance", f"{DAYS}d", "--format", "json")
RESUME = ("jobs", "resume", "1", "--yes", "--format", "json")
# (and billing's rows of audit, compared apart: their verb and time are each command's)
COMPARED = ("subscriptions", "payments", "billing_events", "outbox", "property_history",
            "associations", "jobs")  # fmt: skip


def _run(home: Path, env: dict[str, str], args: tuple[str, ...]) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "subctl", *args],
        env={**env, "SUBCTL_HOME": str(home)},
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip


def _count(db: Path, sql: str) -> int:
    try:
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=0.2) as conn:
            (n,) = conn.execute(sql).fetchone()
        conn.close()
        return int(n)
    except sqlite3.OperationalError:  # not there yet, or locked for a moment
        return 0


def _rows(db: Path, table: str) -> list[tuple[Any, ...]]:
    with sqlite3.connect(db) as conn:
        rows = conn.execute(f"SELECT * FROM {table} ORDER BY 1").fetchall()
    conn.close()
    return rows


def test_sigkill_during_a_billing_run_then_a_rerun_leaves_the_uninterrupted_result(
    tmp_path: Path,
) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SUBCTL_")}
    env.update(SUBCTL_NOW=NOW, NO_COLOR="1")
    whole, killed = tmp_path / "whole", tmp_path / "killed"
    made = subprocess.run(
        [sys.executable, "-m", "subctl", "demo", "--count", str(COUNT), "--seed", "3"],
        env={**env, "SUBCTL_HOME": str(whole)}, capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert made.returncode == 0, made.stderr
    # A commit every half second (whole days each): the kill finds several days committed.
    setting = subprocess.run(
        [sys.executable, "-m", "subctl", "billing", "set", "billing.commit_seconds", "0.5"],
        env={**env, "SUBCTL_HOME": str(whole)}, capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert setting.returncode == 0, setting.stderr
    shutil.copytree(whole, killed)

    uninterrupted = _run(whole, env, ADVANCE)
    victim = _run(killed, env, ADVANCE)
    db = killed / "workspace.db"
    deadline = time.monotonic() + 120
    # Killed once a few days are committed (whole days at a time: a day's events appear at once).
    days = "SELECT count(DISTINCT at) FROM billing_events"
    while victim.poll() is None and _count(db, days) < 3 and time.monotonic() < deadline:
        time.sleep(0.01)
    victim.send_signal(signal.SIGKILL)
    victim.communicate(timeout=60)
    assert victim.returncode == -signal.SIGKILL, "the run ended before it could be killed"
    committed = _count(db, "SELECT count(*) FROM billing_events")
    assert committed > 0
    assert _count(db, "SELECT count(*) FROM jobs WHERE status = 'unfinished'") == 1

    rerun = _run(killed, env, RESUME)
    out, err = rerun.communicate(timeout=600)
    assert rerun.returncode == 0, err
    whole_out, whole_err = uninterrupted.communicate(timeout=600)
    assert uninterrupted.returncode == 0, whole_err
    whole_run, resumed = json.loads(whole_out), json.loads(out)
    events = sum(e["count"] for e in whole_run["events"])
    assert resumed["job"] == whole_run["job"] == 1  # the rerun continued the killed run's job
    assert sum(e["count"] for e in resumed["events"]) == events - committed > 0

    for table in COMPARED:
        expected, got = _rows(whole / "workspace.db", table), _rows(db, table)
        assert len(got) == len(expected), table
        assert got == expected, f"{table} differs after the rerun"
    # billing's audit: one row per day, which the day's events name (billing_events.audit_id,
    # compared above); the verb and time are the command's (clock advance, jobs resume)
    days = ("(SELECT id, subscription_id, target, job_id, before, after FROM audit"
            " WHERE target = 'billing')")  # fmt: skip
    assert _rows(db, days) == _rows(whole / "workspace.db", days) != []
    assert _count(db, "SELECT count(*) FROM billing_events") == events
