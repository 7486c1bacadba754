"""Lifecycle batches never do more, or other, than the user confirmed: ``delete --backup`` on a
resumed job, abandoned jobs, a payment of two subscriptions refunded once, scheduled
cancellations kept, highly sensitive values hidden, ids beyond 64 bits refused (seeded: 1
active due 2026-12-01, 2 unpaid with a pending ACH payment, 3 unpaid without contact, 4
canceled, 5 scheduled; today 2026-11-26)."""

from __future__ import annotations

import csv
import datetime as dt
import errno
import io
import json
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from tests.conftest import Invoke, Terminal, WorkspaceCase, checksum, connect, wait_until_journaled
from tests.test_cli_lifecycle import add_payment, rows, view
from tests.test_jobs import _interrupt_after

pytestmark = pytest.mark.backends("sqlite", "postgresql")

ACTIVE, UNPAID, UNPAID_NO_CONTACT, CANCELED = 1, 2, 3, 4
SHARED_PAYMENT = 950
NOW = dt.datetime(2026, 11, 26, 12, tzinfo=dt.UTC)


@pytest.fixture
def db(ws: WorkspaceCase) -> Iterator[sa.Connection]:
    with connect(ws) as conn:
        yield conn


def _job(invoke: Invoke, job_id: int) -> dict[str, Any]:
    jobs: list[dict[str, Any]] = json.loads(invoke("jobs --format json").stdout)
    return next(j for j in jobs if j["id"] == job_id)


# -- delete --backup when an unfinished job is resumed ----------------------------------------


