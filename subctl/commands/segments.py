"""``subctl segment``: named sets of subscriptions (dynamic, snapshot, manual) that feed every
verb through ``--segment NAME``; the rules are in ``subctl.services.segments``."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

import typer

from subctl.commands._options import (
    AllOpt,
    FieldsOpt,
    FormatOpt,
    FromFileOpt,
    IdsArg,
    LimitOpt,
    ShowSensitiveOpt,
    SortOpt,
    YesOpt,
    effective_format,
    effective_limit,
    remember_group_format,
)
from subctl.context import AppContext
from subctl.errors import UsageError
from subctl.export import Column
from subctl.output import Document, Format

if TYPE_CHECKING:
    import datetime as dt

    from subctl.store.base import SegmentRefresh

SegmentArg = Annotated[str, typer.Argument(metavar="NAME", help="Segment name.")]
DescriptionOpt = Annotated[
    str | None,
    typer.Option("--description", metavar="TEXT", help="What the segment is for."),
]
SegmentWhereOpt = Annotated[
    str | None,
    typer.Option(
        "--where",
        metavar="EXPR",
        help="The segment's query, e.g. 'status in (canceled, expired) and canceled_at > -60d'.",
    ),
]

segment_app = typer.Typer(
    name="segment",
    help="Segments: named sets of subscriptions (dynamic, snapshot or manual) for --segment.\n\n"
    "Example: subctl segment create reengage --where 'status = canceled and canceled_at > -60d'",
    invoke_without_command=True,
    no_args_is_help=False,
)

LIST_COLUMNS = [
    Column("name", "Name"),
    Column("kind", "Type"),
    Column("size", "Size"),
    Column("refreshed_at", "Last refresh"),
    Column("query", "Query"),
    Column("description", "Description"),
]
REFRESH_COLUMNS = [
    Column("segment", "Segment"),
    Column("at", "Refreshed"),
    Column("size", "Size"),
    Column("entered", "Entered"),
    Column("left", "Left"),
]
DIFF_COLUMNS = [Column("id", "ID"), Column("change", "Change")]


@segment_app.callback()
def segment_default(ctx: typer.Context, fmt: FormatOpt = Format.AUTO) -> None:
    """Segments: named sets of subscriptions (default: list them).

    Example: subctl segment --format json
    """
    remember_group_format(ctx, fmt)
    if ctx.invoked_subcommand is None:
        segment_list(ctx, fmt)


def _ids(ids: list[int] | None, from_file: str | None) -> list[int]:
    from subctl.services.batch import parse_id_file, read_source

    found = list(ids or ())
    if from_file is not None:
        import sys

        text, source = read_source(from_file, sys.stdin)
        found.extend(parse_id_file(text, source))
    return found


def _refresh_document(name: str, refresh: SegmentRefresh) -> Document:
    row = {"segment": name, "at": refresh.at, "size": refresh.size,
           "entered": refresh.entered, "left": refresh.left}  # fmt: skip
    return Document(row, [row], REFRESH_COLUMNS)


@segment_app.command("create")
def segment_create(
    ctx: typer.Context,
    name: SegmentArg,
    ids: IdsArg = None,
    where: SegmentWhereOpt = None,
    snapshot: Annotated[
        bool,
        typer.Option("--snapshot", help="Freeze the members the query matches now."),
    ] = False,
    manual: Annotated[
        bool,
        typer.Option("--manual", help="A hand-kept list: IDs, --from-file, segment add/remove."),
    ] = False,
    from_file: FromFileOpt = None,
    description: DescriptionOpt = None,
    fmt: FormatOpt = Format.AUTO,
) -> None:
    """Create a segment: dynamic (default: its query is evaluated on every read, relative
    dates against the workspace clock), --snapshot (the members matched now, frozen) or
    --manual (the IDs given). On a HubSpot profile the segment is a HubSpot list of that
    kind (DYNAMIC, SNAPSHOT, MANUAL) named after it.

    Example: subctl segment create reengage
        --where 'status in (canceled, expired) and canceled_at > -60d'
    """
    from subctl.services import segments as svc

    if snapshot and manual:
        raise UsageError("--snapshot and --manual cannot be combined")
    kind = "snapshot" if snapshot else "manual" if manual else "dynamic"
    fmt = effective_format(ctx, fmt)
    if (ids or from_file is not None) and kind != "manual":
        raise UsageError("IDs and --from-file make a --manual segment", hint="add --manual")
    app = AppContext.from_typer(ctx)
    segment, refresh = svc.create(
        app.records(), app.workspace(), name, kind=kind, where=where,
        description=description or "", ids=_ids(ids, from_file), now=app.clock(),
    )  # fmt: skip
    app.out.result(
        _refresh_document(name, refresh),
        fmt,
        f'Created {kind} segment "{name}" ({refresh.size:,} members); '
        f"use it with: subctl list --segment {name}",
    )


@segment_app.command("list")
def segment_list(ctx: typer.Context, fmt: FormatOpt = Format.AUTO) -> None:
    """List segments: name, type, size now, last refresh.

    Example: subctl segment list --format csv
    """
    from subctl.services import segments as svc

    fmt = effective_format(ctx, fmt)
    app = AppContext.from_typer(ctx)
    rows = svc.segment_rows(app.records(), app.workspace(), app.today(), app.clock())
    app.out.rows(rows, LIST_COLUMNS, fmt, empty="No segments.")


@segment_app.command("show")
def segment_show(
    ctx: typer.Context,
    name: SegmentArg,
    as_list: Annotated[
        bool,
        typer.Option(
            "--as-list",
            help="Print only the HubSpot Lists API request (POST /crm/v3/lists); a query it "
            "cannot express is an error (exit 2).",
        ),
    ] = False,
    fmt: FormatOpt = Format.AUTO,
) -> None:
    """Show a segment: its query, size, refreshes, and its definition as a HubSpot Lists API
    request (filterBranch; with --format json).

    Example: subctl segment show reengage --as-list
    """
    from subctl.services import segments as svc

    fmt = effective_format(ctx, fmt)
    app = AppContext.from_typer(ctx)
    if as_list:
        request = svc.lists_request(app.records(), app.workspace(), name, app.today())
        app.out.document(request)
        return
    doc = svc.segment_document(app.records(), app.workspace(), name, app.today(), app.clock())
    row = {k: doc[k] for k in ("name", "kind", "size", "refreshed_at", "query", "description")}
    app.out.detail(Document(doc, [row], LIST_COLUMNS), fmt)


@segment_app.command("members")
def segment_members(
    ctx: typer.Context,
    name: SegmentArg,
    sort: SortOpt = None,
    limit: LimitOpt = None,
    all_: AllOpt = False,
    fmt: FormatOpt = Format.AUTO,
    fields: FieldsOpt = None,
    show_sensitive: ShowSensitiveOpt = False,
) -> None:
    """List a segment's members now (a dynamic segment evaluates its query).

    Example: subctl segment members reengage --format ids | subctl cancel --from-file - --dry-run
    """
    from subctl.commands.subscriptions import show_listing
    from subctl.services import subscriptions as svc

    fmt = effective_format(ctx, fmt)
    app = AppContext.from_typer(ctx)
    records = app.records()
    request = svc.ListRequest(
        segment=name,
        sort=sort,
        limit=effective_limit(limit, all_, terminal=app.out.is_tty),
        fields=fields or ("id" if fmt is Format.IDS else None),
        show_sensitive=show_sensitive,
    )
    listing = svc.build_listing(records, app.workspace(), request, app.today(), app.clock())
    show_listing(app, records, listing, fmt)


@segment_app.command("refresh")
def segment_refresh(ctx: typer.Context, name: SegmentArg, fmt: FormatOpt = Format.AUTO) -> None:
    """Store the current members as the last refresh (what segment diff compares with); a
    snapshot takes its query's matches again.

    Example: subctl segment refresh reengage
    """
    from subctl.services import segments as svc

    fmt = effective_format(ctx, fmt)
    app = AppContext.from_typer(ctx)
    refresh = svc.refresh(app.records(), app.workspace(), name, now=app.clock())
    app.out.result(
        _refresh_document(name, refresh),
        fmt,
        f'Refreshed "{name}": {refresh.size:,} members, {refresh.entered:,} entered, '
        f"{refresh.left:,} left",
    )


@segment_app.command("edit")
def segment_edit(
    ctx: typer.Context,
    name: SegmentArg,
    where: SegmentWhereOpt = None,
    description: DescriptionOpt = None,
) -> None:
    """Change a segment's query or description (a snapshot takes the new query's matches).

    Example: subctl segment edit reengage --where 'status = canceled and canceled_at > -90d'
    """
    from subctl.services import segments as svc

    app = AppContext.from_typer(ctx)
    svc.edit(app.records(), app.workspace(), name, where=where, description=description,
             now=app.clock())  # fmt: skip
    app.out.success(f'Changed segment "{name}"')


@segment_app.command("delete")
def segment_delete(ctx: typer.Context, name: SegmentArg, yes: YesOpt = False) -> None:
    """Delete a segment (asks first; names the jobs that were run on it).

    Example: subctl segment delete reengage --yes
    """
    from subctl.services import segments as svc

    app = AppContext.from_typer(ctx)
    workspace = app.workspace()
    workspace.get_segment(name)  # not found: exit 3 before asking
    jobs = svc.references(workspace, name)
    question = f'Delete segment "{name}"?'
    if jobs:
        listed = ", ".join(f"{job_id} ({status})" for job_id, status in jobs)
        question = f'Delete segment "{name}"? Jobs run on it: {listed}'
        app.out.warn(f"jobs run with --segment {name}: {listed}; their items stay journaled")
    app.confirm(question, yes=yes)
    svc.delete(app.records(), workspace, name)
    app.out.success(f'Deleted segment "{name}"')


def _change(ctx: typer.Context, name: str, ids: list[int] | None, from_file: str | None,
            adding: bool) -> None:  # fmt: skip
    from subctl.services import segments as svc

    app = AppContext.from_typer(ctx)
    given = _ids(ids, from_file)
    if not given:
        raise UsageError("no IDs given", hint=f"e.g. subctl segment add {name} 42 43")
    records, workspace = app.records(), app.workspace()
    audit = app.remote_audit() if app.remote else None  # local: in the workspace's transaction
    if adding:
        changed = svc.change_members(records, workspace, name, add=given, audit=audit)
        app.out.success(f'Added {changed:,} of {len(given):,} to "{name}"')
    else:
        changed = svc.change_members(records, workspace, name, remove=given, audit=audit)
        app.out.success(f'Removed {changed:,} of {len(given):,} from "{name}"')


@segment_app.command("add")
def segment_add(
    ctx: typer.Context, name: SegmentArg, ids: IdsArg = None, from_file: FromFileOpt = None
) -> None:
    """Add subscriptions to a manual segment (IDs, or --from-file FILE; - reads stdin).

    Example: subctl list --where 'mrr > 500' --format ids | subctl segment add vip --from-file -
    """
    _change(ctx, name, ids, from_file, adding=True)


@segment_app.command("remove")
def segment_remove(
    ctx: typer.Context, name: SegmentArg, ids: IdsArg = None, from_file: FromFileOpt = None
) -> None:
    """Remove subscriptions from a manual segment.

    Example: subctl segment remove vip 42
    """
    _change(ctx, name, ids, from_file, adding=False)


def _since(text: str, app: AppContext) -> dt.datetime:
    """``--since``: a day means its end (the refreshes of that day count); a time of day
    (ISO 8601 with ``:``) that instant."""
    import datetime as dt

    from subctl.codec import ValueParseError, parse_date, parse_datetime

    today = app.today()
    try:
        if ":" not in text:  # a day (2026-12-01, today, -7d)
            day = parse_date(text, today)
            start = dt.datetime(day.year, day.month, day.day, tzinfo=dt.UTC)
            return start + dt.timedelta(days=1, milliseconds=-1)
        return parse_datetime(text, today, now=app.clock())
    except ValueParseError as exc:
        raise UsageError(f"--since: {exc}") from exc


@segment_app.command("diff")
def segment_diff(
    ctx: typer.Context,
    name: SegmentArg,
    since_refresh: Annotated[
        bool, typer.Option("--since-refresh", help="Since the last refresh (the default).")
    ] = False,
    since: Annotated[
        str | None,
        typer.Option(
            "--since",
            metavar="DATE",
            help="Since the refresh in force at DATE (a day: its end); from the first refresh on.",
        ),
    ] = None,
    fmt: FormatOpt = Format.AUTO,
) -> None:
    """Who entered and who left the segment since its last refresh (or --since DATE): what a
    workflow triggers on. Refresh afterwards to start the next period.

    Example: subctl segment diff payment-due --format json
    """
    from subctl.services import segments as svc

    if since_refresh and since is not None:
        raise UsageError("--since-refresh and --since cannot be combined")
    fmt = effective_format(ctx, fmt)
    app = AppContext.from_typer(ctx)
    moment = _since(since, app) if since is not None else None
    result = svc.diff(app.records(), app.workspace(), name, since=moment, now=app.clock())
    when = result.since.at.strftime("%Y-%m-%d %H:%M")
    message = (
        f'"{name}" since {when}: {len(result.entered):,} entered, {len(result.left):,} left '
        f"({result.size:,} members now)"
    )
    resolved = app.out.resolve(fmt)
    if resolved in (Format.JSON, Format.NDJSON):
        app.out.document(svc.diff_document(result), compact=resolved is Format.NDJSON)
    else:
        rows: list[dict[str, Any]] = list(svc.diff_rows(result))
        app.out.rows(rows, DIFF_COLUMNS, fmt, empty="")
    app.out.message(message)


def register(app: typer.Typer) -> None:
    app.add_typer(segment_app)
