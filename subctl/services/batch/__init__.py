"""Batches of lifecycle actions: choosing the subscriptions, frozen plans, the journal, and
running (or resuming) a batch exactly once. The per-subscription rules are in
``subctl.services.lifecycle``; this module never decides what an action does.

**Selection.** Explicit ids (arguments and ``--from-file``: one id per line, ``#`` comments, or
CSV with a header naming an id column: ``id``, ``hs_object_id``, ``record id`` or
``subscription id``), optionally narrowed by ``--where``/``--view``; or a query alone. Unknown
explicit ids are an error (exit 3) before anything changes. A ``--plan`` file replaces all of
these.

**Plans** (``--dry-run --plan-out FILE``) freeze the matched ids with their status at review
time and a SHA-256 of that set, and the action's options. ``--plan FILE`` acts on exactly that
set with exactly those options (a different verb or options is a usage error; an edited item
list fails the hash check); items whose status changed since are skipped with the reason.

**Journal.** Every non-dry run is a job: its action, how its items were chosen, a fingerprint
of both (same verb and arguments → same fingerprint), and one journal row per item, written in
one transaction before anything changes. Items are processed in chunks of ``CHUNK``: read
fresh, decided, and written together with their journal outcomes through the profile's unit
of work (``store.base.UnitOfWork``: locally one transaction per chunk; for a store that cannot
share the workspace's transaction, claim, operation and outcome per item, an item in doubt
re-read on resume). A crash loses at most the chunk in flight, which left no trace;
``iter_job`` on resume processes only the items without an outcome. A chunk refused because another
run changed it meanwhile (``Conflict``) is re-read and decided again; one that still conflicts
(a unique property value) is written item by item, so only the offending items fail.
Re-running a command with the same arguments while its job is unfinished offers to resume that
job (off a terminal, with ``--yes``, it is resumed), rather than starting a second one (explicit
ids that the job deleted meanwhile are no error then); cancel and delete still ask their own
confirmation. Declining, then confirming a new batch, marks the job abandoned: it is never
resumed. Declining both changes nothing: the job stays resumable.

**Backups.** ``delete --backup FILE`` (.csv, .ndjson, .json, .xlsx; ``Backup``) is recorded
with the job and holds everything delete destroys: the properties, the associations and the
payments. Nothing is deleted that is not already in a backup, synced to disk, on a first run,
a resume (``jobs resume``, a re-run) and under concurrent changes alike: csv and ndjson get the
records of exactly the subscriptions a chunk deletes appended and synced before the chunk is
written; json and xlsx, which cannot be appended, get the run's whole selection (a resume: the
items left) written to a temporary file, synced and linked under the final name before the
job's first chunk, and a chunk deletes only subscriptions that file holds. A later run of the
job writes a numbered sibling (``FILE-2.csv``) and says so.

**Speed.** A 100,000-item cancel: set-based UPDATEs per chunk (one per distinct change),
multi-row INSERTs for history, outbox and journal, memoised value conversions, the cyclic GC
paused; each chunk read, decided and written in turn (``benchmarks/run.py``, ``cancel-100k``).

**Workflow** (``workflow``): prepare, preview, confirm, resume offer, run and report, behind a
port the CLI implements.

**Exit codes** (``subctl.commands._batch``): 0 when every item succeeded or was skipped, 5
when any failed or needs attention (a dry run too: it predicts them), 2 for bad options or a
missing ``--yes`` off a terminal (nothing changed), 3 for unknown explicit ids (nothing
changed), 6 when the disk is full and 130 when interrupted (both: the job can be resumed).
"""

from __future__ import annotations

import csv
import datetime as dt
import errno
import gc
import hashlib
import hmac
import io
import json
import os
import secrets
import tempfile
from collections.abc import Callable, Generator, Iterable, Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from subctl.errors import Action as Step
from subctl.errors import (
    AuthError,
    Conflict,
    DiskFull,
    InputError,
    InvalidState,
    Next,
    NotFound,
    Opt,
    UsageError,
)
from subctl.files import file_error, write_atomically
from subctl.query.ast import Condition, Expr, Op, Query, all_of
from subctl.schema import ASSOCIATION_OBJECTS, PropertyRegistry
from subctl.services.lifecycle import (
    Action,
    Context,
    Decision,
    Outcome,
    Target,
    decide,
    typed_values,
)
from subctl.services.masking import masked_names, masker
from subctl.store.base import (
    ItemOutcome,
    Job,
    Payment,
    RecordStore,
    Subscription,
    UnitOfWork,
    Workspace,
)
from subctl.store.ops import Delete

if TYPE_CHECKING:
    from subctl.export import Column

CHUNK = 10_000  # items per transaction (SUBCTL_BATCH_CHUNK overrides it: tests, tuning)
PLAN_FORMAT = 1
ID_COLUMNS = ("id", "hs_object_id", "record id", "subscription id", "subscription_id")
RETRIES = 3
PENDING_STATUSES = ("processing",)
MAX_ID = 2**63 - 1  # record ids are 64-bit signed integers (SQLite's INTEGER)


def chunk_size() -> int:
    try:
        return max(1, int(os.environ.get("SUBCTL_BATCH_CHUNK", CHUNK)))
    except ValueError:
        return CHUNK


@contextmanager
def gc_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector for a batch.

    A batch keeps ~10 objects per item alive until it ends (decisions, result rows); the
    collector would rescan them again and again (a quarter of a 100,000-item run) although
    batches create no reference cycles. Reference counting still frees everything as usual.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


