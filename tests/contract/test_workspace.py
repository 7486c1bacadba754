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


# -- segments ---------------------------------------------------------------------------------


def test_segments_definition_members_and_delete(workspace: Workspace) -> None:
    from subctl.store.base import Segment

    assert workspace.segments() == []
    workspace.save_segment(Segment("vip", "manual", None, "big ones"), [3, 1, 2], at=AT)
    workspace.save_segment(Segment("churn", "dynamic", "status = canceled"), at=AT)
    got = workspace.get_segment("vip")
    assert (got.name, got.kind, got.where, got.description, got.stored) == (
        "vip", "manual", None, "big ones", 3,
    )  # fmt: skip
    assert got.created_at == AT and got.refreshed_at is None
    assert [s.name for s in workspace.segments()] == ["churn", "vip"]
    assert workspace.get_segment("churn").stored is None  # dynamic: nothing stored
    assert workspace.change_segment_members("vip", [4, 1, 4], [2, 9]) == 2  # +4, -2
    assert workspace.get_segment("vip").stored == 3
    workspace.save_segment(Segment("vip", "manual", None, "changed"), at=AT)  # members kept
    assert workspace.get_segment("vip").stored == 3
    workspace.record_segment_refresh("vip", [1, 3, 4], AT)
    workspace.delete_segment("vip")
    with pytest.raises(NotFound):
        workspace.get_segment("vip")
    with pytest.raises(NotFound):
        workspace.delete_segment("vip")
    assert workspace.segment_refreshes("vip") == []


def test_segment_refreshes_and_the_membership_at_each(workspace: Workspace) -> None:
    from subctl.store.base import Segment

    workspace.save_segment(Segment("due", "dynamic", "mrr > 1"), at=AT)
    day = dt.timedelta(days=1)
    first = workspace.record_segment_refresh("due", [1, 2, 3], AT)
    assert (first.size, first.entered, first.left) == (3, 3, 0)
    second = workspace.record_segment_refresh("due", [2, 3, 4, 5], AT + day)
    assert (second.size, second.entered, second.left) == (4, 2, 1)
    third = workspace.record_segment_refresh("due", [5, 6], AT + 2 * day)
    assert (third.size, third.entered, third.left) == (2, 1, 3)
    assert [r.at for r in workspace.segment_refreshes("due")] == [AT, AT + day, AT + 2 * day]
    assert workspace.get_segment("due").refreshed_at == AT + 2 * day
    assert workspace.segment_baseline("due") == {5, 6}
    assert workspace.segment_baseline("due", third.id) == {5, 6}
    assert workspace.segment_baseline("due", second.id) == {2, 3, 4, 5}
    assert workspace.segment_baseline("due", first.id) == {1, 2, 3}
