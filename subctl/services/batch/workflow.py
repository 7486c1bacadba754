"""The workflow of a lifecycle batch, for every front end: prepare, preview, confirm, back up,
offer to resume an unfinished job, journal, run and report. It talks to the person through a
small port (``BatchUI``), which the CLI implements (``subctl.commands._batch``); it returns a
typed ``Report`` and raises typed errors, and leaves every wording of commands and flags to the
front end.

Results stream to the port chunk by chunk; the report keeps counts (and the first failure,
attention item and warnings), so memory stays flat however large the batch.
"""

from __future__ import annotations

from collections.abc import Callable, Generator, Iterator, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, TextIO

from subctl.codec import plural
from subctl.errors import Action as Step
from subctl.errors import Call, InvalidState, Next, StoreUnavailable, UsageError
from subctl.services import batch
from subctl.services.lifecycle import (
    DESTRUCTIVE,
    Action,
    Caution,
    Decision,
    Outcome,
    build_action,
    refuse_incapable,
)
from subctl.services.masking import masked_names

if TYPE_CHECKING:
    import datetime as dt

    from subctl.store.base import Job, RecordStore, UnitOfWork, Workspace

Advance = Callable[[int], None]
SHOWN_WARNINGS = 5  # a report keeps this many warnings' text, and counts the others

CONFIRMATIONS = {
    "cancel": "I understand the customer will not be charged again",
    "delete": "I understand deleted subscriptions cannot be restored",
}


class BatchUI(Protocol):
    """What a batch needs from the person running it."""

    @property
    def interactive(self) -> bool:
        """Whether a person can be asked."""
        ...

    def confirm(self, question: str, default: bool) -> bool: ...

    def resuming(self, job: Job) -> None:
        """Told (not asked) that an unfinished job with the same arguments is resumed."""
        ...

    def preview(self, preview: Preview) -> None:
        """Before a confirmation: what the batch would do."""
        ...

    def progress(
        self, description: str | Call, total: int
    ) -> AbstractContextManager[Callable[[int], None]]:
        """A progress display for ``total`` items (described by a text, or the command that
        runs them); yields ``advance(n)``."""
        ...

    def results(self, rows: Iterator[dict[str, Any]], action: Action, job: Job | None,
                total: int) -> None:  # fmt: skip
        """Write the per-item results as they come; read ``rows`` to their end (the batch runs
        while they are read)."""
        ...

    def stop_requested(self) -> bool:
        """Asked between chunks: whether the person asked the run to stop (Ctrl-C)."""
        ...


class Abandoned(InvalidState):
    """A job abandoned for a new batch: it is never resumed."""


class Declined(Exception):
    """The person declined the confirmation: nothing was changed."""


@dataclass
class NeedsConfirmation(Exception):
    """A batch that must be confirmed, with nobody to ask and no prior consent."""

    verb: str
    count: int


@dataclass
class Request:
    verb: str
    selection: batch.Selection
    action_options: dict[str, Any] = field(default_factory=dict)
    dry_run: bool = False
    plan_out: str | None = None
    yes: bool = False  # consent given beforehand
    backup: str | None = None


@dataclass
class Preview:
    """What a batch would do, shown before it is confirmed."""

    action: Action
    decisions: Sequence[Decision]
    acting: int
    refunds: dict[str, Any]  # currency -> amount, of the items acted on
    refunded: int
    job: Job | None = None  # resuming this job (its unprocessed items, not decided yet)


@dataclass
class Tally:
    """What a batch did, counted as it goes (for the summary and the exit code); of failures,
    attention items and warnings only the first are kept."""

    ok: int = 0
    skipped: int = 0
    failed: int = 0
    attention: int = 0
    refunded_only: int = 0  # of ok: refunds alone (``cancel --refund-pending``, already canceled)
    first_failed: Decision | None = None
    first_attention: Decision | None = None
    warnings: list[Caution] = field(default_factory=list)  # the first SHOWN_WARNINGS
    warning_count: int = 0

    @classmethod
    def of(cls, decisions: Sequence[Decision]) -> Tally:
        tally = cls()
        tally.add(decisions)
        return tally

    @property
    def total(self) -> int:
        return self.ok + self.skipped + self.failed + self.attention

    def add(self, decisions: Sequence[Decision]) -> None:
        for d in decisions:
            if d.outcome is Outcome.OK:
                self.ok += 1
                if d.status == d.new_status == "canceled" and d.refund is not None:
                    self.refunded_only += 1  # a pending payment of a canceled subscription
            elif d.outcome is Outcome.SKIPPED:
                self.skipped += 1
            elif d.outcome is Outcome.ATTENTION:
                self.attention += 1
                self.first_attention = self.first_attention or d
            else:
                self.failed += 1
                self.first_failed = self.first_failed or d
            for caution in d.warnings:
                if len(self.warnings) < SHOWN_WARNINGS:
                    self.warnings.append(caution)
                self.warning_count += 1


