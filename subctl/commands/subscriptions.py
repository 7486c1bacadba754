"""Top-level verbs on subscriptions: ``list`` and ``view``."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from subctl.commands._options import (
    MAX_ID,
    AllOpt,
    FieldsOpt,
    FormatOpt,
    LimitOpt,
    SegmentOpt,
    ShowSensitiveOpt,
    SortOpt,
    SubIdArg,
    ViewOpt,
    WhereOpt,
    effective_limit,
)
from subctl.commands.billing import warn_due
from subctl.context import AppContext
from subctl.export import Column
from subctl.output import Format

if TYPE_CHECKING:
    from subctl.services.subscriptions import Listing
    from subctl.store.base import RecordStore


def subscription_list(
    ctx: typer.Context,
    status: Annotated[
        list[str] | None,
        typer.Option(
            "--status", "-s", metavar="STATUS", help="Status (label or value); repeatable."
        ),
    ] = None,
    due_before: Annotated[
        str | None,
        typer.Option(metavar="DATE", help="Next payment due before DATE (2026-12-01, +7d, today)."),
    ] = None,
    due_after: Annotated[
        str | None, typer.Option(metavar="DATE", help="Next payment due after DATE.")
    ] = None,
    due_within: Annotated[
        str | None, typer.Option(metavar="7d", help="Next payment due between today and +N days.")
    ] = None,
    contact: Annotated[
        int | None,
        typer.Option(metavar="ID", min=1, max=MAX_ID, help="Associated with this contact."),
    ] = None,
    company: Annotated[
        int | None,
        typer.Option(metavar="ID", min=1, max=MAX_ID, help="Associated with this company."),
    ] = None,
    deal: Annotated[
        int | None, typer.Option(metavar="ID", min=1, max=MAX_ID, help="Associated with this deal.")
    ] = None,
    payment: Annotated[
        int | None,
        typer.Option(metavar="ID", min=1, max=MAX_ID, help="Associated with this payment."),
    ] = None,
    where: WhereOpt = None,
    view: ViewOpt = None,
    segment: SegmentOpt = None,
    sort: SortOpt = None,
    limit: LimitOpt = None,
    all_: AllOpt = False,
    fmt: FormatOpt = Format.AUTO,
    fields: FieldsOpt = None,
    show_sensitive: ShowSensitiveOpt = False,
) -> None:
    """List subscriptions.

    Example: subctl list --status active --due-within 7d --sort mrr:desc
    """
    from subctl.services import subscriptions as svc

    app = AppContext.from_typer(ctx)
    records = app.records()
    associated = {
        name: value
        for name, value in (("contact", contact), ("company", company), ("deal", deal),
                            ("payment", payment))
        if value is not None
    }  # fmt: skip
    request = svc.ListRequest(
        statuses=status or (),
        due_before=due_before,
        due_after=due_after,
        due_within=due_within,
        associated=associated,
        where=where,
        view=view,
        segment=segment,
        sort=sort,
        limit=effective_limit(limit, all_, terminal=app.out.is_tty),
        fields=fields or ("id" if fmt is Format.IDS else None),  # ids only: fetch only ids
        show_sensitive=show_sensitive,
    )
    listing = svc.build_listing(records, app.workspace(), request, app.today(), app.clock())
    show_listing(app, records, listing, fmt)


def show_listing(app: AppContext, records: RecordStore, listing: Listing, fmt: Format) -> None:
    """The rows of a listing (``list``, ``filter``); a cut result says how many matched."""
    from subctl.services import subscriptions as svc

    def cut(shown: int) -> str | None:
        total = svc.total_if_cut(records, listing, shown)
        if total is None:
            return None
        return f"Showing {shown:,} of {total:,} subscriptions; use --all or --limit"

    # Data formats read stored values and convert each cell once (as exports do).
    data = app.out.resolve(fmt) in (Format.CSV, Format.JSON, Format.NDJSON)
    app.out.rows(
        svc.stored_rows(records, listing) if data else svc.list_rows(records, listing),
        listing.columns,
        fmt,
        page=listing.query.limit is None,
        footer=cut,
    )
    warn_due(app)


def subscription_view(
    ctx: typer.Context,
    sub_id: SubIdArg,
    fmt: FormatOpt = Format.AUTO,
    show_sensitive: ShowSensitiveOpt = False,
) -> None:
    """Show one subscription: every property, status, associations, payments and history.

    Example: subctl view 42 --format json
    """
    from subctl.services import subscriptions as svc

    app = AppContext.from_typer(ctx)
    records, workspace = app.records(), app.workspace()
    if show_sensitive:
        from subctl.services.properties import require_sensitive_access

        require_sensitive_access(workspace)
    detail = svc.detail(records, workspace, sub_id)
    document = svc.detail_document(detail, records.properties(), show_sensitive=show_sensitive)
    from subctl.commands._render import detail_blocks
    from subctl.output import Document

    pairs = [{"property": k, "value": v} for k, v in document["properties"].items()]
    columns = [Column("property", "Property"), Column("value", "Value")]
    blocks = detail_blocks(document, records.properties())
    app.out.detail(Document(document, pairs, columns, blocks), fmt)
    warn_due(app)


def register(app: typer.Typer) -> None:
    app.command("list")(subscription_list)
    app.command("view")(subscription_view)
