"""``subctl billing``: the billing run of the local workspace (``run``), its log (``log``) and
its settings (``settings``, ``set``); the run's report is shared with ``subctl clock``. The
rules are in ``subctl.services.billing``."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Iterable, Iterator
from typing import TYPE_CHECKING, Annotated, Any

import typer

from subctl.commands._options import LOG_LIMIT, MAX_ID, FormatOpt, LogAllOpt, LogLimitOpt
from subctl.context import AppContext
from subctl.errors import UsageError
from subctl.export import Column
from subctl.output import Format

if TYPE_CHECKING:
    from subctl.services.billing import RunSummary
    from subctl.store.base import BillingEvent

billing_app = typer.Typer(
    name="billing",
    help="The billing run of the local workspace: run it, its log, its settings.\n\n"
    "Example: subctl billing log --since 7d",
    no_args_is_help=True,
)

SUMMARY_COLUMNS = [
    Column("kind", "Event"),
    Column("outcome", "Outcome"),
    Column("count", "Count"),
]
LOG_COLUMNS = [
    Column("id", "ID"),
    Column("day", "Day"),
    Column("subscription_id", "Subscription"),
    Column("kind", "Event"),
    Column("outcome", "Outcome"),
    Column("amount", "Amount"),
    Column("currency", "Currency"),
    Column("old_status", "Old status"),
    Column("new_status", "New status"),
    Column("payment_id", "Payment"),
    Column("job_id", "Job"),
    Column("note", "Note"),
]
# A terminal's table, which fits 80 columns with what matters: the event and its outcome in one
# cell ("renewal ✓"), the amount with its currency, the status as "old → new" (one word when it
# did not change) and the note wrapping onto a second line. Payment, job and the event's id
# follow when the terminal is wider; on a narrower one they are named as left out to fit.
# json, ndjson and csv keep every field of LOG_COLUMNS apart.
LOG_TABLE_COLUMNS = [
    Column("day", "Day"),
    Column("subscription_id", "Sub"),
    Column("event", "Event"),
    Column("money", "Amount", right=True),
    Column("status", "Status"),
    Column("note", "Note", wrap=True),
    Column("payment_id", "Payment"),
    Column("job_id", "Job"),
    Column("id", "ID"),
]
# The outcome after the event's name, marked as gh marks runs: ✓ succeeded, ✗ failed, *
# processing (a bank payment not settled yet); none when the event names it (cancellation:
# canceled, expiry: expired, resume: resumed); any other outcome in words.
OUTCOME_MARKS = {"succeeded": "✓", "failed": "✗", "processing": "*"}
_OWN_OUTCOME = {"cancellation": "canceled", "expiry": "expired", "resume": "resumed"}
SETTINGS_COLUMNS = [
    Column("key", "Key"),
    Column("value", "Value"),
    Column("description", "Description"),
]


_AGO = re.compile(r"\d+[hdwmy]")  # "7d": seven days ago, as in `--since 7d`


def parse_since(text: str, app: AppContext) -> dt.datetime:
    """``--since WHEN`` of the logs (``billing log``, ``audit``): an age (``7d``: seven days
    before the workspace's time; ``12h``, ``2w``, ``3m``, ``1y``) or what ``parse_when`` reads
    (``-7d`` too)."""
    stripped = text.strip()
    try:
        return parse_when("-" + stripped if _AGO.fullmatch(stripped) else stripped, app, "--since")
    except UsageError:  # its message shows the "-" put before an age: say what was typed
        raise UsageError(
            f'--since: "{text}" is neither an age nor a date or time',
            hint="an age (12h, 7d, 2w, 3m, 1y), a date (2027-01-01) or a time "
            "(2027-01-01T12:00:00Z)",
        ) from None


def parse_when(text: str, app: AppContext, name: str) -> dt.datetime:
    """A time given as ``WHEN``: an ISO date (00:00 UTC) or datetime, ``now`` or an offset from
    the workspace's time (``-7d``, ``+1m``)."""
    from subctl import codec

    now = app.clock()
    try:
        return codec.parse_datetime(text, now.date(), now=now)
    except ValueError as exc:
        raise UsageError(
            f'{name}: "{text}" is not a date or time ({exc})',
            hint="e.g. 2027-03-01, 2027-03-01T12:00:00Z or +30d",
        ) from None


def _plural(n: int, word: str) -> str:
    from subctl.codec import plural

    return plural(n, word)


def _money(charged: dict[str, Any]) -> str:
    return ", ".join(f"{amount:,} {currency}" for currency, amount in sorted(charged.items()))


def summary_message(summary: RunSummary) -> str:
    """One line: what the run did (or would do)."""
    from subctl import codec

    result = summary.result
    until = codec.short_datetime(summary.until)
    if not summary.events:
        done = f"no billing events due up to {until}"
        return ("Dry run, nothing changed: " if summary.dry_run else "Billed: ") + done
    parts = [f"{_plural(summary.events, 'event')} over {_plural(summary.days, 'day')}"]
    if result.charged:
        parts.append(("would charge " if summary.dry_run else "charged ") + _money(result.charged))
    parts.append(_plural(result.emails, "e-mail"))
    text = "; ".join(parts)
    if summary.dry_run:
        return f"Dry run, nothing changed: up to {until}, {text}"
    return f"Billed up to {until} (job {summary.job_id}): {text}"


def summary_document(summary: RunSummary, **extra: Any) -> Any:
    """The run's report in every format: JSON the whole summary, CSV and tables its events per
    kind and outcome (the message on stderr says the amounts and e-mails)."""
    from subctl.output import Document, Pairs, Paragraph, Records
    from subctl.services.billing import KINDS

    result = summary.result
    order = {kind: i for i, kind in enumerate(KINDS)}
    rows = [
        {"kind": kind, "outcome": outcome, "count": n}
        for (kind, outcome), n in sorted(
            result.events.items(), key=lambda item: (order.get(item[0][0], 99), item[0][1])
        )
    ]
    data = {
        **extra,
        "until": summary.until,
        "dry_run": summary.dry_run,
        "job": summary.job_id,
        "days": summary.days,
        "events": rows,
        "charged": dict(sorted(result.charged.items())),
        "emails": result.emails,
    }
    blocks: list[Any] = []
    if rows:
        blocks.append(Records("Billing events", rows, SUMMARY_COLUMNS))
        if result.charged:
            amounts = [(c, f"{a:,}") for c, a in sorted(result.charged.items())]
            width = max(len(text) for _, text in amounts)  # right-aligned, as in a table
            blocks.append(Pairs("Charged", [(c, text.rjust(width)) for c, text in amounts]))
        blocks.append(Pairs("E-mails", [("to buyers (outbox)", f"{result.emails:,}")]))
    else:
        blocks.append(Paragraph("No billing events were due."))
    return Document(data, rows, SUMMARY_COLUMNS, blocks)


def run_billing(
    app: AppContext,
    until: dt.datetime,
    *,
    dry_run: bool,
    fmt: Format,
    start: dt.datetime,
    job_id: int | None = None,
    **extra: Any,
) -> None:
    """Run billing up to ``until`` (``services.billing.run``) with a progress bar on a terminal
    (days from ``start``), then its report: data on stdout, the summary line on stderr."""
    from subctl.errors import Aborted
    from subctl.services import billing as svc
    from subctl.store.base import DayResult

    out = app.out
    first = start.date()
    # From where the clock was, a bar of days; without one (billing run), a pulse.
    total = (until.date() - first).days if until.date() > first else None
    with out.progress(f"Billing up to {until.date()}", total) as advance:
        last = first

        def progress(day: dt.date, _result: DayResult) -> None:
            nonlocal last
            if day > last:
                advance((day - last).days)
                last = day

        try:
            summary = svc.run(app.billing(), app.workspace(), until, now=app.clock(),
                              dry_run=dry_run, progress=progress, job_id=job_id)  # fmt: skip
        except KeyboardInterrupt:
            if dry_run:
                raise Aborted("interrupted: nothing was changed") from None
            job = app.workspace().unfinished_job(svc.JOB_FINGERPRINT)
            resume = f" (or `subctl jobs resume {job.id}`)" if job is not None else ""
            raise Aborted(
                "interrupted: the days billed so far are kept",
                hint=f"`subctl billing run`{resume} finishes it; nothing is done twice",
            ) from None
    out.detail(summary_document(summary, **extra), fmt)
    out.success(summary_message(summary))


@billing_app.command("run")
def billing_run(
    ctx: typer.Context,
    until: Annotated[
        str | None,
        typer.Option(
            "--until",
            metavar="WHEN",
            help="Bill events due up to WHEN (default: the workspace's time, `subctl clock`).",
        ),
    ] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Show what billing would do; change nothing.")
    ] = False,
    fmt: FormatOpt = Format.AUTO,
) -> None:
    """Carry out every billing event due (renewals, retries, settlements, scheduled
    cancellations, expiries, resumptions), day by day, as a journaled job (`subctl jobs`):
    an interrupted run is finished by the next one, and nothing is done twice.

    Example: subctl billing run --dry-run
    """
    from subctl import codec

    app = AppContext.from_typer(ctx)
    app.refuse_remote("billing")
    now = app.clock()
    to = now if until is None else parse_when(until, app, "--until")
    if to > now:  # the hint's `clock set` would be refused past the clock's limit: say so
        from subctl.errors import InputError
        from subctl.services import billing as svc

        try:
            svc.check_clock_move(to, now)
        except InputError as exc:
            raise UsageError(f"--until: {exc.problem}", hint=exc.hint) from None
        raise UsageError(
            f"--until: {codec.short_datetime(to)} is after the workspace's time "
            f"({codec.short_datetime(now)})",
            hint=f"move the clock instead: `subctl clock set {until}`",
        )
    run_billing(app, to, dry_run=dry_run, fmt=fmt, start=to)