def test_delete_backup_is_written_when_an_unfinished_job_is_resumed(
    demo: Invoke, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SUBCTL_BATCH_CHUNK", "5")
    with pytest.MonkeyPatch.context() as patch:
        _interrupt_after(patch, 2)  # the first chunk (5 deleted) is written, then Ctrl-C
        assert demo("delete --where 'status = expired' --yes").exit_code == 130
    job = _job(demo, 1)
    assert job["ok"] == 5 and job["unprocessed"] > 0
    backup = tmp_path / "expired.csv"
    result = demo(f"delete --where 'status = expired' --backup {backup} --yes --format json")
    assert result.exit_code == 0, result.stderr
    assert "Resuming unfinished job 1" in result.stderr
    deleted = {row["id"] for row in rows(result.stdout) if row["outcome"] == "ok"}
    assert len(deleted) == job["unprocessed"]
    assert backup.exists(), "deleted without the requested backup"
    backed_up = {int(r["hs_object_id"]) for r in csv.DictReader(io.StringIO(backup.read_text()))}
    assert backed_up == deleted  # exactly the rows this run deleted
    assert f"Backup of {len(deleted)} subscriptions written to {backup}" in result.stderr
    assert result.stderr.index("Backup of") < result.stderr.index("Job 1 resumed")


# -- resuming on a terminal still asks the destructive question ---------------------------------


def test_resuming_a_destructive_batch_on_a_tty_asks_its_confirmation(
    demo: Invoke, ws: WorkspaceCase, monkeypatch: pytest.MonkeyPatch, terminal: Terminal
) -> None:
    monkeypatch.setenv("SUBCTL_BATCH_CHUNK", "5")
    with pytest.MonkeyPatch.context() as patch:
        _interrupt_after(patch, 2)
        assert demo("cancel --where 'status = unpaid' --yes").exit_code == 130
    left = _job(demo, 1)["unprocessed"]
    before = checksum(ws)
    fake = terminal(True, False)  # resume it: yes; the checkbox: no
    declined = demo("cancel --where 'status = unpaid' --format json")
    assert declined.exit_code == 130
    assert declined.stderr.endswith("\nAborted; nothing was changed.\n")
    assert fake.questions[0].startswith("Job 1 with the same arguments is unfinished (")
    assert fake.questions[1:] == ["I understand the customer will not be charged again"]
    assert checksum(ws) == before
    fake = terminal(True, True)
    result = demo("cancel --where 'status = unpaid' --format json")
    assert result.exit_code == 0, result.stderr
    assert fake.questions[1:] == ["I understand the customer will not be charged again"]
    assert len(rows(result.stdout)) == left and _job(demo, 1)["status"] == "done"


# -- jobs resume of an abandoned or finished job ------------------------------------------------


def test_an_abandoned_job_is_not_resumed(
    demo: Invoke, db: sa.Connection, monkeypatch: pytest.MonkeyPatch, terminal: Terminal
) -> None:
    monkeypatch.setenv("SUBCTL_BATCH_CHUNK", "5")
    command = "send-update-link --where 'status = unpaid'"
    with pytest.MonkeyPatch.context() as patch:
        _interrupt_after(patch, 2)
        assert demo(f"{command} --yes").exit_code == 130
    terminal(False, True)  # do not resume it; send the batch (job 2)
    demo(f"{command} --format json")
    terminal.prompter = None
    assert _job(demo, 1)["status"] == "abandoned" and _job(demo, 1)["unprocessed"] > 0
    (mails,) = db.exec_driver_sql("SELECT count(*) FROM outbox").fetchone()
    result = demo("jobs resume 1 --yes --format json")
    assert result.exit_code == 5
    assert "Error: job 1 was abandoned" in result.stderr and "cannot be resumed" in result.stderr
    assert db.exec_driver_sql("SELECT count(*) FROM outbox").fetchone() == (mails,)  # no mail twice
    assert _job(demo, 1)["status"] == "abandoned"


def test_a_finished_job_is_not_resumed(seeded: Invoke) -> None:
    assert seeded(f"pause {ACTIVE} --yes").exit_code == 0
    result = seeded("jobs resume 1 --yes")
    assert (result.exit_code, result.stderr) == (
        5,
        "Error: job 1 is done; nothing left to resume\n",
    )


# -- a payment associated with two subscriptions is refunded once --------------------------


def _share_payment(db: sa.Connection) -> None:
    add_payment(db, ACTIVE, SHARED_PAYMENT, 99.0, "succeeded")
    db.execute(
        sa.text("INSERT INTO associations VALUES (:sid, 'payment', :pid, 393)"),
        {"sid": UNPAID_NO_CONTACT, "pid": SHARED_PAYMENT},
    )
    db.commit()


def _refunds(db: sa.Connection) -> list[tuple[int, float]]:
    found = db.exec_driver_sql(
        "SELECT refunds_payment_id, amount FROM payments WHERE kind = 'refund'"
    ).all()
    db.rollback()  # end the read: the next one sees later commits
    return [(pid, amount) for pid, amount in found]


@pytest.mark.parametrize("chunk", ["5000", "1"], ids=["one-chunk", "chunk-by-chunk"])
def test_a_payment_of_two_subscriptions_is_refunded_once(
    seeded: Invoke, db: sa.Connection, monkeypatch: pytest.MonkeyPatch, chunk: str
) -> None:
    monkeypatch.setenv("SUBCTL_BATCH_CHUNK", chunk)
    _share_payment(db)
    args = f"cancel {ACTIVE} {UNPAID_NO_CONTACT} --refund unused --format json"
    dry = rows(seeded(f"{args} --dry-run").stdout)
    assert [r.get("refund") for r in dry] == [16.5, None]
    result = seeded(f"{args} --yes")
    assert result.exit_code == 0, result.stderr
    first, second = rows(result.stdout)
    assert (first["id"], first["refund"]) == (ACTIVE, 16.5)
    assert second.get("refund") is None and second["new_status"] == "canceled"
    # Decided with the first item (one chunk) or after its refund was written (a chunk each):
    # either way the second item says why it gets none.
    assert f"no refund: payment {SHARED_PAYMENT} " in second["note"]
    if chunk == "5000":  # one snapshot for both
        assert f"payment {SHARED_PAYMENT} is refunded with subscription 1" in second["note"]
    assert _refunds(db) == [(SHARED_PAYMENT, 16.5)]


def test_the_store_refuses_to_refund_a_payment_twice(
    seeded: Invoke, db: sa.Connection, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Decided from a stale read (the payment refunded by another run after it was read): the
    write re-checks, and the item fails with the reason; nothing is refunded twice."""
    from subctl.store.sql.records import SqlRecordStore

    _share_payment(db)
    assert seeded(f"cancel {ACTIVE} --refund unused --yes").exit_code == 0
    real = SqlRecordStore.payments_of

    def stale(self: SqlRecordStore, *args: Any, **kwargs: Any) -> dict[int, list[Any]]:
        found = real(self, *args, **kwargs)
        return {
            sid: [replace(p, status="succeeded") for p in payments if p.kind == "payment"]
            for sid, payments in found.items()
        }

    monkeypatch.setattr(SqlRecordStore, "payments_of", stale)
    result = seeded(f"cancel {UNPAID_NO_CONTACT} --refund unused --yes --format json")
    assert result.exit_code == 5
    assert f"Error: payment {SHARED_PAYMENT} was already refunded" in result.stderr
    assert _refunds(db) == [(SHARED_PAYMENT, 16.5)]
    assert view(seeded, UNPAID_NO_CONTACT)["properties"]["hs_status"] == "unpaid"


def test_apply_refuses_a_refund_of_a_refunded_payment(
    seeded: Invoke, ws: WorkspaceCase, db: sa.Connection
) -> None:
    from subctl.errors import Conflict
    from subctl.store import ops
    from subctl.store.base import Refund
    from subctl.store.sql import open_local

    _share_payment(db)

    def refunding(sid: int) -> ops.Refund:
        refund = Refund(SHARED_PAYMENT, Decimal("1.00"), "USD", "card", "partially_refunded", NOW)
        status = {ACTIVE: "active", UNPAID_NO_CONTACT: "unpaid"}[sid]
        return ops.Refund(subscription_id=sid, expect_status=status, at=NOW, source="test",
                          refunds=(refund,))  # fmt: skip

    backend = open_local(ws.url)
    store = backend.records
    try:
        with pytest.raises(Conflict, match=f"payment {SHARED_PAYMENT} was already refunded"):
            store.execute([refunding(ACTIVE), refunding(UNPAID_NO_CONTACT)])  # twice in one call
        assert _refunds(db) == []
        store.execute([refunding(ACTIVE)])
        with pytest.raises(Conflict, match=f"payment {SHARED_PAYMENT} was already refunded"):
            store.execute([refunding(UNPAID_NO_CONTACT)])
        assert _refunds(db) == [(SHARED_PAYMENT, 1.0)]
    finally:
        backend.close()


# -- a scheduled cancellation cannot be undone ----------------------------------------------


def test_a_scheduled_cancellation_is_never_undone(seeded: Invoke) -> None:
    assert seeded(f"cancel {ACTIVE} --at-period-end --yes").exit_code == 0
    for args in ("update 1 --set next_payment_due_date=2027-01-15", "pause 1"):
        result = seeded(f"{args} --yes")
        assert result.exit_code == 5, args
        assert "the subscription is scheduled to cancel on 2026-12-01" in result.stderr
    props = view(seeded, ACTIVE)["properties"]
    assert (props["hs_status"], props["hs_next_payment_due_date"]) == ("active", None)
    assert props["hs_scheduled_cancellation_date"] == "2026-12-01"
    assert seeded(f"cancel {ACTIVE} --yes").exit_code == 0  # immediately: still possible


# -- highly sensitive values ------------------------------------------------------------------


def _tax_id(invoke: Invoke) -> None:
    for args in (
        "property settings --tier enterprise",
        "property create --name tax_id --label 'Tax ID' --type string --field-type text "
        "--sensitivity highly_sensitive",
    ):
        assert invoke(args).exit_code == 0


def test_confirmation_preview_and_progress_mask_highly_sensitive_values(
    seeded: Invoke, monkeypatch: pytest.MonkeyPatch, terminal: Terminal
) -> None:
    from subctl.output import Output

    _tax_id(seeded)
    described: list[str] = []

    @contextmanager
    def progress(self: Output, description: str, total: int | None) -> Iterator[Any]:
        described.append(description)
        yield lambda n=1: None

    monkeypatch.setattr(Output, "progress", progress)
    terminal(True)
    result = seeded("update 1 5 --set tax_id=DK12345678 --format json")
    assert result.exit_code == 0, result.stderr
    assert "DK12345678" not in result.stdout + result.stderr + "".join(described)
    assert "update --set tax_id=******: 2 subscriptions selected" in result.stderr
    assert "update --set tax_id=******" in described


def test_jobs_hide_a_where_that_mentions_a_highly_sensitive_property(seeded: Invoke) -> None:
    _tax_id(seeded)
    assert seeded("update 1 --set tax_id=DK12345678 --yes").exit_code == 0
    # filtering on its values needs the permission; the job listing hides them all the same
    assert seeded("property settings --grant sensitive_data.view").exit_code == 0
    # (only subscription 1 can be paused: the plain --where pauses it, the sensitive one skips it)
    assert seeded("pause --where 'status = active' --yes").exit_code == 0
    assert seeded("""pause --where 'tax_id = "DK12345678"' --yes""").exit_code == 0
    hidden = "--where (hidden: mentions a highly sensitive property)"
    listing = seeded("jobs --format json").stdout
    assert "DK12345678" not in listing
    by_id = {j["id"]: j["selection"] for j in json.loads(listing)}
    assert by_id[2] == "--where 'status = active'"
    assert by_id[3] == hidden
    assert seeded("property delete tax_id --yes").exit_code == 0
    listing = seeded("jobs --format json").stdout  # no longer parses: hidden all the same
    newest = json.loads(listing)[0]  # job 3, the sensitive one
    assert "DK12345678" not in listing and newest["selection"] == hidden


# -- ids beyond SQLite's 64-bit integers ----------------------------------------------------

TOO_BIG = 2**63


@pytest.mark.parametrize(
    "args",
    [f"view {TOO_BIG}", f"cancel {TOO_BIG} --yes", f"pause 1 {TOO_BIG} --yes --dry-run",
     f"delete {TOO_BIG} --yes", "cancel 0 --yes", f"jobs results {TOO_BIG}",
     f"jobs resume {TOO_BIG} --yes"],
)  # fmt: skip
def test_ids_beyond_64_bits_are_usage_errors(seeded: Invoke, args: str) -> None:
    result = seeded(args)
    assert result.exit_code == 2, result.stderr
    assert "Invalid value for" in result.stderr and "unexpected" not in result.stderr


def test_ids_beyond_64_bits_in_a_file_are_usage_errors(seeded: Invoke, tmp_path: Path) -> None:
    ids = tmp_path / "ids.txt"
    ids.write_text(f"1\n{TOO_BIG}\n")
    result = seeded(f"cancel --from-file {ids} --yes")
    assert result.exit_code == 2
    assert f'Error: {ids}:2: "{TOO_BIG}" is not a subscription id' in result.stderr


@pytest.mark.parametrize(
    "args",
    [f"view {TOO_BIG - 1}", f"cancel {TOO_BIG - 1} --yes", f"jobs results {TOO_BIG - 1}"],
)
def test_the_largest_id_is_merely_not_found(seeded: Invoke, args: str) -> None:
    assert seeded(args).exit_code == 3


# -- previews read as previews; declining changes nothing -------------------------------------


def test_previews_say_what_would_happen(seeded: Invoke, db: sa.Connection) -> None:
    add_payment(db, ACTIVE, 950, 99.0, "succeeded")
    result = seeded(f"cancel {ACTIVE} --refund unused --dry-run --format json")
    assert result.exit_code == 0, result.stderr
    (row,) = rows(result.stdout)
    assert row["note"].startswith("would cancel; would refund 16.50 USD for 5 of 30 unused days")
    (deleted,) = rows(seeded(f"delete {CANCELED} --dry-run --format json").stdout)
    assert deleted["note"] == "would delete permanently"
    done = rows(seeded(f"cancel {ACTIVE} --refund unused --yes --format json").stdout)
    assert done[0]["note"].startswith("canceled; refund 16.50 USD")


def test_declining_a_batch_says_nothing_was_changed(
    seeded: Invoke, ws: WorkspaceCase, terminal: Terminal
) -> None:
    before = checksum(ws)
    terminal(False)
    result = seeded(f"pause {ACTIVE} {UNPAID}")
    assert (result.exit_code, result.stdout) == (130, "")
    assert result.stderr.endswith("\nAborted; nothing was changed.\n")
    assert checksum(ws) == before


# -- delete --backup: the file, and never a deletion outside it ----------------------------


@pytest.mark.parametrize(
    ("name", "message"),
    [(".", "is a directory"), ("gone.xls", 'unsupported file type ".xls"'),
     ("gone", 'unsupported file type "gone"'), ("nowhere/gone.csv", "does not exist")],
)  # fmt: skip
def test_backup_to_a_directory_or_an_unsupported_file_is_a_usage_error(
    seeded: Invoke, ws: WorkspaceCase, tmp_path: Path, name: str, message: str
) -> None:
    before = checksum(ws)
    result = seeded(f"delete {CANCELED} --backup {tmp_path / name} --yes")
    assert result.exit_code == 2
    assert message in result.stderr.splitlines()[0]
    if "unsupported" in message:
        assert "Hint: supported: .csv, .ndjson, .json, .xlsx" in result.stderr
    assert checksum(ws) == before


def test_a_backup_that_cannot_be_created_journals_nothing(
    seeded: Invoke, ws: WorkspaceCase, tmp_path: Path
) -> None:
    """A dangling link where the backup should go: refused before the job exists, so no later
    ``jobs resume`` can delete without a backup."""
    link = tmp_path / "gone.csv"
    link.symlink_to(tmp_path / "missing-dir" / "x.csv")
    before = checksum(ws)
    result = seeded(f"delete {CANCELED} --backup {link} --yes")
    assert result.exit_code == 2, result.stderr
    assert result.stderr.startswith(f"Error: cannot write {tmp_path / 'missing-dir'}")
    assert checksum(ws) == before
    assert seeded("jobs --format json").stdout == "[]\n"


def _ids_of(paths: list[Path]) -> set[int]:
    ids: set[int] = set()
    for path in paths:
        if not path.exists():
            continue
        for row in csv.DictReader(io.StringIO(path.read_text())):
            if row.get("hs_object_id", "").isdigit():  # the killed run's last row may be cut
                ids.add(int(row["hs_object_id"]))
    return ids


def test_no_subscription_is_deleted_outside_a_backup(tmp_path: Path, ws: WorkspaceCase) -> None:
    """kill -9 in the middle of ``delete --backup``, then a subscription of the job that was
    not deletable is canceled (by another command), then the job is resumed."""
    import os
    import signal
    import subprocess
    import sys

    from tests.conftest import NOW as NOW_TEXT
    from tests.test_jobs import _subctl

    home = tmp_path / "subctl-home"  # the workspace's home (SQLite: its file is in it)
    env = {**os.environ, "SUBCTL_HOME": str(home), "SUBCTL_NOW": NOW_TEXT, "NO_COLOR": "1",
           "SUBCTL_BATCH_CHUNK": "50"}  # fmt: skip
    env.pop("SUBCTL_WORKSPACE", None)
    if ws.target is not None:
        env["SUBCTL_WORKSPACE"] = ws.target
    assert _subctl(env, "demo", "--count", "6000", "--seed", "5").returncode == 0
    with connect(ws) as conn:
        every = [sid for (sid,) in conn.exec_driver_sql("SELECT hs_object_id FROM subscriptions")]
    ids = tmp_path / "ids.txt"
    ids.write_text("".join(f"{sid}\n" for sid in every))
    backup = tmp_path / "gone.csv"
    proc = subprocess.Popen(
        [sys.executable, "-m", "subctl", "delete", "--from-file", str(ids), "--backup",
         str(backup), "--yes", "--format", "json"],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        wait_until_journaled(ws, proc, 300)
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL, "the batch finished before it could be killed"
    with connect(ws) as conn:
        (late,) = conn.exec_driver_sql(
            "SELECT s.hs_object_id FROM job_items j JOIN subscriptions s"
            " ON s.hs_object_id = j.subscription_id WHERE j.outcome IS NULL"
            " AND s.hs_status = 'active' ORDER BY j.position DESC LIMIT 1"
        ).fetchone()
    assert _subctl(env, "cancel", str(late), "--yes").returncode == 0  # deletable now
    resumed = _subctl(env, "jobs", "resume", "1", "--yes", "--format", "json")
    assert resumed.returncode == 5, resumed.stderr  # the active ones cannot be deleted
    sibling = tmp_path / "gone-2.csv"
    with connect(ws) as conn:
        left = {sid for (sid,) in conn.exec_driver_sql("SELECT hs_object_id FROM subscriptions")}
    deleted = set(every) - left
    assert late in deleted and len(deleted) > 300
    assert deleted <= _ids_of([backup, sibling])
    assert f"written to {sibling}" in resumed.stderr
    assert {int(r["id"]) for r in json.loads(resumed.stdout) if r["outcome"] == "ok"} <= _ids_of(
        [sibling]
    )


# -- a full disk -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "error",
    [sqlite3.OperationalError("database or disk is full"),
     OSError(errno.ENOSPC, "No space left on device")],
    ids=["sqlite", "enospc"],
)  # fmt: skip
def test_a_full_disk_mid_batch_stops_it_resumably(
    demo: Invoke, subctl_home: Path, monkeypatch: pytest.MonkeyPatch, error: Exception
) -> None:
    from subctl.store.sql.records import SqlRecordStore

    monkeypatch.setenv("SUBCTL_BATCH_CHUNK", "10")
    real = SqlRecordStore.execute
    calls = {"n": 0}

    def execute(self: SqlRecordStore, *args: Any, **kwargs: Any) -> None:
        calls["n"] += 1
        if calls["n"] == 3:
            raise error
        real(self, *args, **kwargs)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(SqlRecordStore, "execute", execute)
        result = demo("pause --where 'status = active and cancel_at is empty' --yes --format json")
    assert result.exit_code == 6, result.stderr
    assert len(json.loads(result.stdout)) == 20  # what was done is reported
    assert "Error: disk full: job 1 stopped after 20 of " in result.stderr
    assert "Hint: free some space, then resume it with `subctl jobs resume 1`" in result.stderr
    assert _job(demo, 1)["ok"] == 20 and _job(demo, 1)["status"] == "unfinished"
    assert not list(subctl_home.rglob("*.tmp"))
    assert demo("jobs resume 1 --yes").exit_code == 0


def test_a_full_disk_under_the_backup_leaves_it_whole_and_counted(
    demo: Invoke, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The disk fills in the middle of a chunk's records: the torn part is cut off, nothing of
    that chunk is deleted, and the file holds exactly the records reported."""
    import os

    from subctl.services import batch

    monkeypatch.setenv("SUBCTL_BATCH_CHUNK", "10")
    real = os.write
    calls = {"n": 0}

    def write(fd: int, data: Any) -> int:
        calls["n"] += 1
        if calls["n"] == 3:  # header, first chunk, then half of the second chunk's records
            return real(fd, bytes(data)[: len(data) // 2])
        if calls["n"] > 3:
            raise OSError(errno.ENOSPC, "No space left on device")
        return real(fd, data)

    backup = tmp_path / "gone.csv"
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(batch.os, "write", write)
        result = demo(f"delete --where 'status = expired' --backup {backup} --yes --format json")
    assert result.exit_code == 6, result.stderr
    assert "Error: disk full: job 1 stopped after 10 of " in result.stderr
    deleted = {row["id"] for row in json.loads(result.stdout) if row["outcome"] == "ok"}
    assert _ids_of([backup]) == deleted and len(deleted) == 10
    assert backup.read_text().endswith("\n")  # no torn record at the end
    assert f"Backup of 10 subscriptions written to {backup}" in result.stderr


def test_a_full_disk_leaves_no_partial_plan(
    seeded: Invoke, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import os

    def fsync(fd: int) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "fsync", fsync)
    plans = tmp_path / "plans"
    plans.mkdir()
    result = seeded(f"pause {ACTIVE} --dry-run --plan-out {plans / 'plan.json'}")
    assert result.exit_code == 6
    assert result.stderr.startswith(f"Error: disk full: cannot write {plans / 'plan.json'}\n")
    assert list(plans.iterdir()) == []


# -- highly sensitive values in plan files -------------------------------------------------


def test_plan_files_hold_no_highly_sensitive_value(seeded: Invoke, tmp_path: Path) -> None:
    _tax_id(seeded)
    plan = tmp_path / "plan.json"
    made = seeded(f"update {ACTIVE} 5 --set tax_id=DK12345678 --dry-run --plan-out {plan}")
    assert made.exit_code == 0, made.stderr
    assert "DK12345678" not in plan.read_text() + made.stdout + made.stderr
    import hashlib

    unkeyed = hashlib.sha256(b"DK12345678").hexdigest()  # what a guesser would compare
    assert unkeyed not in plan.read_text() and "hmac-sha256:" in plan.read_text()
    other = seeded(f"update --set tax_id=DK87654321 --plan {plan} --yes")
    assert other.exit_code == 2 and "reviewed with other options" in other.stderr
    assert "DK87654321" not in other.stderr
    result = seeded(f"update --set tax_id=DK12345678 --plan {plan} --yes --format json")
    assert result.exit_code == 0, result.stderr
    assert [r["outcome"] for r in rows(result.stdout)] == ["ok", "ok"]


def test_a_full_disk_under_stdout_stops_the_batch_resumably(
    demo: Invoke, monkeypatch: pytest.MonkeyPatch
) -> None:
    from subctl.export import jsonfmt

    monkeypatch.setenv("SUBCTL_BATCH_CHUNK", "10")
    real = jsonfmt._encoder

    def encoder(columns: Any) -> Any:
        encode = real(columns)
        written = {"n": 0}

        def full(row: Any) -> str:
            written["n"] += 1
            if written["n"] == 15:
                raise OSError(errno.ENOSPC, "No space left on device")
            return str(encode(row))

        return full

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(jsonfmt, "_encoder", encoder)
        result = demo(
            "pause --where 'status = active and cancel_at is empty' --yes --format ndjson"
        )
    assert result.exit_code == 6, result.stderr
    assert len(result.stdout.splitlines()) == 14
    job = _job(demo, 1)
    assert (job["status"], job["ok"]) == ("unfinished", 20)  # the chunk in flight, then stop
    assert f"Error: disk full: job 1 stopped after 20 of {job['total']} items" in result.stderr


@pytest.mark.parametrize("fmt", ["json", "table"])
def test_a_sample_of_a_highly_sensitive_property_is_masked(seeded: Invoke, fmt: str) -> None:
    assert seeded("property settings --tier enterprise").exit_code == 0
    result = seeded(
        "property create --name tax_id --label 'Tax ID' --type string --field-type text "
        f"--sensitivity highly_sensitive --preview --sample DK12345678 --format {fmt}"
    )
    assert result.exit_code == 0, result.stderr
    assert "DK12345678" not in result.stdout + result.stderr
    assert "******" in result.stdout


def test_a_backup_recorded_for_a_job_does_not_outlive_demo(
    demo: Invoke, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, db: sa.Connection
) -> None:
    old = tmp_path / "old.csv"
    assert demo(f"delete --where 'status = expired' --backup {old} --yes").exit_code == 0
    assert demo("demo --count 300 --seed 1 --yes").exit_code == 0
    assert (
        db.execute(sa.text("SELECT key FROM workspace_settings WHERE key LIKE 'jobs.%'")).fetchall()
        == []
    )
    # The new workspace hands out job 1 again: its resume must not pick up the old backup.
    monkeypatch.setenv("SUBCTL_BATCH_CHUNK", "5")
    with pytest.MonkeyPatch.context() as patch:
        _interrupt_after(patch, 2)
        assert demo("delete --where 'status = expired' --yes").exit_code == 130
    assert _job(demo, 1)["unprocessed"] > 0
    resumed = demo("delete --where 'status = expired' --yes")
    assert resumed.exit_code == 0, resumed.stderr
    assert "Resuming unfinished job 1" in resumed.stderr
    assert "Backup of" not in resumed.stderr
    assert sorted(p.name for p in tmp_path.glob("old*")) == ["old.csv"]


def test_a_backup_of_nothing_leaves_no_file_and_long_names_are_usage_errors(
    seeded: Invoke, tmp_path: Path
) -> None:
    backup = tmp_path / "none.csv"
    result = seeded(f"delete {ACTIVE} --backup {backup} --yes")  # not deletable: nothing deleted
    assert result.exit_code == 5, result.stderr
    assert not backup.exists()
    long = seeded(f"delete {CANCELED} --backup {tmp_path / ('x' * 300 + '.csv')} --yes")
    assert long.exit_code == 2 and "File name too long" in long.stderr, long.stderr
