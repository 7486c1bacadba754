"""Associating subscriptions with contacts, companies, deals, line items, quotes, invoices,
payments, orders, payment links, feedback submissions and custom object records (the article's
*Add* / *Replace* / create-new, DOMAIN.md §0 and §6). Pure functions over a ``RecordStore``; no
typer, no rich.

Rules:

- Associations carry HubSpot's type ids (``schema.ASSOCIATION_OBJECTS``: contact 295, company
  297, deal 299, line item 301, quote 303, invoice 623, payment 393, order 515, payment link
  478), and subctl's own for the objects HubSpot defines none for (feedback submission 9001,
  custom object record 9003).
- **Add** (the default) keeps existing associations of the object type; adding one that exists
  changes nothing (outcome ``unchanged``). **Replace** removes every other association of that
  object type after adding the new one, so a failure never leaves the subscription with none.
  **Remove** deletes one association (``NotFound`` if there is none).
- A subscription has at most one contact (HubSpot KB): adding a second contact without
  ``--replace`` is refused (exit 5) with a hint. A line item belongs to one parent (HubSpot's
  guide): associating a line item that already belongs to another subscription is refused. So is
  a payment already associated with another subscription (a payment pays for one
  subscription): remove it from the other subscription first.
- **Replace** and **remove** edit the subscription, so they follow the edit rules: not on an
  ended (canceled or expired) subscription, and not within ``EDIT_FREEZE_DAYS`` of its next
  payment (``lifecycle.edit_freeze``). HubSpot's UI edits only active and scheduled
  subscriptions; associations of unpaid, past-due and paused ones stay editable here (moving a
  payment, replacing the contact who is sent the payment-method link), ended ones do not.
  Adding is not an edit. A replace that would remove records asks first (``confirm``).
- A payment in another currency than the subscription's cannot be associated with it.
- **Line items** can be edited (quantity, unit price) on a subscription they belong to, under
  the same edit rules and not while a cancellation is scheduled (it is never charged again).
  The next payment amount becomes the sum of its line items' quantity × price (rounded to the
  currency) and the MRR follows it (``refunds.monthly_recurring``; 0 while paused), recorded in
  the property history with the line items in one write.
- ``create`` makes a new record from ``key=value`` fields (``RECORD_FIELDS``) and associates it;
  every check runs before the record is created, so a refused association leaves no orphan.
  Numbers go through the one conversion (``query.values.parse_number``); amounts and prices
  follow the money limits and, for payments and line items, the currency's minor unit
  (refused, never rounded); currencies are ISO 4217 codes; quantities are 1 to
  ``validation.QUANTITY_MAX``.
- Batches (``--from-file pairs.csv``): one row per association, ``subscription id, object type,
  object id`` (a header row is optional: the first row that is neither blank nor a ``#``
  comment, if its first cell is not a number; a leading UTF-8 BOM is ignored; object types by
  name, plural, label or HubSpot object type id such as ``0-1``). Rows are applied in order,
  each on its own; every row gets an outcome (added, unchanged, replaced, removed, or failed
  with the error), like HubSpot's 207 multi-status batches. Ctrl-C stops between rows: the
  outcomes so far are reported and the rows after the last one applied are not.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from subctl.errors import (
    Action,
    InputError,
    InvalidState,
    Next,
    NotFound,
    SubctlError,
    UsageError,
)
from subctl.schema import ASSOCIATION_BY_NAME, AssociationObject
from subctl.store.base import AssociatedRecord, LineItem, RecordStore, Subscription

ADD, REPLACE, REMOVE = "add", "replace", "remove"
ENDED = frozenset({"canceled", "expired"})  # never charged again: nothing to edit
_EDIT_FIELDS = ("hs_status", "hs_next_payment_due_date", "hs_currency_code")
Confirm = Callable[[Sequence[AssociatedRecord]], None]

# Object names accepted in files and messages, besides the singular names: plurals, labels,
# HubSpot's object names and object type ids.
_ALIASES: dict[str, str] = {
    "contacts": "contact", "0-1": "contact",
    "companies": "company", "0-2": "company",
    "deals": "deal", "0-3": "deal",
    "line_items": "line_item", "line item": "line_item", "line items": "line_item",
    "line-item": "line_item", "lineitem": "line_item", "0-8": "line_item",
    "quotes": "quote", "0-14": "quote",
    "invoices": "invoice", "0-53": "invoice",
    "payments": "payment", "commerce_payments": "payment", "0-101": "payment",
    "orders": "order", "0-123": "order",
    "payment_links": "payment_link", "payment link": "payment_link",
    "payment links": "payment_link", "payment-link": "payment_link",
    "feedback_submissions": "feedback_submission", "feedback submission": "feedback_submission",
    "feedback submissions": "feedback_submission", "feedback-submission": "feedback_submission",
    "feedback": "feedback_submission", "0-19": "feedback_submission",
    "custom_records": "custom_record", "custom record": "custom_record",
    "custom-record": "custom_record", "custom object record": "custom_record",
    "custom object records": "custom_record",
}  # fmt: skip


def object_type(text: str) -> AssociationObject:
    key = text.strip().lower()
    name = _ALIASES.get(key, key)
    if name not in ASSOCIATION_BY_NAME:
        raise UsageError(
            f'unknown object type "{text.strip()}"; one of: {", ".join(ASSOCIATION_BY_NAME)}'
        )
    return ASSOCIATION_BY_NAME[name]


def _is_id(text: str) -> bool:
    """1 to 18 ASCII digits (``str.isdigit`` also takes ``²``, which ``int`` refuses)."""
    return text.isascii() and text.isdigit() and len(text) <= 18


def record_id(text: str, what: str) -> int:
    value = text.strip()
    if not _is_id(value) or int(value) < 1:
        raise UsageError(f'{what}: "{text}" is not a record id')
    return int(value)


@dataclass(frozen=True)
class Outcome:
    """What happened to one association."""

    subscription_id: int | None
    object_type: str
    object_id: int | None
    outcome: str  # added, unchanged, replaced, removed, created, failed
    type_id: int | None = None
    label: str = ""
    replaced: tuple[int, ...] = ()  # ids of the records a replace removed
    error: str | None = None
    line: int | None = None  # batch: the file's line

    def row(self) -> dict[str, Any]:
        return {
            "line": self.line,
            "subscription_id": self.subscription_id,
            "object_type": self.object_type,
            "object_id": self.object_id,
            "associationTypeId": self.type_id,
            "outcome": self.outcome,
            "label": self.label,
            "replaced": list(self.replaced),
            "error": self.error,
        }

    def message(self) -> str:
        obj = ASSOCIATION_BY_NAME[self.object_type].label.lower()
        target = f"{obj} {self.object_id}" + (f" ({self.label})" if self.label else "")
        if self.outcome == "removed":
            return f"Removed {target} from subscription {self.subscription_id}"
        if self.outcome == "unchanged":
            return f"Subscription {self.subscription_id} is already associated with {target}"
        verb = {"created": "Created and associated", "replaced": "Associated"}.get(
            self.outcome, "Associated"
        )
        tail = f" [type {self.type_id}]"
        if self.replaced:
            tail += f", replacing {obj} {', '.join(map(str, self.replaced))}"
        return f"{verb} {target} with subscription {self.subscription_id}{tail}"


def _subscription(
    records: RecordStore, sub_id: int, fields: Sequence[str] = _EDIT_FIELDS
) -> Subscription:
    found = records.get_many([sub_id], fields).get(sub_id)
    if found is None:
        raise NotFound(f"subscription {sub_id} not found")
    return found


def _check_editable(sub: Subscription, today: dt.date) -> None:
    """The edit rules (module docstring): ``InvalidState`` when ``sub`` cannot be edited."""
    from subctl.services.lifecycle import edit_freeze

    if sub.status in ENDED:
        raise InvalidState(
            f"subscription {sub.id} is {sub.status}: an ended subscription cannot be edited"
        )
    frozen = edit_freeze(sub.properties.get("hs_next_payment_due_date"), today)
    if frozen:
        raise InvalidState(f"subscription {sub.id}: {frozen}")


def _check_currency(sub: Subscription, payment: str, currency: str) -> None:
    own = sub.properties.get("hs_currency_code")
    if own and currency.upper() != str(own).upper():
        raise InvalidState(
            f"{payment} is in {currency.upper()}, subscription {sub.id} in {own}: a payment "
            "in another currency cannot be associated"
        )


def _check_rules(
    records: RecordStore,
    sub_id: int,
    obj: AssociationObject,
    object_id: int | None,
    mode: str,
    current: Sequence[AssociatedRecord],
) -> None:
    """The one-contact and one-parent rules for adding ``object_id`` (None: a record about to
    be created) to a subscription with the ``current`` associations of that object type."""
    others = [a for a in current if a.id != object_id]
    if obj.name == "contact" and others and mode != REPLACE:
        held = others[0]
        raise InvalidState(
            f"subscription {sub_id} already has contact {held.id} ({held.label}); "
            "a subscription has at most one contact",
            next=Next(Action.REPLACE_CONTACT, {"sub": sub_id, "record": object_id}),
        )
    if obj.name == "line_item" and object_id is not None:
        parents = [
            s for s in records.associated_subscriptions("line_item", object_id) if s != sub_id
        ]
        if parents:
            raise InvalidState(
                f"line item {object_id} already belongs to subscription {parents[0]}; "
                "a line item has a single parent"
            )
    if obj.name == "payment" and object_id is not None:
        payers = [s for s in records.associated_subscriptions("payment", object_id) if s != sub_id]
        if payers:
            raise InvalidState(
                f"payment {object_id} already belongs to subscription {payers[0]}; "
                "a payment belongs to one subscription",
                next=Next(Action.REMOVE_PAYMENT, {"sub": payers[0], "record": object_id}),
            )


def associate(
    records: RecordStore,
    sub_id: int,
    obj: AssociationObject,
    object_id: int,
    *,
    mode: str = ADD,
    today: dt.date,
    confirm: Confirm | None = None,
) -> Outcome:
    """Add, replace or remove one association (see the module docstring). Checks run in this
    order: the subscription exists, the record exists, the edit rules (replace, remove), then
    the association rules; ``confirm`` is called with the records a replace removes, after
    every check and before anything changes (it raises to stop)."""
    current = records.associations(sub_id, obj.name)  # NotFound for an unknown subscription
    label = records.record_label(obj.name, object_id)  # NotFound for an unknown record
    sub = _subscription(records, sub_id)
    if mode != ADD:
        _check_editable(sub, today)
    if mode == REMOVE:
        records.dissociate(sub_id, obj.name, object_id)
        return Outcome(sub_id, obj.name, object_id, "removed", obj.type_id, label)
    _check_rules(records, sub_id, obj, object_id, mode, current)
    if obj.name == "payment":
        _check_currency(sub, f"payment {object_id}", records.payment(object_id).currency)
    already = any(a.id == object_id for a in current)
    replaced = tuple(a.id for a in current if a.id != object_id) if mode == REPLACE else ()
    if replaced and confirm is not None:
        confirm([a for a in current if a.id in replaced])
    if not already:
        records.associate(sub_id, obj.name, object_id, obj.type_id)
    for other in replaced:
        records.dissociate(sub_id, obj.name, other)
    if already and not replaced:
        return Outcome(sub_id, obj.name, object_id, "unchanged", obj.type_id, label)
    outcome = "replaced" if replaced else "added"
    return Outcome(sub_id, obj.name, object_id, outcome, obj.type_id, label, replaced)


# -- creating records ------------------------------------------------------------------------


@dataclass(frozen=True)
class RecordField:
    name: str
    kind: str = "text"  # text, number, integer, list (;-separated), email list
    required: bool = False
    default: Any = None
    choices: tuple[str, ...] = ()


def _f(name: str, kind: str = "text", **kw: Any) -> RecordField:
    return RecordField(name, kind, **kw)


# What ``--create`` takes per object type. Contacts also take ``name`` ("Ada Lovelace" ->
# firstname Ada, lastname Lovelace), and ``email`` may list several addresses separated by ";".
RECORD_FIELDS: dict[str, tuple[RecordField, ...]] = {
    "contact": (_f("firstname"), _f("lastname"), _f("email", "emails")),
    "company": (_f("name", required=True), _f("domain", "domains")),
    "deal": (_f("name", required=True), _f("amount", "number"), _f("stage")),
    "line_item": (_f("name", required=True), _f("quantity", "integer", default=1),
                  _f("price", "number", required=True)),
    "quote": (_f("title", required=True), _f("status")),
    "invoice": (_f("number", required=True), _f("amount", "number"), _f("status")),
    "payment": (_f("amount", "number", required=True), _f("currency", required=True),
                _f("status", default="succeeded",
                   choices=("succeeded", "failed", "processing", "refunded",
                            "partially_refunded")),
                _f("method", default="card", choices=("card", "ach"))),
    "order": (_f("name", required=True), _f("amount", "number"), _f("currency"), _f("status")),
    "payment_link": (_f("name", required=True), _f("url")),
    "feedback_submission": (_f("survey", required=True),
                            _f("sentiment", choices=("positive", "neutral", "negative"))),
    "custom_record": (_f("object", required=True), _f("name", required=True)),
}  # fmt: skip
_STORED_NAMES = {"email": "emails", "domain": "domains", "object": "object_name"}


def record_values(
    obj: AssociationObject, fields: Mapping[str, str], *, now: dt.datetime
) -> dict[str, Any]:
    """Checked, typed values of a new record (the keys ``RecordStore.create_record`` takes)."""
    spec = {f.name: f for f in RECORD_FIELDS[obj.name]}
    given = dict(fields)
    if obj.name == "contact" and "name" in given:
        first, _, last = given.pop("name").strip().partition(" ")
        given.setdefault("firstname", first)
        given.setdefault("lastname", last.strip())
    allowed = list(spec) + (["name"] if obj.name == "contact" else [])
    unknown = [k for k in given if k not in spec]
    if unknown:
        raise InputError(
            "create", f"{obj.label.lower()} has no field {unknown[0]}; fields: {', '.join(allowed)}"
        )
    values: dict[str, Any] = {"created_at": now}
    for f in spec.values():
        raw = given.get(f.name, "").strip()
        if not raw:
            if f.required:
                raise InputError("create", f"a {obj.label.lower()} needs {f.name}=…")
            if f.default is not None:
                values[f.name] = f.default
            elif f.kind == "emails" or f.kind == "domains":
                values[_STORED_NAMES[f.name]] = []
            else:
                values[f.name] = None
            continue
        values[_STORED_NAMES.get(f.name, f.name)] = _typed(f, raw)
    if obj.name == "payment":
        _check_money(values["amount"], str(values["currency"]), "create", "amount")
    if obj.name == "contact" and not (
        values["firstname"] or values["lastname"] or values["emails"]
    ):
        raise InputError("create", "a contact needs name=… or email=…")
    return values


def _typed(f: RecordField, raw: str, where: str = "create") -> Any:
    """``raw`` as the field's type, through the one text-to-number conversion and the money
    limits; input errors name ``where`` the value was given (``create``, ``line_item``)."""
    from subctl.query.values import ValueParseError, parse_number
    from subctl.services.validation import (
        QUANTITY_MAX,
        currency_problem,
        email_domain,
        is_domain,
        money_limit_problem,
    )

    if f.kind in ("number", "integer"):
        try:
            number = parse_number(raw)
        except ValueParseError as exc:
            raise InputError(where, f"{f.name} {exc}") from exc
        if f.kind == "integer":
            if not isinstance(number, int) or not 1 <= number <= QUANTITY_MAX:
                raise InputError(
                    where,
                    f'{f.name} "{raw}" is not a positive whole number (1 to {QUANTITY_MAX:,})',
                )
            return number
        amount = Decimal(number)
        problem = money_limit_problem(amount, f'"{raw}"')
        if problem:
            raise InputError(where, f"{f.name} {problem}")
        return amount
    if f.kind == "emails":
        emails = [e.strip() for e in raw.split(";") if e.strip()]
        for email in emails:
            if email_domain(email) is None:
                raise InputError(where, f'"{email}" is not an email address')
        return emails
    if f.kind == "domains":
        domains = [d.strip().lower() for d in raw.split(";") if d.strip()]
        for domain in domains:
            if not is_domain(domain):
                raise InputError(where, f'"{domain}" is not a domain name')
        return domains
    if f.choices and raw.lower() not in f.choices:
        raise InputError(where, f'{f.name} "{raw}" is not one of {", ".join(f.choices)}')
    if f.name == "currency":
        problem = currency_problem(raw.upper(), f'"{raw}"')
        if problem:
            raise InputError(where, f"currency {problem}")
        return raw.upper()
    return raw.lower() if f.choices else raw


def _check_money(amount: Decimal, currency: str, where: str, name: str) -> None:
    """``amount`` in ``currency``: no finer than the currency's minor unit (never rounded)."""
    from subctl.services.validation import money_problem

    problem = money_problem(amount, currency)
    if problem:
        raise InputError(where, f"{name} {problem}")


