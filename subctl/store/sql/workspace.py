"""``SqlWorkspace``: the workspace-local state of a SQL workspace (SQLite file or PostgreSQL):
the batch journal, saved views, settings, the e-mail outbox and the plan key, over the one schema
(``schema.py``): what reading verbs read (views, settings, the outbox) on the DB-API directly,
the rest over SQLAlchemy Core."""

from __future__ import annotations

import datetime as dt
import json
import secrets
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager, suppress
from itertools import islice
from typing import TYPE_CHECKING, Any

from subctl.errors import Action, Conflict, Next, NotFound
from subctl.schema import PropType, from_storage, to_storage
from subctl.store.base import (
    AuditChange,
    AuditContext,
    AuditEntry,
    AuditFilter,
    Grant,
    ItemOutcome,
    Job,
    JobItem,
    OutboxMessage,
    SavedView,
    Segment,
    SegmentRefresh,
)
from subctl.store.sql import audit, schema
from subctl.store.sql.database import (
    STREAM_CHUNK,
    Database,
    _Row,
    changed_elsewhere,
    chunks,
    insert_flat,
    ms,
    put_setting,
)

if TYPE_CHECKING:
    import sqlalchemy as sa

_VIEW_COLUMNS = ("name", "query", "columns", "sort", "builtin")
_OUTBOX_COLUMNS = (
    "id", "subscription_id", "kind", "recipient", "subject", "body", "link", "job_id", "created_at"
)  # fmt: skip
JOURNAL_CHUNK = 5000  # job items inserted per step: a selection is never held whole
PLAN_KEY = "plans.key"  # a workspace setting: the secret of plan files' value hashes
LEASE_CLASS = 0x73756263  # "subc": the first key of subctl's advisory locks (job leases)
CACHE_PREFIX = "cache."  # settings that only remember an answer (no change: not audited)


def _unaudited(key: str) -> bool:
    """A setting whose writes append no audit row: the plan key (a secret), caches."""
    return key == PLAN_KEY or key.startswith(CACHE_PREFIX)


