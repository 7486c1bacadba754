"""Lifecycle verbs end to end: ``update``, ``cancel``, ``pause``, ``resume``, ``delete``,
``send-update-link``, single and in batch (seeded: 1 active due 2026-12-01, 2 unpaid with a
pending ACH payment 900, 3 unpaid without contact, 4 canceled, 5 scheduled; today 2026-11-26)."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from tests.conftest import Invoke, ScriptedPrompter, Terminal, WorkspaceCase, checksum, connect

pytestmark = pytest.mark.backends("sqlite", "postgresql")

ACTIVE, UNPAID, UNPAID_NO_CONTACT, CANCELED, SCHEDULED = 1, 2, 3, 4, 5


@pytest.fixture
def db(ws: WorkspaceCase) -> Iterator[sa.Connection]:
    """A connection to the test's workspace (SQLite or PostgreSQL); commit what it writes."""
    with connect(ws) as conn:
        yield conn


def view(invoke: Invoke, sub_id: int) -> dict[str, Any]:
    result = invoke(f"view {sub_id} --format json")
    assert result.exit_code == 0, result.stderr
    doc: dict[str, Any] = json.loads(result.stdout)
    return doc


def rows(stdout: str) -> list[dict[str, Any]]:
    data: list[dict[str, Any]] = json.loads(stdout)
    return data


@pytest.fixture
def tty(terminal: Terminal) -> ScriptedPrompter:
    """A terminal that answers yes to every confirmation."""
    return terminal(*[True] * 10)


def add_payment(db: sa.Connection, sub_id: int, pid: int, amount: float, status: str) -> None:
    ms = 1_793_523_600_000  # 2026-11-01T09:00Z
    db.execute(
        sa.text(
            "INSERT INTO payments (id, amount, currency, status, method, kind, created_at)"
            " VALUES (:pid, :amount, 'USD', :status, 'card', 'payment', :ms)"
        ),
        {"pid": pid, "amount": amount, "status": status, "ms": ms},
    )
    db.execute(
        sa.text("INSERT INTO associations VALUES (:sid, 'payment', :pid, 393)"),
        {"sid": sub_id, "pid": pid},
    )
    db.commit()


# -- cancel ---------------------------------------------------------------------------------


def test_cancel_one(seeded: Invoke) -> None:
    result = seeded(f"cancel {ACTIVE} --yes --format json")
    assert result.exit_code == 0, result.stderr
    (row,) = rows(result.stdout)
    assert row["outcome"] == "ok" and row["status"] == "active" and row["new_status"] == "canceled"
    assert "✔ Job 1: 1 canceled, 0 skipped, 0 failed" in result.stderr
    doc = view(seeded, ACTIVE)
    props = doc["properties"]
    assert props["hs_status"] == "canceled"
    assert props["hs_canceled_at"] == "2026-11-26T12:00:00.000Z"
    assert props["hs_next_payment_due_date"] is None and props["hs_mrr"] == 0
    assert props["hs_lastmodifieddate"] == "2026-11-26T12:00:00.000Z"
    changed = {(h["property"], h["old"], h["new"]) for h in doc["history"]}
    assert ("hs_status", "active", "canceled") in changed
    assert ("hs_next_payment_due_date", "2026-12-01", None) in changed
    assert {h["source"] for h in doc["history"]} == {"subctl cancel (job 1)"}
    (mail,) = doc["outbox"]
    assert mail["kind"] == "cancellation" and mail["to"] == "ada@example.com"
    assert mail["subject"] == "Your subscription Acme Corp – Pro monthly has been canceled"


def test_cancel_off_a_tty_needs_yes_and_changes_nothing(seeded: Invoke, ws: WorkspaceCase) -> None:
    before = checksum(ws)
    result = seeded(f"cancel {ACTIVE}")
    assert result.exit_code == 2
    assert result.stderr.startswith("Error: cancel 1 subscription: confirmation required")
    assert "pass --yes" in result.stderr and result.stdout == ""
    assert checksum(ws) == before


