"""The store protocols (``RecordStore``, ``Workspace``) and the records that cross them.

Stores return these plain records, never ORM rows or sessions. Business rules (what may be
canceled, edited, deleted) do not live here but in ``subctl.services``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from decimal import Decimal
from typing import IO, TYPE_CHECKING, Any, Protocol, runtime_checkable

from subctl.codec import DEFAULT_DECIMALS, currency_decimals
from subctl.errors import Conflict, InputError
from subctl.query.ast import Expr, Query
from subctl.schema import (
    ASSOCIATION_BY_NAME,
    CURRENCY_PROPERTY,
    Property,
    PropertyRegistry,
    in_currency,
)

if TYPE_CHECKING:
    from subctl.store.ops import Op


@dataclass(slots=True)
class Subscription:
    """HubSpot's record shape: an id and typed property values keyed by internal name."""

    id: int
    properties: dict[str, Any]

    def __post_init__(self) -> None:
        # Amounts with their currency's decimals (JPY 1500, BHD 12.300), as exports write them,
        # whichever store read them (stores read money as cents, or mills when finer).
        currency = self.properties.get(CURRENCY_PROPERTY)
        if type(currency) is str and currency_decimals(currency) != DEFAULT_DECIMALS:
            in_currency(self.properties, currency)

    @property
    def status(self) -> str | None:
        value = self.properties.get("hs_status")
        return None if value is None else str(value)


@dataclass(frozen=True, slots=True)
class AssociatedRecord:
    object_type: str  # schema.ASSOCIATION_OBJECTS: contact, company, deal, line_item, ...
    id: int
    type_id: int
    label: str  # the record's display name: "Name (email)", company name, deal name, ...
    details: tuple[str, ...] = ()  # every email of a contact, every domain of a company


@dataclass(frozen=True, slots=True)
class AssociationCell:
    """A subscription's associated records of one object type, as an export's association
    columns show them (``RecordStore.association_cells``): their ids and display labels
    (``subctl.labels``), ordered by id, at most the cap of them; ``count``: how many there are
    in all (more than ``len(ids)`` when the cap cut them)."""

    ids: tuple[int, ...]
    labels: tuple[str, ...]
    count: int


def cell_objects(objects: Sequence[str], cap: int | None) -> list[str]:
    """The object names of an ``association_cells`` request, once each and in order, checked
    the same way by every store: an unknown name or a ``cap`` below 1 is an ``InputError``."""
    names = list(dict.fromkeys(objects))
    unknown = [n for n in names if n not in ASSOCIATION_BY_NAME]
    if unknown:
        raise InputError(
            "associations",
            f'unknown object "{unknown[0]}"; one of: {", ".join(ASSOCIATION_BY_NAME)}',
        )
    if cap is not None and cap < 1:
        raise InputError("cap", f"{cap} is not a positive whole number")
    return names


@dataclass(frozen=True, slots=True)
class Payment:
    id: int
    amount: Decimal
    currency: str
    status: str  # succeeded, failed, processing, refunded, partially_refunded
    method: str  # card, ach
    kind: str  # payment, refund
    created_at: dt.datetime
    refunds_payment_id: int | None = None

    @property
    def pending_bank_payment(self) -> bool:
        return self.method == "ach" and self.status == "processing" and self.kind == "payment"


@dataclass(frozen=True, slots=True)
class LineItem:
    """A line item: ``quantity`` units at ``price`` each, per billing period."""

    id: int
    name: str
    quantity: int
    price: Decimal


@dataclass(frozen=True, slots=True)
class Change:
    property: str
    old_value: str | None
    new_value: str | None
    changed_at: dt.datetime
    source: str


@dataclass(frozen=True, slots=True)
class SavedView:
    name: str
    where: str  # the query text, as the user wrote it (re-parsed against current properties)
    columns: tuple[str, ...] = ()
    sort: str | None = None
    builtin: bool = False


@dataclass(frozen=True, slots=True)
class Segment:
    """A named set of subscriptions (HubSpot's lists): ``dynamic`` re-evaluates its query on
    every read, ``snapshot`` froze the query's matches when it was made (or last refreshed),
    ``manual`` holds the ids it was given."""

    name: str
    kind: str  # dynamic, snapshot, manual
    where: str | None  # the query text as written (None: manual)
    description: str = ""
    created_at: dt.datetime | None = None
    updated_at: dt.datetime | None = None
    refreshed_at: dt.datetime | None = None  # the last refresh (``segment diff`` baseline)
    stored: int | None = None  # snapshot, manual: how many ids are stored


@dataclass(frozen=True, slots=True)
class SegmentRefresh:
    """One ``segment refresh`` (creation counts as the first): its time, the membership's size
    then, and how many entered and left since the previous one."""

    id: int
    at: dt.datetime
    size: int
    entered: int
    left: int


# -- lifecycle verbs and the batch journal ---------------------------------------


