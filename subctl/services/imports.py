"""``subctl import FILE``: subscriptions from a CSV, XLSX, NDJSON or JSON export (or a ``delete
--backup``) back into the workspace.

**Columns.** The header row names each column: ``Record ID``, a property (its header in any
export language, ``export.headers``; its internal name, alias or label: label and
``--internal-names`` exports alike), or an association pair (``Associated Contact IDs`` /
``Associated Contact``, in any export language); a ``delete --backup`` .ndjson or .json
record reads as these columns (``export.readers``). A header that is none of these is a
usage error naming the column, with the closest known header as a hint. Columns subctl
computes (``computed``: MRR, the create and modified dates, the payment counters, the
cancellation and pause data the verbs set, ...) and the status (which the lifecycle verbs and
billing change) are never written over an existing subscription; a row that *creates* a
subscription keeps them as exported (a restore: an export imported into a new workspace
exports again identically). Calculated custom properties are never written. Which columns are
ignored, and why, is said once (``Layout.ignored``).

**Values** go through the one value codec and the rules ``update --set`` checks
(``services.values.coerce_value``: type, options or their labels, limits, validation rules;
a next payment amount within its currency's precision). An empty cell is no value: it clears
the property of an existing subscription. A cell an export neutralised for spreadsheets
(``'=...``) is read without the leading quote; a highly sensitive value an export masked
(``******``) is not in the file: the stored value stays. The state rules of ``update``
(editable statuses, the edit freeze, billable) do not apply: an import restores records as
they were exported, and never changes a status; but a row that changes an existing
subscription's next payment due date to a day before today fails, as ``update`` refuses it
(billing would charge the periods between again).

**Rows.** Upsert by Record ID: a subscription that exists gets the values that differ
("unchanged" when none does and it has every association the row names); an unknown Record ID
creates the subscription with that id; a row without one creates a subscription with a new id
from the database. A bad row is reported with its line and reason and the others go on
(``--strict``: every row is checked first and nothing is written if any is bad).

**Associations** are added from the ``Associated X IDs`` columns (ids separated by ``;``); the
associations a subscription has are kept. An associated record missing from the workspace is
created with its id from its label in the ``Associated X`` column (labels separated by ``; ``,
paired with the ids by position), as ``subctl.labels`` writes them: a contact from ``First
Last (email)`` (the first word is the first name, the rest the last name; a label that is the
id alone: no name; ``(a@x, b@y)``: every e-mail), a company from its name (``Name (domain,
domain)``: with every domain), a deal, order or payment link from its name, a quote from its
title, an invoice from its number, a line item from ``Name × quantity`` (price 0: the label
holds none), a payment from ``99.00 USD succeeded (card)``, a feedback submission from
``Survey (sentiment)``, a custom object record from ``Name (object)``. Without a label (or
when the counts of ids and labels differ) the record must exist, else the row fails.

**Journal.** A run is a job (``jobs list``; ``jobs resume N``) whose items are the file's data
rows, keyed by line number (the row's first line; XLSX: its row number), with the file's path
and SHA-256 recorded: a resume with a changed file is refused. Rows are decided and written in
chunks, each chunk's writes and journal outcomes in one transaction (``UnitOfWork``), so a
crash loses at most the chunk in flight and each row is applied once. Running the same import
(same file, same content) while its job is unfinished resumes that job.
"""

from __future__ import annotations

import datetime as dt
import difflib
import hashlib
import json
import os
import re
from collections.abc import Callable, Generator, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from functools import cached_property
from pathlib import Path
from typing import Any

from subctl.errors import Conflict, InvalidState, SubctlError, UsageError
from subctl.export import readers
from subctl.export.headers import HeaderRef
from subctl.export.values import unneutralise
from subctl.labels import DETAIL_SEPARATOR
from subctl.schema import (
    ASSOCIATION_BY_NAME,
    ASSOCIATION_OBJECTS,
    MASK,
    Property,
    PropertyRegistry,
)
from subctl.services.batch import chunk_size, gc_paused
from subctl.services.validation import is_domain
from subctl.store.base import ItemOutcome, Job, RecordStore, UnitOfWork, Workspace
from subctl.store.ops import NewRecord, Upsert
from subctl.store.unit import ItemByItem

