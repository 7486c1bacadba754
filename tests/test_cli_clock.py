"""``subctl clock`` end to end: show, advance, set, reset; the workspace clock every verb uses;
billing as the clock moves (seeded: 1 active due 2026-12-01 with a contact, 2 unpaid with a
pending ACH payment 900 made 2025-01-01, 3 unpaid, 4 canceled, 5 scheduled to start
2027-01-01; SUBCTL_NOW 2026-11-26T12:00:00Z)."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import NOW, Invoke, WorkspaceCase, checksum

ACTIVE, UNPAID, UNPAID_NO_CONTACT, CANCELED, SCHEDULED = 1, 2, 3, 4, 5


def doc(invoke: Invoke, args: str) -> Any:
    result = invoke(args)
    assert result.exit_code == 0, result.stderr
    return json.loads(result.stdout)


def view(invoke: Invoke, sub_id: int) -> dict[str, Any]:
    data: dict[str, Any] = doc(invoke, f"view {sub_id} --format json")
    return data


def shown(data: dict[str, Any]) -> dict[str, Any]:
    """``clock --format json`` without the system time (the real clock)."""
    assert isinstance(data.pop("system_time"), str)
    return data


@pytest.fixture
def clocked(seeded: Invoke, monkeypatch: pytest.MonkeyPatch) -> Invoke:
    """The seeded workspace with its clock set to NOW (billing run up to it: payment 900
    settled), and SUBCTL_NOW unset: from here on the workspace's clock is the time."""
    result = seeded(f"clock set {NOW} --format json")
    assert result.exit_code == 0, result.stderr
    monkeypatch.delenv("SUBCTL_NOW")
    return seeded


# -- show ---------------------------------------------------------------------------------------


@pytest.mark.backends("sqlite", "postgresql")
def test_show_says_the_time_its_source_and_the_events_due(seeded: Invoke) -> None:
    assert shown(doc(seeded, "clock --format json")) == {
        "time": "2026-11-26T12:00:00.000Z",
        "source": "SUBCTL_NOW",
        "set": None,
        "due": {"settlement": 1},
        "due_total": 1,
    }
    assert shown(doc(seeded, "clock show --format json")) == shown(
        doc(seeded, "clock --format json")
    )
    table = seeded("clock show --format table")
    assert table.exit_code == 0, table.stderr
    assert "Time" in table.stdout and "2026-11-26T12:00:00Z" in table.stdout
    assert "SUBCTL_NOW (this command only)" in table.stdout
    assert "Billing events due: 1" in table.stdout and "settlement" in table.stdout


def test_show_as_csv_is_field_value_rows(seeded: Invoke) -> None:
    result = seeded("clock --format csv")
    assert result.exit_code == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[:4] == [
        "field,value",
        "time,2026-11-26T12:00:00.000Z",
        "source,SUBCTL_NOW",
        "set,",
    ]
    assert lines[4].startswith("system_time,")
    assert lines[5:] == ["due.settlement,1", "due_total,1"]


def test_the_set_clock_is_the_time_of_every_later_command(clocked: Invoke) -> None:
    assert shown(doc(clocked, "clock --format json")) == {
        "time": "2026-11-26T12:00:00.000Z",
        "source": "set",
        "set": "2026-11-26T12:00:00.000Z",
        "due": {},
        "due_total": 0,
    }
    # relative dates follow it
    listed = clocked("list --due-within 7d --fields id --format csv --sort id")
    assert listed.stdout == "hs_object_id\n1\n3\n"
    assert clocked("clock advance 30d --format csv").exit_code == 0
    listed = clocked("list --due-within 7d --fields id --format csv --sort id")
    assert listed.stdout == "hs_object_id\n1\n5\n"


