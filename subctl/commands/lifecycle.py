"""Lifecycle verbs: ``update``, ``cancel``, ``pause``, ``resume``, ``pay``, ``delete`` and
``send-update-link``, on one subscription or a batch (IDs, ``--from-file``, ``--where``,
``--view``, ``--plan``). Every run is journaled (``subctl jobs``); the rules are in
``subctl.services.lifecycle``."""

from typing import Annotated

import typer

from subctl.commands._options import BatchArgs, lifecycle_command
from subctl.context import AppContext


def _run(
    ctx: typer.Context,
    verb: str,
    batch: BatchArgs,
    backup: str | None = None,
    **action_options: object,
) -> None:
    from subctl.commands._batch import BatchOptions, execute
    from subctl.services.batch import Selection

    selection = Selection(
        batch.ids, batch.from_file, batch.where, batch.view, batch.plan, batch.segment
    )
    options = BatchOptions(
        selection=selection,
        dry_run=batch.dry_run,
        plan_out=batch.plan_out,
        yes=batch.yes,
        fmt=batch.fmt,
        backup=backup,
        action_options=dict(action_options),
    )
    execute(AppContext.from_typer(ctx), verb, options)


@lifecycle_command
def subscription_update(
    ctx: typer.Context,
    batch: BatchArgs,
    assignments: Annotated[
        list[str] | None,
        typer.Option(
            "--set",
            metavar="PROPERTY=VALUE",
            help="A property and its new value (name, alias or label); repeatable. "
            "An empty value clears it.",
        ),
    ] = None,
) -> None:
    """Edit properties of active or scheduled subscriptions that create invoices (not within 2
    days of the next payment; once billable, currency and frequency are fixed; computed
    properties such as MRR are read-only). `--set status=unpaid` records a failed payment and
    e-mails the buyer a payment-method update link; `subctl pay` records the payment.

    Example: subctl update 16 --set next_payment_due_date=+30d --set payment_method="Visa - 4242"
    """
    _run(ctx, "update", batch, assignments=assignments or [])


@lifecycle_command
def subscription_cancel(
    ctx: typer.Context,
    batch: BatchArgs,
    at_period_end: Annotated[
        bool,
        typer.Option(
            "--at-period-end", help="Cancel when the current billing period ends (no refund)."
        ),
    ] = False,
    refund: Annotated[
        str | None,
        typer.Option(
            "--refund",
            metavar="unused",
            help="Refund the unused days of the current period (pro rata, shown before you "
            "confirm).",
        ),
    ] = None,
    refund_pending: Annotated[
        bool,
        typer.Option(
            "--refund-pending",
            help="Also refund a pending bank (ACH) payment, which is otherwise left as it is; "
            "of an already canceled subscription, refund it alone.",
        ),
    ] = False,
) -> None:
    """Cancel subscriptions: immediately (never charged again) or at the end of the period.

    The buyer gets a cancellation e-mail (recorded in the outbox, see `subctl view`).

    Example: subctl cancel --where 'status = unpaid' --refund unused --refund-pending --dry-run
    """
    if refund is not None or refund_pending:
        AppContext.from_typer(ctx).refuse_remote("refund")
    _run(ctx, "cancel", batch,
         at_period_end=at_period_end, refund=refund, refund_pending=refund_pending)  # fmt: skip


@lifecycle_command
def subscription_pause(
    ctx: typer.Context,
    batch: BatchArgs,
    reason: Annotated[
        str | None, typer.Option("--reason", metavar="TEXT", help="Why billing is paused.")
    ] = None,
    resume_on: Annotated[
        str | None,
        typer.Option(
            "--resume-on",
            metavar="DATE",
            help="Resume by itself that day, after today (billing: `subctl clock`): "
            "2027-03-01, +30d.",
        ),
    ] = None,
) -> None:
    """Pause billing of active subscriptions (an unpaid or past-due one is paid first, with
    `subctl pay`), until `subctl resume`, or until a resume date.

    Example: subctl pause 13 --reason "customer on leave until March" --resume-on +90d
    """
    _run(ctx, "pause", batch, reason=reason, resume_on=resume_on)


@lifecycle_command
def subscription_resume(
    ctx: typer.Context,
    batch: BatchArgs,
    next_billing_date: Annotated[
        str | None,
        typer.Option(
            "--next-billing-date",
            metavar="DATE",
            help="When billing restarts (required): 2027-03-01, +30d, today.",
        ),
    ] = None,
) -> None:
    """Resume paused subscriptions, billing again from the next billing date.

    Example: subctl resume 17 --next-billing-date +30d
    """
    _run(ctx, "resume", batch, next_billing_date=next_billing_date)


@lifecycle_command
def subscription_pay(ctx: typer.Context, batch: BatchArgs) -> None:
    """Record that unpaid or past-due subscriptions were paid: a succeeded payment of the next
    payment amount; the subscription is active again and its next payment due date moves one
    billing period on.

    Example: subctl pay 26
    """
    AppContext.from_typer(ctx).refuse_remote("pay")
    _run(ctx, "pay", batch)


@lifecycle_command
def subscription_delete(
    ctx: typer.Context,
    batch: BatchArgs,
    backup: Annotated[
        str | None,
        typer.Option(
            "--backup",
            metavar="FILE",
            help="First save what is deleted (every property, the associations, the payments) "
            "to a new .csv, .ndjson, .json or .xlsx file.",
        ),
    ] = None,
) -> None:
    """Delete canceled or expired subscriptions, permanently.

    --backup FILE keeps everything delete destroys: .csv and .ndjson get each chunk's records
    appended and synced before the chunk is deleted; .json and .xlsx, which cannot be
    appended, hold the whole selection, written and synced before the first deletion. A
    resumed job writes a numbered sibling (expired-2.csv) with what it deletes. Text a
    spreadsheet would read as a formula gets a ' in .csv and .xlsx, which subctl import
    removes: subctl import expired.csv (or .ndjson, .json, .xlsx) restores the subscriptions.
    Their billing events, payments, e-mails, audit entries and property history are kept (ids
    are never reused): a restored subscription shows them again.

    Example: subctl delete --where 'status = expired' --backup expired.csv
    """
    _run(ctx, "delete", batch, backup=backup)


@lifecycle_command
def subscription_send_update_link(ctx: typer.Context, batch: BatchArgs) -> None:
    """E-mail buyers a link to update their payment method (recorded in the outbox).

    Example: subctl send-update-link --view unpaid --dry-run
    """
    AppContext.from_typer(ctx).refuse_remote("send-update-link")
    _run(ctx, "send-update-link", batch)


def register(app: typer.Typer) -> None:
    app.command("update")(subscription_update)
    app.command("cancel")(subscription_cancel)
    app.command("pause")(subscription_pause)
    app.command("resume")(subscription_resume)
    app.command("pay")(subscription_pay)
    app.command("delete")(subscription_delete)
    app.command("send-update-link")(subscription_send_update_link)
