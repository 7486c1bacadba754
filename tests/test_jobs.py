"""The batch journal: ``subctl jobs``, results, interruption and resumption, exactly once."""

from __future__ import annotations

import csv
import io
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from tests.conftest import NOW, Invoke, Terminal, WorkspaceCase, connect

pytestmark = pytest.mark.backends("sqlite", "postgresql")

CANCELABLE = "status in (active, unpaid, past_due, scheduled, paused)"


def _interrupt_after(monkeypatch: pytest.MonkeyPatch, calls: int) -> None:
    """Ctrl-C during the ``calls``-th write of the record store in a batch."""
    from subctl.store.sql.records import SqlRecordStore

    real = SqlRecordStore.execute
    seen = {"n": 0}

    def execute(self: SqlRecordStore, *args: Any, **kwargs: Any) -> None:
        seen["n"] += 1
        if seen["n"] == calls:
            raise KeyboardInterrupt
        real(self, *args, **kwargs)

    monkeypatch.setattr(SqlRecordStore, "execute", execute)


# Both units of work (``store.base.UnitOfWork``): the local transaction per chunk, and item by
# item (claim, operation, outcome), as a store that cannot share the workspace's transaction.
UNITS = pytest.mark.parametrize("unit", ["sql", "item-by-item"])


def test_jobs_list_and_results(demo: Invoke) -> None:
    assert demo("jobs").stderr == "No jobs yet.\n"
    assert demo("pause 2 5 19 --yes").exit_code == 5  # 19 is scheduled
    listing = json.loads(demo("jobs --format json").stdout)
    assert listing == [
        {"id": 1, "command": "pause", "selection": "3 id(s)", "status": "done", "total": 3,
         "ok": 2, "skipped": 0, "failed": 1, "attention": 0, "unprocessed": 0,
         "created_at": "2026-11-26T12:00:00.000Z"}
    ]  # fmt: skip
    assert json.loads(demo("jobs list --format json").stdout) == listing
    result = demo("jobs results 1 --format csv")
    assert result.exit_code == 0, result.stderr
    items = list(csv.DictReader(io.StringIO(result.stdout)))
    assert [(r["id"], r["planned_status"], r["outcome"], r["new_status"]) for r in items] == [
        ("2", "active", "ok", "paused"), ("5", "active", "ok", "paused"),
        ("19", "scheduled", "failed", "scheduled")]  # fmt: skip
    assert items[2]["note"].startswith("cannot pause: status is scheduled")
    failed = demo("jobs results 1 --outcome failed --format csv").stdout.splitlines()
    assert len(failed) == 2 and failed[1].startswith("19,")
    assert demo("jobs results 1 --outcome nope").exit_code == 2
    assert demo("jobs results 9").exit_code == 3
    nothing = demo("jobs resume 1")  # done: nothing is run again
    assert (nothing.exit_code, nothing.stderr) == (
        5, "Error: job 1 is done; nothing left to resume\n")  # fmt: skip


@UNITS
def test_interrupted_batch_is_resumed_exactly_once(
    demo: Invoke, ws: WorkspaceCase, monkeypatch: pytest.MonkeyPatch, unit: str
) -> None:
    monkeypatch.setenv("SUBCTL_BATCH_CHUNK", "10")
    monkeypatch.setenv("SUBCTL_UNIT_OF_WORK", unit)
    with pytest.MonkeyPatch.context() as patch:
        # the third chunk's write; item by item, its first item's (claimed, not carried out)
        _interrupt_after(patch, 3 if unit == "sql" else 21)
        result = demo(f"cancel --where '{CANCELABLE}' --yes --format json")
    assert result.exit_code == 130
    assert len(json.loads(result.stdout)) == 20  # what was done is reported
    assert "Error: interrupted: job 1 stopped after 20 of " in result.stderr
    assert "items; nothing was done twice" in result.stderr
    assert "Hint: resume it with `subctl jobs resume 1`" in result.stderr
    (job,) = json.loads(demo("jobs --format json").stdout)
    assert (job["status"], job["ok"]) == ("unfinished", 20)
    assert job["unprocessed"] == job["total"] - 20
    unprocessed = demo("jobs results 1 --outcome unprocessed --format csv").stdout.splitlines()
    assert len(unprocessed) == 1 + job["unprocessed"]
    result = demo("jobs resume 1 --format json")
    assert result.exit_code == 2  # cancel needs --yes off a terminal
    result = demo("jobs resume 1 --yes --format json")
    assert result.exit_code == 0, result.stderr
    assert len(json.loads(result.stdout)) == job["unprocessed"]
    assert f"Job 1 resumed: {job['unprocessed']} canceled" in result.stderr
    with connect(ws) as conn:
        counts = conn.exec_driver_sql(
            "SELECT subscription_id, count(*) FROM property_history WHERE property = 'hs_status'"
            " AND new_value = 'canceled' GROUP BY subscription_id"
        ).fetchall()
        assert len(counts) == job["total"] and {n for _, n in counts} == {1}
        left = conn.exec_driver_sql(
            f"SELECT count(*) FROM subscriptions WHERE hs_status IN {_in(CANCELABLE)}"
        ).fetchone()
        assert left == (0,)
    assert json.loads(demo("jobs --format json").stdout)[0]["status"] == "done"