@dataclass
class Report:
    """The end of a batch (dry run, run or resume); ``stopped``: why it ended before its last
    chunk (a KeyboardInterrupt or a full disk), the job then still unfinished."""

    action: Action
    tally: Tally = field(default_factory=Tally)
    job: Job | None = None
    dry_run: bool = False
    resumed: bool = False
    total: int = 0
    stopped: BaseException | None = None
    warned: bool = False  # the warnings were shown in the preview already
    backup: tuple[Path, int] | None = None  # written: the file and its record count
    plan: tuple[str, str] | None = None  # written: the file and its hash
    matched: bool = True  # False: the selection matched nothing
    done: bool = False  # a job with nothing left (``jobs resume``)


def needs_confirmation(verb: str, count: int) -> bool:
    return verb in DESTRUCTIVE or count > 1


def _require_consent(ui: BatchUI, verb: str, count: int, yes: bool) -> None:
    """Off a terminal, a batch that needs confirmation needs consent given beforehand."""
    if yes or not needs_confirmation(verb, count) or ui.interactive:
        return
    raise NeedsConfirmation(verb, count)


def _plural(n: int, word: str = "subscription") -> str:
    return plural(n, word)


def confirm(ui: BatchUI, action: Action, count: int) -> None:
    question = CONFIRMATIONS.get(action.verb) or f"{action.verb.capitalize()} {_plural(count)}?"
    if not ui.confirm(question, False):
        raise Declined


def _preview(action: Action, decisions: Sequence[Decision]) -> Preview:
    from subctl.services.lifecycle import refund_totals

    acting = sum(1 for d in decisions if d.outcome.acts)
    refunded = sum(1 for d in decisions if d.refund and d.outcome.acts)
    return Preview(action, decisions, acting, dict(refund_totals(decisions)), refunded)


def execute(
    records: RecordStore,
    workspace: Workspace,
    unit: UnitOfWork,
    ui: BatchUI,
    request: Request,
    *,
    clock: Callable[[], dt.datetime],
    stdin: TextIO,
) -> Report:
    """Run a lifecycle verb over its selection (see ``subctl.services.batch``)."""
    today, now = clock().date(), clock()
    verb = request.verb
    action = build_action(verb, registry=records.properties(), today=today, now=now,
                          capabilities=records.capabilities,
                          **request.action_options)  # fmt: skip
    requested = batch.backup_path(request.backup) if request.backup else None
    prepared = batch.prepare(
        records, workspace, action, request.selection, today=today, now=now, stdin=stdin
    )
    masked = masked_names(records.properties())
    if not prepared.items:
        plan = None
        if request.plan_out:
            digest = batch.write_plan(request.plan_out, prepared, clock(), masked, workspace)
            plan = (request.plan_out, digest)
        return Report(action, dry_run=request.dry_run, matched=False, plan=plan)
    count = len(prepared.items)
    existing = None
    if not request.dry_run:
        _require_consent(ui, verb, count, request.yes)
        existing = workspace.unfinished_job(prepared.fingerprint)
        if existing is not None and not existing.unprocessed:  # ended before it was marked
            workspace.set_job_status(existing.id, "done", clock())
            existing = None
        if existing is not None and _offer_resume(ui, existing, request.yes):
            # "Resume it?" stands in for a batch's confirmation, not for a destructive one.
            confirm_destructive = verb in DESTRUCTIVE and not request.yes
            return _resume(records, workspace, unit, ui, existing, action, clock,
                           asks=confirm_destructive, backup=requested)  # fmt: skip
    if prepared.missing:  # only resuming the job that deleted them tolerates them
        raise batch.not_found(prepared.missing)
    backup = batch.backup_target(workspace, None, requested) if not request.dry_run else None
    asks = not request.dry_run and not request.yes and needs_confirmation(verb, count)
    if request.dry_run:
        return _dry_run(records, workspace, ui, prepared, request.plan_out, clock, masked)
    if asks:
        with ui.progress(f"Checking ({verb})", count) as advance:
            decisions = batch.preview(records, prepared, clock(), advance)
        preview = _preview(action, decisions)
        ui.preview(preview)
        acting = preview.acting  # the question counts what the preview says is acted on
        del decisions, preview
        if acting:  # nothing to act on: nothing to consent to (the run reports the refusals)
            confirm(ui, action, acting)
    if existing is not None:  # declined to resume it, and confirmed this batch instead
        workspace.set_job_status(existing.id, "abandoned", clock())
    # The backup file is created before the job exists: a path that cannot be written stops
    # here, with nothing journaled; the job records it in the same transaction as its items.
    writer = (
        None if backup is None else batch.Backup(records, workspace, backup[0], sibling=backup[1])
    )
    if writer is not None and writer.whole:  # json, xlsx: the whole selection, before the job
        writer.write_all(records, (sid for sid, _ in prepared.items))
    job = batch.start_job(
        workspace, prepared, clock(), backup=None if backup is None else backup[0]
    )
    prepared.items = []  # the journal holds them now: the run reads them chunk by chunk
    return _run(records, workspace, unit, ui, job, action, clock, warned=asks, writer=writer)


