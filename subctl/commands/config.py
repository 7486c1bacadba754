"""``config``: read and write the config file (profiles, the active one, the header
language)."""

from typing import Annotated

import typer

from subctl import config
from subctl.commands._options import FormatOpt, effective_format, remember_group_format
from subctl.context import AppContext
from subctl.export import Column
from subctl.output import Format

config_app = typer.Typer(
    help="The config file: which profile is active, each profile's workspace, and the\n"
    "language of export headers.\n\n"
    "Example: subctl config set profiles.team.workspace ~/team.db",
    invoke_without_command=True,
    no_args_is_help=False,
)

KeyArg = Annotated[
    str,
    typer.Argument(
        metavar="KEY",
        help="active, language, or profiles.NAME.KEY (workspace, kind, base_url, tier, token_env).",
        show_default=False,
    ),
]
COLUMNS = [Column("key", "Key"), Column("value", "Value")]


@config_app.callback(invoke_without_command=True)
def config_main(ctx: typer.Context, fmt: FormatOpt = Format.AUTO) -> None:
    """The config file: without a subcommand, list what is set.

    Example: subctl config --format json
    """
    remember_group_format(ctx, fmt)
    if ctx.invoked_subcommand is None:
        _list(ctx, fmt)


@config_app.command("list")
def config_list(ctx: typer.Context, fmt: FormatOpt = Format.AUTO) -> None:
    """Every key set in the config file, and its value.

    Example: subctl config list --format csv
    """
    _list(ctx, effective_format(ctx, fmt))


def _list(ctx: typer.Context, fmt: Format) -> None:
    app = AppContext.from_typer(ctx)
    rows = [{"key": k, "value": config.shown(v)} for k, v in config.read_config().items()]
    app.out.rows(rows, COLUMNS, fmt, empty=f"Nothing set in {config.config_path()}.")


@config_app.command("get")
def config_get(ctx: typer.Context, key: KeyArg) -> None:
    """Print one key's value (exit code 3 when it is not set; a password in a URL shows as ***).

    Example: subctl config get active
    """
    AppContext.from_typer(ctx).out.text(config.shown(config.get_value(key)))


@config_app.command("set")
def config_set(
    ctx: typer.Context,
    key: KeyArg,
    value: Annotated[str, typer.Argument(metavar="VALUE", help="The new value.")],
) -> None:
    """Set one key, writing the config file (atomically, mode 0600).

    Example: subctl config set active team

    Example: subctl config set language da
    """
    path = config.set_value(key, value)
    AppContext.from_typer(ctx).out.success(f"Set {key} in {path}")


def register(app: typer.Typer) -> None:
    app.add_typer(config_app, name="config")
