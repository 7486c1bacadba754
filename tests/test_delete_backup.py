"""``delete --backup FILE`` on the export pipeline: csv, ndjson, json and xlsx hold everything
``delete`` destroys (properties, associations, payments); nothing is deleted that is not
already, synced, in a backup: appended per chunk (csv, ndjson) or written whole before the first
chunk (json, xlsx), on a first run and on a resume (seeded: 4 canceled, 1 active)."""

from __future__ import annotations

import csv
import datetime as dt
import json
import os
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from subctl.schema import ASSOCIATION_OBJECTS
from tests.conftest import Invoke, WorkspaceCase, checksum, connect, wait_until_journaled
from tests.test_cli_lifecycle import add_payment
from tests.test_jobs import _interrupt_after

pytestmark = pytest.mark.backends("sqlite", "postgresql")

ACTIVE, CANCELED = 1, 4
FORMATS = ("csv", "ndjson", "json", "xlsx")
# A pair per associated object (the workspace's list grows with its object types).
ASSOCIATION_HEADERS = [
    header
    for obj in ASSOCIATION_OBJECTS
    for header in (f"Associated {obj.label} IDs", f"Associated {obj.label}")
]
PAYMENTS = [
    {"id": 951, "amount": 99.0, "currency": "USD", "status": "refunded", "method": "card",
     "kind": "payment", "created_at": "2026-11-01T09:00:00.000Z", "refunds_payment_id": None},
    {"id": 952, "amount": 10.5, "currency": "USD", "status": "succeeded", "method": "card",
     "kind": "payment", "created_at": "2026-11-01T09:00:00.000Z", "refunds_payment_id": None},
]  # fmt: skip


def _associate(ws: WorkspaceCase) -> None:
    """Subscription 4: contact 17, company 77, two payments."""
    with connect(ws) as db:
        db.execute(
            sa.text(
                "INSERT INTO associations VALUES (4, 'contact', 17, 295), (4, 'company', 77, 297)"
            )
        )
        db.commit()
        add_payment(db, CANCELED, 952, 10.5, "succeeded")
        add_payment(db, CANCELED, 951, 99.0, "refunded")


def records(path: Path) -> list[dict[str, Any]]:
    """A backup's records as dicts: csv/xlsx rows by header, json/ndjson objects."""
    fmt = path.suffix.lstrip(".")
    if fmt == "csv":
        with path.open(newline="") as handle:
            return list(csv.DictReader(handle))
    if fmt == "ndjson":
        return [json.loads(line) for line in path.read_text().splitlines()]
    if fmt == "json":
        data: list[dict[str, Any]] = json.loads(path.read_text())
        return data
    import openpyxl

    sheet = openpyxl.load_workbook(path).active
    header, *rows = [[c.value for c in row] for row in sheet.iter_rows()]
    return [dict(zip(header, row, strict=True)) for row in rows]


def backed_up(paths: list[Path]) -> set[int]:
    ids: set[int] = set()
    for path in paths:
        if path.exists():
            for record in records(path):
                ids.add(int(record["id"] if "id" in record else record["hs_object_id"]))
    return ids


