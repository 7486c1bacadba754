"""Segments (HubSpot's lists of subscriptions, DOMAIN.md §0 Segments and §7): named sets that
feed every verb through ``--segment NAME``.

- **dynamic** (default): a query, stored as text and evaluated on every read against the
  workspace clock, so ``canceled_at > -60d`` keeps rolling.
- **snapshot**: the query's matches when it was made, frozen (``segment refresh`` takes them
  again); the query is kept to show and refresh it.
- **manual**: ids given with ``segment add/remove`` (or ``--from-file``).

A segment is created with its first **refresh**; ``segment refresh`` stores the current
membership again. ``segment diff`` compares the current membership with the last refresh (or
with the refresh in force at ``--since DATE``): who entered and who left. The store keeps the
membership of the last refresh and, per later refresh, only who entered and left, so an older
refresh's membership is rebuilt by undoing the later changes. Membership as of an arbitrary
date would need every property's history: ``--since`` takes dates from the first refresh on.

**On a remote profile** (a record store that is a ``store.base.SegmentStore``: HubSpot) a
segment is a HubSpot list named after it: dynamic -> a ``DYNAMIC`` list with the compiled
``filterBranch`` (``query.lists``), snapshot -> ``SNAPSHOT``, manual -> ``MANUAL`` (``add``/
``remove``: membership endpoints). Members, sizes and ``--segment`` read the list's
memberships. Choice: the workspace still keeps the definition as written (the query text, which
a ``filterBranch`` cannot give back, and the description) and each refresh's baseline (HubSpot
keeps no refresh history), so ``segment diff`` works the same; the list is found by name on
each use (its id is shown by ``segment show``), so a list deleted in HubSpot is an error (exit
3), never a silent local membership. A snapshot is refreshed, or given a new query, by deleting
and creating its list again (HubSpot cannot change a SNAPSHOT list's filters): its id changes.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from subctl.errors import InvalidState, NotFound, UsageError
from subctl.query.ast import SEGMENT_FIELD, Condition, Expr, Op, Query
from subctl.store.base import (
    AuditChange,
    AuditContext,
    RecordStore,
    Segment,
    SegmentRefresh,
    SegmentStore,
    Workspace,
)

KINDS = ("dynamic", "snapshot", "manual")
NAME_PATTERN = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")


def check_name(name: str) -> None:
    if not NAME_PATTERN.match(name):
        raise UsageError(
            f'bad segment name "{name}"',
            hint="use lowercase letters, digits, - and _ (at most 64 characters)",
        )


def held_lists(records: RecordStore) -> SegmentStore | None:
    """The record store when it keeps segments itself (HubSpot lists), else None (the
    workspace's tables hold them)."""
    return records if isinstance(records, SegmentStore) else None


def segment_expr(
    records: RecordStore,
    segment: Segment,
    today: dt.date,
    now: dt.datetime | None = None,
) -> Expr:
    """The filter that selects a segment's members: a dynamic segment's query (its relative
    dates resolved at ``today``/``now``), else its stored ids; on a remote profile the
    list's memberships, whatever the kind."""
    if segment.kind == "dynamic" and held_lists(records) is None:
        from subctl.services.subscriptions import parse_where

        assert segment.where is not None
        return parse_where(segment.where, records.properties(), today, now)
    return Condition(SEGMENT_FIELD, Op.EQ, (segment.name,))


def _query_ids(records: RecordStore, where: Expr) -> Iterator[int]:
    for sub in records.search(Query(where=where), ["hs_object_id"]):
        yield sub.id


def _matches(
    records: RecordStore, where_text: str, today: dt.date, now: dt.datetime | None
) -> Iterator[int]:
    from subctl.services.subscriptions import parse_where

    where = parse_where(where_text, records.properties(), today, now)
    return _query_ids(records, where)


def member_ids(
    records: RecordStore,
    segment: Segment,
    today: dt.date,
    now: dt.datetime | None = None,
) -> Iterator[int]:
    """The current members' ids, in id order (subscriptions that still exist)."""
    lists = held_lists(records)
    if lists is not None:
        return lists.list_members(segment.name)
    return _query_ids(records, segment_expr(records, segment, today, now))


def _check_query(records: RecordStore, workspace: Workspace, where: str, today: dt.date) -> str:
    """A query as ``list --where`` would take it (parsed, fields known, permission to filter on
    highly sensitive values); the text, stripped."""
    from subctl.services.subscriptions import ListRequest, build_listing

    text = where.strip()
    build_listing(records, workspace, ListRequest(where=text, fields="id"), today)
    return text


def create(
    records: RecordStore,
    workspace: Workspace,
    name: str,
    *,
    kind: str,
    where: str | None,
    description: str = "",
    ids: Sequence[int] = (),
    now: dt.datetime,
) -> tuple[Segment, SegmentRefresh]:
    """Create a segment and record its first refresh (the baseline of ``segment diff``)."""
    check_name(name)
    if kind not in KINDS:
        raise UsageError(f'bad segment kind "{kind}"; one of: {", ".join(KINDS)}')
    if name in {s.name for s in workspace.segments()}:
        raise InvalidState(
            f'segment "{name}" exists',
            hint=f"change it with `subctl segment edit {name}` or delete it first",
        )
    today = now.date()
    members: list[int] | None = None
    if kind == "manual":
        if where is not None:
            raise UsageError("a manual segment takes ids (segment add), not --where")
        members = _existing(records, ids)
    else:
        if where is None:
            raise UsageError(
                "--where is required (or --manual for a hand-kept list)",
                hint="e.g. subctl segment create reengage --where 'status = canceled'",
            )
        where = _check_query(records, workspace, where, today)
        if kind == "snapshot" and held_lists(records) is None:
            members = list(_matches(records, where, today, now))
    segment = Segment(name, kind, where, description)
    lists = held_lists(records)
    if lists is not None:  # the list first: a refused query leaves nothing behind
        from subctl.query.lists import list_request

        request = list_request(name, kind, where, records.properties(), today=today)
        lists.create_list(request, members or ())
        try:
            workspace.save_segment(segment, None, at=now)  # HubSpot holds the members
        except BaseException:
            lists.delete_list(name)  # no list left behind without its segment
            raise
    else:
        workspace.save_segment(segment, members, at=now)
    segment = workspace.get_segment(name)
    refresh = workspace.record_segment_refresh(
        name, members if members is not None else member_ids(records, segment, today, now), now
    )
    return workspace.get_segment(name), refresh


def _existing(records: RecordStore, ids: Sequence[int]) -> list[int]:
    """``ids`` (deduplicated, in order); an unknown one is an error (exit 3)."""
    from subctl.services.batch import _snapshots, not_found

    wanted = list(dict.fromkeys(ids))
    found = {s.id for s in _snapshots(records, wanted, ["hs_status"])}
    missing = [i for i in wanted if i not in found]
    if missing:
        raise not_found(missing)
    return wanted


def change_members(
    records: RecordStore,
    workspace: Workspace,
    name: str,
    *,
    add: Sequence[int] = (),
    remove: Sequence[int] = (),
    audit: AuditContext | None = None,
) -> int:
    """Add or remove ids of a manual segment; returns how many changed. ``audit``: a remote
    list's changes are appended to the workspace's audit log as the local ones are."""
    segment = workspace.get_segment(name)
    if segment.kind != "manual":
        raise InvalidState(
            f'segment "{name}" is {segment.kind}: its members come from its query',
            hint="add and remove work on segments created with --manual",
        )
    lists = held_lists(records)
    if lists is not None:
        added, removed = lists.change_list_members(name, _existing(records, add), list(remove))
        if audit is not None and (added or removed):
            change = AuditChange(f"segment:{name}", {"removed": removed} if removed else None,
                                 {"added": added} if added else None)  # fmt: skip
            workspace.append_audit(audit, [change], audit.clock())
        return len(added) + len(removed)
    return workspace.change_segment_members(name, _existing(records, add), list(remove))


def edit(
    records: RecordStore,
    workspace: Workspace,
    name: str,
    *,
    where: str | None,
    description: str | None,
    now: dt.datetime,
) -> Segment:
    """A new query or description. A snapshot's members are taken again from its new query
    (a refresh); a dynamic one simply reads the new query from now on."""
    segment = workspace.get_segment(name)
    if where is None and description is None:
        raise UsageError("nothing to change", hint="give --where EXPR or --description TEXT")
    if where is not None and segment.kind == "manual":
        raise InvalidState(f'segment "{name}" is manual: it has no query')
    members: list[int] | None = None
    lists = held_lists(records)
    if where is not None:
        where = _check_query(records, workspace, where, now.date())
        if lists is not None:
            _replace_list(records, lists, segment.name, segment.kind, where, now.date())
        elif segment.kind == "snapshot":
            members = list(_matches(records, where, now.date(), now))
    changed = Segment(
        name,
        segment.kind,
        where if where is not None else segment.where,
        description if description is not None else segment.description,
    )
    workspace.save_segment(changed, members, at=now)
    if members is not None:
        workspace.record_segment_refresh(name, members, now)
    elif lists is not None and where is not None and segment.kind == "snapshot":
        workspace.record_segment_refresh(name, lists.list_members(name), now)
    return workspace.get_segment(name)


def _replace_list(
    records: RecordStore, lists: SegmentStore, name: str, kind: str, where: str, today: dt.date
) -> None:
    """A list's new query: a dynamic list's filters change in place; a snapshot list is
    deleted and created again (HubSpot takes a SNAPSHOT's members once, at creation)."""
    from subctl.query.lists import list_request

    request = list_request(name, kind, where, records.properties(), today=today)
    if kind == "dynamic":
        lists.set_list_filters(name, request["filterBranch"])
        return
    lists.delete_list(name)
    lists.create_list(request)


def refresh(
    records: RecordStore, workspace: Workspace, name: str, *, now: dt.datetime
) -> SegmentRefresh:
    """Store the current membership as the last refresh. A snapshot takes its query's
    matches again (HubSpot: re-create the snapshot); a manual segment keeps its ids."""
    segment = workspace.get_segment(name)
    today = now.date()
    lists = held_lists(records)
    if segment.kind == "snapshot" and lists is not None:
        assert segment.where is not None
        _replace_list(records, lists, name, segment.kind, segment.where, today)
    elif segment.kind == "snapshot":
        assert segment.where is not None
        members = list(_matches(records, segment.where, today, now))
        workspace.save_segment(segment, members, at=now)
        return workspace.record_segment_refresh(name, members, now)
    return workspace.record_segment_refresh(name, member_ids(records, segment, today, now), now)


@dataclass(frozen=True)
class Diff:
    segment: Segment
    since: SegmentRefresh
    entered: list[int]
    left: list[int]
    size: int


def diff(
    records: RecordStore,
    workspace: Workspace,
    name: str,
    *,
    since: dt.datetime | None,
    now: dt.datetime,
) -> Diff:
    """Who entered and who left the segment since its last refresh, or since the refresh in
    force at ``since`` (the last one at or before it)."""
    segment = workspace.get_segment(name)
    refreshes = workspace.segment_refreshes(name)
    if not refreshes:  # made before refreshes were recorded: none to compare with
        raise InvalidState(
            f'segment "{name}" has never been refreshed',
            hint=f"run `subctl segment refresh {name}` first",
        )
    base = refreshes[-1]
    refresh_id: int | None = None
    if since is not None:
        earlier = [r for r in refreshes if r.at <= since]
        if not earlier:
            first = refreshes[0].at.strftime("%Y-%m-%dT%H:%M:%SZ")
            raise UsageError(
                f"--since is before the segment's first refresh ({first}): membership is known "
                "only at its refreshes",
                hint="give a date from the first refresh on, or use --since-refresh",
            )
        base = earlier[-1]
        refresh_id = base.id if base is not refreshes[-1] else None
    before = workspace.segment_baseline(name, refresh_id)
    current = set(member_ids(records, segment, now.date(), now))
    return Diff(segment, base, sorted(current - before), sorted(before - current), len(current))


def diff_rows(result: Diff) -> Iterator[dict[str, Any]]:
    for sid in result.entered:
        yield {"id": sid, "change": "entered"}
    for sid in result.left:
        yield {"id": sid, "change": "left"}


def diff_document(result: Diff) -> dict[str, Any]:
    return {
        "segment": result.segment.name,
        "since": result.since.at,
        "size": result.size,
        "entered": result.entered,
        "left": result.left,
    }


def segment_rows(
    records: RecordStore, workspace: Workspace, today: dt.date, now: dt.datetime | None = None
) -> list[dict[str, Any]]:
    """``segment list``: name, kind, size now, last refresh and description."""
    rows = []
    for s in workspace.segments():
        try:
            size = _size(records, s, today, now)
        except NotFound:  # its HubSpot list was deleted there: listed, size unknown
            size = None
        rows.append(
            {"name": s.name, "kind": s.kind, "size": size, "refreshed_at": s.refreshed_at,
             "query": s.where, "description": s.description}
        )  # fmt: skip
    return rows


def _size(records: RecordStore, s: Segment, today: dt.date, now: dt.datetime | None) -> int | None:
    """How many members now: the list's size (remote), a dynamic query's count, or the ids
    stored."""
    lists = held_lists(records)
    if lists is not None:
        return lists.get_list(s.name).size
    if s.kind == "dynamic":
        return records.count(segment_expr(records, s, today, now))
    return s.stored


def lists_request(
    records: RecordStore, workspace: Workspace, name: str, today: dt.date
) -> dict[str, Any]:
    """The segment as a HubSpot Lists API request; raises ListsUnsupported (exit 2)."""
    from subctl.query.lists import list_request

    s = workspace.get_segment(name)
    return list_request(s.name, s.kind, s.where, records.properties(), today=today)


def segment_document(
    records: RecordStore,
    workspace: Workspace,
    name: str,
    today: dt.date,
    now: dt.datetime | None = None,
) -> dict[str, Any]:
    """``segment show``: the definition in the query language and as a HubSpot Lists API
    request (``filterBranch``; None for a query the Lists API cannot express, with the
    reason), the size now and the refreshes."""
    from subctl.query.lists import list_request

    s = workspace.get_segment(name)
    lists: dict[str, Any] | None = None
    unsupported = None
    try:
        lists = list_request(s.name, s.kind, s.where, records.properties(), today=today)
    except UsageError as exc:
        unsupported = str(exc)
    lists_held = held_lists(records)
    held: dict[str, Any] = {}
    if lists_held is not None:
        found = lists_held.get_list(name)  # NotFound: deleted in HubSpot (exit 3, a hint)
        size: int | None = found.size
        held = {"hubspot_list_id": found.id}
    else:
        size = _size(records, s, today, now)
    return {
        "name": s.name,
        "kind": s.kind,
        "query": s.where,
        "description": s.description,
        "size": size,
        "created_at": s.created_at,
        "refreshed_at": s.refreshed_at,
        "refreshes": [
            {"at": r.at, "size": r.size, "entered": r.entered, "left": r.left}
            for r in workspace.segment_refreshes(name)
        ],
        "hubspot_list": lists,
        **({"hubspot_list_error": unsupported} if unsupported else {}),
        **held,
    }


def references(workspace: Workspace, name: str) -> list[tuple[int, str]]:
    """The jobs (id, status) whose selection was ``--segment NAME``: a resumed job keeps its
    journaled items, but says which segment chose them. (A saved view is a query: it cannot
    name a segment.)"""
    return [(j.id, j.status) for j in workspace.jobs() if j.selection.get("segment") == name]


def delete(records: RecordStore, workspace: Workspace, name: str) -> None:
    """The segment; on a remote profile its HubSpot list first (a list already deleted in
    HubSpot is not an error: the local definition goes too)."""
    workspace.get_segment(name)  # NotFound before anything is deleted
    lists = held_lists(records)
    if lists is not None:
        try:
            lists.delete_list(name)
        except NotFound:
            pass
    workspace.delete_segment(name)
