"""``subctl list`` end to end: filters, formats, fields, errors."""

from __future__ import annotations

import json

import pytest

from tests.conftest import Invoke


def ids(result_stdout: str) -> list[int]:
    return [row["hs_object_id"] for row in json.loads(result_stdout)]


def test_default_format_off_a_tty_is_json(seeded: Invoke) -> None:
    result = seeded("list --status unpaid")
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout) == [
        {"hs_object_id": 2, "hs_name": "Globex – Basic annual", "hs_status": "unpaid",
         "hs_next_payment_due_date": "2026-11-20", "hs_next_payment_amount": 1200.0,
         "hs_currency_code": "EUR", "hs_recurring_billing_frequency": "annually"},
        {"hs_object_id": 3, "hs_name": "Initech – Team quarterly", "hs_status": "unpaid",
         "hs_next_payment_due_date": "2026-11-30", "hs_next_payment_amount": 300.0,
         "hs_currency_code": "USD", "hs_recurring_billing_frequency": "quarterly"},
    ]  # fmt: skip


def test_json_is_exact(seeded: Invoke) -> None:
    result = seeded("list --status unpaid --fields id,status,due --format json")
    assert result.stdout == (
        "[\n"
        '{"hs_object_id": 2, "hs_status": "unpaid", "hs_next_payment_due_date": "2026-11-20"},\n'
        '{"hs_object_id": 3, "hs_status": "unpaid", "hs_next_payment_due_date": "2026-11-30"}\n'
        "]\n"
    )


def test_ndjson(seeded: Invoke) -> None:
    result = seeded("list -s active -s scheduled --fields id,mrr --format ndjson")
    assert result.stdout == (
        '{"hs_object_id": 1, "hs_mrr": 99.0}\n{"hs_object_id": 5, "hs_mrr": 49.5}\n'
    )


def test_csv_is_exact_and_neutralises_formulas(seeded: Invoke) -> None:
    result = seeded("list --all --fields id,name,canceled_at,mrr --format csv --sort id:desc")
    assert result.exit_code == 0, result.stderr
    assert result.stdout.splitlines() == [
        "hs_object_id,hs_name,hs_canceled_at,hs_mrr",
        "5,Umbrella – Scheduled,,49.50",
        '4,"\'=HYPERLINK(""x"") Hooli",2026-10-01T09:30:00.000Z,0.00',
        "3,Initech – Team quarterly,,100.00",
        "2,Globex – Basic annual,,100.00",
        "1,Acme Corp – Pro monthly,,99.00",
    ]


def test_table_format(seeded: Invoke) -> None:
    result = seeded("list --status unpaid --format table --fields id,name,status")
    assert result.exit_code == 0
    assert result.stdout == (
        "Record ID   Name                       Status\n"
        "─────────────────────────────────────────────\n"
        "        2   Globex – Basic annual      unpaid\n"
        "        3   Initech – Team quarterly   unpaid\n"
    )


def test_table_fits_a_narrow_terminal(seeded: Invoke, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "40")
    result = seeded("list --status unpaid --format table")
    lines = result.stdout.splitlines()
    assert max(len(line) for line in lines) <= 40
    assert lines[:4] == [
        "Record ID   Name                    ",
        "────────────────────────────────────",
        "        2   Globex – Basic annual   ",
        "        3   Initech – Team quarterly",
    ]
    assert len(lines) == 4  # the note on left-out columns is not data: stderr
    assert result.stderr.startswith("(5 columns left out to fit: hs_status,")


def test_status_accepts_labels_case_insensitively(seeded: Invoke) -> None:
    assert ids(seeded("list --status UNPAID").stdout) == [2, 3]
    assert ids(seeded("list --status Canceled,Scheduled").stdout) == [5, 4]


def test_due_filters(seeded: Invoke) -> None:
    # the clock is pinned to 2026-11-26
    assert ids(seeded("list --due-within 7d --sort due").stdout) == [3, 1]
    assert ids(seeded("list --due-before 2026-11-25").stdout) == [2]
    assert ids(seeded("list --due-after +30d").stdout) == [5]


def test_association_filters(seeded: Invoke) -> None:
    assert ids(seeded("list --contact 17").stdout) == [2, 1]
    assert ids(seeded("list --company 77").stdout) == [1]
    assert ids(seeded("list --payment 900").stdout) == [2]
    assert seeded("list --deal 1").stdout == "[]\n"


def test_default_order_is_soonest_due_first_without_due_date_last(seeded: Invoke) -> None:
    assert ids(seeded("list").stdout) == [2, 3, 1, 5, 4]


def test_sort_and_limit(seeded: Invoke) -> None:
    assert ids(seeded("list --sort mrr:desc --limit 2").stdout) == [2, 3]
    assert ids(seeded("list --sort -next_payment_due_date").stdout) == [5, 1, 3, 2, 4]


def test_builtin_views(seeded: Invoke) -> None:
    assert ids(seeded("list --view unpaid").stdout) == [2, 3]
    assert ids(seeded("list --view scheduled").stdout) == [5]


def test_empty_result(seeded: Invoke) -> None:
    result = seeded("list --status paused")
    assert (result.exit_code, result.stdout) == (0, "[]\n")
    assert result.stderr == "No subscriptions found.\n"


def test_unknown_field(seeded: Invoke) -> None:
    result = seeded("list --fields id,nope")
    assert result.exit_code == 2
    assert result.stderr.startswith(
        'Error: Unknown field "nope". Available fields: id, name, status'
    )
    assert result.stderr.count("\n") == 1


def test_unknown_status(seeded: Invoke) -> None:
    result = seeded("list --status bogus")
    assert result.exit_code == 2
    assert result.stderr == (
        'Error: "bogus" is not a status; one of: active, unpaid, past_due, canceled, expired, '
        "scheduled, paused\n"
    )


def test_bad_dates_and_limits(seeded: Invoke) -> None:
    result = seeded("list --due-before soon")
    assert result.exit_code == 2 and result.stderr.startswith('Error: --due-before: "soon" is not')
    assert seeded("list --due-within -3d").exit_code == 2
    assert seeded("list --limit 0").exit_code == 2
    assert seeded("list --sort nope").exit_code == 2
    assert seeded("list --format xml").exit_code == 2


def test_missing_workspace_says_how_to_create_one(invoke: Invoke) -> None:
    result = invoke("list")
    assert result.exit_code == 6
    assert result.stderr.startswith("Error: no workspace at ")
    assert "subctl init" in result.stderr


def test_markup_in_values_is_shown_literally(seeded: Invoke) -> None:
    from subctl.config import workspace_url
    from subctl.store.sql import SqlStore

    store = SqlStore(workspace_url(None))
    store.bulk_insert("subscriptions", ["hs_object_id", "hs_name"], [(9, "[bold]x[/] [/]")])
    store.close()
    result = seeded("list --fields id,name --format table --sort id:desc --limit 1")
    assert result.exit_code == 0, result.stderr
    assert "[bold]x[/] [/]" in result.stdout