VERB = "import"
SOURCE = "import"
# A changed next payment due date before today: billing has carried out the days before today,
# so the periods between would be charged again (``update --set`` refuses it too). A row that
# creates (restores) a subscription keeps its date as exported.
_PAST_DUE = (
    "next_payment_due_date {due} is in the past: billing has carried out the days before today"
)
# Rows per transaction. Smaller than a batch's chunk: an import row holds every column's value
# (a 100,000-row export with associations: 114 MiB peak at 2,000 rows, 261 MiB at 10,000, for
# a fifth more time). SUBCTL_BATCH_CHUNK overrides it, as for batches.
CHUNK = 2_000
MEMO_LIMIT = 50_000  # parsed cells remembered per run (exports repeat most values)


# -- columns ---------------------------------------------------------------------------------


def resolve_header(header: str, registry: PropertyRegistry) -> HeaderRef | None:
    """What a column is: a header of any export language (``export.headers.resolve``), else a
    property's internal name, alias or label (custom properties keep their label), else an
    association column by internal name (``associated_contact_ids``, ``associated_contact``)."""
    from subctl.export.headers import resolve

    found = resolve(header)
    if found is not None:
        return found
    prop = registry.get(header)
    if prop is not None:
        if prop.name == "hs_object_id":
            return HeaderRef("record_id", prop.name)
        return HeaderRef("property", prop.name)
    text = "_".join(header.split()).casefold()
    for obj in ASSOCIATION_OBJECTS:
        if text in (f"associated_{obj.name}_ids", f"associations.{obj.name}"):
            return HeaderRef("association_ids", obj.name)
        if text == f"associated_{obj.name}":
            return HeaderRef("association", obj.name)
    return None


def _known_headers(registry: PropertyRegistry) -> list[str]:
    from subctl.export.headers import headers

    english = headers("en")
    known = [english.record_id, *(english.property(p.name, p.label) for p in registry)]
    known += registry.names()
    for obj in ASSOCIATION_OBJECTS:
        known += [english.association(obj.name), english.association_ids(obj.name)]
    return known


@dataclass(frozen=True)
class PropertyColumn:
    index: int
    prop: Property
    computed: bool  # written only when the row creates a subscription


@dataclass
class Layout:
    """What each column of the file is."""

    record_id: int | None = None
    properties: list[PropertyColumn] = field(default_factory=list)
    ids: dict[str, int] = field(default_factory=dict)  # object name -> column of its ids
    labels: dict[str, int] = field(default_factory=dict)  # object name -> column of labels
    ignored: list[tuple[str, str]] = field(default_factory=list)  # (headers, why)

    @cached_property
    def columns(self) -> list[tuple[int, Property, bool]]:
        return [(c.index, c.prop, c.computed) for c in self.properties]

    @property
    def fields(self) -> list[str]:
        return ["hs_status", *(c.prop.name for c in self.properties)]


def computed(prop: Property) -> bool:
    """A column subctl computes (or the verbs set, the status included: it changes through the
    lifecycle verbs and billing): never written over a stored value."""
    return prop.name == "hs_status" or (prop.name != "hs_object_id" and prop.read_only_value)


