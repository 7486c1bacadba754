"""The audit log (m009, ``subctl audit``): every change with who, what and before/after, on
SQLite and PostgreSQL; append-only; kept for deleted subscriptions; secrets redacted."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import Invoke, WorkspaceCase, connect

pytestmark = pytest.mark.backends("sqlite", "postgresql")

SCENARIO = [
    "update 1 --set hs_name=Renamed --yes",
    "pause 1 --yes",
    "resume 1 --next-billing-date 2026-12-15 --yes",
    "pay 3 --yes",
    "cancel 3 --refund unused --yes",
    "associate 3 --contact 17",
    "property create --name tier --type string --label Tier",
    "property edit tier --label 'Plan tier'",
    "property delete tier --yes",
    "segment create vip --manual",
    "segment add vip 1",
    "delete 4 --yes",
    "import {csv}",
    "clock advance 5d",
]

# The rows as `audit -f json` writes them: arguments, before and after nested JSON values.
EXPECTED = [
    {
        "id": 1,
        "at": "2026-11-26T12:00:00.000Z",
        "actor": "ops",
        "profile": "default",
        "verb": "update",
        "subscription_id": 1,
        "target": "update",
        "job_id": 1,
        "arguments": {"assignments": ["hs_name=Renamed"], "fmt": "auto", "ids": [1], "yes": True},
        "before": {"hs_name": "Acme Corp – Pro monthly"},
        "after": {"hs_name": "Renamed"},
    },
    {
        "id": 2,
        "at": "2026-11-26T12:00:00.000Z",
        "actor": "ops",
        "profile": "default",
        "verb": "pause",
        "subscription_id": 1,
        "target": "pause",
        "job_id": 2,
        "arguments": {"fmt": "auto", "ids": [1], "yes": True},
        "before": {"hs_status": "active", "hs_mrr": "99.00"},
        "after": {"hs_status": "paused", "hs_mrr": "0.00"},
    },
    {
        "id": 3,
        "at": "2026-11-26T12:00:00.000Z",
        "actor": "ops",
        "profile": "default",
        "verb": "resume",
        "subscription_id": 1,
        "target": "resume",
        "job_id": 3,
        "arguments": {"fmt": "auto", "ids": [1], "next_billing_date": "2026-12-15", "yes": True},
        "before": {
            "hs_status": "paused",
            "hs_next_payment_due_date": "2026-12-01",
            "hs_mrr": "0.00",
        },
        "after": {
            "hs_status": "active",
            "hs_next_payment_due_date": "2026-12-15",
            "hs_mrr": "99.00",
        },
    },
    {
        "id": 4,
        "at": "2026-11-26T12:00:00.000Z",
        "actor": "ops",
        "profile": "default",
        "verb": "pay",
        "subscription_id": 3,
        "target": "pay",
        "job_id": 4,
        "arguments": {"fmt": "auto", "ids": [3], "yes": True},
        "before": {
            "hs_status": "unpaid",
            "hs_last_payment_status": None,
            "hs_last_payment_amount": None,
            "hs_next_payment_due_date": "2026-11-30",
        },
        "after": {
            "hs_status": "active",
            "hs_last_payment_status": "succeeded",
            "hs_last_payment_amount": "300.00",
            "hs_next_payment_due_date": "2027-02-28",
            "charges": [{"amount": "300.00", "currency": "USD", "status": "succeeded"}],
        },
    },
    {
        "id": 5,
        "at": "2026-11-26T12:00:00.000Z",
        "actor": "ops",
        "profile": "default",
        "verb": "cancel",
        "subscription_id": 3,
        "target": "cancel",
        "job_id": 5,
        "arguments": {"fmt": "auto", "ids": [3], "refund": "unused", "yes": True},
        "before": {
            "hs_status": "active",
            "hs_canceled_at": None,
            "hs_next_payment_due_date": "2027-02-28",
            "hs_next_payment_amount": "300.00",
            "hs_mrr": "100.00",
            "hs_last_payment_status": "succeeded",
        },
        "after": {
            "hs_status": "canceled",
            "hs_canceled_at": "2026-11-26T12:00:00.000Z",
            "hs_next_payment_due_date": None,
            "hs_next_payment_amount": None,
            "hs_mrr": "0.00",
            "hs_last_payment_status": "refunded",
            "refunds": [{"payment": 901, "amount": "300.00", "currency": "USD"}],
        },
    },
    {
        "id": 6,
        "at": "2026-11-26T12:00:00.000Z",
        "actor": "ops",
        "profile": "default",
        "verb": "associate",
        "subscription_id": 3,
        "target": "association:contact:17",
        "job_id": None,
        "arguments": {"contact": "17", "fmt": "auto", "sub_id": 3},
        "before": None,
        "after": {"type_id": 295},
    },
    {
        "id": 7,
        "at": "2026-11-26T12:00:00.000Z",
        "actor": "ops",
        "profile": "default",
        "verb": "property create",
        "subscription_id": None,
        "target": "property:tier",
        "job_id": None,
        "arguments": {"fmt": "auto", "label": "Tier", "name": "tier", "type_": "string"},
        "before": None,
        "after": {
            "label": "Tier",
            "type": "string",
            "field_type": "text",
            "group": "subscriptioninformation",
            "description": "",
            "options": [],
            "rules": [],
            "sensitivity": "non_sensitive",
            "unique": False,
        },
    },
    {
        "id": 8,
        "at": "2026-11-26T12:00:00.000Z",
        "actor": "ops",
        "profile": "default",
        "verb": "property edit",
        "subscription_id": None,
        "target": "property:tier",
        "job_id": None,
        "arguments": {"fmt": "auto", "label": "Plan tier", "name": "tier"},
        "before": {"label": "Tier"},
        "after": {"label": "Plan tier"},
    },
    {
        "id": 9,
        "at": "2026-11-26T12:00:00.000Z",
        "actor": "ops",
        "profile": "default",
        "verb": "property delete",
        "subscription_id": None,
        "target": "property:tier",
        "job_id": None,
        "arguments": {"name": "tier", "yes": True},
        "before": {
            "label": "Plan tier",
            "type": "string",
            "field_type": "text",
            "group": "subscriptioninformation",
            "description": "",
            "options": [],
            "rules": [],
            "sensitivity": "non_sensitive",
            "unique": False,
        },
        "after": None,
    },
    {
        "id": 10,
        "at": "2026-11-26T12:00:00.000Z",
        "actor": "ops",
        "profile": "default",
        "verb": "segment create",
        "subscription_id": None,
        "target": "segment:vip",
        "job_id": None,
        "arguments": {"fmt": "auto", "manual": True, "name": "vip"},
        "before": None,
        "after": {"kind": "manual", "query": None, "description": "", "members": 0},
    },
    {
        "id": 11,
        "at": "2026-11-26T12:00:00.000Z",
        "actor": "ops",
        "profile": "default",
        "verb": "segment add",
        "subscription_id": None,
        "target": "segment:vip",
        "job_id": None,
        "arguments": {"ids": [1], "name": "vip"},
        "before": None,
        "after": {"added": [1]},
    },
    {
        "id": 12,
        "at": "2026-11-26T12:00:00.000Z",
        "actor": "ops",
        "profile": "default",
        "verb": "delete",
        "subscription_id": 4,
        "target": "delete",
        "job_id": 6,
        "arguments": {"fmt": "auto", "ids": [4], "yes": True},
        "before": {"hs_name": '=HYPERLINK("x") Hooli', "hs_status": "canceled"},
        "after": None,
    },
    {
        "id": 13,
        "at": "2026-11-26T12:00:00.000Z",
        "actor": "ops",
        "profile": "default",
        "verb": "import",
        "subscription_id": 5,
        "target": "upsert",
        "job_id": 7,
        "arguments": {"file": "IN.csv", "fmt": "auto"},
        "before": {"hs_name": "Umbrella – Scheduled"},
        "after": {"hs_name": "Umbrella renamed"},
    },
    {
        "id": 14,
        "at": "2026-11-26T12:00:00.000Z",
        "actor": "ops",
        "profile": "default",
        "verb": "clock advance",
        "subscription_id": None,
        "target": "setting:clock",
        "job_id": None,
        "arguments": {"duration": "5d", "fmt": "auto"},
        "before": None,
        "after": "2026-12-01T12:00:00.000Z",
    },
    {
        "id": 15,
        "at": "2026-11-26T12:00:00.000Z",
        "actor": "ops",
        "profile": "default",
        "verb": "clock advance",
        "subscription_id": 2,
        "target": "billing",
        "job_id": 8,
        "arguments": {"duration": "5d", "fmt": "auto"},
        "before": {"hs_status": "unpaid"},
        "after": {
            "hs_status": "unpaid",
            "event": "settlement",
            "day": "2025-01-07",
            "outcome": "succeeded",
            "amount": "1200.00",
            "currency": "EUR",
            "payment": 900,
            "billing_event": 1,  # the entry's event: the id is its billing day's row's
        },
    },
]


def run_scenario(seeded: Invoke, tmp_path: Path) -> Path:
    csv = tmp_path / "in.csv"
    csv.write_text("Record ID,Name\n5,Umbrella renamed\n")
    for args in SCENARIO:
        result = seeded("--actor ops " + args.format(csv=csv))
        assert result.exit_code == 0, (args, result.stderr)
    return csv


def test_every_verb_shows_before_and_after(
    seeded: Invoke, ws: WorkspaceCase, tmp_path: Path
) -> None:
    csv = run_scenario(seeded, tmp_path)
    result = seeded("audit -f json")
    assert result.exit_code == 0, result.stderr
    rows = json.loads(result.stdout)
    users = {row.pop("db_user") for row in rows}
    assert users == ({None} if ws.is_sqlite else {"subctl_test"})  # the database role
    for row in rows:
        if "file" in row["arguments"]:
            row["arguments"]["file"] = row["arguments"]["file"].replace(str(csv), "IN.csv")
    assert rows == EXPECTED


def test_filters_and_formats(seeded: Invoke, tmp_path: Path) -> None:
    run_scenario(seeded, tmp_path)
    # the deleted subscription keeps its rows (no foreign key)
    deleted = seeded("audit --id 4 -f ndjson")
    assert [json.loads(line)["verb"] for line in deleted.stdout.splitlines()] == ["delete"]
    by_verb = seeded("audit --verb pause -f csv")
    assert by_verb.stdout.splitlines()[1].startswith("2,2026-11-26T12:00:00.000Z,ops,")
    assert seeded("audit --actor nobody -f json").stdout == "[]\n"
    assert len(json.loads(seeded("audit --actor ops -f json").stdout)) == len(EXPECTED)
    # --since 7d: seven days before the workspace clock (moved 5 days on: 2026-12-01)
    recent = json.loads(seeded("audit --since 7d -f json").stdout)
    assert len(recent) == len(EXPECTED)
    assert seeded("audit --since 2026-11-27 -f json").stdout == "[]\n"
    bad = seeded("audit --since yesterdayish")
    assert bad.exit_code == 2


def test_a_refused_or_reading_command_writes_no_audit_row(seeded: Invoke, tmp_path: Path) -> None:
    assert seeded("config set profiles.ci.permissions view,export").exit_code == 0
    # on PostgreSQL too: the profile's set limits what its role's grants allow
    refused = seeded("-p ci cancel 1 --yes")
    assert (refused.exit_code, refused.stderr) == (
        4, 'Error: profile "ci" lacks the "edit" permission needed by cancel\n'
    )  # fmt: skip
    for args in ("list -f csv", "view 1 -f json", f"export --all -f csv -o {tmp_path / 'x.csv'}"):
        assert seeded(f"-p ci {args}").exit_code == 0, args
    assert seeded("audit -f json").stdout == "[]\n"


def test_highly_sensitive_values_and_tokens_are_redacted(seeded: Invoke) -> None:
    assert seeded("property settings --tier enterprise").exit_code == 0
    created = seeded(
        "property create --name tax_id --type string --label 'Tax ID'"
        " --sensitivity highly_sensitive"
    )
    assert created.exit_code == 0, created.stderr
    done = seeded("update 1 --set tax_id=DK-12345678 --yes")
    assert done.exit_code == 0, done.stderr
    (row,) = json.loads(seeded("audit --verb update -f json").stdout)
    assert row["arguments"]["assignments"] == ["tax_id=******"]
    assert (row["before"], row["after"]) == ({"tax_id": None}, {"tax_id": "******"})
    assert "DK-12345678" not in seeded("audit -f csv").stdout


@pytest.mark.backends("sqlite")
def test_the_application_has_no_path_that_changes_audit_rows() -> None:
    source = "\n".join(p.read_text() for p in Path("subctl").rglob("*.py"))
    changing = re.compile(r"(UPDATE\s+audit\b|DELETE\s+FROM\s+audit\b|TRUNCATE\s+audit\b)", re.I)
    assert changing.findall(source) == []


def test_postgresql_revokes_rewriting_from_public(seeded: Invoke, ws: WorkspaceCase) -> None:
    if ws.is_sqlite:
        pytest.skip("PostgreSQL privileges")
    with connect(ws) as conn:
        granted = conn.exec_driver_sql(
            "SELECT privilege_type FROM information_schema.role_table_grants"
            " WHERE table_name IN ('audit', 'billing_events') AND grantee = 'PUBLIC'"
        ).all()
    assert granted == []


def test_saving_and_deleting_a_view_is_audited(seeded: Invoke) -> None:
    """Saving a view (a replaced one is the before) and deleting it append rows."""
    for args in (
        "filter --where 'status = active' --save-view mine --columns id,name",
        "filter --where 'status = paused' --save-view mine --yes",
        "views delete mine --yes",
    ):
        done = seeded(args)
        assert done.exit_code == 0, (args, done.stderr)
    rows = json.loads(seeded("audit --verb filter -f json").stdout)
    rows += json.loads(seeded("audit --verb 'views delete' -f json").stdout)
    first = {"query": "status = active", "columns": ["hs_object_id", "hs_name"], "sort": None}
    second = {"query": "status = paused", "columns": [], "sort": None}
    assert [(r["verb"], r["target"], r["before"], r["after"]) for r in rows] == [
        ("filter", "view:mine", None, first),
        ("filter", "view:mine", first, second),
        ("views delete", "view:mine", second, None),
    ]


def test_a_table_shows_what_changed(seeded: Invoke, monkeypatch: pytest.MonkeyPatch) -> None:
    """On a terminal, one line per entry with its changes (``name: old → new``) instead of
    three JSON columns; the data formats keep them whole."""
    monkeypatch.setenv("COLUMNS", "160")
    assert seeded("--actor ops update 1 --set hs_name=Renamed --yes").exit_code == 0
    table = seeded("audit --format table")
    assert table.exit_code == 0, table.stderr
    (line,) = [row for row in table.stdout.splitlines() if row.lstrip().startswith("1 ")]
    assert re.search(r"ops\s+update\s+1\s+hs_name: .+ → Renamed", line), line
    assert "Before" not in table.stdout and "Arguments" not in table.stdout
    (row,) = json.loads(seeded("audit -f json").stdout)
    assert row["after"] == {"hs_name": "Renamed"}


def test_the_table_fits_80_columns_with_billing_events_and_settings(
    seeded: Invoke, monkeypatch: pytest.MonkeyPatch
) -> None:
    """80 columns: the time to the minute, the subscription, and what changed: a billing entry
    as its event (kind, outcome, amount, day) then the status it changed, a setting as
    ``target: old → new``; what does not fit is cut, never wrapped."""
    monkeypatch.setenv("COLUMNS", "80")
    assert seeded("clock set 2027-01-02 --format csv").exit_code == 0
    table = seeded("audit --format table")
    assert table.exit_code == 0, table.stderr
    lines = [line.rstrip() for line in table.stdout.splitlines()]
    assert max(map(len, lines)) <= 80
    assert lines[0].split() == ["ID", "At", "(UTC)", "Actor", "Verb", "Sub", "Changes"]
    start = next(line for line in lines if " 5   start" in line)
    assert start.endswith("clock set     5   start succeeded 49.50 GBP on …"), start
    monkeypatch.setenv("COLUMNS", "200")
    wide = seeded("audit --format table").stdout
    assert "   5   start succeeded 49.50 GBP on 2027-01-01; hs_status: scheduled → active" in wide
    assert "setting:clock: ∅ → 2027-01-02T00:00:00.000Z" in wide


@pytest.mark.parametrize(
    ("amount", "currency"),
    [(99.0, "USD"), (0.5, "EUR"), (1234567.89, "USD"), (12.345, "BHD"), (0.125, "KWD"),
     (99.999, "BHD"), (7.1, "JPY"), (1500.0, "JPY"), (12.5, "BHD")],
)  # fmt: skip
def test_a_billing_row_is_the_text_the_other_rows_are(
    seeded: Invoke, ws: WorkspaceCase, amount: float, currency: str
) -> None:
    """The billing run writes one audit row a day and its events name it (m012); read back,
    each event is an entry whose JSON text is exactly what every other writer's ``dumps``
    makes of the same values, amounts as ``money_from_storage`` reads them with their
    currency's decimals (JPY 1500, BHD 12.500; finer digits kept: JPY 7.10)."""
    import csv

    import sqlalchemy as sa

    from subctl.codec import money_from_storage
    from subctl.store.sql.audit import dumps

    with connect(ws) as conn:
        conn.execute(
            sa.text(
                "UPDATE subscriptions SET hs_next_payment_amount = :amount,"
                " hs_currency_code = :currency WHERE hs_object_id = 1"
            ),
            {"amount": amount, "currency": currency},
        )
        conn.commit()
    assert seeded("clock set 2026-12-01").exit_code == 0
    with connect(ws) as conn:
        (event_id, day_id) = conn.execute(
            sa.text("SELECT id, audit_id FROM billing_events WHERE subscription_id = 1")
        ).one()
        day = conn.execute(
            sa.text("SELECT subscription_id, target, before, after FROM audit WHERE id = :id"),
            {"id": day_id},
        ).one()
    assert tuple(day) == (None, "billing", None, dumps({"day": "2026-12-01"}))
    shown = seeded("audit --id 1 -f csv")
    assert shown.exit_code == 0, shown.stderr
    (entry,) = csv.DictReader(shown.stdout.splitlines())
    assert (entry["id"], entry["subscription_id"], entry["target"]) == (str(day_id), "1", "billing")
    assert entry["before"] == dumps({"hs_status": "active"})
    assert entry["after"] == dumps(
        {"hs_status": "active", "event": "renewal", "day": "2026-12-01", "outcome": "succeeded",
         "amount": str(money_from_storage(amount, currency)), "currency": currency,
         "billing_event": event_id}
    )  # fmt: skip


