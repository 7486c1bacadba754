"""``subctl segment`` end to end on demo data (300 subscriptions, seed 1) whose workspace clock is
set to NOW (SUBCTL_NOW unset afterwards, so ``clock advance`` moves the time every verb uses).

Expected memberships are computed here from ``list`` output (every subscription's raw values)
and the clock, independently of the segment code."""

from __future__ import annotations

import csv
import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import NOW, Invoke

START = dt.datetime.fromisoformat(NOW)


@pytest.fixture
def clocked(demo: Invoke, monkeypatch: pytest.MonkeyPatch) -> Invoke:
    result = demo(f"clock set {NOW} --format json")
    assert result.exit_code == 0, result.stderr
    monkeypatch.delenv("SUBCTL_NOW")
    return demo


def ok(invoke: Invoke, args: str, input: str | None = None) -> str:
    result = invoke(args, input=input)
    assert result.exit_code == 0, result.stderr
    return result.stdout


def doc(invoke: Invoke, args: str) -> Any:
    return json.loads(ok(invoke, args))


def every(invoke: Invoke, fields: str = "id,status,canceled_at,next_payment_due_date") -> list[Any]:
    rows: list[Any] = doc(invoke, f"list --all --fields {fields} --format json")
    return rows


def members(invoke: Invoke, name: str) -> list[int]:
    """A segment's member ids, sorted (``members`` lists them soonest-due first)."""
    return sorted(int(line) for line in ok(invoke, f"segment members {name} --format ids").split())


def at(value: str | None) -> dt.datetime | None:
    return None if value is None else dt.datetime.fromisoformat(value.replace("Z", "+00:00"))


def reengage_expected(invoke: Invoke, now: dt.datetime) -> list[int]:
    return sorted(
        r["hs_object_id"]
        for r in every(invoke)
        if r["hs_status"] in ("canceled", "expired")
        and (c := at(r["hs_canceled_at"])) is not None
        and c > now - dt.timedelta(days=60)
    )


def due_expected(invoke: Invoke, today: dt.date) -> list[int]:
    return sorted(
        r["hs_object_id"]
        for r in every(invoke)
        if r["hs_next_payment_due_date"] is not None
        and today
        <= dt.date.fromisoformat(r["hs_next_payment_due_date"])
        <= today + dt.timedelta(days=7)
    )


REENGAGE = "status in (canceled, expired) and canceled_at > -60d"
UPSELL = "subscription_tier = basic and status = active"
DUE = "next_payment_due_date between today and +7d"


# -- the article's two examples --------------------------------------------------------------


def test_reengage_verbatim_rolls_with_the_clock(clocked: Invoke) -> None:
    out = clocked(f"segment create reengage --where '{REENGAGE}' --format json")
    assert out.exit_code == 0, out.stderr
    expected = reengage_expected(clocked, START)
    # some canceled subscriptions are older than 60 days: the date condition matters
    canceled = [r for r in every(clocked) if r["hs_status"] in ("canceled", "expired")]
    assert 0 < len(expected) < len(canceled)
    assert json.loads(out.stdout)["size"] == len(expected)
    assert members(clocked, "reengage") == expected
    assert doc(clocked, "list --segment reengage --all --sort id --fields id --format json") == [
        {"hs_object_id": i} for i in expected
    ]
    ok(clocked, "clock advance 30d --format json")
    later = reengage_expected(clocked, START + dt.timedelta(days=30))
    assert later != expected  # the window moved: some left, others were canceled since
    assert members(clocked, "reengage") == later
    size = doc(clocked, "segment show reengage --format json")["size"]
    assert size == len(later)


def test_upsell_verbatim_with_a_custom_tier_property(clocked: Invoke) -> None:
    tier = "--option Basic --option Professional --option Enterprise"
    ok(clocked, f"property create --name subscription_tier --label 'Subscription tier' "
                f"--type enumeration {tier}")  # fmt: skip
    editable = "status = active and billable = on and next_payment_due_date > +3d"
    listed = doc(clocked, f"list --all --where '{editable}' --fields id --format json")
    picked = [r["hs_object_id"] for r in listed]
    basic, pro = picked[:6], picked[6:9]
    ok(clocked, f"update {' '.join(map(str, basic))} --set subscription_tier=Basic --yes")
    ok(clocked, f"update {' '.join(map(str, pro))} --set subscription_tier=Professional --yes")
    ok(clocked, f"segment create upsell --where '{UPSELL}'")
    assert members(clocked, "upsell") == sorted(basic)
    # a basic subscription that is canceled leaves the (dynamic) segment
    ok(clocked, f"cancel {basic[0]} --yes")
    assert members(clocked, "upsell") == sorted(basic[1:])
    listed = doc(clocked, "list --segment upsell --all --fields id,subscription_tier --format json")
    assert {r["subscription_tier"] for r in listed} == {"basic"}