# -- selection -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Selection:
    """How a batch chooses its subscriptions (the command line's selectors)."""

    ids: tuple[int, ...] = ()
    from_file: str | None = None  # a path, or "-" for stdin
    where: str | None = None
    view: str | None = None
    plan: str | None = None
    segment: str | None = None

    @property
    def empty(self) -> bool:
        chosen = self.ids or self.from_file or self.view or self.plan or self.segment
        return not chosen and self.where is None


@dataclass
class Plan:
    verb: str
    action: dict[str, Any]
    items: list[tuple[int, str | None]]
    digest: str
    created_at: str = ""


@dataclass
class Prepared:
    """A batch ready to preview or journal: its items (id, status now) in order."""

    action: Action
    items: list[tuple[int, str | None]]
    frozen: bool
    selection: dict[str, Any]  # JSON, for the journal and the fingerprint
    fingerprint: str
    # Explicit ids that do not exist, tolerated only while a job with the same arguments is
    # unfinished (its deletions made them disappear): resuming it is fine, a new batch is not.
    missing: tuple[int, ...] = ()


def parse_id_file(text: str, source: str) -> list[int]:
    """Ids from a file: one per line, or CSV with an id column (see the module docstring)."""
    lines = text.splitlines()  # split once: a large file's lines are not held twice
    first = next((line for line in lines if line.strip()), None)
    if first is None:
        return []
    first = first.strip().lstrip("\ufeff")
    if "," in first or first.lower() in ID_COLUMNS:
        # newline=None: CR-only (classic Mac) and CRLF files read like LF ones
        del lines
        reader = csv.reader(io.StringIO(text.lstrip("\ufeff"), newline=None))
        header = [h.strip().lower() for h in next(reader)]
        column = next((header.index(c) for c in ID_COLUMNS if c in header), None)
        if column is None:
            raise UsageError(
                f"{source}: no id column in the CSV header (one of: {', '.join(ID_COLUMNS)})"
            )
        ids = []
        for number, row in enumerate(reader, start=2):
            if not row or not any(cell.strip() for cell in row):
                continue
            cell = row[column].strip() if column < len(row) else ""
            ids.append(_id(cell, source, number))
        return ids
    ids = []
    for number, line in enumerate(lines, start=1):
        cell = line.split("#", 1)[0].strip()
        if cell:
            ids.append(_id(cell, source, number))
    return ids


def _id(cell: str, source: str, line: int) -> int:
    try:
        value = int(cell)
    except ValueError:
        value = -1
    if not 1 <= value <= MAX_ID:
        raise UsageError(f'{source}:{line}: "{cell}" is not a subscription id')
    return value


def read_source(path: str, stdin: TextIO) -> tuple[str, str]:
    """The text of ``--from-file``/``--plan`` (``-``: stdin) and a name for messages."""
    if path == "-":  # newlines read as a file's are: \r\n and a lone \r end a line too
        return stdin.read().replace("\r\n", "\n").replace("\r", "\n"), "<stdin>"
    try:
        return Path(path).read_text(encoding="utf-8-sig"), path
    except OSError as exc:
        raise UsageError(f"cannot read {path}: {exc.strerror or exc}") from exc
    except UnicodeDecodeError as exc:
        raise UsageError(f"{path} is not UTF-8 text") from exc


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def plan_digest(items: Iterable[tuple[int, str | None]]) -> str:
    """SHA-256 of the set: sorted ``id:status`` lines."""
    lines = sorted(f"{sid}:{status or ''}" for sid, status in items)
    return "sha256:" + _sha256("\n".join(lines))


def fingerprint(verb: str, action: dict[str, Any], selection: dict[str, Any]) -> str:
    blob = json.dumps({"verb": verb, "action": action, "selection": selection}, sort_keys=True)
    return _sha256(blob)


def _snapshots(
    records: RecordStore, ids: Sequence[int], fields: Sequence[str], extra: Expr | None = None
) -> Iterator[Subscription]:
    """Subscriptions by id, in chunks of the store's batch size (a batch read), optionally
    also matching ``extra`` (an Expr: a search by the chunk's ids)."""
    size = records.capabilities.batch_size or CHUNK
    for start in range(0, len(ids), size):
        part = tuple(ids[start : start + size])
        if extra is None:
            found = records.get_many(part, fields)
            yield from (found[i] for i in part if i in found)
        else:
            where = all_of(Condition("hs_object_id", Op.IN, part), extra)
            yield from records.search(Query(where=where), fields)


