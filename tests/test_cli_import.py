"""``subctl import FILE`` end to end: files in the export layout (Record ID first, label
headers, association pairs at the end), upsert by Record ID, associations and their records
restored, bad rows, ``--strict``, ``--dry-run``, XLSX, the journal (resume, a changed file)
and a SIGKILL mid-import."""

from __future__ import annotations

import csv
import io
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

from tests.conftest import NOW, Invoke

pytestmark = pytest.mark.backends("sqlite", "postgresql")

# The columns an export in label mode writes for these properties, Record ID first, the
# association pairs at the end; cells as ``codec.to_text`` writes them, enumerations by label.
HEADER = [
    "Record ID", "Name", "Status", "Start date", "Next payment due date", "Next payment amount",
    "Currency code", "Billing frequency", "Billable", "MRR", "Create date", "Last modified date",
    "Associated Contact IDs", "Associated Contact", "Associated Company IDs",
    "Associated Company", "Associated Payment IDs", "Associated Payment",
]  # fmt: skip
NAMES = [
    "hs_object_id", "hs_name", "hs_status", "hs_recurring_billing_start_date",
    "hs_next_payment_due_date", "hs_next_payment_amount", "hs_currency_code",
    "hs_recurring_billing_frequency", "hs_invoice_creation", "hs_mrr", "hs_createdate",
    "hs_lastmodifieddate",
]  # fmt: skip
ROWS = [
    ["501", "Acme – Pro monthly", "Active", "2026-01-01", "2026-12-15", "99.00", "USD", "Monthly",
     "On", "99.00", "2025-12-20T10:00:00.000Z", "2026-11-01T08:30:00.000Z",
     "9001", "Ada Lovelace (ada@example.com)", "7001", "Acme Corp", "", ""],
    ["502", "'=Globex – Basic annual", "Past due", "2025-11-20", "2026-11-20", "1200.00", "EUR",
     "Annually", "On", "100.00", "2025-11-01T00:00:00.000Z", "2026-11-21T00:00:00.000Z",
     "9001;9002", "Ada Lovelace (ada@example.com); Grace Hopper (grace@navy.mil)", "", "",
     "8001", "1200.00 EUR failed (card)"],
]  # fmt: skip
ENGLISH = {"active": "Active", "past_due": "Past due", "monthly": "Monthly",
           "annually": "Annually", "on": "On"}  # fmt: skip


def _csv(rows: list[list[str]], header: list[str] = HEADER) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    return out.getvalue()


def _write(tmp_path: Path, text: str, name: str = "subs.csv") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def _export(invoke: Invoke, ids: list[int]) -> str:
    """The workspace's records in the layout of ``HEADER`` (what ``export --properties`` with
    these columns writes), from ``view --format json``."""
    rows = []
    for sid in ids:
        found = invoke(f"view {sid} -f json")
        assert found.exit_code == 0, found.stderr
        doc = json.loads(found.stdout)
        props: dict[str, Any] = doc["properties"]
        cells = []
        for name in NAMES:
            value = props[name]
            if isinstance(value, float):  # JSON money: two decimals, as the export writes
                value = f"{value:.2f}"
            text = "" if value is None else str(value)
            if name == "hs_name" and text.startswith("="):
                text = "'" + text
            cells.append(
                ENGLISH.get(text, text)
                if name in ("hs_status", "hs_recurring_billing_frequency", "hs_invoice_creation")
                else text
            )
        for obj in ("contact", "company", "payment"):
            linked = sorted(doc["associations"].get(obj, []), key=lambda r: r["id"])
            cells += [";".join(str(r["id"]) for r in linked), "; ".join(r["label"] for r in linked)]
        rows.append(cells)
    return _csv(rows)


def test_one_row_is_said_in_the_singular(invoke: Invoke, tmp_path: Path) -> None:
    assert invoke("init").exit_code == 0
    path = _write(tmp_path, _csv(ROWS[:1]))
    result = invoke(["import", str(path), "-f", "csv"])
    assert result.exit_code == 0, result.stderr
    assert result.stderr.splitlines()[-1] == "✔ 1 row: 1 created"


