"""``subctl clock``: the local workspace's time (a test clock, as Stripe's): show it, move it
forward (billing runs up to the new time, as ``subctl billing run``), or return to the system
clock. The rules are in ``subctl.services.billing``."""

from __future__ import annotations

import datetime as dt
import os
import re
from typing import Annotated, Any

import typer

from subctl.commands._options import FormatOpt, effective_format, remember_group_format
from subctl.context import LATEST, AppContext, real_clock
from subctl.errors import UsageError
from subctl.export import Column
from subctl.output import Format

clock_app = typer.Typer(
    name="clock",
    help="The workspace's time: show it, move it forward (billing runs), reset it.\n\n"
    "Example: subctl clock advance 30d",
    invoke_without_command=True,
    no_args_is_help=False,
)

DryRunOpt = Annotated[
    bool,
    typer.Option(
        "--dry-run", help="Show what billing would do up to that time; change nothing (clock too)."
    ),
]
_DURATION = re.compile(r"^\s*(\d+)\s*([hdwmy])\s*$", re.IGNORECASE)
_LATEST_TEXT = f"the latest time a workspace's clock can show ({LATEST.date()})"
_FORWARD = "`subctl clock` shows the workspace's time; pick a later one"


def after(now: dt.datetime, text: str) -> dt.datetime:
    """``now`` plus a duration: hours (``12h``), days (``30d``), weeks (``2w``), calendar
    months (``3m``: the same day of the month, clamped to short months) or years (``1y``)."""
    from subctl.codec import add_months

    match = _DURATION.match(text)
    if not match:
        raise UsageError(
            f'DURATION: "{text}" is not a duration like 30d, 2w, 12h or 3m (months)',
            hint=_FORWARD if text.strip().startswith("-") else None,
        )
    digits, unit = match.group(1), match.group(2).lower()
    n = int(digits) if len(digits) <= 12 else 10**12  # more is past LATEST whatever the unit
    if n == 0:
        raise UsageError(
            f'DURATION: "{text}" does not move the clock', hint="give a duration like 30d or 12h"
        )
    try:
        if unit in "hdw":
            key = {"h": "hours", "d": "days", "w": "weeks"}[unit]
            to = now + dt.timedelta(**{key: n})
        else:
            day = add_months(now.date(), n * (12 if unit == "y" else 1))
            to = dt.datetime.combine(day, now.timetz())
    except (OverflowError, ValueError):
        to = LATEST + dt.timedelta(days=1)
    if to > LATEST:
        raise UsageError(f'DURATION: "{text}" goes past {_LATEST_TEXT}')
    return to


def _source(app: AppContext) -> str:
    if os.environ.get("SUBCTL_NOW"):
        return "SUBCTL_NOW"
    return "set" if app.clock_setting() is not None else "system clock"


def _show(app: AppContext, fmt: Format) -> None:
    from subctl import codec
    from subctl.output import Document, Pairs, Paragraph
    from subctl.services import billing as svc

    app.workspace()  # a workspace must exist (its clock, its events)
    now = app.clock()
    source = _source(app)
    counts = {} if app.remote else svc.due(app.billing(), app.workspace(), now)
    due = {kind: counts[kind] for kind in svc.KINDS if counts.get(kind)}
    data: dict[str, Any] = {
        "time": now,
        "source": source,
        "set": app.clock_setting(),
        "system_time": real_clock(),
        "due": due,
        "due_total": sum(due.values()),
    }
    described = {
        "set": "set (`subctl clock reset` returns to the system clock)",
        "system clock": "the system clock",
        "SUBCTL_NOW": "SUBCTL_NOW (this command only)",
    }[source]
    pairs = [("Time", codec.short_datetime(now)), ("Source", described)]
    if source != "system clock":
        pairs.append(("System clock", codec.short_datetime(data["system_time"])))
    if source == "SUBCTL_NOW" and data["set"] is not None:
        pairs.append(("Workspace clock", codec.short_datetime(data["set"])))
    blocks: list[Any] = [Pairs("Clock", pairs)]
    if due:
        counts_shown = [(kind, f"{n:,}") for kind, n in due.items()]
        blocks.append(Pairs(f"Billing events due: {data['due_total']:,}", counts_shown))
        blocks.append(Paragraph("Run them with `subctl billing run`."))
    else:
        blocks.append(Paragraph("No billing events due."))
    rows = [{"field": k, "value": data[k]} for k in ("time", "source", "set", "system_time")]
    rows += [{"field": f"due.{kind}", "value": n} for kind, n in due.items()]
    rows.append({"field": "due_total", "value": data["due_total"]})
    columns = [Column("field", "Field"), Column("value", "Value")]
    app.out.detail(Document(data, rows, columns, blocks), fmt)


