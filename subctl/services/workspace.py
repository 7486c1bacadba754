"""Workspace life cycle: creating (or upgrading) one, and filling it with demo data."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Callable
from typing import Any

from subctl.services.demo import DemoSummary, populate
from subctl.store.sql import SqlStore

# A digest of the records demo wrote (``SqlStore.record_counts``). The workspace holds only
# demo data while its records still match it: any edit, created record, history entry, job or
# mail since changes a count, and a replaced association the last association row.
DEMO_DIGEST_KEY = "demo_digest"


def init_workspace(url: str, *, adopt: bool) -> list[str]:
    """Create or upgrade the workspace at ``url`` and restore any index it lacks; return the
    names of the indexes restored. ``adopt``: add subctl's tables to a database that holds
    other tables."""
    store = SqlStore(url, create=True, adopt=adopt)
    try:
        return store.repair_indexes()
    finally:
        store.close()


def _digest(counts: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(counts, sort_keys=True).encode()).hexdigest()


def replacing_needs_confirmation(store: SqlStore) -> bool:
    """Demo data replaces an empty workspace, or unchanged demo data, freely; anything else
    (records not written by demo, or changed since) only after confirmation. A read-only
    workspace cannot be replaced at all (``StoreUnavailable``)."""
    store.require_writable()
    counts = store.record_counts()
    if not any(counts.values()):
        return False
    return store.get_setting(DEMO_DIGEST_KEY) != _digest(counts)


def fill_demo(
    store: SqlStore,
    *,
    count: int,
    seed: int,
    today: dt.date,
    progress: Callable[[int], None] | None = None,
) -> DemoSummary:
    """Replace the workspace's records with demo data, in one transaction (interrupted, the
    workspace is unchanged)."""
    summary = populate(store, count=count, seed=seed, today=today, progress=progress)
    store.set_setting(DEMO_DIGEST_KEY, _digest(store.record_counts()))
    return summary
