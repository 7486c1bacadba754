"""``sync``: mirror a HubSpot profile (or another workspace) into a local workspace."""

import shlex
from typing import Annotated

import typer

from subctl import config
from subctl.commands._options import FormatOpt
from subctl.context import AppContext
from subctl.errors import Aborted, UsageError
from subctl.output import FIELD_VALUE, Document, Format, field_rows


def sync_command(
    ctx: typer.Context,
    profile: Annotated[
        str | None,
        typer.Option(
            "--profile",
            metavar="NAME",
            help="The profile to mirror (default: the active one, or the global --profile).",
        ),
    ] = None,
    into: Annotated[
        str | None,
        typer.Option(
            "--into",
            metavar="WORKSPACE_OR_PROFILE",
            help="Where the mirror lives: a local profile's name, a workspace file or a"
            " postgresql:// URL (default for a HubSpot profile: its own workspace).",
        ),
    ] = None,
    full: Annotated[
        bool,
        typer.Option(
            "--full",
            help="Read every record again (and remove what the source no longer has) instead"
            " of what changed since the last sync; needed to mirror another source.",
        ),
    ] = False,
    fmt: FormatOpt = Format.AUTO,
) -> None:
    """Mirror subscriptions, their custom properties and associations into a local workspace,
    incrementally (what changed since the last sync, by last modified date); archived records
    are removed locally. Interrupted, the next sync continues where it stopped.

    Example: subctl sync --into mirror.db
    """
    from subctl.services import sync as svc
    from subctl.store.sql import describe_url, open_local

    app = AppContext.from_typer(ctx)
    if profile is not None:
        app.use_profile(profile)
    source_profile = app.active_profile()
    target = _target(app, into)
    source_url = None if source_profile.remote else app.workspace_url()
    if config.workspace_url(target) == source_url:
        raise UsageError("--into names the workspace being synced from")
    if source_profile.remote:
        key = f"hubspot {source_profile.api_url} (profile {source_profile.name})"
    else:
        key = describe_url(app.workspace_url())
    records = app.records()
    mirror = open_local(config.workspace_url(target), create=True)
    try:
        with app.out.progress("Syncing", None, unit="subscriptions") as advance:
            done = 0

            def progress(read: int, total: int | None) -> None:
                nonlocal done
                advance(read - done, total=total)
                done = read

            try:
                report = svc.sync(records, mirror.records, mirror.workspace, source_key=key,
                                  full=full, now=app.clock(), progress=progress)  # fmt: skip
            except KeyboardInterrupt:
                raise Aborted(
                    "interrupted: what was mirrored so far is kept",
                    hint="run subctl sync again: it continues where it stopped",
                ) from None
    finally:
        mirror.close()
    data = report.as_dict()
    data["into"] = describe_url(config.workspace_url(target))
    mode = "full" if report.full else "incremental"
    message = (
        f"Synced {report.read:,} subscription{'' if report.read == 1 else 's'} ({mode})"
        f" into {data['into']}: "
        f"{report.created:,} created, {report.updated:,} updated, {report.unchanged:,} "
        f"unchanged, {report.archived:,} archived"
    )
    app.out.result(Document(data, field_rows(data), FIELD_VALUE), fmt, message)
    named = into if into is not None and target != into else None  # --into a profile's name
    where = f"--profile {named}" if named else f"--workspace {shlex.quote(target)}"
    app.out.message(f"Query the mirror: subctl {where} list")


def _target(app: AppContext, into: str | None) -> str:
    """The mirror's workspace (path or URL): ``--into`` as a local profile's name or a
    workspace; by default a HubSpot profile's own workspace."""
    if into is None:
        profile = app.active_profile()
        target = profile.workspace_target() if profile.remote else None
        if target is None:
            raise UsageError(
                "--into is required to sync a local profile",
                hint="subctl sync --into mirror.db (a new workspace file)",
            )
        return target
    if not into:
        raise UsageError("--into: the value is empty")
    if config.PROFILE_NAME.fullmatch(into) and into in config.read_config().profiles:
        named = config.load_profile(into)
        if named.remote:
            raise UsageError(f"--into: profile {into} is a HubSpot profile; give a local one")
        target = named.workspace_target()
        return target if target is not None else str(config.default_workspace_path())
    return into


def register(app: typer.Typer) -> None:
    app.command("sync")(sync_command)
