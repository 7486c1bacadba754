"""``subctl view`` end to end."""

from __future__ import annotations

import json

import pytest

from tests.conftest import Invoke

pytestmark = pytest.mark.backends("sqlite", "postgresql")


def test_view_json_document(seeded: Invoke) -> None:
    result = seeded("view 2 --format json")
    assert result.exit_code == 0, result.stderr
    doc = json.loads(result.stdout)
    assert doc["id"] == 2
    assert list(doc["properties"])[:3] == ["hs_object_id", "hs_name", "hs_status"]
    assert doc["properties"]["hs_next_payment_due_date"] == "2026-11-20"
    assert doc["status"] == {
        "value": "unpaid",
        "label": "Unpaid",
        "meaning": "the payment for the current billing cycle failed",
    }
    assert doc["associations"] == {
        "contact": [
            {"id": 17, "label": "Ada Lovelace (ada@example.com)", "associationTypeId": 295,
             "details": ["ada@example.com", "ada@work.example"]}
        ],
        "payment": [
            {"id": 900, "label": "1200.00 EUR processing (ach)", "associationTypeId": 393}
        ],
    }  # fmt: skip
    assert doc["payments"] == [
        {"id": 900, "amount": 1200.0, "currency": "EUR", "status": "processing", "method": "ach",
         "kind": "payment", "created_at": "2025-01-01T00:00:00.000Z",
         "pending_bank_payment": True}
    ]  # fmt: skip
    assert doc["history"] == []


def test_view_table(seeded: Invoke, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "200")
    result = seeded("view 1 --format table")
    assert result.exit_code == 0, result.stderr
    out = result.stdout
    assert "Acme Corp – Pro monthly" in out and "Active: every scheduled payment" in out
    assert "Next payment due date (hs_next_payment_due_date)" in out
    assert "Associated contacts" in out and "Ada Lovelace (ada@example.com)" in out
    assert "Associated companys" not in out and "Associated companies" in out


def test_view_table_keeps_values_on_a_narrow_terminal(
    seeded: Invoke, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", "30")
    out = seeded("view 1 --format table").stdout
    assert max(len(line) for line in out.splitlines()) <= 30
    assert "2026-12-01" in out and "active" in out


def test_view_at_80_columns_wraps_labels_between_words(
    seeded: Invoke, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A label too long for its column wraps before the internal name, never inside it."""
    monkeypatch.setenv("COLUMNS", "80")
    out = seeded("view 1 --format table").stdout
    lines = [line.rstrip() for line in out.splitlines()]
    assert max(len(line) for line in lines) <= 80
    at = lines.index(" Start date                                  2026-01-01")
    assert lines[at + 1] == " (hs_recurring_billing_start_date)"
    assert " (hs_recurring_billing_number_of_payments)" in lines
    assert [line for line in lines if line.startswith(" Name (hs_name)")] == [
        " Name (hs_name)                              Acme Corp – Pro monthly"
    ]


def test_view_history_shows_no_value_as_empty_set(
    seeded: Invoke, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A value set and then cleared: ``∅`` as ``subctl audit`` shows it, never ``None``."""
    monkeypatch.setenv("COLUMNS", "200")
    for value in ("hello", ""):
        result = seeded(["update", "1", "--set", f"invoice_comments={value}", "--yes"])
        assert result.exit_code == 0, result.stderr
    out = seeded("view 1 --format table").stdout
    assert "hs_invoice_comments: ∅ → hello (subctl update (job 1))" in out
    assert "hs_invoice_comments: hello → ∅ (subctl update (job 2))" in out
    assert "None" not in out


def test_view_ndjson_and_csv(seeded: Invoke) -> None:
    line = seeded("view 5 --format ndjson").stdout
    assert line.count("\n") == 1 and json.loads(line)["id"] == 5
    csv_lines = seeded("view 5 --format csv").stdout.splitlines()
    assert csv_lines[0] == "property,value"
    assert "hs_status,scheduled" in csv_lines


def test_view_unknown_id(seeded: Invoke) -> None:
    result = seeded("view 999999999")
    assert result.exit_code == 3
    assert result.stderr == "Error: subscription 999999999 not found\n"
    assert result.stdout == ""


def test_view_bad_id(seeded: Invoke) -> None:
    result = seeded("view abc")
    assert result.exit_code == 2


def test_payments_at_80_columns_keep_ids_dates_and_amounts_whole(
    seeded: Invoke, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", "80")
    result = seeded("view 2 --format table")
    assert result.exit_code == 0, result.stderr
    lines = result.stdout.splitlines()
    start = lines.index("Payments")
    table = lines[start + 1 : start + 5]
    assert max(len(line) for line in lines) <= 80
    assert table[0].split() == ["ID", "Date", "Amount", "Status", "Method", "Kind"]
    assert table[2].split()[:4] == ["900", "2025-01-01", "1200.00", "EUR"]
    assert "…" not in "\n".join(table)
    # the long status text wraps, whole
    assert "processing (pending bank" in table[2]
    assert table[3].split() == ["payment)"]
