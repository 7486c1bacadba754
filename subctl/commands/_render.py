"""Human rendering of one subscription (``view`` on a terminal)."""

from collections.abc import Sequence
from typing import Any

from rich import box
from rich.console import Group
from rich.table import Table
from rich.text import Text

from subctl.export import Column
from subctl.export.table import fitted_table
from subctl.export.values import text_value, visible
from subctl.schema import ASSOCIATION_BY_NAME, PropertyRegistry

PAYMENT_COLUMNS = [
    Column("id", "ID"),
    Column("date", "Date"),
    Column("amount", "Amount"),
    Column("status", "Status"),
    Column("method", "Method"),
    Column("kind", "Kind"),
]


def pairs_table(title: str, pairs: Sequence[tuple[str, str]]) -> Group:
    """A titled two-column table of (label, value) pairs: ``view``, ``property view``,
    ``property settings``."""
    # Widths in proportion (labels 2 : values 3) so that on a narrow terminal both stay visible.
    table = Table(box=box.SIMPLE, show_header=False, pad_edge=False, expand=True)
    table.add_column(style="dim", overflow="fold", ratio=2)
    table.add_column(overflow="fold", ratio=3)
    for key, value in pairs:
        # plain text (values are data, never Rich markup), control characters shown as escapes
        table.add_row(Text(visible(key)), Text(visible(value, newlines=True)))
    return Group(Text(visible(title), style="bold"), table)


def render_detail(document: dict[str, Any], registry: PropertyRegistry, width: int) -> Group:
    """``width``: the terminal's; the payments table fits it with ids, dates and amounts whole
    (the status text wraps first)."""
    parts: list[Any] = []
    props = document["properties"]
    status = document["status"]
    name = props.get("hs_name") or f"Subscription {document['id']}"
    heading = Text(f"{visible(str(name))}  ", style="bold")
    if status:
        heading.append(f"{status['label']}: {status['meaning']}", style="italic")
    parts.append(heading)
    standard: list[tuple[str, str]] = []
    custom: list[tuple[str, str]] = []
    for key, value in props.items():
        prop = registry.get(key)
        label = prop.label if prop else key
        (standard if prop is None or prop.hubspot_defined else custom).append(
            (f"{label} ({key})", text_value(value))
        )
    parts.append(pairs_table("Properties", standard))
    if custom:
        parts.append(pairs_table("Custom properties", custom))
    for object_name, records in document["associations"].items():
        plural = ASSOCIATION_BY_NAME[object_name].plural
        parts.append(
            pairs_table(
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
        payments = fitted_table(rows, PAYMENT_COLUMNS, width)
        parts.append(Group(Text("Payments", style="bold"), payments))
    if document["history"]:
        parts.append(
            pairs_table(
                "History",
                [(text_value(c["changed_at"]),
                  f"{c['property']}: {c['old']} → {c['new']} ({c['source']})")
                 for c in document["history"]],
            )
        )  # fmt: skip
    if document.get("outbox"):  # e-mails recorded by lifecycle verbs
        parts.append(
            pairs_table(
                "Outbox",
                [(text_value(m["created_at"]),
                  f"{m['kind']} to {m['to'] or '(no recipient)'}: {m['subject']}"
                  + (f"\n{m['link']}" if m["link"] else ""))
                 for m in document["outbox"]],
            )
        )  # fmt: skip
    return Group(*parts)
