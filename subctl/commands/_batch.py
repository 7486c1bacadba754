"""The CLI side of a lifecycle batch (every lifecycle verb and ``jobs resume``): the port
``subctl.services.batch.workflow`` asks through (confirmation, preview, progress, the
per-item results), and the report said in the CLI's words with its exit code. No business
rules here (``subctl.services.lifecycle``), no workflow (``subctl.services.batch``); heavy
imports stay inside functions (``--help`` must not load the database driver)."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from subctl.codec import plural
from subctl.commands import _hints
from subctl.commands._hints import line
from subctl.context import AppContext
from subctl.errors import Call, ConfirmationRequired, InvalidState, UsageError
from subctl.export import Column
from subctl.output import Format

if TYPE_CHECKING:
    from subctl.services.batch import Selection
    from subctl.services.batch.workflow import Preview, Report, Tally
    from subctl.services.lifecycle import Action, Caution
    from subctl.store.base import Job

LARGE_BATCH = 100  # before a confirmation, batches up to this size show every row...
PREVIEW_ROWS = 10  # ...larger ones their count and this many rows
SHOWN_WARNINGS = 5  # of the warnings of a preview


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
    return plural(n, word)


def _summary(tally: Tally, action: Action, dry_run: bool) -> str:
    done = action.past_tense
    counts = f"{tally.skipped:,} skipped, {tally.failed:,} failed"
    if tally.attention:
        counts += f", {tally.attention:,} need attention"
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
    first = tally.first_failed
    if first is None:
        _raise_for_attention(tally, action, job, dry_run)
        return
    if tally.total == 1:
        raise InvalidState(first.note)
    would = "would " if dry_run else ""
    message = f"{tally.failed:,} of {tally.total:,} subscriptions {would}fail"
    message += "" if dry_run else "ed"
    if tally.failed == 1:
        message += f" (subscription {first.subscription_id}: {first.note})"
    message += f"; {tally.ok:,} {would}{'be ' if dry_run else ''}{action.past_tense}, "
    message += f"{tally.skipped:,} skipped"
    if tally.attention:
        message += f", {tally.attention:,} need attention"
    message += f" (job {job.id})" if job else ""
    message += " (dry run, nothing changed)" if dry_run else ""
    hint = f"list them with `subctl jobs results {job.id} --format csv`" if job else None
    raise InvalidState(message, hint=hint)


def _raise_for_attention(tally: Tally, action: Action, job: Job | None, dry_run: bool) -> None:
    """Exit 5 when items were done but need a person (``Outcome.ATTENTION``), with the
    command to follow up with (the warnings name it per item)."""
    first = tally.first_attention
    if first is None:
        return
    done = ("would be " if dry_run else "") + action.past_tense
    step = first.warnings[0].next if first.warnings else None
    hint = _hints.hint(step) if step is not None else None
    if tally.total == 1:
        raise InvalidState(
            f"subscription {first.subscription_id} {done} but needs attention: {first.note}",
            hint=hint,
        )
    if tally.attention > 1:
        hint = f"list them with `subctl jobs results {job.id} --outcome attention`" if job else None
    raise InvalidState(
        f"{tally.attention:,} of {tally.total:,} subscriptions {done} but need attention "
        f"(first, subscription {first.subscription_id}: {first.note})",
        hint=hint,
    )


class CliBatchUI:
    """The batch port on the command line: questions through the prompter, the preview and
    messages on stderr, a progress bar on a terminal, results in the chosen format.

    Results stream per chunk (JSON, NDJSON, CSV), so a killed batch has printed what it did;
    a table of a run shows at most ``LARGE_BATCH`` rows (larger: the first ``PREVIEW_ROWS``,
    then the count of the others and the way to the rest), drawn once the progress bar is
    gone, never under it."""

    def __init__(self, app: AppContext, fmt: Format, stop: Callable[[], bool]) -> None:
        self.app = app
        self.fmt = fmt
        self.stop_requested = stop
        self._pending: Callable[[], None] | None = None  # a table to draw after the bar

    @property
    def interactive(self) -> bool:
        return self.app.can_prompt

    def confirm(self, question: str, default: bool) -> bool:
        return self.app.prompter.confirm(question, default=default)

    def resuming(self, job: Job) -> None:
        self.app.out.message(
            f"Resuming unfinished job {job.id} with the same arguments "
            f"({job.unprocessed:,} of {job.total:,} left); "
            f"`subctl jobs resume {job.id}` does the same"
        )

    def preview(self, preview: Preview) -> None:
        """Before a confirmation (stderr): the count, the first rows, refunds and warnings."""
        from subctl.export.table import render_table

        out, action = self.app.out, preview.action
        described = line(action.command(self.app.records().properties()))
        if preview.job is not None:
            job = preview.job
            out.message(f"Job {job.id}: {described}, {job.unprocessed:,} of {job.total:,} left")
            return
        decisions = preview.decisions
        others = len(decisions) - preview.acting
        head = f"{described}: {_plural(len(decisions))} selected, {preview.acting:,} to act on"
        out.message(head + (f" ({others:,} skipped or refused)" if others else ""))
        shown = decisions if len(decisions) <= LARGE_BATCH else decisions[:PREVIEW_ROWS]
        render_table([d.row() for d in shown], columns(action), out.console(out.stderr))
        if len(decisions) > len(shown):
            out.message(f"… and {len(decisions) - len(shown):,} more")
        if preview.refunds:
            amounts = ", ".join(f"{a} {c}" for c, a in sorted(preview.refunds.items()))
            out.message(f"Refunds: {amounts} ({_plural(preview.refunded)})")
        warnings = [w for d in decisions for w in d.warnings]
        _warn(self.app, warnings[:SHOWN_WARNINGS], len(warnings))

    @contextmanager
    def progress(self, description: str | Call, total: int) -> Iterator[Callable[[int], None]]:
        if isinstance(description, Call):
            description = line(description)
        out = self.app.out

        with out.progress(description, total) as bar:

            def advance(n: int) -> None:
                bar(n)
                with suppress(BrokenPipeError):  # the writer meets it and stops printing
                    out.stdout.flush()  # printed: what a killed batch has done

            yield advance
        if self._pending is not None:
            pending, self._pending = self._pending, None
            pending()

    def results(
        self, rows: Iterator[dict[str, Any]], action: Action, job: Job | None, total: int
    ) -> None:
        out, cols = self.app.out, columns(action)
        fmt = out.resolve(self.fmt)
        if fmt is not Format.TABLE or job is None:  # a dry run's table: every row
            out.rows(rows, cols, fmt, empty="")
            return
        limit = total if total <= LARGE_BATCH else PREVIEW_ROWS
        shown = list(itertools.islice(rows, limit))
        more = sum(1 for _ in rows)

        def table() -> None:
            out.rows(shown, cols, fmt, empty="")
            if more:
                out.message(f"… and {more:,} more: subctl jobs results {job.id}")

        self._pending = table


def _warn(app: AppContext, shown: Sequence[Caution], count: int) -> None:
    for caution in shown:
        step = caution.next
        app.out.warn(caution.text + (f"; {_hints.hint(step)}" if step is not None else ""))
    if count > len(shown):
        app.out.warn(f"… and {count - len(shown):,} more pending bank payments")


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


@contextmanager
def _batch_errors(app: AppContext) -> Iterator[None]:
    """The workflow's typed errors in the CLI's words and exit codes."""
    import typer

    from subctl.errors import Aborted
    from subctl.services.batch.workflow import Declined, NeedsConfirmation

    try:
        yield
    except NeedsConfirmation as exc:
        raise ConfirmationRequired(
            f"{exc.verb} {_plural(exc.count)}: confirmation required; nothing was changed",
            hint="pass --yes to confirm (review first with --dry-run)",
        ) from None
    except Declined:
        app.out.message("Aborted; nothing was changed.")
        raise typer.Exit(Aborted.exit_code) from None


def execute(app: AppContext, verb: str, options: BatchOptions) -> None:
    """Run a lifecycle verb over its selection (``subctl.services.batch.workflow``)."""
    from subctl.errors import Aborted
    from subctl.services.batch import gc_paused
    from subctl.services.batch.workflow import Request
    from subctl.services.batch.workflow import execute as run_batch

    if options.plan_out and not options.dry_run:
        raise UsageError("--plan-out needs --dry-run", hint="review first, then run with --plan")
    request = Request(verb, options.selection, options.action_options, options.dry_run,
                      options.plan_out, options.yes, options.backup)  # fmt: skip
    try:
        with gc_paused(), _batch_errors(app), interrupt_between_chunks() as pressed:
            ui = CliBatchUI(app, options.fmt, pressed)
            report = run_batch(app.records(), app.workspace(), app.unit_of_work(), ui, request,
                               clock=app.clock, stdin=app.out.stdin)  # fmt: skip
    except KeyboardInterrupt:  # before the batch ran (it handles its own interruptions)
        raise Aborted(
            "interrupted", hint="`subctl jobs` shows whether a batch was journaled to resume"
        ) from None
    _report(app, report)


def resume(app: AppContext, job_id: int, *, yes: bool, fmt: Format) -> None:
    """``subctl jobs resume``: the unprocessed items of a job, with its original options."""
    from subctl.services.batch.workflow import Abandoned
    from subctl.services.batch.workflow import resume as resume_job

    try:
        with _batch_errors(app), interrupt_between_chunks() as pressed:
            ui = CliBatchUI(app, fmt, pressed)
            report = resume_job(app.records(), app.workspace(), app.unit_of_work(), ui, job_id,
                                yes=yes, clock=app.clock)  # fmt: skip
    except Abandoned as exc:
        exc.hint = "`subctl jobs` lists the batches; run the command again for a new one"
        raise
    _report(app, report)


def _report(app: AppContext, report: Report) -> None:
    """The end of a batch: what was written, warnings, the summary; the exit code."""
    from subctl.errors import Aborted, DiskFull

    out, tally, job, action = app.out, report.tally, report.job, report.action
    if report.done and job is not None:
        out.message(f"Job {job.id} has nothing left to do.")
        return
    if report.plan is not None:
        count = report.total
        out.message(f"Plan of {_plural(count)} written to {report.plan[0]} ({report.plan[1]})")
    if not report.matched:
        out.message("No subscriptions match.")
        return
    if report.dry_run:
        _warn(app, tally.warnings, tally.warning_count)
        _raise_for_failures(tally, action, None, dry_run=True)
        out.message(_summary(tally, action, dry_run=True))
        return
    assert job is not None
    if report.backup is not None:
        out.message(f"Backup of {_plural(report.backup[1])} written to {report.backup[0]}")
    if not report.warned:
        _warn(app, tally.warnings, tally.warning_count)
    if report.stopped is not None:
        done = f"job {job.id} stopped after {tally.total:,} of {report.total:,} items"
        if isinstance(report.stopped, KeyboardInterrupt):
            raise Aborted(f"interrupted: {done}; nothing was done twice",
                          hint=f"resume it with `subctl jobs resume {job.id}`")  # fmt: skip
        raise DiskFull(f"disk full: {done}; nothing was done twice",
                       hint=f"free some space, then resume it with `subctl jobs resume {job.id}`",
                       ) from report.stopped  # fmt: skip
    _raise_for_failures(tally, action, job)
    what = f"Job {job.id}" + (" resumed" if report.resumed else "")
    out.success(f"{what}: {_summary(tally, action, dry_run=False)}")