def test_a_file_in_the_export_layout_imported_into_a_new_workspace_reads_back_the_same(
    invoke: Invoke, tmp_path: Path
) -> None:
    assert invoke("init").exit_code == 0
    text = _csv(ROWS)
    path = _write(tmp_path, text)
    result = invoke(["import", str(path), "-f", "csv"])
    assert result.exit_code == 0, result.stderr
    assert result.stdout == (
        "line,id,outcome,status,note\n"
        '2,501,created,active,"11 values, 2 associations"\n'
        '3,502,created,past_due,"11 values, 3 associations"\n'
    )
    assert result.stderr.splitlines() == [
        "Note: MRR, Create date, Last modified date: computed by subctl: kept when a row creates"
        " a subscription (restored as exported), never written over an existing one",
        "Note: Status: changed by the lifecycle verbs and billing: kept when a row creates a"
        " subscription, never written over an existing one",
        "✔ 2 rows: 2 created",
    ]
    assert _export(invoke, [501, 502]) == text
    history = json.loads(invoke("view 502 -f json").stdout)["history"]
    assert {h["source"] for h in history} == {"import"}
    assert [h["new"] for h in history if h["property"] == "hs_name"] == ["=Globex – Basic annual"]

    again = invoke(["import", str(path), "-f", "csv"])
    assert again.exit_code == 0, again.stderr
    assert again.stdout == (
        "line,id,outcome,status,note\n"
        "2,501,unchanged,active,no change\n"
        "3,502,unchanged,past_due,no change\n"
    )
    jobs = json.loads(invoke("jobs list -f json").stdout)
    assert [(j["command"], j["status"], j["ok"], j["skipped"]) for j in jobs] == [
        (f"import {path.resolve()}", "done", 0, 2),
        (f"import {path.resolve()}", "done", 2, 0),
    ]


def test_an_existing_subscription_gets_the_changed_values_and_keeps_its_computed_ones(
    invoke: Invoke, tmp_path: Path
) -> None:
    assert invoke("init").exit_code == 0
    assert invoke(["import", str(_write(tmp_path, _csv(ROWS)))]).exit_code == 0
    changed = [row[:] for row in ROWS[:1]]
    changed[0][1] = "Acme – Pro monthly (renamed)"
    changed[0][9] = "5.00"  # MRR: computed, never written over a stored value
    changed[0][2] = "Canceled"  # the status: the verbs' (and billing's) to change
    changed[0][14], changed[0][15] = "7001;7002", "Acme Corp; Acme Holdings"
    result = invoke(["import", str(_write(tmp_path, _csv(changed), "two.csv")), "-f", "json"])
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout) == [
        {"line": 2, "id": 501, "outcome": "updated", "status": "active",
         "note": "set hs_name; associated company 7002"},
    ]  # fmt: skip
    doc = json.loads(invoke("view 501 -f json").stdout)
    assert doc["properties"]["hs_name"] == "Acme – Pro monthly (renamed)"
    assert doc["properties"]["hs_mrr"] == 99.0
    assert doc["properties"]["hs_status"] == "active"
    assert [(c["id"], c["label"]) for c in doc["associations"]["company"]] == [
        (7001, "Acme Corp"),
        (7002, "Acme Holdings"),
    ]
    renamed = [h for h in doc["history"] if h["property"] == "hs_name"]
    assert renamed[-1]["source"] == "import"


def test_a_row_without_record_id_creates_a_subscription_with_a_new_id(
    invoke: Invoke, tmp_path: Path
) -> None:
    assert invoke("init").exit_code == 0
    assert invoke(["import", str(_write(tmp_path, _csv(ROWS)))]).exit_code == 0
    rows = [["", *ROWS[0][1:12], "", "", "7003", "Initech", "", ""]]
    rows[0][1] = "Without an id"
    result = invoke(["import", str(_write(tmp_path, _csv(rows), "new.csv")), "-f", "json"])
    assert result.exit_code == 0, result.stderr
    # ids continue after the imported ones (PostgreSQL: the identities too)
    assert json.loads(result.stdout) == [
        {"line": 2, "id": 503, "outcome": "created", "status": "active",
         "note": "11 values, 1 associations"},
    ]  # fmt: skip
    doc = json.loads(invoke("view 503 -f json").stdout)
    assert doc["properties"]["hs_name"] == "Without an id"
    assert [(c["id"], c["label"]) for c in doc["associations"]["company"]] == [(7003, "Initech")]
    made = invoke("associate 503 --contact new --create name=Grace -f json")
    assert made.exit_code == 0, made.stderr
    assert json.loads(made.stdout)["object_id"] == 9003