def warn_due(app: AppContext) -> None:
    """On stderr, when billing events are due and not carried out (``list``, ``view``): how
    many, and the command that carries them out. A handful of counts on partial indexes."""
    from subctl.services import billing as svc

    if app.remote:  # HubSpot bills by itself
        return
    count = sum(svc.due(app.billing(), app.workspace(), app.clock()).values())
    if count:
        app.out.message(f"{_plural(count, 'billing event')} due; run subctl billing run")


def event_row(event: BillingEvent) -> dict[str, Any]:
    return {
        "id": event.id,
        "day": event.at.date(),
        "subscription_id": event.subscription_id,
        "kind": event.kind,
        "outcome": event.outcome,
        "amount": event.amount,
        "currency": event.currency,
        "old_status": event.old_status,
        "new_status": event.new_status,
        "payment_id": event.payment_id,
        "job_id": event.job_id,
        "note": event.note,
    }


def log_table_row(row: dict[str, Any]) -> dict[str, Any]:
    """An ``event_row`` as ``LOG_TABLE_COLUMNS`` show it on a terminal."""
    kind, outcome = row["kind"], row["outcome"]
    if outcome is None or _OWN_OUTCOME.get(kind) == outcome:
        event = kind
    else:
        event = f"{kind} {OUTCOME_MARKS.get(outcome, outcome)}"
    old, new = row["old_status"], row["new_status"]
    status = old if old == new or new is None else new if old is None else f"{old} → {new}"
    money = None if row["amount"] is None else f"{row['amount']} {row['currency'] or ''}".strip()
    return {**row, "event": event, "money": money, "status": status}


