"""Workspace life cycle: creating (or upgrading) one, and filling it with demo data."""

from __future__ import annotations

import datetime as dt
import secrets
from collections.abc import Callable

from subctl.errors import Aborted
from subctl.services.demo import DemoSummary, populate
from subctl.store.base import Seedable, Workspace

# What demo wrote last: a token of the run and ``Seedable.records_digest()`` of its records.
# The workspace holds only demo data while the digest still matches: any edit (line items,
# payments, definitions, views and settings included), created record, job or mail since
# changes it.
DEMO_STAMP_KEY = "demo_records"


def init_workspace(records: Seedable) -> list[str]:
    """Restore any index a created (or upgraded) workspace lacks; return the names of the
    indexes restored."""
    return records.repair_indexes()


def replacing_needs_confirmation(store: Seedable, workspace: Workspace) -> bool:
    """Demo data replaces an empty workspace, or unchanged demo data, freely; anything else
    (records not written by demo, or changed since) only after confirmation. A read-only
    workspace cannot be replaced at all (``StoreUnavailable``)."""
    store.require_writable()
    if not store.has_records():
        return False
    stamp = workspace.get_setting(DEMO_STAMP_KEY)
    return stamp is None or stamp.split()[-1] != store.records_digest(DEMO_STAMP_KEY)


def fill_demo(
    store: Seedable,
    workspace: Workspace,
    *,
    count: int,
    seed: int,
    today: dt.date,
    progress: Callable[[int], None] | None = None,
) -> DemoSummary:
    """Replace the workspace's records with demo data, in one transaction. Interrupted
    (Ctrl-C), ``Aborted`` says whether the workspace is unchanged or the data was complete."""
    token = secrets.token_hex(8)
    try:
        return populate(
            store, count=count, seed=seed, today=today, progress=progress,
            stamp=(DEMO_STAMP_KEY, token),
        )  # fmt: skip
    except KeyboardInterrupt as exc:
        # The interrupt may land just after the commit: the stamp tells.
        if (workspace.get_setting(DEMO_STAMP_KEY) or "").startswith(f"{token} "):
            raise Aborted("interrupted after the demo data was written in full") from exc
        raise Aborted("interrupted: the workspace was not changed") from exc