@dataclass(slots=True)  # not frozen: 100,000-item batches create many (faster __init__)
class OutboxMessage:
    """An e-mail to the buyer. The local workspace records it in ``outbox`` instead of sending;
    the remote store leaves sending to HubSpot (its lifecycle endpoints e-mail the buyer)."""

    subscription_id: int
    kind: str  # cancellation, payment_method_update
    recipient: str | None
    subject: str
    body: str
    created_at: dt.datetime
    link: str | None = None
    job_id: int | None = None
    id: int | None = None  # assigned by the store


@dataclass(slots=True)  # not frozen: 100,000-item batches create many (faster __init__)
class Refund:
    """A refund of (part of) a payment: stored as a payment of kind ``refund`` that points at
    the refunded payment (``refunds_payment_id``), associated with the subscription (type 393);
    the refunded payment's status becomes ``refunded_status``."""

    payment_id: int
    amount: Decimal
    currency: str
    method: str
    refunded_status: str  # refunded, partially_refunded
    created_at: dt.datetime
    latest: bool = False  # the subscription's latest payment: its last payment status follows


@dataclass(slots=True)  # not frozen: 100,000-item batches create many (faster __init__)
class Charge:
    """A payment attempt a lifecycle verb records (a failed one when a subscription turns
    unpaid, a succeeded one when its debt is paid): stored as a payment of kind ``payment``
    associated with the subscription (type 393)."""

    amount: Decimal
    currency: str
    status: str  # succeeded, failed
    method: str  # card, ach
    created_at: dt.datetime


@dataclass(slots=True)  # not frozen: 100,000-item batches create many (faster __init__)
class ItemOutcome:
    """A batch item's journal entry: ok, skipped, failed or attention, with the reason or
    result."""

    subscription_id: int
    outcome: str  # ok, skipped, failed, attention
    new_status: str | None
    note: str
    at: dt.datetime


@dataclass(frozen=True, slots=True)
class Job:
    """A batch (see ``Workspace.create_job``); ``counts`` has ok, skipped, failed, attention,
    unprocessed."""

    id: int
    verb: str
    action: dict[str, Any]
    selection: dict[str, Any]
    fingerprint: str
    frozen: bool  # from a --plan: items whose status changed since are skipped
    status: str  # unfinished, done, abandoned
    total: int
    created_at: dt.datetime
    updated_at: dt.datetime
    counts: dict[str, int] = field(default_factory=dict)
    # A billing run's outcomes: its items are not journaled, its events are logged with its id
    # (``billing_events.job_id``); per outcome (succeeded, failed, processing, canceled, …).
    # Filled by ``Workspace.jobs`` only; empty for other jobs.
    events: dict[str, int] = field(default_factory=dict)

    @property
    def unprocessed(self) -> int:
        return self.counts.get("unprocessed", 0)


@dataclass(frozen=True, slots=True)
class JobItem:
    subscription_id: int
    position: int
    planned_status: str | None
    outcome: str | None = None  # None: not processed yet
    new_status: str | None = None
    note: str | None = None
    processed_at: dt.datetime | None = None


@dataclass(frozen=True, slots=True)
class BillingEvent:
    """One event of the billing run (``subctl billing log``, a subscription's timeline).
    ``at``: the day it was due (00:00 UTC); ``payment_id``: the payment it charged or
    settled."""

    id: int
    subscription_id: int
    kind: str  # start, renewal, retry, settlement, cancellation, expiry, resume
    at: dt.datetime
    outcome: str  # succeeded, failed, processing, canceled, expired, resumed, past_due, skipped
    old_status: str | None
    new_status: str | None
    amount: Decimal | None = None
    currency: str | None = None
    payment_id: int | None = None
    job_id: int | None = None
    note: str | None = None


@dataclass(slots=True)
class SubscriptionDetail:
    subscription: Subscription
    associations: list[AssociatedRecord] = field(default_factory=list)
    payments: list[Payment] = field(default_factory=list)
    history: list[Change] = field(default_factory=list)
    outbox: list[OutboxMessage] = field(default_factory=list)  # newest first
    events: list[BillingEvent] = field(default_factory=list)  # the timeline, oldest first


@dataclass(frozen=True, slots=True)
class SyncedSubscription:
    """A subscription as ``subctl sync`` mirrors it (``RecordStore.changed_since``): every
    property, typed, and its associations as (object type, record id, association type id),
    object types as ``schema.ASSOCIATION_OBJECTS`` names them."""

    subscription: Subscription
    associations: tuple[tuple[str, int, int], ...] = ()