def test_cancel_dry_run_on_a_segment(clocked: Invoke) -> None:
    ok(clocked, f"segment create reengage --where '{REENGAGE}'")
    size = len(members(clocked, "reengage"))
    result = clocked("cancel --segment reengage --dry-run --format json")
    assert result.exit_code == 0, result.stderr
    rows = json.loads(result.stdout)
    assert sorted(r["id"] for r in rows) == members(clocked, "reengage")
    assert {r["outcome"] for r in rows} == {"skipped"}  # already canceled or expired
    assert f"0 would be canceled, {size:,} skipped" in result.stderr
    # a dry run journals nothing; a segment of active ones would be canceled
    ok(clocked, "segment create monthly --where 'status = active and frequency = monthly'")
    result = clocked("cancel --segment monthly --dry-run --format json")
    assert result.exit_code == 0, result.stderr
    assert {r["outcome"] for r in json.loads(result.stdout)} == {"ok"}
    assert doc(clocked, "jobs --format json") == []


def test_segment_combines_with_where_and_unknown_is_not_found(clocked: Invoke) -> None:
    ok(clocked, f"segment create reengage --where '{REENGAGE}'")
    expected = [
        r["hs_object_id"]
        for r in every(clocked)
        if r["hs_object_id"] in set(reengage_expected(clocked, START))
        and r["hs_status"] == "expired"
    ]
    got = doc(clocked, "list --segment reengage --where 'status = expired' --all --sort id "
                       "--fields id --format json")  # fmt: skip
    assert [r["hs_object_id"] for r in got] == sorted(expected)
    result = clocked("list --segment nope")
    assert result.exit_code == 3
    assert result.stderr.startswith('Error: segment "nope" not found')
    result = clocked("pause --segment nope --dry-run")
    assert result.exit_code == 3


# -- snapshot vs dynamic, and diff across the clock ------------------------------------------


@pytest.mark.backends("sqlite", "postgresql")
def test_snapshot_freezes_dynamic_rolls_and_diff_tells_who_moved(clocked: Invoke) -> None:
    ok(clocked, f"segment create due --where '{DUE}'")
    ok(clocked, f"segment create due-frozen --snapshot --where '{DUE}'")
    first = due_expected(clocked, START.date())
    assert first and members(clocked, "due") == first == members(clocked, "due-frozen")
    assert doc(clocked, "segment diff due --format json")["entered"] == []

    ok(clocked, "clock advance 10d --format json")
    now = due_expected(clocked, START.date() + dt.timedelta(days=10))
    assert now != first
    assert members(clocked, "due") == now
    assert members(clocked, "due-frozen") == first  # frozen at creation
    diff = doc(clocked, "segment diff due --format json")
    assert diff == {
        "segment": "due",
        "since": "2026-11-26T12:00:00.000Z",
        "size": len(now),
        "entered": sorted(set(now) - set(first)),
        "left": sorted(set(first) - set(now)),
    }
    # a snapshot's diff: its stored members are unchanged since its refresh
    frozen = doc(clocked, "segment diff due-frozen --format json")
    assert (frozen["entered"], frozen["left"]) == ([], [])

    refreshed = doc(clocked, "segment refresh due --format json")
    assert refreshed["size"] == len(now)
    assert refreshed["entered"] == len(diff["entered"]) and refreshed["left"] == len(diff["left"])
    assert doc(clocked, "segment diff due --format json")["entered"] == []
    # --since a day of the first refresh: the membership then, rebuilt from the changes
    since = doc(clocked, "segment diff due --since 2026-11-26 --format json")
    assert (since["entered"], since["left"]) == (diff["entered"], diff["left"])
    result = clocked("segment diff due --since 2026-11-01")
    assert result.exit_code == 2
    assert "before the segment's first refresh" in result.stderr

    ok(clocked, "segment refresh due-frozen")
    assert members(clocked, "due-frozen") == now


