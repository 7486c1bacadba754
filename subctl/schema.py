"""Property definitions of the subscription object (HubSpot object 0-69).

Pure data and conversions, no heavy imports: the CLI's ``--help`` path may import this module.

Storage convention (shared by every SQL backend): ``date`` and ``datetime`` values are stored as
epoch milliseconds (dates at midnight UTC), exactly as HubSpot's API exchanges them; numbers as
double precision; booleans as integers; strings and enumerations as text. Python-side values are
``datetime.date``, timezone-aware UTC ``datetime``, ``Decimal`` (money) or ``int``/``Decimal``
(other numbers), ``bool`` and ``str``.
"""

from __future__ import annotations

import datetime as dt
import difflib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from decimal import Context, Decimal
from enum import StrEnum
from typing import Any

OBJECT_TYPE_ID = "0-69"
EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
CENT = Decimal("0.01")
WIDE = Context(prec=400)  # quantizing any double to cents never runs out of digits
# Numbers a property holds: finite, with magnitude below 1e18 and not below 1e-12 (besides 0),
# which a double stores and every output renders exactly enough.
NUMBER_LIMIT = Decimal("1e18")
NUMBER_TINY = Decimal("1e-12")


class PropType(StrEnum):
    STRING = "string"
    NUMBER = "number"
    DATE = "date"
    DATETIME = "datetime"
    ENUMERATION = "enumeration"
    BOOL = "bool"


@dataclass(frozen=True)
class Option:
    label: str
    value: str
    description: str = ""


@dataclass(frozen=True)
class Property:
    name: str
    label: str
    type: PropType
    field_type: str
    aliases: tuple[str, ...] = ()
    options: tuple[Option, ...] = ()
    description: str = ""
    group: str = "subscriptioninformation"
    hubspot_defined: bool = True
    read_only_value: bool = False
    money: bool = False
    sensitivity: str = "non_sensitive"
    unique: bool = False
    rules: tuple[tuple[str, tuple[str, ...]], ...] = field(default=())

    @property
    def column(self) -> str:
        """Column name in SQL workspaces: HubSpot's internal name."""
        return self.name

    def option_values(self) -> list[str]:
        return [o.value for o in self.options]

    def option_value(self, text: str) -> str | None:
        """The option for an internal value (exact) or a label (case-insensitive, surrounding
        blanks ignored), or None."""
        for option in self.options:
            if option.value == text:
                return option.value
        folded = text.strip().casefold()
        for option in self.options:
            if option.label.casefold() == folded:
                return option.value
        return None

    def to_storage(self, value: Any) -> Any:
        return to_storage(self.type, value)

    def from_storage(self, raw: Any) -> Any:
        if self.money and raw is not None:
            return money_from_storage(raw)
        return from_storage(self.type, raw)


# -- statuses --------------------------------------------------------------------------------


@dataclass(frozen=True)
class StatusInfo:
    value: str
    label: str
    meaning: str


STATUSES: tuple[StatusInfo, ...] = (
    StatusInfo("active", "Active", "every scheduled payment has been processed"),
    StatusInfo("unpaid", "Unpaid", "the payment for the current billing cycle failed"),
    StatusInfo("past_due", "Past due", "a payment is overdue"),
    StatusInfo("canceled", "Canceled", "canceled before the end of the term; never charged again"),
    StatusInfo("expired", "Expired", "charged for the whole term; no further charges"),
    StatusInfo("scheduled", "Scheduled", "billing is deferred to the start date"),
    StatusInfo("paused", "Paused", "billing is suspended; can be resumed"),
)
STATUS_BY_VALUE = {s.value: s for s in STATUSES}

# Not established by HubSpot for subscriptions (DOMAIN.md §1): the option list of the billing
# frequency. subctl uses the values HubSpot line items use for hs_recurring_billing_frequency.
FREQUENCIES: tuple[tuple[str, str, int], ...] = (
    # value, label, length of one period in months (weekly/biweekly: 0, handled in days)
    ("weekly", "Weekly", 0),
    ("biweekly", "Biweekly", 0),
    ("monthly", "Monthly", 1),
    ("quarterly", "Quarterly", 3),
    ("per_six_months", "Every six months", 6),
    ("annually", "Annually", 12),
    ("per_two_years", "Every two years", 24),
)