def _in(where: str) -> str:
    values = where.split("(", 1)[1].rstrip(")").split(", ")
    return "(" + ", ".join(f"'{v}'" for v in values) + ")"


def test_same_arguments_resume_the_unfinished_batch(
    demo: Invoke, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SUBCTL_BATCH_CHUNK", "10")
    with pytest.MonkeyPatch.context() as patch:
        _interrupt_after(patch, 2)
        assert demo("pause --where 'status = active and cancel_at is empty' --yes").exit_code == 130
    result = demo("pause --where 'status = active and cancel_at is empty' --yes --format json")
    assert result.exit_code == 0, result.stderr
    assert "Resuming unfinished job 1 with the same arguments" in result.stderr
    assert "Job 1 resumed" in result.stderr
    assert [j["id"] for j in json.loads(demo("jobs --format json").stdout)] == [1]


def test_declining_to_resume_starts_a_new_batch(
    demo: Invoke, monkeypatch: pytest.MonkeyPatch, terminal: Terminal
) -> None:
    monkeypatch.setenv("SUBCTL_BATCH_CHUNK", "10")
    with pytest.MonkeyPatch.context() as patch:
        _interrupt_after(patch, 2)
        assert demo("pause --where 'status = active and cancel_at is empty' --yes").exit_code == 130
    fake = terminal(False, True)
    result = demo("pause --where 'status = active and cancel_at is empty' --format json")
    assert result.exit_code == 0, result.stderr
    assert fake.questions[0].startswith("Job 1 with the same arguments is unfinished (")
    jobs = json.loads(demo("jobs --format json").stdout)
    assert [(j["id"], j["status"]) for j in jobs] == [(2, "done"), (1, "abandoned")]


def test_an_abandoned_job_is_never_resumed_and_the_command_starts_anew(
    demo: Invoke, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SUBCTL_BATCH_CHUNK", "10")
    selection = "pause --where 'status = active and cancel_at is empty' --yes"
    with pytest.MonkeyPatch.context() as patch:
        _interrupt_after(patch, 2)
        assert demo(selection).exit_code == 130
    (job,) = json.loads(demo("jobs --format json").stdout)
    assert job["status"] == "unfinished" and job["unprocessed"] > 0
    off_tty = demo("jobs abandon 1")
    assert (off_tty.exit_code, off_tty.stdout) == (2, "")  # no --yes off a terminal
    done = demo("jobs abandon 1 --yes --format json")
    assert done.exit_code == 0, done.stderr
    assert json.loads(done.stdout) == {
        "id": 1, "status": "abandoned", "unprocessed": job["unprocessed"]
    }  # fmt: skip
    assert done.stderr == f"✔ Job 1 abandoned; {job['unprocessed']:,} items left unprocessed\n"
    again = demo("jobs abandon 1 --yes")
    assert (again.exit_code, again.stderr) == (
        5, "Error: job 1 is abandoned; only an unfinished job is abandoned\n"
    )  # fmt: skip
    assert demo("jobs resume 1 --yes").exit_code == 5
    assert demo("jobs abandon 99 --yes").exit_code == 3
    rerun = demo(selection + " --format json")
    assert rerun.exit_code == 0 and "Resuming" not in rerun.stderr
    jobs = json.loads(demo("jobs --format json").stdout)
    assert [(j["id"], j["status"]) for j in jobs] == [(2, "done"), (1, "abandoned")]


# -- kill -9 in the middle of a 10,000-item cancellation, then resume ------------------------


def _subctl(
    env: dict[str, str], *args: str, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "subctl", *args],
        env=env, capture_output=True, text=True, timeout=timeout, check=False,
    )  # fmt: skip


@UNITS
def test_sigkill_mid_batch_then_resume_cancels_each_exactly_once(
    tmp_path: Path, ws: WorkspaceCase, unit: str
) -> None:
    home = tmp_path / "subctl-home"  # the workspace's home (SQLite: its file is in it)
    env = {**os.environ, "SUBCTL_HOME": str(home), "SUBCTL_NOW": NOW, "NO_COLOR": "1",
           "SUBCTL_BATCH_CHUNK": "100", "SUBCTL_UNIT_OF_WORK": unit}  # fmt: skip
    env.pop("SUBCTL_WORKSPACE", None)
    if ws.target is not None:
        env["SUBCTL_WORKSPACE"] = ws.target
    made = _subctl(env, "demo", "--count", "12900", "--seed", "11")
    assert made.returncode == 0, made.stderr
    with connect(ws) as conn:
        cancelable = [
            row[0]
            for row in conn.exec_driver_sql(
                f"SELECT hs_object_id FROM subscriptions WHERE hs_status IN {_in(CANCELABLE)}"
                " ORDER BY hs_object_id"
            )
        ]
    targets = set(cancelable[:10_000])
    assert len(targets) == 10_000
    ids = tmp_path / "ids.txt"
    ids.write_text("".join(f"{sid}\n" for sid in sorted(targets)))

    proc = subprocess.Popen(
        [sys.executable, "-m", "subctl", "cancel", "--from-file", str(ids), "--yes",
         "--refund", "unused", "--format", "json"],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )  # fmt: skip
    deadline = time.monotonic() + 60
    processed = 0
    try:
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                with connect(ws) as conn:
                    (processed,) = conn.exec_driver_sql(
                        "SELECT count(*) FROM job_items WHERE outcome IS NOT NULL"
                    ).fetchone()
            except sa.exc.DBAPIError:  # the journal is not created yet
                processed = 0
            if processed >= 500:
                break
            time.sleep(0.002)
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL, "the batch finished before it could be killed"

    with connect(ws) as conn:
        (done,), (left,) = (
            conn.exec_driver_sql(
                "SELECT count(*) FROM job_items WHERE outcome IS NOT NULL"
            ).fetchone(),
            conn.exec_driver_sql("SELECT count(*) FROM job_items WHERE outcome IS NULL").fetchone(),
        )
    assert done >= 500 and left > 0, (done, left)

    resumed = _subctl(env, "jobs", "resume", "1", "--yes", "--format", "json")
    results = json.loads(resumed.stdout)
    assert len(results) == left
    # exit 5 when a pending ACH payment left some of them in need of attention
    attention = any(r["outcome"] == "attention" for r in results)
    assert resumed.returncode == (5 if attention else 0), resumed.stderr

    with connect(ws) as conn:
        statuses = dict(
            conn.exec_driver_sql("SELECT hs_object_id, hs_status FROM subscriptions").all()
        )
        assert {statuses[t] for t in targets} == {"canceled"}
        cancels = dict(conn.exec_driver_sql(
            "SELECT subscription_id, count(*) FROM property_history WHERE property = 'hs_status'"
            " AND new_value = 'canceled' GROUP BY subscription_id"
        ).fetchall())  # fmt: skip
        assert set(cancels) == targets and set(cancels.values()) == {1}
        refunds = conn.exec_driver_sql(
            "SELECT a.subscription_id, count(*) FROM payments p JOIN associations a"
            " ON a.object_type = 'payment' AND a.object_id = p.id WHERE p.kind = 'refund'"
            " GROUP BY a.subscription_id"
        ).fetchall()
        refunds = [(sid, n) for sid, n in refunds if sid in targets]  # the demo refunded others
        assert refunds and max(n for _, n in refunds) == 1
        assert {sid for sid, _ in refunds} <= targets
        mails = dict(conn.exec_driver_sql(
            "SELECT subscription_id, count(*) FROM outbox WHERE kind = 'cancellation'"
            " AND job_id IS NOT NULL GROUP BY subscription_id"  # not the demo's own mail
        ).fetchall())  # fmt: skip
        assert set(mails) == targets and set(mails.values()) == {1}
        outcomes = dict(
            conn.exec_driver_sql(
                "SELECT outcome, count(*) FROM job_items GROUP BY outcome"
            ).fetchall()
        )
        assert set(outcomes) <= {"ok", "attention"} and sum(outcomes.values()) == len(targets)
        (status,) = conn.exec_driver_sql("SELECT status FROM jobs WHERE id = 1").fetchone()
        assert status == "done"


def test_an_item_breaking_a_constraint_fails_alone(
    demo: Invoke, monkeypatch: pytest.MonkeyPatch
) -> None:
    from subctl.errors import Conflict
    from subctl.store.sql.records import SqlRecordStore

    real = SqlRecordStore.execute

    def execute(self: SqlRecordStore, ops: Any, **kwargs: Any) -> None:
        if any(op.subscription_id == 5 for op in ops):
            raise Conflict('"order_code" must be unique: "AB" is taken')
        real(self, ops, **kwargs)

    monkeypatch.setattr(SqlRecordStore, "execute", execute)
    result = demo("pause 2 5 6 --yes --format json")  # all three active in the demo data
    assert result.exit_code == 5
    outcomes = {r["id"]: (r["outcome"], r["note"]) for r in json.loads(result.stdout)}
    assert outcomes == {
        2: ("ok", "paused"),
        5: ("failed", '"order_code" must be unique: "AB" is taken'),
        6: ("ok", "paused"),
    }
    assert result.stderr.splitlines()[0] == (
        'Error: 1 of 3 subscriptions failed (subscription 5: "order_code" must be unique: "AB" '
        "is taken); 2 paused, 0 skipped (job 1)"
    )
    job = json.loads(demo("jobs --format json").stdout)[0]
    assert (job["ok"], job["failed"], job["unprocessed"], job["status"]) == (2, 1, 0, "done")


def test_declining_to_resume_and_then_the_new_batch_keeps_the_job_resumable(
    demo: Invoke, monkeypatch: pytest.MonkeyPatch, terminal: Terminal
) -> None:
    monkeypatch.setenv("SUBCTL_BATCH_CHUNK", "10")
    with pytest.MonkeyPatch.context() as patch:
        _interrupt_after(patch, 2)
        assert demo("pause --where 'status = active and cancel_at is empty' --yes").exit_code == 130
    fake = terminal(False, False)  # resume it: no; the new batch: no
    result = demo("pause --where 'status = active and cancel_at is empty' --format json")
    terminal.prompter = None
    jobs = json.loads(demo("jobs --format json").stdout)
    assert [(j["id"], j["status"], j["ok"]) for j in jobs] == [(1, "unfinished", 10)]
    assert (result.exit_code, result.stdout) == (130, "")
    assert result.stderr.endswith("\nAborted; nothing was changed.\n")
    assert len(fake.questions) == 2
    resumed = demo("jobs resume 1 --yes --format json")
    assert resumed.exit_code == 0, resumed.stderr
    assert len(json.loads(resumed.stdout)) == jobs[0]["unprocessed"]


def test_a_large_batch_on_a_terminal_shows_its_first_rows(
    demo: Invoke, monkeypatch: pytest.MonkeyPatch
) -> None:
    from subctl.output import Output

    active = len(
        json.loads(
            demo("list --where 'status = active and cancel_at is empty' --fields id --all").stdout
        )
    )
    assert active > 100
    monkeypatch.setattr(Output, "is_tty", property(lambda self: True))
    result = demo("pause --where 'status = active and cancel_at is empty' --yes")
    assert result.exit_code == 0, result.stderr
    assert f"… and {active - 10:,} more: subctl jobs results 1\n" in result.stderr
    assert result.stdout.count("paused") == 2 * 10  # status and note of the first ten rows
    assert f"Job 1: {active} paused, 0 skipped, 0 failed" in result.stderr


def test_an_interrupted_delete_from_file_is_resumed_by_running_it_again(
    demo: Invoke, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    expired = json.loads(demo("list --where 'status = expired' --fields id --all").stdout)
    ids = tmp_path / "ids.txt"
    ids.write_text("".join(f"{row['hs_object_id']}\n" for row in expired))
    monkeypatch.setenv("SUBCTL_BATCH_CHUNK", "5")
    with pytest.MonkeyPatch.context() as patch:
        _interrupt_after(patch, 2)  # 5 deleted, then Ctrl-C
        assert demo(f"delete --from-file {ids} --yes").exit_code == 130
    again = demo(f"delete --from-file {ids} --yes --format json")
    assert again.exit_code == 0, again.stderr
    assert "Resuming unfinished job 1" in again.stderr
    assert len(json.loads(again.stdout)) == len(expired) - 5
    (job,) = json.loads(demo("jobs --format json").stdout)
    assert (job["status"], job["ok"]) == ("done", len(expired))
    new = demo(f"delete --from-file {ids} --yes")  # no unfinished job: unknown ids are errors
    assert new.exit_code == 3 and "not found" in new.stderr


def test_undecodable_set_values_are_refused_before_a_job_exists(demo: Invoke) -> None:
    result = demo(["update", "3", "--set", "name=caf\udce9", "--yes"])  # a Latin-1 byte in argv
    assert result.exit_code == 2
    assert result.stderr.startswith("Error: --set: not valid UTF-8 text (byte \\xe9)\n")
    where = demo(["pause", "--where", 'name = "caf\udce9"', "--yes"])
    assert where.exit_code == 2
    assert where.stderr.startswith("Error: --where: not valid UTF-8 text (byte \\xe9)\n")
    assert demo("jobs").stderr == "No jobs yet.\n"


def test_a_workspace_lost_mid_batch_says_how_to_resume(
    demo: Invoke, monkeypatch: pytest.MonkeyPatch
) -> None:
    from subctl.errors import StoreUnavailable
    from subctl.store.sql.records import SqlRecordStore

    monkeypatch.setenv("SUBCTL_BATCH_CHUNK", "10")
    real = SqlRecordStore.execute
    seen = {"n": 0}

    def execute(self: SqlRecordStore, *args: Any, **kwargs: Any) -> None:
        seen["n"] += 1
        if seen["n"] == 3:
            raise StoreUnavailable("workspace W unavailable: the connection is lost")
        real(self, *args, **kwargs)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(SqlRecordStore, "execute", execute)
        result = demo(f"cancel --where '{CANCELABLE}' --yes")
    assert result.exit_code == 6, result.stderr
    assert result.stderr.splitlines()[-2:] == [
        "Error: workspace W unavailable: the connection is lost",
        "Hint: resume it with `subctl jobs resume 1`",
    ]
    job = json.loads(demo("jobs --format json").stdout)[0]
    assert job["status"] != "done" and job["unprocessed"] > 0
    resumed = demo("jobs resume 1 --yes")
    assert resumed.exit_code == 0, resumed.stderr


def test_the_job_command_masks_only_highly_sensitive_values_and_quotes_them(demo: Invoke) -> None:
    assert demo("property settings --tier enterprise").exit_code == 0
    created = demo(
        "property create --name subscription_tier --label Tier --type string --field-type text"
    )
    assert created.exit_code == 0, created.stderr
    secret = demo(
        "property create --name card_note --label 'Card note' --type string --field-type text"
        " --sensitivity highly_sensitive"
    )
    assert secret.exit_code == 0, secret.stderr
    result = demo(
        "update 2 --set subscription_tier=gold --set 'hs_payment_method=Visa - 4242'"
        " --set 'card_note=in the safe' --yes"
    )
    assert result.exit_code == 0, result.stderr
    listing = json.loads(demo("jobs --format json").stdout)
    assert listing[0]["command"] == (
        "update --set subscription_tier=gold --set 'hs_payment_method=Visa - 4242'"
        " --set card_note=******"
    )