def prepare(
    records: RecordStore,
    workspace: Workspace,
    action: Action,
    selection: Selection,
    *,
    today: dt.date,
    stdin: TextIO,
    now: dt.datetime | None = None,
) -> Prepared:
    """Resolve the selection to items; validate a plan against the action."""
    from subctl.services.subscriptions import ListRequest, build_listing

    if selection.empty:
        raise UsageError(
            "no subscriptions selected",
            next=Next(Step.SELECT),
        )
    verb, action_json = action.verb, action.to_json()
    fields = ["hs_status"]
    sel_json: dict[str, Any] = {}
    if selection.plan is not None:
        if (
            selection.ids
            or selection.from_file
            or selection.where is not None
            or selection.view
            or selection.segment
        ):
            raise UsageError.naming(
                Opt("plan"),
                " cannot be combined with ",
                Opt("ids"),
                ", ",
                Opt("from_file"),
                ", ",
                Opt("where"),
                ", ",
                Opt("view"),
                " or ",
                Opt("segment"),
            )
        plan = read_plan(selection.plan, stdin)
        if plan.verb != action.verb:
            raise UsageError(f"{selection.plan} is a plan for `{plan.verb}`, not `{action.verb}`")
        if plan.action != plan_action(action, masked_names(records.properties()), workspace):
            made = Action.from_json(plan.action).command(records.properties())
            raise UsageError.naming(
                f"{selection.plan} was reviewed with other options: ",
                made,
                hint="run with the same options as the dry run that wrote the plan",
            )
        sel_json = {"plan": plan.digest}
        return Prepared(
            action,
            plan.items,
            True,
            sel_json,
            fingerprint(action.verb, action.to_json(), sel_json),
        )
    explicit = list(selection.ids)
    if selection.from_file is not None:
        text, source = read_source(selection.from_file, stdin)
        explicit.extend(parse_id_file(text, source))
        sel_json["from_file"] = "sha256:" + _sha256(text)
    explicit = list(dict.fromkeys(explicit))
    query = None
    if selection.where is not None or selection.view or selection.segment:
        request = ListRequest(
            where=selection.where,
            view=selection.view,
            segment=selection.segment,
            limit=None,
            fields="id",
        )
        listing = build_listing(records, workspace, request, today, now)
        query = listing.query
        sel_json.update(where=selection.where, view=selection.view)
        if selection.segment:  # only when given: older jobs' fingerprints stay the same
            sel_json["segment"] = selection.segment
    items: list[tuple[int, str | None]] = []
    missing: list[int] = []
    if selection.ids or selection.from_file is not None:
        sel_json["ids"] = sorted(selection.ids)
        # Statuses only (no snapshots held): a large selection costs an id and a status each.
        found: dict[int, str | None] = {}
        statuses: dict[str | None, str | None] = {}  # one object per distinct status
        for sub in _snapshots(records, explicit, fields):
            status = sub.status
            found[sub.id] = statuses.setdefault(status, status)
        del statuses
        missing = [i for i in explicit if i not in found]
        if missing and workspace.unfinished_job(fingerprint(verb, action_json, sel_json)) is None:
            raise not_found(missing)
        if query is not None:
            matching = {s.id for s in _snapshots(records, explicit, ["hs_status"], query.where)}
            explicit = [i for i in explicit if i in matching or i not in found]
        items = [(sid, found.get(sid)) for sid in explicit]
        del found, explicit
    else:
        assert query is not None
        seen: dict[str | None, str | None] = {}  # one object per distinct status
        for sub in records.search(Query(where=query.where), fields):  # id order
            status = sub.status
            items.append((sub.id, seen.setdefault(status, status)))
    return Prepared(
        action,
        items,
        False,
        sel_json,
        fingerprint(verb, action_json, sel_json),
        tuple(missing),
    )


def not_found(missing: Sequence[int]) -> NotFound:
    """Unknown explicit ids: exit 3 before anything changes."""
    shown = ", ".join(map(str, missing[:5])) + (" …" if len(missing) > 5 else "")
    noun = "subscription" if len(missing) == 1 else f"{len(missing)} subscriptions"
    return NotFound(f"{noun} not found: {shown}", hint="nothing was changed")


# -- plans -----------------------------------------------------------------------------------


_PLAN_KEY = "plans.key"  # a workspace setting: the secret of plan files' value hashes


def _plan_key(workspace: Workspace) -> bytes:
    """The workspace's own secret for hashing highly sensitive values in plan files, made on
    first use: a plan file alone cannot be used to test guesses of a value."""
    key = workspace.get_setting(_PLAN_KEY)
    if key is None:
        key = secrets.token_hex(32)
        workspace.set_setting(_PLAN_KEY, key)
    return bytes.fromhex(key)


def plan_action(action: Action, masked: frozenset[str], workspace: Workspace) -> dict[str, Any]:
    """The action as a plan file keeps it: the values of highly sensitive properties replaced
    by a keyed hash (HMAC-SHA256 with the workspace's secret), so the file holds none in clear,
    nor anything to test a guess against, yet ``--plan`` still checks that the run sets the
    same values as the dry run."""
    data = action.to_json()
    secret = [(n, v) for n, v in action.values if n in masked and v]
    key = _plan_key(workspace) if secret else b""
    data["values"] = [
        [name, "hmac-sha256:" + hmac.new(key, value.encode(), "sha256").hexdigest()
         if name in masked and value else value]
        for name, value in action.values
    ]  # fmt: skip
    return data


def write_plan(
    path: str,
    prepared: Prepared,
    now: dt.datetime,
    masked: frozenset[str],
    workspace: Workspace,
) -> str:
    """Write the plan of a dry run; returns its hash."""
    if path == "-":
        raise InputError("plan_out", "needs a file: stdout carries the per-item results", sep=" ")
    digest = plan_digest(prepared.items)
    document = {
        "subctl_plan": PLAN_FORMAT,
        "verb": prepared.action.verb,
        "action": plan_action(prepared.action, masked, workspace),
        "created_at": now.isoformat(),
        "count": len(prepared.items),
        "hash": digest,
        "items": [{"id": sid, "status": status} for sid, status in prepared.items],
    }
    text = json.dumps(document, indent=1) + "\n"
    write_atomically(Path(path), text)
    return digest