@pytest.mark.parametrize("fmt", FORMATS)
def test_a_backup_holds_properties_associations_and_payments(
    seeded: Invoke, ws: WorkspaceCase, tmp_path: Path, fmt: str
) -> None:
    _associate(ws)
    backup = tmp_path / f"gone.{fmt}"
    result = seeded(f"delete {CANCELED} {ACTIVE} --backup {backup} --yes --format json")
    assert result.exit_code == 5, result.stderr  # 1 is active: not deleted
    assert f"Backup of {1 if fmt in ('csv', 'ndjson') else 2} subscription" in result.stderr
    assert backup.stat().st_mode & 0o777 == 0o600
    assert seeded(f"view {CANCELED}").exit_code == 3
    assert not list(tmp_path.glob(".*.tmp"))
    found = {int(r["id"] if "id" in r else r["hs_object_id"]): r for r in records(backup)}
    # json and xlsx hold the whole selection, written before the first deletion
    assert set(found) == ({4} if fmt in ("csv", "ndjson") else {1, 4})
    record = found[4]
    if fmt in ("json", "ndjson"):
        assert list(record) == ["id", "properties", "associations", "payments"]
        properties = record["properties"]
        assert list(properties)[0] == "hs_object_id"
        assert (properties["hs_status"], properties["hs_name"]) == (
            "canceled",
            '=HYPERLINK("x") Hooli',
        )
        assert properties["hs_recurring_billing_start_date"] == "2025-05-01"
        assert properties["hs_canceled_at"] == "2026-10-01T09:30:00.000Z"
        assert record["associations"] == {
            "contact": [{"id": 17, "label": "Ada Lovelace (ada@example.com)"}],
            "company": [{"id": 77, "label": "Acme Corp"}],
            "payment": [{"id": 951, "label": "99.00 USD refunded (card)"},
                        {"id": 952, "label": "10.50 USD succeeded (card)"}],
        }  # fmt: skip
        assert record["payments"] == PAYMENTS
        return
    headers, pairs = list(record), len(ASSOCIATION_HEADERS)
    assert {"Associated Contact IDs", "Associated Payment IDs"} <= set(ASSOCIATION_HEADERS)
    assert headers[0] == "hs_object_id" and headers[-pairs:] == ASSOCIATION_HEADERS
    assert headers[1:-pairs] == sorted(headers[1:-pairs])
    cells = {h: record[h] for h in ASSOCIATION_HEADERS if record[h] not in ("", None)}
    assert cells == {
        "Associated Contact IDs": "17",
        "Associated Contact": "Ada Lovelace (ada@example.com)",
        "Associated Company IDs": "77",
        "Associated Company": "Acme Corp",
        "Associated Payment IDs": "951;952",
        "Associated Payment": "99.00 USD refunded (card); 10.50 USD succeeded (card)",
    }
    assert record["hs_name"] == '\'=HYPERLINK("x") Hooli'  # spreadsheet-safe
    if fmt == "csv":
        assert (record["hs_object_id"], record["hs_status"], record["hs_mrr"]) == (
            "4", "canceled", "0.00"
        )  # fmt: skip
        return
    assert record["hs_object_id"] == 4 and record["hs_status"] == "canceled"  # a number cell
    assert record["hs_recurring_billing_start_date"] == dt.datetime(2025, 5, 1)  # a date cell
    assert record["hs_canceled_at"] == dt.datetime(2026, 10, 1, 9, 30)  # UTC
    assert record["hs_mrr"] == 0 and found[1]["hs_mrr"] == 99


def test_an_xlsx_backup_has_typed_formatted_cells(
    seeded: Invoke, ws: WorkspaceCase, tmp_path: Path
) -> None:
    import openpyxl

    backup = tmp_path / "gone.xlsx"
    assert seeded(f"delete {CANCELED} --backup {backup} --yes").exit_code == 0
    sheet = openpyxl.load_workbook(backup).active
    header = [c.value for c in sheet[1]]
    formats = {h: (c.data_type, c.number_format) for h, c in zip(header, sheet[2], strict=True)}
    assert formats["hs_object_id"] == ("n", "General")
    assert formats["hs_mrr"] == ("n", "#,##0.00#")
    assert formats["hs_recurring_billing_start_date"] == ("d", "yyyy-mm-dd")
    assert formats["hs_canceled_at"] == ("d", "yyyy-mm-dd hh:mm:ss")
    assert formats["hs_status"] == ("s", "General")
    assert (
        sheet.freeze_panes == "A2"
        and sheet.auto_filter.ref == f"A1:{sheet.cell(1, len(header)).column_letter}2"
    )


