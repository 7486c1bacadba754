"""Lifecycle rules: what ``update``, ``cancel``, ``pause``, ``resume``, ``pay``, ``delete`` and
``send-update-link`` do to one subscription, and when they may (DOMAIN.md §0 Edit, Cancel,
Delete; §2 lifecycle endpoints). Pure functions: ``decide`` turns an action and a snapshot of
one subscription into an outcome and an operation for the store (``subctl.store.ops``);
batches, journals and plans live in ``subctl.services.batch``. These rules exist once, for
every store.

Outcomes: **ok** (the action applies), **skipped** (nothing to do: the subscription already is
in the result state, e.g. cancelling a canceled one, so re-running a batch is harmless),
**failed** (the rules refuse it; the reason names the status), or **attention** (it applies,
but a person must follow up: ``cancel --refund unused`` left a pending bank payment
unrefunded). The transition table:

=====================  ==========================================  ============  ============
action                 acts on (from)                              skipped       result
=====================  ==========================================  ============  ============
cancel                 active, unpaid, past_due, scheduled, paused  canceled      canceled
cancel_at_period_end   active                                      canceled      active [1]
pause                  active                                      paused        paused
resume                 paused                                      active        active
pay [4]                unpaid, past_due                            active        active
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
  the next ``EDIT_FREEZE_DAYS`` days (inclusive). Read-only properties are refused with their
  reason (``READ_ONLY``): ids, create/modified dates, cancellation data and pause reason (set
  by the verbs), MRR (HubSpot computes it) and the last payment's amount and status (recorded
  from payments: ``pay``, ``--set status=unpaid``). Values are checked against the property's
  type, options, limits and validation rules (``subctl.services.validation``). An update that
  changes nothing is skipped. The state rules, per subscription (DOMAIN.md §1, §8):
  a subscription that does not create invoices (``hs_invoice_creation`` not ``on``; HubSpot's
  default is ``off``) cannot be edited, except to turn invoice creation on (HubSpot's own step
  to make a subscription billable, ``--set billable=on``), which may set other properties in
  the same update, its currency and billing frequency included; once billable, invoice
  creation cannot be turned off and the currency and frequency no longer change. An active or
  scheduled subscription keeps a name and a next payment due date (neither can be cleared).
  A next payment amount has at most the decimal places of the subscription's currency (the
  new one when the update sets it): refused, never rounded, so what is stored is what ``view``
  shows and ``--where`` matches.
- [3] ``update --set status=unpaid|past_due`` records a billing event (a failed or overdue
  payment), not an edit, so the edit rules do not apply; the status must be set on its own.
  Other statuses have their own verbs. Turning unpaid records the failed payment: a payment of
  the next payment amount, in the subscription's currency, with status ``failed``, associated
  with the subscription, and ``hs_last_payment_status`` ``failed``; without a next payment
  amount or currency there is no payment that could have failed, and the item fails. The
  buyer gets the payment-method update e-mail (the article: "the buyer is emailed to update the
  payment method"). Turning past due records nothing: the payment is late, not failed.
- [4] ``pay`` records that the buyer paid what is owed (HubSpot: an unpaid subscription
  becomes active again once its payment succeeds): a succeeded payment of the next payment
  amount settles the billing cycle that was due on the next payment due date, so that date
  moves one billing period on (one payment settles one cycle), ``hs_last_payment_status``
  becomes ``succeeded`` and ``hs_last_payment_amount`` the amount; the last payment date, the
  completed payments (by the periods settled) and the total collected follow, and a retry the
  billing run had scheduled is dropped. The payment's method is the
  subscription's (``hs_payment_method``: ``ach`` for "ACH - …", else ``card``). While a bank
  (ACH) payment of the subscription is still processing, ``pay`` fails: that payment settles
  the debt when it succeeds, and recording another would charge the buyer twice.
- Pausing leaves the next payment due date as it is; resuming requires the next billing date
  (HubSpot's ``/unpause`` requires ``proposedNextBillingDate``), today or later, and clears the
  pause reason. A paused subscription earns nothing: pausing sets ``hs_mrr`` to 0 and resuming
  sets it back to the next payment amount per month (``billing.monthly_recurring``; 0 without
  a next payment amount), both recorded in the property history like any change. (HubSpot
  documents no MRR rule for paused subscriptions.)
- A subscription with a scheduled cancellation (``hs_scheduled_cancellation_date``, see [1])
  cannot be updated, paused or resumed: each could give it a next payment again after it was
  promised it is never charged again. Cancelling it immediately is still possible.
- Cancelling (immediately) sets status ``canceled``, ``hs_canceled_at`` = now, clears the next
  payment due date and amount and any scheduled cancellation, and sets MRR to 0.
  ``refund_unused`` refunds the unused days of the period the latest payment paid for
  (``subctl.billing``; for a paused subscription never up to its resume date) when it
  succeeded and was not refunded before, nor by another subscription of the same batch
  (a payment associated with several subscriptions is refunded once); a pending bank (ACH)
  payment is neither canceled nor refunded (a warning says so) unless ``refund_pending``
  refunds it in full. A refunded payment becomes ``refunded`` or ``partially_refunded`` (and so
  does ``hs_last_payment_status`` when it is the latest payment). With ``refund_unused`` a
  pending payment left unrefunded makes the outcome **attention**, not ok.
- ``cancel --refund-pending`` of an already canceled subscription refunds its pending bank
  payments alone (the warnings name this command; a store operation ``refund``, nothing else
  changes); with none pending it is skipped. Exactly once like every refund: the journal, the
  batch's shared ``Context.refunding`` and the store's re-check inside the write.
- E-mails go to the primary e-mail of the subscription's contact; without one, none is
  recorded (the note says so). Cancellation and payment-method e-mails are ``OutboxMessage``s.
- The payment-method link of the local workspace is a stable placeholder per subscription
  (``UPDATE_LINK_BASE``): HubSpot creates the real one.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from decimal import Decimal
from enum import StrEnum
from typing import Any

from subctl.billing import next_period_end, paid_period_end, prorate
from subctl.errors import Action as Step
from subctl.errors import Call, InputError, InvalidState, Next, Opt, UsageError, Words
from subctl.schema import STATUS_BY_VALUE, PropertyRegistry
from subctl.services.masking import MASK, masked_names
from subctl.services.values import Append
from subctl.store import ops
from subctl.store.base import (
    LOCAL,
    Capabilities,
    Charge,
    OutboxMessage,
    Payment,
    Refund,
    Subscription,
)

EDIT_FREEZE_DAYS = 2
UPDATE_LINK_BASE = "https://payments.subctl.invalid/update-payment-method"
# Outbox kinds of the e-mails the verbs (and billing) record.
CANCELLATION_MAIL = "cancellation"
UPDATE_LINK_MAIL = "payment_method_update"
ZERO = Decimal("0.00")


class Outcome(StrEnum):
    OK = "ok"
    SKIPPED = "skipped"
    FAILED = "failed"
    # Done, but a person must follow up: a refund was asked for and a pending bank payment
    # could not be refunded with it. Counted apart in summaries; the exit code is 5 (as for a
    # failure) so that a script cannot take it for plain success.
    ATTENTION = "attention"

    @property
    def acts(self) -> bool:
        """The action applies (an operation is carried out)."""
        return self is Outcome.OK or self is Outcome.ATTENTION


@dataclass(frozen=True)
class Transition:
    name: str
    acts_on: frozenset[str]
    skipped: frozenset[str]  # already in the result state
    result: str | None  # status afterwards; None: unchanged
    rule: str  # why other statuses are refused


def _t(name: str, acts_on: str, skipped: str, result: str | None, rule: str) -> Transition:
    return Transition(name, frozenset(acts_on.split()), frozenset(skipped.split()), result, rule)


TRANSITIONS: dict[str, Transition] = {
    t.name: t
    for t in (
        _t("cancel", "active unpaid past_due scheduled paused", "canceled", "canceled",
           "an expired subscription already ended and is never charged again"),
        _t("cancel_at_period_end", "active", "canceled", None,
           "only an active subscription has a paid period to run out; cancel it immediately"),
        # Only active ones: resuming makes a subscription active, so pausing an unpaid or
        # past-due one and resuming it would wipe out what the buyer owes.
        _t("pause", "active", "paused", "paused",
           "only active subscriptions can be paused (an unpaid or past-due one would come "
           "back active on resume, its debt forgotten)"),
        _t("resume", "paused", "active", "active", "only a paused subscription can be resumed"),
        _t("pay", "unpaid past_due", "active", "active",
           "only an unpaid or past-due subscription owes a payment"),
        _t("delete", "canceled expired", "", None,
           "only canceled or expired subscriptions can be deleted"),
        _t("update", "active scheduled", "", None,
           "only active or scheduled subscriptions can be edited"),
        _t("send_update_link", "active unpaid past_due scheduled paused", "", None,
           "a canceled or expired subscription is never charged again"),
        _t("mark_unpaid", "active past_due", "unpaid", "unpaid",
           "only an active or past-due subscription can become unpaid"),
        _t("mark_past_due", "active", "past_due", "past_due",
           "only an active subscription can become past due"),
    )
}  # fmt: skip

# The CLI verbs; each maps to a transition (update and cancel by their options).
VERBS: tuple[str, ...] = (
    "update", "cancel", "pause", "resume", "pay", "delete", "send-update-link",
)  # fmt: skip
PAST_TENSE: dict[str, str] = {
    "update": "updated",
    "cancel": "canceled",
    "pause": "paused",
    "resume": "resumed",
    "pay": "paid",
    "delete": "deleted",
    "send-update-link": "sent",
    "cancel --at-period-end": "scheduled to cancel",  # still active until its period ends
}
DESTRUCTIVE: frozenset[str] = frozenset({"cancel", "delete"})

# Properties a snapshot must hold, per transition: every property the action reads or changes
# (history records old -> new). Fewer columns read is what keeps 100,000-item batches fast.
_BASE_FIELDS = ("hs_name", "hs_status")
SNAPSHOT_FIELDS: dict[str, tuple[str, ...]] = {
    "cancel": ("hs_next_payment_due_date", "hs_next_payment_amount", "hs_mrr",
               "hs_canceled_at", "hs_scheduled_cancellation_date", "hs_resume_date"),
    "cancel_at_period_end": ("hs_next_payment_due_date", "hs_next_payment_amount",
                             "hs_scheduled_cancellation_date"),
    "pause": ("hs_pause_reason", "hs_scheduled_cancellation_date", "hs_mrr", "hs_resume_date"),
    "resume": ("hs_next_payment_due_date", "hs_pause_reason", "hs_scheduled_cancellation_date",
               "hs_mrr", "hs_next_payment_amount", "hs_currency_code",
               "hs_recurring_billing_frequency", "hs_resume_date"),
    "delete": (),
    "update": ("hs_next_payment_due_date", "hs_scheduled_cancellation_date",
               "hs_invoice_creation", "hs_currency_code"),
    "send_update_link": ("hs_createdate",),
    "pay": ("hs_next_payment_due_date", "hs_next_payment_amount", "hs_currency_code",
            "hs_recurring_billing_frequency", "hs_payment_method", "hs_last_payment_status",
            "hs_last_payment_amount", "hs_recurring_billing_start_date"),
    "mark_unpaid": ("hs_createdate", "hs_next_payment_amount", "hs_currency_code",
                    "hs_payment_method", "hs_last_payment_status"),
    "mark_past_due": (),
}  # fmt: skip
REFUND_FIELDS = ("hs_recurring_billing_frequency", "hs_last_payment_status")
STATUS_EDITS: dict[str, str] = {"unpaid": "mark_unpaid", "past_due": "mark_past_due"}
# Why a property cannot be set with update (properties marked read-only in the schema).
_BY_VERBS = "it follows the lifecycle verbs"
_FROM_PAYMENTS: Words = (
    "it is recorded from payments (",
    Call("pay"),
    ", ",
    Call("update", (Opt("set", "status=unpaid"),), program=False),
    ")",
)
READ_ONLY: dict[str, Words] = {
    "hs_object_id": ("it is the record id",),
    "hs_createdate": ("it is set when the subscription is created",),
    "hs_lastmodifieddate": ("every change sets it",),
    "hs_canceled_at": (f"{_BY_VERBS} (", Call("cancel"), ")"),
    "hs_scheduled_cancellation_date": (
        f"{_BY_VERBS} (",
        Call("cancel", (Opt("at_period_end"),)),
        ")",
    ),
    "hs_pause_reason": (f"{_BY_VERBS} (", Call("pause", (Opt("reason"),)), ")"),
    "hs_mrr": ("HubSpot computes it from the line items",),
    "hs_last_payment_amount": _FROM_PAYMENTS,
    "hs_last_payment_status": _FROM_PAYMENTS,
    "hs_last_payment_date": _FROM_PAYMENTS,
    "hs_number_of_completed_payments": _FROM_PAYMENTS,
    "hs_total_collected_amount": _FROM_PAYMENTS,
    "hs_resume_date": (f"{_BY_VERBS} (", Call("pause", (Opt("resume_on"),)), ")"),
    "hs_next_payment_retry_date": ("billing records it when a card payment fails",),
    "hs_payment_retry_count": ("billing records it when a card payment fails",),
}
# Properties fixed once a subscription is billable (DOMAIN.md §1: not among those HubSpot keeps
# editable then).
FIXED_ONCE_BILLABLE: tuple[str, ...] = ("hs_currency_code", "hs_recurring_billing_frequency")
# Properties an active or scheduled subscription (the only ones update edits) cannot lose.
REQUIRED: tuple[str, ...] = ("hs_name", "hs_next_payment_due_date")
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
    resume_on: dt.date | None = None  # pause: resumes by itself that day (billing)

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
    def past_tense(self) -> str:
        """What was done to an item acted on (``PAST_TENSE``): "canceled", "scheduled to
        cancel"."""
        if self.verb == "cancel" and self.at_period_end:
            return PAST_TENSE["cancel --at-period-end"]
        return PAST_TENSE[self.verb]

    @property
    def needs_payments(self) -> bool:
        return self.verb in ("cancel", "pay")

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
            **({"resume_on": self.resume_on.isoformat()} if self.resume_on else {}),
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Action:
        nbd = data.get("next_billing_date")
        resume_on = data.get("resume_on")
        return cls(
            verb=str(data["verb"]),
            at_period_end=bool(data.get("at_period_end")),
            refund_unused=bool(data.get("refund_unused")),
            refund_pending=bool(data.get("refund_pending")),
            reason=data.get("reason"),
            next_billing_date=dt.date.fromisoformat(nbd) if nbd else None,
            values=tuple((str(k), str(v)) for k, v in data.get("values", ())),
            resume_on=dt.date.fromisoformat(resume_on) if resume_on else None,
        )

    def command(self, registry: PropertyRegistry | None = None) -> Call:
        """The verb and its options (job listings, previews), which the command layer words as
        a user would type them; with ``registry``, the values of highly sensitive properties
        (and of properties deleted since) masked."""
        parts: list[Opt] = []
        if self.at_period_end:
            parts.append(Opt("at_period_end"))
        if self.refund_unused:
            parts.append(Opt("refund", "unused"))
        if self.refund_pending:
            parts.append(Opt("refund_pending"))
        if self.reason:
            parts.append(Opt("reason", _quoted(self.reason)))
        if self.resume_on:
            parts.append(Opt("resume_on", str(self.resume_on)))
        if self.next_billing_date:
            parts.append(Opt("next_billing_date", str(self.next_billing_date)))
        hidden = masked_names(registry) if registry is not None else frozenset()

        def shown(name: str, value: str) -> str:
            if registry is None or not value:
                return value
            prop = registry.get(name)  # deleted since: it may have been highly sensitive
            return MASK if prop is None or prop.name in hidden else value

        parts.extend(Opt("set", _quoted(f"{k}={shown(k, v)}")) for k, v in self.values)
        return Call(self.verb, tuple(parts), program=False)