def test_subctl_now_takes_precedence_over_the_set_clock(
    clocked: Invoke, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert clocked("clock advance 30d --format csv").exit_code == 0
    monkeypatch.setenv("SUBCTL_NOW", "2026-11-27T00:00:00Z")
    data = shown(doc(clocked, "clock --format json"))
    assert (data["time"], data["source"], data["set"]) == (
        "2026-11-27T00:00:00.000Z",
        "SUBCTL_NOW",
        "2026-12-26T12:00:00.000Z",
    )
    back = clocked("clock advance 1d")  # from SUBCTL_NOW: the set clock never moves back
    assert (back.exit_code, back.stdout) == (2, "")
    assert back.stderr.startswith(
        "Error: 2026-11-28T00:00:00.000Z is before the workspace's time (2026-12-26T12:00:00.000Z)"
    )
    monkeypatch.delenv("SUBCTL_NOW")
    assert shown(doc(clocked, "clock --format json"))["time"] == "2026-12-26T12:00:00.000Z"


def test_no_workspace_is_never_created_to_tell_the_time(invoke: Invoke, tmp_path: Path) -> None:
    assert invoke("clock --help").exit_code == 0
    result = invoke("clock")
    assert result.exit_code != 0 and result.stdout == ""
    assert "subctl init" in result.stderr
    assert not (tmp_path / "subctl-home" / "workspace.db").exists()


# -- advance and set: forward only, billing runs --------------------------------------------------


@pytest.mark.backends("sqlite", "postgresql")
def test_advance_runs_billing_and_reports_it(clocked: Invoke) -> None:
    result = clocked("clock advance 30d --format json")
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout) == {
        "clock": "2026-12-26T12:00:00.000Z",
        "previous": "2026-11-26T12:00:00.000Z",
        "until": "2026-12-26T12:00:00.000Z",
        "dry_run": False,
        "job": 2,
        "days": 1,
        "events": [{"kind": "renewal", "outcome": "succeeded", "count": 1}],
        "charged": {"USD": 99.0},
        "emails": 0,
    }
    assert result.stderr == (
        "Clock moved from 2026-11-26T12:00:00Z to 2026-12-26T12:00:00Z\n"
        "✔ Billed up to 2026-12-26T12:00:00Z (job 2): 1 event over 1 day; charged 99.00 USD; "
        "0 e-mails\n"
    )
    props = view(clocked, ACTIVE)["properties"]
    assert props["hs_next_payment_due_date"] == "2027-01-01"
    assert props["hs_last_payment_date"] == "2026-12-01T00:00:00.000Z"
    csv = clocked("clock advance 12h --format csv")
    assert (csv.exit_code, csv.stdout) == (0, "kind,outcome,count\n")
    assert "no billing events due up to 2026-12-27T00:00:00Z" in csv.stderr


@pytest.mark.parametrize(
    ("start", "duration", "end"),
    [
        ("2027-01-31T10:00:00Z", "1m", "2027-02-28T10:00:00Z"),  # calendar months, clamped
        ("2028-01-31T00:00:00Z", "1m", "2028-02-29T00:00:00Z"),  # leap year
        ("2027-01-31T10:00:00Z", "3m", "2027-04-30T10:00:00Z"),
        ("2027-01-01T23:00:00Z", "2h", "2027-01-02T01:00:00Z"),
        ("2027-01-01T00:00:00Z", "2w", "2027-01-15T00:00:00Z"),
        ("2027-01-01T00:00:00Z", "30d", "2027-01-31T00:00:00Z"),
        ("2027-02-28T00:00:00Z", "1y", "2028-02-28T00:00:00Z"),
    ],
)
def test_durations(start: str, duration: str, end: str) -> None:
    from subctl.commands.clock import after

    assert after(dt.datetime.fromisoformat(start), duration) == dt.datetime.fromisoformat(end)


def test_a_bad_duration_is_a_usage_error(clocked: Invoke) -> None:
    result = clocked("clock advance soon")
    assert result.exit_code == 2
    assert result.stderr == (
        'Error: DURATION: "soon" is not a duration like 30d, 2w, 12h or 3m (months)\n'
    )
    result = clocked("clock advance 0d")
    assert (result.exit_code, result.stdout) == (2, "")
    assert result.stderr == (
        'Error: DURATION: "0d" does not move the clock\nHint: give a duration like 30d or 12h\n'
    )
    # a long duration is one: past ten years, or past the latest time a clock shows
    result = clocked("clock advance 999999d")
    assert (result.exit_code, result.stderr.splitlines()[0]) == (
        2,
        "Error: 4764-10-22T12:00:00.000Z is more than 10 years after the workspace's time "
        "(2026-11-26T12:00:00.000Z): the clock moves at most 10 years at a time",
    )
    latest = "the latest time a workspace's clock can show (9000-12-31)\n"
    for args, error in (
        ("clock advance 99999999999999999999d", 'DURATION: "99999999999999999999d" goes past '),
        ("clock set 9999-12-31", 'WHEN: "9999-12-31" is after '),
    ):
        result = clocked(args)
        assert (result.exit_code, result.stderr) == (2, f"Error: {error}{latest}")