def test_cancel_on_a_tty_asks_the_checkbox_question(seeded: Invoke, tty: ScriptedPrompter) -> None:
    result = seeded(f"cancel {ACTIVE} --format json")
    assert result.exit_code == 0, result.stderr
    assert tty.questions == ["I understand the customer will not be charged again"]
    assert "cancel: 1 subscription selected, 1 to act on" in result.stderr


def test_cancel_declined_on_a_tty_changes_nothing(
    seeded: Invoke, ws: WorkspaceCase, terminal: Terminal
) -> None:
    terminal(False)
    before = checksum(ws)
    result = seeded(f"cancel {ACTIVE}")
    assert result.exit_code == 130
    assert result.stderr.endswith("\nAborted; nothing was changed.\n")
    assert checksum(ws) == before


def test_pending_ach_warning(seeded: Invoke) -> None:
    result = seeded(f"cancel {UNPAID} --yes --format json")
    assert result.exit_code == 0, result.stderr
    assert (
        "Warning: subscription 2: pending bank payment 900 (1200.00 EUR) is neither canceled "
        "nor refunded automatically; refund it with `subctl cancel 2 --refund-pending`"
    ) in result.stderr
    assert "pending bank payment 900 not refunded" in rows(result.stdout)[0]["note"]
    assert [p["kind"] for p in view(seeded, UNPAID)["payments"]] == ["payment"]


def test_refund_pending(seeded: Invoke) -> None:
    result = seeded(f"cancel {UNPAID} --refund-pending --yes --format json")
    assert result.exit_code == 0, result.stderr
    assert "Warning" not in result.stderr
    (row,) = rows(result.stdout)
    assert (row["refund"], row["currency"]) == (1200.0, "EUR")
    payments = view(seeded, UNPAID)["payments"]
    assert [(p["id"], p["kind"], p["status"], p["amount"]) for p in payments] == [
        (900, "payment", "refunded", 1200.0),
        (901, "refund", "succeeded", 1200.0),
    ]


def test_refund_unused_shown_before_confirming(
    seeded: Invoke, db: sa.Connection, tty: ScriptedPrompter
) -> None:
    add_payment(db, ACTIVE, 950, 99.0, "succeeded")
    result = seeded(f"cancel {ACTIVE} --refund unused --format json")
    assert result.exit_code == 0, result.stderr
    assert "Refunds: 16.50 USD (1 subscription)" in result.stderr
    assert result.stderr.index("Refunds:") < result.stderr.index("✔")
    (row,) = rows(result.stdout)
    assert row["refund"] == 16.5
    assert "refund 16.50 USD for 5 of 30 unused days (2026-11-01 to 2026-12-01)" in row["note"]
    doc = view(seeded, ACTIVE)
    refund = [p for p in doc["payments"] if p["kind"] == "refund"]
    assert [(p["amount"], p["currency"]) for p in refund] == [(16.5, "USD")]
    assert doc["properties"]["hs_last_payment_status"] == "partially_refunded"
    assert "A refund of 16.50 USD" in doc["outbox"][0]["body"]


def test_cancel_already_canceled_is_skipped(seeded: Invoke) -> None:
    result = seeded(f"cancel {CANCELED} --yes --format json")
    assert result.exit_code == 0, result.stderr
    assert rows(result.stdout)[0]["outcome"] == "skipped"
    assert rows(result.stdout)[0]["note"] == "already canceled"


def test_cancel_at_period_end(seeded: Invoke) -> None:
    result = seeded(f"cancel {ACTIVE} --at-period-end --yes --format json")
    assert result.exit_code == 0, result.stderr
    props = view(seeded, ACTIVE)["properties"]
    assert props["hs_status"] == "active"
    assert props["hs_scheduled_cancellation_date"] == "2026-12-01"
    assert props["hs_next_payment_due_date"] is None
    assert result.stderr.splitlines()[-1].endswith(
        "Job 1: 1 scheduled to cancel, 0 skipped, 0 failed"
    ), result.stderr
    assert rows(result.stdout)[0]["new_status"] == "active"
    dry = seeded(f"cancel {ACTIVE} --at-period-end --dry-run")
    assert "would be canceled" not in dry.stderr + dry.stdout
    bad = seeded(f"cancel {UNPAID} --at-period-end --yes")
    assert bad.exit_code == 5
    assert "Error: cannot cancel: status is unpaid" in bad.stderr


