"""The fake's object types and property definitions, in HubSpot's wire shapes (DOMAIN.md §2, §4).

Object types are named as HubSpot's URLs name them (``subscriptions``, ``contacts``, ...) and
also accepted by their type id (``0-69``, ``0-1``). The subscription properties are subctl's
standard ones (``subctl.schema.STANDARD_PROPERTIES``: HubSpot's names, plus the few whose
internal names HubSpot does not document and subctl chose); the other objects carry the
properties subctl's labels read, and accept any other property as a string (the fake is strict
about subscriptions only).
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from subctl.codec import DAY_MS, EPOCH, PropType, iso_datetime
from subctl.schema import ASSOCIATION_OBJECTS, STANDARD_PROPERTIES, Property


@dataclass(frozen=True)
class ObjectType:
    name: str  # URL name: subscriptions, contacts, ...
    type_id: str  # 0-69, 0-1, ...
    scope: str  # crm.objects.<scope>.read|write
    singular: str  # subctl's association name (schema.ASSOCIATION_OBJECTS), "" for subscriptions


# Type ids of HubSpot's objects (developers.hubspot.com "using object APIs"). Payment links,
# feedback submissions' association ids and custom object records are subctl's choices
# (schema.ASSOCIATION_OBJECTS); payment links' type id is NOT FOUND: the fake uses "0-900".
OBJECT_TYPES: tuple[ObjectType, ...] = (
    ObjectType("subscriptions", "0-69", "subscriptions", ""),
    ObjectType("contacts", "0-1", "contacts", "contact"),
    ObjectType("companies", "0-2", "companies", "company"),
    ObjectType("deals", "0-3", "deals", "deal"),
    ObjectType("line_items", "0-8", "line_items", "line_item"),
    ObjectType("quotes", "0-14", "quotes", "quote"),
    ObjectType("feedback_submissions", "0-19", "feedback_submissions", "feedback_submission"),
    ObjectType("invoices", "0-53", "invoices", "invoice"),
    ObjectType("commerce_payments", "0-101", "commercepayments", "payment"),
    ObjectType("orders", "0-123", "orders", "order"),
    ObjectType("payment_links", "0-900", "payment_links", "payment_link"),
    ObjectType("custom_records", "2-9003", "custom", "custom_record"),
)
_BY_KEY: dict[str, ObjectType] = {}
for _o in OBJECT_TYPES:
    _BY_KEY[_o.name] = _BY_KEY[_o.type_id] = _o
    if _o.singular:
        _BY_KEY[_o.singular] = _o
_BY_KEY["payments"] = _BY_KEY["commerce_payments"]
_BY_KEY["subscription"] = _BY_KEY["subscriptions"]


def object_type(key: str) -> ObjectType | None:
    """An object type by URL name, type id or subctl's singular association name."""
    return _BY_KEY.get(key.lower())


# Association type ids between subscriptions and each object: (subscription -> object,
# object -> subscription), from subctl's schema (DOMAIN.md §6).
TYPE_IDS: dict[str, tuple[int, int]] = {
    object_type(a.name).name: (a.type_id, a.reverse_type_id)  # type: ignore[union-attr]
    for a in ASSOCIATION_OBJECTS
}


@dataclass
class PropDef:
    """A property definition as the Properties API holds it."""

    name: str
    label: str
    type: str  # string, number, date, datetime, enumeration, bool
    field_type: str
    group: str = "subscriptioninformation"
    description: str = ""
    options: list[dict[str, Any]] = field(default_factory=list)
    hubspot_defined: bool = True
    read_only_value: bool = False
    read_only_definition: bool = True
    sensitivity: str = "non_sensitive"
    unique: bool = False
    display_hint: str | None = None  # numberDisplayHint
    display_order: int = -1
    created_at: str = "2020-01-01T00:00:00.000Z"
    updated_at: str = "2020-01-01T00:00:00.000Z"
    extra: dict[str, Any] = field(default_factory=dict)  # other fields given at creation

    @property
    def multi(self) -> bool:
        return self.type == "enumeration" and self.field_type == "checkbox"

    def option_values(self) -> list[str]:
        return [str(o["value"]) for o in self.options]

    def wire(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            **self.extra,
            "name": self.name,
            "label": self.label,
            "type": self.type,
            "fieldType": self.field_type,
            "groupName": self.group,
            "description": self.description,
            "options": [dict(o) for o in self.options],
            "displayOrder": self.display_order,
            "calculated": self.field_type == "calculation_equation",
            "externalOptions": False,
            "hasUniqueValue": self.unique,
            "hidden": False,
            "hubspotDefined": self.hubspot_defined,
            "modificationMetadata": {
                "archivable": not self.hubspot_defined,
                "readOnlyDefinition": self.read_only_definition,
                "readOnlyValue": self.read_only_value,
            },
            "formField": True,
            "dataSensitivity": self.sensitivity,
            "sensitiveDataCategories": [],
            "createdAt": self.created_at,
            "updatedAt": self.updated_at,
            "archived": False,
        }
        if self.display_hint:
            body["numberDisplayHint"] = self.display_hint
        return body