@pytest.mark.backends("sqlite")  # db_user: the PostgreSQL role (test_every_verb_… checks it)
def test_json_nests_arguments_before_and_after_and_csv_keeps_their_text(seeded: Invoke) -> None:
    """json/ndjson: arguments, before and after are JSON values (``jq '.[].after.hs_status'``
    needs no ``fromjson``), whatever value the row holds (the clock's after is a string), null
    stays null; CSV: the compact JSON text in a cell."""
    for args in ("update 1 --set hs_name=Renamed --yes", "clock advance 5d"):
        args = "--actor ops " + args
        assert seeded(args).exit_code == 0, args
    head = (
        '"id": 1, "at": "2026-11-26T12:00:00.000Z", "actor": "ops", "db_user": null,'
        ' "profile": "default", "verb": "update", "subscription_id": 1, "target": "update",'
        ' "job_id": 1, '
    )
    nested = (
        '"arguments": {"assignments": ["hs_name=Renamed"], "fmt": "auto", "ids": [1],'
        ' "yes": true}, "before": {"hs_name": "Acme Corp – Pro monthly"},'
        ' "after": {"hs_name": "Renamed"}'
    )
    assert seeded("audit --verb update -f json").stdout == "[\n{" + head + nested + "}\n]\n"
    assert seeded("audit --verb update -f ndjson").stdout == "{" + head + nested + "}\n"
    clock = seeded("audit --verb 'clock advance' -f ndjson").stdout.splitlines()[0]
    assert clock == (
        '{"id": 2, "at": "2026-11-26T12:00:00.000Z", "actor": "ops", "db_user": null,'
        ' "profile": "default", "verb": "clock advance", "subscription_id": null,'
        ' "target": "setting:clock", "job_id": null, "arguments": {"duration": "5d",'
        ' "fmt": "auto"}, "before": null, "after": "2026-12-01T12:00:00.000Z"}'
    )
    assert seeded("audit --actor ops -f csv").stdout.splitlines()[:3] == [
        "id,at,actor,db_user,profile,verb,subscription_id,target,job_id,arguments,before,after",
        '1,2026-11-26T12:00:00.000Z,ops,,default,update,1,update,1,"{""assignments"":'
        '[""hs_name=Renamed""],""fmt"":""auto"",""ids"":[1],""yes"":true}",'
        '"{""hs_name"":""Acme Corp – Pro monthly""}","{""hs_name"":""Renamed""}"',
        "2,2026-11-26T12:00:00.000Z,ops,,default,clock advance,,setting:clock,,"
        '"{""duration"":""5d"",""fmt"":""auto""}",,"""2026-12-01T12:00:00.000Z"""',
    ]