@dataclass(frozen=True, slots=True)
class Capabilities:
    """The limits and semantics of a record store that services must respect.

    ``result_cap``: results one search can page through (None: no cap; HubSpot: 10,000);
    ``batch_size``: ids per batch read or write (HubSpot: 100); ``max_filter_groups``,
    ``max_filters_per_group``, ``max_filters``: the most a search's filter may hold (None: no
    limit; HubSpot: 5, 6 and 18 in all); ``sort_survives_partitioning``: a sorted search split
    into several (by id ranges, to pass the result cap) still comes back in one order;
    ``neq_matches_empty``: ``field != value`` also matches records without a value (SQL with
    the compiler's semantics and HubSpot: yes).

    What only a local store does (the contract suite reads these; a remote store refuses the
    operation or leaves it to HubSpot, never pretends): ``own_clock``: changes are stamped
    with the operation's ``at`` (the workspace clock), not the store's own clock;
    ``derived_columns``: an operation also writes the columns subctl derives (``ops.changes``:
    the MRR after a pause or resume, the next payment amount from line items, the next due
    date a scheduled cancellation clears), where HubSpot derives its own by rules it does not
    publish; ``history``: every change is recorded with the operation's source;
    ``outbox``: an operation's e-mails are recorded in the workspace's outbox (HubSpot sends
    its own; ``Notify`` is refused); ``payments``: operations record payments and refunds
    (``MarkUnpaid``, ``Pay``, ``Refund``, a refund with a cancel: HubSpot has no endpoint for
    them); ``given_ids``: a created record keeps the id it is given, and an import may create
    its associated records (HubSpot assigns ids); ``resume_dates``: a pause may carry the day it
    ends by itself (HubSpot's pause takes none); ``status_marks``: an update may set the status
    unpaid or past due (``MarkUnpaid``: a billing event HubSpot records by itself).

    The lifecycle services ask these **before a job is created** (``lifecycle.build_action``),
    so what the store cannot do is refused up front (exit 2 for a flag, 5 for a verb), never
    journaled as a job that fails at every ``jobs resume``."""

    result_cap: int | None = None
    batch_size: int = 5000
    max_filter_groups: int | None = None
    max_filters_per_group: int | None = None
    max_filters: int | None = None
    sort_survives_partitioning: bool = True
    neq_matches_empty: bool = True
    own_clock: bool = True
    derived_columns: bool = True
    history: bool = True
    outbox: bool = True
    payments: bool = True
    given_ids: bool = True
    resume_dates: bool = True
    status_marks: bool = True


LOCAL = Capabilities()
HUBSPOT = Capabilities(
    result_cap=10_000,
    batch_size=100,
    max_filter_groups=5,
    max_filters_per_group=6,
    max_filters=18,
    sort_survives_partitioning=False,
    own_clock=False,
    derived_columns=False,
    history=False,
    outbox=False,
    payments=False,
    given_ids=False,
    resume_dates=False,
    status_marks=False,
)


@dataclass(frozen=True, slots=True)
class FileExport:
    """An export file the record store's own service builds (HubSpot's CRM exports, DOMAIN.md
    §5: ``subctl export --server-side``): the subscriptions matching ``where``, Record ID then
    ``properties`` (internal names), as ``format`` (csv, xlsx, xls) with headers in
    ``language`` (a code of ``export.headers.LANGUAGES``); ``internal_names``: internal names
    in the header and option values in cells."""

    where: Expr | None
    properties: tuple[str, ...]
    format: str
    language: str
    internal_names: bool = False
    name: str = "subscriptions"


@runtime_checkable
class FileExporter(Protocol):
    """A record store whose service builds export files itself (``HttpStore``)."""

    def export_file(
        self, spec: FileExport, out: IO[bytes], progress: Callable[[str], None] | None = None
    ) -> int | None:
        """Write the file to ``out``; the number of subscriptions in it when the service says
        (``progress``: the service's state as it changes, e.g. ``PROCESSING``)."""
        ...


@dataclass(frozen=True, slots=True)
class HeldList:
    """A segment as the record store's own service holds it (a HubSpot list): its id, kind
    (``DYNAMIC``, ``SNAPSHOT``, ``MANUAL``) and size now."""

    id: str
    name: str
    processing: str
    size: int


@runtime_checkable
class SegmentStore(Protocol):
    """A record store that keeps segments itself (``HttpStore``: HubSpot's Lists API, a list
    named after the segment). ``services/segments.py`` then creates, changes, reads and
    deletes the list; the workspace keeps the definition as written (query text, description)
    and the refresh baselines of ``segment diff`` (HubSpot keeps no refresh history), and
    ``Condition(SEGMENT_FIELD, EQ, (name,))`` in a query selects the list's members. A store
    that is not one (the SQL stores) leaves segments to the workspace's tables."""

    def create_list(self, request: Mapping[str, Any], members: Sequence[int] = ()) -> HeldList:
        """Create the list (``request``: the Lists API body, ``query.lists.list_request``)
        and add ``members`` (a manual list); raises InvalidState when the name is taken."""
        ...

    def get_list(self, name: str) -> HeldList:
        """Raises NotFound."""
        ...

    def set_list_filters(self, name: str, filter_branch: Mapping[str, Any]) -> None:
        """A dynamic list's new filters."""
        ...

    def list_members(self, name: str) -> Iterator[int]:
        """The members' ids, in id order, page by page."""
        ...

    def change_list_members(
        self, name: str, add: Sequence[int], remove: Sequence[int]
    ) -> tuple[list[int], list[int]]:
        """Add and remove members of a manual list; the ids added and removed (those that
        were not, and were, members)."""
        ...

    def delete_list(self, name: str) -> None:
        """Raises NotFound."""
        ...


