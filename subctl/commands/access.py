"""``subctl access``: who may do what on a team workspace (PostgreSQL); the rules are in
``subctl.services.access``."""

from __future__ import annotations

from typing import Annotated

import typer

from subctl.commands._options import FormatOpt
from subctl.context import AppContext
from subctl.export import Column
from subctl.output import Format

access_app = typer.Typer(
    name="access",
    help="Permissions on a team workspace, per database user (granted by an admin).\n\n"
    "Example: subctl access grant ci_bot view export",
    no_args_is_help=True,
)

UserArg = Annotated[str, typer.Argument(metavar="USER", help="A database role (login name).")]
PermsArg = Annotated[
    list[str] | None,
    typer.Argument(
        metavar="PERMISSION",
        help="view, edit, delete, export, properties, sensitive_data or admin.",
        show_default=False,
    ),
]
LIST_COLUMNS = [Column("user", "User"), Column("permissions", "Permissions"),
                Column("granted_by", "Granted by")]  # fmt: skip


def _names(perms: list[str] | None) -> list[str]:
    return [p.strip().lower() for part in perms or () for p in part.split(",") if p.strip()]


@access_app.command("grant")
def access_grant(ctx: typer.Context, user: UserArg, perms: PermsArg = None) -> None:
    """Grant permissions to a database user (an admin grants only what they hold).

    Example: subctl access grant ci_bot view export
    """
    from subctl.services import access

    app = AppContext.from_typer(ctx)
    workspace = app.workspace()
    new = access.grant(workspace, user, _names(perms), app.clock(), app.audit_context())
    shown = ", ".join(new) if new else "nothing new"
    app.out.success(f"Granted {user}: {shown}")


@access_app.command("revoke")
def access_revoke(ctx: typer.Context, user: UserArg, perms: PermsArg = None) -> None:
    """Revoke permissions (none named: all) from a database user.

    Example: subctl access revoke ci_bot export
    """
    from subctl.services import access

    app = AppContext.from_typer(ctx)
    gone = access.revoke(app.workspace(), user, _names(perms), app.clock(), app.audit_context())
    shown = ", ".join(gone) if gone else "nothing (not held)"
    app.out.success(f"Revoked from {user}: {shown}")


@access_app.command("list")
def access_list(ctx: typer.Context, fmt: FormatOpt = Format.AUTO) -> None:
    """Who holds which permissions on this team workspace.

    Example: subctl access list --format csv
    """
    from subctl.services import access

    app = AppContext.from_typer(ctx)
    rows = [{"user": user, "permissions": ",".join(perms), "granted_by": by}
            for user, perms, by in access.grants_by_user(app.workspace())]  # fmt: skip
    app.out.rows(rows, LIST_COLUMNS, fmt, empty="No grants.")


def register(app: typer.Typer) -> None:
    app.add_typer(access_app, name="access")