def layout(header: Sequence[str], registry: PropertyRegistry) -> Layout:
    """The columns of ``header``; UsageError for one that names nothing (or a column twice)."""
    out = Layout()
    seen: dict[tuple[str, str], str] = {}
    calculated: list[str] = []
    kept: list[str] = []
    status = ""
    names = header if isinstance(header, readers.Header) else readers.Header(header)
    for index, raw in enumerate(header):
        text = raw.strip()
        ref = resolve_header(text, registry)
        if ref is None:
            close = difflib.get_close_matches(text, _known_headers(registry), n=1, cutoff=0.6)
            raise UsageError(
                f"{names.place(index)} is neither a property nor an association column",
                hint=f'did you mean "{close[0]}"?'
                if close
                else "`subctl property list` lists the properties",
            )
        if (ref.kind, ref.name) in seen:
            raise UsageError(f'{names.place(index)} repeats column "{seen[ref.kind, ref.name]}"')
        seen[ref.kind, ref.name] = text
        if ref.kind == "record_id":
            out.record_id = index
        elif ref.kind == "association_ids":
            out.ids[ref.name] = index
        elif ref.kind == "association":
            out.labels[ref.name] = index
        else:
            prop = registry.get(ref.name)
            assert prop is not None
            if prop.is_calculated:
                calculated.append(text)
                continue
            if prop.name == "hs_status":
                status = text
            elif computed(prop):
                kept.append(text)
            out.properties.append(PropertyColumn(index, prop, computed(prop)))
    lone = [header[i].strip() for name, i in out.labels.items() if name not in out.ids]
    if calculated:
        out.ignored.append((", ".join(calculated), "calculated properties: never written"))
    if kept:
        why = "computed by subctl: kept when a row creates a subscription (restored as exported)"
        out.ignored.append((", ".join(kept), why + ", never written over an existing one"))
    if status:
        why = "changed by the lifecycle verbs and billing: kept when a row creates a subscription"
        out.ignored.append((status, why + ", never written over an existing one"))
    if lone:
        out.ignored.append((", ".join(lone), "labels without their IDs column: not read"))
    return out


# -- values ----------------------------------------------------------------------------------


class _Cells:
    """Cell text -> checked typed value of a property, memoised per property (exports repeat
    values): ``memo(name)`` is the property's table of text -> (ok, value or error message)."""

    def __init__(self, today: dt.date, now: dt.datetime) -> None:
        self.today, self.now = today, now
        self.memos: dict[str, dict[str, tuple[bool, Any]]] = {}
        self.size = 0

    def memo(self, name: str) -> dict[str, tuple[bool, Any]]:
        return self.memos.setdefault(name, {})

    def miss(self, prop: Property, text: str) -> tuple[bool, Any]:
        from subctl.services.values import coerce_value

        if self.size > MEMO_LIMIT:
            for table in self.memos.values():  # emptied in place: callers hold them
                table.clear()
            self.size = 0
        try:
            hit = (True, coerce_value(prop, text, today=self.today, now=self.now))
        except SubctlError as exc:
            hit = (False, exc.message)
        self.memos[prop.name][text] = hit
        self.size += 1
        return hit

    def value(self, prop: Property, text: str) -> Any:
        hit = self.memo(prop.name).get(text) or self.miss(prop, text)
        if not hit[0]:
            raise UsageError(hit[1])
        return hit[1]


_DETAIL = re.compile(r"^(.*?)\s*\(([^()]*)\)$")  # "Name (detail)"
_PAYMENT = re.compile(r"^(\S+) ([A-Za-z]{3}) (\S+) \((\S+)\)$")