def _quoted(value: str) -> str:
    """A value as a shell takes it (``'Visa - 4242'``); ``MASK`` stays as it is shown."""
    import shlex

    return MASK.join(shlex.quote(part) if part else "" for part in value.split(MASK))


def build_action(
    verb: str,
    *,
    registry: PropertyRegistry,
    today: dt.date,
    now: dt.datetime | None = None,
    at_period_end: bool = False,
    refund: str | None = None,
    refund_pending: bool = False,
    reason: str | None = None,
    next_billing_date: str | None = None,
    resume_on: str | None = None,
    assignments: Sequence[str] = (),
    capabilities: Capabilities = LOCAL,
) -> Action:
    """Validate a verb's options (usage errors, exit 2) and return the action; refuse what the
    record store cannot do (``capabilities``) before any job is created: a flag, exit 2; a
    verb, exit 5 (``InvalidState``)."""
    if verb not in VERBS:
        raise UsageError(f'unknown lifecycle verb "{verb}"')
    refund_unused = False
    if refund is not None:
        if refund.strip().lower() != "unused":
            raise UsageError.naming(
                Opt("refund"), f': "{refund}" is not supported; use ', Opt("refund", "unused")
            )
        if at_period_end:
            raise UsageError.naming(
                Opt("refund", "unused"),
                " cannot be combined with ",
                Opt("at_period_end"),
                ": a subscription canceled at the end of its period has no unused days",
            )
        refund_unused = True
    next_billing: dt.date | None = None
    if verb == "resume":
        if not next_billing_date:
            raise UsageError.naming("resume needs ", Opt("next_billing_date", "DATE"))
        from subctl.query.values import ValueParseError, parse_date

        try:
            next_billing = parse_date(next_billing_date, today)
        except ValueParseError as exc:
            raise InputError("next_billing_date", str(exc)) from exc
        if next_billing < today:
            raise InputError("next_billing_date", f"{next_billing} is in the past")
    resumes: dt.date | None = None
    if resume_on is not None:  # pause --resume-on: a day after today
        from subctl.query.values import ValueParseError, parse_date

        if verb != "pause":
            raise UsageError.naming(Opt("resume_on"), " applies to pause")
        try:
            resumes = parse_date(resume_on, today)
        except ValueParseError as exc:
            raise InputError("resume_on", str(exc)) from exc
        if resumes <= today:  # and again per item: a resumed job may run on a later day
            raise InputError("resume_on", f"{resumes} is not after today ({today})")
    if refund_pending and at_period_end:
        raise UsageError.naming(
            Opt("refund_pending"),
            " applies to immediate cancellation, not ",
            Opt("at_period_end"),
        )
    if reason is not None and len(reason) > 1000:
        raise InputError("reason", "at most 1,000 characters")
    values: tuple[tuple[str, str], ...] = ()
    if verb == "update":
        values = parse_assignments(assignments, registry, today, now)
    action = Action(
        verb=verb,
        at_period_end=at_period_end,
        refund_unused=refund_unused,
        refund_pending=refund_pending,
        reason=reason or None,
        next_billing_date=next_billing,
        values=values,
        resume_on=resumes,
    )
    refuse_incapable(action, capabilities)
    return action


