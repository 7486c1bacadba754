"""``profile``: add, list, show, use and remove profiles (a local workspace, or HubSpot)."""

import sys
from typing import Annotated

import typer

from subctl import config
from subctl.commands._options import FormatOpt, YesOpt, effective_format, remember_group_format
from subctl.config import Profile
from subctl.context import AppContext
from subctl.errors import UsageError
from subctl.export import Column
from subctl.output import FIELD_VALUE, Document, Format, Pairs

profile_app = typer.Typer(
    help="Profiles: where the records live (a local workspace, or a HubSpot account through\n"
    "its API) and which one is active.\n\n"
    "Example: subctl profile add scratch --local ~/scratch.db",
    invoke_without_command=True,
    no_args_is_help=False,
)

NameArg = Annotated[
    str, typer.Argument(metavar="NAME", help="Profile name (letters, digits, - and _).")
]
COLUMNS = [
    Column("active", "Active"),
    Column("name", "Name"),
    Column("kind", "Kind"),
    Column("records", "Records"),
    Column("workspace", "Workspace"),
    Column("tier", "Tier"),
]
LABELS = {
    "name": "Name",
    "active": "Active",
    "configured": "In the config file",
    "kind": "Kind",
    "records": "Records",
    "workspace": "Workspace",
    "base_url": "API URL",
    "tier": "Tier",
    "token_env": "Token variable",
    "token": "Token from",
    "permissions": "Permissions",
    "permissions_from": "Permissions from",
}


@profile_app.callback(invoke_without_command=True)
def profile_main(ctx: typer.Context, fmt: FormatOpt = Format.AUTO) -> None:
    """Profiles: without a subcommand, list them.

    Example: subctl profile --format json
    """
    remember_group_format(ctx, fmt)
    if ctx.invoked_subcommand is None:
        _list(ctx, fmt)


@profile_app.command("list")
def profile_list(ctx: typer.Context, fmt: FormatOpt = Format.AUTO) -> None:
    """Every profile: which is active, its kind, where its records and workspace are.

    Example: subctl profile list --format csv
    """
    _list(ctx, effective_format(ctx, fmt))


def _list(ctx: typer.Context, fmt: Format) -> None:
    from subctl.services import profiles as svc

    app = AppContext.from_typer(ctx)
    rows = svc.listing()
    if app.out.resolve(fmt) is Format.TABLE:
        rows = [{**r, "active": "*" if r["active"] else "", "tier": r["tier"] or ""} for r in rows]
    app.out.rows(rows, COLUMNS, fmt, empty="No profiles.")


@profile_app.command("add")
def profile_add(
    ctx: typer.Context,
    name: NameArg,
    local: Annotated[
        str | None,
        typer.Option(
            "--local", metavar="PATH_OR_URL", help="A local workspace: a file or postgresql:// URL."
        ),
    ] = None,
    hubspot: Annotated[
        bool, typer.Option("--hubspot", help="A HubSpot account, through its API.")
    ] = False,
    token_env: Annotated[
        str | None,
        typer.Option(
            "--token-env",
            metavar="VAR",
            help="HubSpot: the environment variable that holds the token.",
        ),
    ] = None,
    base_url: Annotated[
        str | None,
        typer.Option(
            "--base-url",
            metavar="URL",
            help=f"HubSpot: the API's URL (default {config.DEFAULT_BASE_URL}; the EU data"
            " centre or a proxy need another).",
        ),
    ] = None,
    tier: Annotated[
        str | None,
        typer.Option(
            "--tier",
            metavar="TIER",
            help="HubSpot: the account's tier, which sets the rate limit: free, starter"
            " (100 requests/10 s), professional, enterprise (190/10 s; the default).",
        ),
    ] = None,
    workspace: Annotated[
        str | None,
        typer.Option(
            "--workspace",
            metavar="PATH_OR_URL",
            help="HubSpot: the local workspace for the journal, views and settings (default:"
            " one file per profile in the data directory).",
        ),
    ] = None,
    token_stdin: Annotated[
        bool,
        typer.Option(
            "--token-stdin", help="HubSpot: read the token from standard input (one line)."
        ),
    ] = False,
    store_token_in_config: Annotated[
        bool,
        typer.Option(
            "--store-token-in-config",
            help="HubSpot: keep the token in the config file (mode 0600) instead of the system"
            " keyring.",
        ),
    ] = False,
    permissions: Annotated[
        str | None,
        typer.Option(
            "--permissions",
            metavar="LIST",
            help="What the profile may do, e.g. view,export (default: everything; a team"
            " workspace's grants come from subctl access).",
        ),
    ] = None,
) -> None:
    """Add a profile. A HubSpot token is stored in the system keyring (asked for, hidden, on a
    terminal; --token-stdin otherwise), or left to SUBCTL_TOKEN or --token-env's variable.

    Example: subctl profile add scratch --local ~/scratch.db

    Example: subctl profile add prod --hubspot --token-env HUBSPOT_TOKEN --tier starter
    """
    from subctl.services import profiles as svc

    app = AppContext.from_typer(ctx)
    if hubspot == (local is not None):
        raise UsageError("give one of --local PATH_OR_URL or --hubspot")
    remote_only = {
        "--token-env": token_env,
        "--base-url": base_url,
        "--tier": tier,
        "--workspace": workspace,
        "--token-stdin": token_stdin or None,
        "--store-token-in-config": store_token_in_config or None,
    }
    if not hubspot:
        given = [flag for flag, value in remote_only.items() if value is not None]
        if given:
            raise UsageError(f"{given[0]} is for a HubSpot profile (--hubspot)")
        profile = Profile(name, workspace=local)
        token = None
    else:
        if tier is not None and tier not in config.TIERS:
            raise UsageError(f'--tier: "{tier}" is not one of {", ".join(config.TIERS)}')
        base = base_url.rstrip("/") if base_url else None
        profile = Profile(name, workspace, "hubspot", base, tier, token_env)
        token = _read_token(app, profile, token_stdin)
    if permissions is not None:
        from dataclasses import replace

        from subctl.services.access import PERMISSIONS, parse_permissions

        granted = parse_permissions(permissions)
        if not granted:
            raise UsageError("--permissions: give at least one, e.g. view,export")
        profile = replace(profile, permissions=",".join(p for p in PERMISSIONS if p in granted))
    added = svc.add(profile, token=token, store_in_config=store_token_in_config)
    stored = {"keyring": "the system keyring", "config": "the config file"}
    where = f"; token stored in {stored[added.token_stored]}" if added.token_stored else ""
    kind = f"HubSpot, {profile.api_url}, {profile.rate_tier}" if hubspot else "local"
    app.out.success(f"Added profile {name} ({kind}){where}")
    if hubspot and added.token_stored is None:
        var = profile.token_env or "SUBCTL_TOKEN"
        app.out.message(f"No token stored: subctl reads it from {var} when the profile runs.")
    app.out.message(f"Use it: subctl profile use {name}  (or --profile {name})")