def test_cancel_unknown_id_changes_nothing(seeded: Invoke, ws: WorkspaceCase) -> None:
    before = checksum(ws)
    result = seeded("cancel 1 999 --yes")
    assert result.exit_code == 3
    assert result.stderr.startswith("Error: subscription not found: 999")
    assert checksum(ws) == before


@pytest.mark.parametrize(
    "args",
    ["cancel", "cancel 1 --refund all --yes", "cancel 1 --plan-out p.json --yes",
     "cancel 1 --plan p.json", "resume 1", "update 1", "pause abc"],
)  # fmt: skip
def test_usage_errors(seeded: Invoke, args: str) -> None:
    result = seeded(args)
    assert result.exit_code == 2, result.stderr
    assert "Traceback" not in result.stderr


# -- the dry run ------------------------------------------------------------------------------


def test_dry_run_changes_nothing(demo: Invoke, ws: WorkspaceCase) -> None:
    before = checksum(ws)
    result = demo("cancel --where 'status = active' --dry-run --refund unused --format json")
    items = rows(result.stdout)
    assert items and {r["status"] for r in items} == {"active"}
    # those with a pending ACH payment, which --refund unused cannot refund, need attention
    attention = [r for r in items if r["outcome"] == "attention"]
    assert attention and {r["outcome"] for r in items} == {"ok", "attention"}
    assert result.exit_code == 5
    assert (
        f"Error: {len(attention)} of {len(items)} subscriptions would be canceled but need "
        "attention"
    ) in result.stderr
    assert checksum(ws) == before
    assert demo("jobs --format json").stdout == "[]\n"


# -- plans ------------------------------------------------------------------------------------


def test_plan_out_then_plan(seeded: Invoke, tmp_path: Path) -> None:
    plan = tmp_path / "plan.json"
    where = "status in (active, unpaid)"
    result = seeded(f"cancel --where '{where}' --dry-run --plan-out {plan} --format json")
    assert result.exit_code == 0, result.stderr
    document = json.loads(plan.read_text())
    assert document["items"] == [
        {"id": 1, "status": "active"}, {"id": 2, "status": "unpaid"}, {"id": 3, "status": "unpaid"}
    ]  # fmt: skip
    assert document["hash"].startswith("sha256:") and document["verb"] == "cancel"
    assert f"Plan of 3 subscriptions written to {plan}" in result.stderr
    # subscription 1 changes after the review: it is skipped, 2 and 3 are canceled
    assert seeded("pause 1").exit_code == 0
    result = seeded(f"cancel --plan {plan} --yes --format json")
    assert result.exit_code == 0, result.stderr
    by_id = {r["id"]: r for r in rows(result.stdout)}
    assert by_id[2]["outcome"] == "ok"
    assert by_id[3]["outcome"] == "ok"
    assert by_id[1]["outcome"] == "skipped"
    assert by_id[1]["note"] == "status changed since the plan (active → paused)"


def test_plan_checks(seeded: Invoke, tmp_path: Path) -> None:
    plan = tmp_path / "plan.json"
    assert seeded(f"cancel 1 2 --dry-run --plan-out {plan}").exit_code == 0
    other_options = seeded(f"cancel --plan {plan} --refund unused --yes")
    assert other_options.exit_code == 2 and "reviewed with other options" in other_options.stderr
    other_verb = seeded(f"pause --plan {plan} --yes")
    assert other_verb.exit_code == 2 and "is a plan for `cancel`" in other_verb.stderr
    mixed = seeded(f"cancel 3 --plan {plan} --yes")
    assert mixed.exit_code == 2 and "cannot be combined" in mixed.stderr
    document = json.loads(plan.read_text())
    document["items"].append({"id": 5, "status": "scheduled"})
    plan.write_text(json.dumps(document))
    edited = seeded(f"cancel --plan {plan} --yes")
    assert edited.exit_code == 2 and "the plan was edited" in edited.stderr
    assert view(seeded, 1)["properties"]["hs_status"] == "active"