_REMOTE = "on a remote HubSpot profile"
_LOCALLY = "a local profile (subctl sync --into NAME mirrors the account) can"


def refuse_incapable(action: Action, capabilities: Capabilities) -> None:
    """What the record store cannot carry out (``capabilities``), refused before anything is
    journaled (``build_action``) and before a journaled job is resumed (a job that fails at
    execute time would fail again at every ``jobs resume``): ``UsageError`` (exit 2) naming
    the flag, ``InvalidState`` (exit 5) for a verb. The only store lacking these is HubSpot's,
    hence the wording."""
    if not capabilities.payments:
        if action.verb == "pay":
            raise InvalidState(
                f"pay records a payment, and HubSpot has no endpoint for that ({_REMOTE})",
                hint="record it in HubSpot's payments tool; pay works on local profiles",
            )
        if action.refund_unused or action.refund_pending:
            raise UsageError.naming(
                Opt("refund") if action.refund_unused else Opt("refund_pending"),
                f": HubSpot has no endpoint for refunds ({_REMOTE})",
                hint="cancel without it, and refund in HubSpot's payments tool",
            )
    if action.resume_on is not None and not capabilities.resume_dates:
        raise UsageError.naming(
            Opt("resume_on"),
            f": HubSpot's pause takes no resume date ({_REMOTE})",
            hint=f"pause without it and resume by hand (subctl resume); {_LOCALLY}",
        )
    if dict(action.values).get("hs_status") and not capabilities.status_marks:
        raise UsageError.naming(
            Opt("set", "status=…"),
            f": HubSpot sets a subscription's status by itself ({_REMOTE})",
            hint=f"it changes with HubSpot's own billing; {_LOCALLY}",
        )


