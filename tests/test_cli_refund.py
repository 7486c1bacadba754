"""Money paths end to end: paused subscriptions (not due, no MRR, refunds of the period paid)
and pending bank payments (seeded: 1 active due 2026-12-01, 2 unpaid with a pending ACH payment
900; today 2026-11-26)."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from tests.conftest import Invoke, WorkspaceCase

pytestmark = pytest.mark.backends("sqlite", "postgresql")

ACTIVE, UNPAID = 1, 2
PAID_2026_11_18 = 1_794_996_000_000  # 10:00 UTC, epoch ms


def view(invoke: Invoke, sub_id: int) -> dict[str, Any]:
    result = invoke(f"view {sub_id} --format json")
    assert result.exit_code == 0, result.stderr
    doc: dict[str, Any] = json.loads(result.stdout)
    return doc


def ids(stdout: str) -> list[int]:
    return [row["hs_object_id"] for row in json.loads(stdout)]


def add_payment(ws: WorkspaceCase, sub_id: int, row: tuple[Any, ...]) -> None:
    """A payment (id, amount, currency, status, method, created_at ms) of ``sub_id``."""
    from subctl.store.sql import open_local

    store = open_local(ws.url).records
    pid, amount, currency, status, method, created = row
    store.seed(
        "payments",
        ["id", "amount", "currency", "status", "method", "kind", "created_at"],
        [(pid, amount, currency, status, method, "payment", created)],
    )
    store.seed("associations", ["subscription_id", "object_type", "object_id", "type_id"],
                      [(sub_id, "payment", pid, 393)])  # fmt: skip
    store.close()


# -- paused subscriptions ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "option", ["--due-within 7d", "--due-before 2026-12-02", "--due-after today"]
)
def test_a_paused_subscription_is_not_due(seeded: Invoke, option: str) -> None:
    assert ACTIVE in ids(seeded(f"list {option} --fields id --format json").stdout)
    assert seeded(f"pause {ACTIVE} --yes").exit_code == 0
    assert ACTIVE not in ids(seeded(f"list {option} --fields id --format json").stdout)


def test_mrr_is_zero_while_paused_and_restored_on_resume(seeded: Invoke) -> None:
    assert seeded(f"pause {ACTIVE} --yes").exit_code == 0
    doc = view(seeded, ACTIVE)
    assert doc["properties"]["hs_mrr"] == 0
    assert {"property": "hs_mrr", "old": "99.00", "new": "0.00"}.items() <= doc["history"][
        0
    ].items()
    assert seeded(f"resume {ACTIVE} --next-billing-date 2027-01-10 --yes").exit_code == 0
    doc = view(seeded, ACTIVE)
    assert doc["properties"]["hs_mrr"] == 99
    assert [(h["old"], h["new"]) for h in doc["history"] if h["property"] == "hs_mrr"] == [
        ("0.00", "99.00"), ("99.00", "0.00")]  # fmt: skip


def test_refund_of_a_paused_subscription_is_of_the_period_paid(
    seeded: Invoke, ws: WorkspaceCase
) -> None:
    """Last paid 29.00 on 11-18 (monthly), then paused: the refund is of 22 of the 30 days
    11-18 to 12-18, whatever the due date (the resume date) says."""
    add_payment(ws, ACTIVE, (950, 29.0, "USD", "succeeded", "card", PAID_2026_11_18))
    assert seeded(f"pause {ACTIVE} --yes").exit_code == 0
    result = seeded(f"cancel {ACTIVE} --refund unused --yes --format json")
    assert result.exit_code == 0, result.stderr
    (row,) = json.loads(result.stdout)
    assert row["refund"] == 21.27
    assert "refund 21.27 USD for 22 of 30 unused days (2026-11-18 to 2026-12-18)" in row["note"]


# -- pending bank payments --------------------------------------------------------------------


def hinted_command(stderr: str) -> str:
    """The command a warning or hint names: "… refund it with `subctl …`"."""
    (command,) = set(re.findall(r"refund it with `subctl ([^`]+)`", stderr))
    return command


def refunds_of(invoke: Invoke, sub_id: int) -> list[tuple[int, float]]:
    payments = view(invoke, sub_id)["payments"]
    by_id = {p["id"]: p for p in payments}
    return [(p["amount"], by_id[900]["status"]) for p in payments if p["kind"] == "refund"]


def test_the_pending_payment_warning_names_a_command_that_refunds_it(seeded: Invoke) -> None:
    result = seeded(f"cancel {UNPAID} --yes")
    assert result.exit_code == 0, result.stderr
    command = hinted_command(result.stderr)
    assert command == f"cancel {UNPAID} --refund-pending"
    assert refunds_of(seeded, UNPAID) == []
    refund = seeded(f"{command} --yes --format json")
    assert refund.exit_code == 0, refund.stderr
    (row,) = json.loads(refund.stdout)
    assert (row["outcome"], row["status"], row["new_status"]) == ("ok", "canceled", "canceled")
    assert (row["refund"], row["currency"]) == (1200.0, "EUR")
    assert row["note"] == "refunded pending bank payment 900 (1200.00 EUR)"
    assert refund.stderr.endswith(  # summarised as what it was: a refund, not a cancellation
        "Job 2: 0 canceled, 1 refunded only (already canceled), 0 skipped, 0 failed\n"
    ), refund.stderr
    assert refunds_of(seeded, UNPAID) == [(1200.0, "refunded")]
    # exactly once: running it again refunds nothing
    again = seeded(f"{command} --yes --format json")
    assert again.exit_code == 0, again.stderr
    assert json.loads(again.stdout)[0]["outcome"] == "skipped"
    assert refunds_of(seeded, UNPAID) == [(1200.0, "refunded")]
    assert seeded("jobs results 2 --format json").exit_code == 0


def test_refund_unused_leaving_a_pending_payment_needs_attention(seeded: Invoke) -> None:
    result = seeded(f"cancel {UNPAID} {ACTIVE} --refund unused --yes --format json")
    assert result.exit_code == 5
    outcomes = {r["id"]: r["outcome"] for r in json.loads(result.stdout)}
    assert outcomes == {UNPAID: "attention", ACTIVE: "ok"}
    assert (
        "Error: 1 of 2 subscriptions canceled but need attention (first, subscription 2: "
        "canceled; no refund: the period's payment 900 is still pending; pending bank payment "
        "900 not refunded)"
    ) in result.stderr
    assert view(seeded, UNPAID)["properties"]["hs_status"] == "canceled"
    (job,) = json.loads(seeded("jobs --format json").stdout)
    assert (job["ok"], job["attention"], job["failed"]) == (1, 1, 0)
    listed = seeded("jobs results 1 --outcome attention --format json")
    assert [r["id"] for r in json.loads(listed.stdout)] == [UNPAID]

    one = seeded(f"cancel {UNPAID} --refund unused --yes")
    assert one.exit_code == 0  # already canceled: skipped (the payment is still pending)
    command = hinted_command(result.stderr)
    assert seeded(f"{command} --yes").exit_code == 0
    assert refunds_of(seeded, UNPAID) == [(1200.0, "refunded")]


def test_a_single_item_needing_attention(seeded: Invoke) -> None:
    result = seeded(f"cancel {UNPAID} --refund unused --yes")
    assert result.exit_code == 5
    assert result.stderr.endswith(
        "Error: subscription 2 canceled but needs attention: canceled; no refund: the period's "
        "payment 900 is still pending; pending bank payment 900 not refunded\n"
        "Hint: refund it with `subctl cancel 2 --refund-pending`\n"
    )
