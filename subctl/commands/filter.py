"""``filter`` (query subscriptions, optionally saving the query as a view) and the ``views``
group."""

from typing import Annotated

import typer

from subctl.commands._options import (
    AllOpt,
    FieldsOpt,
    FormatOpt,
    LimitOpt,
    ShowSensitiveOpt,
    SortOpt,
    WhereOpt,
    YesOpt,
    effective_format,
    effective_limit,
    remember_group_format,
)
from subctl.commands.subscriptions import show_listing
from subctl.context import AppContext
from subctl.errors import UsageError
from subctl.export import Column
from subctl.output import Document, Format

ViewNameArg = Annotated[str, typer.Argument(metavar="NAME", help="View name.")]


def subscription_filter(
    ctx: typer.Context,
    where: WhereOpt = None,
    save_view: Annotated[
        str | None,
        typer.Option("--save-view", metavar="NAME", help="Save the query as a view named NAME."),
    ] = None,
    columns: Annotated[
        str | None,
        typer.Option(
            "--columns", metavar="A,B,C", help="With --save-view: the view's column order."
        ),
    ] = None,
    sort: SortOpt = None,
    limit: LimitOpt = None,
    all_: AllOpt = False,
    fmt: FormatOpt = Format.AUTO,
    fields: FieldsOpt = None,
    show_sensitive: ShowSensitiveOpt = False,
    yes: YesOpt = False,
) -> None:
    """Filter subscriptions with the query language; optionally save the query as a view.

    Operators: = != < <= > >= between, in (…), not in (…), ~ (contains word, * wildcard),
    !~, has FIELD, not has FIELD; combine with and, or, not and parentheses. Dates take
    YYYY-MM-DD, today, or offsets like -60d, +7d, -3m. Without --where on a terminal, an
    interactive builder asks for the conditions.

    --save-view asks before replacing a saved view of that name (off a terminal: pass --yes).

    Example: subctl filter --where 'status = canceled and canceled_at > -60d' --save-view reengage
    """
    from subctl.services import subscriptions as svc
    from subctl.services import views

    app = AppContext.from_typer(ctx)
    records, workspace = app.records(), app.workspace()
    if where is None:
        asked = save_view is None
        if not app.can_prompt:
            raise UsageError(
                "--where is required off a terminal",
                hint="e.g. subctl filter --where 'status = unpaid and mrr > 100'",
            )
        from subctl.commands._builder import build_query

        where, save_view = build_query(
            records.properties(),
            app.out,
            app.prompter,
            save_view,
            today=app.today(),
            check_view_name=lambda name: views.check_name(workspace, name),
        )
        if asked and save_view is not None:  # saving chosen in the builder: edit, as the option
            app.require("filter", {"save_view": save_view})
    if save_view is not None:
        plan = views.plan_view(
            records,
            workspace,
            save_view,
            where=where,
            columns=columns,
            sort=sort,
            today=app.today(),
        )
        if plan.replaces is not None:
            app.confirm(f'Replace the saved view "{save_view}"?', yes=yes)
        views.save_view(workspace, plan)
        app.out.success(f'Saved view "{save_view}"; use it with: subctl list --view {save_view}')
    request = svc.ListRequest(
        where=where,
        sort=sort,
        limit=effective_limit(limit, all_, terminal=app.out.is_tty),
        fields=fields or columns or ("id" if fmt is Format.IDS else None),
        show_sensitive=show_sensitive,
    )
    listing = svc.build_listing(records, workspace, request, app.today(), app.clock())
    show_listing(app, records, listing, fmt)


views_app = typer.Typer(
    name="views",
    help="Saved views: named queries with a column order and a sort.\n\n"
    "Example: subctl views show unpaid",
    no_args_is_help=False,
    invoke_without_command=True,
)

VIEW_COLUMNS = [
    Column("name", "Name"),
    Column("query", "Query"),
    Column("columns", "Columns"),
    Column("sort", "Sort"),
    Column("builtin", "Built in"),
]


@views_app.callback()
def views_default(ctx: typer.Context, fmt: FormatOpt = Format.AUTO) -> None:
    """Saved views: named queries with a column order and a sort (default: list them).

    Example: subctl views --format json
    """
    remember_group_format(ctx, fmt)
    if ctx.invoked_subcommand is None:
        views_list(ctx, fmt)


@views_app.command("list")
def views_list(ctx: typer.Context, fmt: FormatOpt = Format.AUTO) -> None:
    """List saved views, the built-in ones included.

    Example: subctl views list --format csv
    """
    from subctl.services import views

    fmt = effective_format(ctx, fmt)
    app = AppContext.from_typer(ctx)
    app.out.rows(
        views.view_rows(app.records(), app.workspace()), VIEW_COLUMNS, fmt, empty="No views."
    )


@views_app.command("show")
def views_show(ctx: typer.Context, name: ViewNameArg, fmt: FormatOpt = Format.AUTO) -> None:
    """Show one saved view.

    Example: subctl views show reengage
    """
    from subctl.services import views

    fmt = effective_format(ctx, fmt)
    app = AppContext.from_typer(ctx)
    row = views.view_rows(app.records(), app.workspace(), name)[0]
    app.out.detail(Document(row, [row], VIEW_COLUMNS), fmt)


@views_app.command("delete")
def views_delete(ctx: typer.Context, name: ViewNameArg, yes: YesOpt = False) -> None:
    """Delete a saved view (the built-in unpaid and scheduled views cannot be deleted).

    Example: subctl views delete reengage --yes
    """
    from subctl.services import views

    app = AppContext.from_typer(ctx)
    workspace = app.workspace()
    if workspace.get_view(name).builtin:
        views.delete_view(workspace, name)  # raises: built-in views stay
    app.confirm(f'Delete view "{name}"?', yes=yes)
    views.delete_view(workspace, name)
    app.out.success(f'Deleted view "{name}"')


def register(app: typer.Typer) -> None:
    app.command("filter")(subscription_filter)
    app.add_typer(views_app)