def create_and_associate(
    records: RecordStore,
    sub_id: int,
    obj: AssociationObject,
    fields: Mapping[str, str],
    *,
    mode: str = ADD,
    now: dt.datetime,
    confirm: Confirm | None = None,
) -> Outcome:
    """Create a record and associate it (the article's "create new"); the checks and
    ``confirm`` as for ``associate``."""
    if mode == REMOVE:
        raise UsageError("a record is created to be associated, not removed")
    values = record_values(obj, fields, now=now)
    current = records.associations(sub_id, obj.name)  # NotFound for an unknown subscription
    sub = _subscription(records, sub_id)
    if mode == REPLACE:
        _check_editable(sub, now.date())
    _check_rules(records, sub_id, obj, None, mode, current)
    if obj.name == "payment":
        _check_currency(sub, "the payment", str(values["currency"]))
    replaced = tuple(a.id for a in current) if mode == REPLACE else ()
    if replaced and confirm is not None:
        confirm(current)
    new_id = records.create_record(obj.name, values)
    records.associate(sub_id, obj.name, new_id, obj.type_id)
    for other in replaced:
        records.dissociate(sub_id, obj.name, other)
    label = records.record_label(obj.name, new_id)
    return Outcome(sub_id, obj.name, new_id, "created", obj.type_id, label, replaced)