def _opts(pairs: Iterable[tuple[str, str]]) -> tuple[Option, ...]:
    return tuple(Option(label=label, value=value) for value, label in pairs)


_P = PropType
STANDARD_PROPERTIES: tuple[Property, ...] = (
    Property("hs_object_id", "Record ID", _P.NUMBER, "number", ("id", "record_id"),
             read_only_value=True),
    Property("hs_name", "Name", _P.STRING, "text", ("name",)),
    Property("hs_status", "Status", _P.ENUMERATION, "select", ("status",),
             _opts((s.value, s.label) for s in STATUSES)),
    Property("hs_recurring_billing_start_date", "Start date", _P.DATE, "date",
             ("start_date", "billing_start_date")),
    Property("hs_next_payment_due_date", "Next payment due date", _P.DATE, "date",
             ("next_payment_due_date", "next_billing_date", "due")),
    Property("hs_next_payment_amount", "Next payment amount", _P.NUMBER, "number",
             ("next_payment_amount",), money=True),
    Property("hs_last_payment_amount", "Last payment amount", _P.NUMBER, "number",
             ("last_payment_amount",), money=True),
    Property("hs_last_payment_status", "Last payment status", _P.ENUMERATION, "select",
             ("last_payment_status",),
             _opts([("succeeded", "Succeeded"), ("failed", "Failed"),
                    ("partially_refunded", "Partially refunded"), ("refunded", "Refunded"),
                    ("processing", "Processing")])),
    Property("hs_currency_code", "Currency code", _P.STRING, "text", ("currency",)),
    Property("hs_recurring_billing_frequency", "Billing frequency", _P.ENUMERATION, "select",
             ("frequency", "billing_frequency"), _opts((v, lbl) for v, lbl, _ in FREQUENCIES)),
    Property("hs_collection_process", "Collection process", _P.ENUMERATION, "select",
             ("collection_process",),
             _opts([("automatic_payments", "Automatic payments"),
                    ("manual_payments", "Manual payments")])),
    Property("hs_net_payment_terms", "Net payment terms", _P.NUMBER, "number",
             ("net_payment_terms",)),
    Property("hs_invoice_creation", "Billable", _P.ENUMERATION, "select",
             ("invoice_creation", "billable"), _opts([("on", "On"), ("off", "Off")])),
    Property("hs_payment_method", "Payment method", _P.STRING, "text", ("payment_method",)),
    Property("hs_mrr", "MRR", _P.NUMBER, "number", ("mrr",), money=True),
    Property("hs_createdate", "Create date", _P.DATETIME, "date", ("createdate", "created"),
             read_only_value=True),
    Property("hs_lastmodifieddate", "Last modified date", _P.DATETIME, "date",
             ("lastmodifieddate", "updated"), read_only_value=True),
    # HubSpot documents no internal name for the cancellation date (DOMAIN.md §1, "not
    # established"); subctl stores it as hs_canceled_at, label "Cancellation date".
    Property("hs_canceled_at", "Cancellation date", _P.DATETIME, "date",
             ("canceled_at", "cancellation_date"), read_only_value=True),
    # -- lifecycle (migration m002_lifecycle). Internal names NOT FOUND in HubSpot's
    # docs: the pause endpoint takes a "pauseReason" (DOMAIN.md §2), kept as hs_pause_reason;
    # `cancel --at-period-end` records the day the subscription ends as
    # hs_scheduled_cancellation_date. Both are set by lifecycle verbs only.
    Property("hs_pause_reason", "Pause reason", _P.STRING, "text", ("pause_reason",),
             read_only_value=True),
    Property("hs_scheduled_cancellation_date", "Scheduled cancellation date", _P.DATE, "date",
             ("scheduled_cancellation_date", "cancel_at"), read_only_value=True),
)  # fmt: skip

DEFAULT_LIST_FIELDS: tuple[str, ...] = (
    "hs_object_id",
    "hs_name",
    "hs_status",
    "hs_next_payment_due_date",
    "hs_next_payment_amount",
    "hs_currency_code",
    "hs_recurring_billing_frequency",
)


# -- associations ------------------------------------------------------------------------------