def log_shape(app: AppContext, rows: Iterable[dict[str, Any]], fmt: Format) -> tuple[Any, Any]:
    """The log's rows and columns in ``fmt`` (``billing log``, ``jobs results`` of a run): a
    terminal's table shaped to fit (``LOG_TABLE_COLUMNS``), every field apart otherwise."""
    if app.out.resolve(fmt) is Format.TABLE:
        return map(log_table_row, rows), LOG_TABLE_COLUMNS
    return rows, LOG_COLUMNS


@billing_app.command("log")
def billing_log(
    ctx: typer.Context,
    since: Annotated[
        str | None,
        typer.Option(
            "--since",
            metavar="WHEN",
            help="Events due on or after the day of WHEN (7d: seven days ago; 2027-01-01).",
        ),
    ] = None,
    sub_id: Annotated[
        int | None,
        typer.Option("--id", metavar="ID", min=1, max=MAX_ID, help="Of one subscription."),
    ] = None,
    kind: Annotated[
        list[str] | None,
        typer.Option(
            "--kind",
            metavar="KIND",
            help="Only start, renewal, retry, settlement, cancellation, expiry or resume "
            "events; repeatable.",
        ),
    ] = None,
    job: Annotated[
        int | None,
        typer.Option("--job", metavar="N", min=1, max=MAX_ID, help="Of one billing run (job)."),
    ] = None,
    limit: LogLimitOpt = None,
    all_: LogAllOpt = False,
    fmt: FormatOpt = Format.AUTO,
) -> None:
    """The billing events carried out, oldest first (streamed).

    Example: subctl billing log --since 30d --kind renewal --kind retry --format csv
    """
    from subctl.services import billing as svc
    from subctl.services import billing_log

    app = AppContext.from_typer(ctx)
    app.refuse_remote("billing")
    when = None
    if since is not None:  # events are due on days: from the day WHEN falls on (UTC)
        moment = parse_since(since, app).astimezone(dt.UTC)
        when = moment.replace(hour=0, minute=0, second=0, microsecond=0)
    kinds = [k.strip().lower() for part in kind or () for k in part.split(",") if k.strip()]
    filters: dict[str, Any] = {"since": when, "sub_id": sub_id, "kinds": kinds, "job_id": job}
    events = svc.log(app.billing(), **filters, workspace=app.workspace(), records=app.records())
    show_log(app, events, fmt, limit=limit, all_=all_,
             count=lambda: billing_log.count(app.billing(), **filters))  # fmt: skip