# -- editing line items ----------------------------------------------------------------------


@dataclass(frozen=True)
class LineItemEdit:
    """A line item edited, with the subscription's amounts before and after."""

    subscription_id: int
    item: LineItem
    currency: str
    amounts: Mapping[str, Decimal]  # hs_next_payment_amount, hs_mrr: now
    changes: Mapping[str, tuple[Any, Any]]  # those of them that changed: (old, new)

    def row(self) -> dict[str, Any]:
        return {
            "subscription_id": self.subscription_id,
            "line_item_id": self.item.id,
            "name": self.item.name,
            "quantity": self.item.quantity,
            "price": self.item.price,
            "currency": self.currency,
            **self.amounts,
        }

    def message(self) -> str:
        item = self.item
        text = (
            f"Updated line item {item.id} ({item.name}) of subscription {self.subscription_id}: "
            f"{item.quantity} × {item.price} {self.currency}"
        )
        shown = {"hs_next_payment_amount": "next payment amount", "hs_mrr": "MRR"}
        moved = [f"{shown[k]} {old} → {new}" for k, (old, new) in self.changes.items()]
        return text + (f"; {', '.join(moved)}" if moved else "")


_LINE_ITEM_FIELDS = (*_EDIT_FIELDS, "hs_scheduled_cancellation_date", "hs_next_payment_amount",
                     "hs_mrr", "hs_recurring_billing_frequency")  # fmt: skip


