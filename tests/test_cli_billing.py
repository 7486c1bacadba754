"""``subctl billing`` end to end: run (dry run, journaled job, resume), log (filters, formats),
settings; the due warning of ``list``/``filter``/``view``; ``view``'s timeline (seeded: 1 active
due 2026-12-01, 2 unpaid with a pending ACH payment 900 made 2025-01-01, which settles
2025-01-07; 5 scheduled to start 2027-01-01; SUBCTL_NOW 2026-11-26T12:00:00Z)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.conftest import Invoke, WorkspaceCase, checksum

ACTIVE, UNPAID, SCHEDULED = 1, 2, 5
DUE = "1 billing event due; run subctl billing run\n"
LOG_HEADER = (
    "id,day,subscription_id,kind,outcome,amount,currency,old_status,new_status,payment_id,"
    "job_id,note\n"
)
SETTLED = "1,2025-01-07,2,settlement,succeeded,1200.00,EUR,unpaid,unpaid,900,1,\n"


def ok(invoke: Invoke, args: str) -> Any:
    result = invoke(args)
    assert result.exit_code == 0, result.stderr
    return result


@pytest.fixture
def billed(seeded: Invoke, monkeypatch: pytest.MonkeyPatch) -> Invoke:
    """Billed up to NOW (job 1: payment 900 settled), then the clock moved to 2027-01-02 (job 2:
    1's renewal on 2026-12-01 and 2027-01-01, 5's start on 2027-01-01)."""
    ok(seeded, "billing run --format csv")
    ok(seeded, "clock set 2027-01-02 --format csv")
    monkeypatch.delenv("SUBCTL_NOW")
    return seeded


# -- run ---------------------------------------------------------------------------------------


@pytest.mark.backends("sqlite", "postgresql")
def test_a_dry_run_changes_nothing(seeded: Invoke, ws: WorkspaceCase) -> None:
    before = checksum(ws)
    result = ok(seeded, "billing run --dry-run --format json")
    assert json.loads(result.stdout) == {
        "until": "2026-11-26T12:00:00.000Z",
        "dry_run": True,
        "job": None,
        "days": 1,
        "events": [{"kind": "settlement", "outcome": "succeeded", "count": 1}],
        "charged": {},
        "emails": 0,
    }
    assert result.stderr == (
        "✔ Dry run, nothing changed: up to 2026-11-26T12:00:00Z, 1 event over 1 day; 0 e-mails\n"
    )
    assert checksum(ws) == before
    assert seeded("jobs --format csv").stderr == "No jobs yet.\n"


@pytest.mark.backends("sqlite", "postgresql")
def test_a_run_is_a_journaled_job_and_runs_once(seeded: Invoke, ws: WorkspaceCase) -> None:
    result = ok(seeded, "billing run --format csv")
    assert result.stdout == "kind,outcome,count\nsettlement,succeeded,1\n"
    assert result.stderr == (
        "✔ Billed up to 2026-11-26T12:00:00Z (job 1): 1 event over 1 day; 0 e-mails\n"
    )
    assert ok(seeded, "jobs --format csv").stdout == (
        "id,command,selection,status,total,ok,skipped,failed,attention,unprocessed,created_at\n"
        "1,billing run --until 2026-11-26T12:00:00Z,every subscription with an event due,"
        "done,1,1,,0,,,2026-11-26T12:00:00.000Z\n"
    )  # its totals: the events it carried out (its items are not journaled)
    assert ok(seeded, "jobs results 1 --format csv").stdout == LOG_HEADER + SETTLED
    before = checksum(ws)
    again = ok(seeded, "billing run --format csv")
    assert again.stdout == "kind,outcome,count\n"
    assert "no billing events due up to 2026-11-26T12:00:00Z" in again.stderr
    assert ok(seeded, "billing log --format csv").stdout == LOG_HEADER + SETTLED
    assert checksum(ws) == before  # nothing due: nothing written, not even a job
    resumed = seeded("jobs resume 1")
    assert (resumed.exit_code, resumed.stderr) == (
        5,
        "Error: job 1 is done; nothing left to resume\n",
    )


@pytest.mark.backends("sqlite", "postgresql")
def test_jobs_resume_finishes_an_interrupted_run(seeded: Invoke, ws: WorkspaceCase) -> None:
    import datetime as dt

    from subctl.store.sql import open_local

    backend = open_local(ws.url)
    job = backend.workspace.create_job(
        verb="billing", action={"until": "2026-11-26T12:00:00.000Z"}, selection={},
        fingerprint="billing", frozen=False, items=(),
        at=dt.datetime(2026, 11, 26, tzinfo=dt.UTC),
    )  # fmt: skip
    backend.close()
    assert "unfinished" in ok(seeded, "jobs --format csv").stdout
    result = ok(seeded, f"jobs resume {job.id} --format csv")
    assert result.stdout == "kind,outcome,count\nsettlement,succeeded,1\n"
    assert f"(job {job.id})" in result.stderr
    assert ok(seeded, f"billing log --job {job.id} --format csv").stdout == LOG_HEADER + SETTLED
    listed = json.loads(ok(seeded, "jobs --format json").stdout)
    assert [(j["id"], j["status"]) for j in listed] == [(job.id, "done")]


def test_until_after_the_clock_is_refused(seeded: Invoke) -> None:
    result = seeded("billing run --until 2027-01-01")
    assert (result.exit_code, result.stdout) == (2, "")
    assert result.stderr == (
        "Error: --until: 2027-01-01T00:00:00Z is after the workspace's time "
        "(2026-11-26T12:00:00Z)\n"
        "Hint: move the clock instead: `subctl clock set 2027-01-01`\n"
    )
    # past the clock's 10-year limit, the hint is steps, not a `clock set` that is refused
    far = seeded("billing run --until 2037-01-01")
    assert (far.exit_code, far.stdout) == (2, "")
    assert far.stderr == (
        "Error: --until: 2037-01-01T00:00:00.000Z is more than 10 years after the workspace's "
        "time (2026-11-26T12:00:00.000Z): the clock moves at most 10 years at a time\n"
        "Hint: move it in steps of at most 10 years "
        "(`subctl clock advance 10y`, billing runs at each step)\n"
    )
    early = ok(seeded, "billing run --until 2025-01-06 --format csv")  # before it settles
    assert early.stdout == "kind,outcome,count\n"


def test_the_summary_as_a_table(seeded: Invoke, monkeypatch: pytest.MonkeyPatch) -> None:
    result = ok(seeded, "billing run --format table")
    assert "Billing events" in result.stdout
    assert "settlement" in result.stdout and "succeeded" in result.stdout
    assert "E-mails" in result.stdout
    # the amounts charged per currency, right-aligned
    lines, _ = table(seeded, "clock set 2027-01-02", 80, monkeypatch)
    charged = lines[lines.index("Charged") + 2 :][:3]
    assert charged == [" GBP    49.50", " USD   198.00", ""]


# -- log ---------------------------------------------------------------------------------------


@pytest.mark.backends("sqlite", "postgresql")
def test_log_filters_and_formats(billed: Invoke) -> None:
    log = ok(billed, "billing log --format csv").stdout
    assert log == LOG_HEADER + SETTLED + (
        "2,2026-12-01,1,renewal,succeeded,99.00,USD,active,active,901,2,\n"
        "3,2027-01-01,5,start,succeeded,49.50,GBP,scheduled,active,902,2,\n"
        "4,2027-01-01,1,renewal,succeeded,99.00,USD,active,active,903,2,\n"
    )
    rows = json.loads(ok(billed, "billing log --kind start --format json").stdout)
    assert rows == [
        {"id": 3, "day": "2027-01-01", "subscription_id": 5, "kind": "start",
         "outcome": "succeeded", "amount": 49.5, "currency": "GBP", "old_status": "scheduled",
         "new_status": "active", "payment_id": 902, "job_id": 2, "note": None}
    ]  # fmt: skip

    def ids(args: str) -> list[int]:
        return [r["id"] for r in json.loads(ok(billed, f"billing log {args}").stdout)]

    assert ids("--id 1") == [2, 4]
    assert ids("--kind renewal --kind settlement") == [1, 2, 4]
    assert ids("--kind renewal,start") == [2, 3, 4]
    assert ids("--since 2026-12-15") == [3, 4]
    assert ids("--since -7d") == [3, 4]  # from the workspace's time, 2027-01-02
    assert ids("--since 7d") == [3, 4]  # an age, as audit's: seven days ago
    assert ids("--since 12h") == [3, 4]  # from the day it falls on: 2027-01-01
    assert ids("--since 2027-01-01T23:00:00Z") == [3, 4]
    assert ids("--since 2027-01-02") == []
    bad = billed("billing log --since soonish")
    assert (bad.exit_code, bad.stderr.splitlines()[0]) == (
        2,
        'Error: --since: "soonish" is neither an age nor a date or time',
    )
    assert ids("--job 1") == [1]
    assert ids("--job 2 --id 5") == [3]
    ndjson = ok(billed, "billing log --format ndjson --limit 2").stdout.splitlines()
    assert [json.loads(line)["id"] for line in ndjson] == [1, 2]
    none = ok(billed, "billing log --id 3 --format csv")
    assert (none.stdout, none.stderr) == (LOG_HEADER, "No billing events.\n")


def test_log_limits_say_what_was_cut(billed: Invoke) -> None:
    result = ok(billed, "billing log --limit 3 --format csv")
    assert result.stdout.count("\n") == 1 + 3
    assert result.stderr == "Showing 3 of 4 billing events; use --all or --limit\n"
    assert ok(billed, "billing log --limit 4 --format csv").stderr == ""
    assert ok(billed, "billing log --all --format csv").stdout.count("\n") == 1 + 4
    both = billed("billing log --all --limit 3")
    assert both.exit_code == 2 and both.stderr.startswith("Error: --all and --limit cannot")
    for verb in ("billing log", "jobs results 1"):  # past a 64-bit integer: a usage error
        huge = billed(f"{verb} --limit 9223372036854775808")
        assert (huge.exit_code, huge.stdout) == (2, ""), huge.stderr
        assert huge.stderr.startswith(
            "Error: Invalid value for '--limit' / '-n': 9223372036854775808 is not in the range"
            " 1<=x<=9223372036854775807."
        ), huge.stderr


def test_log_of_something_that_does_not_exist_is_not_found(billed: Invoke) -> None:
    for args, error in (
        ("billing log --job 99", "Error: job 99 not found\n"),
        ("billing log --id 99", "Error: subscription 99 not found\n"),
    ):
        result = billed(args)
        assert (result.exit_code, result.stdout) == (3, ""), args
        assert result.stderr.startswith(error), result.stderr
    ok(billed, f"cancel {SCHEDULED} --yes --format csv")  # a job that is not a billing run
    jobs = json.loads(ok(billed, "jobs --format json").stdout)
    other = next(j["id"] for j in jobs if not j["command"].startswith(("billing", "clock")))
    result = billed(f"billing log --job {other}")
    assert (result.exit_code, result.stderr) == (
        3,
        f"Error: job {other} is not a billing run\nHint: list batches with `subctl jobs`\n",
    )
    # an existing subscription without events: an empty log, not an error
    empty = ok(billed, f"billing log --id {UNPAID} --kind renewal --format csv").stdout
    assert empty == LOG_HEADER


def test_log_refuses_an_unknown_kind(billed: Invoke) -> None:
    result = billed("billing log --kind refund")
    assert (result.exit_code, result.stdout) == (2, "")
    assert result.stderr == (
        'Error: --kind: "refund" is not a billing event (start, renewal, retry, settlement, '
        "cancellation, expiry, resume)\n"
    )


# -- settings ----------------------------------------------------------------------------------


@pytest.mark.backends("sqlite", "postgresql")
def test_settings_and_set(seeded: Invoke) -> None:
    assert ok(seeded, "billing settings --format csv").stdout == (
        "key,value,description\n"
        'billing.retry_days,"3,5,7",days after a failed card payment\'s due date when it is '
        "retried\n"
        "billing.settlement_days,6,days until a bank (ACH) payment settles\n"
        'billing.after_last_retry,past_due,"status after the last failed retry: past_due, unpaid '
        'or canceled"\n'
        "billing.commit_seconds,10,seconds of work a billing run commits at a time (whole days; "
        "0: every day)\n"
    )
    result = ok(seeded, "billing set billing.retry_days 2,4 --format json")
    assert json.loads(result.stdout) == {"key": "billing.retry_days", "value": "2,4"}
    assert result.stderr == "✔ billing.retry_days = 2,4\n"
    settings = json.loads(ok(seeded, "billing settings --format json").stdout)
    assert settings[0] == {
        "key": "billing.retry_days",
        "value": "2,4",
        "description": "days after a failed card payment's due date when it is retried",
    }
    bad = seeded("billing set billing.retry_days 4,2")
    assert bad.exit_code == 2
    assert bad.stderr == (
        'Error: billing.retry_days: "4,2" is not a list of increasing days from 1 to 60 '
        "(e.g. 3,5,7; none: no retries)\n"
        "Hint: `subctl billing settings` lists them\n"
    )
    empty = seeded(["billing", "set", "billing.retry_days", ""])
    assert empty.exit_code == 2, "an empty list is refused (none turns retries off)"
    assert empty.stderr.startswith('Error: billing.retry_days: "" is not a list of increasing')
    for text, shown in (("2.5", "2.5"), ("0", "0"), (" 600 ", "600"), (".5", "0.5")):
        result = ok(seeded, ["billing", "set", "billing.commit_seconds", text, "--format", "json"])
        assert json.loads(result.stdout) == {"key": "billing.commit_seconds", "value": shown}
    # plain ASCII decimals only: float() took "1_0", full-width digits, exponents, "inf"
    for text in ("-1", "601", "nan", "soon", "1_0", "\uff11\uff10", "1e2", "inf", "+5", "5."):
        bad = seeded(["billing", "set", "billing.commit_seconds", "--", text])
        assert bad.exit_code == 2, text
        assert bad.stderr.startswith(
            f'Error: billing.commit_seconds: "{text}" is not a number of seconds from 0 to 600\n'
        )
    unknown = seeded("billing set retries 3")
    assert unknown.exit_code == 2
    assert unknown.stderr.startswith('Error: "retries" is not a billing setting (billing.retry_')


def test_the_retry_setting_is_followed(seeded: Invoke) -> None:
    ok(seeded, "billing set billing.retry_days 2")
    ok(seeded, "billing set billing.after_last_retry canceled")
    ok(seeded, f"update {ACTIVE} --set 'payment_method=Visa - 0341' --yes --format csv")
    ok(seeded, "clock set 2026-12-04 --format csv")
    doc = json.loads(ok(seeded, f"view {ACTIVE} --format json").stdout)
    assert doc["properties"]["hs_status"] == "canceled"
    assert [(e["day"], e["kind"], e["outcome"], e["new_status"]) for e in doc["events"]] == [
        ("2026-12-01", "renewal", "failed", "unpaid"),
        ("2026-12-03", "retry", "failed", "canceled"),
    ]
    kinds = [m["kind"] for m in doc["outbox"]]
    assert kinds.count("payment_method_update") == 1 and kinds.count("cancellation") == 1


# -- the due warning, the timeline --------------------------------------------------------------


@pytest.mark.backends("sqlite", "postgresql")
def test_list_filter_and_view_warn_on_stderr_when_events_are_due(seeded: Invoke) -> None:
    for args in (
        "list --fields id --format csv",
        "list --fields id --format json",
        "filter --where 'mrr >= 0' --fields id --format csv",
        f"view {ACTIVE} --format json",
        f"view {ACTIVE} --format table",
    ):
        result = ok(seeded, args)
        assert result.stderr == DUE, args
        assert "billing event" not in result.stdout, args
    ok(seeded, "billing run --format csv")
    for args in ("list --fields id --format csv", f"view {ACTIVE} --format json"):
        assert ok(seeded, args).stderr == "", args


def test_the_warning_counts_every_kind_due(billed: Invoke, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SUBCTL_NOW", "2027-03-02T00:00:00Z")  # two renewals of 1, one of 5
    assert ok(billed, "list --format csv --fields id").stderr == (
        "2 billing events due; run subctl billing run\n"  # the first of each subscription
    )


@pytest.mark.backends("sqlite", "postgresql")
def test_view_shows_the_timeline(billed: Invoke) -> None:
    doc = json.loads(ok(billed, f"view {ACTIVE} --format json").stdout)
    assert doc["events"] == [
        {"id": 2, "day": "2026-12-01", "kind": "renewal", "outcome": "succeeded",
         "old_status": "active", "new_status": "active", "amount": 99.0, "currency": "USD",
         "payment": 901, "job": 2, "note": None},
        {"id": 4, "day": "2027-01-01", "kind": "renewal", "outcome": "succeeded",
         "old_status": "active", "new_status": "active", "amount": 99.0, "currency": "USD",
         "payment": 903, "job": 2, "note": None},
    ]  # fmt: skip
    assert list(doc) == [
        "id", "properties", "status", "associations", "payments", "history", "outbox", "events"
    ]  # fmt: skip
    table = ok(billed, f"view {SCHEDULED} --format table").stdout
    timeline = table[table.index("Billing timeline") :].splitlines()
    assert timeline[1].split() == ["Day", "Event", "Outcome", "Amount", "Status"]
    assert timeline[3].split() == [
        "2027-01-01", "start", "succeeded", "49.50", "GBP", "scheduled", "→", "active"
    ]  # fmt: skip
    assert ok(billed, f"view {UNPAID} --format json").stderr == ""


# -- the log's table on a terminal -------------------------------------------------------------


@pytest.fixture
def overdue(demo: Invoke) -> Invoke:
    """The demo workspace billed 40 days on: subscription 5's renewal fails, as do its retries,
    until none is left (notes), with payments and a job."""
    ok(demo, "clock advance 40d --format csv")
    return demo


def table(invoke: Invoke, args: str, width: int, monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.setenv("COLUMNS", str(width))
    result = ok(invoke, args + " --format table")
    lines = result.stdout.splitlines()
    assert max(map(len, lines)) <= width, result.stdout
    return [line.rstrip() for line in lines], result.stderr


def test_the_log_fits_80_columns_with_status_and_note(
    overdue: Invoke, monkeypatch: pytest.MonkeyPatch
) -> None:
    """80 columns: the event with its outcome mark, the amount with its currency, old → new
    status and the note (wrapped); payment, job and the event id are said to be left out."""
    assert table(overdue, "billing log --id 5", 80, monkeypatch) == (
        [
            "Day          Sub   Event             Amount   Status              Note",
            "────────────────────────────────────────────────────────────────────────────────",
            "2026-12-06     5   renewal ✗   15980.00 USD   active → unpaid     retry on",
            "                                                                  2026-12-09",
            "2026-12-09     5   retry ✗     15980.00 USD   unpaid              retry on",
            "                                                                  2026-12-11",
            "2026-12-11     5   retry ✗     15980.00 USD   unpaid              retry on",
            "                                                                  2026-12-13",
            "2026-12-13     5   retry ✗     15980.00 USD   unpaid → past_due   no retries",
            "                                                                  left",
        ],
        "(3 columns left out to fit: payment_id, job_id, id)\n",
    )
    # every event of the run, the start, settlement, cancellation and resume among them
    lines, note = table(overdue, "billing log --all", 80, monkeypatch)
    assert lines[0].split() == ["Day", "Sub", "Event", "Amount", "Status", "Note"]
    assert note == "(3 columns left out to fit: payment_id, job_id, id)\n"
    # a billing run's results are its log, in the same table
    assert table(overdue, "jobs results 1", 80, monkeypatch) == (lines, note)
    events = {line.split("   ")[2].strip() for line in lines[2:] if line[:1] == "2"}
    assert {"start ✓", "start *", "renewal ✓", "renewal *", "renewal ✗", "retry ✓", "retry ✗",
            "settlement ✓", "cancellation", "resume"} <= events  # fmt: skip


def test_a_wide_terminal_shows_every_column_of_the_log(
    overdue: Invoke, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert table(overdue, "billing log --id 5", 200, monkeypatch) == (
        [
            "Day          Sub   Event             Amount   Status              Note"
            "                  Payment   Job    ID",
            "─" * 107,
            "2026-12-06     5   renewal ✗   15980.00 USD   active → unpaid     retry on 2026-12-09"
            "       603     1    79",
            "2026-12-09     5   retry ✗     15980.00 USD   unpaid              retry on 2026-12-11"
            "       614     1    91",
            "2026-12-11     5   retry ✗     15980.00 USD   unpaid              retry on 2026-12-13"
            "       623     1   103",
            "2026-12-13     5   retry ✗     15980.00 USD   unpaid → past_due   no retries left"
            "           632     1   118",
        ],
        "",
    )
    # the data formats keep every field apart
    (row,) = json.loads(ok(overdue, "billing log --id 5 --kind renewal --format json").stdout)
    assert (row["kind"], row["outcome"], row["old_status"], row["new_status"], row["note"]) == (
        "renewal", "failed", "active", "unpaid", "retry on 2026-12-09"
    )  # fmt: skip


def test_jobs_totals_a_billing_run_by_its_events(
    overdue: Invoke, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A billing run's totals in ``jobs``: the events it carried out (total), the failed
    payments among them (failed) and the rest (ok), as its log has them; skipped, attention
    and unprocessed do not apply (null). Other jobs keep their journal's counts."""
    ok(overdue, "cancel 1 2 --yes --format csv")
    log = json.loads(ok(overdue, "billing log --job 1 --all --format json").stdout)
    failed = sum(1 for event in log if event["outcome"] == "failed")
    assert (len(log), failed) == (269, 9)
    listed = json.loads(ok(overdue, "jobs --format json").stdout)
    keys = ("id", "status", "total", "ok", "skipped", "failed", "attention", "unprocessed")
    assert [{k: j[k] for k in keys} for j in listed] == [
        {"id": 2, "status": "done", "total": 2, "ok": 2, "skipped": 0, "failed": 0,
         "attention": 0, "unprocessed": 0},
        {"id": 1, "status": "done", "total": 269, "ok": 260, "skipped": None, "failed": 9,
         "attention": None, "unprocessed": None},
    ]  # fmt: skip
    lines, _ = table(overdue, "jobs", 160, monkeypatch)
    assert lines[2:] == [
        "  2   cancel                                     2 id(s)            done         2"
        "     2         0        0           0             0   2026-11-26T12:00:00.000Z",
        "  1   billing run --until 2027-01-05T12:00:00Z   every subscript…   done       269"
        "   260                  9                             2026-11-26T12:00:00.000Z",
    ]


