"""The other CRM objects as HubSpot serves them: each associable object's API path (also its
v4 association type name) and the properties ``HttpStore`` reads for labels, payments and line
items or writes in ``create_record`` (DOMAIN.md §2, §6: HubSpot's own names where public
sources give them; where they give none, an ``hs_`` name chosen here and used by the test
server alike: ``hs_order_name``, ``hs_survey_name``, ...). Values travel as strings.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from subctl import codec, labels
from subctl.store.base import LineItem, Payment

SUBSCRIPTIONS = "subscriptions"
OBJECT_TYPE_ID = "0-69"
# A record's label and its details (e-mails, domains) from its properties (``wide``: every one).
Label = Callable[[int, Mapping[str, str | None], bool], tuple[str, tuple[str, ...]]]


@dataclass(frozen=True)
class ObjectWire:
    path: str  # /crm/v3/objects/{path}; v4 association paths
    fields: Mapping[str, str]  # create_record's field -> HubSpot property
    label: Label

    @property
    def properties(self) -> list[str]:
        names = [*self.fields.values(), "hs_createdate"]
        if self.path == "contacts":
            names.append("hs_additional_emails")
        if self.path == "companies":
            names.append("hs_additional_domains")
        return names


def _text(values: Mapping[str, str | None], name: str) -> str:
    return values.get(name) or ""


def _listed(first: str | None, more: str | None) -> tuple[str, ...]:
    """The primary value and the ``;``-separated additional ones, in order."""
    found = [first] if first else []
    found += [v for v in (more or "").split(";") if v]
    return tuple(found)


def _contact(oid: int, v: Mapping[str, str | None], wide: bool) -> tuple[str, tuple[str, ...]]:
    mails = _listed(v.get("email"), v.get("hs_additional_emails"))
    name = labels.contact_label(oid, v.get("firstname"), v.get("lastname"), mails, all_emails=wide)
    return name, mails


def _company(oid: int, v: Mapping[str, str | None], wide: bool) -> tuple[str, tuple[str, ...]]:
    domains = _listed(v.get("domain"), v.get("hs_additional_domains"))
    return labels.company_label(_text(v, "name"), domains, all_domains=wide), domains


def _named(
    name: str,
) -> Callable[[int, Mapping[str, str | None], bool], tuple[str, tuple[str, ...]]]:
    return lambda oid, v, wide: (v.get(name) or str(oid), ())


def _line_item(oid: int, v: Mapping[str, str | None], wide: bool) -> tuple[str, tuple[str, ...]]:
    return labels.line_item_label(_text(v, "name"), int(Decimal(v.get("quantity") or "0"))), ()


def _payment(oid: int, v: Mapping[str, str | None], wide: bool) -> tuple[str, tuple[str, ...]]:
    amount = Decimal(v.get("hs_initial_amount") or "0")
    text = labels.payment_label(
        amount,
        _text(v, "hs_currency_code"),
        _text(v, "hs_latest_status"),
        _text(v, "hs_payment_method_type"),
    )
    return text, ()


def _feedback(oid: int, v: Mapping[str, str | None], wide: bool) -> tuple[str, tuple[str, ...]]:
    return labels.feedback_label(_text(v, "hs_survey_name"), v.get("hs_sentiment") or None), ()


def _custom(oid: int, v: Mapping[str, str | None], wide: bool) -> tuple[str, tuple[str, ...]]:
    return labels.custom_record_label(_text(v, "hs_name"), _text(v, "hs_object_name")), ()


OBJECTS: dict[str, ObjectWire] = {
    "contact": ObjectWire(
        "contacts", {"firstname": "firstname", "lastname": "lastname", "email": "email"}, _contact
    ),
    "company": ObjectWire("companies", {"name": "name", "domain": "domain"}, _company),
    "deal": ObjectWire(
        "deals", {"name": "dealname", "amount": "amount", "stage": "dealstage"}, _named("dealname")
    ),
    "line_item": ObjectWire(
        "line_items", {"name": "name", "quantity": "quantity", "price": "price"}, _line_item
    ),
    "quote": ObjectWire("quotes", {"title": "hs_title", "status": "hs_status"}, _named("hs_title")),
    "invoice": ObjectWire(
        "invoices",
        {"number": "hs_number", "amount": "hs_amount_billed", "status": "hs_invoice_status"},
        _named("hs_number"),
    ),
    "payment": ObjectWire(
        "commerce_payments",
        {
            "amount": "hs_initial_amount",
            "currency": "hs_currency_code",
            "status": "hs_latest_status",
            "method": "hs_payment_method_type",
            "kind": "hs_payment_type",
            "refunds_payment_id": "hs_refunded_payment_id",
        },
        _payment,
    ),
    "order": ObjectWire(
        "orders",
        {
            "name": "hs_order_name",
            "amount": "hs_total_price",
            "currency": "hs_currency_code",
            "status": "hs_order_status",
        },
        _named("hs_order_name"),
    ),
    "payment_link": ObjectWire(
        "payment_links", {"name": "hs_name", "url": "hs_url"}, _named("hs_name")
    ),
    "feedback_submission": ObjectWire(
        "feedback_submissions", {"survey": "hs_survey_name", "sentiment": "hs_sentiment"}, _feedback
    ),
    "custom_record": ObjectWire(
        "custom_records", {"object_name": "hs_object_name", "name": "hs_name"}, _custom
    ),
}
BY_PATH = {wire.path: name for name, wire in OBJECTS.items()}


def wire_value(value: Any) -> str:
    """A record field's typed value as HubSpot's text ("" for none)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dt.datetime):
        return str(codec.datetime_to_ms(value))
    if isinstance(value, dt.date):
        return str(codec.date_to_ms(value))
    if isinstance(value, Decimal):
        return format(value, "f")
    return str(value)