class SqlWorkspace:
    """The ``Workspace`` of a SQL database."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self.audit: AuditContext | None = None  # set: changes append audit rows (records.py)

    def close(self) -> None:
        self.db.close()

    # -- saved views -------------------------------------------------------------------------

    def views(self) -> list[SavedView]:
        with self.db.reading() as cursor:
            cursor.execute(f"SELECT {', '.join(_VIEW_COLUMNS)} FROM saved_views ORDER BY name")
            rows = cursor.fetchall()
        return [_view(_Row(_VIEW_COLUMNS, r)) for r in rows]

    def get_view(self, name: str) -> SavedView:
        with self.db.reading() as cursor:
            cursor.execute(
                f"SELECT {', '.join(_VIEW_COLUMNS)} FROM saved_views WHERE name = {self.db.mark}",
                (name,),
            )
            found = cursor.fetchone()
        row = None if found is None else _Row(_VIEW_COLUMNS, found)
        if row is None:
            raise NotFound(f'view "{name}" not found', next=Next(Action.LIST_VIEWS))
        return _view(row)

    def save_view(self, view: SavedView) -> None:
        import sqlalchemy as sa

        old: SavedView | None = None
        if self.audit is not None:  # the audit row's before: the view it replaces
            try:
                old = self.get_view(view.name)
            except NotFound:
                old = None

        values = {
            "query": view.where,
            "columns": json.dumps(list(view.columns)),
            "sort": view.sort,
            "builtin": view.builtin,
            "created_at": int(time.time() * 1000),
        }
        with self.db.errors(), self.db.engine.begin() as conn:
            done = conn.execute(
                sa.update(schema.saved_views)
                .where(schema.saved_views.c.name == view.name)
                .values(values)
            )
            if not done.rowcount:
                conn.execute(sa.insert(schema.saved_views).values(name=view.name, **values))
            if self.audit is not None:
                change = AuditChange(f"view:{view.name}", _audited_view(old), _audited_view(view))
                self._audited(conn.connection.cursor(), self.audit.clock(), change)

    def delete_view(self, name: str) -> None:
        import sqlalchemy as sa

        old: SavedView | None = None  # the audit row keeps the deleted view's definition
        if self.audit is not None:
            try:
                old = self.get_view(name)
            except NotFound:  # refused below, as without an audit context
                old = None

        with self.db.errors(), self.db.engine.begin() as conn:
            done = conn.execute(
                sa.delete(schema.saved_views).where(schema.saved_views.c.name == name)
            )
            if done.rowcount and self.audit is not None:
                change = AuditChange(f"view:{name}", _audited_view(old), None)
                self._audited(conn.connection.cursor(), self.audit.clock(), change)
        if not done.rowcount:
            raise NotFound(f'view "{name}" not found')

    # -- segments ----------------------------------------------------------------------------

    def segments(self) -> list[Segment]:
        return self._segments(None)

    def get_segment(self, name: str) -> Segment:
        found = self._segments(name)
        if not found:
            raise NotFound(
                f'segment "{name}" not found', hint="list them with `subctl segment list`"
            )
        return found[0]

    def _segments(self, name: str | None) -> list[Segment]:
        where = "" if name is None else f" WHERE s.name = {self.db.mark}"
        with self.db.reading() as cursor:
            cursor.execute(
                f"SELECT {', '.join('s.' + c for c in _SEGMENT_COLUMNS)},"
                " (SELECT count(*) FROM segment_members AS m WHERE m.segment = s.name)"
                f" FROM segments AS s{where} ORDER BY s.name",
                () if name is None else (name,),
            )
            rows = cursor.fetchall()
        return [_segment(r) for r in rows]

    def _audited(self, cursor: Any, at: dt.datetime, *changes: AuditChange) -> None:
        if self.audit is not None:
            audit.insert(cursor, self.db.mark, self.db.is_sqlite, self.audit, at, changes)

    def save_segment(
        self, segment: Segment, members: Iterable[int] | None = None, *, at: dt.datetime
    ) -> None:
        import sqlalchemy as sa

        table = schema.segments
        now = to_storage(PropType.DATETIME, at)
        values = {
            "kind": segment.kind,
            "query": segment.where,
            "description": segment.description,
            "updated_at": now,
        }
        with self.db.errors(), self.db.engine.begin() as conn:
            done = conn.execute(sa.update(table).where(table.c.name == segment.name).values(values))
            if not done.rowcount:
                conn.execute(sa.insert(table).values(name=segment.name, created_at=now, **values))
            cursor, mark = self.db.cursor(conn)
            count = None
            if members is not None:
                cursor.execute(
                    f"DELETE FROM segment_members WHERE segment = {mark}", (segment.name,)
                )
                kept = list(members)
                count = len(kept)
                _insert_ids(cursor, mark, "segment_members", segment.name, kept)
            after = {k: v for k, v in values.items() if k != "updated_at"}
            if count is not None:
                after["members"] = count
            self._audited(cursor, at, AuditChange(f"segment:{segment.name}", None, after))

    def change_segment_members(self, name: str, add: Sequence[int], remove: Sequence[int]) -> int:
        self.get_segment(name)  # NotFound
        changed = 0
        with self.db.errors(), self.db.engine.begin() as conn:
            cursor, mark = self.db.cursor(conn)
            stored = _ids(cursor, mark, "segment_members", name)
            fresh = [i for i in dict.fromkeys(add) if i not in stored]
            _insert_ids(cursor, mark, "segment_members", name, fresh)
            gone = [i for i in dict.fromkeys(remove) if i in stored]
            _delete_ids(cursor, mark, "segment_members", name, gone)
            changed = len(fresh) + len(gone)
            if changed and self.audit is not None:
                change = AuditChange(f"segment:{name}", {"removed": gone} if gone else None,
                                     {"added": fresh} if fresh else None)  # fmt: skip
                self._audited(cursor, self.audit.clock(), change)
        return changed

    def delete_segment(self, name: str) -> None:
        self.get_segment(name)  # NotFound
        with self.db.errors(), self.db.engine.begin() as conn:
            cursor, mark = self.db.cursor(conn)
            cursor.execute(
                "DELETE FROM segment_changes WHERE refresh_id IN"
                f" (SELECT id FROM segment_refreshes WHERE segment = {mark})",
                (name,),
            )
            for table in ("segment_refreshes", "segment_baseline", "segment_members"):
                cursor.execute(f"DELETE FROM {table} WHERE segment = {mark}", (name,))
            cursor.execute(f"DELETE FROM segments WHERE name = {mark}", (name,))
            if self.audit is not None:
                change = AuditChange(f"segment:{name}", {"segment": name}, None)
                self._audited(cursor, self.audit.clock(), change)

    def record_segment_refresh(
        self, name: str, members: Iterable[int], at: dt.datetime
    ) -> SegmentRefresh:
        """The baseline is updated by difference (only who entered or left is written); the
        changes of a segment's first refresh are not kept (nothing is ever undone past it)."""
        self.get_segment(name)  # NotFound
        stamp = to_storage(PropType.DATETIME, at)
        current = set(members)
        with self.db.errors(), self.db.engine.begin() as conn:
            cursor, mark = self.db.cursor(conn)
            cursor.execute(
                f"SELECT count(*) FROM segment_refreshes WHERE segment = {mark}", (name,)
            )
            first = not cursor.fetchone()[0]
            baseline = _ids(cursor, mark, "segment_baseline", name)
            entered = sorted(current - baseline)
            left = sorted(baseline - current)
            del baseline
            cursor.execute(
                "INSERT INTO segment_refreshes (segment, at, size, entered, left_count)"
                f" VALUES ({mark}, {mark}, {mark}, {mark}, {mark})",
                (name, stamp, len(current), len(entered), len(left)),
            )
            cursor.execute(f"SELECT max(id) FROM segment_refreshes WHERE segment = {mark}", (name,))
            refresh_id = int(cursor.fetchone()[0])
            if not first:
                for ids, flag in ((entered, True), (left, False)):
                    flat: list[Any] = []
                    for sid in ids:
                        flat.extend((refresh_id, sid, flag))
                    insert_flat(cursor, mark, "segment_changes",
                                ("refresh_id", "subscription_id", "entered"), flat)  # fmt: skip
            _delete_ids(cursor, mark, "segment_baseline", name, left)
            _insert_ids(cursor, mark, "segment_baseline", name, entered)
            cursor.execute(
                f"UPDATE segments SET refreshed_at = {mark} WHERE name = {mark}", (stamp, name)
            )
        return SegmentRefresh(
            refresh_id, from_storage(PropType.DATETIME, stamp), len(current), len(entered),
            len(left),
        )  # fmt: skip

    def segment_refreshes(self, name: str) -> list[SegmentRefresh]:
        with self.db.reading() as cursor:
            cursor.execute(
                "SELECT id, at, size, entered, left_count FROM segment_refreshes"
                f" WHERE segment = {self.db.mark} ORDER BY at, id",
                (name,),
            )
            rows = cursor.fetchall()
        return [
            SegmentRefresh(int(r[0]), from_storage(PropType.DATETIME, r[1]), int(r[2]),
                           int(r[3]), int(r[4]))
            for r in rows
        ]  # fmt: skip

    def segment_baseline(self, name: str, refresh_id: int | None = None) -> set[int]:
        mark = self.db.mark
        with self.db.reading() as cursor:
            members = _ids(cursor, mark, "segment_baseline", name)
            if refresh_id is not None:
                cursor.execute(
                    "SELECT c.subscription_id, c.entered FROM segment_changes AS c"
                    " JOIN segment_refreshes AS r ON r.id = c.refresh_id"
                    f" WHERE r.segment = {mark} AND r.id > {mark}"
                    " ORDER BY r.id DESC",  # undone newest first
                    (name, refresh_id),
                )
                for sid, entered in cursor.fetchall():
                    if entered:
                        members.discard(int(sid))
                    else:
                        members.add(int(sid))
        return members

    # -- access (team workspaces) and the audit log (m009; rules: services/access.py) --------

    def database_user(self) -> str | None:
        if self.db.is_sqlite:
            return None
        with self.db.reading() as cursor:
            return audit.current_user(cursor, sqlite=False)

    def permissions_of(self, username: str) -> frozenset[str]:
        with self.db.reading() as cursor:
            cursor.execute(
                f"SELECT permission FROM access WHERE username = {self.db.mark}", (username,)
            )
            return frozenset(str(row[0]) for row in cursor.fetchall())

    def grants(self) -> list[Grant]:
        with self.db.reading() as cursor:
            cursor.execute(
                "SELECT username, permission, granted_by, granted_at FROM access"
                " ORDER BY username, permission"
            )
            return [
                Grant(user, perm, by, dt.datetime.fromtimestamp(at / 1000, dt.UTC))
                for user, perm, by, at in cursor.fetchall()
            ]

    def grant(
        self,
        username: str,
        permissions: Sequence[str],
        by: str,
        at: dt.datetime,
        context: AuditContext | None = None,
    ) -> list[str]:
        m = self.db.mark
        with self.db.errors(), self.db.engine.begin() as conn:
            cursor = conn.connection.cursor()
            cursor.execute(f"SELECT permission FROM access WHERE username = {m}", (username,))
            held = {str(row[0]) for row in cursor.fetchall()}
            new = [p for p in permissions if p not in held]
            if not self.db.is_sqlite:
                _table_privileges(cursor, username, admin="admin" in held | set(new))
            insert_flat(cursor, m, "access", ("username", "permission", "granted_by", "granted_at"),
                        [v for p in new for v in (username, p, by, ms(at))])  # fmt: skip
            if context is not None and new:
                change = AuditChange(f"access:{username}", sorted(held), sorted(held | set(new)))
                audit.insert(cursor, m, self.db.is_sqlite, context, at, [change])
        return new

    def revoke(
        self,
        username: str,
        permissions: Sequence[str],
        at: dt.datetime | None = None,
        context: AuditContext | None = None,
    ) -> list[str]:
        m = self.db.mark
        with self.db.errors(), self.db.engine.begin() as conn:
            cursor = conn.connection.cursor()
            cursor.execute(f"SELECT permission FROM access WHERE username = {m}", (username,))
            held = {str(row[0]) for row in cursor.fetchall()}
            gone = [p for p in permissions if p in held]
            for permission in gone:
                cursor.execute(
                    f"DELETE FROM access WHERE username = {m} AND permission = {m}",
                    (username, permission),
                )
            if context is not None and gone and at is not None:
                change = AuditChange(f"access:{username}", sorted(held), sorted(held - set(gone)))
                audit.insert(cursor, m, self.db.is_sqlite, context, at, [change])
        return gone

    def audit_entries(self, where: AuditFilter) -> Iterator[AuditEntry]:
        """Streamed by keyset pages of ``STREAM_CHUNK`` rows on (audit id, billing event id):
        flat memory on both backends. A billing day's row is one entry per event of the day
        (``store.sql.audit``: what each entry shows, and ``--id``)."""
        if where.subscription_id is not None:
            yield from self._audit_of_subscription(where)
            return
        pages = self._pages(
            lambda last: audit.page(where, self.db.mark, last, STREAM_CHUNK),
            lambda row: int(row[0]),
            0,
        )
        for rows in pages:
            for row in rows:
                entry = audit.entry(row)
                if audit.is_billing_day(entry):
                    yield from self._billing_day(entry)
                else:
                    yield entry

    def _pages(
        self,
        page: Callable[[Any], tuple[str, list[Any]]],
        key: Callable[[Sequence[Any]], Any],
        first: Any,
    ) -> Iterator[list[Any]]:
        """Keyset pages until one is empty: ``page(after)`` is the query of the page after the
        key ``after``, ``key(row)`` a page's last row's key."""
        after = first
        while True:
            sql, params = page(after)
            with self.db.reading() as cursor:
                cursor.execute(sql, params)
                rows = cursor.fetchall()
            if not rows:
                return
            yield rows
            after = key(rows[-1])

    def _billing_day(self, day: AuditEntry) -> Iterator[AuditEntry]:
        """A billing day's entries, one per event (in pages), or its row when it has none."""
        text, last, shown = audit.day_of(day), 0, False
        while True:
            sql, params = audit.day_events(self.db.mark, day.id, last, STREAM_CHUNK)
            with self.db.reading() as cursor:
                cursor.execute(sql, params)
                events = cursor.fetchall()
            for event in events:
                yield audit.billing_entry(day, text, event)
            shown = shown or bool(events)
            if len(events) < STREAM_CHUNK:
                break
            last = int(events[-1][0])
        if not shown:
            yield day

    def _audit_of_subscription(self, where: AuditFilter) -> Iterator[AuditEntry]:
        width = len(audit.READ_COLUMNS)
        pages = self._pages(
            lambda after: audit.subscription_page(
                where, self.db.mark, self.db.is_sqlite, after, STREAM_CHUNK
            ),
            lambda last: (int(last[0]), 0 if last[width] is None else int(last[width])),
            (0, 0),
        )
        for rows in pages:
            for row in rows:
                entry, event = audit.entry(row[:width]), row[width:]
                if event[0] is None:
                    yield entry
                else:
                    yield audit.billing_entry(entry, audit.day_of(entry), event)

    def append_audit(
        self,
        context: AuditContext,
        changes: Sequence[AuditChange],
        at: dt.datetime,
        job_id: int | None = None,
    ) -> None:
        with self.db.errors(), self.db.engine.begin() as conn:
            cursor = conn.connection.cursor()
            audit.insert(cursor, self.db.mark, self.db.is_sqlite, context, at, changes, job_id)

    # -- workspace settings ------------------------------------------------------------------

    def get_setting(self, key: str) -> str | None:
        with self.db.reading() as cursor:
            cursor.execute(
                f"SELECT value FROM workspace_settings WHERE key = {self.db.mark}", (key,)
            )
            found = cursor.fetchone()
        value = None if found is None else found[0]
        return None if value is None else str(value)

    def set_setting(self, key: str, value: str) -> None:
        before = self.get_setting(key) if self.audit is not None else None
        with self.db.errors(), self.db.engine.begin() as conn:
            put_setting(conn, key, value)
            if self.audit is not None and before != value and not _unaudited(key):
                change = AuditChange(f"setting:{key}", before, value)
                self._audited(conn.connection.cursor(), self.audit.clock(), change)

    def delete_setting(self, key: str) -> None:
        before = self.get_setting(key) if self.audit is not None else None
        with self.db.errors(), self.db.engine.begin() as conn:
            cursor, mark = conn.connection.cursor(), self.db.mark
            cursor.execute(f"DELETE FROM workspace_settings WHERE key = {mark}", (key,))
            if self.audit is not None and before is not None and not _unaudited(key):
                change = AuditChange(f"setting:{key}", before, None)
                self._audited(cursor, self.audit.clock(), change)

    def plan_key(self) -> bytes:
        """The workspace's own secret for hashing highly sensitive values in plan files, made
        on first use: a plan file alone cannot be used to test guesses of a value."""
        key = self.get_setting(PLAN_KEY)
        if key is None:
            key = secrets.token_hex(32)
            self.set_setting(PLAN_KEY, key)
        return bytes.fromhex(key)

    # -- the e-mail outbox ---------------------------------------------------------------

    def outbox(self, sub_id: int) -> list[OutboxMessage]:
        """The mail recorded for a subscription, newest first."""
        with self.db.reading() as cursor:
            cursor.execute(
                f"SELECT {', '.join(_OUTBOX_COLUMNS)} FROM outbox"
                f" WHERE subscription_id = {self.db.mark} ORDER BY created_at DESC, id DESC",
                (sub_id,),
            )
            rows = [_Row(_OUTBOX_COLUMNS, r) for r in cursor.fetchall()]
        return [
            OutboxMessage(
                subscription_id=int(r.subscription_id),
                kind=r.kind,
                recipient=r.recipient,
                subject=r.subject,
                body=r.body,
                created_at=from_storage(PropType.DATETIME, r.created_at),
                link=r.link,
                job_id=None if r.job_id is None else int(r.job_id),
                id=int(r.id),
            )
            for r in rows
        ]

    # -- the batch journal ---------------------------------------------------------------

    def create_job(
        self,
        *,
        verb: str,
        action: dict[str, Any],
        selection: dict[str, Any],
        fingerprint: str,
        frozen: bool,
        items: Iterable[tuple[int, str | None]],
        at: dt.datetime,
    ) -> Job:
        """Journal a job and its items in one transaction; ``items`` is read once, in chunks
        (a selection streamed from a search or a file is never held whole)."""
        import sqlalchemy as sa

        now = to_storage(PropType.DATETIME, at)
        values = {
            "verb": verb,
            "action": json.dumps(action, sort_keys=True),
            "selection": json.dumps(selection, sort_keys=True),
            "fingerprint": fingerprint,
            "frozen": frozen,
            "status": "unfinished",
            "total": 0,
            "created_at": now,
            "updated_at": now,
        }
        with self.db.errors(), self.db.engine.begin() as conn:
            key = conn.execute(sa.insert(schema.jobs).values(values)).inserted_primary_key
            assert key is not None
            job_id = int(key[0])
            cursor, mark = self.db.cursor(conn)
            columns = ("job_id", "subscription_id", "position", "planned_status")
            total = 0
            for part in batched(items, JOURNAL_CHUNK):
                flat: list[Any] = []
                add = flat.extend
                for sid, status in part:
                    add((job_id, sid, total, status))
                    total += 1
                insert_flat(cursor, mark, "job_items", columns, flat)
            conn.execute(
                sa.update(schema.jobs).where(schema.jobs.c.id == job_id).values(total=total)
            )
        # As ``job(job_id)`` reads it back, without counting its items (all unprocessed).
        stamp = from_storage(PropType.DATETIME, now)
        return Job(
            id=job_id,
            verb=verb,
            action=json.loads(values["action"]),
            selection=json.loads(values["selection"]),
            fingerprint=fingerprint,
            frozen=bool(frozen),
            status="unfinished",
            total=total,
            created_at=stamp,
            updated_at=stamp,
            counts={**dict.fromkeys(("ok", "skipped", "failed", "attention"), 0),
                    "unprocessed": total},
        )  # fmt: skip

    def _jobs(
        self, where: sa.ColumnElement[bool] | None = None, *, events: bool = False
    ) -> list[Job]:
        """The jobs; with ``events``, the counts of the billing events each one carried out
        (only a billing run's id is ever on an event) per outcome."""
        import sqlalchemy as sa

        stmt = sa.select(schema.jobs).order_by(schema.jobs.c.id.desc())
        if where is not None:
            stmt = stmt.where(where)
        with self.db.errors(), self.db.engine.connect() as conn:
            rows = conn.execute(stmt).all()
            counts: dict[int, dict[str, int]] = {}
            if rows:
                tallies = conn.execute(
                    sa.select(
                        schema.job_items.c.job_id, schema.job_items.c.outcome, sa.func.count()
                    )
                    .where(schema.job_items.c.job_id.in_([r.id for r in rows]))
                    .group_by(schema.job_items.c.job_id, schema.job_items.c.outcome)
                ).all()
                for jid, outcome, n in tallies:
                    counts.setdefault(int(jid), {})[outcome or "unprocessed"] = int(n)
            logged: dict[int, dict[str, int]] = {}
            if rows and events:
                # From ix_billing_events_job (job_id, outcome) alone (m010).
                log = schema.billing_events.c
                tallies = conn.execute(
                    sa.select(log.job_id, log.outcome, sa.func.count())
                    .where(log.job_id.in_([r.id for r in rows]))
                    .group_by(log.job_id, log.outcome)
                ).all()
                for jid, outcome, n in tallies:
                    logged.setdefault(int(jid), {})[outcome] = int(n)
        return [_job(r, counts.get(int(r.id), {}), logged.get(int(r.id), {})) for r in rows]

    def jobs(self) -> list[Job]:
        return self._jobs(events=True)

    def job(self, job_id: int) -> Job:
        found = self._jobs(schema.jobs.c.id == job_id)
        if not found:
            raise NotFound(f"job {job_id} not found", next=Next(Action.LIST_JOBS))
        return found[0]

    def job_items(
        self,
        job_id: int,
        *,
        unprocessed_only: bool = False,
        after: int | None = None,
        limit: int | None = None,
    ) -> Iterator[JobItem]:
        sql = (
            "SELECT subscription_id, position, planned_status, outcome, new_status, note,"
            " processed_at FROM job_items WHERE job_id = {mark}"
            + (" AND outcome IS NULL" if unprocessed_only else "")
            + (" AND position > {mark}" if after is not None else "")
            + " ORDER BY position"
            + (f" LIMIT {int(limit)}" if limit is not None else "")
        )
        params: tuple[int, ...] = (job_id,) if after is None else (job_id, after)
        with self.db.errors(), self.db.engine.connect() as conn:
            cursor, mark = self.db.cursor(conn)
            cursor.execute(sql.format(mark=mark), params)
            while rows := cursor.fetchmany(STREAM_CHUNK):
                for sid, position, planned, outcome, new_status, note, processed in rows:
                    yield JobItem(
                        subscription_id=int(sid),
                        position=int(position),
                        planned_status=planned,
                        outcome=outcome,
                        new_status=new_status,
                        note=note,
                        processed_at=None
                        if processed is None
                        else from_storage(PropType.DATETIME, processed),
                    )

    def unfinished_job(self, fingerprint: str) -> Job | None:
        import sqlalchemy as sa

        found = self._jobs(sa.and_(schema.jobs.c.fingerprint == fingerprint,
                                   schema.jobs.c.status == "unfinished"))  # fmt: skip
        return found[0] if found else None

    def set_job_status(self, job_id: int, status: str, at: dt.datetime) -> None:
        import sqlalchemy as sa

        with self.db.errors(), self.db.engine.begin() as conn:
            done = conn.execute(
                sa.update(schema.jobs)
                .where(schema.jobs.c.id == job_id)
                .values(status=status, updated_at=to_storage(PropType.DATETIME, at))
            )
        if not done.rowcount:
            raise NotFound(f"job {job_id} not found")

    @contextmanager
    def job_lease(self, job_id: int) -> Iterator[None]:
        """Hold a job for this run: a second run of the same job at the same time (a resume
        from another machine, the same command run twice) is refused before it reads or
        writes anything, rather than racing the first chunk for chunk.

        PostgreSQL: a session advisory lock (``pg_try_advisory_lock``) on a connection held for
        the run; a run that dies (kill -9, a lost machine) loses its connection and with it the
        lease, so no stale lease ever needs clearing. Refused at once rather than waited for,
        as ``terraform`` refuses a held state lock: the other run is doing the work, and
        ``subctl jobs`` shows its progress. SQLite: nothing to hold; a SQLite workspace is one
        machine's file and its write lock (``BEGIN IMMEDIATE``) already serialises the chunks.
        Either way the journal's conditional writes keep each item once (``lock_items``,
        ``journal``): the lease saves the second run's work, it is not what makes a run safe."""
        if self.db.is_sqlite:
            yield
            return
        key = (LEASE_CLASS, job_id % 2**31)
        with self.db.errors(), self.db.engine.connect() as conn:
            held = conn.exec_driver_sql("SELECT pg_try_advisory_lock(%s, %s)", key).scalar()
            conn.commit()  # a session lock: it outlives the transaction
            if not held:
                raise Conflict(
                    f"job {job_id} is being run by another process right now; nothing was done",
                    next=Next(Action.LIST_JOBS),
                )
            try:
                yield
            finally:
                with suppress(Exception):  # a lost connection has released it already
                    conn.exec_driver_sql("SELECT pg_advisory_unlock(%s, %s)", key)
                    conn.commit()

    # -- item by item (``unit.ItemByItem``): claim, then outcome ---------------------------

    def claim_item(
        self, job_id: int, sub_id: int, at: dt.datetime, previous: dt.datetime | None = None
    ) -> None:
        import sqlalchemy as sa

        items = schema.job_items
        held = items.c.processed_at.is_(None) if previous is None else (
            items.c.processed_at == to_storage(PropType.DATETIME, previous)
        )  # fmt: skip
        with self.db.errors(), self.db.engine.begin() as conn:
            done = conn.execute(
                sa.update(items)
                .where(items.c.job_id == job_id, items.c.subscription_id == sub_id,
                       items.c.outcome.is_(None), held)
                .values(processed_at=to_storage(PropType.DATETIME, at))
            )  # fmt: skip
        if done.rowcount != 1:
            raise changed_elsewhere(1, 0, "journal items")

    def release_item(self, job_id: int, sub_id: int) -> None:
        import sqlalchemy as sa

        items = schema.job_items
        with self.db.errors(), self.db.engine.begin() as conn:
            conn.execute(
                sa.update(items)
                .where(items.c.job_id == job_id, items.c.subscription_id == sub_id,
                       items.c.outcome.is_(None))
                .values(processed_at=None)
            )  # fmt: skip

    def record_outcomes(self, job_id: int, outcomes: Sequence[ItemOutcome]) -> None:
        if not outcomes:
            return
        with self.db.errors(), self.db.engine.begin() as conn:
            cursor, mark = self.db.cursor(conn)
            journal(cursor, mark, job_id, outcomes)