def record_from_label(obj: str, record_id: int, label: str | None, now: dt.datetime) -> NewRecord:
    """The associated record to create from its label (see the module docstring); values None
    when the label says too little (the record must exist)."""
    values: dict[str, Any] | None = None
    text = (label or "").strip()
    if text:
        values = {"created_at": now}
        if obj == "contact":
            name, emails = text, []
            match = _DETAIL.match(text)
            if match:  # the first e-mail, or every one (--all-emails)
                name = match.group(1).strip()
                emails = [e.strip() for e in match.group(2).split(DETAIL_SEPARATOR) if e.strip()]
            if name == str(record_id):
                name = ""
            first, _, last = name.partition(" ")
            values.update(firstname=first or None, lastname=last.strip() or None, emails=emails)
        elif obj == "company":
            name, domains = text, []
            match = _DETAIL.match(text)
            if match:  # with every domain (--all-domains), when each is a domain name
                found = [d.strip() for d in match.group(2).split(DETAIL_SEPARATOR)]
                if all(is_domain(d) for d in found):
                    name, domains = match.group(1).strip(), found
            values.update(name=name, domains=domains)
        elif obj in ("deal", "order", "payment_link"):
            values.update(name=text)
        elif obj == "quote":
            values.update(title=text, status=None)
        elif obj == "invoice":
            values.update(number=text, amount=None, status=None)
        elif obj == "feedback_submission":
            match = _DETAIL.match(text)
            survey, sentiment = (match.group(1), match.group(2)) if match else (text, None)
            values.update(survey=survey.strip(), sentiment=sentiment)
        elif obj == "custom_record" and _DETAIL.match(text):
            match = _DETAIL.match(text)
            assert match is not None
            values.update(name=match.group(1).strip(), object_name=match.group(2).strip())
        elif obj == "line_item":
            name, sep, quantity = text.rpartition(" × ")
            values.update(name=name if sep else text, price=Decimal(0),
                          quantity=int(quantity) if sep and quantity.isdigit() else 1)  # fmt: skip
        elif obj == "payment" and _PAYMENT.match(text):
            match = _PAYMENT.match(text)
            assert match is not None
            try:
                amount = Decimal(match.group(1))
            except InvalidOperation:
                return NewRecord(object_type=obj, id=record_id, values=None)
            currency, status, method = match.group(2).upper(), match.group(3), match.group(4)
            values.update(
                amount=amount, currency=currency, status=status, method=method, kind="payment"
            )
        else:
            values = None
    return NewRecord(object_type=obj, id=record_id, values=values)


# -- rows ------------------------------------------------------------------------------------


@dataclass(slots=True)
class RowResult:
    line: int
    record_id: int | None
    outcome: str  # create, update, unchanged, error (a run: created, updated, unchanged, failed)
    note: str
    status: str | None = None
    op: Upsert | None = None

    def row(self) -> dict[str, Any]:
        sid = self.op.subscription_id if self.op is not None else self.record_id
        return {"line": self.line, "id": sid or None, "outcome": self.outcome,
                "status": self.status, "note": self.note}  # fmt: skip


RESULT_COLUMNS = (("line", "Line"), ("id", "Record ID"), ("outcome", "Outcome"),
                  ("status", "Status"), ("note", "Note"))  # fmt: skip
DONE = {"create": "created", "update": "updated", "unchanged": "unchanged", "error": "failed"}
JOURNAL = {"created": "ok", "updated": "ok", "unchanged": "skipped", "failed": "failed"}


def _cell(cells: Sequence[str], index: int) -> str:
    text = cells[index].strip() if index < len(cells) else ""
    return unneutralise(text) if text[:1] == "'" else text


def _record_id(text: str) -> int | None:
    if not text:
        return None
    value = int(text) if text.isascii() and text.isdigit() and len(text) <= 18 else 0
    if value < 1:
        raise UsageError(f'Record ID "{text}" is not a record id')
    return value


@dataclass(slots=True)
class _Parsed:
    line: int
    record_id: int | None
    values: dict[str, Any]  # non-computed properties
    computed: dict[str, Any]
    links: dict[str, list[tuple[int, str | None]]]  # object -> [(id, label)]


def _parse(line: int, cells: Sequence[str], lay: Layout, parse: _Cells) -> _Parsed:
    rid = _record_id(_cell(cells, lay.record_id)) if lay.record_id is not None else None
    values: dict[str, Any] = {}
    made: dict[str, Any] = {}
    width = len(cells)
    miss = parse.miss
    for index, prop, is_computed in lay.columns:
        target = made if is_computed else values
        text = cells[index].strip() if index < width else ""
        if not text:
            target[prop.name] = None
            continue
        if text[:1] == "'":
            text = unneutralise(text)
        elif text == MASK and prop.highly_sensitive:
            continue  # masked by the export: the value is not in the file, the stored one stays
        hit = parse.memo(prop.name).get(text) or miss(prop, text)
        if not hit[0]:
            raise UsageError(hit[1])
        target[prop.name] = hit[1]
    links: dict[str, list[tuple[int, str | None]]] = {}
    for obj, index in lay.ids.items():
        raw = [p.strip() for p in _cell(cells, index).split(";") if p.strip()]
        ids = []
        for part in raw:
            if not (part.isascii() and part.isdigit() and 0 < int(part) < 2**63):
                label = ASSOCIATION_BY_NAME[obj].label
                raise UsageError(f'Associated {label} IDs: "{part}" is not a record id')
            ids.append(int(part))
        at = lay.labels.get(obj)
        texts = _cell(cells, at).split("; ") if at is not None else []
        paired = texts if len(texts) == len(ids) else [None] * len(ids)
        links[obj] = list(zip(ids, paired, strict=True))
    return _Parsed(line, rid, values, made, links)


