"""The ``associate`` verb: add, replace or remove a subscription's association with a contact,
company, deal, line item, quote, invoice, payment, order, payment link, feedback submission or
custom object record; create the record on the way; or apply a CSV of pairs. Rules live in
``subctl.services.associations``."""

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from subctl.codec import plural
from subctl.commands._options import FormatOpt, SegmentOpt, YesOpt
from subctl.context import AppContext
from subctl.errors import InvalidState, UsageError
from subctl.export import Column
from subctl.output import Document, Format

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator, Sequence

    from subctl.store.base import AssociatedRecord

NEW = "new"


def _object_opt(flag: str, what: str) -> Any:
    return typer.Option(
        flag, metavar="ID|new", help=f"The {what} (record id; `new` with --create)."
    )


EDIT_COLUMNS = [
    Column("subscription_id", "Subscription"),
    Column("line_item_id", "Line item"),
    Column("name", "Name"),
    Column("quantity", "Quantity"),
    Column("price", "Price"),
    Column("currency", "Currency"),
    Column("hs_next_payment_amount", "Next payment amount"),
    Column("hs_mrr", "MRR"),
]
OUTCOME_COLUMNS = [
    Column("subscription_id", "Subscription"),
    Column("object_type", "Object"),
    Column("object_id", "Record"),
    Column("label", "Label"),
    Column("associationTypeId", "Type"),
    Column("outcome", "Outcome"),
]


def _cells(text: str) -> list[str]:
    """Split on commas outside double quotes; quotes are removed (``""`` is a literal quote)."""
    cells, current, quoted, i = [], [], False, 0
    while i < len(text):
        ch = text[i]
        if ch == '"':
            if quoted and text[i + 1 : i + 2] == '"':
                current.append('"')
                i += 1
            else:
                quoted = not quoted
        elif ch == "," and not quoted:
            cells.append("".join(current))
            current = []
        else:
            current.append(ch)
        i += 1
    if quoted:
        raise UsageError(f"--create: unterminated quote in {text!r}")
    cells.append("".join(current))
    return [c for c in cells if c.strip()]


def parse_create(text: str) -> dict[str, str]:
    """``--create name=Ada Lovelace,email=ada@example.com`` -> fields (checked by the
    service); quote a value containing commas (``name="Acme, Inc."``)."""
    fields: dict[str, str] = {}
    for cell in _cells(text):
        key, eq, value = cell.partition("=")
        key = key.strip().lower()
        if not eq or not key:
            raise UsageError(f'--create: "{cell.strip()}" is not key=value')
        if key in fields:
            raise UsageError(f"--create: {key} is given twice")
        fields[key] = value.strip()
    if not fields:
        raise UsageError("--create needs fields, e.g. --create 'name=Ada Lovelace,email=ada@x.io'")
    return fields


