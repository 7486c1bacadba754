"""``subctl audit``: the audit log of the workspace (every change, who, what, before/after)."""

from __future__ import annotations

import re
from typing import Annotated

import typer

from subctl.commands._options import MAX_ID, FormatOpt
from subctl.context import AppContext
from subctl.errors import UsageError
from subctl.export import Column
from subctl.output import Format

COLUMNS = [
    Column("id", "ID"),
    Column("at", "At"),
    Column("actor", "Actor"),
    Column("db_user", "DB user"),
    Column("profile", "Profile"),
    Column("verb", "Verb"),
    Column("subscription_id", "Subscription"),
    Column("target", "Target"),
    Column("job_id", "Job"),
    Column("arguments", "Arguments"),
    Column("before", "Before"),
    Column("after", "After"),
]
_AGO = re.compile(r"\d+[hdwmy]")  # "7d": seven days ago, as in `--since 7d`


def audit(
    ctx: typer.Context,
    since: Annotated[
        str | None,
        typer.Option("--since", metavar="WHEN", help="Changes at or after WHEN (7d, 2027-01-01)."),
    ] = None,
    sub_id: Annotated[
        int | None,
        typer.Option("--id", metavar="ID", min=1, max=MAX_ID, help="Of one subscription."),
    ] = None,
    actor: Annotated[
        str | None, typer.Option("--actor", metavar="NAME", help="Made by this actor.")
    ] = None,
    verb: Annotated[
        str | None, typer.Option("--verb", metavar="VERB", help="Of one verb (cancel, update).")
    ] = None,
    fmt: FormatOpt = Format.AUTO,
) -> None:
    """The audit log: every change with its time, actor, profile, verb, arguments and the
    values before and after, oldest first (streamed). Kept for deleted subscriptions.

    Example: subctl audit --since 7d --verb cancel --format csv
    """
    from subctl.commands.billing import parse_when
    from subctl.services import access
    from subctl.store.base import AuditFilter

    app = AppContext.from_typer(ctx)
    when = None
    if since is not None:
        text = since.strip()
        try:
            when = parse_when("-" + text if _AGO.fullmatch(text) else text, app, "--since")
        except UsageError:  # its message shows the "-" put before an age: say what was typed
            raise UsageError(
                f'--since: "{since}" is neither an age nor a date or time',
                hint="an age (12h, 7d, 2w, 3m, 1y), a date (2027-01-01) or a time "
                "(2027-01-01T12:00:00Z)",
            ) from None
    where = AuditFilter(when, sub_id, actor, verb)
    rows = access.audit_rows(app.workspace(), where)
    app.out.rows(rows, COLUMNS, fmt, empty="No audit entries.", page=True)


def register(app: typer.Typer) -> None:
    app.command("audit")(audit)