# -- selection ----------------------------------------------------------------------------------


def test_from_file_lines_stdin_and_csv(demo: Invoke, tmp_path: Path) -> None:
    # demo subscriptions 2 and 5 are active, 19 is scheduled
    listed = tmp_path / "ids.txt"
    listed.write_text("# to pause\n2\n\n5\n")
    result = demo(f"pause --from-file {listed} --yes --format json")
    assert result.exit_code == 0, result.stderr
    assert [r["id"] for r in rows(result.stdout)] == [2, 5]
    result = demo("resume --from-file - --next-billing-date 2027-01-01 --yes --format json",
                  input="5\n2\n")  # fmt: skip
    assert result.exit_code == 0, result.stderr
    assert [(r["id"], r["new_status"]) for r in rows(result.stdout)] == [
        (5, "active"),
        (2, "active"),
    ]
    table = tmp_path / "export.csv"
    table.write_text("Record ID,Name\n19,Metro Meadow\n2,Silver Vertex\n")
    result = demo(f"pause --from-file {table} --where 'status = active' --yes --format json")
    assert result.exit_code == 0, result.stderr
    assert [r["id"] for r in rows(result.stdout)] == [2]  # 19 is scheduled


def test_from_file_errors(seeded: Invoke, tmp_path: Path) -> None:
    bad = tmp_path / "bad.txt"
    bad.write_text("1\nabc\n")
    result = seeded(f"cancel --from-file {bad} --yes")
    assert (result.exit_code, result.stderr) == (
        2, f'Error: {bad}:2: "abc" is not a subscription id\n')  # fmt: skip
    missing = seeded(f"cancel --from-file {tmp_path / 'nope.txt'} --yes")
    assert missing.exit_code == 2 and "cannot read" in missing.stderr


def test_view_selection(seeded: Invoke) -> None:
    result = seeded("send-update-link --view unpaid --dry-run --format json")
    assert result.exit_code == 5  # subscription 3 has no contact to e-mail
    assert "Error: 1 of 2 subscriptions would fail (subscription 3: no contact" in result.stderr
    by_id = {r["id"]: r for r in rows(result.stdout)}
    assert by_id[2]["outcome"] == "ok" and by_id[2]["recipient"] == "ada@example.com"
    assert by_id[2]["link"].startswith("https://payments.subctl.invalid/update-payment-method/2?")
    assert by_id[2]["subject"] == "Update the payment method for Globex – Basic annual"
    assert by_id[3]["note"] == "no contact with an e-mail address to send the link to"


# -- batches: outcomes and exit codes -----------------------------------------------------------


def test_batch_with_failures_exits_5(seeded: Invoke) -> None:
    result = seeded("delete 1 4 2 --yes --format json")
    assert result.exit_code == 5
    assert [(r["id"], r["outcome"]) for r in rows(result.stdout)] == [
        (1, "failed"), (4, "ok"), (2, "failed")]  # fmt: skip
    assert "Error: 2 of 3 subscriptions failed; 1 deleted, 0 skipped (job 1)" in result.stderr
    assert "subctl jobs results 1 --format csv" in result.stderr
    assert seeded("view 4").exit_code == 3


def test_large_batch_on_a_tty_shows_count_and_first_rows(
    demo: Invoke, tty: ScriptedPrompter
) -> None:
    result = demo("pause --where 'status = active and cancel_at is empty' --reason x --format json")
    assert result.exit_code == 0, result.stderr
    count = len(rows(result.stdout))
    assert count > 100
    assert f"pause --reason x: {count} subscriptions selected" in result.stderr
    assert f"… and {count - 10} more" in result.stderr
    assert tty.questions == [f"Pause {count} subscriptions?"]