def test_payment_due_reminder_recipe_across_clock_advance(clocked: Invoke) -> None:
    """The README recipe: a cron job runs `segment diff` then `segment refresh` each day."""
    ok(clocked, f"segment create payment-due --where '{DUE}'")
    seen = set(members(clocked, "payment-due"))
    for day in range(1, 4):
        ok(clocked, "clock advance 1d --format json")
        diff = doc(clocked, "segment diff payment-due --format json")
        now = set(due_expected(clocked, START.date() + dt.timedelta(days=day)))
        assert diff["entered"] == sorted(now - seen)
        assert diff["left"] == sorted(seen - now)
        ok(clocked, "segment refresh payment-due")
        seen = now
    refreshes = doc(clocked, "segment show payment-due --format json")["refreshes"]
    assert [r["at"][:10] for r in refreshes] == [
        "2026-11-26", "2026-11-27", "2026-11-28", "2026-11-29",
    ]  # fmt: skip


def test_diff_table_and_csv(clocked: Invoke) -> None:
    ok(clocked, "segment create vip --manual 5 6")
    ok(clocked, "segment add vip 7")
    ok(clocked, "segment remove vip 5")
    assert ok(clocked, "segment diff vip --format csv") == "id,change\n7,entered\n5,left\n"
    result = clocked("segment diff vip --format table")
    assert result.stdout.split() == ["ID", "Change", "─" * 12, "7", "entered", "5", "left"]
    assert result.stderr.startswith('"vip" since 2026-11-26 12:00: 1 entered, 1 left (2 members')


# -- manual segments, ids through pipes --------------------------------------------------------


@pytest.mark.backends("sqlite", "postgresql")
def test_manual_segment_from_ids_on_stdin(clocked: Invoke) -> None:
    ok(clocked, f"segment create reengage --where '{REENGAGE}'")
    ids = ok(clocked, "segment members reengage --sort id --format ids")
    assert ids == "".join(f"{i}\n" for i in reengage_expected(clocked, START))
    ok(clocked, "segment create copy --manual --from-file -", input=ids)
    assert members(clocked, "copy") == members(clocked, "reengage")
    result = clocked("segment add copy 1 2 999999")
    assert result.exit_code == 3  # an unknown id: nothing added
    assert members(clocked, "copy") == members(clocked, "reengage")
    result = clocked("segment add reengage 1")
    assert result.exit_code == 5
    assert "is dynamic" in result.stderr
    # ids in, ids out: `cancel --from-file -` takes what `--format ids` printed
    result = clocked("cancel --from-file - --dry-run --format ids", input=ids)
    assert result.exit_code == 0, result.stderr
    assert result.stdout == ids


def test_list_show_edit_delete(clocked: Invoke) -> None:
    ok(clocked, "segment create b --where 'status = paused' --description 'on hold'")
    ok(clocked, "segment create a --manual 3")
    paused = [r for r in every(clocked) if r["hs_status"] == "paused"]
    rows = doc(clocked, "segment list --format json")
    assert [(r["name"], r["kind"], r["size"], r["description"]) for r in rows] == [
        ("a", "manual", 1, ""),
        ("b", "dynamic", len(paused), "on hold"),
    ]
    assert doc(clocked, "segment --format json") == rows
    ok(clocked, "segment edit b --where 'status = paused or status = unpaid'")
    shown = doc(clocked, "segment show b --format json")
    assert shown["query"] == "status = paused or status = unpaid"
    branch = shown["hubspot_list"]["filterBranch"]
    assert [len(b["filters"]) for b in branch["filterBranches"]] == [1, 1]
    result = clocked("segment edit a --where 'status = paused'")
    assert result.exit_code == 5
    result = clocked("segment create a --manual 4")
    assert result.exit_code == 5
    result = clocked("segment create Bad --where 'status = paused'")
    assert result.exit_code == 2
    result = clocked("segment create c --where 'nosuchfield = 1'")
    assert result.exit_code == 2
    result = clocked("segment delete b")
    assert result.exit_code == 2  # off a terminal: --yes
    ok(clocked, "segment delete b --yes")
    assert [r["name"] for r in doc(clocked, "segment list --format json")] == ["a"]
    assert clocked("segment show b").exit_code == 3