def test_a_new_subscription_never_gets_a_deleted_ones_id(seeded: Invoke, tmp_path: Path) -> None:
    """The highest subscription, billed and then deleted: its billing events, payment and
    e-mails are kept, so a new subscription gets the next id, not its id (SQLite's rowid would
    give it again), and shows none of them."""
    assert seeded("clock set 2027-01-02").exit_code == 0  # 5 starts: a payment, an event
    billed = json.loads(seeded("view 5 -f json").stdout)
    assert [e["kind"] for e in billed["events"]][:1] == ["start"] and billed["payments"]
    assert seeded("cancel 5 --yes").exit_code == 0
    backup = tmp_path / "five.ndjson"
    deleted = seeded(["delete", "5", "--backup", str(backup), "--yes"])
    assert deleted.exit_code == 0, deleted.stderr
    rows = [["", "New Co", "Active", "2027-02-01", "2027-03-01", "10.00", "USD", "Monthly", "",
             "", "", "", "", "", "", "", "", ""]]  # fmt: skip
    result = seeded(["import", str(_write(tmp_path, _csv(rows), "new.csv")), "-f", "json"])
    assert result.exit_code == 0, result.stderr
    assert [r["id"] for r in json.loads(result.stdout)] == [6], result.stdout
    doc = json.loads(seeded("view 6 -f json").stdout)
    assert doc["properties"]["hs_name"] == "New Co"
    assert (doc["payments"], doc["events"], doc["outbox"]) == ([], [], [])
    assert {h["source"] for h in doc["history"]} == {"import"}  # 5's is kept, not shown
    assert seeded("view 5").exit_code == 3


def test_a_past_next_payment_due_date_is_refused_for_an_existing_subscription(
    seeded: Invoke, tmp_path: Path
) -> None:
    """As ``update --set`` refuses it: billing would charge the periods between again."""
    header = ["Record ID", "Next payment due date"]
    path = _write(tmp_path, _csv([["1", "2026-11-20"]], header), "back.csv")
    result = seeded(["import", str(path), "-f", "json"])
    assert (result.exit_code, json.loads(result.stdout)) == (5, [
        {"line": 2, "id": 1, "outcome": "failed", "status": "active",
         "note": "next_payment_due_date 2026-11-20 is in the past: billing has carried out"
                 " the days before today"},
    ]), result.stderr  # fmt: skip
    assert (
        json.loads(seeded("view 1 -f json").stdout)["properties"]["hs_next_payment_due_date"]
        == "2026-12-01"
    )
    later = _write(tmp_path, _csv([["1", "2026-12-20"]], header), "later.csv")
    assert seeded(["import", str(later)]).exit_code == 0


def test_an_associated_record_without_a_usable_label_must_exist(
    invoke: Invoke, tmp_path: Path
) -> None:
    assert invoke("init").exit_code == 0
    rows = [ROWS[0][:12] + ["", "", "", "", "8009", "a refund, somewhere"]]
    result = invoke(["import", str(_write(tmp_path, _csv(rows))), "-f", "csv"])
    assert result.exit_code == 5
    assert result.stdout == "line,id,outcome,status,note\n2,501,failed,,payment 8009 not found\n"
    assert invoke("view 501").exit_code == 3