@pytest.mark.parametrize("fmt", FORMATS)
def test_import_of_a_backup_restores_the_subscription_with_its_history(
    seeded: Invoke, ws: WorkspaceCase, tmp_path: Path, fmt: str
) -> None:
    """``delete --backup`` then ``import`` of the backup, in every format: the subscription is
    back as it was (properties, associations with their labels, payments, billing events,
    e-mails), and so is its property history, which delete keeps (the import's own entries,
    newest, before it)."""
    assert seeded(f"update {ACTIVE} --set payment_method='Visa - 4242'").exit_code == 0
    assert seeded(f"cancel {ACTIVE} --yes").exit_code == 0
    before = json.loads(seeded(f"view {ACTIVE} -f json").stdout)
    assert {h["source"] for h in before["history"]} == {
        "subctl update (job 1)",
        "subctl cancel (job 2)",
    }
    backup = tmp_path / f"gone.{fmt}"
    assert seeded(f"delete {ACTIVE} --backup {backup} --yes").exit_code == 0
    restored = seeded(["import", str(backup), "-f", "json"])
    assert restored.exit_code == 0, restored.stderr
    assert json.loads(restored.stdout) == [
        {"line": 2 if fmt in ("csv", "xlsx", "json") else 1, "id": ACTIVE, "outcome": "created",
         "status": "canceled", "note": "11 values, 2 associations"}
    ]  # fmt: skip
    after = json.loads(seeded(f"view {ACTIVE} -f json").stdout)
    kept = len(before["history"])
    assert after["history"][-kept:] == before["history"]
    assert {h["source"] for h in after["history"][:-kept]} == {"import"}
    assert {k: v for k, v in after.items() if k != "history"} == {
        k: v for k, v in before.items() if k != "history"
    }


def test_an_ndjson_backup_of_an_older_subctl_with_bare_association_ids_is_read(
    seeded: Invoke, ws: WorkspaceCase, tmp_path: Path
) -> None:
    """A nested backup record whose associations are bare ids (no labels): the associations
    are restored from the ids, the associated records existing."""
    _associate(ws)
    backup = tmp_path / "gone.ndjson"
    assert seeded(f"delete {CANCELED} --backup {backup} --yes").exit_code == 0
    record = json.loads(backup.read_text())
    record["associations"] = {k: [a["id"] for a in v] for k, v in record["associations"].items()}
    backup.write_text(json.dumps(record) + "\n")
    restored = seeded(["import", str(backup), "-f", "json"])
    assert restored.exit_code == 0, restored.stderr
    doc = json.loads(seeded(f"view {CANCELED} -f json").stdout)
    assert {k: [a["id"] for a in v] for k, v in doc["associations"].items()} == {
        "contact": [17], "company": [77], "payment": [951, 952]
    }  # fmt: skip


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            '{"id": 4, "properties": {"hs_name": "a"}}\n{"hs_name": "b"}\n',
            'Error: {path}:2: not a record of the first record\'s layout ("id", "properties",'
            ' "associations", "payments")\n',
        ),
        (
            '{"id": 4, "properties": {"hs_name": "a"}}\n'
            '{"id": 5, "properties": {"hs_name": "b", "hs_bogus": 1}}\n',
            'Error: {path}:2: property "hs_bogus" is not in the first record\'s\n',
        ),
        (
            '{"id": 4, "properties": {"hs_name": "a"}, "associations": {"planet": [1]}}\n',
            'Error: {path}:1: "associations" names no associated object "planet"\n',
        ),
        (
            '{"id": 4, "properties": {"hs_name": "a"}, "associations": {"contact": ["x"]}}\n',
            'Error: {path}:1: associations "contact": "x" is not a record id\n',
        ),
        (
            '{"id": 4, "properties": {"hs_name": "a"}, "associations": {"contact": [null]}}\n',
            'Error: {path}:1: associations "contact": null is not a record id\n',
        ),
        (
            '{"id": 4, "properties": {"hs_object_id": 5, "hs_name": "a"}}\n',
            'Error: {path}:1: "id" and properties.hs_object_id differ\n',
        ),
        (
            '{"id": 4, "properties": {"hs_name": "a"}, "extra": 1}\n',
            'Error: {path}:1: "extra" is not a member of a record ("id", "properties",'
            ' "associations", "payments")\n',
        ),
        (
            '{"id": 4, "properties": null}\n',
            'Error: {path}:1: "properties" is not an object of property values\n',
        ),
        (
            '{"id": "abc", "properties": {"hs_name": "a"}}\n',
            'Error: {path}:1: "id" "abc" is not a record id\n',
        ),
        (
            '{"id": 4, "properties": {"hs_name": {"a": 1}}}\n',
            'Error: {path}:1: property "hs_name" is not a value ({{"a":1}})\n',
        ),
        (
            '{"id": 4, "properties": ' + "[" * 100_000 + "]" * 100_000 + "}\n",
            "Error: {path}:1: not a record (nested too deeply)\n",
        ),
    ],
    ids=[
        "flat-after-nested",
        "new-property",
        "unknown-object",
        "bad-id",
        "null-id",
        "two-ids",
        "extra-member",
        "properties-null",
        "record-id-text",
        "object-value",
        "deep",
    ],  # fmt: skip
)
def test_a_bad_nested_record_is_named_with_its_line(
    seeded: Invoke, tmp_path: Path, text: str, message: str
) -> None:
    path = tmp_path / "bad.ndjson"
    path.write_text(text)
    result = seeded(["import", str(path), "--strict"])
    assert (result.exit_code, result.stdout) == (2, "")
    assert result.stderr == message.format(path=path)


