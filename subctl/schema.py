"""Property definitions of the subscription object (HubSpot object 0-69).

Pure data and conversions, no heavy imports: the CLI's ``--help`` path may import this module.

Value types and their conversions (storage, wire, text) live in ``subctl.codec``; this module
re-exports ``PropType`` and the storage functions.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

# The types and conversions of property values, re-exported from the codec.
from subctl.codec import CENT as CENT
from subctl.codec import EPOCH as EPOCH
from subctl.codec import MILL as MILL
from subctl.codec import NUMBER_LIMIT as NUMBER_LIMIT
from subctl.codec import NUMBER_TINY as NUMBER_TINY
from subctl.codec import WIDE as WIDE
from subctl.codec import PropType as PropType
from subctl.codec import from_storage as from_storage
from subctl.codec import money_from_storage as money_from_storage
from subctl.codec import money_quantum
from subctl.codec import to_storage as to_storage


@dataclass(frozen=True)
class Option:
    label: str
    value: str
    description: str = ""


MULTI_VALUE = "checkbox"  # enumeration fieldType whose values are ;-separated option values
CALCULATED = "calculation_equation"  # fieldType of a formula property (values are read-only)
# Data sensitivity of a property whose values every output masks unless shown with permission.
HIGHLY_SENSITIVE = "highly_sensitive"
MASK = "******"


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

    @property
    def multi_value(self) -> bool:
        """A multiple-checkbox enumeration: its value is ``;``-separated option values."""
        return self.type is PropType.ENUMERATION and self.field_type == MULTI_VALUE

    @property
    def is_calculated(self) -> bool:
        """A custom calculated property (``calculation_equation``): its value is read-only."""
        return not self.hubspot_defined and self.field_type == CALCULATED

    @property
    def highly_sensitive(self) -> bool:
        """Its values are masked in every output unless shown with permission."""
        return self.sensitivity == HIGHLY_SENSITIVE

    def option_values(self) -> list[str]:
        return [o.value for o in self.options]

    def option_value(self, text: str) -> str | None:
        """The option for an internal value (exact first) or a label, then for an internal value
        again, both case-insensitive with surrounding blanks ignored (``PAST_DUE`` is
        ``past_due``); None when nothing matches."""
        for option in self.options:
            if option.value == text:
                return option.value
        folded = text.strip().casefold()
        for option in self.options:
            if option.label.casefold() == folded:
                return option.value
        for option in self.options:
            if option.value.casefold() == folded:
                return option.value
        return None

    def to_storage(self, value: Any) -> Any:
        return to_storage(self.type, value)

    def from_storage(self, raw: Any) -> Any:
        return from_storage(self.type, raw, money=self.money)


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


# ISO 4217 codes of the currencies in circulation (hs_currency_code), without funds codes, units
# of account, precious metals and test codes: what a subscription can be billed in.
CURRENCY_CODES: frozenset[str] = frozenset(
    """
    AED AFN ALL AMD ANG AOA ARS AUD AWG AZN BAM BBD BDT BGN BHD BIF BMD BND BOB BRL BSD BTN BWP
    BYN BZD CAD CDF CHF CLP CNY COP CRC CUP CVE CZK DJF DKK DOP DZD EGP ERN ETB EUR FJD FKP GBP
    GEL GHS GIP GMD GNF GTQ GYD HKD HNL HTG HUF IDR ILS INR IQD IRR ISK JMD JOD JPY KES KGS KHR
    KMF KPW KRW KWD KYD KZT LAK LBP LKR LRD LSL LYD MAD MDL MGA MKD MMK MNT MOP MRU MUR MVR MWK
    MXN MYR MZN NAD NGN NIO NOK NPR NZD OMR PAB PEN PGK PHP PKR PLN PYG QAR RON RSD RUB RWF SAR
    SBD SCR SDG SEK SGD SHP SLE SOS SRD SSP STN SVC SYP SZL THB TJS TMT TND TOP TRY TTD TWD TZS
    UAH UGX USD UYU UZS VED VES VND VUV WST XAF XCD XCG XOF XPF YER ZAR ZMW ZWG