def subscription_associate(
    ctx: typer.Context,
    sub_id: Annotated[
        int | None,
        typer.Argument(
            metavar="ID",
            min=1,
            max=2**63 - 1,
            help="Subscription record ID (not with --from-file).",
        ),
    ] = None,
    contact: Annotated[str | None, _object_opt("--contact", "contact")] = None,
    company: Annotated[str | None, _object_opt("--company", "company")] = None,
    deal: Annotated[str | None, _object_opt("--deal", "deal")] = None,
    line_item: Annotated[str | None, _object_opt("--line-item", "line item")] = None,
    quote: Annotated[str | None, _object_opt("--quote", "quote")] = None,
    invoice: Annotated[str | None, _object_opt("--invoice", "invoice")] = None,
    payment: Annotated[str | None, _object_opt("--payment", "payment")] = None,
    order: Annotated[str | None, _object_opt("--order", "order")] = None,
    payment_link: Annotated[str | None, _object_opt("--payment-link", "payment link")] = None,
    feedback: Annotated[
        str | None, _object_opt("--feedback-submission", "feedback submission")
    ] = None,
    custom_record: Annotated[
        str | None, _object_opt("--custom-record", "custom object record")
    ] = None,
    replace: Annotated[
        bool,
        typer.Option("--replace", help="Replace the existing association(s) of that object type."),
    ] = False,
    remove: Annotated[bool, typer.Option("--remove", help="Remove the association.")] = False,
    create: Annotated[
        str | None,
        typer.Option(
            "--create",
            metavar="K=V,…",
            help="Create the record and associate it, e.g. 'name=Ada Lovelace,email=ada@x.io' "
            "(with --contact new, --company new, …).",
        ),
    ] = None,
    from_file: Annotated[
        Path | None,
        typer.Option(
            "--from-file",
            metavar="PAIRS.CSV",
            help="Associate every row: subscription id, object type, object id ('-': stdin).",
        ),
    ] = None,
    quantity: Annotated[
        str | None,
        typer.Option("--quantity", metavar="N", help="Edit the --line-item: its quantity."),
    ] = None,
    price: Annotated[
        str | None,
        typer.Option("--price", metavar="AMOUNT", help="Edit the --line-item: its unit price."),
    ] = None,
    segment: SegmentOpt = None,
    yes: YesOpt = False,
    fmt: FormatOpt = Format.AUTO,
) -> None:
    """Associate a subscription with a contact, company, deal, line item, quote, invoice, …

    Association type ids as HubSpot's: contact 295, company 297, deal 299, line item 301,
    quote 303, invoice 623, payment 393, order 515, payment link 478 (feedback submission
    9001, custom object record 9003: subctl's own, HubSpot defines none). Adds by default;
    --replace replaces the existing association of that object type (asking first), --remove
    removes it: both only on a subscription that can be edited (not canceled or expired, not
    within 2 days of its next payment). A subscription has at most one contact: adding a
    second needs --replace. --contact new --create 'name=…,email=…' creates the record first;
    --from-file applies a CSV of (subscription id, object type, object id). --line-item ID
    --quantity N --price AMOUNT edits a line item; the next payment amount and MRR follow.

    Example: subctl associate 7 --contact 17 --replace
    """
    from subctl.services import associations as svc

    app = AppContext.from_typer(ctx)
    if replace and remove:
        raise UsageError("--replace and --remove cannot be combined")
    mode = svc.REPLACE if replace else svc.REMOVE if remove else svc.ADD
    given = {
        name: value
        for name, value in (("contact", contact), ("company", company), ("deal", deal),
                            ("line_item", line_item), ("quote", quote), ("invoice", invoice),
                            ("payment", payment), ("order", order),
                            ("payment_link", payment_link), ("feedback_submission", feedback),
                            ("custom_record", custom_record))
        if value is not None
    }  # fmt: skip
    if from_file is not None:
        if sub_id is not None or given or create is not None or segment is not None:
            raise UsageError("--from-file takes no ID, object option, --create or --segment")
        _batch(app, from_file, mode, fmt, yes)
        return
    if segment is not None:
        if sub_id is not None or create is not None or len(given) != 1:
            raise UsageError(
                "--segment takes one object option (e.g. --contact 17), no ID or --create",
                hint=f"e.g. subctl associate --segment {segment} --company 12",
            )
        _segment_batch(app, segment, given, mode, fmt, yes)
        return
    if sub_id is None:
        raise UsageError("missing subscription ID", hint="e.g. subctl associate 6 --contact 17")
    if len(given) != 1:
        raise UsageError(
            "give exactly one of --contact, --company, --deal, --line-item, --quote, --invoice, "
            "--payment, --order, --payment-link, --feedback-submission, --custom-record"
        )
    ((name, value),) = given.items()
    obj = svc.object_type(name)
    flag = "--" + name.replace("_", "-")
    records = app.records()

    def confirm(replaced: "Sequence[AssociatedRecord]") -> None:
        what = ", ".join(f"{obj.label.lower()} {r.id} ({r.label})" for r in replaced)
        app.confirm(f"Replace {what} of subscription {sub_id}?", yes=yes)

    if quantity is not None or price is not None:
        if name != "line_item" or create is not None or mode != svc.ADD:
            raise UsageError("--quantity and --price edit a line item: --line-item ID only")
        edit = svc.edit_line_item(
            records, sub_id, svc.record_id(value, flag), {"quantity": quantity, "price": price},
            now=app.clock(),
        )  # fmt: skip
        app.out.result(Document(edit.row(), [edit.row()], EDIT_COLUMNS), fmt, edit.message())
        return
    if create is not None:
        if mode == svc.REMOVE:
            raise UsageError("--create and --remove cannot be combined")
        if value.strip().lower() != NEW:
            raise UsageError(f"--create makes a new record: use {flag} new --create …")
        fields = parse_create(create)
        outcome = svc.create_and_associate(
            records, sub_id, obj, fields, mode=mode, now=app.clock(), confirm=confirm
        )
    else:
        if value.strip().lower() == NEW:
            raise UsageError(f"{flag} new needs --create with the new record's fields")
        record_id = svc.record_id(value, flag)
        outcome = svc.associate(
            records, sub_id, obj, record_id, mode=mode, today=app.today(), confirm=confirm
        )
    row = outcome.row()
    app.out.result(Document(row, [row], OUTCOME_COLUMNS), fmt, outcome.message())