def decide(
    records: RecordStore,
    lay: Layout,
    rows: Sequence[readers.Row],
    parse: _Cells,
    *,
    now: dt.datetime,
) -> list[RowResult]:
    """What each row does (nothing is written): create, update, unchanged or error, with the
    operation of the rows that write."""
    from subctl.services.validation import money_problem

    results: list[RowResult] = []
    parsed: list[_Parsed | RowResult] = []
    for line, cells in rows:
        rid = None
        try:
            if lay.record_id is not None:
                rid = _record_id(_cell(cells, lay.record_id))
            parsed.append(_parse(line, cells, lay, parse))
        except UsageError as exc:
            parsed.append(RowResult(line, rid, "error", exc.message))
    ids = [p.record_id for p in parsed if isinstance(p, _Parsed) and p.record_id]
    stored = records.get_many(list(dict.fromkeys(ids)), lay.fields) if ids else {}
    # The associations of the existing subscriptions the rows link: one read per chunk.
    linking = list(stored) if lay.ids else []
    linked = records.association_cells(linking, list(lay.ids), cap=None) if linking else {}
    seen: dict[int, int] = {}
    for p in parsed:
        if isinstance(p, RowResult):
            results.append(p)
            continue
        rid = p.record_id
        if rid is not None and rid in seen:
            results.append(RowResult(p.line, rid, "error",
                                     f"Record ID {rid} is also on line {seen[rid]}"))  # fmt: skip
            continue
        if rid is not None:
            seen[rid] = p.line
        sub = stored.get(rid) if rid is not None else None
        props = sub.properties if sub is not None else {}
        wanted = p.values if sub is not None else {**p.computed, **p.values}
        amount = wanted.get("hs_next_payment_amount")
        if amount is not None:
            problem = money_problem(amount, wanted.get("hs_currency_code",
                                                       props.get("hs_currency_code")))  # fmt: skip
            if problem:
                results.append(RowResult(p.line, rid, "error", problem))
                continue
        if sub is None:
            values = {k: v for k, v in wanted.items() if v is not None}
            every = [(obj, oid, label) for obj, pairs in p.links.items() for oid, label in pairs]
            op = Upsert(
                subscription_id=rid or 0,
                expect_status=None,
                at=now,
                source=SOURCE,
                values=values,
                create=True,
                associations=_links(every),
                records=tuple(record_from_label(obj, oid, label, now) for obj, oid, label in every),
            )
            status = values.get("hs_status")
            results.append(RowResult(p.line, rid, "create", _created_note(values, p.links),
                                     None if status is None else str(status), op))  # fmt: skip
            continue
        assert rid is not None
        changes = {k: v for k, v in wanted.items() if props.get(k) != v}
        new_links: list[tuple[str, int, str | None]] = []
        if any(p.links.values()):
            have = linked.get(rid, {})
            new_links = [(obj, oid, label) for obj, pairs in p.links.items()
                         for oid, label in pairs
                         if obj not in have or oid not in have[obj].ids]  # fmt: skip
        status = sub.status
        due = changes.get("hs_next_payment_due_date")
        if isinstance(due, dt.date) and due < now.date():  # as ``update --set`` refuses it
            results.append(RowResult(p.line, rid, "error", _PAST_DUE.format(due=due), status))
            continue
        if not changes and not new_links:
            results.append(RowResult(p.line, rid, "unchanged", "no change", status))
            continue
        op = Upsert(
            subscription_id=rid,
            expect_status=status,
            at=now,
            source=SOURCE,
            values=changes,
            associations=_links(new_links),
            records=tuple(record_from_label(obj, oid, label, now) for obj, oid, label in new_links),
        )
        new_status = changes.get("hs_status", status)
        results.append(RowResult(p.line, rid, "update", _updated_note(changes, new_links),
                                 None if new_status is None else str(new_status), op))  # fmt: skip
    return results