# -- payments billing charged: associated through their billing event ---------------------------


@pytest.mark.backends("sqlite", "postgresql")
def test_billing_payments_are_associated_through_their_events(
    billed: Invoke, ws: WorkspaceCase
) -> None:
    import sqlalchemy as sa

    from tests.conftest import connect

    with connect(ws) as conn:
        charged = [int(r[0]) for r in conn.execute(sa.text(
            "SELECT p.id FROM payments p JOIN billing_events e ON e.id = p.billing_event_id"
            " WHERE e.subscription_id = 1 ORDER BY p.id"))]  # fmt: skip
        rows = conn.execute(sa.text(
            "SELECT count(*) FROM associations WHERE object_type = 'payment'"
            " AND subscription_id = 1")).scalar_one()  # fmt: skip
    assert len(charged) == 2 and rows == 0  # the renewals of 2026-12-01 and 2027-01-01
    shown = json.loads(ok(billed, "view 1 -f json").stdout)
    assert [p["id"] for p in shown["payments"]] == charged
    assert [a["id"] for a in shown["associations"]["payment"]] == charged
    found = ok(billed, f"list --where 'associations.payment = {charged[0]}' --fields id -f json")
    assert json.loads(found.stdout) == [{"hs_object_id": 1}]
    # Associating it again changes nothing; with another subscription, or removing it: refused.
    assert ok(billed, f"associate 1 --payment {charged[0]}").exit_code == 0
    again = json.loads(ok(billed, "view 1 -f json").stdout)["associations"]["payment"]
    assert [a["id"] for a in again] == charged
    other = billed(f"associate 3 --payment {charged[0]}")
    assert other.exit_code == 5
    assert other.stderr.startswith(f"Error: payment {charged[0]} already belongs to subscription 1")
    removed = billed(f"associate 1 --payment {charged[0]} --remove")
    assert removed.exit_code == 5
    assert removed.stderr == (
        f"Error: payment {charged[0]} was charged by billing for subscription 1:"
        " it stays associated with it\n"
    )