def _segment_batch(
    app: AppContext, segment: str, given: dict[str, str], mode: str, fmt: Format, yes: bool
) -> None:
    """Every member of a segment (now) with one record: the pairs a file would list."""
    from subctl.services import associations as svc
    from subctl.services.segments import member_ids

    ((name, value),) = given.items()
    obj = svc.object_type(name)
    object_id = svc.record_id(value, "--" + name.replace("_", "-"))
    records = app.records()
    chosen = app.workspace().get_segment(segment)
    ids = member_ids(records, chosen, app.today(), app.clock())
    text = "".join(f"{sid},{obj.name},{object_id}\n" for sid in ids)
    flag = "--" + name.replace("_", "-")
    again = f"subctl associate --segment {segment} {flag} {value}"
    _batch(app, Path(f"--segment {segment}"), mode, fmt, yes, text=text, again=again)


def _batch(
    app: AppContext,
    path: Path,
    mode: str,
    fmt: Format,
    yes: bool,
    *,
    text: str | None = None,
    again: str | None = None,
) -> None:
    from subctl.services import associations as svc

    if mode == svc.REPLACE:
        app.confirm(
            f"Replace the existing associations of each row's subscription and object type "
            f"({path})?",
            yes=yes,
        )

    from subctl.services.batch import read_source

    if text is None:
        text, _ = read_source(str(path), app.out.stdin)
    from subctl.commands._batch import interrupt_between_chunks
    from subctl.errors import Aborted

    outcomes: list[svc.Outcome] = []  # the rows applied so far, for the summary

    def applied(pressed: "Callable[[], bool]") -> "Iterator[dict[str, Any]]":
        rows = svc.read_pairs(text)
        for outcome in svc.apply_batch(app.records(), rows, mode=mode, today=app.today(),
                                       stop=pressed):  # fmt: skip
            outcomes.append(outcome)
            yield outcome.row()

    columns = [Column(key, header) for key, header in svc.batch_columns()]
    with interrupt_between_chunks() as pressed:
        app.out.rows(applied(pressed), columns, fmt, empty="No rows in the file.")
        interrupted = pressed()
    counts: dict[str, int] = {}
    for outcome in outcomes:
        counts[outcome.outcome] = counts.get(outcome.outcome, 0) + 1
    summary = ", ".join(f"{n} {what}" for what, n in counts.items())
    failed = [o for o in outcomes if o.outcome == "failed"]
    if interrupted:
        last = outcomes[-1].line if outcomes else 0
        rest = (
            again
            if again is not None
            else f"tail -n +{last + 1} {path} | subctl associate --from-file -"
            if str(path) != "-" and last
            else f"subctl associate --from-file {path}"
        )
        flags = {svc.REPLACE: " --replace", svc.REMOVE: " --remove"}.get(mode, "")
        raise Aborted(
            f"interrupted after {plural(len(outcomes), 'row')} ({summary or 'none applied'}); "
            + (f"the rows after line {last} were not applied" if last else "no row was applied"),
            hint=f"apply the rest: {rest}{flags}",
        )
    if failed:  # like every batch: exit 5 when any item failed, whatever the reason
        first = failed[0]
        raise InvalidState(
            f"{len(failed):,} of {plural(len(outcomes), 'row')} failed ({summary}); "
            f"first, line {first.line}: {first.error}"
        )
    if outcomes:
        app.out.success(f"{plural(len(outcomes), 'row')}: {summary}")


def register(app: typer.Typer) -> None:
    app.command("associate")(subscription_associate)
