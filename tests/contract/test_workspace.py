"""The workspace contract: saved views, settings and the batch journal."""

from __future__ import annotations

import datetime as dt

import pytest

from subctl.errors import Conflict, NotFound
from subctl.store.base import ItemOutcome, SavedView, Workspace

AT = dt.datetime(2026, 11, 26, 12, tzinfo=dt.UTC)


def _job(workspace: Workspace, items: list[tuple[int, str | None]], fingerprint: str = "fp") -> int:
    job = workspace.create_job(
        verb="cancel", action={"verb": "cancel"}, selection={"ids": [i for i, _ in items]},
        fingerprint=fingerprint, frozen=False, items=items, at=AT,
    )  # fmt: skip
    return job.id


def test_views_builtin_and_saved(workspace: Workspace) -> None:
    assert [v.name for v in workspace.views() if v.builtin] == ["scheduled", "unpaid"]
    workspace.save_view(SavedView("mine", "status = paused", ("id", "name"), "name"))
    assert workspace.get_view("mine") == SavedView("mine", "status = paused", ("id", "name"),
                                                   "name")  # fmt: skip
    workspace.delete_view("mine")
    with pytest.raises(NotFound):
        workspace.get_view("mine")


def test_settings_and_plan_key(workspace: Workspace) -> None:
    assert workspace.get_setting("account_tier") is None
    workspace.set_setting("account_tier", "starter")
    workspace.set_setting("account_tier", "enterprise")
    assert workspace.get_setting("account_tier") == "enterprise"
    key = workspace.plan_key()
    assert len(key) == 32 and workspace.plan_key() == key


def test_jobs(workspace: Workspace) -> None:
    first = _job(workspace, [(101, "active")], fingerprint="a")
    second = _job(workspace, [(102, "unpaid"), (104, "paused")], fingerprint="b")
    assert [j.id for j in workspace.jobs()] == [second, first]
    job = workspace.job(second)
    assert (job.verb, job.total, job.status, job.frozen) == ("cancel", 2, "unfinished", False)
    assert job.selection == {"ids": [102, 104]} and job.action == {"verb": "cancel"}
    assert [i.planned_status for i in workspace.job_items(second)] == ["unpaid", "paused"]
    assert workspace.unfinished_job("b") == job
    workspace.set_job_status(second, "done", AT)
    assert workspace.unfinished_job("b") is None
    assert workspace.job(second).status == "done"
    with pytest.raises(NotFound):
        workspace.job(999)


def test_claims_and_outcomes(workspace: Workspace) -> None:
    job = _job(workspace, [(101, "active"), (102, "unpaid")])
    workspace.claim_item(job, 101, AT)
    with pytest.raises(Conflict):  # another run has it
        workspace.claim_item(job, 101, AT)
    (claimed, free) = workspace.job_items(job, unprocessed_only=True)
    assert (claimed.processed_at, claimed.outcome, free.processed_at) == (AT, None, None)
    later = AT + dt.timedelta(minutes=1)
    workspace.claim_item(job, 101, later, previous=AT)  # an in-doubt claim taken over
    workspace.release_item(job, 101)
    assert all(i.processed_at is None for i in workspace.job_items(job))
    workspace.record_outcomes(job, [ItemOutcome(101, "ok", "canceled", "canceled", AT)])
    with pytest.raises(Conflict):  # journaled once
        workspace.record_outcomes(job, [ItemOutcome(101, "ok", "canceled", "canceled", AT)])
    assert workspace.job(job).counts["ok"] == 1
