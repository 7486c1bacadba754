"""``ItemByItem``: the unit of work of a record store that cannot share a transaction with the
workspace (HubSpot's API): per item, a journal claim in the workspace, the store's operation,
then the journal outcome.

A run that stops between the claim and the outcome leaves the item *in doubt*: its operation
may have been carried out. Resuming re-reads it first (``services.batch``): one already in the
target state is journaled as done, and its operation is not carried out again.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from subctl.errors import Conflict
from subctl.store.base import ItemOutcome, PartlyWritten, RecordStore, Workspace
from subctl.store.ops import Op


class ItemByItem:
    """``UnitOfWork`` over any record store and workspace."""

    def __init__(self, records: RecordStore, workspace: Workspace) -> None:
        self.records = records
        self.workspace = workspace
        self._claims: dict[tuple[int, int], dt.datetime] = {}  # in-doubt claims to take over

    def in_doubt(self, job_id: int) -> set[int]:
        found = set()
        for item in self.workspace.job_items(job_id, unprocessed_only=True):
            if item.processed_at is not None:
                self._claims[job_id, item.subscription_id] = item.processed_at
                found.add(item.subscription_id)
        return found

    def write(self, job_id: int, ops: Sequence[Op], outcomes: Sequence[ItemOutcome]) -> None:
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
