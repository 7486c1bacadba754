"""Options shared by several commands, defined once (``Annotated`` aliases)."""

from __future__ import annotations

from typing import Annotated

import typer

from subctl.output import Format

FormatOpt = Annotated[
    Format,
    typer.Option(
        "--format",
        "-f",
        case_sensitive=False,
        help="Output format; auto: a table on a terminal, JSON otherwise.",
    ),
]
FieldsOpt = Annotated[
    str | None,
    typer.Option(
        "--fields",
        metavar="A,B,C",
        help="Properties to show, comma-separated (internal names, aliases or labels).",
    ),
]
LimitOpt = Annotated[
    int,
    typer.Option("--limit", "-n", metavar="N", help="Show at most N subscriptions."),
]
AllOpt = Annotated[
    bool, typer.Option("--all", "-a", help="Every matching subscription (streamed; no limit).")
]
WhereOpt = Annotated[
    str | None,
    typer.Option(
        "--where",
        metavar="EXPR",
        help="Filter with the query language, e.g. 'status in (unpaid, past_due) and mrr > 100'.",
    ),
]
ViewOpt = Annotated[
    str | None,
    typer.Option("--view", metavar="NAME", help="Use a saved view (built in: unpaid, scheduled)."),
]
SortOpt = Annotated[
    str | None,
    typer.Option("--sort", metavar="FIELD[:desc]", help="Sort by a property."),
]
SubIdArg = Annotated[int, typer.Argument(metavar="ID", help="Subscription record ID.")]
YesOpt = Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")]