def show_log(
    app: AppContext,
    events: Iterator[BillingEvent],
    fmt: Format,
    *,
    limit: int | None,
    all_: bool,
    count: Callable[[], int],
) -> None:
    """A page of the billing log (``billing log``, ``jobs results`` of a billing run): the
    first ``limit`` events, or ``LOG_LIMIT`` on a terminal, or every event with ``--all`` or
    into a pipe. When the page is full, a footer says how many events match in all: ``count``,
    one COUNT(*) of the store with the same filters (the rest of the log is never read)."""
    import itertools

    if limit is not None and all_:
        raise UsageError(
            "--all and --limit cannot be combined",
            hint="--all lists every event, --limit N the first N",
        )
    shown = limit if limit is not None else None if all_ or not app.out.is_tty else LOG_LIMIT
    rows: Any = map(event_row, events)
    footer = None
    if shown is not None:
        rows = itertools.islice(rows, shown)

        def footer(n: int) -> str | None:
            if n < shown:
                return None
            total = count()
            if total <= n:
                return None
            return f"Showing {n:,} of {total:,} billing events; use --all or --limit"

    rows, columns = log_shape(app, rows, fmt)
    app.out.rows(rows, columns, fmt, empty="No billing events.", page=shown is None,
                 footer=footer)  # fmt: skip


@billing_app.command("settings")
def billing_settings(ctx: typer.Context, fmt: FormatOpt = Format.AUTO) -> None:
    """The billing settings of the workspace (retries, bank settlement, after the last retry).

    Example: subctl billing settings
    """
    from subctl.services import billing as svc

    app = AppContext.from_typer(ctx)
    app.refuse_remote("billing")
    rows = [
        {"key": key, "value": value, "description": text}
        for key, value, text in svc.settings(app.workspace())
    ]
    app.out.rows(rows, SETTINGS_COLUMNS, fmt, empty="")


@billing_app.command("set")
def billing_set(
    ctx: typer.Context,
    key: Annotated[
        str, typer.Argument(metavar="KEY", help="A setting (`subctl billing settings`).")
    ],
    value: Annotated[str, typer.Argument(metavar="VALUE", help="Its new value.")],
    fmt: FormatOpt = Format.AUTO,
) -> None:
    """Change a billing setting.

    Example: subctl billing set billing.retry_days 3,5,7
    """
    from subctl.errors import InputError
    from subctl.output import Document
    from subctl.services import billing as svc

    app = AppContext.from_typer(ctx)
    app.refuse_remote("billing")
    try:
        stored = svc.set_setting(app.workspace(), key, value)
    except InputError as exc:
        message = exc.problem if exc.input == "key" else f"{exc.input}: {exc.problem}"
        raise UsageError(message, hint="`subctl billing settings` lists them") from None
    row = {"key": key, "value": stored}
    doc = Document(row, [row], SETTINGS_COLUMNS[:2])
    app.out.result(doc, fmt, f"{key} = {stored}")


def register(app: typer.Typer) -> None:
    app.add_typer(billing_app, name="billing")