class RecordStore(Protocol):
    """Subscriptions and their associated records: what HubSpot (the remote store) can also
    serve. Implementations: ``sql.records.SqlRecordStore`` (SQLite, PostgreSQL)."""

    def properties(self) -> PropertyRegistry:
        """Standard and custom property definitions."""
        ...

    def search(self, query: Query, fields: Sequence[str] | None = None) -> Iterator[Subscription]:
        """Stream matching subscriptions (all properties when ``fields`` is None)."""
        ...

    def search_stored(
        self, query: Query, fields: Sequence[str]
    ) -> Iterator[Sequence[Sequence[Any]]]:
        """Stream matching subscriptions in chunks of rows of their stored values (``codec``'s
        storage form), ``fields`` (internal names) in order: what an export converts once per
        cell, straight to text (``export/cells.py``), instead of reading typed values first."""
        ...

    def count(self, where: Expr | None = None) -> int: ...

    def get(self, sub_id: int) -> Subscription:
        """One subscription with every property; raises NotFound."""
        ...

    def detail(self, sub_id: int) -> SubscriptionDetail:
        """A subscription with its associations, payments and change history (its outbox is
        the workspace's)."""
        ...

    # Exactly once: see ``UnitOfWork``. ``execute`` refuses (``Conflict``, nothing written)
    # when a subscription's status is no longer an operation's ``expect_status``, or a
    # refund's payment already has a refund (a payment is refunded at most once: a unique
    # index on a SQL store).

    def get_many(self, sub_ids: Sequence[int], fields: Sequence[str]) -> dict[int, Subscription]:
        """The subscriptions that exist among ``sub_ids``, with ``fields`` (and the id); a
        remote store uses HubSpot's batch read."""
        ...

    def payments_of(
        self, sub_ids: Sequence[int], statuses: Sequence[str] | None = None
    ) -> dict[int, list[Payment]]:
        """Payments (and refunds) associated with each subscription, oldest first; only those
        with one of ``statuses`` when given."""
        ...

    def buyer_emails(self, sub_ids: Sequence[int]) -> dict[int, str]:
        """The primary e-mail of each subscription's (first) associated contact, if any."""
        ...

    @property
    def capabilities(self) -> Capabilities:
        """What the store can do in one request (services ask, rather than assume)."""
        ...

    @property
    def account_tier(self) -> str | None:
        """The account's tier when the store knows it (HubSpot's: the profile's ``--tier``);
        None for a local workspace, whose tier is a setting (``property settings --tier``)."""
        return None

    def execute(self, ops: Sequence[Op]) -> None:
        """Carry out typed operations (``subctl.store.ops``): all of them or, on ``Conflict``,
        none (a SQL store: one transaction; HubSpot: one operation per call)."""
        ...

    # Primitives only: the rules (names, the type/fieldType matrix, tier caps, the one-contact
    # rule, replace semantics) live in ``subctl.services``. Each maps to one HubSpot call.

    def create_property(self, prop: Property) -> None:
        """Define a custom property (values start empty); ``Conflict`` if the name exists."""
        ...

    def update_property(self, prop: Property) -> None:
        """Replace a custom property's definition (same name and type); ``NotFound``."""
        ...

    def delete_property(self, name: str) -> None:
        """Remove a custom property and every value of it; ``NotFound``."""
        ...

    def associations(self, sub_id: int, object_type: str | None = None) -> list[AssociatedRecord]:
        """The subscription's associated records (of one object type), with type ids and labels;
        ``NotFound`` for an unknown subscription."""
        ...

    def association_cells(
        self,
        sub_ids: Sequence[int],
        objects: Sequence[str],
        *,
        cap: int | None = 1000,
        all_emails: bool = False,
        all_domains: bool = False,
    ) -> dict[int, dict[str, AssociationCell]]:
        """Per subscription, per object name (``schema.ASSOCIATION_BY_NAME``): its associated
        records, ordered by id, at most ``cap`` of them (None: all), with ``count`` the number
        before the cap; an empty cell where there are none (and for ids of no subscription).
        Labels: ``subctl.labels`` (``all_emails``: a contact's every e-mail, ``all_domains``: a
        company's every domain). A store reads each object type for a chunk of subscriptions
        at once (never one request per subscription). An unknown object name or a ``cap``
        below 1: ``InputError`` (input ``associations``, ``cap``)."""
        ...

    def line_items(self, sub_id: int) -> list[LineItem]:
        """The subscription's line items, by id; ``NotFound`` for an unknown subscription."""
        ...

    def payment(self, payment_id: int) -> Payment:
        """One payment (or refund); ``NotFound``."""
        ...

    def associated_subscriptions(self, object_type: str, object_id: int) -> list[int]:
        """Ids of the subscriptions a record is associated with (the record's side)."""
        ...

    def associate(self, sub_id: int, object_type: str, object_id: int, type_id: int) -> None:
        """Add an association (idempotent); ``NotFound`` if either side does not exist."""
        ...

    def dissociate(self, sub_id: int, object_type: str, object_id: int) -> None:
        """Remove an association; ``NotFound`` if there is none."""
        ...

    def record_label(self, object_type: str, object_id: int) -> str:
        """The display label of a contact, company, deal, …; ``NotFound`` if it does not exist."""
        ...

    def create_record(self, object_type: str, values: Mapping[str, Any]) -> int:
        """Create a record of an associable object type from checked, typed values (see
        ``subctl.services.associations.RECORD_FIELDS``); returns its id."""
        ...

    # -- what ``subctl sync`` reads from a source store (/work SYNC-API) --

    def changed_since(
        self, since: dt.datetime | None, *, after_id: int = 0, chunk: int = 100
    ) -> Iterator[Sequence[SyncedSubscription]]:
        """Live subscriptions with every property and their associations, in chunks of at
        most ``chunk``. ``since`` None (a full sync): every one with an id above ``after_id``,
        by ascending id (a killed full sync resumes after the last id it wrote; HubSpot: the
        objects list with ``associations=``, 100 a page). ``since`` given: those whose
        ``hs_lastmodifieddate`` is ``since`` or later (inclusive), by ascending
        (``hs_lastmodifieddate``, id), so that the caller can move a watermark chunk by chunk
        (HubSpot: a search on it, one request when nothing changed)."""
        ...

    def archived_since(self, since: dt.datetime | None) -> Iterator[Sequence[int]]:
        """Ids of subscriptions archived (deleted) at ``since`` or later (None: every one the
        store knows of). A store that keeps no trace of deletions (SQL: a delete is final)
        yields nothing; ``subctl sync`` then finds them by comparing counts and ids."""
        ...

    def record_values(self, object_type: str, ids: Sequence[int]) -> dict[int, dict[str, Any]]:
        """The associated records among ``ids`` that exist, as the values ``create_record``
        takes (``services.associations.record_values``: ``created_at`` and the fields of
        ``RECORD_FIELDS`` under their stored names, ``emails``/``domains`` as lists)."""
        ...

    def close(self) -> None: ...


