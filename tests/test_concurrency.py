"""Concurrent operators on one PostgreSQL workspace (issue #15): every change exactly once.

Real processes (``python -m subctl``) on a real server (tests/pg.py), started together:

- two operators cancel overlapping 5,000-item selections (with refunds, so refunds and
  cancellation e-mails are written), one of them walking its ids backwards so that both write
  the overlap at the same time;
- a job interrupted by kill -9 is resumed by two processes at once.

What each must show exactly once: the cancellation (status history), the refund of each
payment, the cancellation e-mail and the audit row of each change.

The oracle is the same work done by one process on an identical workspace (the demo data is
deterministic): the same subscriptions canceled, the same payments refunded, the same e-mails
and history entries, each once. Small chunks (``SUBCTL_BATCH_CHUNK``) make the runs interleave.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from tests import pg
from tests.conftest import NOW, WorkspaceCase, wait_until_journaled

SEED = ("demo", "--count", "12000", "--seed", "3", "--yes")
CANCEL = ("cancel", "--refund", "unused", "--refund-pending", "--yes", "--format", "json")
BUSY = "Error: job 1 is being run by another process right now; nothing was done\n"


def _env(home: Path, url: str) -> dict[str, str]:
    env = {**os.environ, "SUBCTL_HOME": str(home), "SUBCTL_WORKSPACE": url, "SUBCTL_NOW": NOW,
           "NO_COLOR": "1", "SUBCTL_BATCH_CHUNK": "250"}  # fmt: skip
    env.pop("SUBCTL_PROFILE", None)
    return env


def _start(env: dict[str, str], *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "subctl", *args],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip


def _finish(proc: subprocess.Popen[str]) -> tuple[int, str, str]:
    out, err = proc.communicate(timeout=300)
    return proc.returncode, out, err


@contextmanager
def _db(url: str) -> Iterator[Any]:
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        yield conn


def _rows(url: str, sql: str) -> list[tuple[Any, ...]]:
    with _db(url) as conn:
        return [tuple(r) for r in conn.execute(sql).fetchall()]


def _workspace(server: pg.Server, home: Path) -> tuple[str, dict[str, str]]:
    url = server.create_database()
    env = _env(home, url)
    made = subprocess.run([sys.executable, "-m", "subctl", *SEED], env=env,
                          capture_output=True, text=True, check=False, timeout=300)  # fmt: skip
    assert made.returncode == 0, made.stderr
    return url, env


def _effects(url: str) -> dict[str, Counter[tuple[Any, ...]]]:
    """What the batches wrote, as multisets (a duplicate shows as a count of 2)."""
    return {
        "canceled": Counter(_rows(url, "SELECT hs_object_id FROM subscriptions"
                                       " WHERE hs_status = 'canceled'")),  # fmt: skip
        "refunds": Counter(_rows(url, "SELECT refunds_payment_id, amount FROM payments"
                                      " WHERE kind = 'refund' AND refunds_payment_id IS NOT NULL")),
        "mail": Counter(_rows(url, "SELECT subscription_id, kind, recipient FROM outbox"
                                   " WHERE job_id IS NOT NULL")),  # fmt: skip
        "history": Counter(_rows(url, "SELECT subscription_id, property, old_value, new_value"
                                      " FROM property_history")),  # fmt: skip
        # one audit row per change (its verb aside: a resumed item's is "jobs resume"; and the
        # job id: the oracle's job is its own)
        "audit": Counter(_rows(url, "SELECT subscription_id, target, before, after"
                                    " FROM audit")),  # fmt: skip
    }  # fmt: skip


def _assert_once(effects: dict[str, Counter[tuple[Any, ...]]]) -> None:
    for name, counted in effects.items():
        twice = [row for row, n in counted.items() if n > 1]
        assert not twice, f"{name} written more than once: {twice[:3]}"


@pytest.fixture
def server(pg_server: pg.Server) -> pg.Server:
    return pg_server


def _selection(url: str, tmp_path: Path) -> tuple[list[int], Path, Path]:
    """7,500 cancellable subscriptions; A: the first 5,000, B: the last 5,000. Both files
    list the 2,500 they share first, in the same order: both operators start on the same
    chunks at the same moment, decide them on the same data, and race to write them."""
    ids = [sid for (sid,) in _rows(url, "SELECT hs_object_id FROM subscriptions WHERE hs_status"
                                        " IN ('active', 'past_due', 'unpaid')"
                                        " ORDER BY hs_object_id LIMIT 7500")]  # fmt: skip
    assert len(ids) == 7500
    shared = ids[2500:5000]
    first, second = tmp_path / "a.txt", tmp_path / "b.txt"
    first.write_text("".join(f"{i}\n" for i in [*shared, *ids[:2500]]))
    second.write_text("".join(f"{i}\n" for i in [*shared, *reversed(ids[5000:])]))
    return ids, first, second


# With refunds, a chunk that lost the race is also refused by its refunds (a refunded
# payment's status, the unique refund index); without them only the conditional status update
# and the row locks stand between two operators and a second cancellation e-mail.
@pytest.mark.parametrize("refunds", [True, False], ids=["refunds", "no-refunds"])
def test_two_operators_cancel_overlapping_batches_exactly_once(
    server: pg.Server, tmp_path: Path, refunds: bool
) -> None:
    cancel = CANCEL if refunds else ("cancel", "--yes", "--format", "json")
    url, env = _workspace(server, tmp_path / "home-a")
    oracle, oracle_env = _workspace(server, tmp_path / "home-b")
    try:
        ids, first, second = _selection(url, tmp_path)
        every = tmp_path / "all.txt"
        every.write_text("".join(f"{i}\n" for i in ids))
        done = subprocess.run([sys.executable, "-m", "subctl", *cancel, "--from-file",
                               str(every)], env=oracle_env, capture_output=True, text=True,
                              check=False, timeout=300)  # fmt: skip
        assert done.returncode == 0, done.stderr
        before = _effects(url)

        procs = [_start(env, *cancel, "--from-file", str(f)) for f in (first, second)]
        results = [_finish(p) for p in procs]
        for code, _out, err in results:
            assert code == 0, err
        effects, expected = _effects(url), _effects(oracle)
        _assert_once(effects)
        assert effects == expected
        assert len(effects["canceled"] - before["canceled"]) == 7500
        made = len(effects["refunds"] - before["refunds"])
        assert made > 3000 if refunds else made == 0  # refunds were in play, or not at all
        outcomes = Counter(_rows(url, "SELECT outcome FROM job_items"))
        # each subscription canceled by exactly one of the jobs; the other skipped it
        assert outcomes == Counter({("ok",): 7500, ("skipped",): 2500})
        # what each operator was told: every subscription canceled by one of them only
        canceled = [
            [row["id"] for row in json.loads(out) if row["outcome"] == "ok"]
            for _code, out, _err in results
        ]
        assert sorted(canceled[0] + canceled[1]) == sorted(ids)
    finally:
        server.drop_database(url)
        server.drop_database(oracle)


def _interrupted_job(env: dict[str, str], url: str, ids: Path) -> None:
    proc = subprocess.Popen([sys.executable, "-m", "subctl", *CANCEL, "--from-file", str(ids)],
                            env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)  # fmt: skip
    try:
        from subctl.config import workspace_url

        wait_until_journaled(WorkspaceCase("postgresql", workspace_url(url), url), proc, 500)
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.wait(timeout=60)
    assert proc.returncode == -signal.SIGKILL, "the batch finished before it could be killed"


def test_a_job_resumed_by_two_processes_at_once_runs_each_item_once(
    server: pg.Server, tmp_path: Path
) -> None:
    from subctl.store.sql.workspace import LEASE_CLASS

    url, env = _workspace(server, tmp_path / "home-a")
    oracle, oracle_env = _workspace(server, tmp_path / "home-b")
    try:
        _ids, first, _second = _selection(url, tmp_path)
        done = subprocess.run([sys.executable, "-m", "subctl", *CANCEL, "--from-file",
                               str(first)], env=oracle_env, capture_output=True, text=True,
                              check=False, timeout=300)  # fmt: skip
        assert done.returncode == 0, done.stderr
        _interrupted_job(env, url, first)
        (left,) = _rows(url, "SELECT count(*) FROM job_items WHERE outcome IS NULL")[0]
        assert 0 < left < 5000

        # A run holding the job (the lease): another is refused, having changed nothing.
        with _db(url) as holder:
            holder.execute("SELECT pg_advisory_lock(%s, 1)", (LEASE_CLASS,))
            before = _effects(url)
            code, out, err = _finish(_start(env, "jobs", "resume", "1", "--yes", "-f", "json"))
            assert (code, out) == (5, "")
            assert err.startswith(BUSY), err
            assert _effects(url) == before

        procs = [_start(env, "jobs", "resume", "1", "--yes", "-f", "json") for _ in range(2)]
        results = [_finish(p) for p in procs]
        # One runs the job; the other is refused at once (exit 5, nothing done) or, had the
        # first finished before it looked, finds nothing left to resume (exit 5).
        codes = sorted(code for code, _o, _e in results)
        assert codes == [0, 5], results
        refused = next(err for code, _o, err in results if code == 5)
        assert refused.startswith(BUSY) or refused.startswith(
            "Error: job 1 is done; nothing left to resume"
        ), refused
        effects = _effects(url)
        _assert_once(effects)
        assert effects == _effects(oracle)
        assert _rows(url, "SELECT outcome, count(*) FROM job_items GROUP BY outcome") == [
            ("ok", 5000)
        ]
        assert _rows(url, "SELECT status FROM jobs") == [("done",)]
    finally:
        server.drop_database(url)
        server.drop_database(oracle)


@pytest.mark.parametrize("state", ["DeadlockDetected", "SerializationFailure"])
def test_a_lost_race_is_a_conflict_the_batch_decides_again(state: str, tmp_path: Path) -> None:
    """PostgreSQL rolls one transaction back when two wait for each other (or cannot be
    serialised): nothing of it was written, so the chunk is re-read and decided again
    (``Conflict``), not reported as an unavailable workspace (exit 6)."""
    import psycopg
    import sqlalchemy as sa

    from subctl.config import sqlite_url
    from subctl.errors import Conflict
    from subctl.store.sql.database import Database

    db = Database(sqlite_url(tmp_path / "w.db"), create=True)
    try:
        raw = getattr(psycopg.errors, state)("deadlock detected")
        wrapped = sa.exc.OperationalError("UPDATE …", {}, raw)
        for exc in (raw, wrapped):
            mapped = db.database_error(exc)
            assert isinstance(mapped, Conflict)
            assert mapped.message == (
                "another process wrote the same rows at the same time; nothing was written"
            )
            assert mapped.exit_code == 5
    finally:
        db.close()


def test_a_chunk_journaled_meanwhile_is_refused_before_anything_is_written(
    server: pg.Server, tmp_path: Path
) -> None:
    """Two runs of one job past the lease (a second machine whose lease check raced, or a
    workspace shared through a pooler that drops session locks): the later chunk waits for the
    journal rows the earlier one holds, then finds them done and writes nothing (``Conflict``:
    the batch re-reads the chunk)."""
    import datetime as dt
    import threading
    import time

    from subctl.config import workspace_url
    from subctl.errors import Conflict
    from subctl.store.base import ItemOutcome
    from subctl.store.sql import open_local

    url = server.create_database()
    backend = None
    try:
        made = subprocess.run([sys.executable, "-m", "subctl", "init"], env=_env(tmp_path, url),
                              capture_output=True, text=True, check=False)  # fmt: skip
        assert made.returncode == 0, made.stderr
        backend = open_local(workspace_url(url))
        at = dt.datetime(2026, 11, 15, tzinfo=dt.UTC)
        job = backend.workspace.create_job(verb="cancel", action={}, selection={},
                                           fingerprint="f", frozen=False,
                                           items=[(1, "active"), (2, "active")], at=at)  # fmt: skip
        holding, released = threading.Event(), threading.Event()

        def other_run() -> None:
            with _db(url) as conn, conn.transaction():
                conn.execute("UPDATE job_items SET outcome = 'ok' WHERE job_id = %s", (job.id,))
                holding.set()
                time.sleep(0.5)
            released.set()

        thread = threading.Thread(target=other_run)
        thread.start()
        assert holding.wait(10)
        started = time.monotonic()
        outcomes = [ItemOutcome(i, "ok", "canceled", "canceled", at) for i in (1, 2)]
        with pytest.raises(Conflict) as raised:
            backend.records.execute([], job_id=job.id, outcomes=outcomes)
        thread.join()
        assert released.is_set() and time.monotonic() - started > 0.3  # it waited
        assert raised.value.message == (
            "2 of 2 journal items changed while the batch ran; nothing was written"
        )
        assert _rows(url, "SELECT note FROM job_items ORDER BY position") == [(None,), (None,)]
    finally:
        if backend is not None:
            backend.close()
        server.drop_database(url)