def _table_privileges(cursor: Any, role: str, *, admin: bool) -> None:
    """PostgreSQL: what a granted role may do to the tables, so that a team member connects as
    themselves: read and write the workspace, append to ``audit`` and ``billing_events`` (the
    billing run's audit, m012) but never change or delete their rows, and (unless an admin)
    only read ``access``. Only the tables' owner (the role that created the workspace) can give
    these; another admin's grant records the permissions and the owner gives the privileges
    (ARCHITECTURE.md). DDL (``property create``) stays the owner's: PostgreSQL lets only a
    table's owner alter it."""
    cursor.execute("SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = %s", (role,))
    if cursor.fetchone() is None:
        raise NotFound(
            f'no database role "{role}"',
            hint=f"create it first, e.g. CREATE ROLE {role} LOGIN PASSWORD '...'",
        )
    cursor.execute("SELECT tableowner = current_user FROM pg_catalog.pg_tables"
                   " WHERE schemaname = current_schema() AND tablename = 'audit'")  # fmt: skip
    owner = cursor.fetchone()
    if not owner or not owner[0]:
        return
    quoted, schema_name = '"' + role.replace('"', '""') + '"', _schema(cursor)
    for statement in (
        f"GRANT USAGE ON SCHEMA {{schema}} TO {quoted}",
        f"GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA {{schema}} TO {quoted}",
        f"GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA {{schema}} TO {quoted}",
        f"REVOKE UPDATE, DELETE, TRUNCATE ON audit FROM {quoted}",
        f"REVOKE UPDATE, DELETE, TRUNCATE ON billing_events FROM {quoted}",  # billing's audit
        *([] if admin else [f"REVOKE INSERT, UPDATE, DELETE ON access FROM {quoted}"]),
    ):
        cursor.execute(statement.format(schema=schema_name))