def read_plan(path: str, stdin: TextIO) -> Plan:
    text, source = read_source(path, stdin)
    try:
        data = json.loads(text)
        if not isinstance(data, dict) or data.get("subctl_plan") != PLAN_FORMAT:
            raise ValueError("not a subctl plan")
        items = [(int(i["id"]), i.get("status")) for i in data["items"]]
        verb, action, digest = str(data["verb"]), dict(data["action"]), str(data["hash"])
    except (ValueError, KeyError, TypeError) as exc:
        raise UsageError(f"{source} is not a subctl plan ({exc})") from exc
    if plan_digest(items) != digest:
        raise UsageError(
            f"{source}: the items do not match the plan's hash; the plan was edited",
            next=Next(Step.NEW_PLAN),
        )
    return Plan(verb, action, items, digest, str(data.get("created_at", "")))


def is_disk_full(exc: BaseException) -> bool:
    """ENOSPC, or SQLite's "database or disk is full" (wrapped by the store, or raised by the
    DB-API cursors of its bulk writes)."""
    if isinstance(exc, DiskFull):
        return True
    if isinstance(exc, OSError):
        return exc.errno == errno.ENOSPC
    return "database or disk is full" in str(exc)


# -- deciding --------------------------------------------------------------------------------


def decide_chunk(
    records: RecordStore,
    action: Action,
    items: Sequence[tuple[int, str | None]],
    *,
    frozen: bool,
    now: dt.datetime,
    job_id: int | None = None,
    refunding: dict[int, int] | None = None,
    preview: bool = False,
) -> list[Decision]:
    """Read the items' current state and decide each (nothing is written).

    ``refunding`` (payment id -> subscription id) is shared by the chunks of one batch, so a
    payment of several subscriptions is refunded once (``lifecycle.Context``); the items'
    own entries are dropped first, as a chunk decided again starts afresh."""
    ids = [sid for sid, _ in items]
    if refunding is None:
        refunding = {}
    own = set(ids)
    for pid, sid in list(refunding.items()):
        if sid in own:
            refunding.pop(pid, None)
    subs = {s.id: s for s in _snapshots(records, ids, action.fields())}
    present = [i for i in ids if i in subs]
    payments: dict[int, list[Payment]] = {}
    if action.needs_payments and present:
        # Without --refund unused only pending bank payments matter (a refunded one is no
        # longer "processing"): far fewer rows to read.
        statuses = None if action.refunds else PENDING_STATUSES
        payments = records.payments_of(present, statuses)
    emails = records.buyer_emails(present) if action.sends_mail and present else {}
    registry = records.properties()
    values = typed_values(action, registry, now.date(), now)
    ctx = Context(now=now, verb=action.verb, values=values, job_id=job_id,
                  masked=masked_names(registry), refunding=refunding, preview=preview)  # fmt: skip
    decisions = [
        decide(
            action,
            Target(sid, subs.get(sid), payments.get(sid, ()), emails.get(sid), planned, frozen),
            ctx,
        )
        for sid, planned in items
    ]
    for d in decisions:
        found = subs.get(d.subscription_id)
        if found is not None and d.op is not None:
            d.seen = found.properties
    return decisions


def preview_chunks(
    records: RecordStore, prepared: Prepared, now: dt.datetime
) -> Generator[list[Decision], None, None]:
    """What a batch would do, chunk by chunk (dry run; the summary before a confirmation)."""
    size = chunk_size()
    refunding: dict[int, int] = {}
    for start in range(0, len(prepared.items), size):
        part = prepared.items[start : start + size]
        yield decide_chunk(records, prepared.action, part, frozen=prepared.frozen, now=now,
                           refunding=refunding, preview=True)  # fmt: skip


def preview(
    records: RecordStore,
    prepared: Prepared,
    now: dt.datetime,
    progress: Callable[[int], None] | None = None,
) -> list[Decision]:
    """What a batch would do, every decision (the summary before a confirmation)."""
    decisions: list[Decision] = []
    for chunk in preview_chunks(records, prepared, now):
        decisions.extend(chunk)
        if progress is not None:
            progress(len(chunk))
    return decisions


# -- journal and running -----------------------------------------------------------------------


def start_job(
    workspace: Workspace, prepared: Prepared, now: dt.datetime, *, backup: Path | None = None
) -> Job:
    """Journal the batch (before anything changes). A ``delete --backup`` job records its
    backup file with it, in the same transaction: no run of it deletes without one."""
    selection = prepared.selection if backup is None else {
        **prepared.selection, "backup": str(backup)
    }  # fmt: skip
    return workspace.create_job(
        verb=prepared.action.verb,
        action=prepared.action.to_json(),
        selection=selection,
        fingerprint=prepared.fingerprint,
        frozen=prepared.frozen,
        items=prepared.items,
        at=now,
    )