@pytest.mark.parametrize(
    "text",
    [
        '[{"hs_object_id": 4}]\n',
        '[\n  {\n    "hs_object_id": 4\n  }\n]\n',
        '[\n{"hs_object_id": 4}\n',
    ],
    ids=["one-line", "indented", "unclosed"],
)
def test_a_json_array_not_written_a_record_a_line_is_refused_with_a_hint(
    seeded: Invoke, tmp_path: Path, text: str
) -> None:
    path = tmp_path / "other.json"
    path.write_text(text)
    result = seeded(["import", str(path)])
    assert (result.exit_code, result.stdout) == (2, "")
    error, hint = result.stderr.splitlines()
    assert error.startswith(f"Error: {path}") and "JSON" in error
    assert hint == (
        "Hint: import the .ndjson or .csv backup or export instead, or convert:"
        " jq -c '.[]' other.json > records.ndjson"
    )
    assert seeded("jobs list -f json").stdout.strip() == "[]"


@pytest.mark.parametrize("fmt", ["json", "xlsx", "ndjson"])
def test_a_resumed_job_backs_up_what_it_deletes_in_a_sibling(
    demo: Invoke, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fmt: str
) -> None:
    monkeypatch.setenv("SUBCTL_BATCH_CHUNK", "5")
    backup = tmp_path / f"expired.{fmt}"
    command = f"delete --where 'status = expired' --backup {backup} --yes --format json"
    with pytest.MonkeyPatch.context() as patch:
        _interrupt_after(patch, 2)  # the first chunk (5 deleted) is written, then Ctrl-C
        first = demo(command)
    assert first.exit_code == 130, first.stderr
    deleted = {r["id"] for r in json.loads(first.stdout) if r["outcome"] == "ok"}
    assert len(deleted) == 5
    saved = backed_up([backup])
    assert deleted <= saved
    if fmt != "ndjson":  # the whole selection, before the first chunk
        assert len(saved) > 5
    resumed = demo("jobs resume 1 --yes --format json")
    assert resumed.exit_code == 0, resumed.stderr
    sibling = tmp_path / f"expired-2.{fmt}"
    later = {r["id"] for r in json.loads(resumed.stdout) if r["outcome"] == "ok"}
    assert later and later <= backed_up([sibling])
    assert not later & deleted
    if fmt != "ndjson":
        assert backed_up([sibling]) == saved - deleted  # what was left when it resumed
    assert f"written to {sibling}" in resumed.stderr


def test_a_whole_backup_is_refused_before_anything_when_a_value_is_secret(
    seeded: Invoke, ws: WorkspaceCase, tmp_path: Path
) -> None:
    for args in (
        "property settings --tier enterprise",
        "property create --name secret --label Secret --type string --field-type text "
        "--sensitivity highly_sensitive",
    ):
        assert seeded(args).exit_code == 0, args
    with connect(ws) as db:
        db.execute(sa.text("UPDATE subscriptions SET secret = 'hunter2' WHERE hs_object_id = 4"))
        db.commit()
    out = tmp_path / "out"
    out.mkdir()
    backup = out / "gone.json"
    before = checksum(ws)
    refused = seeded(f"delete {CANCELED} --backup {backup} --yes")
    assert refused.exit_code == 4, refused.stderr
    assert "nothing was deleted" in refused.stderr and "hunter2" not in refused.stderr
    assert checksum(ws) == before  # no job either
    assert list(out.iterdir()) == []
    assert seeded("property settings --grant sensitive_data.view").exit_code == 0
    done = seeded(f"delete {CANCELED} --backup {backup} --yes")
    assert done.exit_code == 0, done.stderr
    assert records(backup)[0]["properties"]["secret"] == "hunter2"


