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
interruption (Ctrl-C) also waits for the running operations and journals them.

An operation the store refused (``refused``: a ``Conflict``, bad input, a missing record or
permission, what the store cannot do: nothing was written) releases its claim; one that
failed otherwise (the store unavailable, an answer lost: ``InDoubt``, an interruption)
keeps it: in doubt, re-read on resume.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from typing import Any

from subctl.errors import Aborted, Conflict, StoreUnavailable, SubctlError
from subctl.schema import MASK, masked_names
from subctl.store.base import (
    AuditChange,
    AuditContext,
    ItemOutcome,
    PartlyWritten,
    RecordStore,
    Workspace,
)
from subctl.store.ops import Cancel, CancelAtPeriodEnd, Delete, Op, Pause, Resume


def refused(exc: BaseException) -> bool:
    """The store refused the operation: nothing was written (see the module's docstring)."""
    return isinstance(exc, SubctlError) and not isinstance(exc, StoreUnavailable | Aborted)


class ItemByItem:
    """``UnitOfWork`` over any record store and workspace."""

    def __init__(
        self,
        records: RecordStore,
        workspace: Workspace,
        *,
        workers: int = 1,
        audit: AuditContext | None = None,
    ) -> None:
        self.records = records
        self.workspace = workspace
        self.workers = max(1, workers)
        self._claims: dict[tuple[int, int], dt.datetime] = {}  # in-doubt claims to take over
        # A record store that cannot write the workspace's audit log in its own transaction
        # (HubSpot): each item's row is appended after its operation, before its outcome.
        self.audit = audit
        self._masked: frozenset[str] | None = None

    def _audited(self, op: Op, job_id: int) -> None:
        if self.audit is None:
            return
        if self._masked is None:
            self._masked = masked_names(self.records.properties())
        change = requested_change(op, self._masked)
        self.workspace.append_audit(self.audit, [change], self.audit.clock(), job_id)

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
                    self._claim(job_id, sid, outcome.at)
                    try:
                        self.records.execute([op])
                    except Exception as exc:
                        if refused(exc):
                            self.workspace.release_item(job_id, sid)
                            self._claims.pop((job_id, sid), None)
                        raise
                    self._audited(op, job_id)
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

        def fail(exc: BaseException) -> None:
            nonlocal failure
            # the first failure is raised; one that is not a Conflict wins over a Conflict
            if failure is None or (isinstance(failure, Conflict)
                                   and not isinstance(exc, Conflict)):  # fmt: skip
                failure = exc

        def journal(outcome: ItemOutcome) -> None:
            try:
                self.workspace.record_outcomes(job_id, [outcome])
            except Conflict as exc:  # journaled by another run meanwhile
                fail(exc)
                return
            self._claims.pop((job_id, outcome.subscription_id), None)
            done.append(outcome.subscription_id)

        def settle(finished: set[Future[None]]) -> None:
            for future in finished:
                outcome = running.pop(future)
                exc = future.exception()
                if exc is None:
                    self._audited(by_item[outcome.subscription_id], job_id)
                    journal(outcome)
                    continue
                if refused(exc):  # nothing written
                    self.workspace.release_item(job_id, outcome.subscription_id)
                    self._claims.pop((job_id, outcome.subscription_id), None)
                fail(exc)

        with ThreadPoolExecutor(self.workers, thread_name_prefix="subctl-item") as pool:
            try:
                for outcome in outcomes:
                    if failure is not None:
                        break
                    sid = outcome.subscription_id
                    op = by_item.get(sid)
                    if op is None:  # nothing to carry out: journal its outcome
                        journal(outcome)
                        continue
                    try:
                        self._claim(job_id, sid, outcome.at)
                    except Conflict as exc:  # another run has it
                        fail(exc)
                        break
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


def requested_change(op: Op, masked: frozenset[str]) -> AuditChange:
    """What an operation asked of a store whose stored values subctl does not read back (the
    audit row of a remote change): the status it was decided on, and what it set."""
    after: dict[str, Any] | None
    if isinstance(op, Delete):
        after = None
    elif isinstance(op, Cancel):
        after = {"hs_status": "canceled"}
    elif isinstance(op, CancelAtPeriodEnd):
        after = {"hs_scheduled_cancellation_date": op.end.isoformat()}
    elif isinstance(op, Pause):
        after = {"hs_status": "paused", "hs_resume_date": op.resume_on}
    elif isinstance(op, Resume):
        after = {"hs_status": "active", "hs_next_payment_due_date": op.next_billing_date}
    else:
        values = getattr(op, "values", {})
        after = {k: (MASK if k in masked and v is not None else v) for k, v in values.items()}
    before = None if op.expect_status is None else {"hs_status": op.expect_status}
    return AuditChange(type(op).__name__.lower(), before, after, op.subscription_id)
