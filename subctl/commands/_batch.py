"""What every lifecycle verb (and ``jobs resume``) does around the services: confirmation,
progress, per-item results and the exit code. No business rules here (``subctl.services.
lifecycle``), no journal logic (``subctl.services.batch``); heavy imports stay inside
functions (``--help`` must not load the database driver)."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Generator, Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from subctl.context import AppContext
from subctl.errors import ConfirmationRequired, InvalidState, UsageError
from subctl.export import Column
from subctl.output import Format

if TYPE_CHECKING:
    from pathlib import Path

    from subctl.schema import PropertyRegistry
    from subctl.services.batch import Backup, Selection
    from subctl.services.lifecycle import Action, Decision
    from subctl.store.base import Job

LARGE_BATCH = 100  # before a confirmation, batches up to this size show every row...
PREVIEW_ROWS = 10  # ...larger ones their count and this many rows
SHOWN_WARNINGS = 5

CONFIRMATIONS = {
    "cancel": "I understand the customer will not be charged again",
    "delete": "I understand deleted subscriptions cannot be restored",
}


@dataclass
class BatchOptions:
    selection: Selection
    dry_run: bool = False
    plan_out: str | None = None
    yes: bool = False
    fmt: Format = Format.AUTO
    backup: str | None = None
    action_options: dict[str, Any] = field(default_factory=dict)


def columns(action: Action) -> list[Column]:
    cols = [
        Column("id", "ID"),
        Column("name", "Name"),
        Column("status", "Status"),
        Column("outcome", "Outcome"),
        Column("new_status", "New status"),
        Column("note", "Note"),
    ]
    if action.refunds:
        cols += [Column("refund", "Refund"), Column("currency", "Currency")]
    if action.sends_mail and action.verb != "cancel":
        cols += [Column("recipient", "To"), Column("subject", "Subject"), Column("link", "Link")]
    return cols


def _plural(n: int, word: str = "subscription") -> str:
    return f"{n:,} {word}" + ("" if n == 1 else "s")


def _needs_confirmation(verb: str, count: int) -> bool:
    from subctl.services.lifecycle import DESTRUCTIVE

    return verb in DESTRUCTIVE or count > 1


def _require_confirmation_possible(app: AppContext, verb: str, count: int, yes: bool) -> None:
    """Off a TTY, a batch that needs confirmation needs --yes: exit 2, nothing changed."""
    if yes or not _needs_confirmation(verb, count) or app.can_prompt:
        return
    raise ConfirmationRequired(
        f"{verb} {_plural(count)}: confirmation required; nothing was changed",
        hint="pass --yes to confirm (review first with --dry-run)",
    )


def _show_preview(
    app: AppContext, decisions: Sequence[Decision], action: Action, registry: PropertyRegistry
) -> None:
    """Before a confirmation (stderr): the count, the first rows, refunds and warnings."""
    from subctl.export.table import render_table
    from subctl.services.lifecycle import refund_totals

    acting = sum(1 for d in decisions if d.outcome.acts)
    others = len(decisions) - acting
    described = action.describe(registry)
    head = f"{described}: {_plural(len(decisions))} selected, {acting:,} to act on"
    app.out.message(head + (f" ({others:,} skipped or refused)" if others else ""))
    shown = decisions if len(decisions) <= LARGE_BATCH else decisions[:PREVIEW_ROWS]
    render_table([d.row() for d in shown], columns(action), app.out.console(app.out.stderr))
    if len(decisions) > len(shown):
        app.out.message(f"… and {len(decisions) - len(shown):,} more")
    totals = refund_totals(decisions)
    if totals:
        amounts = ", ".join(f"{amount} {currency}" for currency, amount in sorted(totals.items()))
        count = sum(1 for d in decisions if d.refund and d.outcome.acts)
        app.out.message(f"Refunds: {amounts} ({_plural(count)})")
    _warn(app, [w for d in decisions for w in d.warnings])


def _warn(app: AppContext, warnings: Sequence[str]) -> None:
    for text in warnings[:SHOWN_WARNINGS]:
        app.out.warn(text)
    if len(warnings) > SHOWN_WARNINGS:
        app.out.warn(f"… and {len(warnings) - SHOWN_WARNINGS:,} more pending bank payments")


def _confirm(app: AppContext, action: Action, count: int) -> None:
    """Ask before a batch runs; declining ends the command (exit 130), nothing changed."""
    import typer

    from subctl.errors import Aborted

    question = CONFIRMATIONS.get(action.verb) or f"{action.verb.capitalize()} {_plural(count)}?"
    try:
        app.confirm(question, yes=False)
    except Aborted:
        app.out.message("Aborted; nothing was changed.")
        raise typer.Exit(Aborted.exit_code) from None


@dataclass
class Tally:
    """What a batch did, item by item as it goes (for the summary and the exit code)."""

    ok: int = 0
    skipped: int = 0
    failed: list[Decision] = field(default_factory=list)
    attention: list[Decision] = field(default_factory=list)  # done, to be followed up
    warnings: list[str] = field(default_factory=list)
    refunded_only: int = 0  # of ok: refunds alone (``cancel --refund-pending``, already canceled)

    @classmethod
    def of(cls, decisions: Sequence[Decision]) -> Tally:
        tally = cls()
        tally.add(decisions)
        return tally

    @property
    def total(self) -> int:
        return self.ok + self.skipped + len(self.failed) + len(self.attention)

    def add(self, decisions: Sequence[Decision]) -> None:
        from subctl.services.lifecycle import Outcome

        for d in decisions:
            if d.outcome is Outcome.OK:
                self.ok += 1
                if d.status == d.new_status == "canceled" and d.refund is not None:
                    self.refunded_only += 1  # a pending payment of a canceled subscription
            elif d.outcome is Outcome.SKIPPED:
                self.skipped += 1
            elif d.outcome is Outcome.ATTENTION:
                self.attention.append(d)
            else:
                self.failed.append(d)
            if d.warnings:
                self.warnings.extend(d.warnings)


def _summary(tally: Tally, action: Action, dry_run: bool) -> str:
    from subctl.services.lifecycle import PAST_TENSE

    done = PAST_TENSE[action.verb]
    counts = f"{tally.skipped:,} skipped, {len(tally.failed):,} failed"
    if tally.attention:
        counts += f", {len(tally.attention):,} need attention"
    acted = tally.ok - tally.refunded_only
    if tally.refunded_only:  # already canceled: only their pending payments were refunded
        counts = f"{tally.refunded_only:,} refunded only (already {done}), {counts}"
    if dry_run:
        return f"Dry run, nothing changed: {acted:,} would be {done}, {counts}"
    return f"{acted:,} {done}, {counts}"


def _raise_for_failures(
    tally: Tally, action: Action, job: Job | None, dry_run: bool = False
) -> None:
    """Exit 5 when any item failed or needs attention: one item's reason, or the counts (and
    the job)."""
    from subctl.services.lifecycle import PAST_TENSE

    failed = tally.failed
    if not failed:
        _raise_for_attention(tally, action, job, dry_run)
        return
    if tally.total == 1:
        raise InvalidState(failed[0].note)
    would = "would " if dry_run else ""
    message = f"{len(failed):,} of {tally.total:,} subscriptions {would}fail"
    message += "" if dry_run else "ed"
    if len(failed) == 1:
        message += f" (subscription {failed[0].subscription_id}: {failed[0].note})"
    message += f"; {tally.ok:,} {would}{'be ' if dry_run else ''}{PAST_TENSE[action.verb]}, "
    message += f"{tally.skipped:,} skipped"
    if tally.attention:
        message += f", {len(tally.attention):,} need attention"
    message += f" (job {job.id})" if job else ""
    message += " (dry run, nothing changed)" if dry_run else ""
    hint = f"list them with `subctl jobs results {job.id} --format csv`" if job else None
    raise InvalidState(message, hint=hint)


def _raise_for_attention(tally: Tally, action: Action, job: Job | None, dry_run: bool) -> None:
    """Exit 5 when items were done but need a person (``Outcome.ATTENTION``), with the
    command to follow up with (the warnings name it per item)."""
    from subctl.services.lifecycle import PAST_TENSE

    if not tally.attention:
        return
    first = tally.attention[0]
    done = ("would be " if dry_run else "") + PAST_TENSE[action.verb]
    hint = first.warnings[0].partition("; ")[2] if first.warnings else None
    if tally.total == 1:
        raise InvalidState(
            f"subscription {first.subscription_id} {done} but needs attention: {first.note}",
            hint=hint,
        )
    if len(tally.attention) > 1:
        hint = f"list them with `subctl jobs results {job.id} --outcome attention`" if job else None
    raise InvalidState(
        f"{len(tally.attention):,} of {tally.total:,} subscriptions {done} but need attention "
        f"(first, subscription {first.subscription_id}: {first.note})",
        hint=hint,
    )


def execute(app: AppContext, verb: str, options: BatchOptions) -> None:
    """Run a lifecycle verb over its selection (see ``subctl.services.batch``)."""
    from subctl.errors import Aborted
    from subctl.services.batch import gc_paused

    try:
        with gc_paused():
            _execute(app, verb, options)
    except KeyboardInterrupt:  # before the batch ran (it handles its own interruptions)
        raise Aborted(
            "interrupted", hint="`subctl jobs` shows whether a batch was journaled to resume"
        ) from None


def _execute(app: AppContext, verb: str, options: BatchOptions) -> None:
    from subctl.services import batch, lifecycle
    from subctl.services.masking import masked_names

    store = app.store()
    action = lifecycle.build_action(
        verb,
        registry=store.properties(),
        today=app.today(),
        now=app.clock(),
        **options.action_options,
    )
    if options.plan_out and not options.dry_run:
        raise UsageError("--plan-out needs --dry-run", hint="review first, then run with --plan")
    requested = batch.backup_path(options.backup) if options.backup else None
    prepared = batch.prepare(
        store, action, options.selection, today=app.today(), now=app.clock(), stdin=app.out.stdin
    )
    masked = masked_names(store.properties())
    if not prepared.items:
        if options.plan_out:
            batch.write_plan(options.plan_out, prepared, app.clock(), masked, store)
        app.out.message("No subscriptions match.")
        return
    count = len(prepared.items)
    existing = None
    if not options.dry_run:
        _require_confirmation_possible(app, verb, count, options.yes)
        existing = store.unfinished_job(prepared.fingerprint)
        if existing is not None and not existing.unprocessed:  # ended before it was marked
            store.set_job_status(existing.id, "done", app.clock())
            existing = None
        if existing is not None and _offer_resume(app, existing, options.yes):
            # "Resume it?" stands in for a batch's confirmation, not for a destructive one.
            confirm_destructive = verb in lifecycle.DESTRUCTIVE and not options.yes
            _resume(app, existing, action, options.fmt, confirm=confirm_destructive,
                    backup=requested)  # fmt: skip
            return
    if prepared.missing:  # only resuming the job that deleted them tolerates them
        raise batch.not_found(prepared.missing)
    backup = batch.backup_target(store, None, requested) if not options.dry_run else None
    confirm = not options.dry_run and not options.yes and _needs_confirmation(verb, count)
    decisions: list[Decision] | None = None
    if options.dry_run or confirm:
        with app.out.progress(f"Checking ({verb})", total=count) as advance:
            decisions = batch.preview(store, prepared, app.clock(), advance)
    if options.dry_run:
        assert decisions is not None
        if options.plan_out:
            digest = batch.write_plan(options.plan_out, prepared, app.clock(), masked, store)
            app.out.message(f"Plan of {_plural(count)} written to {options.plan_out} ({digest})")
        app.out.rows((d.row() for d in decisions), columns(action), options.fmt, empty="")
        tally = Tally.of(decisions)
        _warn(app, tally.warnings)
        _raise_for_failures(tally, action, None, dry_run=True)
        app.out.message(_summary(tally, action, dry_run=True))
        return
    if confirm:
        assert decisions is not None
        _show_preview(app, decisions, action, store.properties())
        _confirm(app, action, count)
    if existing is not None:  # declined to resume it, and confirmed this batch instead
        store.set_job_status(existing.id, "abandoned", app.clock())
    # The backup file is created before the job exists: a path that cannot be written stops
    # here, with nothing journaled; the job records it in the same transaction as its items.
    writer = None if backup is None else batch.Backup(store, backup[0], sibling=backup[1])
    job = batch.start_job(
        store, prepared, app.clock(), backup=None if backup is None else backup[0]
    )
    _run(app, job, action, options.fmt, items=prepared.items, warned=confirm, writer=writer)


def _offer_resume(app: AppContext, job: Job, yes: bool) -> bool:
    left = f"{job.unprocessed:,} of {job.total:,} left"
    if app.can_prompt and not yes:
        return app.prompter.confirm(
            f"Job {job.id} with the same arguments is unfinished ({left}). Resume it?",
            default=True,
        )
    app.out.message(
        f"Resuming unfinished job {job.id} with the same arguments ({left}); "
        f"`subctl jobs resume {job.id}` does the same"
    )
    return True


@contextmanager
def interrupt_between_chunks() -> Iterator[Callable[[], bool]]:
    """While a batch runs, Ctrl-C (SIGINT) ends it at the next chunk boundary instead of inside
    a chunk, so what is reported is exactly what was journaled. Yields "was it pressed?"."""
    import signal
    import threading

    if threading.current_thread() is not threading.main_thread():
        yield lambda: False
        return
    pressed = threading.Event()
    previous = signal.signal(signal.SIGINT, lambda _signum, _frame: pressed.set())
    try:
        yield pressed.is_set
    finally:
        signal.signal(signal.SIGINT, previous if previous is not None else signal.SIG_DFL)


@dataclass
class _Stopped:
    """Why a run ended before its last chunk (None: it did not)."""

    error: BaseException | None = None


def _run(
    app: AppContext,
    job: Job,
    action: Action,
    fmt: Format,
    *,
    items: Sequence[tuple[int, str | None]] | None = None,
    resumed: bool = False,
    warned: bool = False,
    backup: tuple[Path, bool] | None = None,
    writer: Backup | None = None,
) -> None:
    """Run (or resume) a journaled batch, printing each item's result as its chunk is
    written (JSON, NDJSON, CSV), so a killed batch has printed what it did; on a terminal, a
    large batch's table shows its first rows and the way to the rest (``jobs results``).

    ``backup`` (``delete --backup`` of a job that exists already): the file, and whether a
    numbered sibling is written when it exists (a later run of the same job); ``writer``: the
    backup already opened for a job just created.
    """
    from subctl.errors import Aborted, DiskFull
    from subctl.services import batch

    store = app.store()
    tally = Tally()
    total = len(items) if items is not None else job.unprocessed
    described = action.describe(store.properties())
    if backup is not None:
        writer = batch.Backup(store, backup[0], sibling=backup[1])
        if batch.job_backup(store, job) != backup[0]:  # newly asked for by this run
            batch.record_backup(store, job, backup[0])
    stopped = _Stopped()
    with interrupt_between_chunks() as pressed, app.out.progress(described, total) as advance:

        def results() -> Generator[dict[str, Any], None, None]:
            try:
                for chunk in batch.iter_job(store, job, app.clock, items, backup=writer,
                                            stop=pressed):  # fmt: skip
                    tally.add(chunk)
                    advance(len(chunk))
                    yield from (d.row() for d in chunk)
                    with suppress(BrokenPipeError):  # the writer meets it and stops printing
                        app.out.stdout.flush()  # printed: what a killed batch has done
            except KeyboardInterrupt as exc:  # the journal holds every finished chunk
                stopped.error = exc
            except Exception as exc:
                if not batch.is_disk_full(exc):
                    raise
                stopped.error = exc

        table = _print_results(app, job, results(), columns(action), fmt, total, stopped)
    if table is not None:  # a table is drawn once the progress bar is gone, never under it
        table()
    if writer is not None:
        writer.close()
        if writer.count or stopped.error is not None:
            app.out.message(f"Backup of {_plural(writer.count)} written to {writer.path}")
        else:  # nothing was deleted: an empty file would only block the name
            writer.path.unlink(missing_ok=True)
    if not warned:
        _warn(app, tally.warnings)
    if stopped.error is not None:
        done = f"job {job.id} stopped after {tally.total:,} of {total:,} items"
        if isinstance(stopped.error, KeyboardInterrupt):
            raise Aborted(f"interrupted: {done}; nothing was done twice",
                          hint=f"resume it with `subctl jobs resume {job.id}`")  # fmt: skip
        raise DiskFull(f"disk full: {done}; nothing was done twice",
                       hint=f"free some space, then resume it with `subctl jobs resume {job.id}`",
                       ) from stopped.error  # fmt: skip
    _raise_for_failures(tally, action, job)
    what = f"Job {job.id}" + (" resumed" if resumed else "")
    app.out.success(f"{what}: {_summary(tally, action, dry_run=False)}")


def _print_results(
    app: AppContext,
    job: Job,
    rows: Generator[dict[str, Any], None, None],
    cols: list[Column],
    fmt: Format,
    total: int,
    stopped: _Stopped,
) -> Callable[[], None] | None:
    """Stream the rows (data formats); or run the batch and return the drawing of a table of
    at most ``LARGE_BATCH`` rows (larger batches: the first ``PREVIEW_ROWS``, then the count of
    the others). A full disk under stdout stops the batch after the chunk in flight,
    resumably."""
    from subctl.services.batch import is_disk_full

    fmt = app.out.resolve(fmt)
    if fmt is Format.TABLE:
        limit = total if total <= LARGE_BATCH else PREVIEW_ROWS
        shown = list(itertools.islice(rows, limit))
        more = sum(1 for _ in rows)

        def table() -> None:
            app.out.rows(shown, cols, fmt, empty="")
            if more:
                app.out.message(f"… and {more:,} more: subctl jobs results {job.id}")

        return table
    try:
        app.out.rows(rows, cols, fmt, empty="")
    except OSError as exc:
        if not is_disk_full(exc):
            raise
        rows.close()  # ends the batch between chunks (the job stays unfinished)
        stopped.error = exc
        return None
    # Whatever stopped the printing early (``| head`` closed stdout: the sink stops writing
    # and returns), the batch runs to its end, unprinted.
    for _ in rows:
        pass
    return None


def resume(app: AppContext, job_id: int, *, yes: bool, fmt: Format) -> None:
    """``subctl jobs resume``: the unprocessed items of a job, with its original options."""
    from subctl.services.lifecycle import Action

    store = app.store()
    job = store.job(job_id)
    action = Action.from_json(job.action)
    if job.status == "abandoned":
        raise InvalidState(
            f"job {job.id} was abandoned (a new batch was started instead of resuming it); "
            "it cannot be resumed, nothing was changed",
            hint="`subctl jobs` lists the batches; run the command again for a new one",
        )
    if job.status == "done":
        raise InvalidState(f"job {job.id} is done; nothing left to resume")
    if not job.unprocessed:
        store.set_job_status(job.id, "done", app.clock())
        app.out.message(f"Job {job.id} has nothing left to do.")
        return
    _require_confirmation_possible(app, action.verb, job.unprocessed, yes)
    confirm = not yes and _needs_confirmation(action.verb, job.unprocessed)
    _resume(app, job, action, fmt, confirm=confirm)


def _resume(
    app: AppContext,
    job: Job,
    action: Action,
    fmt: Format,
    *,
    confirm: bool,
    backup: Path | None = None,
) -> None:
    """Resume a job's unprocessed items: confirm when asked to, then run; a ``delete
    --backup`` job (or ``backup``, newly asked for) backs up what each chunk deletes."""
    from subctl.services import batch

    store = app.store()
    target = batch.backup_target(store, job, backup)
    if confirm:
        app.out.message(
            f"Job {job.id}: {action.describe(store.properties())}, "
            f"{job.unprocessed:,} of {job.total:,} left"
        )
        _confirm(app, action, job.unprocessed)
    with batch.gc_paused():
        _run(app, job, action, fmt, resumed=True, backup=target)
