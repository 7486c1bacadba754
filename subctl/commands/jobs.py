"""``subctl jobs``: the journal of lifecycle batches: list them, show an item's outcome, resume
an interrupted one."""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING, Annotated, Any

import typer

from subctl.codec import plural
from subctl.commands._hints import line
from subctl.commands._options import (
    MAX_ID,
    FormatOpt,
    LogAllOpt,
    LogLimitOpt,
    YesOpt,
    effective_format,
    remember_group_format,
)
from subctl.context import AppContext
from subctl.export import Column
from subctl.output import Format

if TYPE_CHECKING:
    import datetime as dt

    from subctl.schema import PropertyRegistry
    from subctl.store.base import Job

JobArg = Annotated[
    int, typer.Argument(metavar="JOB", min=1, max=MAX_ID, help="Job ID (see `subctl jobs`).")
]

jobs_app = typer.Typer(
    name="jobs",
    help="Batches of lifecycle verbs, journaled: list, results, resume, abandon.\n\n"
    "Example: subctl jobs",
    invoke_without_command=True,
    no_args_is_help=False,
)

LIST_COLUMNS = [
    Column("id", "Job"),
    Column("command", "Command"),
    Column("selection", "Selection"),
    Column("status", "Status"),
    Column("total", "Total"),
    Column("ok", "OK"),
    Column("skipped", "Skipped"),
    Column("failed", "Failed"),
    Column("attention", "Attention"),
    Column("unprocessed", "Unprocessed"),
    Column("created_at", "Created"),
]
RESULT_COLUMNS = [
    Column("id", "ID"),
    Column("planned_status", "Status when planned"),
    Column("outcome", "Outcome"),
    Column("new_status", "New status"),
    Column("note", "Note"),
    Column("processed_at", "Processed"),
]
OUTCOMES = ("ok", "skipped", "failed", "attention", "unprocessed")


def _where_text(where: str, registry: PropertyRegistry, today: dt.date) -> str:
    """``--where EXPR`` as typed, unless it mentions a highly sensitive property (its literal
    could be a value of it) or no longer parses (it cannot be checked): then hidden."""
    from subctl.errors import UsageError
    from subctl.query.ast import fields_of
    from subctl.query.parser import parse
    from subctl.services.masking import masked_names

    hidden = "--where (hidden: mentions a highly sensitive property)"
    masked = masked_names(registry)
    try:
        mentioned = fields_of(parse(where, registry, today=today))
    except UsageError:
        return hidden
    return hidden if mentioned & masked else f"--where {where!r}"


def _selection_text(selection: dict[str, Any], registry: PropertyRegistry, today: dt.date) -> str:
    parts = []
    if selection.get("plan"):
        parts.append(f"--plan {selection['plan']}")  # whole: a table cuts it to fit, data never
    if selection.get("ids"):
        parts.append(f"{len(selection['ids'])} id(s)")
    if selection.get("from_file"):
        parts.append("--from-file")
    if selection.get("where"):
        parts.append(_where_text(str(selection["where"]), registry, today))
    if selection.get("view"):
        parts.append(f"--view {selection['view']}")
    if selection.get("segment"):
        parts.append(f"--segment {selection['segment']}")
    return " ".join(parts)


def _billing_command(job: Job) -> str:
    from subctl import codec
    from subctl.services.billing import run_until

    return f"billing run --until {codec.short_datetime(run_until(job.action))}"


def _list(ctx: typer.Context, fmt: Format) -> None:
    from subctl.services.billing import JOB_VERB
    from subctl.services.imports import VERB as IMPORT_VERB
    from subctl.services.lifecycle import Action

    app = AppContext.from_typer(ctx)
    registry = app.records().properties()

    def row(job: Job) -> dict[str, Any]:
        if job.verb == JOB_VERB:  # a billing run: its events are in `subctl billing log --job`
            # Its items are not journaled; its totals are the events it carried out (total),
            # those whose payment failed (failed) and the others (ok: charged, processing,
            # settled, canceled, resumed, expired). Skipped, attention and unprocessed do not
            # apply (null): a run skips nothing, and an interrupted one knows what is still
            # due only when it resumes.
            done = sum(job.events.values())
            failed = job.events.get("failed", 0)
            return {"id": job.id, "command": _billing_command(job),
                    "selection": "every subscription with an event due", "status": job.status,
                    "total": done, "ok": done - failed, "failed": failed,
                    "created_at": job.created_at}  # fmt: skip
        if job.verb == IMPORT_VERB:  # items: the file's data rows
            return {"id": job.id, "command": f"import {job.action.get('file')}",
                    "selection": f"{plural(job.total, 'row')} of the file", "status": job.status,
                    "total": job.total, **{k: job.counts.get(k, 0) for k in OUTCOMES},
                    "created_at": job.created_at}  # fmt: skip
        return {
            "id": job.id,
            "command": line(Action.from_json(job.action).command(registry)),
            "selection": _selection_text(job.selection, registry, app.today()),
            "status": job.status,
            "total": job.total,
            **{k: job.counts.get(k, 0) for k in OUTCOMES},
            "created_at": job.created_at,
        }

    rows = [row(job) for job in app.workspace().jobs()]
    app.out.rows(rows, LIST_COLUMNS, fmt, empty="No jobs yet.")


@jobs_app.callback(invoke_without_command=True)
def jobs_main(ctx: typer.Context, fmt: FormatOpt = Format.AUTO) -> None:
    """Batches of lifecycle verbs, journaled: without a subcommand, list them.

    Example: subctl jobs --format json
    """
    remember_group_format(ctx, fmt)
    if ctx.invoked_subcommand is None:
        _list(ctx, fmt)