def test_the_question_counts_the_subscriptions_acted_on(
    demo: Invoke, tty: ScriptedPrompter
) -> None:
    result = demo("pause --where 'status in (active, scheduled)' --reason 'on leave' --format json")
    assert result.exit_code == 5, result.stderr  # the scheduled ones cannot be paused
    outcomes = [r["outcome"] for r in rows(result.stdout)]
    acting = outcomes.count("ok")
    assert 0 < acting < len(outcomes)
    assert (
        f"pause --reason 'on leave': {len(outcomes)} subscriptions selected, {acting} to act on"
        in result.stderr
    )
    assert tty.questions == [f"Pause {acting} subscriptions?"]


def test_table_output(seeded: Invoke) -> None:
    result = seeded("pause 1 --format table")
    assert result.exit_code == 0, result.stderr
    assert "Outcome" in result.stdout and "paused" in result.stdout


# -- pause, resume -----------------------------------------------------------------------------


def test_pause_and_resume(seeded: Invoke) -> None:
    result = seeded(f"pause {ACTIVE} --reason 'customer on leave' --format json")
    assert result.exit_code == 0, result.stderr
    props = view(seeded, ACTIVE)["properties"]
    assert (props["hs_status"], props["hs_pause_reason"]) == ("paused", "customer on leave")
    again = seeded(f"pause {ACTIVE} --format json")
    assert again.exit_code == 0 and rows(again.stdout)[0]["outcome"] == "skipped"
    result = seeded(f"resume {ACTIVE} --next-billing-date 2027-01-15 --format json")
    assert result.exit_code == 0, result.stderr
    props = view(seeded, ACTIVE)["properties"]
    assert props["hs_status"] == "active" and props["hs_pause_reason"] is None
    assert props["hs_next_payment_due_date"] == "2027-01-15"
    refused = seeded(f"resume {UNPAID} --next-billing-date 2027-01-15")
    assert refused.exit_code == 5
    assert "cannot resume: status is unpaid (only a paused subscription can be resumed)" in (
        refused.stderr
    )
    scheduled = seeded(f"pause {SCHEDULED}")
    assert scheduled.exit_code == 5 and "status is scheduled" in scheduled.stderr


def test_pause_refuses_an_unpaid_subscription(seeded: Invoke) -> None:
    # resuming makes a subscription active: pausing an unpaid one would forget its debt
    result = seeded(f"pause {UNPAID} --yes")
    assert result.exit_code == 5
    assert (
        "Error: cannot pause: status is unpaid (only active subscriptions can be paused "
        "(an unpaid or past-due one would come back active on resume, its debt forgotten))"
    ) in result.stderr
    assert view(seeded, UNPAID)["properties"]["hs_status"] == "unpaid"


# -- delete -----------------------------------------------------------------------------------


def test_delete_refuses_naming_the_status(seeded: Invoke, ws: WorkspaceCase) -> None:
    before = checksum(ws)
    result = seeded(f"delete {ACTIVE} --yes")
    assert result.exit_code == 5
    assert (
        "Error: cannot delete: status is active "
        "(only canceled or expired subscriptions can be deleted)"
    ) in result.stderr
    after = checksum(ws)
    assert before != after  # the (failed) job is journaled, nothing else
    assert view(seeded, ACTIVE)["properties"]["hs_status"] == "active"


def test_delete_backup(seeded: Invoke, tmp_path: Path) -> None:
    backup = tmp_path / "backup.csv"
    result = seeded(f"delete {CANCELED} {ACTIVE} --backup {backup} --yes --format json")
    assert result.exit_code == 5  # 1 is active
    assert f"Backup of 1 subscription written to {backup}" in result.stderr
    (row,) = list(csv.DictReader(io.StringIO(backup.read_text())))
    assert next(iter(row)) == "hs_object_id"
    assert (row["hs_object_id"], row["hs_status"]) == ("4", "canceled")
    assert row["hs_name"] == '\'=HYPERLINK("x") Hooli'  # spreadsheet-safe
    assert backup.stat().st_mode & 0o777 == 0o600
    assert seeded(f"view {CANCELED}").exit_code == 3
    assert seeded(f"view {ACTIVE}").exit_code == 0