def record_properties(object_type: str, values: Mapping[str, Any]) -> dict[str, str]:
    """``create_record``'s checked, typed values as the object's HubSpot properties: the first
    e-mail (domain) is ``email`` (``domain``), the others ``hs_additional_emails``
    (``hs_additional_domains``), ``;``-separated."""
    wire = OBJECTS[object_type]
    out: dict[str, str] = {}
    for key, value in values.items():
        if key in ("emails", "domains"):
            items = list(value or ())
            first, more = ("email", "hs_additional_emails") if key == "emails" else (
                "domain", "hs_additional_domains")  # fmt: skip
            if items:
                out[first] = items[0]
            if len(items) > 1:
                out[more] = ";".join(items[1:])
        elif key == "created_at":
            continue  # HubSpot stamps a record's creation itself (hs_createdate is read-only)
        elif key == "object":
            out[wire.fields["object_name"]] = wire_value(value)
        elif key in wire.fields:
            if value is not None:
                out[wire.fields[key]] = wire_value(value)
    return out


def payment_of(oid: int, v: Mapping[str, str | None]) -> Payment:
    refunds = v.get("hs_refunded_payment_id")
    created = v.get("hs_createdate")
    return Payment(
        id=oid,
        amount=codec.from_wire(codec.PropType.NUMBER, v.get("hs_initial_amount"), money=True)
        or Decimal("0.00"),
        currency=_text(v, "hs_currency_code"),
        status=_text(v, "hs_latest_status"),
        method=_text(v, "hs_payment_method_type") or "card",
        kind=_text(v, "hs_payment_type") or "payment",
        created_at=codec.from_wire(codec.PropType.DATETIME, created) or codec.EPOCH,
        refunds_payment_id=int(refunds) if refunds else None,
    )


def line_item_of(oid: int, v: Mapping[str, str | None]) -> LineItem:
    price = codec.from_wire(codec.PropType.NUMBER, v.get("price"), money=True)
    return LineItem(oid, _text(v, "name"), int(Decimal(v.get("quantity") or "0")), price)


_DECIMALS = frozenset({"amount", "price"})


def record_values(object_type: str, values: Mapping[str, str | None]) -> dict[str, Any]:
    """A record's HubSpot properties as the typed values ``create_record`` takes (the inverse
    of ``record_properties``): ``emails``/``domains`` lists, the primary first; amounts and
    prices ``Decimal``, quantities ``int``; ``created_at`` from ``hs_createdate``."""
    wire = OBJECTS[object_type]
    out: dict[str, Any] = {
        "created_at": codec.from_wire(codec.PropType.DATETIME, values.get("hs_createdate"))
    }
    for key, name in wire.fields.items():
        text = values.get(name)
        if key == "email":
            out["emails"] = list(_listed(text, values.get("hs_additional_emails")))
        elif key == "domain":
            out["domains"] = list(_listed(text, values.get("hs_additional_domains")))
        elif key in _DECIMALS:
            out[key] = codec.from_wire(codec.PropType.NUMBER, text, money=True)
        elif key == "quantity":
            out[key] = int(Decimal(text)) if text else None
        elif key == "refunds_payment_id":
            out[key] = int(text) if text else None
        else:
            out[key] = text or None
    return out