def _read_token(app: AppContext, profile: Profile, from_stdin: bool) -> str | None:
    """The token given now: standard input (--token-stdin), else a hidden question on a
    terminal (empty: none), else none."""
    if from_stdin:
        return sys.stdin.readline()
    if not app.can_prompt:
        return None
    var = profile.token_env or "SUBCTL_TOKEN"
    answer = app.prompter.secret(f"HubSpot access token (empty: read {var} when it runs):")
    return answer if answer.strip() else None


@profile_app.command("show")
def profile_show(
    ctx: typer.Context,
    name: Annotated[
        str | None,
        typer.Argument(metavar="[NAME]", help="Profile name (default: the active one)."),
    ] = None,
    fmt: FormatOpt = Format.AUTO,
) -> None:
    """One profile: its kind, workspace, API URL and tier, where its token comes from (never
    the token), and its permissions: a HubSpot profile's from its token's scopes and config.

    Example: subctl profile show default
    """
    from subctl.services import profiles as svc

    app = AppContext.from_typer(ctx)
    name = name or app.profile  # `-p hub profile show`: hub's, as `--profile` says
    if name is not None:
        app.use_profile(name)  # its token's scopes: the named profile's
    data = svc.show(name, app.cached_token_permissions)
    pairs = [(LABELS[k], _text(v)) for k, v in data.items() if v is not None]
    doc = Document(
        data,
        [{"field": k, "value": v} for k, v in data.items()],
        FIELD_VALUE,
        [Pairs(f"Profile {data['name']}", pairs)],
    )
    app.out.detail(doc, effective_format(ctx, fmt))


def _text(value: object) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value)


@profile_app.command("use")
def profile_use(ctx: typer.Context, name: NameArg) -> None:
    """Make a profile the active one (used without --profile or SUBCTL_PROFILE).

    Example: subctl profile use default
    """
    from subctl.services import profiles as svc

    path = svc.use(name)
    AppContext.from_typer(ctx).out.success(f"Active profile: {name} ({path})")


@profile_app.command("remove")
def profile_remove(ctx: typer.Context, name: NameArg, yes: YesOpt = False) -> None:
    """Remove a profile (and its token in the system keyring). Its workspace file is kept.

    Example: subctl profile remove scratch --yes
    """
    from subctl.services import profiles as svc

    app = AppContext.from_typer(ctx)
    config.configured(name)  # unknown: said before asking
    app.confirm(f"Remove profile {name}?", yes=yes)
    removed = svc.remove(name)
    app.out.success(f"Removed profile {name}")
    if removed.keyring_token:
        app.out.message("Its token was removed from the system keyring.")
    if removed.workspace:
        app.out.message(f"Its workspace is kept: {removed.workspace}")


def register(app: typer.Typer) -> None:
    app.add_typer(profile_app, name="profile")
