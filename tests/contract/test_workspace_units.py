"""Exactly once, for both units of work (the backend's own and item by item): an item's
operation and its journal outcome are written together; an item is journaled once; a refused
operation writes nothing; an item left in doubt by a stopped run is reported as such."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from subctl.errors import Conflict
from subctl.store import ops
from subctl.store.base import ItemOutcome, PartlyWritten, RecordStore, UnitOfWork, Workspace

AT = dt.datetime(2026, 11, 26, 12, tzinfo=dt.UTC)


def _job(workspace: Workspace, items: list[tuple[int, str | None]]) -> int:
    return workspace.create_job(
        verb="cancel", action={"verb": "cancel"}, selection={}, fingerprint="fp", frozen=False,
        items=items, at=AT,
    ).id  # fmt: skip


def _cancel(sub_id: int, status: str) -> Any:
    return ops.Cancel(subscription_id=sub_id, expect_status=status, at=AT, source="test")


def _changed_once(records: RecordStore, sub_id: int) -> None:
    """The status changed once: its history says so where the store records one with every
    change (``Capabilities.history``), else the status is where one change left it."""
    assert records.get(sub_id).status == "canceled"
    if records.capabilities.history:
        changes = [c for c in records.detail(sub_id).history if c.property == "hs_status"]
        assert len(changes) == 1


def _ok(sub_id: int) -> ItemOutcome:
    return ItemOutcome(sub_id, "ok", "canceled", "canceled", AT)


def test_operations_and_outcomes_are_written_together(
    unit: UnitOfWork, records: RecordStore, workspace: Workspace
) -> None:
    job = _job(workspace, [(101, "active"), (102, "unpaid"), (103, "canceled")])
    skipped = ItemOutcome(103, "skipped", "canceled", "already canceled", AT)
    unit.write(job, [_cancel(101, "active"), _cancel(102, "unpaid")], [_ok(101), _ok(102), skipped])
    assert {records.get(i).status for i in (101, 102)} == {"canceled"}
    assert [i.outcome for i in workspace.job_items(job)] == ["ok", "ok", "skipped"]
    assert unit.in_doubt(job) == set()


def test_an_item_is_journaled_once(
    unit: UnitOfWork, records: RecordStore, workspace: Workspace
) -> None:
    job = _job(workspace, [(101, "active")])
    unit.write(job, [_cancel(101, "active")], [_ok(101)])
    with pytest.raises(Conflict):  # a second run of the same item: refused, nothing written
        unit.write(job, [_cancel(101, "canceled")], [_ok(101)])
    _changed_once(records, 101)


def test_a_refused_operation_journals_nothing_of_it(
    unit: UnitOfWork, records: RecordStore, workspace: Workspace
) -> None:
    job = _job(workspace, [(101, "active"), (102, "unpaid")])
    with pytest.raises(Conflict) as raised:
        unit.write(job, [_cancel(101, "active"), _cancel(102, "active")], [_ok(101), _ok(102)])
    unprocessed = [i.subscription_id for i in workspace.job_items(job, unprocessed_only=True)]
    if isinstance(raised.value, PartlyWritten):  # item by item: 101 was done before 102
        assert raised.value.done == (101,) and unprocessed == [102]
        assert records.get(101).status == "canceled"
    else:  # one transaction: nothing
        assert unprocessed == [101, 102] and records.get(101).status == "active"
    assert records.get(102).status == "unpaid"
    assert all(i.processed_at is None for i in workspace.job_items(job, unprocessed_only=True))


def test_a_claim_without_outcome_is_in_doubt_and_taken_over(
    unit: UnitOfWork, records: RecordStore, workspace: Workspace
) -> None:
    job = _job(workspace, [(101, "active")])
    workspace.claim_item(job, 101, AT)  # a run stopped after its claim (item by item)
    records.execute([_cancel(101, "active")])  # ... and maybe after the operation
    if unit.in_doubt(job) == set():
        return  # a unit that never claims apart from its write (one transaction)
    assert unit.in_doubt(job) == {101}
    done = ItemOutcome(101, "ok", "canceled", "done before the interruption", AT)
    unit.write(job, [], [done])  # re-read: in the target state, journaled as done
    assert [i.outcome for i in workspace.job_items(job)] == ["ok"]
    _changed_once(records, 101)