""".split()
)

# The payment methods a buyer may use (hs_allowed_payment_methods): the methods HubSpot payments
# offers; the option values are not established (DOMAIN.md §1), subctl's are lower-case names.
PAYMENT_METHODS: tuple[tuple[str, str], ...] = (
    ("card", "Credit or debit card"),
    ("ach", "ACH bank transfer"),
    ("sepa", "SEPA direct debit"),
    ("bacs", "Bacs direct debit"),
    ("pads", "Pre-authorized debit (PAD)"),
)
# The language of invoices and e-mails (hs_language): the languages of HubSpot's exports
# (DOMAIN.md §5), as lower-case codes; HubSpot's own option list is not established.
LANGUAGES: tuple[tuple[str, str], ...] = (
    ("da", "Danish"), ("de", "German"), ("en", "English"), ("es", "Spanish"), ("fi", "Finnish"),
    ("fr", "French"), ("it", "Italian"), ("ja", "Japanese"), ("nl", "Dutch"),
    ("no", "Norwegian"), ("pl", "Polish"), ("pt", "Portuguese"), ("sv", "Swedish"),
)  # fmt: skip


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
             ("last_payment_amount",), money=True, read_only_value=True),
    Property("hs_last_payment_status", "Last payment status", _P.ENUMERATION, "select",
             ("last_payment_status",),
             _opts([("succeeded", "Succeeded"), ("failed", "Failed"),
                    ("partially_refunded", "Partially refunded"), ("refunded", "Refunded"),
                    ("processing", "Processing")]), read_only_value=True),
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
    Property("hs_mrr", "MRR", _P.NUMBER, "number", ("mrr",), money=True, read_only_value=True),
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
    # -- billing (migration m006_billing_clock): what the billing run (``subctl billing run``,
    # ``subctl clock advance``) records. HubSpot's records carry the payment counters
    # hs_number_of_completed_payments and hs_total_collected_amount (DOMAIN.md §1, seen on live
    # records); the other internal names are NOT FOUND and are subctl's: the day of the last
    # payment, the term of a fixed-term subscription (HubSpot's line items call it
    # hs_recurring_billing_number_of_payments; empty: billed until canceled), the day a paused
    # subscription resumes by itself (``pause --resume-on``), and the retry state of a failed
    # card payment. All but the term are set by billing and the verbs only.
    Property("hs_last_payment_date", "Last payment date", _P.DATETIME, "date",
             ("last_payment_date",), read_only_value=True),
    Property("hs_number_of_completed_payments", "Number of completed payments", _P.NUMBER,
             "number", ("completed_payments", "number_of_completed_payments"),
             read_only_value=True),
    Property("hs_total_collected_amount", "Total collected amount", _P.NUMBER, "number",
             ("total_collected", "total_collected_amount"), money=True, read_only_value=True),
    Property("hs_recurring_billing_number_of_payments", "Number of payments", _P.NUMBER,
             "number", ("number_of_payments", "term")),
    Property("hs_resume_date", "Resume date", _P.DATE, "date", ("resume_date", "resume_on"),
             read_only_value=True),
    Property("hs_next_payment_retry_date", "Next payment retry date", _P.DATE, "date",
             ("next_payment_retry_date", "retry_date"), read_only_value=True),
    Property("hs_payment_retry_count", "Failed payment retries", _P.NUMBER, "number",
             ("payment_retry_count", "retries"), read_only_value=True),
    # -- billing details HubSpot keeps editable once a subscription is billable (DOMAIN.md §1;
    # migration m004_billing_details). Internal names are HubSpot's; their types are not
    # established (DOMAIN.md §1), so subctl chooses: the owner is HubSpot's owner id (the
    # CRM-wide hubspot_owner_id; the guide's hs_owner is not documented further and is left
    # out), the payment methods and address types are multiple checkboxes, the language a
    # select of the languages HubSpot's exports speak, the rest text. The guide names the
    # billing-address fields hs_recipient_billing_address and its "_address2, _city, _country,
    # _state, _zip" siblings: subctl reads these as hs_recipient_billing_<suffix>.
    Property("hubspot_owner_id", "Owner", _P.NUMBER, "number", ("owner", "owner_id"),
             group="billinginformation"),
    Property("hs_automatically_email_invoices", "Automatically email invoices", _P.BOOL,
             "booleancheckbox", ("automatically_email_invoices",), group="billinginformation"),
    Property("hs_allowed_payment_methods", "Allowed payment methods", _P.ENUMERATION,
             "checkbox", ("allowed_payment_methods",),
             _opts(PAYMENT_METHODS), group="billinginformation"),
    Property("hs_collect_address_types", "Collect address types", _P.ENUMERATION, "checkbox",
             ("collect_address_types",),
             _opts([("billing_address", "Billing address"),
                    ("shipping_address", "Shipping address")]), group="billinginformation"),
    Property("hs_invoice_comments", "Invoice comments", _P.STRING, "textarea",
             ("invoice_comments",), group="billinginformation"),
    Property("hs_language", "Language", _P.ENUMERATION, "select", ("language",),
             _opts(LANGUAGES), group="billinginformation"),
    Property("hs_locale", "Locale", _P.STRING, "text", ("locale",), group="billinginformation"),
    Property("hs_payment_enabled", "Payment enabled", _P.BOOL, "booleancheckbox",
             ("payment_enabled",), group="billinginformation"),
    Property("hs_tax_ids", "Tax IDs", _P.STRING, "text", ("tax_ids",), group="billinginformation"),
    Property("hs_recipient_billing_address", "Billing address", _P.STRING, "text",
             ("billing_address",), group="billinginformation"),
    Property("hs_recipient_billing_address2", "Billing address line 2", _P.STRING, "text",
             ("billing_address2",), group="billinginformation"),
    Property("hs_recipient_billing_city", "Billing city", _P.STRING, "text",
             ("billing_city",), group="billinginformation"),
    Property("hs_recipient_billing_state", "Billing state/region", _P.STRING, "text",
             ("billing_state",), group="billinginformation"),
    Property("hs_recipient_billing_zip", "Billing postal code", _P.STRING, "text",
             ("billing_zip", "billing_postal_code"), group="billinginformation"),
    Property("hs_recipient_billing_country", "Billing country", _P.STRING, "text",
             ("billing_country",), group="billinginformation"),
)  # fmt: skip

CURRENCY_PROPERTY = "hs_currency_code"
MONEY_PROPERTIES: tuple[str, ...] = tuple(p.name for p in STANDARD_PROPERTIES if p.money)


def in_currency(properties: dict[str, Any], currency: str) -> None:
    """A subscription's amounts (``MONEY_PROPERTIES``) with exactly ``currency``'s decimals
    (``codec.currency_decimals``) where they have no finer digits: ``1500.00`` -> ``1500`` for
    JPY, ``12.30`` -> ``12.300`` for BHD; in place."""
    quantum = money_quantum(currency)
    for name in MONEY_PROPERTIES:
        value = properties.get(name)
        if type(value) is Decimal and value.is_finite():
            own = value.quantize(quantum, context=WIDE)
            if own == value:
                properties[name] = own


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
# for both directions. Orders (515/516) and payment links (478/477) are HubSpot's ids too.
# HubSpot defines no subscription association with feedback submissions nor with the records of
# custom objects (a portal creates USER_DEFINED types for those): subctl's own ids are 9001/9002
# (feedback submission) and 9003/9004 (custom object record), far from HubSpot's defined range.
# Custom object records of every custom object share one object name, ``custom_record``
# (one export column pair), each record naming its custom object.
ASSOCIATION_OBJECTS: tuple[AssociationObject, ...] = (
    AssociationObject("contact", "Contact", 295, 296, "Contacts"),
    AssociationObject("company", "Company", 297, 298, "Companies"),
    AssociationObject("deal", "Deal", 299, 300, "Deals"),
    AssociationObject("line_item", "Line item", 301, 302, "Line items"),
    AssociationObject("quote", "Quote", 303, 304, "Quotes"),
    AssociationObject("invoice", "Invoice", 623, 622, "Invoices"),
    AssociationObject("payment", "Payment", 393, 393, "Payments"),
    AssociationObject("order", "Order", 515, 516, "Orders"),  # m007
    AssociationObject("payment_link", "Payment link", 478, 477, "Payment links"),  # m007
    AssociationObject("feedback_submission", "Feedback submission", 9001, 9002,
                      "Feedback submissions"),  # m007
    AssociationObject("custom_record", "Custom object record", 9003, 9004,
                      "Custom object records"),  # m007
)  # fmt: skip
ASSOCIATION_BY_NAME = {a.name: a for a in ASSOCIATION_OBJECTS}


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


def masked_names(props: Iterable[Property]) -> frozenset[str]:
    """The names of the highly sensitive properties among ``props``."""
    return frozenset(p.name for p in props if p.highly_sensitive)


def standard_registry() -> PropertyRegistry:
    return PropertyRegistry(STANDARD_PROPERTIES)
