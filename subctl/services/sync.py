"""``subctl sync``: mirror a record store (a HubSpot account, or another workspace) into a local
workspace, so that operators query millions of records locally.

What is mirrored: every subscription with every property, the custom property definitions
(created, edited and removed to match), the associations (added and removed to match; an
associated record the target lacks is copied once, by id) and deletions (archived remote
records are removed locally).

How (all through the ``RecordStore`` protocol, so local -> local works as HubSpot -> local):

- **Incremental** by ``hs_lastmodifieddate``: the target's workspace settings keep the
  watermark (``sync.watermark``: the latest modified date mirrored). The next sync reads what
  changed at or after the watermark (inclusive, minus ``OVERLAP``): records written in the
  same millisecond as the last one read, after it was read, are not lost; a record read again
  and found equal changes nothing and counts as unchanged. Choice: no wider overlap, because
  every record in it is read again on every sync (a bulk change in HubSpot writes thousands
  of records in one second): measured against the fake server, a one-second overlap made a
  sync with nothing changed cost 134 requests instead of a handful.
- **Full** (the first sync, ``--full``, or another source): every record by ascending id. The
  target's ids between two chunks' ids that the source no longer has are removed as it goes,
  so a full sync leaves an exact mirror. ``sync.cursor`` keeps the last id written: a killed
  full sync continues after it.
- **Nothing half-written**: each chunk (100 records) is one transaction of the target
  (``execute`` with ``ops.Upsert``), and the watermark or cursor moves only after its chunk
  is committed. A killed sync reads again at most one chunk, and re-reading is harmless.
- **Archived records**: ``archived_since`` (HubSpot lists them) and, as a safety net for a
  source that keeps no tombstones, a count comparison after every sync; when source and
  target counts differ, the ids of both are compared in order (streamed, flat memory) and the
  target's extra ones removed.
- A target mirrors one source (``sync.source``): syncing another into it needs ``--full``,
  which makes it that source's mirror (a workspace with records that never was a mirror
  needs ``--full`` too: its records not in the source are removed).
- **A first sync binds the target when it completes** (choice: not bound at the start and
  unbound on failure, which a crash or a kill would skip). While it runs, the source is
  kept as ``sync.pending_source`` (with ``sync.cursor``): the same source run again continues
  where the failed sync stopped; another source starts over without ``--full`` (the
  target's records are only the failed sync's, and a full sync removes those its source
  lacks). A failed ``--full`` sync of a target that already mirrors a source moved the
  binding at its start, as before: the user asked for the new source.

Choices where the issue is silent: mirrored values are written with history (source
``sync``), like an import, so ``view`` shows when a mirrored value changed. An associated
record (contact, company, ...) is copied once, by id, when a mirrored subscription first
names it; later edits of that record are not mirrored (reading every associated record again
would cost a batch read per 100 of them on every sync). An association added or removed alone
does not change ``hs_lastmodifieddate`` (in HubSpot neither), so an incremental sync sees it
with the subscription's next change; ``--full`` mirrors every association now.

Requests a source store gets (HubSpot, through ``HttpStore``): a full sync, ``properties``
(1), ``count`` (2), ``changed_since`` pages (N / 100) and ``record_values`` for associated
records the target lacks; a sync with nothing changed: ``properties``, one ``changed_since``
search, ``archived_since`` and ``count``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from subctl.errors import Opt, UsageError
from subctl.query.ast import And, Condition, Expr, Query, Sort
from subctl.query.ast import Op as QOp
from subctl.schema import ASSOCIATION_BY_NAME
from subctl.store.base import RecordStore, SyncedSubscription, Workspace
from subctl.store.ops import LAST_MODIFIED, Delete, NewRecord, Upsert

WATERMARK = "sync.watermark"  # ISO datetime: the latest hs_lastmodifieddate mirrored
CURSOR = "sync.cursor"  # a full sync under way: the last id written
FULL_MAX = "sync.cursor_modified"  # ... and the latest modified date it has seen
SOURCE = "sync.source"  # what the target mirrors
PENDING = "sync.pending_source"  # a first sync under way (or failed): its source, not bound
OVERLAP = dt.timedelta(0)  # the watermark's own millisecond is read again (inclusive)
CHUNK = 100  # HubSpot's page and batch size: removals, and the chunks of a remote source
LOCAL_CHUNK = 1000  # the chunks of a source without HubSpot's batch limit
SOURCE_NAME = "sync"  # history entries' source

Progress = Callable[[int, int | None], None]  # (records read, total when known)


@dataclass
class SyncReport:
    source: str
    full: bool
    since: dt.datetime | None  # incremental: what changed at or after this was read
    watermark: dt.datetime | None = None
    read: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    archived: int = 0  # removed locally
    records_copied: int = 0  # associated records created in the target
    properties: dict[str, int] = field(
        default_factory=lambda: {"created": 0, "updated": 0, "deleted": 0}
    )
    resumed_after: int | None = None  # a full sync continued after this id

    def as_dict(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "mode": "full" if self.full else "incremental",
            "since": self.since,
            "watermark": self.watermark,
            "read": self.read,
            "created": self.created,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "archived": self.archived,
            "records_copied": self.records_copied,
            "properties_created": self.properties["created"],
            "properties_updated": self.properties["updated"],
            "properties_deleted": self.properties["deleted"],
            "resumed_after": self.resumed_after,
        }


def sync(
    source: RecordStore,
    target: RecordStore,
    workspace: Workspace,
    *,
    source_key: str,
    full: bool = False,
    now: dt.datetime,
    progress: Progress | None = None,
    chunk: int | None = None,
) -> SyncReport:
    """Mirror ``source`` into ``target`` (whose workspace is ``workspace``), ``chunk``
    records per transaction (default: the source's batch size, at most ``LOCAL_CHUNK``)."""
    mirrored = workspace.get_setting(SOURCE)
    pending = workspace.get_setting(PENDING) if mirrored is None else None
    if mirrored is not None and mirrored != source_key and not full:
        raise UsageError.naming(
            f"this workspace mirrors {mirrored}, not {source_key}: ",
            Opt("full"),
            " makes it a mirror of the new source (its other records are removed)",
        )
    if mirrored is None and pending is None and not full and target.count() > 0:
        raise UsageError.naming(
            "the target workspace holds records and is no mirror yet: ",
            Opt("full"),
            " makes it one (records not in the source are removed), or give a new workspace to ",
            Opt("into"),
        )
    watermark = _when(workspace.get_setting(WATERMARK))
    cursor = workspace.get_setting(CURSOR)
    if (mirrored or pending) != source_key:  # a new source: start over
        cursor, watermark = None, None
    full = full or watermark is None or cursor is not None
    since = None if full or watermark is None else watermark - OVERLAP
    report = SyncReport(source_key, full, since)
    if full and cursor is None:
        for key in (WATERMARK, FULL_MAX):
            workspace.delete_setting(key)
        workspace.set_setting(PENDING if mirrored is None else SOURCE, source_key)
        workspace.set_setting(CURSOR, "0")
    _properties(source, target, report)
    notify = progress or (lambda done, total: None)
    size = chunk or min(source.capabilities.batch_size, LOCAL_CHUNK)
    if full:
        _full(source, target, workspace, report, int(cursor or 0), notify, now, size)
    else:
        _incremental(source, target, workspace, report, notify, now, size)
    _archived(source, target, report, now)
    if mirrored is None:  # a first sync, complete: the target mirrors the source from now on
        workspace.set_setting(SOURCE, source_key)
        workspace.delete_setting(PENDING)
    report.watermark = _when(workspace.get_setting(WATERMARK))
    return report


def _when(text: str | None) -> dt.datetime | None:
    return None if text is None else dt.datetime.fromisoformat(text)


def _properties(source: RecordStore, target: RecordStore, report: SyncReport) -> None:
    """Custom property definitions: the target's become the source's."""
    wanted = {p.name: p for p in source.properties() if not p.hubspot_defined}
    have = {p.name: p for p in target.properties() if not p.hubspot_defined}
    for name, prop in have.items():
        other = wanted.get(name)
        if other is None or (other.type, other.unique) != (prop.type, prop.unique):
            target.delete_property(name)  # gone, or retyped: values come with the records
            report.properties["deleted"] += 1
    for name, prop in wanted.items():
        old = have.get(name)
        if old is None or (old.type, old.unique) != (prop.type, prop.unique):
            target.create_property(prop)
            report.properties["created"] += 1
        elif old != prop:
            target.update_property(prop)
            report.properties["updated"] += 1


def _full(
    source: RecordStore,
    target: RecordStore,
    workspace: Workspace,
    report: SyncReport,
    after: int,
    progress: Progress,
    now: dt.datetime,
    size: int,
) -> None:
    if after:
        report.resumed_after = after
    total = source.count()
    newest = _when(workspace.get_setting(FULL_MAX))
    previous = after
    for chunk in source.changed_since(None, after_id=after, chunk=size):
        last = chunk[-1].subscription.id
        _remove(target, _target_ids(target, previous, last) - {s.subscription.id for s in chunk},
                report, now)  # fmt: skip
        _apply(source, target, chunk, report, now)
        newest = _newest(chunk, newest)
        if newest is not None:
            workspace.set_setting(FULL_MAX, newest.isoformat())
        workspace.set_setting(CURSOR, str(last))
        previous = last
        progress(report.read, total)
    _remove(target, _target_ids(target, previous, None), report, now)
    if newest is not None:
        workspace.set_setting(WATERMARK, newest.isoformat())
    else:  # nothing carries a modified date: the next sync reads everything again
        workspace.set_setting(WATERMARK, dt.datetime(1970, 1, 1, tzinfo=dt.UTC).isoformat())
    workspace.delete_setting(CURSOR)
    workspace.delete_setting(FULL_MAX)


def _incremental(
    source: RecordStore,
    target: RecordStore,
    workspace: Workspace,
    report: SyncReport,
    progress: Progress,
    now: dt.datetime,
    size: int,
) -> None:
    assert report.since is not None
    newest = _when(workspace.get_setting(WATERMARK))
    for chunk in source.changed_since(report.since, chunk=size):
        _apply(source, target, chunk, report, now)
        newest = _newest(chunk, newest)
        if newest is not None:
            workspace.set_setting(WATERMARK, newest.isoformat())
        progress(report.read, None)


def _newest(chunk: Sequence[SyncedSubscription], newest: dt.datetime | None) -> dt.datetime | None:
    for item in chunk:
        stamp = item.subscription.properties.get(LAST_MODIFIED)
        if isinstance(stamp, dt.datetime) and (newest is None or stamp > newest):
            newest = stamp
    return newest


def _target_ids(target: RecordStore, above: int, upto: int | None) -> set[int]:
    """The target's ids in (above, upto] (upto None: all above)."""
    where: Expr = Condition("hs_object_id", QOp.GT, (above,))
    if upto is not None:
        where = And((where, Condition("hs_object_id", QOp.LTE, (upto,))))
    return {s.id for s in target.search(Query(where), ["hs_object_id"])}


def _remove(target: RecordStore, ids: set[int], report: SyncReport, now: dt.datetime) -> None:
    """Remove subscriptions from the target (one transaction per chunk)."""
    ordered = sorted(ids)
    for start in range(0, len(ordered), CHUNK):
        part = ordered[start : start + CHUNK]
        found = target.get_many(part, ["hs_status"])
        ops = [
            Delete(subscription_id=i, expect_status=s.status, at=now, source=SOURCE_NAME)
            for i, s in found.items()
        ]
        if ops:
            target.execute(ops)
        report.archived += len(ops)


def _apply(
    source: RecordStore,
    target: RecordStore,
    chunk: Sequence[SyncedSubscription],
    report: SyncReport,
    now: dt.datetime,
) -> None:
    """Write one chunk into the target: one transaction for the values, new associations and
    missing associated records; removed associations after it (each on its own, idempotent:
    a rerun finds what is left)."""
    registry = {p.name for p in target.properties()}
    ids = [s.subscription.id for s in chunk]
    current = target.get_many(ids, sorted(registry - {"hs_object_id"}))
    have = _links(target, ids)
    records = _missing_records(source, target, chunk)
    ops = []
    removals: list[tuple[int, str, int]] = []
    for item in chunk:
        sub = item.subscription
        values = {k: v for k, v in sub.properties.items() if k in registry and k != "hs_object_id"}
        stamp = values.get(LAST_MODIFIED)
        at = stamp if isinstance(stamp, dt.datetime) else now
        links = {(t, o): type_id for t, o, type_id in item.associations
                 if (t, o) in records.known}  # fmt: skip
        new_links = tuple((t, o, type_id) for (t, o), type_id in links.items()
                          if (t, o) not in have.get(sub.id, set()))  # fmt: skip
        needed = tuple(records.new[key] for key in links if key in records.new)
        report.read += 1
        old = current.get(sub.id)
        if old is None:
            ops.append(Upsert(subscription_id=sub.id, expect_status=None, at=at,
                              source=SOURCE_NAME, values=values, create=True,
                              associations=new_links, records=needed))  # fmt: skip
            report.created += 1
            continue
        changed = {k: v for k, v in values.items() if old.properties.get(k) != v}
        gone = [(sub.id, t, o) for t, o in have.get(sub.id, set()) if (t, o) not in links]
        removals.extend(gone)
        if not changed and not new_links and not gone:
            report.unchanged += 1
            continue
        report.updated += 1
        if changed or new_links:
            if changed:
                changed.setdefault(LAST_MODIFIED, at)
            ops.append(Upsert(subscription_id=sub.id, expect_status=old.status, at=at,
                              source=SOURCE_NAME, values=changed, associations=new_links,
                              records=needed))  # fmt: skip
    if ops:
        target.execute(ops)
    report.records_copied += len(records.new)
    for sub_id, object_type, object_id in removals:
        target.dissociate(sub_id, object_type, object_id)


def _links(target: RecordStore, ids: Sequence[int]) -> dict[int, set[tuple[str, int]]]:
    """The target's associations of the subscriptions (one query per object type)."""
    objects = list(ASSOCIATION_BY_NAME)
    cells = target.association_cells(ids, objects, cap=None)
    return {
        sid: {(name, oid) for name, cell in by_object.items() for oid in cell.ids}
        for sid, by_object in cells.items()
    }


@dataclass
class _Records:
    known: set[tuple[str, int]]  # associated records that exist (target or source)
    new: dict[tuple[str, int], NewRecord]  # those to copy into the target


def _missing_records(
    source: RecordStore, target: RecordStore, chunk: Sequence[SyncedSubscription]
) -> _Records:
    """The associated records the chunk names: which exist, and those the target lacks,
    read from the source (a record in neither is a dangling association: not mirrored)."""
    wanted: dict[str, set[int]] = {}
    for item in chunk:
        for object_type, object_id, _ in item.associations:
            wanted.setdefault(object_type, set()).add(object_id)
    out = _Records(set(), {})
    for object_type, ids in wanted.items():
        if object_type not in ASSOCIATION_BY_NAME:
            continue  # an object type this subctl does not know
        present = set(target.record_values(object_type, sorted(ids)))
        out.known.update((object_type, i) for i in present)
        missing = sorted(ids - present)
        if missing:
            for oid, values in source.record_values(object_type, missing).items():
                out.known.add((object_type, oid))
                out.new[object_type, oid] = NewRecord(
                    object_type=object_type, id=oid, values=values
                )
    return out


def _archived(
    source: RecordStore, target: RecordStore, report: SyncReport, now: dt.datetime
) -> None:
    """Remove what the source archived: its archived ids, then, if the counts still differ,
    the target's ids that the source does not have (both streamed in id order)."""
    since = None if report.full else report.since
    if not report.full:
        for part in source.archived_since(since):
            found = target.get_many(list(part), ["hs_status"])
            _remove(target, set(found), report, now)
    if source.count() == target.count():
        return
    # the extra ids first (no write while the target's ids are being read), then removed
    extra = set(_only_in(_ordered_ids(target), _ordered_ids(source)))
    _remove(target, extra, report, now)


def _ordered_ids(store: RecordStore) -> Iterator[int]:
    query = Query(sort=Sort("hs_object_id"))
    return (s.id for s in store.search(query, ["hs_object_id"]))


def _only_in(left: Iterator[int], right: Iterator[int]) -> Iterator[int]:
    """The ids of ``left`` not in ``right`` (both ascending)."""
    other = next(right, None)
    for value in left:
        while other is not None and other < value:
            other = next(right, None)
        if other != value:
            yield value