def _billing_entries(invoke: Invoke, args: str = "") -> list[dict[str, Any]]:
    shown = invoke(f"audit {args} -f json")
    assert shown.exit_code == 0, shown.stderr
    return [row for row in json.loads(shown.stdout) if row["target"] == "billing"]


def test_a_billing_runs_audit_is_its_billing_log_event_for_event(
    invoke: Invoke, ws: WorkspaceCase, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Billing stores one audit row a day (m012); ``subctl audit`` shows one entry per event of
    the log, whatever the page size: the same count, subscriptions, statuses, amounts,
    payments settled and jobs, in the log's order, the entries of a day sharing its row's id;
    ``--since``/``--actor`` choose the day rows, ``--id`` one subscription's events among its
    other entries."""
    from collections import Counter
    from decimal import Decimal

    from subctl.store.sql import workspace as sql_workspace
    from tests import billing_world as w

    if ws.is_sqlite:
        Path(ws.url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    w.seed(ws.url)  # every rule's case: charges, declines, retries, settlements, expiries, ...
    monkeypatch.setenv("SUBCTL_NOW", "2028-01-10T00:00:00Z")
    assert invoke("--actor ops clock set 2028-02-20").exit_code == 0
    billable = invoke("--actor ops update 1 --set billable=on --yes")
    assert billable.exit_code == 0, billable.stderr
    monkeypatch.setenv("SUBCTL_NOW", "2028-02-20T00:00:00Z")
    assert invoke("--actor ann clock set 2028-04-10").exit_code == 0

    entries = _billing_entries(invoke)
    log = json.loads(invoke("billing log --all -f json").stdout)
    assert len(entries) == len(log) > 50
    assert {e["kind"] for e in log} >= {"start", "renewal", "retry", "settlement", "expiry"}
    for entry, event in zip(entries, sorted(log, key=lambda e: e["id"]), strict=True):
        after, before = entry["after"], entry["before"]
        assert (after.pop("billing_event"), entry["subscription_id"], entry["job_id"]) == (
            event["id"], event["subscription_id"], event["job_id"]
        )  # fmt: skip
        assert (None if before is None else before["hs_status"]) == event["old_status"]
        assert (after.pop("hs_status", None), after.pop("event"), after.pop("outcome")) == (
            event["new_status"], event["kind"], event["outcome"]
        )  # fmt: skip
        amount = after.pop("amount", None)
        assert (amount is None) == (event["amount"] is None)
        if amount is not None:
            assert Decimal(amount) == Decimal(str(event["amount"]))
            assert after.pop("currency") == event["currency"]
        if "payment" in after:  # the bank payment a settlement settled
            assert (event["kind"], after.pop("payment")) == ("settlement", event["payment_id"])
        assert after.pop("day") >= event["day"]  # the day that ran it: on or after it was due
        assert after == {}, entry
    days = {entry["id"]: entry["job_id"] for entry in entries}
    with connect(ws) as conn:
        stored = conn.exec_driver_sql(
            "SELECT id, job_id FROM audit WHERE target = 'billing' ORDER BY id"
        ).all()
        per_event = conn.exec_driver_sql(
            "SELECT count(*) FROM audit WHERE target = 'billing' AND subscription_id IS NOT NULL"
        ).scalar_one()
    assert (list(days.items()), per_event) == ([tuple(row) for row in stored], 0)
    assert max(Counter(e["id"] for e in entries).values()) > 3  # a day over pages of 3, below
    first, second = sorted(set(days.values()))
    everything = json.loads(invoke("audit -f json").stdout)
    # pages of 3: a day's events over several pages, pages over several days
    monkeypatch.setattr(sql_workspace, "STREAM_CHUNK", 3)
    assert json.loads(invoke("audit -f json").stdout) == everything
    monkeypatch.setattr(sql_workspace, "STREAM_CHUNK", 2000)
    # --since and --actor choose day rows: the second run's entries only
    recent = _billing_entries(invoke, "--since 2028-02-15")
    assert recent == _billing_entries(invoke, "--actor ann")
    assert recent == [e for e in everything if e["target"] == "billing" and e["job_id"] == second]
    assert len(recent) == sum(1 for e in log if e["job_id"] == second) > 0
    # --id: one subscription's events among its other entries, in the same order
    for sid in sorted({e["subscription_id"] for e in log}):
        mine = json.loads(invoke(f"audit --id {sid} -f json").stdout)
        assert mine == [e for e in everything if e["subscription_id"] == sid], sid
    ones = [(e["verb"], e["job_id"]) for e in everything if e["subscription_id"] == 1]
    assert ones[0] == ("clock set", first) and ones[-1] == ("clock set", second)
    assert ("update", first + 1) in ones  # between the runs' events
    monkeypatch.setattr(sql_workspace, "STREAM_CHUNK", 2)
    assert json.loads(invoke("audit --id 1 -f json").stdout) == [
        e for e in everything if e["subscription_id"] == 1
    ]
    assert json.loads(invoke("audit --id 1 --since 2028-02-15 -f json").stdout) == [
        e for e in recent if e["subscription_id"] == 1
    ]


def test_one_subscriptions_entries_come_from_indexes(seeded: Invoke, ws: WorkspaceCase) -> None:
    """``audit --id``: the subscription's rows (``ix_audit_subscription``) and its billing
    events (``ux_billing_events_once``, which leads with the subscription) joined to their
    days' rows by id; a day's events by ``ix_billing_events_audit``: never a pass over the
    audit or the billing log (PostgreSQL: with sequential scans off, none is left in the plan,
    so an index serves every table)."""
    import datetime as dt

    from subctl.store.base import AuditFilter
    from subctl.store.sql import audit

    assert seeded("clock set 2026-12-01").exit_code == 0
    mark = "?" if ws.is_sqlite else "%s"
    since = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    queries = [
        audit.subscription_page(AuditFilter(None, 1), mark, ws.is_sqlite, (0, 0), 50),
        audit.subscription_page(
            AuditFilter(since, 1, "ops", "clock set"), mark, ws.is_sqlite, (3, 2), 50
        ),
        audit.day_events(mark, 3, 2, 50),
    ]
    with connect(ws) as conn:
        if not ws.is_sqlite:
            conn.exec_driver_sql("SET enable_seqscan = off")
        for sql, params in queries:
            explain = "EXPLAIN QUERY PLAN " if ws.is_sqlite else "EXPLAIN "
            plan = [str(row[-1]) for row in conn.exec_driver_sql(explain + sql, tuple(params))]
            scans = [line for line in plan if re.match(r"\s*(->\s*)?(SCAN|Seq Scan)", line)]
            assert scans == [], plan
            used = " ".join(plan)
            assert ("ix_billing_events_audit" in used) == (sql.startswith("SELECT e."))
            assert ("ux_billing_events_once" in used) == ("UNION ALL" in sql)


def test_a_billing_day_whose_events_are_gone_is_one_entry(seeded: Invoke) -> None:
    """``demo`` over a workspace replaces its records and empties the billing log with them;
    the audit keeps each billing day's row, shown as one entry of its own (after: its day)."""
    assert seeded("--actor ops clock set 2026-12-01").exit_code == 0
    days = _billing_entries(seeded)
    assert len(days) > 1
    replaced = seeded("demo --count 5 --seed 1 --yes")
    assert replaced.exit_code == 0, replaced.stderr
    left = _billing_entries(seeded)
    assert [(e["id"], e["subscription_id"], e["before"]) for e in left] == [
        (day, None, None) for day in dict.fromkeys(e["id"] for e in days)
    ]
    assert [e["after"] for e in left] == [
        {"day": after["day"]} for after in {e["id"]: e["after"] for e in days}.values()
    ]


def test_an_older_workspace_keeps_its_per_event_billing_rows(
    invoke: Invoke, ws: WorkspaceCase, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Upgraded to m012, a workspace's billing audit rows of before (one per event, naming the
    subscription) read as they were, and its events (``audit_id`` NULL) are not expanded
    anywhere: each event is shown once, by its own row."""
    import sqlalchemy as sa

    from subctl.store.sql import migrations

    if ws.is_sqlite:
        Path(ws.url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    engine = sa.create_engine(ws.url)
    with monkeypatch.context() as patch:
        patch.setattr(migrations, "MIGRATIONS", migrations.MIGRATIONS[:10])
        assert migrations.migrate(engine)[-1] == "m010_billing_job_index"
    after = '{"hs_status":"active","event":"renewal","day":"2026-11-01","outcome":"succeeded"}'
    with engine.begin() as conn:
        conn.exec_driver_sql(
            "INSERT INTO billing_events (subscription_id, kind, at, outcome, old_status,"
            " new_status, job_id) VALUES (9, 'renewal', 1793491200000, 'succeeded', 'active',"
            " 'active', 1)"
        )
        conn.exec_driver_sql(
            "INSERT INTO audit (at, actor, verb, subscription_id, target, job_id, before, after)"
            f" VALUES (1793534400000, 'ops', 'clock advance', 9, 'billing', 1,"
            f" '{{\"hs_status\":\"active\"}}', '{after}')"
        )
    engine.dispose()
    assert invoke("init").exit_code == 0
    old = {
        "id": 1, "at": "2026-11-01T12:00:00.000Z", "actor": "ops", "db_user": None,
        "profile": None, "verb": "clock advance", "subscription_id": 9, "target": "billing",
        "job_id": 1, "arguments": None, "before": {"hs_status": "active"},
        "after": json.loads(after),
    }  # fmt: skip
    assert json.loads(invoke("audit -f json").stdout) == [old]
    assert json.loads(invoke("audit --id 9 -f json").stdout) == [old]
    with connect(ws) as conn:
        assert conn.exec_driver_sql("SELECT audit_id FROM billing_events").all() == [(None,)]
