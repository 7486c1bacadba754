"""Pages of the billing log: how many events a filter of the log matches (the footer of a page,
"Showing 50 of 767,192"), counted by the store in one query, and a billing run's events by
outcome (``jobs results N --outcome``). Beside ``services/billing.py``, which holds the run's
rules and the log itself (``log``)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Sequence

from subctl.errors import InputError
from subctl.store.base import BillingEvent, BillingStore

# The outcomes of billing events (``billing_events.outcome``): a payment succeeded, failed or
# is processing (a bank payment not settled yet); a cancellation, expiry or resumption names
# its own. For a billing run, ``ok`` is every outcome but ``failed``, as `subctl jobs` counts
# the run's totals (ok / failed).
EVENT_OUTCOMES = ("succeeded", "processing", "failed", "canceled", "expired", "resumed")
RUN_OUTCOMES = ("ok", *EVENT_OUTCOMES)


def event_outcomes(wanted: Sequence[str]) -> tuple[str, ...]:
    """``--outcome`` values for a billing run's events -> the event outcomes they stand for
    (``ok``: all but ``failed``); ``InputError`` for any other (a lifecycle batch's skipped,
    attention and unprocessed do not apply: a run skips nothing)."""
    out: list[str] = []
    for value in wanted:
        if value == "ok":
            out.extend(o for o in EVENT_OUTCOMES if o != "failed")
        elif value in EVENT_OUTCOMES:
            out.append(value)
        else:
            raise InputError(
                "outcome",
                f'"{value}" does not apply to a billing run (one of {", ".join(RUN_OUTCOMES)})',
            )
    return tuple(sorted(set(out)))


def count(
    billing: BillingStore,
    *,
    since: dt.datetime | None = None,
    sub_id: int | None = None,
    kinds: Sequence[str] = (),
    job_id: int | None = None,
    outcomes: Sequence[str] = (),
) -> int:
    """How many events of the log match (the filters of ``services.billing.log``)."""
    return billing.count_events(
        since=since, sub_id=sub_id, kinds=kinds, job_id=job_id, outcomes=outcomes
    )


def with_outcomes(
    events: Iterator[BillingEvent], outcomes: Sequence[str]
) -> Iterator[BillingEvent]:
    """``events`` (streamed) with one of ``outcomes`` (every event when none)."""
    if not outcomes:
        return events
    wanted = set(outcomes)
    return (event for event in events if event.outcome in wanted)
