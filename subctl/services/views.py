"""Saved views: a query, a column order and a sort, stored in the workspace.

``unpaid`` and ``scheduled`` are built in (the source article's default tabs) and cannot be
deleted or overwritten. A view's query is stored as text and parsed again on use, so it follows
property changes (a deleted property makes the view fail with a clear error). Values compared
with highly sensitive properties are masked wherever a view is shown.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from typing import Any

from subctl.errors import InvalidState, UsageError
from subctl.services.subscriptions import ListRequest, build_listing
from subctl.store.base import RecordStore, SavedView, Workspace

NAME_PATTERN = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")


@dataclass(frozen=True)
class ViewPlan:
    view: SavedView
    replaces: SavedView | None  # the user view of that name, overwritten by saving


def check_name(workspace: Workspace, name: str) -> SavedView | None:
    """A name a view can be saved under; returns the user view it would replace, if any."""
    if not NAME_PATTERN.match(name):
        raise UsageError(
            f'bad view name "{name}"',
            hint="use lowercase letters, digits, - and _ (at most 64 characters)",
        )
    existing = {v.name: v for v in workspace.views()}.get(name)
    if existing is not None and existing.builtin:
        raise InvalidState(f'"{name}" is a built-in view and cannot be changed')
    return existing


def plan_view(
    records: RecordStore,
    workspace: Workspace,
    name: str,
    *,
    where: str,
    columns: str | None,
    sort: str | None,
    today: dt.date,
) -> ViewPlan:
    """Validate every part of a view as ``list --view`` will use it (query, columns, sort, and
    the permission that filtering or sorting on highly sensitive values needs), saving nothing."""
    existing = check_name(workspace, name)
    request = ListRequest(where=where, sort=sort, fields=columns)
    listing = build_listing(records, workspace, request, today)
    column_names = tuple(p.name for p in listing.properties) if columns else ()
    sort_text = None
    if sort and listing.query.sort is not None:
        sort_text = listing.query.sort.field + (":desc" if listing.query.sort.descending else "")
    return ViewPlan(SavedView(name, where.strip(), column_names, sort_text), existing)


def save_view(workspace: Workspace, plan: ViewPlan) -> None:
    workspace.save_view(plan.view)


def view_rows(
    records: RecordStore, workspace: Workspace, name: str | None = None
) -> list[dict[str, Any]]:
    """Saved views (or the one named) as rows, sensitive values in their queries masked."""
    from subctl.query.parser import mask_secrets

    registry = records.properties()
    shown = [workspace.get_view(name)] if name is not None else workspace.views()
    return [
        {"name": v.name, "query": mask_secrets(v.where, registry), "columns": list(v.columns),
         "sort": v.sort, "builtin": v.builtin}
        for v in shown
    ]  # fmt: skip


def views_using(records: RecordStore, workspace: Workspace, prop_name: str) -> list[str]:
    """The saved views whose query, columns or sort name the property (by any of its names)."""
    from subctl.query.parser import mentions

    registry = records.properties()
    return [
        v.name
        for v in workspace.views()
        if prop_name in v.columns
        or (v.sort or "").partition(":")[0] == prop_name
        or prop_name in mentions(v.where, registry)
    ]


def delete_view(workspace: Workspace, name: str) -> None:
    view = workspace.get_view(name)
    if view.builtin:
        raise InvalidState(f'"{name}" is a built-in view and cannot be deleted')
    workspace.delete_view(name)
