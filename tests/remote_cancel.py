"""A batch cancel on HubSpot, the way a remote profile runs one: a journaled job in a SQLite
workspace, ``ItemByItem`` with the client's worker threads, ``writes.execute`` per item,
against ``MiniHub`` with injected faults, on a virtual clock. Shared by
``tests/test_http_unit.py`` (a small count) and ``benchmarks/remote_cancel.py`` (2,000)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from subctl.schema import standard_registry
from subctl.store.base import ItemOutcome
from subctl.store.http.client import WINDOW, HubSpotClient
from subctl.store.http.writes import execute
from subctl.store.ops import Cancel, Op
from subctl.store.sql import open_local, sqlite_url
from subctl.store.unit import ItemByItem
from tests.minihub import MiniHub, max_in_window
from tests.vclock import VirtualClock

AT = dt.datetime(2026, 11, 26, 12, 0, tzinfo=dt.UTC)
CHUNK = 500  # items per UnitOfWork.write, as services.batch hands them over


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


@dataclass
class Figures:
    items: int
    cancelled_once: int
    requests: int
    faults: int  # requests answered 429 or 5xx, or timed out
    max_window: int
    budget: int
    seconds: float  # virtual, first request to last
    rate: float  # requests per second, sustained (see ``run``)
    utilisation: float  # rate / the budget's requests per second
    workers: int

    def lines(self) -> list[str]:
        return [
            f"items: {self.items:,}; cancelled exactly once: {self.cancelled_once:,}",
            f"requests: {self.requests:,} ({self.faults:,} answered 429/5xx or timed out)",
            f"most requests in any 10-second window: {self.max_window} (budget {self.budget})",
            f"virtual time: {self.seconds:,.1f} s; sustained {self.rate:.2f} requests/s "
            f"(budget {self.budget / WINDOW:.0f}/s), {self.items / self.seconds:.2f} items/s",
            f"throughput: {self.utilisation:.1%} of the budget (workers: {self.workers})",
        ]


def run(tmp: Path, count: int, *, faults: float = 0.2, seed: int = 7,
        tier: str = "professional") -> tuple[Figures, MiniHub]:  # fmt: skip
    clock = VirtualClock()
    hub = MiniHub(clock=clock, tier=tier, faults=faults, seed=seed)
    ids = [hub.add(hs_status="active", hs_name=f"Sub {i}") for i in range(count)]
    local = open_local(sqlite_url(tmp / "remote-cancel.db"), create=True)
    client = HubSpotClient("https://api.example.test", hub.token, tier=tier,
                           transport=hub.transport, clock=clock, sleep=clock.sleep)  # fmt: skip
    try:
        workspace = local.workspace
        job = workspace.create_job(
            verb="cancel", action={"verb": "cancel"}, selection={}, fingerprint="bench",
            frozen=False, items=[(i, "active") for i in ids], at=AT,
        )  # fmt: skip
        unit = ItemByItem(RemoteRecords(client, clock), workspace, workers=client.workers)
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
    # Sustained rate: the requests sent before the last instant over the time they took (the
    # last instant's requests open a window of their own; counting them would credit a run
    # with a rate it did not keep up).
    times = [e.t for e in hub.log]
    seconds = times[-1] - times[0]
    rate = sum(1 for t in times if t < times[-1]) / seconds
    figures = Figures(
        items=count,
        cancelled_once=sum(
            1
            for i in ids
            if hub.applied[i, "cancel"] == 1 and hub.records[i]["hs_status"] == "canceled"
        ),  # fmt: skip
        requests=len(hub.log),
        faults=sum(1 for e in hub.log if e.status in (0, 429) or e.status >= 500),
        max_window=max_in_window(times),
        budget=hub.budget,
        seconds=seconds,
        rate=rate,
        utilisation=rate / (hub.budget / WINDOW),
        workers=client.workers,
    )
    return figures, hub
