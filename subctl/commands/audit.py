"""``subctl audit``: the audit log of the workspace (every change, who, what, before/after)."""

from __future__ import annotations

from typing import Annotated

import typer

from subctl.codec import JsonText
from subctl.commands._options import MAX_ID, FormatOpt
from subctl.commands._render import change_text
from subctl.context import AppContext
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
# arguments, before and after (``JsonText``): nested JSON values in json/ndjson, their compact
# JSON text in a CSV cell. A terminal's table: what changed, one line per entry, instead of
# three JSON columns that never fit.
TABLE_COLUMNS = [
    Column("id", "ID"),
    Column("at", "At (UTC)"),
    Column("actor", "Actor"),
    Column("verb", "Verb"),
    Column("subscription_id", "Sub"),
    Column("changes", "Changes"),
]


def _minute(at: object) -> object:
    """A table's time to the minute, in UTC (the other formats keep milliseconds)."""
    import datetime as dt

    if isinstance(at, dt.datetime):
        return at.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M")
    return at


def _changes(row: dict[str, object]) -> str:
    """``name: old → new`` for each value an entry's before/after (JSON objects) hold; a
    setting's (before/after a single value) as ``target: old → new``."""
    before, after = row["before"], row["after"]
    old = before.value() if isinstance(before, JsonText) else None
    new = after.value() if isinstance(after, JsonText) else None
    if not isinstance(old, dict) and not isinstance(new, dict) and (old, new) != (None, None):
        old, new = {str(row["target"]): old}, {str(row["target"]): new}
    old, new = (v if isinstance(v, dict) else {} for v in (old, new))
    changed = [
        f"{key}: {change_text(old.get(key))} → {change_text(new.get(key))}"
        for key in dict.fromkeys([*old, *new])
        if key not in _EVENT_KEYS and old.get(key) != new.get(key)
    ]
    if "event" in new:  # a billing event (``store.sql.audit``): what it was, then what changed
        event = f"{new['event']} {new.get('outcome') or ''}".strip()
        if new.get("amount") is not None:
            event += f" {new['amount']} {new.get('currency') or ''}".rstrip()
        changed.insert(0, f"{event} on {new.get('day')}")
    return "; ".join(changed)


# What a billing entry's ``after`` says of its event rather than of the subscription.
_EVENT_KEYS = frozenset(
    {"event", "day", "outcome", "amount", "currency", "payment", "billing_event", "note"}
)


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
    from subctl.commands.billing import parse_since
    from subctl.services import access
    from subctl.store.base import AuditFilter

    app = AppContext.from_typer(ctx)
    when = None if since is None else parse_since(since, app)
    where = AuditFilter(when, sub_id, actor, verb)
    rows = access.audit_rows(app.workspace(), where)
    if app.out.resolve(fmt) is Format.TABLE:
        shown = ({**row, "at": _minute(row["at"]), "changes": _changes(row)} for row in rows)
        app.out.rows(shown, TABLE_COLUMNS, fmt, empty="No audit entries.", page=True)
        return
    app.out.rows(rows, COLUMNS, fmt, empty="No audit entries.", page=True)


def register(app: typer.Typer) -> None:
    app.command("audit")(audit)