def test_delete_names_the_jobs_run_on_the_segment(clocked: Invoke) -> None:
    ok(clocked, "segment create few --manual 3 4")
    result = clocked("pause --segment few --yes --format json")
    assert result.exit_code in (0, 5), result.stderr  # a job journaled either way
    job = doc(clocked, "jobs --format json")[0]
    assert "--segment few" in job["selection"]
    result = clocked("segment delete few")
    assert result.exit_code == 2
    assert f"jobs run with --segment few: {job['id']} (done)" in result.stderr


def test_show_names_what_the_lists_api_cannot_express(clocked: Invoke) -> None:
    ok(clocked, "segment create c --where 'associations.contact = 1'")
    shown = doc(clocked, "segment show c --format json")
    assert shown["hubspot_list"] is None
    assert shown["hubspot_list_error"].startswith(
        'the HubSpot Lists API cannot express "associations.contact = 1"'
    )
    result = clocked("segment show c --as-list")
    assert result.exit_code == 2
    assert result.stderr.startswith(
        'Error: the HubSpot Lists API cannot express "associations.contact = 1"'
    )
    ok(clocked, "segment create due --where 'next_payment_due_date between today and +7d'")
    request = doc(clocked, "segment show due --as-list")
    assert (request["name"], request["objectTypeId"], request["processingType"]) == (
        "due", "0-69", "DYNAMIC",
    )  # fmt: skip
    (conjunction,) = request["filterBranch"]["filterBranches"]
    assert conjunction["filters"][0]["operation"]["upperBoundTimePoint"]["offset"] == {"days": 7}


def test_format_ids_refuses_one_document(clocked: Invoke) -> None:
    result = clocked("view 1 --format ids")
    assert result.exit_code == 2
    assert result.stderr.startswith("Error: --format ids lists the ids of rows")


@pytest.mark.parametrize(
    "verb",
    [
        "list",
        "export",
        "cancel",
        "pause",
        "resume",
        "delete",
        "update",
        "associate",
        "send-update-link",
    ],  # fmt: skip
)
def test_every_selecting_verb_takes_segment(invoke: Invoke, verb: str) -> None:
    result = invoke(f"{verb} --help")
    assert result.exit_code == 0
    assert "--segment NAME" in result.stdout


def test_associate_every_member_of_a_segment(clocked: Invoke) -> None:
    ok(clocked, "segment create few --manual 1 2")
    out = ok(clocked, "associate --segment few --company 5 --format csv")
    assert [line.split(",")[:6] for line in out.splitlines()] == [
        ["line", "subscription_id", "object_type", "object_id", "associationTypeId", "outcome"],
        ["1", "1", "company", "5", "297", "added"],
        ["2", "2", "company", "5", "297", "added"],
    ]
    for sid in (1, 2):
        companies = doc(clocked, f"view {sid} --format json")["associations"]["company"]
        assert 5 in [c["id"] for c in companies]
    result = clocked("associate --segment few")
    assert result.exit_code == 2


def test_export_a_segment(clocked: Invoke, tmp_path: Path) -> None:
    ok(clocked, f"segment create reengage --where '{REENGAGE}'")
    target = tmp_path / "reengage.csv"
    result = clocked(f"export --segment reengage --properties all -o {target}")
    assert result.exit_code == 0, result.stderr
    with target.open(encoding="utf-8-sig", newline="") as handle:
        exported = sorted(int(row["Record ID"]) for row in csv.DictReader(handle))
    assert exported == members(clocked, "reengage") == reengage_expected(clocked, START)
    result = clocked(f"export --all --segment reengage -o {tmp_path / 'x.csv'}")
    assert result.exit_code == 2


def test_export_a_segment_to_xlsx(clocked: Invoke, tmp_path: Path) -> None:
    """The issue's `export --segment upsell -o x.xlsx`, on the re-engage segment."""
    from python_calamine import CalamineWorkbook

    ok(clocked, f"segment create reengage --where '{REENGAGE}'")
    target = tmp_path / "x.xlsx"
    result = clocked(f"export --segment reengage --properties all -o {target}")
    assert result.exit_code == 0, result.stderr
    sheet = CalamineWorkbook.from_path(str(target)).get_sheet_by_index(0).to_python()
    column = sheet[0].index("Record ID")
    assert sorted(int(row[column]) for row in sheet[1:]) == members(clocked, "reengage")