# HubSpot computes these: a create or update that sets them is refused (READ_ONLY_VALUE).
COMPUTED = frozenset({"hs_object_id", "hs_createdate", "hs_lastmodifieddate"})


def from_schema(prop: Property, order: int) -> PropDef:
    return PropDef(
        name=prop.name,
        label=prop.label,
        type=prop.type.value,
        field_type=prop.field_type,
        group=prop.group,
        description=prop.description,
        options=[
            {
                "label": o.label,
                "value": o.value,
                "description": o.description,
                "displayOrder": i,
                "hidden": False,
            }
            for i, o in enumerate(prop.options)
        ],
        hubspot_defined=prop.hubspot_defined,
        read_only_value=prop.read_only_value or prop.name in COMPUTED,
        read_only_definition=prop.hubspot_defined,
        sensitivity=prop.sensitivity,
        unique=prop.unique,
        display_hint="currency" if prop.money else None,
        display_order=order,
    )


def _text(name: str, label: str, group: str) -> PropDef:
    return PropDef(name, label, "string", "text", group=group)


def _number(name: str, label: str, group: str) -> PropDef:
    return PropDef(name, label, "number", "number", group=group)


def standard_properties() -> dict[str, dict[str, PropDef]]:
    """Every object type's definitions by name: subscriptions from subctl's schema, the other
    objects the few properties their display labels use (``subctl.labels``)."""
    subs = {p.name: from_schema(p, i) for i, p in enumerate(STANDARD_PROPERTIES)}
    common = {
        "hs_object_id": PropDef("hs_object_id", "Record ID", "number", "number"),
        "hs_createdate": PropDef("hs_createdate", "Create date", "datetime", "date"),
        "hs_lastmodifieddate": PropDef("hs_lastmodifieddate", "Last modified", "datetime", "date"),
    }
    others: dict[str, list[PropDef]] = {
        "contacts": [
            _text("firstname", "First name", "contactinformation"),
            _text("lastname", "Last name", "contactinformation"),
            _text("email", "Email", "contactinformation"),
            _text("hs_additional_emails", "Additional email addresses", "contactinformation"),
        ],
        "companies": [
            _text("name", "Name", "companyinformation"),
            _text("domain", "Domain", "companyinformation"),
            _text("hs_additional_domains", "Additional domains", "companyinformation"),
        ],
        "deals": [_text("dealname", "Deal name", "dealinformation")],
        "line_items": [
            _text("name", "Name", "lineiteminformation"),
            _number("quantity", "Quantity", "lineiteminformation"),
            _number("price", "Unit price", "lineiteminformation"),
        ],
        "commerce_payments": [
            _number("hs_initial_amount", "Amount", "paymentinformation"),
            _text("hs_currency_code", "Currency", "paymentinformation"),
            _text("hs_latest_status", "Status", "paymentinformation"),
            _text("hs_payment_method_type", "Payment method", "paymentinformation"),
        ],
    }
    found: dict[str, dict[str, PropDef]] = {"subscriptions": subs}
    for o in OBJECT_TYPES[1:]:
        defs = {**common, **{d.name: d for d in others.get(o.name, [])}}
        found[o.name] = {k: PropDef(**{**v.__dict__}) for k, v in defs.items()}
    return found