def iter_job(
    records: RecordStore,
    workspace: Workspace,
    unit: UnitOfWork,
    job: Job,
    clock: Callable[[], dt.datetime],
    *,
    backup: Backup | None = None,
    stop: Callable[[], bool] = lambda: False,
) -> Generator[list[Decision], None, None]:
    """Process a job's unprocessed items, read from the journal chunk by chunk, yielding each
    chunk's decisions once written; mark the job done at the end.

    Chunks are read, decided and written one after the other, in one thread: a helper thread
    reading ahead while a chunk is written gained nothing on two cores (its Python competes
    with the writes for the GIL and the CPU) and held a second chunk in memory.

    ``stop`` is asked before each chunk: the caller's way to end a run between chunks (Ctrl-C),
    so every chunk written is also yielded; it ends with a KeyboardInterrupt, as one raised
    inside a chunk does (which rolls that chunk back with its journal entries). Either way the
    job stays unfinished and the caller reports what was done.

    ``backup`` (``delete --backup``): before a chunk is written, the full records of exactly the
    subscriptions it deletes are appended to the backup and synced to disk.

    Items in doubt (claimed by a run of ``unit`` that stopped before their outcome) are read
    again like the others; one found in the action's target state already is journaled as
    done (its operation is not carried out again).
    """
    action = Action.from_json(job.action)
    if backup is None and job_backup(workspace, job) is not None:
        raise InvalidState(f"job {job.id} deletes with a backup, and none is open; nothing done")
    size = chunk_size()
    refunding: dict[int, int] = {}  # payments refunded by the chunk being decided and written
    in_doubt = unit.in_doubt(job.id)

    def next_part(after: int | None) -> tuple[list[tuple[int, str | None]], int | None]:
        """The next chunk of unprocessed items, read from the journal (never held whole)."""
        found = list(workspace.job_items(job.id, unprocessed_only=True, after=after, limit=size))
        part = [(i.subscription_id, i.planned_status) for i in found]
        return part, (found[-1].position if found else after)

    def decide_part(part: list[tuple[int, str | None]]) -> tuple[dt.datetime, list[Decision]]:
        now = clock()
        decisions = decide_chunk(records, action, part, frozen=job.frozen, now=now,
                                 job_id=job.id, refunding=refunding)  # fmt: skip
        if in_doubt:
            _settle_in_doubt(decisions, in_doubt, action)
        return now, decisions

    part, last = next_part(None)
    while part:
        if stop():
            raise KeyboardInterrupt  # between chunks: the caller reports what was done
        if backup is not None:
            backup.next_chunk()
        done = _apply_chunk(records, workspace, unit, job, part, decide_part(part), decide_part,
                            backup)  # fmt: skip
        refunding.clear()  # committed: a later chunk reads these payments as refunded
        yield done
        del done  # not held while the next chunk is decided: one chunk in memory at a time
        part, last = next_part(last)
    workspace.set_job_status(job.id, "done", clock())


def _settle_in_doubt(decisions: Sequence[Decision], in_doubt: set[int], action: Action) -> None:
    """An item in doubt already in the action's target state was done by the run that
    stopped: journal it as done, with what is found now."""
    result = action.transition.result
    for d in decisions:
        if d.subscription_id not in in_doubt:
            continue
        if action.transition.name == "send_update_link" and d.outcome.acts:
            # An e-mail leaves no state to re-read: never sent twice, a person checks.
            d.outcome, d.op = Outcome.ATTENTION, None
            d.note = "the e-mail may have been sent before the interruption; not sent again"
            continue
        if d.outcome is not Outcome.SKIPPED:
            continue
        reached = d.new_status is None if action.verb == "delete" else (
            result is None or d.new_status == result
        )  # fmt: skip
        if reached and not d.note.startswith("status changed since the plan"):
            d.outcome = Outcome.OK
            d.note = f"done before the interruption ({d.note})"


def _outcome(d: Decision, now: dt.datetime) -> ItemOutcome:
    return ItemOutcome(d.subscription_id, d.outcome.value, d.new_status, d.note, now)


def _apply(
    records: RecordStore,
    unit: UnitOfWork,
    job: Job,
    decisions: Sequence[Decision],
    now: dt.datetime,
    backup: Backup | None,
) -> None:
    """One ``UnitOfWork.write``; its deletions first durably in the backup (if any)."""
    ops = [d.op for d in decisions if d.op is not None]
    if backup is not None:
        backup.add(records, [op.subscription_id for op in ops if isinstance(op, Delete)])
    seen = {d.subscription_id: d.seen for d in decisions if d.seen is not None}
    unit.write(job.id, ops, [_outcome(d, now) for d in decisions], seen=seen)


def _apply_chunk(
    records: RecordStore,
    workspace: Workspace,
    unit: UnitOfWork,
    job: Job,
    part: list[tuple[int, str | None]],
    decided: tuple[dt.datetime, list[Decision]],
    decide_again: Callable[[list[tuple[int, str | None]]], tuple[dt.datetime, list[Decision]]],
    backup: Backup | None,
) -> list[Decision]:
    """Write one chunk's decisions with their journal outcomes (one transaction).

    A ``Conflict`` means another run changed or journaled some items meanwhile, or an item
    breaks a constraint (a unique property value): the chunk is re-read and decided again,
    and if it still conflicts, written item by item, so that only the offending items fail.
    """
    written: list[Decision] = []  # by an item-by-item unit before a conflict
    for _attempt in range(RETRIES - 1):
        now, decisions = decided
        try:
            _apply(records, unit, job, decisions, now, backup)
        except Conflict as exc:
            done = set(getattr(exc, "done", ()))
            written.extend(d for d in decisions if d.subscription_id in done)
            unprocessed = workspace.job_items(job.id, unprocessed_only=True)
            waiting = {i.subscription_id for i in unprocessed}
            part = [item for item in part if item[0] in waiting]
            decided = decide_again(part)
            continue
        for d in decisions:
            d.op = None  # written; free the memory of large batches
        return [*written, *decisions]
    return [*written, *_apply_one_by_one(records, unit, job, decided, backup)]


