"""Workspace verbs: ``init`` and ``demo``."""

import time
from typing import Annotated

import typer

from subctl.commands._options import YesOpt
from subctl.context import AppContext

MAX_DEMO = 10_000_000  # about 14 GB and ten minutes; larger is a typo more often than not


def workspace_init(
    ctx: typer.Context,
    force: Annotated[
        bool,
        typer.Option(
            "--force", help="Add subctl's tables to a database that already holds other tables."
        ),
    ] = False,
) -> None:
    """Create the workspace of the active profile (or upgrade an existing one's schema, and
    restore missing indexes).

    Example: subctl --workspace team.db init
    """
    from subctl.services import workspace as svc
    from subctl.store.sql import describe_url, open_local

    app = AppContext.from_typer(ctx)
    app.refuse_remote("init")
    url = app.workspace_url()
    backend = open_local(url, create=True, adopt=force)
    try:
        restored = svc.init_workspace(backend.records)
    finally:
        backend.close()
    if restored:
        app.out.message(f"Restored {len(restored)} missing index(es): {', '.join(restored)}")
    app.out.success(f"Workspace ready: {describe_url(url)}")


def workspace_demo(
    ctx: typer.Context,
    count: Annotated[
        int,
        typer.Option(
            "--count", "-c", metavar="N", min=1, max=MAX_DEMO, help="How many subscriptions."
        ),
    ] = 1000,
    seed: Annotated[int, typer.Option(metavar="S", help="Random seed (same seed, same data).")] = 7,
    yes: YesOpt = False,
) -> None:
    """Fill the workspace with realistic sample subscriptions (creating it if needed).

    Replaces unchanged demo data; asks before replacing anything else (records not created by
    `demo`, edits, history, batches; also after changes to saved views, custom properties or
    settings, which stay). All or nothing: interrupted, the workspace is unchanged.

    Example: subctl demo --count 100000 --seed 42
    """
    from subctl.services import workspace as svc

    app = AppContext.from_typer(ctx)
    store = app.local_records(create=True)
    workspace = app.workspace()
    if svc.replacing_needs_confirmation(store, workspace):
        from subctl.services.access import REPLACING

        app.require("demo", need=REPLACING)
        app.confirm(
            f"Replace the {store.count():,} subscriptions in this workspace, with their records,"
            " history and batches, by demo data?",
            yes=yes,
        )
    app.out.message(f"Creating {count:,} demo subscriptions (seed {seed}) ...")
    started = time.perf_counter()
    with app.out.progress("Creating demo data", total=count) as advance:
        done = 0

        def progress(n: int) -> None:
            nonlocal done
            advance(n - done)
            done = n

        summary = svc.fill_demo(
            store, workspace, count=count, seed=seed, today=app.today(), progress=progress
        )
    elapsed = time.perf_counter() - started
    app.out.success(
        f"Created {summary.subscriptions:,} demo subscriptions in {elapsed:.1f} s (seed {seed})"
    )


def register(app: typer.Typer) -> None:
    app.command("init")(workspace_init)
    app.command("demo")(workspace_demo)