@pytest.mark.parametrize("fmt", ["json", "xlsx"])
def test_a_whole_backup_of_nothing_deleted_leaves_no_file_nor_overwrites(
    seeded: Invoke, tmp_path: Path, fmt: str
) -> None:
    out = tmp_path / "out"
    out.mkdir()
    backup = out / f"none.{fmt}"
    result = seeded(f"delete {ACTIVE} --backup {backup} --yes")  # not deletable
    assert result.exit_code == 5, result.stderr
    assert list(out.iterdir()) == []
    backup.write_text("mine")
    again = seeded(f"delete {CANCELED} --backup {backup} --yes")
    assert again.exit_code == 2 and "already exists" in again.stderr
    assert backup.read_text() == "mine" and seeded(f"view {CANCELED}").exit_code == 0


@pytest.mark.parametrize("fmt", ["json", "xlsx"])
def test_no_subscription_is_deleted_outside_a_whole_backup(
    tmp_path: Path, ws: WorkspaceCase, fmt: str
) -> None:
    """kill -9 in the middle of ``delete --backup x.json``, then ``jobs resume``: every
    subscription deleted is in the first file or the resume's sibling."""
    import signal
    import subprocess
    import sys

    from tests.conftest import NOW as NOW_TEXT
    from tests.test_jobs import _subctl

    home = tmp_path / "subctl-home"
    env = {**os.environ, "SUBCTL_HOME": str(home), "SUBCTL_NOW": NOW_TEXT, "NO_COLOR": "1",
           "SUBCTL_BATCH_CHUNK": "20"}  # fmt: skip
    env.pop("SUBCTL_WORKSPACE", None)
    if ws.target is not None:
        env["SUBCTL_WORKSPACE"] = ws.target
    assert _subctl(env, "demo", "--count", "4000", "--seed", "5").returncode == 0
    with connect(ws) as conn:  # every one: the active ones fail, which makes the run longer
        every = [sid for (sid,) in conn.exec_driver_sql("SELECT hs_object_id FROM subscriptions")]
    ids = tmp_path / "ids.txt"
    ids.write_text("".join(f"{sid}\n" for sid in every))
    backup = tmp_path / f"gone.{fmt}"
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
    assert backed_up([backup]) == set(every)  # whole, before the job was journaled
    resumed = _subctl(env, "jobs", "resume", "1", "--yes", "--format", "json")
    assert resumed.returncode == 5, resumed.stderr  # the active ones cannot be deleted
    sibling = tmp_path / f"gone-2.{fmt}"
    with connect(ws) as conn:
        left = {sid for (sid,) in conn.exec_driver_sql("SELECT hs_object_id FROM subscriptions")}
    deleted = set(every) - left
    assert len(deleted) > 300 and deleted <= backed_up([backup, sibling])
    assert backed_up([sibling]) < set(every)  # the items left when it resumed
    assert {int(r["id"]) for r in json.loads(resumed.stdout) if r["outcome"] == "ok"} <= (
        backed_up([sibling])
    )
    assert not list(tmp_path.glob(".*.tmp"))


@pytest.mark.parametrize("fmt", ["json", "xlsx"])
def test_a_full_disk_under_a_whole_backup_deletes_and_journals_nothing(
    seeded: Invoke, ws: WorkspaceCase, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fmt: str
) -> None:
    import errno

    from subctl.services import batch

    def fsync(fd: int) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    out = tmp_path / "out"
    out.mkdir()
    backup = out / f"gone.{fmt}"
    before = checksum(ws)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(batch.os, "fsync", fsync)
        result = seeded(f"delete {CANCELED} --backup {backup} --yes")
    assert result.exit_code == 6, result.stderr
    assert result.stderr.startswith(f"Error: disk full: cannot write {backup}\n")
    assert checksum(ws) == before and seeded("jobs --format json").stdout == "[]\n"
    assert list(out.iterdir()) == []
