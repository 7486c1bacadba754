"""Saved views: a query, a column order and a sort, stored in the workspace.

``unpaid`` and ``scheduled`` are built in (the source article's default tabs) and cannot be
deleted or overwritten. A view's query is stored as text and parsed again on use, so it follows
property changes (a deleted property makes the view fail with a clear error).
"""

from __future__ import annotations

import datetime as dt
import re

from subctl.errors import InvalidState, UsageError
from subctl.services.subscriptions import parse_sort, parse_where, resolve_fields
from subctl.store.base import SavedView, Store

NAME_PATTERN = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")


def save_view(
    store: Store,
    name: str,
    *,
    where: str,
    columns: str | None,
    sort: str | None,
    today: dt.date,
) -> SavedView:
    """Validate every part against the current properties, then store the view."""
    if not NAME_PATTERN.match(name):
        raise UsageError(
            f'bad view name "{name}"',
            hint="use lowercase letters, digits, - and _ (at most 64 characters)",
        )
    existing = {v.name: v for v in store.views()}
    if name in existing and existing[name].builtin:
        raise InvalidState(f'"{name}" is a built-in view and cannot be changed')
    registry = store.properties()
    parse_where(where, registry, today)
    column_names: tuple[str, ...] = ()
    if columns:
        column_names = tuple(p.name for p in resolve_fields(columns, registry, ()))
    sort_text = None
    if sort:
        parsed = parse_sort(sort, registry)
        sort_text = parsed.field + (":desc" if parsed.descending else "")
    view = SavedView(name, where.strip(), column_names, sort_text)
    store.save_view(view)
    return view


def delete_view(store: Store, name: str) -> None:
    view = store.get_view(name)
    if view.builtin:
        raise InvalidState(f'"{name}" is a built-in view and cannot be deleted')
    store.delete_view(name)
