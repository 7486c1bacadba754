"""``ItemByItem``: the unit of work of a record store that cannot share a transaction with the
workspace (HubSpot's API): per item, a journal claim in the workspace, the store's operation,
then the journal outcome.

A run that stops between the claim and the outcome leaves the item *in doubt*: its operation
may have been carried out. Resuming re-reads it first (``services.batch``): one already in the
target state is journaled as done, and its operation is not carried out again.

``workers`` > 1 (a remote store: HubSpot's lifecycle calls have no batch form, and one call
at a time leaves most of the rate limit unused while it waits for an answer): up to that many
operations run at once in a small thread pool, each item still claim -> operation -> outcome.
Only the operations run in the pool; every claim and outcome is written by the calling
thread, so the workspace is used from one thread. When an operation fails, no further item
is started, those running finish and are journaled, then the failure is raised as it would
be one item at a time (``PartlyWritten`` naming the items written before a ``Conflict``). An
interruption (Ctrl-C) also waits for the running operations and journals them; an item whose
operation raised anything but a ``Conflict`` keeps its claim: in doubt, re-read on resume.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait

from subctl.errors import Conflict
from subctl.store.base import ItemOutcome, PartlyWritten, RecordStore, Workspace
from subctl.store.ops import Op


class ItemByItem:
    """``UnitOfWork`` over any record store and workspace."""

    def __init__(self, records: RecordStore, workspace: Workspace, *, workers: int = 1) -> None:
        self.records = records
        self.workspace = workspace
        self.workers = max(1, workers)
        self._claims: dict[tuple[int, int], dt.datetime] = {}  # in-doubt claims to take over

    def in_doubt(self, job_id: int) -> set[int]:
        found = set()
        for item in self.workspace.job_items(job_id, unprocessed_only=True):
            if item.processed_at is not None:
                self._claims[job_id, item.subscription_id] = item.processed_at
                found.add(item.subscription_id)
        return found

    def write(self, job_id: int, ops: Sequence[Op], outcomes: Sequence[ItemOutcome]) -> None:
        if self.workers > 1 and len(ops) > 1:
            self._write_concurrently(job_id, ops, outcomes)
            return
        by_item = {op.subscription_id: op for op in ops}
        done: list[int] = []
        for outcome in outcomes:
            sid = outcome.subscription_id
            op = by_item.get(sid)
            try:
                if op is not None:
                    previous = self._claims.get((job_id, sid))
                    self.workspace.claim_item(job_id, sid, outcome.at, previous)
                    self._claims[job_id, sid] = outcome.at
                    try:
                        self.records.execute([op])
                    except Conflict:
                        self.workspace.release_item(job_id, sid)
                        self._claims.pop((job_id, sid), None)
                        raise
                self.workspace.record_outcomes(job_id, [outcome])
            except Conflict as exc:
                if not done:
                    raise
                raise PartlyWritten(exc, done) from exc
            self._claims.pop((job_id, sid), None)
            done.append(sid)

    def _claim(self, job_id: int, sid: int, at: dt.datetime) -> None:
        self.workspace.claim_item(job_id, sid, at, self._claims.get((job_id, sid)))
        self._claims[job_id, sid] = at

    def _write_concurrently(
        self, job_id: int, ops: Sequence[Op], outcomes: Sequence[ItemOutcome]
    ) -> None:
        by_item = {op.subscription_id: op for op in ops}
        done: list[int] = []
        running: dict[Future[None], ItemOutcome] = {}
        failure: BaseException | None = None

        def settle(finished: set[Future[None]]) -> None:
            nonlocal failure
            for future in finished:
                outcome = running.pop(future)
                sid = outcome.subscription_id
                exc = future.exception()
                if exc is None:
                    self.workspace.record_outcomes(job_id, [outcome])
                    self._claims.pop((job_id, sid), None)
                    done.append(sid)
                    continue
                if isinstance(exc, Conflict):  # refused: nothing written
                    self.workspace.release_item(job_id, sid)
                    self._claims.pop((job_id, sid), None)
                if failure is None or (isinstance(failure, Conflict)
                                       and not isinstance(exc, Conflict)):  # fmt: skip
                    failure = exc

        with ThreadPoolExecutor(self.workers, thread_name_prefix="subctl-item") as pool:
            try:
                for outcome in outcomes:
                    if failure is not None:
                        break
                    sid = outcome.subscription_id
                    op = by_item.get(sid)
                    if op is None:  # nothing to carry out: journal its outcome
                        self.workspace.record_outcomes(job_id, [outcome])
                        done.append(sid)
                        continue
                    self._claim(job_id, sid, outcome.at)
                    running[pool.submit(self.records.execute, [op])] = outcome
                    if len(running) >= self.workers:
                        settle(wait(running, return_when=FIRST_COMPLETED).done)
                while running:
                    settle(wait(running).done)
            except BaseException:
                # Ctrl-C or a journal error: what is running finishes and is journaled (a
                # second Ctrl-C leaves those items claimed: in doubt, re-read on resume).
                while running:
                    settle(wait(running).done)
                raise
        if failure is None:
            return
        if isinstance(failure, Conflict) and done:
            raise PartlyWritten(failure, done) from failure
        raise failure