def test_delete_on_a_tty(seeded: Invoke, tty: ScriptedPrompter) -> None:
    assert seeded(f"delete {CANCELED} --format json").exit_code == 0
    assert tty.questions == ["I understand deleted subscriptions cannot be restored"]


# -- update ------------------------------------------------------------------------------------


def test_update(seeded: Invoke) -> None:
    result = seeded(f"update {ACTIVE} --set name='Acme Corp – Pro'"
                    " --set 'Billing city=Springfield' --format json")  # fmt: skip
    assert result.exit_code == 0, result.stderr
    doc = view(seeded, ACTIVE)
    assert doc["properties"]["hs_name"] == "Acme Corp – Pro"
    assert doc["properties"]["hs_recipient_billing_city"] == "Springfield"
    assert doc["properties"]["hs_lastmodifieddate"] == "2026-11-26T12:00:00.000Z"
    assert {(h["property"], h["new"]) for h in doc["history"]} == {
        ("hs_name", "Acme Corp – Pro"),
        ("hs_recipient_billing_city", "Springfield"),
    }
    refused = seeded(f"update {UNPAID} --set name=x")
    assert refused.exit_code == 5
    assert "only active or scheduled subscriptions can be edited" in refused.stderr


def test_update_two_day_rule(seeded: Invoke) -> None:
    assert seeded(f"update {ACTIVE} --set due=2026-11-28").exit_code == 0
    result = seeded(f"update {ACTIVE} --set name=x")
    assert result.exit_code == 5
    assert (
        "Error: the next payment is due in 2 days (2026-11-28): subscriptions "
        "cannot be edited within 2 days of their next payment"
    ) in result.stderr


def test_update_validates_values(seeded: Invoke) -> None:
    result = seeded(f"update {ACTIVE} --set frequency=daily")
    assert result.exit_code == 2
    assert result.stderr.startswith('Error: frequency: "daily" is not an option')


def test_status_unpaid_emails_an_update_link(seeded: Invoke) -> None:
    result = seeded(f"update {ACTIVE} --set status=unpaid --format json")
    assert result.exit_code == 0, result.stderr
    doc = view(seeded, ACTIVE)
    assert doc["properties"]["hs_status"] == "unpaid"
    (mail,) = doc["outbox"]
    assert mail["kind"] == "payment_method_update" and mail["link"] in mail["body"]
    failed = [p for p in doc["payments"] if p["status"] == "failed"]
    assert failed == [
        {"id": 901, "amount": 99.0, "currency": "USD", "status": "failed", "method": "card",
         "kind": "payment", "created_at": "2026-11-26T12:00:00.000Z",
         "pending_bank_payment": False},
    ]  # fmt: skip
    assert doc["properties"]["hs_last_payment_status"] == "failed"


def test_pay_brings_an_unpaid_subscription_back(seeded: Invoke) -> None:
    assert seeded(f"update {ACTIVE} --set status=unpaid").exit_code == 0
    result = seeded(f"pay {ACTIVE} --format json")
    assert result.exit_code == 0, result.stderr
    assert rows(result.stdout) == [
        {"id": ACTIVE, "name": "Acme Corp – Pro monthly", "status": "unpaid", "outcome": "ok",
         "new_status": "active", "note": "paid 99.00 USD; next payment due 2027-01-01"},
    ]  # fmt: skip
    doc = view(seeded, ACTIVE)
    assert doc["status"]["value"] == "active"
    props = doc["properties"]
    assert (props["hs_next_payment_due_date"], props["hs_last_payment_status"],
            props["hs_last_payment_amount"]) == ("2027-01-01", "succeeded", 99.0)  # fmt: skip
    assert [(p["id"], p["status"], p["amount"]) for p in doc["payments"]] == [
        (901, "failed", 99.0),
        (902, "succeeded", 99.0),
    ]
    again = seeded(f"pay {ACTIVE} --format json")  # exactly once: nothing left to pay
    assert again.exit_code == 0 and rows(again.stdout)[0]["note"] == "already active"
    assert len(view(seeded, ACTIVE)["payments"]) == 2
    canceled = seeded(f"pay {CANCELED}")
    assert canceled.exit_code == 5
    assert "only an unpaid or past-due subscription owes a payment" in canceled.stderr