def _apply_one_by_one(
    records: RecordStore,
    unit: UnitOfWork,
    job: Job,
    decided: tuple[dt.datetime, list[Decision]],
    backup: Backup | None,
) -> list[Decision]:
    now, decisions = decided
    done = []
    for d in decisions:
        try:
            _apply(records, unit, job, [d], now, backup)
        except Conflict as exc:
            d.outcome, d.new_status, d.note = Outcome.FAILED, d.status, exc.message
            d.op = None
            try:
                unit.write(job.id, [], [_outcome(d, now)])
            except Conflict:
                continue  # journaled by another run meanwhile: its outcome stands
        d.op = None
        done.append(d)
    return done


# -- delete --backup -------------------------------------------------------------------------


def _sync_directory(path: Path) -> None:
    """fsync a directory, so that a file just created in it survives a crash (POSIX)."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:  # not possible here (some platforms): the file's own fsync must do
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


BACKUP_SUFFIXES = (".csv", ".ndjson", ".json", ".xlsx")
WHOLE_BACKUPS = (".json", ".xlsx")  # cannot be appended: written whole before the first chunk
_BACKUP_KEY = "jobs.{}.backup"  # a workspace setting: the job's backup file


def backup_path(path: str) -> Path:
    """``--backup FILE`` checked before anything changes: a file (not a directory) with a
    supported suffix, in a directory that exists; absolute, as the journal keeps it."""
    try:
        return _backup_path(path)
    except OSError as exc:  # a name too long, a loop of links: the path cannot be a backup
        raise InputError("backup", f"{path}: {exc.strerror or exc}") from exc


def _backup_path(path: str) -> Path:
    target = Path(os.path.expanduser(path))
    supported = ", ".join(BACKUP_SUFFIXES)
    if target.is_dir():
        raise InputError("backup", f"{path} is a directory", hint=f"name a file ({supported})")
    if target.suffix.lower() not in BACKUP_SUFFIXES:
        raise InputError(
            "backup",
            f'unsupported file type "{target.suffix or target.name}"',
            hint=f"supported: {supported}",
        )
    if not target.parent.is_dir():
        raise InputError("backup", f"directory {target.parent} does not exist")
    return target.resolve()


def job_backup(workspace: Workspace, job: Job) -> Path | None:
    """The backup file of a job (``delete --backup``): recorded with the job, or asked for
    later by a resume or re-run of a job created without one; None if neither."""
    recorded = job.selection.get("backup") or workspace.get_setting(_BACKUP_KEY.format(job.id))
    return Path(str(recorded)) if recorded else None


def backup_target(
    workspace: Workspace, job: Job | None, requested: Path | None
) -> tuple[Path, bool] | None:
    """The backup of a run (``requested``, else the job's), and whether a numbered sibling is
    written when the file exists: only for the job's own backup; any other existing file is a
    usage error, before anything changes."""
    recorded = job_backup(workspace, job) if job is not None else None
    path = requested or recorded
    if path is None:
        return None
    if path != recorded and path.exists():
        raise UsageError(
            f"backup file {path} already exists", hint="choose a new name or remove the old file"
        )
    return path, path == recorded


def record_backup(workspace: Workspace, job: Job, path: Path) -> None:
    workspace.set_setting(_BACKUP_KEY.format(job.id), str(path))


class Backup:
    """The backup of one run of a ``delete --backup`` job: a new file (0600) of everything
    ``delete`` destroys for exactly the subscriptions deleted: every property (internal names
    as headers, record ID first, then alphabetical; DOMAIN.md §0 Export, "all properties"),
    their associations and their payments.

    - csv and xlsx: the properties' columns, then a pair of columns per associated object
      (``Associated Contact IDs``: ids joined with ``;``; ``Associated Contact``: labels joined
      with ``; ``), payments as the ``Associated Payment IDs`` pair like any other association;
    - json and ndjson: one object per subscription, ``{"id", "properties", "associations":
      {object: [{id, label}]}, "payments": [{id, amount, currency, status, method, kind,
      created_at, refunds_payment_id}]}`` (the labels, as in csv: what ``subctl import``
      creates a missing associated record from).

    **When it is written** (no subscription is deleted unless its record is already on disk,
    synced): csv and ndjson are appended chunk by chunk, each chunk's records synced before the
    chunk is written. json and xlsx cannot be appended: the run's whole selection (a first run:
    every item of the job; a resume: its unprocessed items) is written first, to a temporary
    file that is synced and then linked under the final name, before the job's first chunk;
    it holds the records as they were then, including those the run then declines to delete.

    A backup is whole or it is no backup: highly sensitive values are written in clear when the
    workspace grants ``sensitive_data.view``; without it, a record holding such a value stops
    the job (``AuthError``: nothing of that chunk deleted, or for json and xlsx nothing at all;
    resumable once granted), since a masked copy would lose the value for good.

    A later run of the same job (a resume, a re-run) writes a numbered sibling
    (``expired-2.csv``) rather than touching this file.
    """

    def __init__(
        self, records: RecordStore, workspace: Workspace, path: Path, *, sibling: bool
    ) -> None:
        from subctl.services.properties import SENSITIVE_VIEW, permissions

        registry = records.properties()
        self.names = ["hs_object_id", *sorted(p.name for p in registry if p.name != "hs_object_id")]
        self.format = path.suffix.lower().lstrip(".")
        self.whole = path.suffix.lower() in WHOLE_BACKUPS
        self.columns = _backup_columns(registry, self.names, flat=self.format in ("csv", "xlsx"))
        self.secret = masker(registry, show=SENSITIVE_VIEW in permissions(workspace)).names
        self.count = 0  # records in the file
        self.deleted = 0  # of them, deleted by this run
        self._requested, self._sibling = path, sibling
        self._saved: set[int] = set()  # whole backups: the subscriptions in the file
        self._chunk: set[int] = set()  # backed up for the chunk in flight (retries: once)
        self._fd: int | None = None
        self.written = not self.whole  # a file under ``path`` (json, xlsx: once written)
        if self.whole:  # named once written (``write_all``)
            self.path = self._free_name()
            return
        number = 1
        while True:
            self.path = path if number == 1 else path.with_stem(f"{path.stem}-{number}")
            try:
                fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
                break
            except FileExistsError:
                if not sibling:
                    raise _backup_exists(path) from None
                number += 1
            except OSError as exc:
                raise file_error(self.path, exc) from exc
        self._fd = fd  # written unbuffered: a failed write leaves nothing pending
        self._size = 0  # what is on disk, synced: whole records only
        _sync_directory(self.path.parent)  # the new file's name is durable too
        if self.format == "csv":
            self._append(self._encode([], header=True), 0)

    @property
    def used(self) -> bool:
        """Whether the file holds anything deleted (else it is removed at the end)."""
        return self.deleted > 0 if self.whole else self.count > 0

    def _free_name(self, start: int = 1) -> Path:
        number = start
        while True:
            path = self._requested
            path = path if number == 1 else path.with_stem(f"{path.stem}-{number}")
            if not os.path.lexists(path):
                return path
            if not self._sibling:
                raise _backup_exists(self._requested)
            number += 1

    def next_chunk(self) -> None:
        self._chunk.clear()

    # -- reading what is backed up --------------------------------------------------------

    def _rows(self, records: RecordStore, ids: Sequence[int]) -> Iterator[dict[str, Any]]:
        """The backup rows of these subscriptions (those that exist), read a store batch at a
        time: properties, association cells and payments."""
        size = records.capabilities.batch_size or CHUNK
        for start in range(0, len(ids), size):
            found = list(_snapshots(records, ids[start : start + size], self.names))
            self._check_secrets(found)
            part = [r.id for r in found]
            cells = _association_cells(records, part)
            payments = records.payments_of(part) if part else {}
            for record in found:
                yield self._row(record, cells.get(record.id, {}), payments.get(record.id, []))

    def _check_secrets(self, found: Sequence[Subscription]) -> None:
        for record in found:
            held = sorted(n for n in self.secret if record.properties.get(n) is not None)
            if held:
                done = "nothing was deleted" if self.whole else "nothing of this chunk was deleted"
                raise AuthError(
                    f"subscription {record.id} holds highly sensitive values ({held[0]}); "
                    "its backup needs them in clear, which requires the "
                    f"sensitive_data.view permission; {done}",
                    next=Next(
                        Step.GRANT,
                        {"permission": "sensitive_data.view", "then": "resume the job"},
                    ),
                )

    def _row(
        self,
        record: Subscription,
        cells: dict[str, tuple[tuple[int, ...], tuple[str, ...]]],
        payments: Sequence[Payment],
    ) -> dict[str, Any]:
        if self.format in ("csv", "xlsx"):
            row = dict(record.properties)
            row["hs_object_id"] = record.id
            for obj in ASSOCIATION_OBJECTS:
                ids, labels = cells.get(obj.name, ((), ()))
                row[f"{_ASSOC}{obj.name}.ids"] = ";".join(map(str, ids)) or None
                row[f"{_ASSOC}{obj.name}"] = "; ".join(labels) or None
            return row
        properties = {n: record.properties.get(n) for n in self.names}
        properties["hs_object_id"] = record.id
        return {
            "id": record.id,
            "properties": properties,
            "associations": {
                obj.name: [{"id": oid, "label": label}
                           for oid, label in _labelled(*cells[obj.name])]
                for obj in ASSOCIATION_OBJECTS
                if obj.name in cells and cells[obj.name][0]
            },
            "payments": [
                {"id": p.id, "amount": p.amount, "currency": p.currency, "status": p.status,
                 "method": p.method, "kind": p.kind, "created_at": p.created_at,
                 "refunds_payment_id": p.refunds_payment_id}
                for p in payments
            ],
        }  # fmt: skip

    # -- writing --------------------------------------------------------------------------

    def write_all(self, records: RecordStore, ids: Iterable[int]) -> None:
        """json and xlsx: write the records of all these subscriptions at once, synced, under
        a new name (a numbered sibling for a later run), before anything is deleted."""
        wanted = list(dict.fromkeys(ids))
        saved: set[int] = set()
        flat = self.format == "xlsx"

        def rows() -> Iterator[dict[str, Any]]:
            for row in self._rows(records, wanted):
                saved.add(int(row["hs_object_id"] if flat else row["id"]))
                yield row

        try:
            fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=f".{self.path.name}.",
                                       suffix=".tmp")  # fmt: skip
        except OSError as exc:
            raise file_error(self.path, exc) from exc
        try:
            os.close(fd)  # reopened by name: the xlsx writer streams to a named file
            with open(tmp, "r+b") as raw:
                if self.format == "xlsx":
                    from subctl.export.writers import WriteOptions, for_format

                    count = for_format("xlsx").write(
                        rows(), self.columns, raw, WriteOptions(total=len(wanted))
                    )
                else:
                    from subctl.export.jsonfmt import write_json

                    text = io.TextIOWrapper(raw, encoding="utf-8", newline="")
                    count = write_json(rows(), self.columns, text)
                    text.flush()
                    text.detach()
                raw.flush()
                os.fsync(raw.fileno())
            self.path = self._link(Path(tmp))
        except OSError as exc:
            raise file_error(self.path, exc) from exc
        finally:
            Path(tmp).unlink(missing_ok=True)
        _sync_directory(self.path.parent)
        self.count, self._saved, self.written = count, saved, True

    def _link(self, tmp: Path) -> Path:
        """Give the written file its name, never replacing a file that appeared meanwhile."""
        path = self.path
        while True:
            try:
                os.link(tmp, path)
                return path
            except FileExistsError:
                if not self._sibling:
                    raise _backup_exists(self._requested) from None
                path = self._free_name(int(path.stem.rsplit("-", 1)[-1]) + 1
                                       if path != self._requested else 2)  # fmt: skip

    def add(self, records: RecordStore, ids: Sequence[int]) -> None:
        """Make sure these subscriptions' records are on disk before they are deleted: csv
        and ndjson append and sync them; json and xlsx hold them already (``write_all``)."""
        new = [i for i in ids if i not in self._chunk]
        if not new:
            return
        if self.whole:
            outside = [i for i in new if i not in self._saved]
            if outside:
                raise InvalidState(
                    f"subscription {outside[0]} is not in the backup {self.path}; "
                    "nothing of this chunk was deleted"
                )
            self.deleted += len(new)
        else:
            rows = list(self._rows(records, new))  # one chunk at most
            self._append(self._encode(rows), len(rows))
            self.deleted += len(new)
        self._chunk.update(new)

    def _encode(self, rows: list[dict[str, Any]], header: bool = False) -> bytes:
        text = io.StringIO()
        if self.format == "csv":
            from subctl.export.csvfmt import write_csv

            write_csv(rows, self.columns, text, header=header)
        else:
            from subctl.export.jsonfmt import write_ndjson

            write_ndjson(rows, self.columns, text)
        return text.getvalue().encode("utf-8")

    def _append(self, encoded: bytes, written: int) -> None:
        """Append and sync; a failed write (a full disk) is cut off again, so the file holds
        exactly the records counted, each whole."""
        assert self._fd is not None
        data = memoryview(encoded)
        try:
            while data:
                data = data[os.write(self._fd, data) :]
            os.fsync(self._fd)
        except OSError as exc:
            with suppress(OSError):
                os.ftruncate(self._fd, self._size)
                os.lseek(self._fd, self._size, os.SEEK_SET)
                os.fsync(self._fd)
            raise file_error(self.path, exc) from exc
        self._size = os.lseek(self._fd, 0, os.SEEK_CUR)
        self.count += written

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


_ASSOC = "associations."


def _backup_exists(path: Path) -> UsageError:
    return UsageError(
        f"backup file {path} already exists", hint="choose a new name or remove the old file"
    )


def _backup_columns(
    registry: PropertyRegistry, names: Sequence[str], *, flat: bool
) -> list[Column]:
    """csv/xlsx: a typed column per property, then the association pairs; json/ndjson: the
    four members of a record."""
    from subctl.export import Column

    if not flat:
        return [Column(k, k) for k in ("id", "properties", "associations", "payments")]
    kinds = {"number": "number", "date": "date", "datetime": "datetime", "bool": "bool",
             "enumeration": "enum"}  # fmt: skip
    columns = []
    for name in names:
        prop = registry.get(name)
        kind = "text" if prop is None else kinds.get(str(prop.type), "text")
        money = prop is not None and prop.money
        columns.append(Column(name, name, kind="money" if money else kind,
                              currency_key="hs_currency_code" if money else None))  # fmt: skip
    from subctl.export.headers import headers

    english = headers("en")  # as the property headers, not translated: a backup is data
    for obj in ASSOCIATION_OBJECTS:
        columns.append(Column(f"{_ASSOC}{obj.name}.ids", english.association_ids(obj.name)))
        columns.append(Column(f"{_ASSOC}{obj.name}", english.association(obj.name)))
    return columns


def _labelled(ids: Sequence[int], labels: Sequence[str]) -> Iterator[tuple[int, str | None]]:
    """Each id with its label (None when the labels do not pair with the ids)."""
    paired: Sequence[str | None] = labels if len(labels) == len(ids) else [None] * len(ids)
    return zip(ids, paired, strict=True)


def _association_cells(
    records: RecordStore, ids: Sequence[int]
) -> dict[int, dict[str, tuple[tuple[int, ...], tuple[str, ...]]]]:
    """Per subscription, per associated object: every associated record's id and label, by
    id (no cap: a backup holds them all; one query per object type)."""
    if not ids:
        return {}
    names = [obj.name for obj in ASSOCIATION_OBJECTS]
    found = records.association_cells(ids, names, cap=None)
    return {
        sid: {obj: (cell.ids, cell.labels) for obj, cell in cells.items()}
        for sid, cells in found.items()
    }