def test_an_unknown_header_is_a_usage_error_naming_the_column(
    invoke: Invoke, tmp_path: Path
) -> None:
    assert invoke("init").exit_code == 0
    path = _write(tmp_path, "Record ID,Name,Stattus\n1,a,Active\n")
    result = invoke(["import", str(path)])
    assert result.exit_code == 2
    assert result.stderr.splitlines() == [
        'Error: column 3 "Stattus" is neither a property nor an association column',
        'Hint: did you mean "Status"?',
    ]
    assert invoke("jobs list -f json").stdout.strip() == "[]"


def test_an_unknown_header_without_a_close_match_points_at_subctl_property_list(
    invoke: Invoke, tmp_path: Path
) -> None:
    assert invoke("init").exit_code == 0
    path = _write(tmp_path, "Record ID,Name,zzqx_nothing\n1,a,b\n")
    result = invoke(["import", str(path)])
    assert (result.exit_code, result.stdout) == (2, "")
    assert result.stderr == (
        'Error: column 3 "zzqx_nothing" is neither a property nor an association column\n'
        "Hint: `subctl property list` lists the properties\n"
    )
    assert invoke("property list --help").exit_code == 0  # the command the hint names


def test_an_unknown_ndjson_key_is_named_with_its_line(invoke: Invoke, tmp_path: Path) -> None:
    assert invoke("init").exit_code == 0
    path = tmp_path / "bad.ndjson"
    path.write_text('\n{"hs_object_id": 1, "hs_name": "a", "hs_bogus_prop": "x"}\n')
    result = invoke(["import", str(path)])
    assert (result.exit_code, result.stdout) == (2, "")
    assert result.stderr == (
        'Error: key "hs_bogus_prop" (line 2) is neither a property nor an association column\n'
        "Hint: `subctl property list` lists the properties\n"
    )


def test_a_bad_row_fails_with_its_line_and_the_others_are_applied(
    invoke: Invoke, tmp_path: Path
) -> None:
    assert invoke("init").exit_code == 0
    bad = [ROWS[0][:], ROWS[1][:]]
    bad[0][7] = "Fortnightly"
    text = _csv(bad).replace("\n501,", "\n\n501,")  # a blank line: line numbers stay the file's
    path = _write(tmp_path, text)
    result = invoke(["import", str(path), "-f", "csv"])
    assert result.exit_code == 5
    assert result.stdout == (
        "line,id,outcome,status,note\n"
        '3,501,failed,,"frequency: ""Fortnightly"" is not an option (weekly, biweekly, monthly,'
        ' quarterly, per_six_months, annually, per_two_years)"\n'
        '4,502,created,past_due,"11 values, 3 associations"\n'
    )
    assert result.stderr.splitlines()[-1] == (
        "Error: 1 of 2 rows failed (1 failed, 1 created); "
        "see `subctl jobs results 1 --outcome failed`"
    )
    assert invoke("view 501").exit_code == 3
    failed = invoke("jobs results 1 --outcome failed -f json")
    assert [(i["id"], i["outcome"], i["note"][:35]) for i in json.loads(failed.stdout)] == [
        (3, "failed", 'failed: frequency: "Fortnightly" is')
    ]
    assert "Line" in invoke("jobs results 1 -f table").stdout.splitlines()[0]


def test_strict_writes_nothing_when_a_row_is_bad(invoke: Invoke, tmp_path: Path) -> None:
    assert invoke("init").exit_code == 0
    bad = [ROWS[0][:], ROWS[1][:]]
    bad[1][5] = "12.345"  # EUR has cents
    result = invoke(["import", str(_write(tmp_path, _csv(bad))), "--strict", "-f", "csv"])
    assert result.exit_code == 5
    assert result.stdout == (
        "line,id,outcome,status,note\n"
        "3,502,error,,12.345 has more decimal places than EUR allows (2 decimal places)\n"
    )
    assert result.stderr.splitlines()[-1] == (
        "Error: --strict: 1 of 2 rows are bad; nothing was written (first, line 3: "
        "12.345 has more decimal places than EUR allows (2 decimal places))"
    )
    assert invoke("view 501").exit_code == 3
    assert invoke("jobs list -f json").stdout.strip() == "[]"


