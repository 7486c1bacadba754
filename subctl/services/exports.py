"""Exports: which subscriptions, which columns in which order, and the row stream an export
writes (``subctl export``; the article's export rules, DOMAIN.md §0 and §5).

Columns (``--properties``):
- ``view``: the view's columns in the view's order (without ``--view``: the columns ``list``
  shows by default). Views hold no association columns, so none are added.
- ``all``: Record ID first, then every property (standard and custom) alphabetically by its
  header in the chosen language.
- ``all+associations``: ``all``, then a pair of columns per associated object, in
  ``schema.ASSOCIATION_OBJECTS``'s order: ``Associated Contact IDs`` (record ids joined with
  ``;``, no space) and ``Associated Contact`` (display labels joined with ``; ``).

``--internal-names``: headers are internal names (association pairs:
``associated_<object>_ids`` and ``associated_<object>``) and enumeration cells hold option
values; otherwise headers are in the chosen language and enumeration cells hold labels
(several options of a multiple checkbox: labels joined with ``;``, as their values are).
Other values are written as ``codec.to_text`` / ``to_json`` writes them in both modes.

Rows come in the view's sort, else by Record ID (a stable order: nightly files diff well).
They stream from the record store in chunks of stored values (``RecordStore.search_stored``)
and are converted once per cell by the writer (``export/cells.py``); association cells are
read per chunk, one query per object type (``RecordStore.association_cells``).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import IO, TYPE_CHECKING, Any

from subctl.errors import UsageError
from subctl.export import Column
from subctl.export.cells import Source, StoredRows
from subctl.query.ast import Query
from subctl.schema import (
    ASSOCIATION_OBJECTS,
    DEFAULT_LIST_FIELDS,
    Property,
    PropertyRegistry,
    PropType,
)
from subctl.services.masking import masked_names
from subctl.services.subscriptions import ListRequest, build_listing, resolve_fields
from subctl.store.base import FileExport, FileExporter, RecordStore, Workspace

if TYPE_CHECKING:
    from subctl.export.headers import Headers

PROPERTY_MODES = ("view", "all", "all+associations")
ASSOCIATION_CAP = 1000  # associated records per cell unless --all-associations (HubSpot's)
RECORD_ID = "hs_object_id"
CURRENCY = "hs_currency_code"


@dataclass
class ExportRequest:
    view: str | None = None
    where: str | None = None
    segment: str | None = None  # a segment's members (``--segment``)
    all: bool = False
    properties: str = "view"
    internal_names: bool = False
    language: str | None = None
    all_associations: bool = False
    all_emails: bool = False
    all_domains: bool = False
    show_sensitive: bool = False


@dataclass
class ExportPlan:
    query: Query
    columns: list[Column]
    sources: list[Source]
    fields: list[str]  # the stored fields read, in order: Record ID first
    positions: list[int]  # per column, its place in a stored row (associations after fields)
    associations: list[str] = field(default_factory=list)  # object names, in column order
    cap: int | None = ASSOCIATION_CAP
    all_emails: bool = False
    all_domains: bool = False
    view: str | None = None
    extra: list[tuple[str, Source, int]] = field(default_factory=list)


def header_language(language: str | None) -> Headers:
    """The headers of ``--language`` (else the config's ``language``, else English)."""
    from subctl.export import headers

    return headers.default(language)


def kind_of(prop: Property) -> str:
    if prop.type is PropType.NUMBER:
        return "money" if prop.money else "number"
    if prop.type is PropType.ENUMERATION:
        return "enum"
    if prop.type is PropType.STRING:
        return "text"
    return str(prop.type.value)  # date, datetime, bool


def plan_export(
    records: RecordStore,
    workspace: Workspace,
    request: ExportRequest,
    today: dt.date,
    now: dt.datetime | None = None,
) -> ExportPlan:
    """Check the request and work out the query, the columns and how each cell is read."""
    if request.properties not in PROPERTY_MODES:
        raise UsageError(
            f'unknown --properties "{request.properties}"; one of: {", ".join(PROPERTY_MODES)}'
        )
    if request.all and (request.view or request.where or request.segment):
        raise UsageError(
            "--all cannot be combined with --view, --where or --segment",
            hint="--all exports every subscription; --view, --where or --segment selects some",
        )
    if not (request.all or request.view or request.segment or request.where is not None):
        raise UsageError(
            "say which subscriptions to export",
            hint="add --all, --view NAME, --segment NAME or --where EXPR",
        )
    listing = build_listing(
        records,
        workspace,
        ListRequest(
            where=request.where,
            view=request.view,
            segment=request.segment,
            show_sensitive=request.show_sensitive,
        ),  # fmt: skip
        today,
        now,
    )
    view = workspace.get_view(request.view) if request.view else None
    sort = listing.query.sort if view and view.sort else None  # else by Record ID
    query = Query(where=listing.query.where, sort=sort)
    registry = records.properties()
    names = headers_for(request)
    props = _properties(registry, request, view.columns if view else (), names)
    masked = masked_names(props) if not request.show_sensitive else frozenset()
    labels = not request.internal_names

    fields = [RECORD_ID] + [p.name for p in props if p.name != RECORD_ID]
    columns: list[Column] = []
    sources: list[Source] = []
    positions: list[int] = []
    # Money cells take their row's currency's decimals (codec.currency_decimals): where the
    # currency sits in a stored row, read as an extra field when no column shows it.
    if CURRENCY in fields:
        currency_at: int | None = fields.index(CURRENCY)
    else:
        currency_at = len(fields) if CURRENCY in registry else None
    money = False
    for prop in props:
        kind = kind_of(prop)
        money = money or kind == "money"
        header = prop.name if request.internal_names else names.property(prop.name, prop.label)
        if prop.name == RECORD_ID and not request.internal_names:
            header = names.record_id
        currency = CURRENCY if kind == "money" else None
        columns.append(Column(prop.name, header, kind=kind, currency_key=currency))
        sources.append(Source(prop, labels=labels, masked=prop.name in masked,
                              currency_at=currency_at if kind == "money" else None))  # fmt: skip
        positions.append(fields.index(prop.name))
    extra: list[tuple[str, Source, int]] = []
    if money and CURRENCY not in fields and CURRENCY in registry:
        fields.append(CURRENCY)
        currency_prop = registry.get(CURRENCY)
        assert currency_prop is not None
        extra.append((CURRENCY, Source(currency_prop), len(fields) - 1))
    associations: list[str] = []
    if request.properties == "all+associations":
        for obj in ASSOCIATION_OBJECTS:
            associations.append(obj.name)
            at = len(fields) + 2 * (len(associations) - 1)
            if request.internal_names:
                ids_header, label_header = f"associated_{obj.name}_ids", f"associated_{obj.name}"
            else:
                ids_header = names.association_ids(obj.name)
                label_header = names.association(obj.name)
            columns.append(Column(f"associations.{obj.name}.ids", ids_header))
            columns.append(Column(f"associations.{obj.name}", label_header))
            sources += [Source(None), Source(None)]
            positions += [at, at + 1]
    return ExportPlan(
        query=query,
        columns=columns,
        sources=sources,
        fields=fields,
        positions=positions,
        associations=associations,
        cap=None if request.all_associations else ASSOCIATION_CAP,
        all_emails=request.all_emails,
        all_domains=request.all_domains,
        view=request.view,
        extra=extra,
    )


def headers_for(request: ExportRequest) -> Headers:
    return header_language(request.language)


def _properties(
    registry: PropertyRegistry,
    request: ExportRequest,
    view_columns: Sequence[str],
    names: Headers,
) -> list[Property]:
    if request.properties == "view":
        return resolve_fields(None, registry, view_columns or DEFAULT_LIST_FIELDS)
    record_id = registry.get(RECORD_ID)
    assert record_id is not None
    rest = [p for p in registry if p.name != RECORD_ID]

    def header(prop: Property) -> str:
        return prop.name if request.internal_names else names.property(prop.name, prop.label)

    rest.sort(key=lambda p: (header(p).casefold(), header(p)))
    return [record_id, *rest]


def total(records: RecordStore, plan: ExportPlan) -> int:
    """How many subscriptions the export writes (the progress bar's total)."""
    return records.count(plan.query.where)


def money_decimals(records: RecordStore, plan: ExportPlan, total: int) -> frozenset[int] | None:
    """The decimals the export's money cells have (``codec.currency_decimals`` of each row's
    currency): a spreadsheet writer that formats whole columns formats them exactly when there
    is one (``WriteOptions.money_decimals``). One COUNT of the rows in a currency of other than
    2 decimals (the export's ``total`` gives the rest), and when there are some, one more for
    those of 0; None without a money column."""
    from subctl.codec import CURRENCY_DECIMALS, DEFAULT_DECIMALS
    from subctl.query.ast import And, Condition, Op

    if CURRENCY not in plan.fields or not any(c.kind == "money" for c in plan.columns):
        return None

    def count(places: Sequence[int]) -> int:
        codes = tuple(c for c, p in CURRENCY_DECIMALS.items() if p in places)
        match = Condition(CURRENCY, Op.IN, codes)
        where = plan.query.where
        return records.count(match if where is None else And((where, match)))

    other = sorted({p for p in CURRENCY_DECIMALS.values() if p != DEFAULT_DECIMALS})
    odd = count(other) if total else 0
    found: set[int] = {DEFAULT_DECIMALS} if total > odd else set()
    for places in other[:-1]:  # the last group holds what remains
        if not odd:
            break
        n = count([places])
        if n:
            found.add(places)
        odd -= n
    if odd:
        found.add(other[-1])
    return frozenset(found)


@dataclass
class Cut:
    """Association cells the cap cut (said once the export is written)."""

    cells: int = 0


def rows(records: RecordStore, plan: ExportPlan, cut: Cut | None = None) -> StoredRows:
    """The export's rows: chunks of stored values, with the association cells of each chunk
    appended (``;``-joined ids, ``; ``-joined labels) when the plan has association columns."""
    chunks: Iterator[Sequence[Sequence[Any]]] = records.search_stored(plan.query, plan.fields)
    if plan.associations:
        chunks = _with_associations(records, plan, chunks, cut or Cut())
    return StoredRows(plan.columns, plan.sources, plan.positions, chunks, extra=plan.extra)


def _with_associations(
    records: RecordStore,
    plan: ExportPlan,
    chunks: Iterator[Sequence[Sequence[Any]]],
    cut: Cut,
) -> Iterator[Sequence[Sequence[Any]]]:
    empty = ("", "")
    for chunk in chunks:
        ids = [int(row[0]) for row in chunk]
        found = records.association_cells(
            ids,
            plan.associations,
            cap=plan.cap,
            all_emails=plan.all_emails,
            all_domains=plan.all_domains,
        )
        out = []
        for sub_id, row in zip(ids, chunk, strict=True):
            cells = found.get(sub_id, {})
            extra: list[str] = []
            for obj in plan.associations:
                cell = cells.get(obj)
                if cell is None or not cell.ids:
                    extra += empty
                    continue
                if cell.count > len(cell.ids):
                    cut.cells += 1
                extra.append(";".join(map(str, cell.ids)))
                extra.append("; ".join(cell.labels))
            out.append((*row, *extra))
        yield out


# -- server-side exports (``--server-side``: HubSpot's CRM exports build the file) ------------

SERVER_FORMATS = ("csv", "xlsx", "xls")


def export_by_store(
    records: RecordStore,
    workspace: Workspace,
    request: ExportRequest,
    fmt: str,
    out: IO[bytes],
    today: dt.date,
    now: dt.datetime | None = None,
    progress: Callable[[str], None] | None = None,
) -> int | None:
    """An export the record store's service builds (``store.base.FileExporter``: HubSpot's CRM
    exports), written to ``out``; the number of subscriptions in it when the service says.

    Refused before anything is sent, each with the reason: a store that cannot (a local
    workspace), a format HubSpot does not write (json, ndjson), what only subctl's own export
    does (segments, association columns, several e-mails or domains per cell), and highly
    sensitive columns without ``--show-sensitive`` (HubSpot's file would hold them unmasked).
    Rows come in HubSpot's order; headers are HubSpot's in the chosen language."""
    if not isinstance(records, FileExporter):
        raise UsageError(
            "--server-side asks HubSpot's CRM exports to build the file; this profile's "
            "records are in a local workspace",
            hint="leave out --server-side: subctl writes the file itself",
        )
    if fmt not in SERVER_FORMATS:
        raise UsageError(
            f"HubSpot's CRM exports write csv, xlsx or xls, not {fmt}",
            hint="leave out --server-side for json or ndjson",
        )
    client_side = "leave out --server-side: subctl's own export does"
    if request.segment:
        raise UsageError("--server-side cannot export a segment", hint=client_side)
    if request.properties == "all+associations":
        raise UsageError(
            "--server-side: HubSpot's export takes at most 4 associated object types, not "
            "every one",
            hint=client_side,
        )
    if request.all_associations or request.all_emails or request.all_domains:
        raise UsageError(
            "--all-associations, --all-emails and --all-domains apply to association columns, "
            "which --server-side does not write",
            hint=client_side,
        )
    plan = plan_export(records, workspace, request, today, now)
    secret = [s.prop.name for s in plan.sources if s.prop is not None and s.masked]
    if secret:
        raise UsageError(
            f"HubSpot's file would hold highly sensitive values unmasked ({', '.join(secret)})",
            hint="add --show-sensitive (needs the sensitive_data.view permission), or leave "
            "out --server-side (subctl masks them)",
        )
    spec = FileExport(
        where=plan.query.where,
        properties=tuple(c.key for c in plan.columns if c.key != RECORD_ID),
        format=fmt,
        language=headers_for(request).language,
        internal_names=request.internal_names,
        name=request.view or "subscriptions",
    )
    return records.export_file(spec, out, progress)
