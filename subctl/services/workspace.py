"""Workspace life cycle: creating one, and filling it with demo data."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

from subctl.services.demo import DemoSummary, populate
from subctl.store.sql import SqlStore

ORIGIN_KEY = "origin"  # what the subscriptions came from: "demo", or absent


def replacing_needs_confirmation(store: SqlStore) -> bool:
    """Demo data replaces demo data freely; anything else only after confirmation."""
    return store.get_setting(ORIGIN_KEY) != "demo" and store.count() > 0


def fill_demo(
    store: SqlStore,
    *,
    count: int,
    seed: int,
    today: dt.date,
    progress: Callable[[int], None] | None = None,
) -> DemoSummary:
    summary = populate(store, count=count, seed=seed, today=today, progress=progress)
    store.set_setting(ORIGIN_KEY, "demo")
    return summary