def edit_line_item(
    records: RecordStore,
    sub_id: int,
    line_item_id: int,
    fields: Mapping[str, str | None],
    *,
    now: dt.datetime,
) -> LineItemEdit:
    """Set a line item's ``quantity`` and/or ``price`` (raw text, checked like ``--create``'s)
    and the subscription's next payment amount and MRR (module docstring), in one write."""
    from subctl.billing import monthly_recurring
    from subctl.services.validation import money_limit_problem
    from subctl.store import ops

    spec = {f.name: f for f in RECORD_FIELDS["line_item"]}
    given = {name: raw.strip() for name, raw in fields.items() if raw is not None}
    if not given:
        raise UsageError("a line item edit needs a quantity and/or a price")
    typed = {name: _typed(spec[name], raw, "line_item") for name, raw in given.items()}
    items = records.line_items(sub_id)  # NotFound for an unknown subscription
    records.record_label("line_item", line_item_id)  # NotFound for an unknown line item
    old = next((i for i in items if i.id == line_item_id), None)
    if old is None:
        raise InvalidState(f"line item {line_item_id} does not belong to subscription {sub_id}")
    sub = _subscription(records, sub_id, _LINE_ITEM_FIELDS)
    _check_editable(sub, now.date())
    props = sub.properties
    scheduled = props.get("hs_scheduled_cancellation_date")
    if scheduled is not None:
        raise InvalidState(
            f"subscription {sub_id} is scheduled to cancel on {scheduled} and is never charged "
            "again: its line items cannot be edited"
        )
    new = LineItem(old.id, old.name, typed.get("quantity", old.quantity),
                   typed.get("price", old.price))  # fmt: skip
    currency = str(props.get("hs_currency_code") or "")
    if "price" in typed:
        _check_money(typed["price"], currency, "line_item", "price")
    after = [new if i.id == new.id else i for i in items]
    amount = ops.next_payment_amount(after, currency)
    too_large = money_limit_problem(amount, f"the next payment amount {amount}")
    if too_large:
        raise InputError("line_item", too_large)
    frequency = str(props.get("hs_recurring_billing_frequency") or "")
    try:
        mrr = monthly_recurring(amount, currency, frequency)
    except ValueError as exc:
        raise InvalidState(f"subscription {sub_id}: cannot compute the MRR: {exc}") from exc
    if sub.status == "paused":  # earns nothing until resumed (resuming restores the MRR)
        mrr = ops.ZERO
    # What the store computes from the line items (as HubSpot does), for the report.
    wanted = {"hs_next_payment_amount": amount, "hs_mrr": mrr}
    changes = {k: (props.get(k), v) for k, v in wanted.items() if props.get(k) != v}
    records.execute([
        ops.Update(subscription_id=sub_id, expect_status=sub.status, at=now,
                   source="subctl associate", values={}, line_items=(new,))
    ])  # fmt: skip
    return LineItemEdit(sub_id, new, currency, wanted, changes)