def test_dry_run_reports_each_row_and_changes_nothing(invoke: Invoke, tmp_path: Path) -> None:
    assert invoke("init").exit_code == 0
    path = _write(tmp_path, _csv(ROWS))
    result = invoke(["import", str(path), "--dry-run", "-f", "csv"])
    assert result.exit_code == 0, result.stderr
    assert result.stdout == (
        "line,id,outcome,status,note\n"
        '2,501,create,active,"11 values, 2 associations"\n'
        '3,502,create,past_due,"11 values, 3 associations"\n'
    )
    assert result.stderr.splitlines()[-1] == "✔ 2 rows (dry run): 2 create"
    assert invoke("view 501").exit_code == 3
    assert invoke("jobs list -f json").stdout.strip() == "[]"


def test_xlsx_typed_cells_are_read_through_the_codec(invoke: Invoke, tmp_path: Path) -> None:
    import datetime as dt

    from openpyxl import Workbook

    assert invoke("init").exit_code == 0
    book = Workbook()
    sheet = book.active
    sheet.append(["Record ID", "Name", "Status", "Start date", "Next payment due date",
                  "Next payment amount", "Currency code", "Billing frequency", "Billable",
                  "Create date", "Automatically email invoices"])  # fmt: skip
    sheet.append([601, "Typed", "Active", dt.date(2026, 1, 1), dt.date(2026, 12, 15), 49.5,
                  "USD", "Monthly", "On", dt.datetime(2025, 5, 6, 7, 8, 9), True])  # fmt: skip
    path = tmp_path / "subs.xlsx"
    book.save(path)
    result = invoke(["import", str(path), "-f", "json"])
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout)[0]["outcome"] == "created"
    props = json.loads(invoke("view 601 -f json").stdout)["properties"]
    assert {k: props[k] for k in ("hs_recurring_billing_start_date", "hs_next_payment_amount",
                                  "hs_createdate", "hs_automatically_email_invoices",
                                  "hs_status")} == {
        "hs_recurring_billing_start_date": "2026-01-01", "hs_next_payment_amount": 49.5,
        "hs_createdate": "2025-05-06T07:08:09.000Z", "hs_automatically_email_invoices": True,
        "hs_status": "active",
    }  # fmt: skip


def test_a_resume_with_a_changed_file_is_refused(invoke: Invoke, tmp_path: Path) -> None:
    from subctl.services import imports as svc
    from subctl.store.sql import open_local

    assert invoke("init").exit_code == 0
    path = _write(tmp_path, _csv(ROWS))
    source = svc.Source.of(path)
    backend = open_local(_url(invoke))
    job, resumed, _layout = svc.start(
        backend.workspace, backend.records.properties(), source, svc_now()
    )
    backend.close()
    assert not resumed and job.total == 2
    path.write_text(_csv(ROWS[:1]), encoding="utf-8")
    result = invoke(f"jobs resume {job.id} --yes")
    assert result.exit_code == 2
    assert result.stderr.splitlines()[0] == (
        f"Error: {path.resolve()} changed since job {job.id} started; nothing done"
    )
    path.write_text(_csv(ROWS), encoding="utf-8")
    # the same import again, while its job is unfinished: that job is resumed
    done = invoke(["import", str(path), "-f", "csv"])
    assert done.exit_code == 0, done.stderr
    assert f"Resuming job {job.id}: the same file is being imported" in done.stderr
    assert done.stdout.count("created") == 2
    assert [j["id"] for j in json.loads(invoke("jobs list -f json").stdout)] == [job.id]
    finished = invoke(f"jobs resume {job.id} --yes")
    assert finished.exit_code == 5
    assert finished.stderr.startswith(f"Error: job {job.id} is done; nothing left to resume")


def svc_now() -> Any:
    import datetime as dt

    return dt.datetime.fromisoformat(NOW)


def _url(invoke: Invoke) -> str:
    from subctl.config import sqlite_url

    target = os.environ.get("SUBCTL_WORKSPACE")
    if target:
        from subctl.config import workspace_url

        return workspace_url(target)
    return sqlite_url(Path(os.environ["SUBCTL_HOME"]) / "workspace.db")