def _dry_run(
    records: RecordStore,
    workspace: Workspace,
    ui: BatchUI,
    prepared: batch.Prepared,
    plan_out: str | None,
    clock: Callable[[], dt.datetime],
    masked: frozenset[str],
) -> Report:
    """What the batch would do, streamed chunk by chunk; a plan file when asked for."""
    action, count = prepared.action, len(prepared.items)
    report = Report(action, dry_run=True, total=count)
    if plan_out:
        digest = batch.write_plan(plan_out, prepared, clock(), masked, workspace)
        report.plan = (plan_out, digest)

    def rows() -> Generator[dict[str, Any], None, None]:
        with ui.progress(f"Checking ({action.verb})", count) as advance:
            for chunk in batch.preview_chunks(records, prepared, clock()):
                report.tally.add(chunk)
                advance(len(chunk))
                yield from (d.row() for d in chunk)

    ui.results(rows(), action, None, count)
    return report


def _offer_resume(ui: BatchUI, job: Job, yes: bool) -> bool:
    if ui.interactive and not yes:
        left = f"{job.unprocessed:,} of {job.total:,} left"
        question = f"Job {job.id} with the same arguments is unfinished ({left}). Resume it?"
        return ui.confirm(question, True)
    ui.resuming(job)
    return True


def _run(
    records: RecordStore,
    workspace: Workspace,
    unit: UnitOfWork,
    ui: BatchUI,
    job: Job,
    action: Action,
    clock: Callable[[], dt.datetime],
    *,
    resumed: bool = False,
    warned: bool = False,
    backup: tuple[Path, bool] | None = None,
    writer: batch.Backup | None = None,
) -> Report:
    """Run (or resume) a journaled batch, handing each item's result to the port as its chunk
    is written, so a killed batch has reported what it did.

    ``backup`` (``delete --backup`` of a job that exists already): the file, and whether a
    numbered sibling is written when it exists (a later run of the same job); ``writer``: the
    backup already opened for a job just created.

    The run holds the job's lease (``Workspace.job_lease``) throughout: a second process
    running the same job at the same time is refused before it does anything.
    """
    with workspace.job_lease(job.id):
        return _run_held(records, workspace, unit, ui, job, action, clock, resumed=resumed,
                         warned=warned, backup=backup, writer=writer)  # fmt: skip


