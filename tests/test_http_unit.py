"""``ItemByItem`` with worker threads (remote batches): each item claim -> operation ->
outcome exactly once, the workspace used from the calling thread only, failures raised as one
item at a time would; and a batch cancel on HubSpot with 20% faults, on a virtual clock."""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest

from subctl.errors import AuthError, Conflict, InDoubt, StoreUnavailable
from subctl.store.base import ItemOutcome, PartlyWritten
from subctl.store.ops import Cancel, Op
from subctl.store.sql import open_local, sqlite_url
from subctl.store.unit import ItemByItem
from tests import remote_cancel

AT = dt.datetime(2026, 11, 26, 12, 0, tzinfo=dt.UTC)


class Records:
    """A record store whose ``execute`` takes a little real time and can fail per item."""

    def __init__(self, fail: dict[int, Exception] | None = None) -> None:
        self.fail = fail or {}
        self.done: list[int] = []
        self.running = 0
        self.most = 0
        self._lock = threading.Lock()

    def execute(self, ops: Sequence[Op]) -> None:
        (op,) = ops
        with self._lock:
            self.running += 1
            self.most = max(self.most, self.running)
        try:
            time.sleep(0.005)
            if op.subscription_id in self.fail:
                raise self.fail[op.subscription_id]
            with self._lock:
                self.done.append(op.subscription_id)
        finally:
            with self._lock:
                self.running -= 1


class MainThreadOnly:
    """A workspace that checks it is used from the thread that created it."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.thread = threading.current_thread()

    def __getattr__(self, name: str) -> Any:
        assert threading.current_thread() is self.thread, f"{name} called from a worker"
        return getattr(self.inner, name)


@pytest.fixture
def workspace(tmp_path: Path) -> Iterator[Any]:
    local = open_local(sqlite_url(tmp_path / "w.db"), create=True)
    yield local.workspace
    local.close()


def job(workspace: Any, ids: list[int]) -> int:
    created = workspace.create_job(verb="cancel", action={"verb": "cancel"}, selection={},
                                   fingerprint="t", frozen=False,
                                   items=[(i, "active") for i in ids], at=AT)  # fmt: skip
    return int(created.id)


def cancel(ids: list[int]) -> tuple[list[Any], list[ItemOutcome]]:
    ops = [Cancel(subscription_id=i, expect_status="active", at=AT, source="t") for i in ids]
    return ops, [ItemOutcome(i, "ok", "canceled", "canceled", AT) for i in ids]


def outcomes(workspace: Any, job_id: int) -> dict[int, str | None]:
    return {i.subscription_id: i.outcome for i in workspace.job_items(job_id)}


def test_items_run_concurrently_each_once_journaled_from_the_calling_thread(
    workspace: Any,
) -> None:
    ids = list(range(1, 41))
    job_id = job(workspace, ids)
    records = Records()
    ops, results = cancel(ids[:30])  # the last ten have no operation (skipped items)
    results += [ItemOutcome(i, "skipped", "paused", "paused", AT) for i in ids[30:]]
    ItemByItem(records, MainThreadOnly(workspace), workers=4).write(job_id, ops, results)  # type: ignore[arg-type]
    assert sorted(records.done) == ids[:30]
    assert 1 < records.most <= 4
    assert outcomes(workspace, job_id) == {**dict.fromkeys(ids[:30], "ok"),
                                           **dict.fromkeys(ids[30:], "skipped")}  # fmt: skip


def test_a_conflict_stops_new_items_journals_those_running_and_names_them(
    workspace: Any,
) -> None:
    ids = list(range(1, 21))
    job_id = job(workspace, ids)
    records = Records({5: Conflict("subscription 5 is paused now, not active")})
    ops, results = cancel(ids)
    with pytest.raises(PartlyWritten) as caught:
        ItemByItem(records, workspace, workers=3).write(job_id, ops, results)  # type: ignore[arg-type]
    journaled = outcomes(workspace, job_id)
    done = set(caught.value.done)
    assert done == set(records.done) == {i for i, o in journaled.items() if o == "ok"}
    assert {1, 2, 3, 4} <= done and len(done) < 20  # no new item after the conflict
    assert journaled[5] is None
    item = next(i for i in workspace.job_items(job_id) if i.subscription_id == 5)
    assert item.processed_at is None  # released: nothing was written


def test_an_item_another_run_claimed_stops_the_write(workspace: Any) -> None:
    ids = list(range(1, 11))
    job_id = job(workspace, ids)
    workspace.claim_item(job_id, 3, AT)  # another run is carrying it out
    records = Records()
    ops, results = cancel(ids)
    with pytest.raises(PartlyWritten) as caught:
        ItemByItem(records, workspace, workers=4).write(job_id, ops, results)  # type: ignore[arg-type]
    assert set(caught.value.done) == set(records.done) == {1, 2}
    assert {i for i, o in outcomes(workspace, job_id).items() if o == "ok"} == {1, 2}


def test_an_item_in_doubt_keeps_its_claim_to_be_read_again_on_resume(workspace: Any) -> None:
    ids = list(range(1, 11))
    job_id = job(workspace, ids)
    records = Records({3: InDoubt("HubSpot did not confirm the cancel")})
    ops, results = cancel(ids)
    with pytest.raises(InDoubt):
        ItemByItem(records, workspace, workers=2).write(job_id, ops, results)  # type: ignore[arg-type]
    assert outcomes(workspace, job_id)[3] is None
    resumed = ItemByItem(records, workspace, workers=2)  # type: ignore[arg-type]
    assert resumed.in_doubt(job_id) == {3}
    assert {i for i, o in outcomes(workspace, job_id).items() if o == "ok"} == set(records.done)


@pytest.mark.parametrize("workers", [1, 3])
def test_an_operation_refused_releases_its_claim_one_failing_otherwise_keeps_it(
    workspace: Any, workers: int
) -> None:
    """403 (nothing sent) is not in doubt; the store unavailable after retries may be."""
    ids = [1, 2]
    job_id = job(workspace, ids)
    records = Records({1: AuthError("the HubSpot token lacks the scope x"),
                       2: StoreUnavailable("HubSpot answered 503")})  # fmt: skip
    unit = ItemByItem(records, workspace, workers=workers)  # type: ignore[arg-type]
    for sid in ids:
        ops, results = cancel([sid])
        with pytest.raises((AuthError, StoreUnavailable)):
            unit.write(job_id, ops, results)
    assert ItemByItem(records, workspace).in_doubt(job_id) == {2}  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("tier", "count", "latency"),
    [("professional", 500, 0.0), ("starter", 300, 0.0), ("professional", 200, 0.3)],
)
def test_a_batch_cancel_with_20_percent_faults(
    tmp_path: Path, tier: str, count: int, latency: float
) -> None:
    """The benchmark's claims at a smaller count (benchmarks/remote_cancel.py: 2,000); with
    latency, each request takes 0.15-0.45 virtual seconds to reach HubSpot."""
    figures, hub = remote_cancel.run(tmp_path, count, tier=tier, faults=0.2, seed=3,
                                     latency=latency)  # fmt: skip
    assert figures.cancelled_once == count
    assert sum(hub.applied.values()) == count  # no cancel applied twice, nothing else applied
    assert figures.repeated == 0  # a lost answer was resolved by reading, never by resending
    assert figures.faults >= 0.15 * figures.requests
    assert figures.max_window <= figures.budget
    assert figures.utilisation >= 0.9, figures.lines()
