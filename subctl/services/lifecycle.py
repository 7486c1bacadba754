"""Lifecycle rules: what ``update``, ``cancel``, ``pause``, ``resume``, ``delete`` and
``send-update-link`` do to one subscription, and when they may (DOMAIN.md §0 Edit, Cancel,
Delete; §2 lifecycle endpoints). Pure functions: ``decide`` turns an action and a snapshot of
one subscription into an outcome and a ``Mutation`` for the store; batches, journals and plans
live in ``subctl.services.batch``. These rules exist once, for every store.

Outcomes: **ok** (the action applies), **skipped** (nothing to do: the subscription already is
in the result state, e.g. cancelling a canceled one, so re-running a batch is harmless), or
**failed** (the rules refuse it; the reason names the status). The transition table:

=====================  ==========================================  ============  ============
action                 acts on (from)                              skipped       result
=====================  ==========================================  ============  ============
cancel                 active, unpaid, past_due, scheduled, paused  canceled      canceled
cancel_at_period_end   active                                      canceled      active [1]
pause                  active                                      paused        paused
resume                 paused                                      active        active
delete                 canceled, expired                           (deleted)     deleted
update                 active, scheduled [2]                       no change     unchanged
send_update_link       active, unpaid, past_due, scheduled, paused  -             unchanged
mark_unpaid [3]        active, past_due                            unpaid        unpaid
mark_past_due [3]      active                                      past_due      past_due
=====================  ==========================================  ============  ============

Every other status fails. Choices where HubSpot's sources are silent (each documented here):

- [1] ``--at-period-end`` keeps the subscription active until its current period ends (the
  next payment due date), records that day as ``hs_scheduled_cancellation_date`` and clears the
  next payment (due date and amount): it is never charged again. The local workspace has no
  scheduler; HubSpot flips the status at the period end. One already scheduled is skipped.
- [2] The companion article: only active or scheduled subscriptions can be edited, and not
  within 2 days of the next payment: refused when the next payment due date is today or within
  the next ``EDIT_FREEZE_DAYS`` days (inclusive). Read-only properties (ids, create/modified
  dates, cancellation data, pause reason) are refused; values are checked against the
  property's type, options and validation rules. An update that changes nothing is skipped.
- [3] ``update --set status=unpaid|past_due`` records a billing event (a failed or overdue
  payment), not an edit, so the edit rules do not apply; the status must be set on its own.
  Other statuses have their own verbs. A subscription turning unpaid gets the payment-method
  update e-mail (the article: "the buyer is emailed to update the payment method").
- Pausing leaves the next payment due date as it is; resuming requires the next billing date
  (HubSpot's ``/unpause`` requires ``proposedNextBillingDate``), today or later, and clears the
  pause reason.
- A subscription with a scheduled cancellation (``hs_scheduled_cancellation_date``, see [1])
  cannot be updated, paused or resumed: each could give it a next payment again after it was
  promised it is never charged again. Cancelling it immediately is still possible.
- Cancelling (immediately) sets status ``canceled``, ``hs_canceled_at`` = now, clears the next
  payment due date and amount and any scheduled cancellation, and sets MRR to 0.
  ``refund_unused`` refunds the unused days (``subctl.services.refunds``) of the latest payment
  when it succeeded and was not refunded before, nor by another subscription of the same batch
  (a payment associated with several subscriptions is refunded once); a pending bank (ACH)
  payment is neither canceled nor refunded (a warning says so) unless ``refund_pending``
  refunds it in full. A refunded payment becomes ``refunded`` or ``partially_refunded`` (and so
  does ``hs_last_payment_status`` when it is the latest payment).
- E-mails go to the primary e-mail of the subscription's contact; without one, none is
  recorded (the note says so). Cancellation and payment-method e-mails are ``OutboxMessage``s.
- The payment-method link of the local workspace is a stable placeholder per subscription
  (``UPDATE_LINK_BASE``): HubSpot creates the real one.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from enum import StrEnum
from typing import Any

from subctl.errors import UsageError
from subctl.schema import STATUS_BY_VALUE, PropertyRegistry
from subctl.services.masking import MASK, masked_names
from subctl.services.refunds import prorate
from subctl.store.base import Mutation, OutboxMessage, Payment, Refund, Subscription

EDIT_FREEZE_DAYS = 2
UPDATE_LINK_BASE = "https://payments.subctl.invalid/update-payment-method"
ZERO = Decimal("0.00")


class Outcome(StrEnum):
    OK = "ok"
    SKIPPED = "skipped"
    FAILED = "failed"


@dataclass(frozen=True)
class Transition:
    name: str
    acts_on: frozenset[str]
    skipped: frozenset[str]  # already in the result state
    result: str | None  # status afterwards; None: unchanged
    done: str  # past tense, for messages: "canceled"
    rule: str  # why other statuses are refused


def _t(
    name: str, acts_on: str, skipped: str, result: str | None, done: str, rule: str
) -> Transition:
    return Transition(name, frozenset(acts_on.split()), frozenset(skipped.split()), result, done,
                      rule)  # fmt: skip


TRANSITIONS: dict[str, Transition] = {
    t.name: t
    for t in (
        _t("cancel", "active unpaid past_due scheduled paused", "canceled", "canceled",
           "canceled", "an expired subscription already ended and is never charged again"),
        _t("cancel_at_period_end", "active", "canceled", None, "scheduled to cancel",
           "only an active subscription has a paid period to run out; cancel it immediately"),
        # Only active ones: resuming makes a subscription active, so pausing an unpaid or
        # past-due one and resuming it would wipe out what the buyer owes.
        _t("pause", "active", "paused", "paused", "paused",
           "only active subscriptions can be paused (an unpaid or past-due one would come "
           "back active on resume, its debt forgotten)"),
        _t("resume", "paused", "active", "active", "resumed",
           "only a paused subscription can be resumed"),
        _t("delete", "canceled expired", "", None, "deleted",
           "only canceled or expired subscriptions can be deleted"),
        _t("update", "active scheduled", "", None, "updated",
           "only active or scheduled subscriptions can be edited"),
        _t("send_update_link", "active unpaid past_due scheduled paused", "", None, "sent",
           "a canceled or expired subscription is never charged again"),
        _t("mark_unpaid", "active past_due", "unpaid", "unpaid", "marked unpaid",
           "only an active or past-due subscription can become unpaid"),
        _t("mark_past_due", "active", "past_due", "past_due", "marked past due",
           "only an active subscription can become past due"),
    )
}  # fmt: skip

# The CLI verbs; each maps to a transition (update and cancel by their options).
VERBS: tuple[str, ...] = ("update", "cancel", "pause", "resume", "delete", "send-update-link")
PAST_TENSE: dict[str, str] = {
    "update": "updated",
    "cancel": "canceled",
    "pause": "paused",
    "resume": "resumed",
    "delete": "deleted",
    "send-update-link": "sent",
}
DESTRUCTIVE: frozenset[str] = frozenset({"cancel", "delete"})

# Properties a snapshot must hold, per transition: every property the action reads or changes
# (history records old -> new). Fewer columns read is what keeps 100,000-item batches fast.
_BASE_FIELDS = ("hs_name", "hs_status")
SNAPSHOT_FIELDS: dict[str, tuple[str, ...]] = {
    "cancel": ("hs_next_payment_due_date", "hs_next_payment_amount", "hs_mrr",
               "hs_canceled_at", "hs_scheduled_cancellation_date"),
    "cancel_at_period_end": ("hs_next_payment_due_date", "hs_next_payment_amount",
                             "hs_scheduled_cancellation_date"),
    "pause": ("hs_pause_reason", "hs_scheduled_cancellation_date"),
    "resume": ("hs_next_payment_due_date", "hs_pause_reason", "hs_scheduled_cancellation_date"),
    "delete": (),
    "update": ("hs_next_payment_due_date", "hs_scheduled_cancellation_date"),
    "send_update_link": ("hs_createdate",),
    "mark_unpaid": ("hs_createdate",),
    "mark_past_due": (),
}  # fmt: skip
REFUND_FIELDS = ("hs_recurring_billing_frequency", "hs_last_payment_status")
STATUS_EDITS: dict[str, str] = {"unpaid": "mark_unpaid", "past_due": "mark_past_due"}
# Transitions refused while a cancellation is scheduled: each could bring a next payment back.
KEEP_SCHEDULED_CANCELLATION = frozenset({"update", "pause", "resume"})


# -- actions -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Action:
    """A verb with its options, JSON-serialisable (a batch's journal keeps it for resuming).

    ``values`` (update) holds canonical text (ISO dates, plain numbers), so re-reading it on
    resume gives the same typed values even when the user wrote ``+7d``.
    """

    verb: str
    at_period_end: bool = False
    refund_unused: bool = False
    refund_pending: bool = False
    reason: str | None = None
    next_billing_date: dt.date | None = None
    values: tuple[tuple[str, str], ...] = ()

    @property
    def transition(self) -> Transition:
        if self.verb == "cancel":
            return TRANSITIONS["cancel_at_period_end" if self.at_period_end else "cancel"]
        if self.verb == "update":
            status = dict(self.values).get("hs_status")
            if status is not None:
                return TRANSITIONS[STATUS_EDITS[status]]
        return TRANSITIONS[self.verb.replace("-", "_")]

    @property
    def needs_payments(self) -> bool:
        return self.verb == "cancel"

    @property
    def sends_mail(self) -> bool:
        return self.transition.name in ("cancel", "cancel_at_period_end", "send_update_link",
                                        "mark_unpaid")  # fmt: skip

    @property
    def refunds(self) -> bool:
        return self.refund_unused or self.refund_pending

    def fields(self) -> list[str]:
        """The properties ``decide`` needs in a snapshot."""
        names = [*_BASE_FIELDS, *SNAPSHOT_FIELDS[self.transition.name]]
        if self.refunds:
            names.extend(REFUND_FIELDS)
        names.extend(name for name, _ in self.values)
        return list(dict.fromkeys(names))

    def to_json(self) -> dict[str, Any]:
        return {
            "verb": self.verb,
            "at_period_end": self.at_period_end,
            "refund_unused": self.refund_unused,
            "refund_pending": self.refund_pending,
            "reason": self.reason,
            "next_billing_date": self.next_billing_date.isoformat()
            if self.next_billing_date
            else None,
            "values": [list(pair) for pair in self.values],
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Action:
        nbd = data.get("next_billing_date")
        return cls(
            verb=str(data["verb"]),
            at_period_end=bool(data.get("at_period_end")),
            refund_unused=bool(data.get("refund_unused")),
            refund_pending=bool(data.get("refund_pending")),
            reason=data.get("reason"),
            next_billing_date=dt.date.fromisoformat(nbd) if nbd else None,
            values=tuple((str(k), str(v)) for k, v in data.get("values", ())),
        )

    def describe(self, registry: PropertyRegistry | None = None) -> str:
        """The options, as a user would type them (job listings); with ``registry``, the
        values of highly sensitive properties (and of properties deleted since) masked."""
        parts = [self.verb]
        if self.at_period_end:
            parts.append("--at-period-end")
        if self.refund_unused:
            parts.append("--refund unused")
        if self.refund_pending:
            parts.append("--refund-pending")
        if self.reason:
            parts.append(f"--reason {self.reason!r}")
        if self.next_billing_date:
            parts.append(f"--next-billing-date {self.next_billing_date}")
        hidden = masked_names(registry) if registry is not None else frozenset()

        def shown(name: str, value: str) -> str:
            if registry is None or not value:
                return value
            prop = registry.get(name)  # deleted since: it may have been highly sensitive
            return MASK if prop is None or prop.name in hidden else value

        parts.extend(f"--set {k}={shown(k, v)}" for k, v in self.values)
        return " ".join(parts)


def build_action(
    verb: str,
    *,
    registry: PropertyRegistry,
    today: dt.date,
    at_period_end: bool = False,
    refund: str | None = None,
    refund_pending: bool = False,
    reason: str | None = None,
    next_billing_date: str | None = None,
    assignments: Sequence[str] = (),
) -> Action:
    """Validate a verb's options (usage errors, exit 2) and return the action."""
    if verb not in VERBS:
        raise UsageError(f'unknown lifecycle verb "{verb}"')
    refund_unused = False
    if refund is not None:
        if refund.strip().lower() != "unused":
            raise UsageError(f'--refund: "{refund}" is not supported; use --refund unused')
        if at_period_end:
            raise UsageError(
                "--refund unused cannot be combined with --at-period-end: "
                "a subscription canceled at the end of its period has no unused days"
            )
        refund_unused = True
    resume_on: dt.date | None = None
    if verb == "resume":
        if not next_billing_date:
            raise UsageError("resume needs --next-billing-date DATE")
        from subctl.query.values import ValueParseError, parse_date

        try:
            resume_on = parse_date(next_billing_date, today)
        except ValueParseError as exc:
            raise UsageError(f"--next-billing-date: {exc}") from exc
        if resume_on < today:
            raise UsageError(f"--next-billing-date: {resume_on} is in the past")
    if refund_pending and at_period_end:
        raise UsageError("--refund-pending applies to immediate cancellation, not --at-period-end")
    if reason is not None and len(reason) > 1000:
        raise UsageError("--reason: at most 1,000 characters")
    values: tuple[tuple[str, str], ...] = ()
    if verb == "update":
        values = parse_assignments(assignments, registry, today)
    return Action(
        verb=verb,
        at_period_end=at_period_end,
        refund_unused=refund_unused,
        refund_pending=refund_pending,
        reason=reason or None,
        next_billing_date=resume_on,
        values=values,
    )


def parse_assignments(
    assignments: Sequence[str], registry: PropertyRegistry, today: dt.date
) -> tuple[tuple[str, str], ...]:
    """``--set name=value`` (names, aliases or labels) -> (internal name, canonical text).

    Values are checked against the property's type, options and validation rules here, once,
    before anything changes.
    """
    from subctl.export.values import text_value
    from subctl.services.validation import check
    from subctl.services.values import coerce_value

    if not assignments:
        raise UsageError("update needs at least one --set PROPERTY=VALUE")
    out: dict[str, str] = {}
    for text in assignments:
        name, eq, raw = text.partition("=")
        if not eq or not name.strip():
            raise UsageError(f'--set: "{text}" is not PROPERTY=VALUE')
        prop = registry.get(name)
        if prop is None:
            suggestion = registry.suggest(name.strip())
            raise UsageError(
                f'--set: unknown property "{name.strip()}"',
                hint=f'did you mean "{suggestion}"?' if suggestion else None,
            )
        if prop.name == "hs_status":
            value = coerce_value(prop, raw, today=today)
            if value not in STATUS_EDITS:
                verb = {"canceled": "cancel", "paused": "pause", "active": "resume"}.get(
                    str(value), ""
                )
                raise UsageError(
                    f'--set: status cannot be set to "{value}" with update',
                    hint=f"use `subctl {verb}`" if verb else "status follows the lifecycle verbs",
                )
            out[prop.name] = str(value)
            continue
        if prop.read_only_value:
            raise UsageError(f"--set: {registry.short_name(prop)} is read-only")
        value = coerce_value(prop, raw, today=today)
        check(prop, value, today=today)
        if prop.name == "hs_next_payment_due_date" and value is not None and value < today:
            raise UsageError(f"--set: next_payment_due_date {value} is in the past")
        out[prop.name] = text_value(value)
    if "hs_status" in out and len(out) > 1:
        raise UsageError("--set status=… records a billing event; set it on its own")
    return tuple(out.items())


def typed_values(action: Action, registry: PropertyRegistry, today: dt.date) -> dict[str, Any]:
    from subctl.services.values import coerce_value

    typed: dict[str, Any] = {}
    for name, text in action.values:
        prop = registry.get(name)
        if prop is None:
            raise UsageError(f'unknown property "{name}"')
        typed[prop.name] = coerce_value(prop, text or None, today=today)
    return typed


# -- decisions -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Target:
    """What ``decide`` looks at: one subscription (None: it does not exist), its payments and
    the buyer's e-mail; ``planned_status`` is the status a frozen plan was reviewed with."""

    subscription_id: int
    subscription: Subscription | None
    payments: Sequence[Payment] = ()
    email: str | None = None
    planned_status: str | None = None
    frozen: bool = False


@dataclass
class Decision:
    subscription_id: int
    name: str | None
    status: str | None  # before
    outcome: Outcome
    new_status: str | None  # after (None: deleted or missing)
    note: str
    mutation: Mutation | None = None
    refund: Decimal | None = None
    currency: str | None = None
    message: OutboxMessage | None = None
    warnings: list[str] = field(default_factory=list)

    def row(self) -> dict[str, Any]:
        """The result row (absent keys: no value): id, name, status, outcome, new_status,
        note; refund, currency; recipient, subject, link (e-mails)."""
        row: dict[str, Any] = {
            "id": self.subscription_id,
            "name": self.name,
            "status": self.status,
            "outcome": self.outcome.value,
            "new_status": self.new_status,
            "note": self.note,
        }
        if self.refund is not None:
            row.update(refund=self.refund, currency=self.currency)
        if self.message is not None:
            m = self.message
            row.update(recipient=m.recipient, subject=m.subject, link=m.link)
        return row


@dataclass(frozen=True)
class Context:
    """Per-batch inputs of ``decide``: the time, the typed update values, the journal.

    ``refunding`` is shared by every decision of one batch (all its chunks): the payments a
    decision refunds, with the subscription refunding them, so that a payment associated with
    several subscriptions of the batch is refunded once, although each chunk is decided from a
    snapshot taken before the previous one is written."""

    now: dt.datetime
    verb: str
    values: Mapping[str, Any] = field(default_factory=dict)
    job_id: int | None = None
    masked: frozenset[str] = frozenset()  # highly sensitive properties: notes show MASK
    preview: bool = False  # a dry run or the summary before a confirmation: notes say "would"
    refunding: dict[int, int] = field(default_factory=dict)  # payment id -> subscription id
    today: dt.date = field(init=False)
    source: str = field(init=False)  # of history entries: the verb, and the job

    def __post_init__(self) -> None:
        object.__setattr__(self, "today", self.now.astimezone(dt.UTC).date())
        job = f" (job {self.job_id})" if self.job_id else ""
        object.__setattr__(self, "source", f"subctl {self.verb}{job}")

    def says(self, done: str, would: str) -> str:
        """A note as a result, or as a preview."""
        return would if self.preview else done


def _label(status: str | None) -> str:
    info = STATUS_BY_VALUE.get(status or "")
    return info.value if info else (status or "(no status)")


def edit_freeze(due: dt.date | None, today: dt.date) -> str | None:
    """Why a subscription cannot be edited now (the 2-day rule), or None."""
    if due is None:
        return None
    days = (due - today).days
    if 0 <= days <= EDIT_FREEZE_DAYS:
        when = "today" if days == 0 else "tomorrow" if days == 1 else f"in {days} days"
        return (
            f"the next payment is due {when} ({due}): subscriptions cannot be edited within "
            f"{EDIT_FREEZE_DAYS} days of their next payment"
        )
    return None


def update_link(sub: Subscription) -> str:
    """A stable placeholder link per subscription (HubSpot creates the real one)."""
    created = sub.properties.get("hs_createdate")
    digest = hashlib.sha256(f"{sub.id}:{created}".encode()).hexdigest()[:20]
    return f"{UPDATE_LINK_BASE}/{sub.id}?token={digest}"


def decide(action: Action, target: Target, ctx: Context) -> Decision:
    """The outcome of ``action`` on one subscription (see the module docstring)."""
    sub = target.subscription
    sid = target.subscription_id
    transition = action.transition
    if sub is None:
        if action.verb == "delete":
            return Decision(sid, None, None, Outcome.SKIPPED, None, "already deleted")
        reason = "no longer exists" if target.frozen else "not found"
        outcome = Outcome.SKIPPED if target.frozen else Outcome.FAILED
        return Decision(sid, None, None, outcome, None, reason)
    status = sub.status
    name = sub.properties.get("hs_name")
    if target.frozen and status != target.planned_status:
        was, now = _label(target.planned_status), _label(status)
        note = f"status changed since the plan ({was} → {now})"
        return Decision(sid, name, status, Outcome.SKIPPED, status, note)
    if status in transition.skipped:
        return Decision(sid, name, status, Outcome.SKIPPED, status, f"already {_label(status)}")
    if status not in transition.acts_on:
        note = f"cannot {action.verb}: status is {_label(status)} ({transition.rule})"
        return Decision(sid, name, status, Outcome.FAILED, status, note)
    scheduled = sub.properties.get("hs_scheduled_cancellation_date")
    if transition.name in KEEP_SCHEDULED_CANCELLATION and scheduled is not None:
        note = (
            f"cannot {action.verb}: the subscription is scheduled to cancel on {scheduled} and "
            "is never charged again (cancel it immediately instead)"
        )
        return Decision(sid, name, status, Outcome.FAILED, status, note)
    handler = _HANDLERS[transition.name]
    return handler(action, target, ctx, sub, Decision(sid, name, status, Outcome.OK, status, ""))


def _mutation(
    action: Action,
    ctx: Context,
    sub: Subscription,
    changes: Mapping[str, Any],
    **extra: Any,
) -> Mutation:
    get = sub.properties.get
    return Mutation(
        subscription_id=sub.id,
        action=action.transition.name,
        expect_status=sub.status,
        at=ctx.now,
        source=ctx.source,
        changes={name: (get(name), new) for name, new in changes.items()},
        **extra,
    )


def _cancel(
    action: Action, target: Target, ctx: Context, sub: Subscription, d: Decision
) -> Decision:
    props = sub.properties
    now = ctx.now
    changes: dict[str, Any] = {
        "hs_status": "canceled",
        "hs_canceled_at": now,
        "hs_next_payment_due_date": None,
        "hs_next_payment_amount": None,
        "hs_scheduled_cancellation_date": None,
        "hs_mrr": ZERO,
        "hs_lastmodifieddate": now,
    }
    notes: list[str] = []
    refunds: list[Refund] = []
    payments = [p for p in target.payments if p.kind == "payment"] if target.payments else []
    refunded_ids = {p.refunds_payment_id for p in target.payments if p.kind == "refund"}
    latest = payments[-1] if payments else None
    pending = [p for p in payments if p.pending_bank_payment and p.id not in refunded_ids]

    if action.refund_unused:
        basis, why = _refund_basis(latest, refunded_ids, props.get("hs_next_payment_due_date"))
        other = _refunded_elsewhere(ctx, basis, sub.id)
        if basis is not None and other is not None:
            why = f"payment {basis.id} is refunded with subscription {other}"
            basis = None
        if basis is None:
            notes.append(f"no refund: {why}")
        else:
            try:
                pro = prorate(
                    basis.amount,
                    basis.currency,
                    str(props.get("hs_recurring_billing_frequency") or ""),
                    props["hs_next_payment_due_date"],
                    now,
                )
            except ValueError as exc:
                return _fail(d, f"cannot compute the refund: {exc}")
            if pro.refund > 0:
                refunds.append(_refund(basis, pro.refund, pro.full, now))
                d.refund, d.currency = pro.refund, pro.currency
                notes.append(ctx.says("refund", "would refund") + f" {pro.describe()}")
            else:
                notes.append("no refund: no unused days left in the period")
    for p in pending:
        other = _refunded_elsewhere(ctx, p, sub.id)
        if other is not None:
            notes.append(f"pending bank payment {p.id} refunded with subscription {other}")
            continue
        if action.refund_pending:
            refunds.append(_refund(p, p.amount, True, now))
            d.refund = (d.refund or ZERO) + p.amount
            d.currency = p.currency
            refunded = ctx.says("refunded", "would refund")
            notes.append(f"{refunded} pending bank payment {p.id} ({p.amount} {p.currency})")
        else:
            warning = (
                f"subscription {sub.id}: pending bank payment {p.id} ({p.amount} {p.currency}) "
                "is neither canceled nor refunded automatically; refund it with --refund-pending"
            )
            d.warnings.append(warning)
            notes.append(f"pending bank payment {p.id} not refunded")
    for r in refunds:
        ctx.refunding[r.payment_id] = sub.id
    if latest is not None and any(r.payment_id == latest.id for r in refunds):
        full = next(r for r in refunds if r.payment_id == latest.id).refunded_status
        changes["hs_last_payment_status"] = full
    message = _cancellation_mail(sub, target.email, ctx, None, d.refund, d.currency)
    if message is None:
        notes.append("no contact e-mail: cancellation e-mail not recorded")
    d.mutation = _mutation(
        action,
        ctx,
        sub,
        changes,
        refunds=tuple(refunds),
        messages=(message,) if message else (),
    )
    d.message = message
    d.new_status = "canceled"
    d.note = "; ".join([ctx.says("canceled", "would cancel"), *notes])
    return d


def _refunded_elsewhere(ctx: Context, payment: Payment | None, sub_id: int) -> int | None:
    """The other subscription of this batch that refunds ``payment`` (associated with both)."""
    other = ctx.refunding.get(payment.id) if payment is not None else None
    return other if other != sub_id else None


def _refund_basis(
    latest: Payment | None, refunded_ids: set[int | None], period_end: Any
) -> tuple[Payment | None, str]:
    """The payment whose unused days are refunded: the latest one, if it succeeded and was not
    refunded before (exactly once, even across separate runs)."""
    if period_end is None:
        return None, "no current billing period (no next payment due date)"
    if latest is None:
        return None, "no payment to refund"
    if latest.id in refunded_ids or latest.status in ("refunded", "partially_refunded"):
        return None, f"payment {latest.id} was already refunded"
    if latest.pending_bank_payment:
        return None, f"the period's payment {latest.id} is still pending"
    if latest.status != "succeeded":
        return None, f"the period's payment {latest.id} {latest.status}"
    return latest, ""


def _refund(payment: Payment, amount: Decimal, full: bool, now: dt.datetime) -> Refund:
    return Refund(
        payment_id=payment.id,
        amount=amount,
        currency=payment.currency,
        method=payment.method,
        refunded_status="refunded" if full else "partially_refunded",
        created_at=now,
    )


def _cancellation_mail(
    sub: Subscription,
    email: str | None,
    ctx: Context,
    ends_on: dt.date | None,
    refund: Decimal | None,
    currency: str | None,
) -> OutboxMessage | None:
    if not email:
        return None
    name = sub.properties.get("hs_name") or f"subscription {sub.id}"
    if ends_on is None:
        subject = f"Your subscription {name} has been canceled"
        body = (
            f'Hello,\n\nyour subscription "{name}" was canceled on {ctx.today}. '
            "You will not be charged again.\n"
        )
    else:
        subject = f"Your subscription {name} will end on {ends_on}"
        body = (
            f'Hello,\n\nyour subscription "{name}" was canceled and ends on {ends_on}, at the '
            "end of the current billing period. You will not be charged again.\n"
        )
    if refund:
        body += f"\nA refund of {refund} {currency} is on its way to you.\n"
    return OutboxMessage(
        subscription_id=sub.id,
        kind="cancellation",
        recipient=email,
        subject=subject,
        body=body,
        created_at=ctx.now,
        job_id=ctx.job_id,
    )


def _update_link_mail(sub: Subscription, email: str | None, ctx: Context) -> OutboxMessage | None:
    if not email:
        return None
    name = sub.properties.get("hs_name") or f"subscription {sub.id}"
    link = update_link(sub)
    return OutboxMessage(
        subscription_id=sub.id,
        kind="payment_method_update",
        recipient=email,
        subject=f"Update the payment method for {name}",
        body=(
            f'Hello,\n\nplease update the payment method of your subscription "{name}":\n{link}\n'
        ),
        created_at=ctx.now,
        link=link,
        job_id=ctx.job_id,
    )


def _fail(d: Decision, note: str) -> Decision:
    d.outcome, d.note, d.new_status, d.mutation = Outcome.FAILED, note, d.status, None
    return d


def _cancel_at_period_end(
    action: Action, target: Target, ctx: Context, sub: Subscription, d: Decision
) -> Decision:
    props = sub.properties
    scheduled = props.get("hs_scheduled_cancellation_date")
    if scheduled is not None:
        d.outcome, d.note = Outcome.SKIPPED, f"already scheduled to cancel on {scheduled}"
        return d
    end = props.get("hs_next_payment_due_date")
    if end is None:
        return _fail(d, "no next payment due date: the current period's end is unknown")
    changes = {
        "hs_scheduled_cancellation_date": end,
        "hs_next_payment_due_date": None,
        "hs_next_payment_amount": None,
        "hs_lastmodifieddate": ctx.now,
    }
    message = _cancellation_mail(sub, target.email, ctx, end, None, None)
    d.mutation = _mutation(action, ctx, sub, changes, messages=(message,) if message else ())
    d.message = message
    d.note = ctx.says("cancels", "would cancel") + f" at the end of the period, on {end}; "
    d.note += "no further charges"
    if message is None:
        d.note += "; no contact e-mail: cancellation e-mail not recorded"
    for p in target.payments:
        if p.pending_bank_payment:
            d.warnings.append(
                f"subscription {sub.id}: pending bank payment {p.id} ({p.amount} {p.currency}) "
                "is neither canceled nor refunded automatically"
            )
    return d


def _pause(
    action: Action, target: Target, ctx: Context, sub: Subscription, d: Decision
) -> Decision:
    changes = {
        "hs_status": "paused",
        "hs_pause_reason": action.reason,
        "hs_lastmodifieddate": ctx.now,
    }
    d.mutation = _mutation(action, ctx, sub, changes)
    d.new_status = "paused"
    d.note = ctx.says("paused", "would pause") + (f": {action.reason}" if action.reason else "")
    return d


def _resume(
    action: Action, target: Target, ctx: Context, sub: Subscription, d: Decision
) -> Decision:
    assert action.next_billing_date is not None  # build_action requires it
    changes = {
        "hs_status": "active",
        "hs_next_payment_due_date": action.next_billing_date,
        "hs_pause_reason": None,
        "hs_lastmodifieddate": ctx.now,
    }
    d.mutation = _mutation(action, ctx, sub, changes)
    d.new_status = "active"
    d.note = ctx.says("resumed", "would resume") + f"; next billing date {action.next_billing_date}"
    return d


def _delete(
    action: Action, target: Target, ctx: Context, sub: Subscription, d: Decision
) -> Decision:
    d.mutation = _mutation(action, ctx, sub, {}, delete=True)
    d.new_status = None
    d.note = ctx.says("deleted", "would delete") + " permanently"
    return d


def _update(
    action: Action, target: Target, ctx: Context, sub: Subscription, d: Decision
) -> Decision:
    props = sub.properties
    frozen = edit_freeze(props.get("hs_next_payment_due_date"), ctx.today)
    if frozen:
        return _fail(d, frozen)
    changes = {k: v for k, v in ctx.values.items() if props.get(k) != v}
    if not changes:
        d.outcome, d.note = Outcome.SKIPPED, "no change"
        return d
    d.mutation = _mutation(action, ctx, sub, {**changes, "hs_lastmodifieddate": ctx.now})
    d.note = ctx.says("set ", "would set ") + ", ".join(
        f"{name}={'(empty)' if value is None else MASK if name in ctx.masked else value}"
        for name, value in changes.items()
    )
    return d


def _mark(action: Action, target: Target, ctx: Context, sub: Subscription, d: Decision) -> Decision:
    status = str(ctx.values["hs_status"])
    changes = {"hs_status": status, "hs_lastmodifieddate": ctx.now}
    message = _update_link_mail(sub, target.email, ctx) if status == "unpaid" else None
    d.mutation = _mutation(action, ctx, sub, changes, messages=(message,) if message else ())
    d.message = message
    d.new_status = status
    d.note = ctx.says("status", "would set status") + f" {status}"
    if status == "unpaid":
        d.note += (
            f"; payment-method update e-mail to {message.recipient}"
            if message
            else "; no contact e-mail: payment-method e-mail not recorded"
        )
    return d


def _send_update_link(
    action: Action, target: Target, ctx: Context, sub: Subscription, d: Decision
) -> Decision:
    message = _update_link_mail(sub, target.email, ctx)
    if message is None:
        return _fail(d, "no contact with an e-mail address to send the link to")
    d.mutation = _mutation(action, ctx, sub, {}, messages=(message,))
    d.message = message
    d.note = ctx.says("", "would send a ") + f"payment-method update e-mail to {message.recipient}"
    return d


_HANDLERS = {
    "cancel": _cancel,
    "cancel_at_period_end": _cancel_at_period_end,
    "pause": _pause,
    "resume": _resume,
    "delete": _delete,
    "update": _update,
    "send_update_link": _send_update_link,
    "mark_unpaid": _mark,
    "mark_past_due": _mark,
}


def refund_totals(decisions: Sequence[Decision]) -> dict[str, Decimal]:
    """Refunds per currency (shown before confirming a cancellation)."""
    totals: dict[str, Decimal] = {}
    for d in decisions:
        if d.refund and d.currency and d.outcome is Outcome.OK:
            totals[d.currency] = totals.get(d.currency, ZERO) + d.refund
    return totals
