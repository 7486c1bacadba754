"""Human reading of one subscription (``view`` on a terminal), as the sink's blocks."""

from typing import Any

from subctl.export import Column
from subctl.export.values import text_value
from subctl.output import Block, Heading, Pairs, Records
from subctl.schema import ASSOCIATION_BY_NAME, PropertyRegistry

PAYMENT_COLUMNS = [
    Column("id", "ID"),
    Column("date", "Date"),
    Column("amount", "Amount"),
    Column("status", "Status"),
    Column("method", "Method"),
    Column("kind", "Kind"),
]
TIMELINE_COLUMNS = [
    Column("day", "Day"),
    Column("kind", "Event"),
    Column("outcome", "Outcome"),
    Column("amount", "Amount"),
    Column("status", "Status"),
]


def detail_blocks(document: dict[str, Any], registry: PropertyRegistry) -> list[Block]:
    """The sections of ``view``: the payments table keeps ids, dates and amounts whole (the
    status text wraps first)."""
    props = document["properties"]
    status = document["status"]
    name = props.get("hs_name") or f"Subscription {document['id']}"
    note = f"{status['label']}: {status['meaning']}" if status else ""
    blocks: list[Block] = [Heading(str(name), note)]
    standard: list[tuple[str, str]] = []
    custom: list[tuple[str, str]] = []
    for key, value in props.items():
        prop = registry.get(key)
        label = prop.label if prop else key
        (standard if prop is None or prop.hubspot_defined else custom).append(
            (f"{label} ({key})", text_value(value))
        )
    blocks.append(Pairs("Properties", standard))
    if custom:
        blocks.append(Pairs("Custom properties", custom))
    for object_name, records in document["associations"].items():
        plural = ASSOCIATION_BY_NAME[object_name].plural
        blocks.append(
            Pairs(
                f"Associated {plural.lower()}",
                [(str(r["id"]), f"{r['label']}  [type {r['associationTypeId']}]"
                  + (f"  ({'; '.join(r['details'])})" if len(r.get("details", [])) > 1 else ""))
                 for r in records],
            )
        )  # fmt: skip
    if document["payments"]:
        rows = [
            {"id": p["id"], "date": text_value(p["created_at"])[:10],
             "amount": f"{p['amount']} {p['currency']}",
             "status": p["status"] + (" (pending bank payment)" if p["pending_bank_payment"]
                                      else ""),
             "method": p["method"], "kind": p["kind"]}
            for p in document["payments"]
        ]  # fmt: skip
        blocks.append(Records("Payments", rows, PAYMENT_COLUMNS))
    if document["history"]:
        blocks.append(
            Pairs(
                "History",
                [(text_value(c["changed_at"]),
                  f"{c['property']}: {change_text(c['old'])} → {change_text(c['new'])}"
                  f" ({c['source']})")
                 for c in document["history"]],
            )
        )  # fmt: skip
    if document.get("events"):  # the billing timeline (local workspace)
        rows = [
            {"day": text_value(e["day"]), "kind": e["kind"], "outcome": e["outcome"],
             "amount": f"{e['amount']} {e['currency']}" if e["amount"] is not None else "",
             "status": f"{e['old_status']} → {e['new_status']}"
             if e["new_status"] and e["new_status"] != e["old_status"] else ""}
            for e in document["events"]
        ]  # fmt: skip
        blocks.append(Records("Billing timeline", rows, TIMELINE_COLUMNS))
    if document.get("outbox"):  # e-mails recorded by lifecycle verbs
        blocks.append(
            Pairs(
                "Outbox",
                [(text_value(m["created_at"]),
                  f"{m['kind']} to {m['to'] or '(no recipient)'}: {m['subject']}"
                  + (f"\n{m['link']}" if m["link"] else ""))
                 for m in document["outbox"]],
            )
        )  # fmt: skip
    return blocks


def change_text(value: object) -> str:
    """A value before or after a change (``view``'s history, ``audit``'s table) as text: no
    value as ``∅``, text as it is, anything else as its JSON."""
    import json

    if value is None:
        return "∅"
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