def _links(links: Sequence[tuple[str, int, str | None]]) -> tuple[tuple[str, int, int], ...]:
    return tuple((obj, oid, ASSOCIATION_BY_NAME[obj].type_id) for obj, oid, _ in links)


def _created_note(values: dict[str, Any], links: dict[str, list[tuple[int, str | None]]]) -> str:
    count = sum(len(pairs) for pairs in links.values())
    return f"{len(values)} values" + (f", {count} associations" if count else "")


def _updated_note(changes: dict[str, Any], links: Sequence[tuple[str, int, str | None]]) -> str:
    parts = []
    if changes:
        parts.append("set " + ", ".join(changes))
    if links:
        parts.append("associated " + ", ".join(f"{obj} {oid}" for obj, oid, _ in links))
    return "; ".join(parts)


def import_chunk() -> int:
    return chunk_size() if os.environ.get("SUBCTL_BATCH_CHUNK") else CHUNK


def _chunks(rows: Iterable[readers.Row], size: int) -> Iterator[list[readers.Row]]:
    part: list[readers.Row] = []
    for row in rows:
        part.append(row)
        if len(part) >= size:
            yield part
            part = []
    if part:
        yield part


# -- dry runs, strict checks -------------------------------------------------------------------


@dataclass(frozen=True)
class Source:
    """The file of an import: its absolute path, reader and digest."""

    path: Path
    fmt: str
    digest: str

    @classmethod
    def of(cls, path: Path, fmt: str | None = None) -> Source:
        target = Path(path).expanduser()
        if target.is_dir():
            raise UsageError(f"{path} is a directory", hint="name a .csv or .xlsx file")
        if not target.exists():
            raise UsageError(f"{path}: no such file")
        return cls(target.resolve(), readers.for_path(target, fmt), readers.digest(target))

    @property
    def fingerprint(self) -> str:
        blob = json.dumps({"verb": VERB, "file": str(self.path), "digest": self.digest})
        return hashlib.sha256(blob.encode()).hexdigest()


def read_layout(source: Source, registry: PropertyRegistry) -> Layout:
    with readers.open_rows(source.path, source.fmt) as (header, _rows):
        return layout(header, registry)


def preview(
    records: RecordStore,
    source: Source,
    now: dt.datetime,
    on_layout: Callable[[Layout], None] = lambda _layout: None,
) -> Generator[list[RowResult], None, None]:
    """What the import would do, chunk by chunk (``--dry-run``, ``--strict``'s check);
    ``on_layout`` is told the columns first."""
    registry = records.properties()
    parse = _Cells(now.date(), now)
    with readers.open_rows(source.path, source.fmt) as (header, rows):
        lay = layout(header, registry)
        on_layout(lay)
        for part in _chunks(rows, import_chunk()):
            yield decide(records, lay, part, parse, now=now)


# -- the journaled run -------------------------------------------------------------------------


def start(
    workspace: Workspace, registry: PropertyRegistry, source: Source, now: dt.datetime
) -> tuple[Job, bool, Layout]:
    """The job of this import: the unfinished one of the same file and content (True), else a
    new one journaling every data row (False); and the file's columns (read in the same pass:
    an XLSX sheet is loaded whole, once per pass)."""
    found = workspace.unfinished_job(source.fingerprint)
    if found is not None:
        return found, True, read_layout(source, registry)
    with readers.open_rows(source.path, source.fmt) as (header, rows):
        lay = layout(header, registry)  # a bad header: no job
        job = workspace.create_job(
            verb=VERB,
            action={"file": str(source.path), "format": source.fmt, "digest": source.digest},
            selection={"file": str(source.path)},
            fingerprint=source.fingerprint,
            frozen=False,
            items=((line, None) for line, _cells in rows),
            at=now,
        )
    return job, False, lay