def _run_held(
    records: RecordStore,
    workspace: Workspace,
    unit: UnitOfWork,
    ui: BatchUI,
    job: Job,
    action: Action,
    clock: Callable[[], dt.datetime],
    *,
    resumed: bool,
    warned: bool,
    backup: tuple[Path, bool] | None,
    writer: batch.Backup | None,
) -> Report:
    total = job.unprocessed
    report = Report(action, job=job, resumed=resumed, total=total, warned=warned)
    described = action.command(records.properties())
    if backup is not None:
        writer = batch.Backup(records, workspace, backup[0], sibling=backup[1])
        if writer.whole:  # json, xlsx: every item left, before the first chunk is deleted
            items = workspace.job_items(job.id, unprocessed_only=True)
            writer.write_all(records, (item.subscription_id for item in items))
        if batch.job_backup(workspace, job) != backup[0]:  # newly asked for by this run
            batch.record_backup(workspace, job, backup[0])
    with ui.progress(described, total) as advance:

        def rows() -> Generator[dict[str, Any], None, None]:
            try:
                for chunk in batch.iter_job(records, workspace, unit, job, clock, backup=writer,
                                            stop=ui.stop_requested):  # fmt: skip
                    report.tally.add(chunk)
                    advance(len(chunk))
                    yield from (d.row() for d in chunk)
                    del chunk  # freed before the next chunk is decided
            except KeyboardInterrupt as exc:  # the journal holds every finished chunk
                report.stopped = exc
            except Exception as exc:
                if not batch.is_disk_full(exc):
                    if isinstance(exc, StoreUnavailable) and exc.next is None:
                        # the workspace went away (a lost connection): the journal holds
                        # every finished chunk, the job stays unfinished
                        exc.next = Next(Step.RESUME_JOB, {"job": job.id})
                    raise
                report.stopped = exc

        results = rows()
        try:
            ui.results(results, action, job, total)
        except OSError as exc:  # a full disk under the results: stop between chunks
            if not batch.is_disk_full(exc):
                raise
            results.close()  # ends the batch between chunks (the job stays unfinished)
            report.stopped = exc
        # Whatever stopped the writing early (``| head`` closed stdout), the batch runs to
        # its end.
        for _ in results:
            pass
    if writer is not None:
        writer.close()
        if writer.used or report.stopped is not None:
            report.backup = (writer.path, writer.count)
        elif writer.written:  # nothing was deleted: the file would only block the name
            writer.path.unlink(missing_ok=True)
    return report


def abandon(workspace: Workspace, job_id: int, now: dt.datetime) -> Job:
    """Give up an unfinished job: its unprocessed items stay unprocessed, it is never resumed,
    and the same command starts a new job. What it did stays done and journaled. A finished or
    already abandoned job is an ``InvalidState``; an unknown one ``NotFound``."""
    job = workspace.job(job_id)
    if job.status != "unfinished":
        raise InvalidState(f"job {job.id} is {job.status}; only an unfinished job is abandoned")
    workspace.set_job_status(job.id, "abandoned", now)
    return workspace.job(job.id)


def resume(
    records: RecordStore,
    workspace: Workspace,
    unit: UnitOfWork,
    ui: BatchUI,
    job_id: int,
    *,
    yes: bool,
    clock: Callable[[], dt.datetime],
) -> Report:
    """The unprocessed items of a job, with its original options. An abandoned or finished
    job is an ``InvalidState``."""
    job = workspace.job(job_id)
    action = Action.from_json(job.action)
    if job.status == "abandoned":
        raise Abandoned(
            f"job {job.id} was abandoned (a new batch was started instead of resuming it); "
            "it cannot be resumed, nothing was changed"
        )
    if job.status == "done":
        raise InvalidState(f"job {job.id} is done; nothing left to resume")
    if not job.unprocessed:
        workspace.set_job_status(job.id, "done", clock())
        return Report(action, job=job, done=True)
    try:  # a job journaled before the store's refusals were asked up front (or elsewhere)
        refuse_incapable(action, records.capabilities)
    except (UsageError, InvalidState) as exc:
        raise InvalidState.naming(
            f"job {job.id} cannot be resumed here: ",
            *(exc.words or (exc.message,)),
            hint="nothing was changed; run the command again without what is refused",
        ) from None
    _require_consent(ui, action.verb, job.unprocessed, yes)
    asks = not yes and needs_confirmation(action.verb, job.unprocessed)
    return _resume(records, workspace, unit, ui, job, action, clock, asks=asks)


def _resume(
    records: RecordStore,
    workspace: Workspace,
    unit: UnitOfWork,
    ui: BatchUI,
    job: Job,
    action: Action,
    clock: Callable[[], dt.datetime],
    *,
    asks: bool,
    backup: Path | None = None,
) -> Report:
    """Resume a job's unprocessed items: confirm when asked to, then run; a ``delete
    --backup`` job (or ``backup``, newly asked for) backs up what each chunk deletes."""
    target = batch.backup_target(workspace, job, backup)
    if asks:
        ui.preview(Preview(action, (), job.unprocessed, {}, 0, job=job))
        confirm(ui, action, job.unprocessed)
    with batch.gc_paused():
        return _run(records, workspace, unit, ui, job, action, clock, resumed=True,
                    backup=target)  # fmt: skip