def parse_assignments(
    assignments: Sequence[str],
    registry: PropertyRegistry,
    today: dt.date,
    now: dt.datetime | None = None,
) -> tuple[tuple[str, str], ...]:
    """``--set name=value`` (names, aliases or labels) -> (internal name, canonical text).

    Values are checked against the property's type, options and validation rules here, once,
    before anything changes.
    """
    from subctl.export.values import text_value
    from subctl.services.values import coerce_value

    if not assignments:
        raise UsageError.naming("update needs at least one ", Opt("set", "PROPERTY=VALUE"))
    out: dict[str, str] = {}
    for text in assignments:
        name, eq, raw = text.partition("=")
        if not eq or not name.strip():
            raise InputError("set", f'"{text}" is not PROPERTY=VALUE')
        prop = registry.get(name)
        if prop is None:
            suggestion = registry.suggest(name.strip())
            raise InputError(
                "set",
                f'unknown property "{name.strip()}"',
                hint=f'did you mean "{suggestion}"?' if suggestion else None,
            )
        if prop.name == "hs_status":
            value = coerce_value(prop, raw, today=today)
            if value not in STATUS_EDITS:
                raise InputError(
                    "set",
                    f'status cannot be set to "{value}" with update',
                    next=Next(Step.USE_VERB, {"status": str(value)}),
                )
            out[prop.name] = str(value)
            continue
        if prop.read_only_value:
            reason = READ_ONLY.get(prop.name)
            raise UsageError.naming(
                Opt("set"),
                f": {registry.short_name(prop)} is read-only",
                *((": ", *reason) if reason else ()),
            )
        value = coerce_value(prop, raw, today=today, now=now)
        if prop.name == "hs_invoice_creation" and value != "on":
            raise InputError(
                "set", "billable cannot be turned off: a billable subscription stays billable"
            )
        if prop.name == "hs_next_payment_due_date" and value is not None and value < today:
            raise InputError("set", f"next_payment_due_date {value} is in the past")
        out[prop.name] = text_value(value)
    if "hs_status" in out and len(out) > 1:
        raise UsageError.naming(
            Opt("set", "status=…"), " records a billing event; set it on its own"
        )
    return tuple(out.items())


