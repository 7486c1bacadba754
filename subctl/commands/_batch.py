"""What every lifecycle verb (and ``jobs resume``) does around the services: confirmation,
progress, per-item results and the exit code. No business rules here (``subctl.services.
lifecycle``), no journal logic (``subctl.services.batch``); heavy imports stay inside
functions (``--help`` must not load the database driver)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from subctl.context import AppContext
from subctl.errors import ConfirmationRequired, InvalidState, UsageError
from subctl.export import Column
from subctl.output import Format

if TYPE_CHECKING:
    from subctl.schema import PropertyRegistry
    from subctl.services.batch import Selection
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
    if yes or not _needs_confirmation(verb, count) or app.out.can_prompt:
        return
    raise ConfirmationRequired(
        f"{verb} {_plural(count)}: confirmation required; nothing was changed",
        hint="pass --yes to confirm (review first with --dry-run)",
    )


def _ask(app: AppContext, question: str, default: bool) -> bool:
    import questionary

    return bool(
        questionary.confirm(question, default=default, output=app.out.prompt_output()).ask()
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
    question = CONFIRMATIONS.get(action.verb) or f"{action.verb.capitalize()} {_plural(count)}?"
    app.out.confirm(question, yes=False)


@dataclass
class Tally:
    """What a batch did, item by item as it goes (for the summary and the exit code)."""

    ok: int = 0
    skipped: int = 0
    failed: list[Decision] = field(default_factory=list)
    attention: list[Decision] = field(default_factory=list)  # done, to be followed up
    warnings: list[str] = field(default_factory=list)

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
    if dry_run:
        return f"Dry run, nothing changed: {tally.ok:,} would be {done}, {counts}"
    return f"{tally.ok:,} {done}, {counts}"


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
    prepared = batch.prepare(
        store, action, options.selection, today=app.today(), now=app.clock(), stdin=app.out.stdin
    )
    if not prepared.items:
        if options.plan_out:
            batch.write_plan(options.plan_out, prepared, app.clock())
        app.out.message("No subscriptions match.")
        return
    count = len(prepared.items)
    if not options.dry_run:
        _require_confirmation_possible(app, verb, count, options.yes)
        existing = store.unfinished_job(prepared.fingerprint)
        if existing is not None and not existing.unprocessed:  # ended before it was marked
            store.set_job_status(existing.id, "done", app.clock())
            existing = None
        if existing is not None:
            if _offer_resume(app, existing, options.yes):
                # "Resume it?" stands in for a batch's confirmation, not for a destructive one.
                confirm_destructive = verb in lifecycle.DESTRUCTIVE and not options.yes
                _resume(app, existing, action, options.fmt, confirm=confirm_destructive,
                        backup=options.backup)  # fmt: skip
                return
            store.set_job_status(existing.id, "abandoned", app.clock())
    confirm = not options.dry_run and not options.yes and _needs_confirmation(verb, count)
    decisions: list[Decision] | None = None
    if options.dry_run or confirm or options.backup:
        with app.out.progress(f"Checking ({verb})", total=count) as advance:
            decisions = batch.preview(store, prepared, app.clock(), advance)
    if options.dry_run:
        assert decisions is not None
        if options.plan_out:
            digest = batch.write_plan(options.plan_out, prepared, app.clock())
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
    if options.backup:
        assert decisions is not None
        _write_backup(app, decisions, options.backup)
    job = batch.start_job(store, prepared, app.clock())
    _run(app, job, action, options.fmt, items=prepared.items, warned=confirm)


def _write_backup(app: AppContext, decisions: Sequence[Decision], path: str) -> None:
    """``delete --backup``: every property of exactly the subscriptions to be deleted."""
    from subctl.services import batch
    from subctl.services.lifecycle import Outcome

    ids = [d.subscription_id for d in decisions if d.outcome is Outcome.OK]
    written = batch.write_backup(app.store(), ids, path)
    app.out.message(f"Backup of {_plural(written)} written to {path}")


def _offer_resume(app: AppContext, job: Job, yes: bool) -> bool:
    left = f"{job.unprocessed:,} of {job.total:,} left"
    if app.out.can_prompt and not yes:
        return _ask(
            app, f"Job {job.id} with the same arguments is unfinished ({left}). Resume it?", True
        )
    app.out.message(
        f"Resuming unfinished job {job.id} with the same arguments ({left}); "
        f"`subctl jobs resume {job.id}` does the same"
    )
    return True


def _run(
    app: AppContext,
    job: Job,
    action: Action,
    fmt: Format,
    *,
    items: Sequence[tuple[int, str | None]] | None = None,
    resumed: bool = False,
    warned: bool = False,
) -> None:
    """Run (or resume) a journaled batch, then print every item's result and the summary.

    Results are printed once the batch is done (printing while writing measured slower), so a
    closed pipe (``| head``) never stops a batch half-way.
    """
    from subctl.errors import Aborted
    from subctl.services.batch import iter_job

    tally = Tally()
    rows: list[dict[str, Any]] = []
    total = len(items) if items is not None else job.unprocessed
    described = action.describe(app.store().properties())
    interrupted = False
    with app.out.progress(described, total=total) as advance:
        try:
            for chunk in iter_job(app.store(), job, app.clock, items):
                tally.add(chunk)
                rows.extend(d.row() for d in chunk)
                advance(len(chunk))
        except KeyboardInterrupt:  # the journal holds every finished chunk
            interrupted = True
    # What was done is reported even after an interruption: the results, then the warnings.
    app.out.rows(rows, columns(action), fmt, empty="")
    if not warned:
        _warn(app, tally.warnings)
    if interrupted:
        raise Aborted(
            f"interrupted: job {job.id} stopped after {len(rows):,} of {total:,} items; "
            "nothing was done twice",
            hint=f"resume it with `subctl jobs resume {job.id}`",
        )
    _raise_for_failures(tally, action, job)
    what = f"Job {job.id}" + (" resumed" if resumed else "")
    app.out.success(f"{what}: {_summary(tally, action, dry_run=False)}")


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
    backup: str | None = None,
) -> None:
    """Resume a job's unprocessed items: confirm when asked to, back them up (``delete
    --backup``) before anything changes, then run."""
    from subctl.services import batch

    store = app.store()
    if confirm:
        app.out.message(
            f"Job {job.id}: {action.describe(store.properties())}, "
            f"{job.unprocessed:,} of {job.total:,} left"
        )
        _confirm(app, action, job.unprocessed)
    if backup:
        left = batch.unprocessed(store, job)
        with app.out.progress(f"Checking ({action.verb})", total=len(left.items)) as advance:
            decisions = batch.preview(store, left, app.clock(), advance)
        _write_backup(app, decisions, backup)
    with batch.gc_paused():
        _run(app, job, action, fmt, resumed=True)