def test_pay_settles_every_period_due_and_previews_as_a_preview(
    seeded: Invoke, db: sa.Connection
) -> None:
    """A weekly subscription four weeks overdue: one payment of four periods, and the next due
    date after today (never active and overdue)."""
    import datetime as dt

    due = (dt.date(2026, 10, 31) - dt.date(1970, 1, 1)).days * 86_400_000  # epoch ms
    db.execute(
        sa.text(
            "UPDATE subscriptions SET hs_recurring_billing_frequency = 'weekly',"
            " hs_next_payment_due_date = :due WHERE hs_object_id = 3"
        ),
        {"due": due},
    )
    db.commit()
    preview = seeded("pay 3 --dry-run --format json")
    assert preview.exit_code == 0, preview.stderr
    assert rows(preview.stdout)[0]["note"] == (
        "would record a payment of 1200.00 USD (4 periods); next payment due 2026-11-28"
    )
    paid = seeded("pay 3 --yes --format json")
    assert rows(paid.stdout)[0]["note"] == (
        "paid 1200.00 USD (4 periods); next payment due 2026-11-28"
    )
    props = view(seeded, 3)["properties"]
    assert (props["hs_status"], props["hs_next_payment_due_date"]) == ("active", "2026-11-28")


def test_pay_a_batch_is_confirmed_and_journaled(seeded: Invoke, ws: WorkspaceCase) -> None:
    before = checksum(ws)
    refused = seeded("pay --where 'status = unpaid'")
    assert refused.exit_code == 2 and "confirmation required" in refused.stderr
    assert checksum(ws) == before
    result = seeded("pay --where 'status = unpaid' --yes --format json")
    assert result.exit_code == 5  # the pending bank payment of 2 settles its debt
    assert [(r["id"], r["outcome"], r["new_status"], r["note"]) for r in rows(result.stdout)] == [
        (UNPAID, "failed", "unpaid", "bank payment 900 (1200.00 EUR) is still processing: it "
         "settles the debt when it succeeds"),
        (UNPAID_NO_CONTACT, "ok", "active", "paid 300.00 USD; next payment due 2027-02-28"),
    ]  # fmt: skip
    (job,) = json.loads(seeded("jobs --format json").stdout)
    assert (job["command"], job["status"], job["ok"], job["failed"]) == ("pay", "done", 1, 1)
    assert [p["id"] for p in view(seeded, UNPAID)["payments"]] == [900]


def test_only_active_subscriptions_can_be_paused(seeded: Invoke) -> None:
    result = seeded(f"pause {UNPAID}")
    assert result.exit_code == 5
    assert "only active subscriptions can be paused" in result.stderr
    help_text = " ".join(seeded("pause --help").stdout.split())
    assert "Pause billing of active subscriptions" in help_text
    assert "unpaid, or past-due" not in help_text and "active, unpaid" not in help_text


# -- send-update-link and the outbox in view ------------------------------------------------------


def test_send_update_link(seeded: Invoke, ws: WorkspaceCase) -> None:
    before = checksum(ws)
    dry = seeded(f"send-update-link {UNPAID} --dry-run --format json")
    assert dry.exit_code == 0 and checksum(ws) == before
    result = seeded(f"send-update-link {UNPAID} --format json")
    assert result.exit_code == 0, result.stderr
    assert rows(result.stdout)[0]["link"] == rows(dry.stdout)[0]["link"]
    (mail,) = view(seeded, UNPAID)["outbox"]
    assert mail["to"] == "ada@example.com" and mail["link"] == rows(dry.stdout)[0]["link"]
    table = seeded(f"view {UNPAID} --format table").stdout
    assert "Outbox" in table and "payment_method_update to ada@example.com" in table