class Workspace(Protocol):
    """Workspace-local state, always SQL (a SQLite file, or PostgreSQL for a team): the batch
    journal, saved views, settings, the e-mail outbox and the plan key. Implementation:
    ``sql.workspace.SqlWorkspace``."""

    # -- access (team workspaces) and the audit log --------------------------------------------

    def database_user(self) -> str | None:
        """The database role the server authenticated (PostgreSQL ``current_user``); None for a
        personal workspace (SQLite), which has no users."""
        ...

    def permissions_of(self, username: str) -> frozenset[str]: ...

    def grants(self) -> list[Grant]: ...

    def grant(
        self,
        username: str,
        permissions: Sequence[str],
        by: str,
        at: dt.datetime,
        context: AuditContext | None = None,
    ) -> list[str]:
        """Grant (audited with ``context``, same transaction); returns the permissions that
        were not held before."""
        ...

    def revoke(
        self,
        username: str,
        permissions: Sequence[str],
        at: dt.datetime | None = None,
        context: AuditContext | None = None,
    ) -> list[str]:
        """Revoke; returns the permissions that were held."""
        ...

    def audit_entries(self, where: AuditFilter) -> Iterator[AuditEntry]:
        """The audit log, oldest first, streamed; a billing day's row is one entry per billing
        event of the day (``sql.audit``: its id, and the event's in ``after``)."""
        ...

    def append_audit(
        self,
        context: AuditContext,
        changes: Sequence[AuditChange],
        at: dt.datetime,
        job_id: int | None = None,
    ) -> None:
        """Append rows for changes made outside ``RecordStore.execute`` (own transaction)."""
        ...

    def views(self) -> list[SavedView]: ...

    def get_view(self, name: str) -> SavedView:
        """Raises NotFound."""
        ...

    def save_view(self, view: SavedView) -> None: ...

    def delete_view(self, name: str) -> None: ...

    # -- segments (``subctl segment``) --

    def segments(self) -> list[Segment]:
        """Every segment, by name."""
        ...

    def get_segment(self, name: str) -> Segment:
        """Raises NotFound."""
        ...

    def save_segment(
        self, segment: Segment, members: Iterable[int] | None = None, *, at: dt.datetime
    ) -> None:
        """Create or update a segment's definition (name, kind, query, description) at ``at``
        (the workspace clock); ``members``: replace its stored membership with these ids."""
        ...

    def change_segment_members(self, name: str, add: Sequence[int], remove: Sequence[int]) -> int:
        """Add and remove stored member ids (manual segments); returns how many changed."""
        ...

    def delete_segment(self, name: str) -> None:
        """The segment, its members and its refreshes; raises NotFound."""
        ...

    def record_segment_refresh(
        self, name: str, members: Iterable[int], at: dt.datetime
    ) -> SegmentRefresh:
        """Store ``members`` as the segment's membership at its last refresh (``at``), with
        who entered and left since the previous refresh, in one transaction."""
        ...

    def segment_refreshes(self, name: str) -> list[SegmentRefresh]:
        """The segment's refreshes, oldest first."""
        ...

    def segment_baseline(self, name: str, refresh_id: int | None = None) -> set[int]:
        """The membership at the last refresh, or at the refresh ``refresh_id`` (the last
        one's membership with the changes of the later refreshes undone)."""
        ...

    def get_setting(self, key: str) -> str | None:
        """A workspace setting (account tier, caps, permissions), or None."""
        ...

    def set_setting(self, key: str, value: str) -> None: ...

    def delete_setting(self, key: str) -> None:
        """Remove a setting (nothing when it is not set)."""
        ...

    def plan_key(self) -> bytes:
        """The workspace's secret for hashing sensitive values in plan files (made once)."""
        ...

    def outbox(self, sub_id: int) -> list[OutboxMessage]:
        """The mail recorded for a subscription, newest first."""
        ...

    def create_job(
        self,
        *,
        verb: str,
        action: dict[str, Any],
        selection: dict[str, Any],
        fingerprint: str,
        frozen: bool,
        items: Iterable[tuple[int, str | None]],
        at: dt.datetime,
    ) -> Job:
        """Journal a batch: its items (subscription id, status when planned), all unprocessed,
        in one transaction; ``items`` is read once, as it comes (a selection is never held
        whole)."""
        ...

    def jobs(self) -> list[Job]:
        """Every batch, newest first, with its item counts and (a billing run) its events'
        counts per outcome (``Job.events``)."""
        ...

    def job(self, job_id: int) -> Job:
        """Raises NotFound."""
        ...

    def job_items(
        self,
        job_id: int,
        *,
        unprocessed_only: bool = False,
        after: int | None = None,
        limit: int | None = None,
    ) -> Iterator[JobItem]:
        """A batch's items in their original order; ``after``: only those past this position,
        ``limit``: at most this many (a batch reads its items chunk by chunk)."""
        ...

    def unfinished_job(self, fingerprint: str) -> Job | None:
        """The newest unfinished batch with this fingerprint (same verb and arguments)."""
        ...

    def set_job_status(self, job_id: int, status: str, at: dt.datetime) -> None: ...

    def job_lease(self, job_id: int) -> AbstractContextManager[None]:
        """Hold the job for the run inside the ``with``: ``Conflict`` (nothing done) when
        another process runs it right now; released when the run ends or its process dies."""
        ...

    def claim_item(
        self, job_id: int, sub_id: int, at: dt.datetime, previous: dt.datetime | None = None
    ) -> None:
        """Claim an unprocessed item before its operation is carried out (``ItemByItem``): its
        ``processed_at`` becomes ``at`` while its outcome stays empty. ``previous``: the claim
        of an in-doubt item being taken over. ``Conflict`` when another run has it."""
        ...

    def release_item(self, job_id: int, sub_id: int) -> None:
        """Undo a claim whose operation was refused (nothing was written)."""
        ...

    def record_outcomes(self, job_id: int, outcomes: Sequence[ItemOutcome]) -> None:
        """Journal outcomes of unprocessed (or claimed) items; ``Conflict`` when one has an
        outcome already."""
        ...

    def close(self) -> None: ...