def _schema(cursor: Any) -> str:
    cursor.execute("SELECT current_schema()")
    name = str(cursor.fetchone()[0])
    return '"' + name.replace('"', '""') + '"'


def batched(items: Iterable[Any], size: int) -> Iterator[list[Any]]:
    iterator = iter(items)
    while part := list(islice(iterator, size)):
        yield part


GROUP_MIN = 64  # items of one outcome journaled by one UPDATE ... IN (...); fewer: per item


def lock_items(cursor: Any, mark: str, job_id: int, ids: Iterable[int]) -> None:
    """PostgreSQL: lock the journal rows of these items, in ascending id order, before
    anything of the chunk is written; ``Conflict`` when one has an outcome already.

    Two runs of one job at once (see ``SqlWorkspace.job_lease``, which normally keeps the
    second out) would otherwise journal a chunk's items in an order of their own (per-item
    updates, then groups) and could deadlock; in one order the later run waits, then finds the
    items done and re-reads its chunk before it has written anything. SQLite needs none of
    this: its write transaction (``BEGIN IMMEDIATE``) already excludes every other writer."""
    wanted = sorted(set(ids))
    for part in chunks(wanted):
        cursor.execute(
            f"SELECT subscription_id FROM job_items WHERE job_id = {mark} AND subscription_id"
            f" IN ({', '.join([mark] * len(part))}) AND outcome IS NULL"
            " ORDER BY subscription_id FOR UPDATE",
            [job_id, *part],
        )
        found = len(cursor.fetchall())
        if found != len(part):
            raise changed_elsewhere(len(part), found, "journal items")