# -- batches -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Pair:
    line: int
    subscription_id: int
    object: AssociationObject
    object_id: int


def read_pairs(text: str) -> Iterator[Pair | Outcome]:
    """Rows of a pairs file: a ``Pair``, or a failed ``Outcome`` for a row that does not parse.
    The first row that is neither blank nor a comment is a header if its first cell is not a
    number."""
    reader = csv.reader(io.StringIO(text.removeprefix("\ufeff")))  # stdin may carry a BOM
    first = True
    for row in reader:
        line = reader.line_num
        cells = [c.strip() for c in row]
        if not any(cells) or cells[0].startswith("#"):
            continue
        if first:
            first = False
            if not cells[0].isdigit():  # any digits (even "²") are data, refused as an id below
                continue  # header
        try:
            if len(cells) != 3:
                raise UsageError(
                    "expected 3 columns (subscription id, object type, object id), "
                    f"got {len(cells)}"
                )
            yield Pair(
                line,
                record_id(cells[0], "subscription id"),
                object_type(cells[1]),
                record_id(cells[2], "object id"),
            )
        except UsageError as exc:
            sub = int(cells[0]) if _is_id(cells[0]) else None
            kind = cells[1] if len(cells) > 1 else ""
            yield Outcome(sub, kind, None, "failed", error=exc.message, line=line)