@dataclass(frozen=True)
class AssociationObject:
    name: str  # singular CLI / query name: associations.<name>
    label: str
    type_id: int  # subscription -> object
    reverse_type_id: int  # object -> subscription
    plural: str


# DOMAIN.md §6. HubSpot lists only Payment -> Subscription (393) for payments; subctl uses 393
# for both directions.
ASSOCIATION_OBJECTS: tuple[AssociationObject, ...] = (
    AssociationObject("contact", "Contact", 295, 296, "Contacts"),
    AssociationObject("company", "Company", 297, 298, "Companies"),
    AssociationObject("deal", "Deal", 299, 300, "Deals"),
    AssociationObject("line_item", "Line item", 301, 302, "Line items"),
    AssociationObject("quote", "Quote", 303, 304, "Quotes"),
    AssociationObject("invoice", "Invoice", 623, 622, "Invoices"),
    AssociationObject("payment", "Payment", 393, 393, "Payments"),
)
ASSOCIATION_BY_NAME = {a.name: a for a in ASSOCIATION_OBJECTS}


# -- conversions ------------------------------------------------------------------------------


def to_storage(ptype: PropType, value: Any) -> Any:
    """Python value -> stored value (see the module docstring)."""
    if value is None:
        return None
    if ptype is PropType.DATE:
        if isinstance(value, dt.datetime):
            value = value.astimezone(dt.UTC).date()
        return (value - EPOCH.date()).days * 86_400_000
    if ptype is PropType.DATETIME:
        if isinstance(value, dt.date) and not isinstance(value, dt.datetime):
            value = dt.datetime(value.year, value.month, value.day, tzinfo=dt.UTC)
        return (value - EPOCH) // dt.timedelta(milliseconds=1)
    if ptype is PropType.NUMBER:
        return float(value)
    if ptype is PropType.BOOL:
        return 1 if value else 0
    return str(value)


def money_from_storage(raw: Any) -> Decimal:
    """A stored amount (money properties, payments) as Decimal cents."""
    return Decimal(from_storage(PropType.NUMBER, raw)).quantize(CENT, context=WIDE)


def from_storage(ptype: PropType, raw: Any) -> Any:
    """Stored value -> Python value."""
    if raw is None:
        return None
    if ptype is PropType.DATE:
        return EPOCH.date() + dt.timedelta(days=int(raw) // 86_400_000)
    if ptype is PropType.DATETIME:
        return EPOCH + dt.timedelta(milliseconds=int(raw))
    if ptype is PropType.NUMBER:
        number = float(raw)
        return int(number) if number.is_integer() else Decimal(repr(number))
    if ptype is PropType.BOOL:
        return bool(raw)
    return str(raw)


# -- registry -------------------------------------------------------------------------------


class PropertyRegistry:
    """Resolves internal names, aliases and labels (case-insensitive) to properties."""

    def __init__(self, properties: Iterable[Property]) -> None:
        self._props: dict[str, Property] = {}
        self._lookup: dict[str, Property] = {}
        for prop in properties:
            self._props[prop.name] = prop
        # internal names win over aliases, aliases over labels
        for prop in self._props.values():
            for key in (prop.label, *prop.aliases):
                self._lookup.setdefault(key.lower(), prop)
        for prop in self._props.values():
            self._lookup[prop.name.lower()] = prop

    def __iter__(self) -> Iterator[Property]:
        return iter(self._props.values())

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and name.lower() in self._lookup

    def get(self, name: str) -> Property | None:
        return self._lookup.get(name.strip().lower())

    def names(self) -> list[str]:
        return list(self._props)

    def short_name(self, prop: Property) -> str:
        """The name users type: the first alias, else the internal name."""
        return prop.aliases[0] if prop.aliases else prop.name

    def suggest(self, name: str) -> str | None:
        candidates = [self.short_name(p) for p in self] + self.names()
        match = difflib.get_close_matches(name.lower(), candidates, n=1, cutoff=0.6)
        return match[0] if match else None

    @property
    def custom(self) -> list[Property]:
        return [p for p in self if not p.hubspot_defined]


def standard_registry() -> PropertyRegistry:
    return PropertyRegistry(STANDARD_PROPERTIES)