def journal(cursor: Any, mark: str, job_id: int, outcomes: Sequence[ItemOutcome]) -> None:
    """Journal the outcomes; every item must still be unprocessed, else another run has it
    (``Conflict``). Large groups of the same outcome (same note) are one UPDATE per ``IN``
    list; the others (notes of their own: refund amounts) one ``executemany`` of per-item
    UPDATEs, one prepared statement rather than one per small group."""
    groups: dict[tuple[str, str | None, str, int], list[int]] = {}
    stamps: dict[dt.datetime, int] = {}
    for o in outcomes:
        at = stamps.get(o.at)
        if at is None:
            at = stamps[o.at] = ms(o.at)
        groups.setdefault((o.outcome, o.new_status, o.note, at), []).append(o.subscription_id)
    singles = [
        (*key, job_id, sid) for key, ids in groups.items() if len(ids) < GROUP_MIN for sid in ids
    ]
    if len(singles) >= GROUP_MIN and mark != "?":  # many: a statement per thousand
        _journal_arrays(cursor, mark, job_id, singles)
    elif singles:
        cursor.executemany(
            f"UPDATE job_items SET outcome = {mark}, new_status = {mark}, note = {mark},"
            f" processed_at = {mark} WHERE job_id = {mark} AND subscription_id = {mark}"
            " AND outcome IS NULL",
            singles,
        )
        if cursor.rowcount != len(singles):
            raise changed_elsewhere(len(singles), max(cursor.rowcount, 0), "journal items")
    for (outcome, new_status, note, at), ids in groups.items():
        if len(ids) < GROUP_MIN:
            continue
        for part in chunks(ids):
            cursor.execute(
                f"UPDATE job_items SET outcome = {mark}, new_status = {mark}, note = {mark},"
                f" processed_at = {mark} WHERE job_id = {mark} AND subscription_id IN"
                f" ({', '.join([mark] * len(part))}) AND outcome IS NULL",
                [outcome, new_status, note, at, job_id, *part],
            )
            if cursor.rowcount != len(part):
                raise changed_elsewhere(len(part), max(cursor.rowcount, 0), "journal items")


