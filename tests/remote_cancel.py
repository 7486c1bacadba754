"""A batch cancel on HubSpot, the way a remote profile runs one: a journaled job in a SQLite
workspace, ``ItemByItem`` with the client's worker threads, ``writes.execute`` per item,
against the fake HubSpot (``tests/fakehub``) with injected faults, on a virtual clock. Shared by
``tests/test_http_unit.py`` (a small count) and ``benchmarks/remote_cancel.py`` (2,000)."""

from __future__ import annotations

import datetime as dt
import random
import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from subctl.schema import standard_registry
from subctl.store.base import ItemOutcome
from subctl.store.http.client import WINDOW, HubSpotClient
from subctl.store.http.writes import execute
from subctl.store.ops import Cancel, Op
from subctl.store.sql import open_local, sqlite_url
from subctl.store.unit import ItemByItem
from tests.fakehub import FakeHubSpot
from tests.vclock import VirtualClock

AT = dt.datetime(2026, 11, 26, 12, 0, tzinfo=dt.UTC)
CHUNK = 500  # items per UnitOfWork.write, as services.batch hands them over


def max_in_window(times: list[float], window: float = WINDOW) -> int:
    """The most requests of ``times`` (sorted) within any half-open window of that length."""
    best, start = 0, 0
    for end, t in enumerate(times):
        while times[start] <= t - window:
            start += 1
        best = max(best, end - start + 1)
    return best


class RemoteRecords:
    """The part of ``HttpStore`` a batch write needs: ``execute`` through ``writes``; each
    call is one participant of the virtual clock's simulation."""

    def __init__(self, client: HubSpotClient, clock: VirtualClock) -> None:
        self.client = client
        self.clock = clock
        self.registry = standard_registry()

    def execute(self, ops: Sequence[Op]) -> None:
        with self.clock.running():
            execute(self.client, ops, self.registry)


class TimedWorkspace:
    """The workspace, its journal writes part of the virtual clock's simulation: the clock
    does not move on while the calling thread journals an item and starts the next (real
    milliseconds, which a loaded machine stretches), as it would not in real time either."""

    def __init__(self, workspace: Any, clock: VirtualClock) -> None:
        self._workspace = workspace
        self._clock = clock

    def __getattr__(self, name: str) -> Any:
        method = getattr(self._workspace, name)

        def timed(*args: Any, **kwargs: Any) -> Any:
            with self._clock.running():
                return method(*args, **kwargs)

        return timed


@dataclass
class Figures:
    items: int
    cancelled_once: int
    requests: int
    faults: int  # requests answered 429 or 5xx, or timed out
    repeated: int  # cancels sent to a subscription already canceled (answered 409)
    max_window: int
    budget: int
    seconds: float  # virtual, first request to last
    rate: float  # requests per second, sustained: the slope of the request count over time
    utilisation: float  # rate / the budget's requests per second
    workers: int

    def lines(self) -> list[str]:
        return [
            f"items: {self.items:,}; cancelled exactly once: {self.cancelled_once:,}; "
            f"cancels sent again to a canceled one: {self.repeated}",
            f"requests: {self.requests:,} ({self.faults:,} answered 429/5xx or timed out)",
            f"most requests in any 10-second window: {self.max_window} (budget {self.budget})",
            f"virtual time: {self.seconds:,.1f} s; sustained {self.rate:.2f} requests/s "
            f"(budget {self.budget / WINDOW:.0f}/s), {self.items / self.seconds:.2f} items/s",
            f"throughput: {self.utilisation:.1%} of the budget (workers: {self.workers})",
        ]


def run(
    tmp: Path,
    count: int,
    *,
    faults: float = 0.2,
    seed: int = 7,
    tier: str = "professional",
    latency: float = 0.0,
) -> tuple[Figures, FakeHubSpot]:
    """``latency``: seconds each request takes to reach HubSpot (virtual; each one drawn
    between half and one and a half times it), 0: none."""
    clock = VirtualClock()
    hub = FakeHubSpot(clock=clock, tier=tier, faults=faults, seed=seed)
    transport = hub.transport
    if latency:
        spread = random.Random(seed)

        def slow(request: httpx.Request) -> httpx.Response:
            clock.sleep(latency * spread.uniform(0.5, 1.5))
            return hub.handle(request)

        transport = httpx.MockTransport(slow)
    ids = hub.seed([{"hs_status": "active", "hs_name": f"Sub {i}"} for i in range(count)])
    local = open_local(sqlite_url(tmp / "remote-cancel.db"), create=True)
    client = HubSpotClient("https://api.hubapi.com", hub.token, tier=tier,
                           transport=transport, clock=clock, sleep=clock.sleep)  # fmt: skip
    try:
        workspace = local.workspace
        job = workspace.create_job(
            verb="cancel", action={"verb": "cancel"}, selection={}, fingerprint="bench",
            frozen=False, items=[(i, "active") for i in ids], at=AT,
        )  # fmt: skip
        unit = ItemByItem(RemoteRecords(client, clock), TimedWorkspace(workspace, clock),  # type: ignore[arg-type]
                          workers=client.workers)  # fmt: skip
        for start in range(0, count, CHUNK):
            part = ids[start : start + CHUNK]
            ops: list[Any] = [Cancel(subscription_id=i, expect_status="active", at=AT,
                                     source="benchmark") for i in part]  # fmt: skip
            outcomes = [ItemOutcome(i, "ok", "canceled", "canceled", AT) for i in part]
            unit.write(job.id, ops, outcomes)
        journaled = {i.subscription_id: i.outcome for i in workspace.job_items(job.id)}
        assert journaled == dict.fromkeys(ids, "ok"), "every item journaled once, ok"
    finally:
        client.close()
        local.close()
    # Sustained rate: the slope of the request count over time (least squares). A sliding
    # window sends in bursts; the slope averages them and the ends of the run out, where
    # "requests / duration" swings with the size of the last burst.
    times = [e.t for e in hub.requests]
    seconds = times[-1] - times[0]
    rate = statistics.linear_regression(times, range(len(times))).slope
    figures = Figures(
        items=count,
        cancelled_once=sum(
            1
            for i in ids
            if hub.applied[i, "cancel"] == 1 and hub.subscription(i)["hs_status"] == "canceled"
        ),  # fmt: skip
        requests=len(hub.requests),
        faults=sum(1 for e in hub.requests if e.fault or e.status == 429 or e.status >= 500),
        repeated=sum(1 for e in hub.requests if e.path.endswith("/cancel") and e.status == 409),
        max_window=max_in_window(times),
        budget=hub.limit,
        seconds=seconds,
        rate=rate,
        utilisation=rate / (hub.limit / WINDOW),
        workers=client.workers,
    )
    return figures, hub
