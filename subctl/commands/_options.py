"""Options shared by several commands, defined once (``Annotated`` aliases)."""

import functools
import inspect
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any

import typer

from subctl.output import Format


def effective_limit(limit: int | None, all_: bool, *, terminal: bool) -> int | None:
    """``--limit N`` / ``--all`` / neither -> how many rows to fetch (None: all). Without
    either, a terminal gets ``DEFAULT_LIMIT`` rows and anything else every row."""
    from subctl.errors import UsageError
    from subctl.services.subscriptions import DEFAULT_LIMIT, MAX_LIMIT

    if limit is not None:
        if all_:
            raise UsageError(
                "--all and --limit cannot be combined",
                hint="--all lists every subscription, --limit N the first N",
            )
        if limit < 1:
            raise UsageError("--limit must be at least 1", hint="use --all for every subscription")
        if limit > MAX_LIMIT:
            raise UsageError(
                f"--limit must be at most {MAX_LIMIT}", hint="use --all for every subscription"
            )
        return limit
    if all_ or not terminal:
        return None
    return DEFAULT_LIMIT


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
    int | None,
    typer.Option(
        "--limit",
        "-n",
        metavar="N",
        help="Show at most N subscriptions (default: 50 on a terminal, all otherwise).",
        show_default=False,
    ),
]
AllOpt = Annotated[
    bool, typer.Option("--all", "-a", help="Every matching subscription (streamed; no limit).")
]
# The billing log's page (``billing log``, ``jobs results`` of a billing run), defined once.
LOG_LIMIT = 50  # rows of the billing log on a terminal without --limit or --all
MAX_ID = 2**63 - 1  # record ids are 64-bit signed integers (SQLite's INTEGER); the largest limit
LogLimitOpt = Annotated[
    int | None,
    typer.Option(
        "--limit",
        "-n",
        metavar="N",
        min=1,
        max=MAX_ID,
        help=f"Show at most N events (default: {LOG_LIMIT} on a terminal, all otherwise).",
        show_default=False,
    ),
]
LogAllOpt = Annotated[bool, typer.Option("--all", "-a", help="Every matching event (streamed).")]
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
SegmentOpt = Annotated[
    str | None,
    typer.Option(
        "--segment",
        metavar="NAME",
        help="Only the members of a segment (subctl segment list).",
    ),
]
SortOpt = Annotated[
    str | None,
    typer.Option("--sort", metavar="FIELD[:desc]", help="Sort by a property."),
]
SubIdArg = Annotated[
    int, typer.Argument(metavar="ID", min=1, max=MAX_ID, help="Subscription record ID.")
]
YesOpt = Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")]

# -- lifecycle batches: every lifecycle verb selects subscriptions the same way --------

IdsArg = Annotated[
    list[int] | None,
    typer.Argument(
        metavar="ID", min=1, max=MAX_ID, help="Subscription record IDs.", show_default=False
    ),
]
FromFileOpt = Annotated[
    str | None,
    typer.Option(
        "--from-file",
        metavar="FILE",
        help="Read IDs from FILE: one per line, or CSV with an id column; - reads stdin.",
    ),
]
DryRunOpt = Annotated[
    bool,
    typer.Option("--dry-run", help="Show what would happen to each subscription; change nothing."),
]
PlanOutOpt = Annotated[
    str | None,
    typer.Option(
        "--plan-out",
        metavar="FILE",
        help="With --dry-run: freeze the matched IDs, their status and a hash in FILE.",
    ),
]
PlanOpt = Annotated[
    str | None,
    typer.Option(
        "--plan",
        metavar="FILE",
        help="Act on exactly the subscriptions of a plan (--plan-out); changed ones are skipped.",
    ),
]

# -- custom properties ---------------------------------------------------------------

ShowSensitiveOpt = Annotated[
    bool,
    typer.Option(
        "--show-sensitive",
        help="Show highly sensitive values unmasked (needs the sensitive_data.view permission).",
    ),
]


_GROUP_FORMAT = "subctl.group_format"


def remember_group_format(ctx: typer.Context, fmt: Format) -> None:
    """A group's ``--format`` (``subctl views --format csv list``), for its subcommands."""
    ctx.meta[_GROUP_FORMAT] = fmt


def effective_format(ctx: typer.Context, fmt: Format) -> Format:
    """A subcommand's own ``--format``, else the one given to its group."""
    if fmt is Format.AUTO:
        group: Format = ctx.meta.get(_GROUP_FORMAT, fmt)
        return group
    return fmt


# -- the selection of the lifecycle verbs, declared once -------------------------------------


@dataclass(frozen=True)
class BatchArgs:
    """What every lifecycle verb takes besides its own options: the selection (IDS,
    ``--from-file``, ``--where``, ``--view``, ``--segment``, ``--plan``) and how the batch runs."""

    ids: tuple[int, ...] = ()
    from_file: str | None = None
    where: str | None = None
    view: str | None = None
    segment: str | None = None
    plan: str | None = None
    plan_out: str | None = None
    dry_run: bool = False
    yes: bool = False
    fmt: Format = Format.AUTO


def _param(name: str, annotation: Any, default: Any) -> inspect.Parameter:
    return inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, annotation=annotation,
                             default=default)  # fmt: skip


# IDS comes first, then the verb's own options, then these (the order ``--help`` shows).
_IDS = _param("ids", IdsArg, None)
_BATCH_PARAMS = (
    _param("from_file", FromFileOpt, None),
    _param("where", WhereOpt, None),
    _param("view", ViewOpt, None),
    _param("segment", SegmentOpt, None),
    _param("plan", PlanOpt, None),
    _param("plan_out", PlanOutOpt, None),
    _param("dry_run", DryRunOpt, False),
    _param("yes", YesOpt, False),
    _param("fmt", FormatOpt, Format.AUTO),
)


def lifecycle_command(func: Callable[..., None]) -> Callable[..., None]:
    """A lifecycle verb ``func(ctx, batch: BatchArgs, **own_options)`` as a Typer command whose
    parameters are ``ctx``, IDS, the verb's own options, then the selection and batch options,
    declared here once for every verb."""
    ctx_param, _batch, *own = inspect.signature(func).parameters.values()
    own = [p.replace(kind=inspect.Parameter.KEYWORD_ONLY) for p in own]
    params = [ctx_param, _IDS, *own, *_BATCH_PARAMS]
    names = [p.name for p in (_IDS, *_BATCH_PARAMS)]

    @functools.wraps(func)
    def command(ctx: typer.Context, **options: Any) -> None:
        given = {name: options.pop(name) for name in names}
        ids = given.pop("ids")
        func(ctx, BatchArgs(ids=tuple(ids or ()), **given), **options)

    command.__signature__ = inspect.Signature(params, return_annotation=None)  # type: ignore[attr-defined]
    command.__annotations__ = {p.name: p.annotation for p in params} | {"return": None}
    return command