def _journal_arrays(
    cursor: Any, mark: str, job_id: int, singles: Sequence[tuple[Any, ...]]
) -> None:
    """PostgreSQL: items with outcomes of their own (refund amounts in their notes) journaled
    by one UPDATE per ``JOURNAL_CHUNK`` from arrays (``unnest``), rather than one statement per
    item; every item must still be unprocessed (``Conflict``)."""
    for part in batched(singles, JOURNAL_CHUNK):
        outcome, new_status, note, at, _job, sid = (list(c) for c in zip(*part, strict=True))
        cursor.execute(
            "UPDATE job_items AS j SET outcome = v.outcome, new_status = v.new_status,"
            " note = v.note, processed_at = v.at"
            f" FROM unnest({mark}::text[], {mark}::text[], {mark}::text[], {mark}::bigint[],"
            f" {mark}::bigint[]) AS v(outcome, new_status, note, at, sid)"
            f" WHERE j.job_id = {mark} AND j.subscription_id = v.sid AND j.outcome IS NULL",
            [outcome, new_status, note, at, sid, job_id],
        )
        if cursor.rowcount != len(part):
            raise changed_elsewhere(len(part), max(cursor.rowcount, 0), "journal items")


_SEGMENT_COLUMNS = ("name", "kind", "query", "description", "created_at", "updated_at",
                    "refreshed_at")  # fmt: skip