def typed_values(
    action: Action, registry: PropertyRegistry, today: dt.date, now: dt.datetime | None = None
) -> dict[str, Any]:
    from subctl.services.values import coerce_value

    typed: dict[str, Any] = {}
    for name, text in action.values:
        prop = registry.get(name)
        if prop is None:
            raise UsageError(f'unknown property "{name}"')
        typed[prop.name] = coerce_value(prop, text or None, today=today, now=now)
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


@dataclass(frozen=True)
class Caution:
    """A warning about an item: what a person must follow up, and the next step if any."""

    text: str
    next: Next | None = None


@dataclass(slots=True)  # a batch holds a chunk of them: no per-instance __dict__
class Decision:
    subscription_id: int
    name: str | None
    status: str | None  # before
    outcome: Outcome
    new_status: str | None  # after (None: deleted or missing)
    note: str
    op: ops.Op | None = None
    refund: Decimal | None = None
    currency: str | None = None
    message: OutboxMessage | None = None
    warnings: list[Caution] = field(default_factory=list)
    # The snapshot it was decided on (None: none read): a remote unit of work's audit "before"
    # values, so that they cost no second read (``UnitOfWork.write``'s ``seen``).
    seen: Mapping[str, Any] | None = None

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
    return update_link_of(sub.id, sub.properties.get("hs_createdate"))


def update_link_of(sub_id: int, created: dt.datetime | None) -> str:
    """``update_link`` from the subscription's id and ``hs_createdate`` (as the store reads it)."""
    digest = hashlib.sha256(f"{sub_id}:{created}".encode()).hexdigest()[:20]
    return f"{UPDATE_LINK_BASE}/{sub_id}?token={digest}"


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
    if transition.name == "cancel" and action.refund_pending and status == "canceled":
        return _refund_pending_only(action, target, ctx, sub, Decision(sid, name, status,
                                    Outcome.OK, status, ""))  # fmt: skip
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


def _op(kind: type[ops.Op], ctx: Context, sub: Subscription, **fields: Any) -> Any:
    """The store operation ``kind`` on ``sub``, decided on its current status."""
    return kind(subscription_id=sub.id, expect_status=sub.status, at=ctx.now,
                source=ctx.source, **fields)  # fmt: skip