# -- values ----------------------------------------------------------------------------------


class Invalid(ValueError):
    """A property value HubSpot would refuse: ``error`` is its code (INVALID_OPTION, ...)."""

    def __init__(self, name: str, error: str, message: str) -> None:
        super().__init__(message)
        self.name, self.error, self.message = name, error, message


_EPOCH_MS = re.compile(r"^-?\d{1,15}$")


def instant_ms(text: str) -> int | None:
    """Epoch ms of a wire date/datetime: epoch ms, ``YYYY-MM-DD`` (midnight UTC) or ISO 8601;
    None when it is neither."""
    text = text.strip()
    if _EPOCH_MS.match(text):
        return int(text)
    try:
        if len(text) == 10:
            day = dt.date.fromisoformat(text)
            return (day - EPOCH.date()).days * DAY_MS
        moment = dt.datetime.fromisoformat(text.replace("z", "Z"))
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    return int((moment - EPOCH) / dt.timedelta(milliseconds=1))


def decimal(text: str) -> Decimal | None:
    try:
        number = Decimal(text.strip())
    except InvalidOperation:
        return None
    return number if number.is_finite() else None


def normalize(prop: PropDef, text: Any, old: str | None) -> str | None:
    """The stored form of a value set through the API (None: no value); raises Invalid.
    Dates and datetimes are stored as epoch ms (rendered back as HubSpot does: see
    ``render``), booleans lower case, the rest as sent."""
    if text is None:
        raise Invalid(prop.name, "INVALID_VALUE", f'{prop.name}: null is not a value; send ""')
    if not isinstance(text, str):
        # The wire rule HubSpot's spec enforces (DOMAIN.md §2): values are strings. (Its servers
        # may coerce a number; the fake refuses, so a client that relies on it shows.)
        raise Invalid(
            prop.name,
            "INVALID_VALUE",
            f"{prop.name}: {text!r} is not a string; property values are strings",
        )
    if text == "":
        return None
    if prop.type in ("date", "datetime"):
        ms = instant_ms(text)
        if ms is None:
            raise Invalid(prop.name, "INVALID_DATE", f"{text} is not a valid date for {prop.name}")
        if prop.type == "date" and ms % DAY_MS:
            raise Invalid(
                prop.name,
                "INVALID_DATE",
                f"{text} is not a valid date for {prop.name}: a date is at midnight UTC",
            )
        return str(ms)
    if prop.type == "number":
        if decimal(text) is None:
            raise Invalid(prop.name, "INVALID_FLOAT", f"{text} is not a valid number")
        return text.strip()
    if prop.type == "bool":
        if text.strip().lower() not in ("true", "false"):
            raise Invalid(prop.name, "INVALID_BOOLEAN", f"{text} is not a valid boolean")
        return text.strip().lower()
    if prop.type == "enumeration" and prop.options:
        append = prop.multi and text.startswith(";")
        parts = [p for p in text.split(";") if p != ""] if prop.multi else [text]
        allowed = prop.option_values()
        for part in parts:
            if part not in allowed:
                raise Invalid(
                    prop.name,
                    "INVALID_OPTION",
                    f"{part} was not one of the allowed options: [{', '.join(allowed)}]",
                )
        if append and old:
            held = old.split(";")
            parts = held + [p for p in parts if p not in held]
        return ";".join(parts) if parts else None
    return text


def render(prop: PropDef | None, stored: str | None) -> str | None:
    """A stored value as HubSpot's API returns it: dates ``YYYY-MM-DD``, datetimes ISO 8601
    UTC with milliseconds and ``Z``, the rest as stored."""
    if stored is None or prop is None:
        return stored
    if prop.type == "date":
        return (EPOCH + dt.timedelta(milliseconds=int(stored))).date().isoformat()
    if prop.type == "datetime":
        return iso_datetime(EPOCH + dt.timedelta(milliseconds=int(stored)))
    return stored


def wire_of(prop: PropDef, value: Any) -> str:
    """A typed value (the contract suite's seed form) as the stored form (``codec.to_wire``)."""
    from subctl.codec import to_wire

    return to_wire(PropType(prop.type), value)