@jobs_app.command("list")
def jobs_list(ctx: typer.Context, fmt: FormatOpt = Format.AUTO) -> None:
    """List batches, newest first, with their outcome counts.

    Example: subctl jobs list --format csv
    """
    _list(ctx, effective_format(ctx, fmt))


@jobs_app.command("results")
def jobs_results(
    ctx: typer.Context,
    job_id: JobArg,
    outcome: Annotated[
        list[str] | None,
        typer.Option(
            "--outcome",
            metavar="OUTCOME",
            help="Only ok, skipped, failed, attention or unprocessed items; repeatable. Of a "
            "billing run: ok (all but failed), succeeded, processing, failed, canceled, expired "
            "or resumed events.",
        ),
    ] = None,
    limit: LogLimitOpt = None,
    all_: LogAllOpt = False,
    fmt: FormatOpt = Format.AUTO,
) -> None:
    """Each item of a batch: succeeded (ok), skipped, failed (with the reason), done but in need
    of attention (with the reason) or unprocessed. Of a billing run: its billing events, a
    page at a time like `subctl billing log` (--limit, --all).

    Example: subctl jobs results 1 --format csv > results.csv
    """
    from subctl.errors import UsageError
    from subctl.services.billing import JOB_VERB

    wanted = {o.strip().lower() for part in outcome or () for o in part.split(",") if o.strip()}
    app = AppContext.from_typer(ctx)
    workspace = app.workspace()
    if workspace.job(job_id).verb == JOB_VERB:  # NotFound
        from subctl.commands.billing import show_log
        from subctl.errors import InputError
        from subctl.services import billing as svc
        from subctl.services import billing_log

        try:
            outcomes = billing_log.event_outcomes(sorted(wanted))
        except InputError as exc:
            raise UsageError(f"--outcome: {exc.problem}") from None
        billing = app.billing()
        events = billing_log.with_outcomes(svc.log(billing, job_id=job_id), outcomes)
        total = functools.partial(billing_log.count, billing, job_id=job_id, outcomes=outcomes)
        show_log(app, events, fmt, limit=limit, all_=all_, count=total)
        return
    unknown = wanted - set(OUTCOMES)
    if unknown:
        raise UsageError(f'--outcome: "{sorted(unknown)[0]}" is not one of {", ".join(OUTCOMES)}')
    if limit is not None or all_:
        raise UsageError(
            "--limit and --all apply to a billing run's events",
            hint="a batch's items are listed whole; --outcome picks some",
        )
    rows = (
        {
            "id": item.subscription_id,
            "planned_status": item.planned_status,
            "outcome": item.outcome or "unprocessed",
            "new_status": item.new_status,
            "note": item.note,
            "processed_at": item.processed_at,
        }
        for item in workspace.job_items(job_id)
        if not wanted or (item.outcome or "unprocessed") in wanted
    )
    columns = RESULT_COLUMNS
    if workspace.job(job_id).verb == "import":  # its items are the file's rows, by line
        columns = [Column("id", "Line"), *RESULT_COLUMNS[2:]]
    app.out.rows(rows, columns, fmt, empty="No items.", page=True)


@jobs_app.command("resume")
def jobs_resume(
    ctx: typer.Context, job_id: JobArg, yes: YesOpt = False, fmt: FormatOpt = Format.AUTO
) -> None:
    """Finish an interrupted batch: only its unprocessed items, with its original options. An
    interrupted billing run runs again up to its time (nothing is done twice).

    Example: subctl jobs resume 1 --yes
    """
    from subctl.commands._batch import resume
    from subctl.services import billing as svc
    from subctl.services.access import NEEDS

    app = AppContext.from_typer(ctx)
    job = app.workspace().job(job_id)  # NotFound
    app.require(job.verb if job.verb in NEEDS else "jobs resume")  # what the job's verb needs
    if job.verb == "import":
        from subctl.commands.imports import resume_import

        resume_import(app, job, fmt)
        return
    if job.verb != svc.JOB_VERB:
        resume(app, job_id, yes=yes, fmt=fmt)
        return
    from subctl.commands.billing import run_billing
    from subctl.errors import InvalidState

    if job.status != "unfinished":
        raise InvalidState(f"job {job.id} is {job.status}; nothing left to resume")
    until = svc.run_until(job.action)
    run_billing(app, until, dry_run=False, fmt=fmt, start=min(app.clock(), until), job_id=job.id)


@jobs_app.command("abandon")
def jobs_abandon(
    ctx: typer.Context, job_id: JobArg, yes: YesOpt = False, fmt: FormatOpt = Format.AUTO
) -> None:
    """Give up an unfinished batch: its unprocessed items stay as they are, it is never
    resumed, and the same command starts a new batch. What it did stays done and journaled.

    Example: subctl jobs abandon 1 --yes
    """
    from subctl.output import Document
    from subctl.services.batch.workflow import abandon

    app = AppContext.from_typer(ctx)
    job = app.workspace().job(job_id)  # NotFound before asking
    app.confirm(
        f"Abandon job {job.id} ({plural(job.unprocessed, 'item')} left unprocessed)?", yes=yes
    )
    done = abandon(app.workspace(), job_id, app.clock())
    row = {"id": done.id, "status": done.status, "unprocessed": done.unprocessed}
    doc = Document(row, [row], [Column(k, k.capitalize()) for k in row])
    left = f"{plural(done.unprocessed, 'item')} left unprocessed"
    app.out.result(doc, fmt, f"Job {done.id} abandoned; {left}")


def register(app: typer.Typer) -> None:
    app.add_typer(jobs_app, name="jobs")