def apply_batch(
    records: RecordStore,
    rows: Iterable[Pair | Outcome],
    *,
    mode: str = ADD,
    today: dt.date,
    stop: Callable[[], bool] = lambda: False,
) -> Iterator[Outcome]:
    """Apply each row on its own (in file order), yielding every outcome as it is applied.
    ``stop`` is asked before each row: when it says so (Ctrl-C), the rows left are not applied
    and the caller reports what was done."""
    for row in rows:
        if stop():
            return
        if isinstance(row, Outcome):
            yield row
            continue
        try:
            outcome = associate(
                records, row.subscription_id, row.object, row.object_id, mode=mode, today=today
            )
        except (InvalidState, NotFound, UsageError) as exc:
            outcome = _failed(row, exc)
        yield _at_line(outcome, row.line)


def _failed(row: Pair, exc: SubctlError) -> Outcome:
    return Outcome(row.subscription_id, row.object.name, row.object_id, "failed",
                   row.object.type_id, error=exc.message)  # fmt: skip


def _at_line(outcome: Outcome, line: int) -> Outcome:
    from dataclasses import replace

    return replace(outcome, line=line)


def batch_columns() -> Sequence[tuple[str, str]]:
    return (
        ("line", "Line"),
        ("subscription_id", "Subscription"),
        ("object_type", "Object"),
        ("object_id", "Record"),
        ("associationTypeId", "Type"),
        ("outcome", "Outcome"),
        ("error", "Error"),
        ("label", "Label"),
        ("replaced", "Replaced"),
    )