def _segment(row: Sequence[Any]) -> Segment:
    def stamp(value: Any) -> dt.datetime | None:
        return None if value is None else from_storage(PropType.DATETIME, value)

    name, kind, query, description, created, updated, refreshed, stored = row
    return Segment(
        str(name), str(kind), None if query is None else str(query), str(description or ""),
        stamp(created), stamp(updated), stamp(refreshed),
        None if kind == "dynamic" else int(stored),
    )  # fmt: skip


def _ids(cursor: Any, mark: str, table: str, segment: str) -> set[int]:
    cursor.execute(f"SELECT subscription_id FROM {table} WHERE segment = {mark}", (segment,))
    return {int(r[0]) for r in cursor.fetchall()}


def _insert_ids(cursor: Any, mark: str, table: str, segment: str, ids: Iterable[int]) -> None:
    for part in batched(ids, JOURNAL_CHUNK):
        flat: list[Any] = []
        for sid in part:
            flat.extend((segment, sid))
        insert_flat(cursor, mark, table, ("segment", "subscription_id"), flat)


def _delete_ids(cursor: Any, mark: str, table: str, segment: str, ids: Sequence[int]) -> None:
    for part in chunks(ids):
        cursor.execute(
            f"DELETE FROM {table} WHERE segment = {mark}"
            f" AND subscription_id IN ({', '.join([mark] * len(part))})",
            (segment, *part),
        )


def _view(row: Any) -> SavedView:
    return SavedView(row.name, row.query, tuple(json.loads(row.columns)), row.sort,
                     bool(row.builtin))  # fmt: skip


def _job(row: Any, counts: dict[str, int], events: dict[str, int] | None = None) -> Job:
    tally = {k: counts.get(k, 0) for k in ("ok", "skipped", "failed", "attention", "unprocessed")}
    return Job(
        id=int(row.id),
        verb=row.verb,
        action=json.loads(row.action),
        selection=json.loads(row.selection),
        fingerprint=row.fingerprint,
        frozen=bool(row.frozen),
        status=row.status,
        total=int(row.total),
        created_at=from_storage(PropType.DATETIME, row.created_at),
        updated_at=from_storage(PropType.DATETIME, row.updated_at),
        counts=tally,
        events=events or {},
    )


def _audited_view(view: SavedView | None) -> dict[str, Any] | None:
    """A saved view as the audit log shows it before/after a change."""
    if view is None:
        return None
    return {"query": view.where, "columns": list(view.columns), "sort": view.sort}