def job_source(job: Job) -> Source:
    """The file of an import job, as journaled; UsageError when it is gone or changed."""
    path = Path(str(job.action["file"]))
    if not path.is_file():
        raise UsageError(f"job {job.id} imports {path}, which is gone; nothing done")
    source = Source(path, str(job.action["format"]), readers.digest(path))
    if source.digest != job.action["digest"]:
        raise UsageError(
            f"{path} changed since job {job.id} started; nothing done",
            hint="restore the file the job started with, or import the new file as a new job",
        )
    return source


def run(
    records: RecordStore,
    workspace: Workspace,
    unit: UnitOfWork,
    job: Job,
    clock: Callable[[], dt.datetime],
    *,
    stop: Callable[[], bool] = lambda: False,
) -> Generator[list[RowResult], None, None]:
    """Apply the job's unprocessed rows chunk by chunk, each chunk's writes with its journal
    outcomes in one transaction; yields each chunk's results once written; marks the job done
    at the end. ``stop`` is asked between chunks (KeyboardInterrupt: the job stays
    resumable)."""
    if job.status != "unfinished":
        raise InvalidState(f"job {job.id} is {job.status}; nothing left to resume")
    if isinstance(unit, ItemByItem):
        # Its journal claims are per subscription; an import's items are the file's rows.
        raise InvalidState("imports need a record store that shares the workspace's transactions")
    source = job_source(job)
    registry = records.properties()
    size = import_chunk()
    now = clock()
    parse = _Cells(now.date(), now)

    def pending(after: int | None) -> tuple[list[int], int | None]:
        found = list(workspace.job_items(job.id, unprocessed_only=True, after=after, limit=size))
        return [i.subscription_id for i in found], (found[-1].position if found else after)

    with gc_paused(), readers.open_rows(source.path, source.fmt) as (header, rows):
        lay = layout(header, registry)
        lines, last = pending(None)
        while lines:
            if stop():
                raise KeyboardInterrupt
            wanted = set(lines)
            part = []
            for row in rows:
                if row[0] in wanted:
                    part.append(row)
                    if row[0] == lines[-1]:
                        break
            if len(part) != len(lines):
                raise UsageError(f"{source.path} ended before line {lines[-1]}; it changed")
            yield _write(records, unit, job, lay, part, parse, clock())
            lines, last = pending(last)
    workspace.set_job_status(job.id, "done", clock())


def _write(
    records: RecordStore,
    unit: UnitOfWork,
    job: Job,
    lay: Layout,
    part: list[readers.Row],
    parse: _Cells,
    now: dt.datetime,
) -> list[RowResult]:
    results = decide(records, lay, part, parse, now=now)
    for r in results:
        r.outcome = DONE[r.outcome]

    def outcome(r: RowResult) -> ItemOutcome:
        return ItemOutcome(r.line, JOURNAL[r.outcome], r.status, f"{r.outcome}: {r.note}", now)

    try:
        unit.write(job.id, [r.op for r in results if r.op is not None], list(map(outcome, results)))
        return results
    except Conflict:
        pass
    # One row breaks the chunk (a record that must exist, a unique value, a concurrent
    # change): row by row, so that only the offending rows fail.
    for r in results:
        try:
            unit.write(job.id, [r.op] if r.op is not None else [], [outcome(r)])
        except Conflict as exc:
            r.note = exc.message.removesuffix("; nothing was written")
            if r.op is not None and r.op.create:
                r.status = None  # not created: it has no status
            r.outcome, r.op = "failed", None
            try:
                unit.write(job.id, [], [outcome(r)])
            except Conflict:
                continue  # journaled by another run meanwhile
    return results