def test_highly_sensitive_values_are_masked_in_outcomes_and_jobs(seeded: Invoke) -> None:
    for args in (
        "property settings --tier enterprise",
        "property create --name tax_id --label 'Tax ID' --type string --field-type text "
        "--sensitivity highly_sensitive",
    ):
        assert seeded(args).exit_code == 0
    updated = seeded("update 1 --set tax_id=DK12345678 --format json")
    assert updated.exit_code == 0, updated.stderr
    assert "DK12345678" not in updated.stdout + updated.stderr
    assert json.loads(updated.stdout)[0]["note"] == "set tax_id=******"
    jobs = seeded("jobs --format json")
    assert "DK12345678" not in jobs.stdout
    assert "--set tax_id=******" in jobs.stdout


def test_sensitive_values_cannot_be_queried_or_backed_up_in_clear(seeded: Invoke) -> None:
    for args in (
        "property settings --tier enterprise",
        "property create --name secret --label Secret --type string --field-type text "
        "--sensitivity highly_sensitive",
        "update 1 --set secret=hunter2 --yes",
    ):
        assert seeded(args).exit_code == 0, args
    for args in ("list --where 'secret = hunter2'", "list --where 'secret ~ hunt*'",
                 "list --sort secret", "cancel --where 'secret = hunter2' --dry-run"):  # fmt: skip
        result = seeded(args)
        assert result.exit_code == 4, (args, result.stderr)
        assert result.stderr.startswith("Error: filtering or sorting on secret requires the")
    assert seeded("list --where 'has secret' --fields id").stdout == '[\n{"hs_object_id": 1}\n]\n'
    assert seeded("property settings --grant sensitive_data.view").exit_code == 0
    assert json.loads(seeded("list --where 'secret = hunter2'").stdout)[0]["hs_object_id"] == 1


def test_delete_backup_keeps_sensitive_values_whole_and_never_overwrites(
    seeded: Invoke, tmp_path: Path, ws: WorkspaceCase
) -> None:
    """A backup is whole or none: without ``sensitive_data.view`` a record holding a highly
    sensitive value is not deleted (a masked copy would lose it); with it, the value is kept."""
    for args in (
        "property settings --tier enterprise",
        "property create --name secret --label Secret --type string --field-type text "
        "--sensitivity highly_sensitive",
    ):
        assert seeded(args).exit_code == 0, args
    from subctl.config import workspace_url
    from subctl.store.sql import open_local

    store = open_local(workspace_url(ws.target)).records
    with store.db.engine.begin() as conn:
        conn.exec_driver_sql("UPDATE subscriptions SET secret = 'hunter2' WHERE hs_object_id = 4")
    store.close()
    backup = tmp_path / "gone.csv"
    refused = seeded(f"delete 4 --backup {backup} --yes")
    assert refused.exit_code == 4, refused.stderr
    assert "hunter2" not in refused.stdout + refused.stderr + backup.read_text()
    assert seeded("view 4 --format json").exit_code == 0  # still there
    assert seeded("property settings --grant sensitive_data.view").exit_code == 0
    resumed = seeded("jobs resume 1 --yes")
    assert resumed.exit_code == 0, resumed.stderr
    saved = (tmp_path / "gone-2.csv").read_text()
    rows = list(csv.DictReader(io.StringIO(saved)))
    assert [row["hs_object_id"] for row in rows] == ["4"] and rows[0]["secret"] == "hunter2"
    assert seeded("view 4").exit_code == 3
    again = seeded(f"delete 5 --backup {backup} --yes")
    assert again.exit_code == 2 and "already exists" in again.stderr


def test_nothing_to_act_on_asks_nothing_on_a_tty(seeded: Invoke, terminal: Terminal) -> None:
    fake = terminal()  # a terminal that has no answer to give
    result = seeded(f"pause {UNPAID} {CANCELED} --format json")
    assert fake.questions == []
    assert result.exit_code == 5, result.stderr
    assert [r["outcome"] for r in rows(result.stdout)] == ["failed", "failed"]
    assert "pause: 2 subscriptions selected, 0 to act on" in result.stderr