# -- pending bank payments of deleted subscriptions ---------------------------------------------


@pytest.mark.backends("sqlite", "postgresql")
def test_a_deleted_subscriptions_pending_bank_payment_settles_alone(
    seeded: Invoke, ws: WorkspaceCase, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Billing charged it, so it still settles on its day (succeeded: the test value that fails
    is the deleted subscription's payment method): logged under the subscription's id, no
    status, no e-mail; billing goes on past it."""
    import sqlalchemy as sa

    from tests.conftest import connect

    ok(seeded, f"update {ACTIVE} --set 'hs_payment_method=ACH - 1116' --yes --format csv")
    ok(seeded, "clock set 2026-12-02 --format csv")  # the renewal of 2026-12-01: processing
    monkeypatch.delenv("SUBCTL_NOW")
    ok(seeded, f"cancel {ACTIVE} --yes --format csv")
    ok(seeded, f"delete {ACTIVE} --yes --format csv")
    assert json.loads(ok(seeded, "clock --format json").stdout)["due"] == {}
    moved = seeded("clock set 2027-01-02 --format json")
    assert moved.exit_code == 0, moved.stderr
    assert json.loads(moved.stdout)["emails"] == 0
    assert json.loads(moved.stdout)["events"] == [
        {"kind": "start", "outcome": "succeeded", "count": 1},
        {"kind": "settlement", "outcome": "succeeded", "count": 1},
    ]
    log = ok(seeded, f"billing log --id {ACTIVE} --format csv").stdout
    assert log == LOG_HEADER + (
        "2,2026-12-01,1,renewal,processing,99.00,USD,active,active,901,2,\n"
        "3,2026-12-07,1,settlement,succeeded,99.00,USD,,,901,5,"
        "subscription deleted: the payment settled alone\n"
    )
    with connect(ws) as conn:
        status = conn.execute(sa.text("SELECT status FROM payments WHERE id = 901")).scalar_one()
    assert status == "succeeded"
    assert json.loads(ok(seeded, "clock --format json").stdout)["due_total"] == 0


@pytest.mark.backends("sqlite", "postgresql")
def test_a_payment_associated_with_no_subscription_is_not_billings(seeded: Invoke) -> None:
    """Payment 900, recorded by hand and associated with subscription 2, goes with its
    association when 2 is deleted: nothing is due any more and a run does nothing."""
    assert json.loads(ok(seeded, "clock --format json").stdout)["due"] == {"settlement": 1}
    ok(seeded, f"cancel {UNPAID} --yes --format csv")
    ok(seeded, f"delete {UNPAID} --yes --format csv")
    assert json.loads(ok(seeded, "clock --format json").stdout)["due"] == {}
    result = ok(seeded, "billing run --format json")
    assert (json.loads(result.stdout)["events"], json.loads(result.stdout)["job"]) == ([], None)
    assert seeded("list --format csv").stderr == ""  # no due warning


@pytest.mark.backends("sqlite", "postgresql")
def test_a_subscription_changed_back_to_an_event_already_carried_out_is_named(
    seeded: Invoke, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Its renewal of the day was carried out: due again the same day, it is not charged twice
    (no database conflict), and the run says which subscription blocks it and how to move it."""
    ok(seeded, "clock set 2026-12-01T12:00:00Z --format csv")  # 1 renewed on 2026-12-01
    monkeypatch.delenv("SUBCTL_NOW")
    ok(seeded, f"update {ACTIVE} --set hs_next_payment_due_date=2026-12-01 --yes --format csv")
    result = seeded("billing run --format csv")
    assert (result.exit_code, result.stdout) == (5, "")
    assert result.stderr == (
        "Error: billing events due on 2026-12-01 could not be carried out: subscription 1's "
        "renewal is due again on a day billing already carried it out\n"
        "Hint: an event is carried out once per subscription, kind and day: move its date on "
        "(`subctl update 1 --set hs_next_payment_due_date=…`) or see "
        "`subctl billing log --id 1`\n"
    )
    assert seeded("billing run --format csv").stderr == result.stderr  # the same, every run