# -- a SIGKILL mid-import ----------------------------------------------------------------------

KILL_ROWS = 3_000


def _count(db: Path, sql: str) -> int:
    try:
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=0.2) as conn:
            (n,) = conn.execute(sql).fetchone()
        conn.close()
        return int(n)
    except sqlite3.OperationalError:
        return 0


@pytest.mark.backends("sqlite")
def test_sigkill_mid_import_then_jobs_resume_applies_each_row_once(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SUBCTL_")}
    env.update(SUBCTL_NOW=NOW, NO_COLOR="1", SUBCTL_HOME=str(tmp_path / "home"),
               SUBCTL_BATCH_CHUNK="100")  # fmt: skip
    rows = []
    for n in range(1, KILL_ROWS + 1):
        row = ROWS[n % 2][:]
        row[0] = str(1000 + n)
        row[1] = f"Subscription {n}"
        rows.append(row)
    path = _write(tmp_path, _csv(rows))
    subctl = [sys.executable, "-m", "subctl"]
    made = subprocess.run([*subctl, "init"], env=env, capture_output=True, text=True, check=False)
    assert made.returncode == 0, made.stderr
    victim = subprocess.Popen(
        [*subctl, "import", str(path), "-f", "csv"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    db = tmp_path / "home" / "workspace.db"
    done = "SELECT count(*) FROM job_items WHERE outcome IS NOT NULL"
    deadline = time.monotonic() + 120
    while victim.poll() is None and _count(db, done) < 300 and time.monotonic() < deadline:
        time.sleep(0.005)
    victim.send_signal(signal.SIGKILL)
    victim.communicate(timeout=60)
    assert victim.returncode == -signal.SIGKILL, "the import ended before it could be killed"
    before = _count(db, done)
    assert 0 < before < KILL_ROWS
    assert _count(db, "SELECT count(*) FROM subscriptions") == before  # chunk and journal: one
    resumed = subprocess.run([*subctl, "jobs", "resume", "1", "--yes", "-f", "csv"], env=env,
                             capture_output=True, text=True, check=False)  # fmt: skip
    assert resumed.returncode == 0, resumed.stderr
    assert resumed.stdout.count(",created,") == KILL_ROWS - before
    for sql, expected in (
        ("SELECT count(*) FROM subscriptions", KILL_ROWS),
        ("SELECT count(DISTINCT hs_object_id) FROM subscriptions", KILL_ROWS),
        ("SELECT count(*) FROM job_items WHERE outcome = 'ok'", KILL_ROWS),
        ("SELECT count(*) FROM jobs WHERE status = 'done'", 1),
        ("SELECT count(*) FROM associations", KILL_ROWS // 2 * 2 + KILL_ROWS // 2 * 3),
        # each row's history once: its 11 values set (create date: the record's own)
        ("SELECT count(*) FROM property_history WHERE property = 'hs_name'", KILL_ROWS),
        ("SELECT count(*) FROM contacts", 2),
        ("SELECT count(*) FROM payments", 1),
    ):
        assert _count(db, sql) == expected, sql


def test_a_masked_highly_sensitive_cell_leaves_the_stored_value(
    invoke: Invoke, tmp_path: Path
) -> None:
    assert invoke("init").exit_code == 0
    for command in ("property settings --tier enterprise",
                    "property create --name tax_id --label 'Tax ID' --type string"
                    " --sensitivity highly_sensitive"):  # fmt: skip
        assert invoke(command).exit_code == 0
    header = [*HEADER[:12], "Tax ID"]
    first = invoke(["import", str(_write(tmp_path, _csv([[*ROWS[0][:12], "DK1"]], header)))])
    assert first.exit_code == 0, first.stderr
    masked = _write(tmp_path, _csv([[*ROWS[0][:12], "******"]], header), "masked.csv")
    again = invoke(["import", str(masked), "-f", "csv"])
    assert again.exit_code == 0, again.stderr
    assert again.stdout.splitlines()[1] == "2,501,unchanged,active,no change"
    assert invoke("property settings --grant sensitive_data.view").exit_code == 0
    shown = json.loads(invoke("view 501 --show-sensitive -f json").stdout)
    assert shown["properties"]["tax_id"] == "DK1"


@pytest.mark.backends("sqlite")
@pytest.mark.parametrize(
    ("obj", "label", "expected"),
    [
        ("contact", "Ada Lovelace (ada@example.com)",
         {"firstname": "Ada", "lastname": "Lovelace", "emails": ["ada@example.com"]}),
        ("contact", "Ada Byron King (ada@x.io, ada@y.org)",
         {"firstname": "Ada", "lastname": "Byron King", "emails": ["ada@x.io", "ada@y.org"]}),
        ("contact", "77 (x@y.z)", {"firstname": None, "lastname": None, "emails": ["x@y.z"]}),
        ("company", "Acme (acme.com, acme-app.io)",
         {"name": "Acme", "domains": ["acme.com", "acme-app.io"]}),
        ("company", "Acme (Europe)", {"name": "Acme (Europe)", "domains": []}),
        ("line_item", "Pro plan × 3", {"name": "Pro plan", "quantity": 3}),
        ("payment", "99.00 USD refunded (card)",
         {"amount": 99, "currency": "USD", "status": "refunded", "method": "card"}),
        ("feedback_submission", "NPS (positive)", {"survey": "NPS", "sentiment": "positive"}),
        ("custom_record", "Seat 7 (License)", {"name": "Seat 7", "object_name": "License"}),
        ("order", "Order 12", {"name": "Order 12"}),
        ("payment", "a refund", None),
        ("custom_record", "no object", None),
    ],
)  # fmt: skip
def test_associated_records_are_made_from_their_labels(
    obj: str, label: str, expected: dict[str, Any] | None
) -> None:
    import datetime as dt

    from subctl.services.imports import record_from_label

    now = dt.datetime(2026, 11, 26, tzinfo=dt.UTC)
    made = record_from_label(obj, 77, label, now)
    if expected is None:
        assert made.values is None
        return
    assert made.values is not None
    assert {k: made.values[k] for k in expected} == expected
    assert record_from_label(obj, 77, None, now).values is None


def test_headers_of_another_export_language_and_internal_names(
    invoke: Invoke, tmp_path: Path
) -> None:
    from subctl.export.headers import headers

    assert invoke("init").exit_code == 0
    danish = headers("da")
    header = [danish.record_id, *(danish.property(n, n) for n in NAMES[1:]),
              danish.association_ids("contact"), danish.association("contact")]  # fmt: skip
    assert header[1] != "Name" and header[-1] != "Associated Contact"
    row = [*ROWS[0][:12], "9001", "Ada Lovelace (ada@example.com)"]
    result = invoke(["import", str(_write(tmp_path, _csv([row], header))), "-f", "csv"])
    assert result.exit_code == 0, result.stderr
    assert result.stdout.splitlines()[1] == '2,501,created,active,"11 values, 1 associations"'
    internal = [*NAMES, "associated_contact_ids"]
    again = _write(tmp_path, _csv([[*ROWS[0][:12], "9001"]], internal), "internal.csv")
    same = invoke(["import", str(again), "-f", "csv"])
    assert same.exit_code == 0, same.stderr
    assert same.stdout.splitlines()[1] == "2,501,unchanged,active,no change"


def test_a_labels_column_without_its_ids_is_said_once_and_not_read(
    invoke: Invoke, tmp_path: Path
) -> None:
    assert invoke("init").exit_code == 0
    header = [*HEADER[:3], "Associated Company"]
    rows = [[*ROWS[0][:3], "Acme Corp"], [*ROWS[1][:3], "Globex"]]
    result = invoke(["import", str(_write(tmp_path, _csv(rows, header))), "-f", "csv"])
    assert result.exit_code == 0, result.stderr
    notes = [line for line in result.stderr.splitlines() if line.startswith("Note:")]
    assert notes[-1] == "Note: Associated Company: labels without their IDs column: not read"
    assert json.loads(invoke("view 501 -f json").stdout)["associations"] == {}