@pytest.mark.backends("sqlite", "postgresql")
def test_the_clock_never_moves_back(clocked: Invoke, ws: WorkspaceCase) -> None:
    before = checksum(ws)
    for args in ("clock set 2026-11-01", "clock set 2026-11-01 --dry-run"):
        result = clocked(args)
        assert (result.exit_code, result.stdout) == (2, ""), result.stderr
        assert result.stderr == (
            "Error: 2026-11-01T00:00:00.000Z is before the workspace's time "
            "(2026-11-26T12:00:00.000Z): the clock only moves forward\n"
            "Hint: `subctl clock` shows the workspace's time; pick a later one\n"
        )
    assert checksum(ws) == before


def test_the_clock_moves_at_most_ten_years_per_command(clocked: Invoke, ws: WorkspaceCase) -> None:
    # 1000y billed ~365,000 days (minutes, gigabytes) and the clock cannot go back
    before = checksum(ws)
    hint = (
        "Hint: move it in steps of at most 10 years "
        "(`subctl clock advance 10y`, billing runs at each step)\n"
    )
    for args, to in (
        ("clock advance 1000y", "3026-11-26T12:00:00.000Z"),
        ("clock advance 10y --dry-run", None),
        ("clock advance 121m --dry-run", "2036-12-26T12:00:00.000Z"),
        ("clock advance 3654d", "2036-11-27T12:00:00.000Z"),
        ("clock set 2036-11-26T12:00:01Z", "2036-11-26T12:00:01.000Z"),
        ("clock set +11y --dry-run", "2037-11-26T12:00:00.000Z"),
    ):
        result = clocked(args)
        if to is None:
            assert result.exit_code == 0, result.stderr
            continue
        assert (result.exit_code, result.stdout) == (2, ""), args
        assert result.stderr == (
            f"Error: {to} is more than 10 years after the workspace's time "
            "(2026-11-26T12:00:00.000Z): the clock moves at most 10 years at a time\n" + hint
        ), args
    assert checksum(ws) == before
    assert clocked("clock set 2036-11-26T12:00:00Z --format csv").exit_code == 0
    assert clocked("clock advance 10y --format csv").exit_code == 0  # in steps: fine
    assert shown(doc(clocked, "clock --format json"))["time"] == "2046-11-26T12:00:00.000Z"


def test_set_takes_dates_and_datetimes(clocked: Invoke) -> None:
    assert clocked("clock set 2026-11-27 --format csv").exit_code == 0
    assert shown(doc(clocked, "clock --format json"))["time"] == "2026-11-27T00:00:00.000Z"
    assert clocked("clock set 2026-11-27T08:30:00Z --format csv").exit_code == 0
    assert shown(doc(clocked, "clock --format json"))["time"] == "2026-11-27T08:30:00.000Z"
    bad = clocked("clock set someday")
    assert bad.exit_code == 2 and bad.stderr.startswith('Error: WHEN: "someday" is not a date')


@pytest.mark.backends("sqlite", "postgresql")
def test_a_dry_run_changes_nothing_not_even_the_clock(clocked: Invoke, ws: WorkspaceCase) -> None:
    before = checksum(ws)
    result = clocked("clock advance 60d --dry-run --format json")
    assert result.exit_code == 0, result.stderr
    data = json.loads(result.stdout)
    assert (data["dry_run"], data["job"], data["until"]) == (True, None, "2027-01-25T12:00:00.000Z")
    kinds = {(e["kind"], e["outcome"]): e["count"] for e in data["events"]}
    assert kinds == {("renewal", "succeeded"): 2, ("start", "succeeded"): 1}
    assert result.stderr.startswith("✔ Dry run, nothing changed: up to 2027-01-25T12:00:00Z")
    assert checksum(ws) == before
    assert shown(doc(clocked, "clock --format json"))["time"] == "2026-11-26T12:00:00.000Z"


# -- reset -----------------------------------------------------------------------------------------


def system_time(monkeypatch: pytest.MonkeyPatch, at: str) -> None:
    """The real system clock at ``at`` (``clock reset`` reads it, never SUBCTL_NOW)."""
    moment = dt.datetime.fromisoformat(at)
    monkeypatch.setattr("subctl.commands.clock.real_clock", lambda: moment)