class UnitOfWork(Protocol):
    """How a batch writes: each item's operation together with its journal outcome, exactly
    once. A batch is journaled (``Workspace.create_job``) before anything changes; a crash
    (Ctrl-C, kill -9, power loss) then never makes resuming repeat a change.

    Two implementations: ``sql.SqlUnitOfWork`` (a local profile: the record store and the
    workspace share one database, so a chunk's operations and its journal outcomes are one
    transaction) and ``unit.ItemByItem`` (a record store that cannot share a transaction with
    the workspace, such as HubSpot's API: journal claim, operation, journal outcome, per item;
    an item claimed without an outcome is *in doubt* and is re-read before it is done again).
    """

    def write(
        self,
        job_id: int,
        ops: Sequence[Op],
        outcomes: Sequence[ItemOutcome],
        seen: Mapping[int, Mapping[str, Any]] | None = None,
    ) -> None:
        """Carry out ``ops`` (of some of the items) and journal every item's outcome.
        ``seen``: the snapshots the items were decided on, by id (a unit that audits each
        operation itself takes its "before" values from them rather than reading again).
        ``Conflict`` when an item was journaled by another run meanwhile or an operation is
        refused; ``PartlyWritten`` (a ``Conflict``) names the items written before it."""
        ...

    def in_doubt(self, job_id: int) -> set[int]:
        """Items of the job claimed by a run that stopped before journaling their outcome
        (their operation may or may not have been carried out)."""
        ...


class PartlyWritten(Conflict):
    """A write refused after some of its items were written and journaled (``done``)."""

    def __init__(self, cause: Conflict, done: Sequence[int]) -> None:
        super().__init__(cause.message, hint=cause.hint, next=cause.next)
        self.done = tuple(done)


# -- the billing run of a local workspace --------------------------------------------------