def _cancel(
    action: Action, target: Target, ctx: Context, sub: Subscription, d: Decision
) -> Decision:
    props = sub.properties
    now = ctx.now
    notes: list[str] = []
    refunds: list[Refund] = []
    payments = [p for p in target.payments if p.kind == "payment"] if target.payments else []
    refunded_ids = {p.refunds_payment_id for p in target.payments if p.kind == "refund"}
    latest = payments[-1] if payments else None
    pending = [p for p in payments if p.pending_bank_payment and p.id not in refunded_ids]

    if action.refund_unused:
        basis, why = _refund_basis(latest, refunded_ids)
        other = _refunded_elsewhere(ctx, basis, sub.id)
        if basis is not None and other is not None:
            why = f"payment {basis.id} is refunded with subscription {other}"
            basis = None
        if basis is None:
            notes.append(f"no refund: {why}")
        else:
            frequency = str(props.get("hs_recurring_billing_frequency") or "")
            # A paused subscription's due date is its resume date, not the end of a paid period.
            due = None if sub.status == "paused" else props.get("hs_next_payment_due_date")
            try:
                end = paid_period_end(basis.created_at.astimezone(dt.UTC).date(), frequency, due)
                pro = prorate(basis.amount, basis.currency, frequency, end, now)
            except ValueError as exc:
                return _fail(d, f"cannot compute the refund: {exc}")
            if pro.refund > 0:
                refunds.append(_refund(basis, pro.refund, pro.full, now))
                d.refund, d.currency = pro.refund, pro.currency
                notes.append(ctx.says("refund", "would refund") + f" {pro.describe()}")
            else:
                notes.append("no refund: no unused days left in the period")
    left = _refund_pending(action, ctx, sub, d, pending, refunds, notes)
    if left and action.refund_unused:
        d.outcome = Outcome.ATTENTION
    _refunding(ctx, sub, latest, refunds)
    message = _cancellation_mail(sub, target.email, ctx, None, d.refund, d.currency)
    if message is None:
        notes.append("no contact e-mail: cancellation e-mail not recorded")
    d.op = _op(ops.Cancel, ctx, sub, refunds=tuple(refunds), messages=(message,) if message else ())
    d.message = message
    d.new_status = "canceled"
    d.note = "; ".join([ctx.says("canceled", "would cancel"), *notes])
    return d


def _refund_pending(
    action: Action,
    ctx: Context,
    sub: Subscription,
    d: Decision,
    pending: Sequence[Payment],
    refunds: list[Refund],
    notes: list[str],
) -> int:
    """Refund the pending bank payments in full with ``refund_pending``, else warn (naming the
    command that refunds them). Returns how many are left unrefunded."""
    left = 0
    for p in pending:
        other = _refunded_elsewhere(ctx, p, sub.id)
        if other is not None:
            notes.append(f"pending bank payment {p.id} refunded with subscription {other}")
            continue
        if action.refund_pending:
            refunds.append(_refund(p, p.amount, True, ctx.now))
            d.refund = (d.refund or ZERO) + p.amount
            d.currency = p.currency
            refunded = ctx.says("refunded", "would refund")
            notes.append(f"{refunded} pending bank payment {p.id} ({p.amount} {p.currency})")
        else:
            left += 1
            d.warnings.append(
                Caution(
                    f"subscription {sub.id}: pending bank payment {p.id} "
                    f"({p.amount} {p.currency}) is neither canceled nor refunded automatically",
                    Next(Step.REFUND_PENDING, {"sub": sub.id}),
                )
            )
            notes.append(f"pending bank payment {p.id} not refunded")
    return left


def _refunding(
    ctx: Context,
    sub: Subscription,
    latest: Payment | None,
    refunds: Sequence[Refund],
) -> None:
    """Claim the refunded payments for this batch; the refund of the latest one says so (its
    status becomes the last payment status)."""
    for r in refunds:
        ctx.refunding[r.payment_id] = sub.id
        if latest is not None and r.payment_id == latest.id:
            r.latest = True


def _refund_pending_only(
    action: Action, target: Target, ctx: Context, sub: Subscription, d: Decision
) -> Decision:
    """``cancel --refund-pending`` of a canceled subscription: refunds the bank payments still
    pending (left alone by the cancellation) and changes nothing else; with none left it is
    skipped, like any cancel of a canceled subscription."""
    payments = [p for p in target.payments if p.kind == "payment"]
    refunded_ids = {p.refunds_payment_id for p in target.payments if p.kind == "refund"}
    pending = [p for p in payments if p.pending_bank_payment and p.id not in refunded_ids]
    refunds: list[Refund] = []
    notes: list[str] = []
    _refund_pending(action, ctx, sub, d, pending, refunds, notes)
    if not refunds:
        d.outcome = Outcome.SKIPPED
        d.note = "; ".join(["already canceled", *notes])
        return d
    _refunding(ctx, sub, payments[-1], refunds)
    d.op = _op(ops.Refund, ctx, sub, refunds=tuple(refunds))
    d.note = "; ".join(notes)
    return d


def _refunded_elsewhere(ctx: Context, payment: Payment | None, sub_id: int) -> int | None:
    """The other subscription of this batch that refunds ``payment`` (associated with both)."""
    other = ctx.refunding.get(payment.id) if payment is not None else None
    return other if other != sub_id else None


def _refund_basis(
    latest: Payment | None, refunded_ids: set[int | None]
) -> tuple[Payment | None, str]:
    """The payment whose unused days are refunded: the latest one, if it succeeded and was not
    refunded before (exactly once, even across separate runs). The days are those of the period
    it paid for (``refunds.paid_period_end``)."""
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