@pytest.mark.backends("sqlite", "postgresql")
def test_reset_is_refused_while_the_clock_is_ahead(
    clocked: Invoke, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert clocked("clock advance 30d --format csv").exit_code == 0
    system_time(monkeypatch, NOW)  # the system clock: behind the workspace's
    result = clocked("clock reset")
    assert (result.exit_code, result.stdout) == (5, "")
    assert result.stderr == (
        "Error: the workspace's clock (2026-12-26T12:00:00.000Z) is ahead of the system clock "
        "(2026-11-26T12:00:00.000Z): resetting would move time back\n"
        "Hint: time only moves forward; reset once the system clock has caught up\n"
    )
    system_time(monkeypatch, "2027-01-02T00:00:00+00:00")  # the system clock caught up
    result = clocked("clock reset --format json")
    assert result.exit_code == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["until"] == "2027-01-02T00:00:00.000Z"
    assert {(e["kind"], e["outcome"]) for e in data["events"]} == {
        ("start", "succeeded"),
        ("renewal", "succeeded"),
    }
    assert result.stderr.startswith("Clock reset to the system clock (2027-01-02T00:00:00Z)\n")
    assert shown(doc(clocked, "clock --format json"))["source"] == "system clock"
    again = clocked("clock reset --format csv")
    assert again.exit_code == 0
    assert again.stderr.startswith("The workspace already follows the system clock.\n")


@pytest.mark.backends("sqlite", "postgresql")
def test_reset_checks_the_system_clock_not_subctl_now(
    clocked: Invoke, ws: WorkspaceCase, monkeypatch: pytest.MonkeyPatch
) -> None:
    """SUBCTL_NOW pins one command's time: ahead of the workspace's clock, it is no system
    clock that has caught up, and the reset is refused with nothing billed."""
    assert clocked("clock set 2027-01-15T00:00:00Z --format csv").exit_code == 0
    system_time(monkeypatch, "2026-12-02T00:00:00+00:00")
    before = checksum(ws)
    monkeypatch.setenv("SUBCTL_NOW", "2027-01-20T00:00:00Z")
    result = clocked("clock reset --format csv")
    assert (result.exit_code, result.stdout) == (5, "")
    assert result.stderr == (
        "Error: the workspace's clock (2027-01-15T00:00:00.000Z) is ahead of the system clock "
        "(2026-12-02T00:00:00.000Z): resetting would move time back\n"
        "Hint: time only moves forward; reset once the system clock has caught up\n"
    )
    assert checksum(ws) == before
    monkeypatch.delenv("SUBCTL_NOW")
    assert shown(doc(clocked, "clock --format json"))["time"] == "2027-01-15T00:00:00.000Z"


# -- what billing does as the clock moves ----------------------------------------------------------


@pytest.mark.backends("sqlite", "postgresql")
def test_cancel_at_period_end_then_advance_cancels_with_the_email(clocked: Invoke) -> None:
    result = clocked(f"cancel {ACTIVE} --at-period-end --yes --format csv")
    assert result.exit_code == 0, result.stderr
    assert view(clocked, ACTIVE)["properties"]["hs_status"] == "active"
    assert clocked("clock advance 10d --format csv").exit_code == 0
    doc_ = view(clocked, ACTIVE)
    props = doc_["properties"]
    assert (props["hs_status"], props["hs_canceled_at"], props["hs_mrr"]) == (
        "canceled",
        "2026-12-01T00:00:00.000Z",
        0.0,
    )
    assert [(e["day"], e["kind"], e["outcome"], e["old_status"], e["new_status"])
            for e in doc_["events"]] == [
        ("2026-12-01", "cancellation", "canceled", "active", "canceled")
    ]  # fmt: skip
    sent = [(m["kind"], m["to"], m["created_at"]) for m in doc_["outbox"]]
    assert ("cancellation", "ada@example.com", "2026-12-01T00:00:00.000Z") in sent
    assert sum(1 for m in doc_["outbox"] if m["kind"] == "cancellation") == 2  # verb, then end
    assert any(c["source"] == "billing" and c["property"] == "hs_status" for c in doc_["history"])


@pytest.mark.backends("sqlite", "postgresql")
def test_a_scheduled_subscription_becomes_active_on_its_start_date(clocked: Invoke) -> None:
    assert clocked("clock set 2026-12-31T23:59:59Z --format csv").exit_code == 0
    assert view(clocked, SCHEDULED)["properties"]["hs_status"] == "scheduled"
    result = clocked("clock set 2027-01-01 --format csv")
    assert result.exit_code == 0, result.stderr
    doc_ = view(clocked, SCHEDULED)
    props = doc_["properties"]
    assert (props["hs_status"], props["hs_next_payment_due_date"]) == ("active", "2027-02-01")
    assert (props["hs_last_payment_amount"], props["hs_number_of_completed_payments"]) == (49.5, 1)
    events = [(e["day"], e["kind"], e["outcome"], e["amount"], e["currency"])
              for e in doc_["events"]]  # fmt: skip
    assert events == [("2027-01-01", "start", "succeeded", 49.5, "GBP")]
    assert [(p["amount"], p["currency"], p["status"]) for p in doc_["payments"]] == [
        (49.5, "GBP", "succeeded")
    ]


@pytest.mark.backends("sqlite", "postgresql")
def test_pause_with_a_resume_date_resumes_as_the_clock_passes_it(clocked: Invoke) -> None:
    result = clocked(f"pause {ACTIVE} --resume-on 2026-12-10 --yes --format csv")
    assert result.exit_code == 0, result.stderr
    assert "paused; resumes on 2026-12-10" in result.stdout
    props = view(clocked, ACTIVE)["properties"]
    assert (props["hs_status"], props["hs_resume_date"]) == ("paused", "2026-12-10")
    assert clocked("clock set 2026-12-09 --format csv").exit_code == 0
    assert view(clocked, ACTIVE)["properties"]["hs_status"] == "paused"  # not billed while paused
    assert clocked("clock set 2026-12-10 --format csv").exit_code == 0
    doc_ = view(clocked, ACTIVE)
    props = doc_["properties"]
    assert (props["hs_status"], props["hs_resume_date"], props["hs_mrr"]) == ("active", None, 99.0)
    assert [(e["day"], e["kind"], e["outcome"]) for e in doc_["events"]] == [
        ("2026-12-10", "resume", "resumed"),
        ("2026-12-10", "renewal", "succeeded"),  # billed again the day it resumes
    ]


@pytest.mark.backends("sqlite", "postgresql")
def test_resume_on_must_be_after_today_and_resume_or_cancel_clear_it(clocked: Invoke) -> None:
    result = clocked(f"pause {ACTIVE} --resume-on today --yes --format csv")
    assert (result.exit_code, result.stdout) == (2, "")
    assert result.stderr == "Error: --resume-on: 2026-11-26 is not after today (2026-11-26)\n"
    refused = [j["command"] for j in doc(clocked, "jobs --format json")]
    assert not [c for c in refused if c.startswith("pause")]  # refused before any job
    bad = clocked(f"pause {ACTIVE} --resume-on never --yes")
    assert bad.exit_code == 2 and bad.stderr.startswith('Error: --resume-on: "never" is not a date')
    assert clocked(f"pause {ACTIVE} --resume-on +30d --yes --format csv").exit_code == 0
    assert view(clocked, ACTIVE)["properties"]["hs_resume_date"] == "2026-12-26"
    assert clocked(f"resume {ACTIVE} --next-billing-date +5d --yes --format csv").exit_code == 0
    assert view(clocked, ACTIVE)["properties"]["hs_resume_date"] is None
    assert clocked(f"pause {ACTIVE} --resume-on +30d --yes --format csv").exit_code == 0
    assert clocked(f"cancel {ACTIVE} --yes --format csv").exit_code == 0
    props = view(clocked, ACTIVE)["properties"]
    assert (props["hs_status"], props["hs_resume_date"]) == ("canceled", None)
    jobs = doc(clocked, "jobs --format json")
    assert "pause --resume-on 2026-12-26" in [j["command"] for j in jobs]


def test_a_declined_card_makes_it_unpaid_with_the_update_link_email(clocked: Invoke) -> None:
    result = clocked(f"update {ACTIVE} --set 'payment_method=Visa - 0341' --yes --format csv")
    assert result.exit_code == 0, result.stderr
    result = clocked("clock advance 6d --format json")
    assert result.exit_code == 0, result.stderr
    data = json.loads(result.stdout)
    assert (data["events"], data["charged"], data["emails"]) == (
        [{"kind": "renewal", "outcome": "failed", "count": 1}],
        {},
        1,
    )
    doc_ = view(clocked, ACTIVE)
    props = doc_["properties"]
    assert (props["hs_status"], props["hs_next_payment_retry_date"]) == ("unpaid", "2026-12-04")
    assert doc_["outbox"][0]["kind"] == "payment_method_update"
    assert doc_["outbox"][0]["link"]