@dataclass(frozen=True, slots=True)
class PaymentRules:
    """How the simulation's payments turn out, from the payment method (``hs_payment_method``)
    alone, so that two runs give the same workspace. Suffixes of the method's text: a card
    ending in one of ``declines`` declines every attempt, one ending in ``declines_first``
    declines the first attempt of a cycle (its retries succeed); a bank (ACH) account ending
    in one of ``bank_fails`` fails when it settles. A method starting with ``ACH`` is a bank
    payment (``processing`` until it settles), any other a card."""

    declines: tuple[str, ...]
    declines_first: tuple[str, ...]
    bank_fails: tuple[str, ...]
    settlement_days: int


@dataclass(frozen=True, slots=True)
class Due:
    """An event due, as the billing store finds it: the subscription's stored values (typed),
    and for a ``settlement`` the payment. The services decide what it does (``Bill``)."""

    kind: str
    at: dt.date
    subscription: Subscription
    email: str | None = None
    payment: Payment | None = None


# What the billing store asks the services for each event it cannot carry out set-based.
Decide = Callable[[Sequence[Due]], Sequence["Op"]]


@dataclass(slots=True)
class DayResult:
    """What one day of billing did: events per (kind, outcome), amounts charged per currency
    (succeeded or processing), e-mails recorded."""

    events: dict[tuple[str, str], int] = field(default_factory=dict)
    charged: dict[str, Decimal] = field(default_factory=dict)
    emails: int = 0

    def add(self, other: DayResult) -> None:
        for key, n in other.events.items():
            self.events[key] = self.events.get(key, 0) + n
        for currency, amount in other.charged.items():
            self.charged[currency] = self.charged.get(currency, Decimal(0)) + amount
        self.emails += other.emails


class BillingStore(Protocol):
    """The billing run of a local workspace (HubSpot bills by itself: a remote profile has
    none). Events are found per kind and day; the common case (a payment that succeeds or
    starts processing, a bank payment that settles) is carried out set-based, every other
    event is handed to ``decide`` (the rules in ``subctl.services.billing``) and written as
    the operations it returns. A day is never split across transactions: the billing events'
    unique (subscription, kind, day) makes a rerun skip what a crashed run committed.
    Implementation: ``sql.billing.SqlBilling``."""

    def due(self, now: dt.datetime, rules: PaymentRules) -> dict[str, int]:
        """Events due at ``now`` (and not carried out), per kind: what ``list`` warns about.
        Only the first event of each subscription counts (carrying one out can make the next
        due)."""
        ...

    def next_day(self, until: dt.date, rules: PaymentRules) -> dt.date | None:
        """The first day with an event due, if it is ``until`` or earlier."""
        ...

    def run_day(
        self, day: dt.date, rules: PaymentRules, decide: Decide, job_id: int | None
    ) -> DayResult:
        """Carry out every event due on ``day`` or before: in a transaction of its own, or
        in the one of ``session``. An event already recorded for its subscription, kind and
        day is not carried out again (``blocked`` names it)."""
        ...

    def blocked(self, day: dt.date) -> list[tuple[str, int]]:
        """(kind, subscription id) of the events due on ``day`` or before that were already
        carried out for their subscription, kind and day (the subscription was changed back
        to it since): ``run_day`` cannot carry them out again."""
        ...

    def session(self, *, dry_run: bool, commit_seconds: float) -> AbstractContextManager[None]:
        """Inside it, ``run_day`` writes into a transaction held across days, committed after
        the first day that ends ``commit_seconds`` or more after it began, and at the end, so
        that a long run writes each page of the workspace once per commit rather than once per
        day; a crash loses the uncommitted days, never part of one. ``dry_run``: one
        transaction, rolled back at the end (what would happen, exactly)."""
        ...

    def events(
        self,
        *,
        since: dt.datetime | None = None,
        sub_id: int | None = None,
        kinds: Sequence[str] = (),
        job_id: int | None = None,
    ) -> Iterator[BillingEvent]:
        """The billing log, oldest first, streamed."""
        ...

    def count_events(
        self,
        *,
        since: dt.datetime | None = None,
        sub_id: int | None = None,
        kinds: Sequence[str] = (),
        job_id: int | None = None,
        outcomes: Sequence[str] = (),
    ) -> int:
        """How many events ``events`` with the same filters yields (and only these
        ``outcomes``), counted by the store."""
        ...


@dataclass(frozen=True, slots=True)
class MrrPoint:
    """MRR at one instant of a report (``bound``: its index among the instants asked for) for
    one currency, and the movements since the previous instant (zero at the first): amounts
    (positive, in the currency) and how many subscriptions made each. ``subscriptions``: how
    many contribute MRR at the instant."""

    currency: str | None
    bound: int
    mrr: float
    subscriptions: int
    new: float = 0.0
    expansion: float = 0.0
    contraction: float = 0.0
    churn: float = 0.0
    reactivation: float = 0.0
    new_count: int = 0
    expansion_count: int = 0
    contraction_count: int = 0
    churn_count: int = 0
    reactivation_count: int = 0


