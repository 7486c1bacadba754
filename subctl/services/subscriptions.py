"""Listing and viewing subscriptions: turning options into a ``Query``, resolving fields, and
shaping records for output. Pure functions over a ``RecordStore`` (and the ``Workspace``'s
saved views and permissions)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from subctl.errors import InputError, UsageError
from subctl.export import Column
from subctl.query.ast import Condition, Expr, Not, Op, Query, Sort, all_of
from subctl.query.values import ValueParseError, parse_date, parse_days
from subctl.schema import (
    ASSOCIATION_BY_NAME,
    CURRENCY_PROPERTY,
    DEFAULT_LIST_FIELDS,
    STATUS_BY_VALUE,
    STATUSES,
    Property,
    PropertyRegistry,
)
from subctl.services.masking import masked_names, masker
from subctl.store.base import (
    RecordStore,
    SavedView,
    Subscription,
    SubscriptionDetail,
    Workspace,
)

if TYPE_CHECKING:
    from subctl.export.cells import StoredRows

# A terminal shows the first DEFAULT_LIMIT rows unless told otherwise; a pipe or a file gets
# every row (a cut export would lose data without a word). MAX_LIMIT: a LIMIT the databases take.
DEFAULT_LIMIT = 50
MAX_LIMIT = 2**63 - 1
# Without --sort (or a view's sort), subscriptions come soonest-due first (those without a due
# date last), then by id: what an operator looks at first, and the order the status/due-date
# index serves without a sort step.
DEFAULT_SORT = Sort("hs_next_payment_due_date")


@dataclass
class ListRequest:
    """The options of ``list`` (and of every verb that selects subscriptions)."""

    statuses: Sequence[str] = ()
    due_before: str | None = None
    due_after: str | None = None
    due_within: str | None = None
    associated: dict[str, int] = field(default_factory=dict)  # object name -> record id
    where: str | None = None
    view: str | None = None
    segment: str | None = None  # a segment's members (``--segment``)
    sort: str | None = None
    limit: int | None = None  # None: every match (see ``effective_limit``)
    fields: str | None = None
    show_sensitive: bool = False  # unmask highly sensitive values (needs the permission)


@dataclass
class Listing:
    query: Query
    columns: list[Column]
    properties: list[Property]
    show_sensitive: bool = False


def resolve_statuses(values: Iterable[str]) -> list[str]:
    """Status internal values or labels, case-insensitive -> internal values."""
    by_key = {s.value: s.value for s in STATUSES} | {s.label.lower(): s.value for s in STATUSES}
    resolved = []
    for raw in values:
        for part in raw.split(","):
            value = by_key.get(part.strip().lower())
            if value is None:
                raise UsageError(
                    f'"{part.strip()}" is not a status; one of: {", ".join(STATUS_BY_VALUE)}'
                )
            if value not in resolved:
                resolved.append(value)
    return resolved


def resolve_fields(
    spec: str | Sequence[str] | None, registry: PropertyRegistry, default: Sequence[str]
) -> list[Property]:
    """``--fields a,b,c`` (names, aliases or labels) -> properties, in the order given."""
    names = [n.strip() for n in spec.split(",")] if isinstance(spec, str) else list(spec or [])
    names = [n for n in names if n] or list(default)
    props: list[Property] = []
    for name in names:
        prop = registry.get(name)
        if prop is None:
            available = ", ".join(registry.short_name(p) for p in registry)
            raise UsageError(f'Unknown field "{name}". Available fields: {available}')
        if prop not in props:
            props.append(prop)
    return props


def parse_sort(text: str, registry: PropertyRegistry) -> Sort:
    """``field``, ``field:desc``/``field:asc`` or ``-field``."""
    name, _, direction = text.strip().partition(":")
    descending = direction.lower() == "desc"
    if direction and direction.lower() not in ("asc", "desc"):
        raise UsageError(f'bad sort direction "{direction}"; use FIELD, FIELD:asc or FIELD:desc')
    if name.startswith("-"):
        name, descending = name[1:], True
    prop = registry.get(name)
    if prop is None:
        suggestion = registry.suggest(name)
        raise UsageError(
            f'cannot sort by unknown field "{name}"',
            hint=f'did you mean "{suggestion}"?' if suggestion else None,
        )
    return Sort(prop.name, descending)


def _date_option(name: str, text: str, today: dt.date) -> dt.date:
    try:
        return parse_date(text, today)
    except ValueParseError as exc:
        raise InputError(name, str(exc)) from exc


def parse_where(
    text: str, registry: PropertyRegistry, today: dt.date, now: dt.datetime | None = None
) -> Expr:
    from subctl.query.parser import parse

    return parse(text, registry, today=today, now=now)


def build_listing(
    records: RecordStore,
    workspace: Workspace,
    request: ListRequest,
    today: dt.date,
    now: dt.datetime | None = None,
) -> Listing:
    registry = records.properties()
    view: SavedView | None = workspace.get_view(request.view) if request.view else None
    filters: list[Expr | None] = []
    if view is not None:
        filters.append(parse_where(view.where, registry, today, now))
    if request.segment:
        from subctl.services.segments import segment_expr

        segment = workspace.get_segment(request.segment)
        filters.append(segment_expr(records, segment, today, now))
    if request.statuses:
        filters.append(Condition("hs_status", Op.IN, tuple(resolve_statuses(request.statuses))))
    due = "hs_next_payment_due_date"
    if request.due_before:
        filters.append(
            Condition(due, Op.LT, (_date_option("due_before", request.due_before, today),))
        )
    if request.due_after:
        filters.append(
            Condition(due, Op.GT, (_date_option("due_after", request.due_after, today),))
        )
    if request.due_within:
        try:
            days = parse_days(request.due_within)
        except ValueParseError as exc:
            raise InputError("due_within", str(exc)) from exc
        filters.append(Condition(due, Op.BETWEEN, (today, today + dt.timedelta(days=days))))
    if request.due_before or request.due_after or request.due_within:
        # A paused subscription is not due: its next payment due date is when billing may
        # resume, and nothing is charged until it is resumed.
        filters.append(Condition("hs_status", Op.NEQ, ("paused",)))
    for name, record_id in request.associated.items():
        assert name in ASSOCIATION_BY_NAME, name
        filters.append(Condition(f"associations.{name}", Op.EQ, (record_id,)))
    if request.where is not None:  # an empty query is an error, not "everything"
        filters.append(parse_where(request.where, registry, today, now))
    sort_text = request.sort or (view.sort if view else None)
    sort = parse_sort(sort_text, registry) if sort_text else DEFAULT_SORT
    default_fields = view.columns if view and view.columns else DEFAULT_LIST_FIELDS
    props = resolve_fields(request.fields, registry, default_fields)
    query = Query(where=all_of(*filters), sort=sort, limit=request.limit)
    # Filtering or sorting on a highly sensitive property would reveal its values as surely as
    # showing them: both need the permission that --show-sensitive needs.
    # (Whether a value is present, `has FIELD`, reveals nothing and stays allowed.)
    secret = (_compared_fields(query.where) | ({sort.field} if sort else set())) & masked_names(
        registry
    )
    if request.show_sensitive or secret:
        from subctl.services.properties import require_sensitive_access

        doing = f"filtering or sorting on {', '.join(sorted(secret))}" if secret else None
        require_sensitive_access(workspace, *([doing] if doing else []))
    # Columns asked for by name are never left out of a narrow table.
    named = bool(request.fields)
    columns = [Column(p.name, p.label, required=named) for p in props]
    return Listing(query, columns, props, request.show_sensitive)


def _compared_fields(expr: Expr | None) -> set[str]:
    """Fields whose values a query compares (presence tests left out)."""
    if expr is None:
        return set()
    if isinstance(expr, Condition):
        presence = expr.op in (Op.HAS_PROPERTY, Op.NOT_HAS_PROPERTY)
        return set() if presence else {expr.field}
    if isinstance(expr, Not):
        return _compared_fields(expr.item)
    return set().union(*(_compared_fields(item) for item in expr.items))


def rows(subscriptions: Iterable[Subscription]) -> Iterator[dict[str, Any]]:
    for sub in subscriptions:
        yield sub.properties


def list_rows(records: RecordStore, listing: Listing) -> Iterator[dict[str, Any]]:
    found = rows(records.search(listing.query, [p.name for p in listing.properties]))
    mask = masker(listing.properties, show=listing.show_sensitive)
    return map(mask.row, found) if mask.names else found


def stored_rows(records: RecordStore, listing: Listing) -> StoredRows:
    """The rows of a listing as an export streams them (``export.cells``): stored values,
    converted once per cell by the csv/json/ndjson writers, which write the same bytes as from
    ``list_rows`` (option values, highly sensitive values masked unless shown)."""
    from subctl.export.cells import Source, StoredRows

    names = [p.name for p in listing.properties]
    mask = masker(listing.properties, show=listing.show_sensitive)
    # amounts with their currency's decimals when the currency is listed, as ``list_rows``
    # reads them (``Subscription``)
    at = names.index(CURRENCY_PROPERTY) if CURRENCY_PROPERTY in names else None
    sources = [Source(p, masked=p.name in mask.names, currency_at=at if p.money else None)
               for p in listing.properties]  # fmt: skip
    chunks = records.search_stored(listing.query, names)
    return StoredRows(listing.columns, sources, range(len(names)), chunks)


def total_if_cut(records: RecordStore, listing: Listing, shown: int) -> int | None:
    """The number of matches when the limit cut the result, else None. The COUNT runs only
    when the limit was reached."""
    limit = listing.query.limit
    if limit is None or shown < limit:
        return None
    total = records.count(listing.query.where)
    return total if total > shown else None


def detail(records: RecordStore, workspace: Workspace, sub_id: int) -> SubscriptionDetail:
    """A subscription with its associations, payments and history (the record store's) and
    the mail recorded for it (the workspace's outbox); raises NotFound."""
    found = records.detail(sub_id)
    found.outbox = workspace.outbox(sub_id)
    return found


def detail_document(
    detail: SubscriptionDetail, registry: PropertyRegistry, *, show_sensitive: bool = False
) -> dict[str, Any]:
    """``view --format json``: properties (standard then custom), associations, payments,
    change history. Highly sensitive values (and their history) are masked unless
    ``show_sensitive`` (the caller checks the permission: ``services.properties``)."""
    sub = detail.subscription
    status = STATUS_BY_VALUE.get(sub.status or "")
    standard = [p for p in registry if p.hubspot_defined]
    custom = [p for p in registry if not p.hubspot_defined]
    document = {
        "id": sub.id,
        "properties": {p.name: sub.properties.get(p.name) for p in standard + custom},
        "status": {"value": status.value, "label": status.label, "meaning": status.meaning}
        if status
        else None,
        "associations": {
            name: [
                {"id": a.id, "label": a.label, "associationTypeId": a.type_id,
                 **({"details": list(a.details)} if a.details else {})}
                for a in detail.associations if a.object_type == name
            ]
            for name in ASSOCIATION_BY_NAME
            if any(a.object_type == name for a in detail.associations)
        },
        "payments": [
            {"id": p.id, "amount": p.amount, "currency": p.currency, "status": p.status,
             "method": p.method, "kind": p.kind, "created_at": p.created_at,
             "pending_bank_payment": p.pending_bank_payment}
            for p in detail.payments
        ],
        "history": [
            {"property": c.property, "old": c.old_value, "new": c.new_value,
             "changed_at": c.changed_at, "source": c.source}
            for c in detail.history
        ],
        # e-mails to the buyer recorded by lifecycle verbs (local workspace)
        "outbox": [
            {"id": m.id, "kind": m.kind, "to": m.recipient, "subject": m.subject,
             "body": m.body, "link": m.link, "created_at": m.created_at, "job": m.job_id}
            for m in detail.outbox
        ],
        # the billing timeline, oldest first (local workspace: ``subctl billing``)
        "events": [
            {"id": e.id, "day": e.at.date(), "kind": e.kind, "outcome": e.outcome,
             "old_status": e.old_status, "new_status": e.new_status, "amount": e.amount,
             "currency": e.currency, "payment": e.payment_id, "job": e.job_id, "note": e.note}
            for e in detail.events
        ],
    }  # fmt: skip
    return mask_document(document, registry, show=show_sensitive)


# -- masking highly sensitive values -------------------------------------------------


def mask_document(
    document: dict[str, Any], registry: PropertyRegistry, *, show: bool
) -> dict[str, Any]:
    """Mask the highly sensitive values of a ``detail_document`` and of its history."""
    mask = masker(registry, show=show)
    if not mask.names:
        return document
    document["properties"] = mask.row(document["properties"])
    for change in document.get("history", []):
        change["old"] = mask.value(change["property"], change["old"])
        change["new"] = mask.value(change["property"], change["new"])
    return document
