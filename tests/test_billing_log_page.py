"""A page of the billing log (``billing log``, ``jobs results`` of a billing run): the footer's
total is one COUNT(*) of the store with the same filters, never a pass over the rest of the log;
``jobs results`` of a billing run pages like ``billing log`` and filters by event outcome."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from subctl.store.base import BillingEvent
from subctl.store.sql.billing import SqlBilling
from tests.conftest import Invoke


def ok(invoke: Invoke, args: str) -> Any:
    result = invoke(args)
    assert result.exit_code == 0, result.stderr
    return result


@pytest.fixture
def overdue(demo: Invoke) -> Invoke:
    """300 demo subscriptions billed 40 days on (job 1): every kind and outcome of event."""
    ok(demo, "clock advance 40d --format csv")
    return demo


def every(invoke: Invoke, args: str) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = json.loads(ok(invoke, f"{args} --all --format json").stdout)
    return rows


@pytest.fixture
def pulled(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """How many events each ``SqlBilling.events`` stream handed over."""
    counts: list[int] = []
    original = SqlBilling.events

    def events(self: SqlBilling, **filters: Any) -> Iterator[BillingEvent]:
        counts.append(0)
        for event in original(self, **filters):
            counts[-1] += 1
            yield event

    monkeypatch.setattr(SqlBilling, "events", events)
    return counts


@pytest.mark.backends("sqlite", "postgresql")
def test_the_footer_counts_in_the_store_with_the_same_filters(
    overdue: Invoke, pulled: list[int]
) -> None:
    for args in ("", "--kind renewal --kind retry", "--since 2026-12-20", "--job 1", "--id 5"):
        total = len(every(overdue, f"billing log {args}"))
        assert total > 2, args
        pulled.clear()
        result = ok(overdue, f"billing log {args} -n 2 --format json")
        assert [r["id"] for r in json.loads(result.stdout)] == [
            r["id"] for r in every(overdue, f"billing log {args}")[:2]
        ]
        assert result.stderr == f"Showing 2 of {total:,} billing events; use --all or --limit\n"
        assert pulled[0] == 2, args  # the page, not the rest of the log


def test_a_billing_runs_results_page_like_the_log(overdue: Invoke, pulled: list[int]) -> None:
    events = every(overdue, "billing log --job 1")
    assert every(overdue, "jobs results 1") == events
    pulled.clear()
    page = ok(overdue, "jobs results 1 --limit 3 --format json")
    assert json.loads(page.stdout) == events[:3]
    assert page.stderr == f"Showing 3 of {len(events):,} billing events; use --all or --limit\n"
    assert pulled == [3]
    short = ok(overdue, "jobs results 1 -n 3 --format csv")
    assert short.stdout.count("\n") == 1 + 3
    whole = ok(overdue, f"jobs results 1 -n {len(events)} --format csv")
    assert whole.stderr == ""
    both = overdue("jobs results 1 --all --limit 3")
    assert (both.exit_code, both.stdout) == (2, "")
    assert both.stderr.startswith("Error: --all and --limit cannot be combined\n")


def test_a_billing_runs_results_by_outcome(overdue: Invoke) -> None:
    events = every(overdue, "billing log --job 1")
    failed = [e for e in events if e["outcome"] == "failed"]
    assert failed and len(failed) < len(events)
    assert every(overdue, "jobs results 1 --outcome failed") == failed
    assert every(overdue, "jobs results 1 --outcome ok") == [
        e for e in events if e["outcome"] != "failed"
    ]  # as `subctl jobs` counts a run: ok / failed
    assert every(overdue, "jobs results 1 --outcome processing,resumed") == [
        e for e in events if e["outcome"] in ("processing", "resumed")
    ]
    page = ok(overdue, "jobs results 1 --outcome failed -n 1 --format json")
    assert json.loads(page.stdout) == failed[:1]
    assert page.stderr == f"Showing 1 of {len(failed):,} billing events; use --all or --limit\n"
    refused = overdue("jobs results 1 --outcome skipped")
    assert (refused.exit_code, refused.stdout, refused.stderr) == (
        2,
        "",
        'Error: --outcome: "skipped" does not apply to a billing run (one of ok, succeeded, '
        "processing, failed, canceled, expired, resumed)\n",
    )


def test_a_batch_refuses_limit_and_all(overdue: Invoke) -> None:
    ok(overdue, "cancel 1 --yes --format csv")
    jobs = json.loads(ok(overdue, "jobs --format json").stdout)
    batch = next(j["id"] for j in jobs if j["command"].startswith("cancel"))
    for option in ("--limit 1", "--all"):
        result = overdue(f"jobs results {batch} {option}")
        assert (result.exit_code, result.stdout) == (2, ""), option
        assert result.stderr.startswith(
            "Error: --limit and --all apply to a billing run's events\n"
        ), result.stderr
    assert ok(overdue, f"jobs results {batch} --format csv").stdout.count("\n") == 2