@dataclass(frozen=True, slots=True)
class RenewalDay:
    """What renews on one day (epoch day number: days since 1970-01-01) in one currency."""

    day: int
    currency: str | None
    subscriptions: int
    amount: float


class ReportStore(Protocol):
    """Set-based reads for ``subctl report`` (local profiles: the SQL workspace, where the
    property history is). The rules (which statuses earn MRR, which have not started, what
    renews) are the services' (``subctl.services.reports``) and come in as arguments.
    Implementation: ``sql.reports.SqlReports``."""

    def mrr_points(
        self,
        bounds: Sequence[dt.datetime],
        where: Expr | None,
        *,
        earning: Sequence[str],
        not_started: Sequence[str],
        now: dt.datetime,
    ) -> list[MrrPoint]:
        """MRR at each of ``bounds`` (ascending) per currency, from the property history: the
        state of a subscription at a time is its last change before it (``hs_mrr``,
        ``hs_status``); before its first change, the value that change replaced; without
        changes, its stored value. A subscription counts from its create date, its MRR while
        its status is one of ``earning``. Movements between consecutive bounds, per
        subscription: from 0 to more is new when its status was one of ``not_started`` (or it
        did not exist yet), else reactivation; up is expansion, down (not to 0) contraction, to
        0 churn. ``where``: the subscriptions (their stored values), resolved at ``now``."""
        ...

    def renewals(
        self, start: dt.datetime, end: dt.datetime, where: Expr | None, *, now: dt.datetime
    ) -> list[RenewalDay]:
        """Active subscriptions whose next payment is due in [start, end) and that will be
        charged then (no cancellation scheduled by then, term not reached), scheduled ones
        starting and paused ones resuming then, per day and currency, with their next payment
        amounts; each subscription at every renewal in the window, whatever its frequency
        (calendar months as the billing run counts them: ``billing.next_period_end``)."""
        ...


# ``insert(table, columns, rows) -> count`` of a bulk load.
Insert = Callable[[str, Sequence[str], Sequence[Any]], int]


class Seedable(Protocol):
    """A record store that can be filled in bulk (demo data, test and benchmark seeds) and
    maintained in place: the local stores."""

    def require_writable(self) -> None:
        """``StoreUnavailable`` unless the store can be written."""
        ...

    def seed(self, table: str, columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> int:
        """Add rows of stored values to a record table; returns the count."""
        ...

    def replacing_records(
        self, stamp: tuple[str, str] | None = None
    ) -> AbstractContextManager[Insert]:
        """Replace every record in one transaction: yields ``insert``; ``stamp`` (setting key,
        token) is set to the token and ``records_digest`` of the new records."""
        ...

    def has_records(self) -> bool: ...

    def records_digest(self, stamp_key: str) -> str: ...

    def repair_indexes(self) -> list[str]:
        """Restore missing indexes; their names."""
        ...

    def count(self, where: Expr | None = None) -> int: ...


# -- team workspaces: access and the audit log (m009) -------------------------------------------


@dataclass(frozen=True, slots=True)
class AuditContext:
    """Who is changing what, attached to the stores for the command's duration: every change
    they write appends audit rows in the same transaction. ``arguments``: the command's options
    as JSON text, tokens and highly sensitive values already redacted."""

    actor: str  # the OS user, or --actor
    profile: str | None
    verb: str  # the command path: "cancel", "property create", "clock advance"
    arguments: str
    clock: Callable[[], dt.datetime] = field(default=lambda: dt.datetime.now(dt.UTC))


@dataclass(frozen=True, slots=True)
class AuditEntry:
    """One audit row: JSON text for ``arguments``, ``before`` and ``after``."""

    id: int
    at: dt.datetime
    actor: str
    db_user: str | None
    profile: str | None
    verb: str
    subscription_id: int | None
    target: str | None
    job_id: int | None
    arguments: str | None
    before: str | None
    after: str | None


@dataclass(frozen=True, slots=True)
class AuditChange:
    """A change outside ``execute`` (a property definition, an association, a segment, a
    grant) to append to the audit log; ``before``/``after``: JSON-ready values."""

    target: str
    before: Any = None
    after: Any = None
    subscription_id: int | None = None


def audited_definition(prop: Property) -> dict[str, Any]:
    """A property definition as the audit log shows it before/after a change (every store's
    rows: a SQL store's in its transaction, a remote one's through ``store.audited``)."""
    return {
        "label": prop.label, "type": prop.type.value, "field_type": prop.field_type,
        "group": prop.group, "description": prop.description,
        "options": [o.value for o in prop.options],
        "rules": [[t, *map(str, args)] for t, args in prop.rules],
        "sensitivity": prop.sensitivity, "unique": prop.unique,
    }  # fmt: skip


@dataclass(frozen=True, slots=True)
class AuditFilter:
    since: dt.datetime | None = None
    subscription_id: int | None = None
    actor: str | None = None
    verb: str | None = None


@dataclass(frozen=True, slots=True)
class Grant:
    username: str
    permission: str
    granted_by: str
    granted_at: dt.datetime