def cancellation_text(
    name: str,
    canceled_on: dt.date,
    ends_on: dt.date | None,
    refund: Decimal | None,
    currency: str | None,
) -> tuple[str, str]:
    """Subject and body of the cancellation e-mail (``CANCELLATION_MAIL``): canceled on
    ``canceled_on``, or, with ``ends_on``, at the end of the period."""
    if ends_on is None:
        subject = f"Your subscription {name} has been canceled"
        body = (
            f'Hello,\n\nyour subscription "{name}" was canceled on {canceled_on}. '
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
    return subject, body


def update_link_text(name: str, link: str) -> tuple[str, str]:
    """Subject and body of the payment-method e-mail (``UPDATE_LINK_MAIL``) with its link."""
    return (
        f"Update the payment method for {name}",
        f'Hello,\n\nplease update the payment method of your subscription "{name}":\n{link}\n',
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
    subject, body = cancellation_text(name, ctx.today, ends_on, refund, currency)
    return OutboxMessage(
        subscription_id=sub.id,
        kind=CANCELLATION_MAIL,
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
    subject, body = update_link_text(name, link)
    return OutboxMessage(
        subscription_id=sub.id,
        kind=UPDATE_LINK_MAIL,
        recipient=email,
        subject=subject,
        body=body,
        created_at=ctx.now,
        link=link,
        job_id=ctx.job_id,
    )


def _fail(d: Decision, note: str) -> Decision:
    d.outcome, d.note, d.new_status, d.op = Outcome.FAILED, note, d.status, None
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
    if end < ctx.today:
        # The next payment is past due: "the end of the period" is already behind us, and a
        # cancellation scheduled in the past is one no billing run ever carries out (or one
        # HubSpot applies on a date already gone). Refused for this item; cancelling now is
        # what the user means, and they say so themselves.
        d = _fail(
            d,
            f"the period ended on {end}, before today ({ctx.today}): "
            "its next payment is past due, so there is no period end to cancel at",
        )
        d.warnings.append(
            Caution(
                f"subscription {sub.id}: its period ended on {end}, so it was not scheduled "
                "to cancel",
                Next(Step.CANCEL_NOW, {"sub": sub.id}),
            )
        )
        return d
    message = _cancellation_mail(sub, target.email, ctx, end, None, None)
    d.op = _op(ops.CancelAtPeriodEnd, ctx, sub, end=end, messages=(message,) if message else ())
    d.message = message
    d.note = ctx.says("cancels", "would cancel") + f" at the end of the period, on {end}; "
    d.note += "no further charges"
    if message is None:
        d.note += "; no contact e-mail: cancellation e-mail not recorded"
    for p in target.payments:
        if p.pending_bank_payment:
            d.warnings.append(
                Caution(
                    f"subscription {sub.id}: pending bank payment {p.id} "
                    f"({p.amount} {p.currency}) is neither canceled nor refunded automatically"
                )
            )
    return d


def _pause(
    action: Action, target: Target, ctx: Context, sub: Subscription, d: Decision
) -> Decision:
    if action.resume_on is not None and action.resume_on <= ctx.today:
        return _fail(d, f"the resume date {action.resume_on} is not after today ({ctx.today})")
    d.op = _op(ops.Pause, ctx, sub, reason=action.reason, resume_on=action.resume_on)
    d.new_status = "paused"
    d.note = ctx.says("paused", "would pause") + (f": {action.reason}" if action.reason else "")
    if action.resume_on is not None:
        d.note += f"; resumes on {action.resume_on}"
    return d


def _resume(
    action: Action, target: Target, ctx: Context, sub: Subscription, d: Decision
) -> Decision:
    assert action.next_billing_date is not None  # build_action requires it
    try:  # the store computes the MRR (as HubSpot does): refused here when it cannot
        ops.resumed_mrr(sub.properties)
    except ValueError as exc:
        return _fail(d, f"cannot compute the MRR: {exc}")
    d.op = _op(ops.Resume, ctx, sub, next_billing_date=action.next_billing_date)
    d.new_status = "active"
    d.note = ctx.says("resumed", "would resume") + f"; next billing date {action.next_billing_date}"
    return d


def _delete(
    action: Action, target: Target, ctx: Context, sub: Subscription, d: Decision
) -> Decision:
    d.op = _op(ops.Delete, ctx, sub)
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
    wanted = {k: v.merged(props.get(k)) if isinstance(v, Append) else v
              for k, v in ctx.values.items()}  # fmt: skip
    refused = _edit_refusal(props, wanted)
    if refused:
        return _fail(d, refused)
    # A highly sensitive value is written whether or not it differs: "no change" would tell
    # whoever guessed it what the stored value is.
    changes = {k: v for k, v in wanted.items() if k in ctx.masked or props.get(k) != v}
    if not changes:
        d.outcome, d.note = Outcome.SKIPPED, "no change"
        return d
    # What was given, as given (canonical text), except appended options: the merged value.
    texts = dict(action.values)
    texts.update({k: str(v) for k, v in changes.items() if isinstance(ctx.values.get(k), Append)})
    start, due = "hs_recurring_billing_start_date", "hs_next_payment_due_date"
    if (
        props.get("hs_status") == "scheduled"
        and start in changes
        and due not in wanted
        and props.get(due) in (None, props.get(start))
    ):  # a scheduled subscription's first payment is due on its start date: it moves with it
        changes[due] = changes[start]
        texts[due] = texts[start]
    d.op = _op(ops.Update, ctx, sub, values=changes)
    d.note = ctx.says("set ", "would set ") + ", ".join(
        f"{name}={'(empty)' if value is None else MASK if name in ctx.masked else texts[name]}"
        for name, value in changes.items()
    )
    return d


def _edit_refusal(props: Mapping[str, Any], values: Mapping[str, Any]) -> str | None:
    """Why the update's values cannot be set on this subscription (the state rules of [2])."""
    from subctl.services.validation import money_problem

    billable = props.get("hs_invoice_creation") == "on"
    if not billable and values.get("hs_invoice_creation") != "on":
        return (
            "the subscription does not create invoices, so it cannot be edited "
            "(turn invoice creation on with --set billable=on)"
        )
    for name in FIXED_ONCE_BILLABLE:
        if billable and name in values and values[name] != props.get(name):
            what = "currency" if name == "hs_currency_code" else "billing frequency"
            return f"the {what} of a billable subscription cannot change"
    for name in REQUIRED:
        if name in values and values[name] is None:
            what = "name" if name == "hs_name" else "next payment due date"
            return f"the {what} of an active or scheduled subscription cannot be cleared"
    amount = values.get("hs_next_payment_amount")
    currency = values.get("hs_currency_code", props.get("hs_currency_code"))
    return None if amount is None else money_problem(amount, currency)


def _charge(sub: Subscription, status: str, now: dt.datetime) -> Charge | str:
    """The payment of the subscription's next payment amount, or why there is none."""
    amount = sub.properties.get("hs_next_payment_amount")
    currency = sub.properties.get("hs_currency_code")
    if amount is None:
        return "no next payment amount: no payment is due"
    if not currency:
        return "no currency code: the payment cannot be recorded"
    method = str(sub.properties.get("hs_payment_method") or "")
    kind = "ach" if method.strip().lower().startswith("ach") else "card"
    return Charge(amount=amount, currency=str(currency), status=status, method=kind,
                  created_at=now)  # fmt: skip


def _mark(action: Action, target: Target, ctx: Context, sub: Subscription, d: Decision) -> Decision:
    status = str(ctx.values["hs_status"])
    charges: tuple[Charge, ...] = ()
    if status == "unpaid":
        charge = _charge(sub, "failed", ctx.now)
        if isinstance(charge, str):
            return _fail(d, f"cannot record a failed payment: {charge}")
        charges = (charge,)
    message = _update_link_mail(sub, target.email, ctx) if status == "unpaid" else None
    d.op = _op(ops.MarkUnpaid, ctx, sub, status=status, charge=charges[0] if charges else None,
               messages=(message,) if message else ())  # fmt: skip
    d.message = message
    d.new_status = status
    d.note = ctx.says("status", "would set status") + f" {status}"
    for charge in charges:
        recorded = ctx.says("recorded", "would be recorded")
        d.note += f"; failed payment of {charge.amount} {charge.currency} {recorded}"
    if status == "unpaid":
        d.note += (
            f"; payment-method update e-mail to {message.recipient}"
            if message
            else "; no contact e-mail: payment-method e-mail not recorded"
        )
    return d


MAX_PERIODS_SETTLED = 400  # what one `pay` settles at most (over seven years of weekly periods)


def _pay(action: Action, target: Target, ctx: Context, sub: Subscription, d: Decision) -> Decision:
    for p in target.payments:
        if p.pending_bank_payment:
            return _fail(
                d,
                f"bank payment {p.id} ({p.amount} {p.currency}) is still processing: it settles "
                "the debt when it succeeds",
            )
    charge = _charge(sub, "succeeded", ctx.now)
    if isinstance(charge, str):
        return _fail(d, f"cannot record the payment: {charge}")
    # The debt is every period due up to today: one payment settles them all, and the next due
    # date is the first after today (an overdue weekly subscription owes several weeks).
    due = sub.properties.get("hs_next_payment_due_date")
    periods = 1
    if isinstance(due, dt.date):
        frequency = str(sub.properties.get("hs_recurring_billing_frequency") or "")
        start = sub.properties.get("hs_recurring_billing_start_date")
        billing_day = start.day if isinstance(start, dt.date) else None  # the billing day
        try:
            due = next_period_end(due, frequency, billing_day)
            while due <= ctx.today and periods < MAX_PERIODS_SETTLED:
                due = next_period_end(due, frequency, billing_day)
                periods += 1
        except ValueError as exc:
            return _fail(d, f"cannot move the next payment due date: {exc}")
        if due <= ctx.today:
            return _fail(d, f"more than {MAX_PERIODS_SETTLED} periods are due; record them by hand")
    charge = replace(charge, amount=charge.amount * periods)
    note = ctx.says("paid", "would record a payment of") + f" {charge.amount} {charge.currency}"
    if periods > 1:
        note += f" ({periods} periods)"
    next_due = due if isinstance(due, dt.date) else None
    if next_due is not None:
        note += f"; next payment due {next_due}"
    d.op = _op(ops.Pay, ctx, sub, charge=charge, next_payment_due_date=next_due, periods=periods)
    d.new_status = "active"
    d.note = note
    return d


def _send_update_link(
    action: Action, target: Target, ctx: Context, sub: Subscription, d: Decision
) -> Decision:
    message = _update_link_mail(sub, target.email, ctx)
    if message is None:
        return _fail(d, "no contact with an e-mail address to send the link to")
    d.op = _op(ops.Notify, ctx, sub, messages=(message,))
    d.message = message
    d.note = ctx.says("", "would send a ") + f"payment-method update e-mail to {message.recipient}"
    return d


_HANDLERS = {
    "cancel": _cancel,
    "cancel_at_period_end": _cancel_at_period_end,
    "pause": _pause,
    "resume": _resume,
    "pay": _pay,
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
        if d.refund and d.currency and d.outcome.acts:
            totals[d.currency] = totals.get(d.currency, ZERO) + d.refund
    return totals