def _move(app: AppContext, to: dt.datetime, *, dry_run: bool, fmt: Format) -> None:
    """Move the clock to ``to`` (forward only) and bill up to it."""
    from subctl import codec
    from subctl.commands.billing import run_billing
    from subctl.errors import InputError
    from subctl.services import billing as svc

    app.refuse_remote("clock")
    current = app.clock()
    # SUBCTL_NOW may be behind the set clock: that one never moves back either
    floor = max(current, app.clock_setting() or current)
    try:
        svc.check_clock_move(to, floor)  # refused before anything is set or billed
        if not dry_run:
            svc.set_clock(app.workspace(), to, floor)
    except InputError as exc:
        raise UsageError(exc.problem, hint=exc.hint or _FORWARD) from None
    if not dry_run:
        app.clock_moved(to)
        app.out.message(
            f"Clock moved from {codec.short_datetime(current)} to {codec.short_datetime(to)}"
        )
    run_billing(app, to, dry_run=dry_run, fmt=fmt, start=current, clock=to, previous=current)


@clock_app.callback(invoke_without_command=True)
def clock_main(ctx: typer.Context, fmt: FormatOpt = Format.AUTO) -> None:
    """The workspace's time: without a subcommand, show it.

    Example: subctl clock --format json
    """
    remember_group_format(ctx, fmt)
    if ctx.invoked_subcommand is None:
        _show(AppContext.from_typer(ctx), fmt)


@clock_app.command("show")
def clock_show(ctx: typer.Context, fmt: FormatOpt = Format.AUTO) -> None:
    """The workspace's time, whether it is set or the system clock, and the billing events due.

    Example: subctl clock show
    """
    _show(AppContext.from_typer(ctx), effective_format(ctx, fmt))


@clock_app.command("advance")
def clock_advance(
    ctx: typer.Context,
    duration: Annotated[
        str,
        typer.Argument(
            metavar="DURATION", help="30d, 2w, 12h, 3m (calendar months) or 1y.", show_default=False
        ),
    ],
    dry_run: DryRunOpt = False,
    fmt: FormatOpt = Format.AUTO,
) -> None:
    """Move the workspace's clock forward and run billing up to the new time.

    Example: subctl clock advance 30d
    """
    app = AppContext.from_typer(ctx)
    to = after(app.clock(), duration)
    _move(app, to, dry_run=dry_run, fmt=effective_format(ctx, fmt))


@clock_app.command("set")
def clock_set(
    ctx: typer.Context,
    when: Annotated[
        str,
        typer.Argument(
            metavar="WHEN",
            help="An ISO date (00:00 UTC) or date and time, after the workspace's time.",
            show_default=False,
        ),
    ],
    dry_run: DryRunOpt = False,
    fmt: FormatOpt = Format.AUTO,
) -> None:
    """Set the workspace's clock to a later time and run billing up to it.

    Example: subctl clock set +1m
    """
    from subctl.commands.billing import parse_when

    app = AppContext.from_typer(ctx)
    to = parse_when(when, app, "WHEN")
    if to > LATEST:
        raise UsageError(f'WHEN: "{when}" is after {_LATEST_TEXT}')
    _move(app, to, dry_run=dry_run, fmt=effective_format(ctx, fmt))


@clock_app.command("reset")
def clock_reset(ctx: typer.Context, fmt: FormatOpt = Format.AUTO) -> None:
    """Return to the system clock (only when it has caught up with the workspace's time), and
    run billing up to it.

    Example: subctl clock reset
    """
    from subctl import codec
    from subctl.commands.billing import run_billing
    from subctl.services import billing as svc

    app = AppContext.from_typer(ctx)
    app.refuse_remote("clock")
    workspace = app.workspace()
    # The system clock itself: SUBCTL_NOW pins one command's time, and the workspace must not
    # follow a clock that is behind the events billing has already carried out.
    system_now = real_clock()
    set_clock = app.clock_setting()
    current = set_clock if set_clock is not None else system_now
    was_set = set_clock is not None
    svc.reset_clock(workspace, system_now)  # InvalidState (exit 5) when it is behind
    app.clock_moved(None)
    if not was_set:
        app.out.message("The workspace already follows the system clock.")
    else:
        app.out.message(f"Clock reset to the system clock ({codec.short_datetime(system_now)})")
    run_billing(app, system_now, dry_run=False, fmt=effective_format(ctx, fmt),
                start=min(current, system_now), clock=None, previous=current)  # fmt: skip


def register(app: typer.Typer) -> None:
    app.add_typer(clock_app, name="clock")
