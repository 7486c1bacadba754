"""The billing run of a local workspace, and its clock (``subctl billing``, ``subctl clock``).

The local workspace simulates what HubSpot's billing does to subscriptions as time passes
(DOMAIN.md §0 statuses, §8 retries and bank payments). HubSpot bills by itself, so a remote
profile has no billing run; locally ``run`` carries out every event due up to a time, day by
day in time order (``BillingStore.run_day``; days are committed together, ``commit_seconds``
of work per transaction, never part of a day), as a job in the journal (``jobs``): a crashed
run is run again (``jobs resume``, or any later run) and does nothing twice, because an event
is recorded at most once per subscription, kind and day (a unique constraint) in the same
transaction as its effects.

The events, each due on a day at 00:00 UTC (every choice where HubSpot is silent is written
here; the numbers are workspace settings, ``SETTINGS``):

- **start**: a ``scheduled`` subscription on its start date becomes ``active`` with its first
  payment (a charge, as a renewal); its next payment is due one period after the start date.
- **renewal**: an ``active`` subscription on its next payment due date is charged its next
  payment amount. A card payment that succeeds is recorded ``succeeded``: the due date moves
  one billing period on (``billing.next_period_end``: calendar months keep the start date's
  day, clamped to short months), the last payment's amount, status and date are set, the
  completed payments and total collected grow. A bank (ACH) payment is recorded
  ``processing``: the due date moves on, the counters wait for it to settle. A card payment
  that fails makes the subscription ``unpaid``: the payment is recorded ``failed``, the buyer
  gets the payment-method e-mail (with its link, as ``send-update-link``) and the first retry
  is scheduled. A subscription that cannot be charged (no next payment amount, currency or
  billing frequency) becomes ``past_due`` and the event says why.
- **retry**: an ``unpaid`` subscription whose card payment failed is charged again
  ``retry_days`` after the failed due date (default 3, 5 and 7 days after it). A successful
  retry makes it ``active`` (the cycle is paid: as a successful renewal); after the last failed
  retry it becomes ``after_last_retry`` (default ``past_due``: HubSpot's status for a payment
  that is late; ``canceled`` ends it, with the cancellation e-mail; ``unpaid`` leaves it unpaid
  without further retries). Bank payments are not retried (the buyer is asked to update the
  payment method).
- **settlement**: a bank payment ``processing`` settles ``settlement_days`` after its day
  (default 6, DOMAIN.md §8): ``succeeded`` (the counters grow; the last payment status too when
  it is the latest payment) or ``failed``: an active subscription becomes ``unpaid``, owing the
  cycle that payment was for (its due date goes back to that day), with the payment-method
  e-mail. A bank payment is billing's through its subscription: the one whose billing event
  charged it, else the one it is associated with. When billing charged it and that
  subscription has since been deleted (its events and payments are kept), it still settles on
  its day, as a payment alone: ``succeeded`` (the test value that fails it is the deleted
  subscription's payment method, gone with it), logged under the deleted subscription's id
  with no status and a note, no effect on any subscription, no e-mail. A payment recorded by
  hand that is associated with no subscription any more (dissociated, or its subscription
  deleted) is not billing's: it stays ``processing``, and is neither due nor settled.
- **cancellation**: an ``active`` subscription whose scheduled cancellation date
  (``cancel --at-period-end``) has come becomes ``canceled`` that day, with the cancellation
  e-mail; MRR 0.
- **expiry**: a fixed-term subscription (``hs_recurring_billing_number_of_payments``) whose
  completed payments reached its term becomes ``expired`` on its next due date, uncharged (it
  was charged for the whole term); due date and amount cleared, MRR 0.
- **resume**: a ``paused`` subscription with a resume date (``pause --resume-on``) becomes
  ``active`` that day, its next payment due that day (the renewal runs at once), MRR restored.
- ``canceled``, ``expired``, ``past_due`` (paid by hand: ``subctl pay``), ``paused`` and
  ``unpaid`` subscriptions between retries are not billed (one marked ``unpaid`` by hand, with
  ``update --set status=unpaid``, has no failed payment and no retry date: it stays unpaid until
  ``subctl pay``). Invoices are not simulated.

Payment outcomes depend on the payment method alone (``PAYMENT_TEST_VALUES``), like Stripe's
test cards, so two runs of the same script give the same workspace: a card ending in ``0341``
declines every attempt, one ending in ``0002`` declines the first attempt of each cycle (the
first retry succeeds), a bank account ending in ``1116`` fails when it settles; every other
payment succeeds. Times of everything billing writes are the event's day at 00:00 UTC.

The common outcomes (a payment that succeeds or starts processing, a bank payment that
settles) are carried out set-based by the store, following these rules; every other event is
decided here (``decide``) and written as ``ops.Bill`` operations.
"""

from __future__ import annotations

import datetime as dt
import itertools
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from subctl import codec
from subctl.billing import monthly_recurring, next_period_end
from subctl.errors import Action, InputError, InvalidState, Next, NotFound
from subctl.services.lifecycle import update_link
from subctl.store.base import (
    BillingEvent,
    BillingStore,
    Charge,
    DayResult,
    Due,
    OutboxMessage,
    PaymentRules,
    RecordStore,
    Workspace,
)
from subctl.store.ops import Bill, Op

SOURCE = "billing"
JOB_VERB = "billing"
JOB_FINGERPRINT = "billing"
KINDS = ("start", "renewal", "retry", "settlement", "cancellation", "expiry", "resume")

# The documented test values of ``hs_payment_method`` (suffixes, see the module docstring).
PAYMENT_TEST_VALUES: Mapping[str, str] = {
    "0341": "card: declines every attempt (Stripe's test card 4000 0000 0000 0341)",
    "0002": "card: declines the first attempt of a cycle; the first retry succeeds",
    "1116": "bank account (ACH): fails when it settles (Stripe's test account 000111111116)",
}
CARD_DECLINED = "0341"
CARD_DECLINED_ONCE = "0002"
ACH_FAILS = "1116"
_DECLINES = (CARD_DECLINED,)
_DECLINES_FIRST = (CARD_DECLINED_ONCE,)
_BANK_FAILS = (ACH_FAILS,)

# -- settings ---------------------------------------------------------------------------------

CLOCK_KEY = "clock"
AFTER_LAST_RETRY = ("past_due", "unpaid", "canceled")


@dataclass(frozen=True)
class BillingSettings:
    retry_days: tuple[int, ...] = (3, 5, 7)
    settlement_days: int = 6
    after_last_retry: str = "past_due"
    commit_seconds: float = 10.0

    @classmethod
    def load(cls, workspace: Workspace) -> BillingSettings:
        values: dict[str, Any] = {}
        for key, setting in SETTINGS.items():
            text = workspace.get_setting(key)
            if text is not None:
                values[setting.field] = setting.parse(text)
        return cls(**values)

    def payment_rules(self) -> PaymentRules:
        return PaymentRules(
            declines=_DECLINES,
            declines_first=_DECLINES_FIRST,
            bank_fails=_BANK_FAILS,
            settlement_days=self.settlement_days,
        )


def _retry_days(text: str) -> tuple[int, ...]:
    parts = [p.strip() for p in text.split(",") if p.strip()]
    try:
        days = tuple(int(p) for p in parts)
    except ValueError:
        days = ()
    if text.strip().lower() == "none":
        return ()
    if (
        not parts  # an empty list is refused: ``none`` turns retries off
        or len(days) != len(parts)
        or any(not 1 <= d <= 60 for d in days)
        or list(days) != sorted(set(days))
    ):
        raise InputError(
            "billing.retry_days",
            f'"{text}" is not a list of increasing days from 1 to 60 '
            "(e.g. 3,5,7; none: no retries)",
        )
    return days


def _settlement_days(text: str) -> int:
    try:
        days = int(text.strip())
    except ValueError:
        days = -1
    if not 1 <= days <= 30:
        raise InputError(
            "billing.settlement_days", f'"{text}" is not a number of days from 1 to 30'
        )
    return days


def _after_last_retry(text: str) -> str:
    value = text.strip().lower()
    if value not in AFTER_LAST_RETRY:
        raise InputError(
            "billing.after_last_retry", f'"{text}" is not one of {", ".join(AFTER_LAST_RETRY)}'
        )
    return value


_DECIMAL = re.compile(r"[0-9]+(\.[0-9]+)?|\.[0-9]+", re.ASCII)


def _commit_seconds(text: str) -> float:
    # plain ASCII decimals only: float() takes "1_0", "1e2", full-width digits, "inf"
    seconds = float(text.strip()) if _DECIMAL.fullmatch(text.strip()) else -1.0
    if not 0 <= seconds <= 600:  # NaN too
        raise InputError(
            "billing.commit_seconds", f'"{text}" is not a number of seconds from 0 to 600'
        )
    return seconds


def _seconds(value: float) -> str:
    return f"{value:g}"


@dataclass(frozen=True)
class Setting:
    field: str
    parse: Callable[[str], Any]
    show: Callable[[Any], str]
    help: str


SETTINGS: Mapping[str, Setting] = {
    "billing.retry_days": Setting(
        "retry_days",
        _retry_days,
        lambda days: ",".join(map(str, days)) or "none",
        "days after a failed card payment's due date when it is retried",
    ),
    "billing.settlement_days": Setting(
        "settlement_days", _settlement_days, str, "days until a bank (ACH) payment settles"
    ),
    "billing.after_last_retry": Setting(
        "after_last_retry",
        _after_last_retry,
        str,
        "status after the last failed retry: past_due, unpaid or canceled",
    ),
    "billing.commit_seconds": Setting(
        "commit_seconds",
        _commit_seconds,
        _seconds,
        "seconds of work a billing run commits at a time (whole days; 0: every day)",
    ),
}


def settings(workspace: Workspace) -> list[tuple[str, str, str]]:
    """Every billing setting: key, value (set or default), description."""
    current = BillingSettings.load(workspace)
    return [(k, s.show(getattr(current, s.field)), s.help) for k, s in SETTINGS.items()]


def set_setting(workspace: Workspace, key: str, text: str) -> str:
    """Check and store a billing setting; returns its value as stored."""
    setting = SETTINGS.get(key)
    if setting is None:
        raise InputError("key", f'"{key}" is not a billing setting ({", ".join(SETTINGS)})')
    value = setting.show(setting.parse(text))
    workspace.set_setting(key, value)
    return value


# -- the clock --------------------------------------------------------------------------------


def workspace_clock(workspace: Workspace) -> dt.datetime | None:
    """The workspace's time when it has been set (``clock set``/``advance``); None: the system
    clock."""
    text = workspace.get_setting(CLOCK_KEY)
    if not text:
        return None
    return codec.parse_datetime(text, dt.date(1970, 1, 1))


# One command moves the clock at most MAX_CLOCK_YEARS: billing runs every day up to the new
# time (a 1000-year jump bills ~365,000 days, minutes of work and gigabytes of events, and the
# clock cannot go back), so a longer move is refused before anything is done (a dry run too);
# it can be made in steps, each one billed and committed.
MAX_CLOCK_YEARS = 10


def check_clock_move(to: dt.datetime, current: dt.datetime) -> None:
    """Refuse moving the clock from ``current`` to ``to``: back in time, or more than
    ``MAX_CLOCK_YEARS`` on."""
    if to < current:
        raise InputError(
            "to",
            f"{codec.iso_datetime(to)} is before the workspace's time "
            f"({codec.iso_datetime(current)}): the clock only moves forward",
        )
    limit = codec.add_months(current.date(), 12 * MAX_CLOCK_YEARS)
    if to > dt.datetime.combine(limit, current.timetz()):
        raise InputError(
            "to",
            f"{codec.iso_datetime(to)} is more than {MAX_CLOCK_YEARS} years after the "
            f"workspace's time ({codec.iso_datetime(current)}): the clock moves at most "
            f"{MAX_CLOCK_YEARS} years at a time",
            hint=f"move it in steps of at most {MAX_CLOCK_YEARS} years "
            f"(`subctl clock advance {MAX_CLOCK_YEARS}y`, billing runs at each step)",
        )


def set_clock(workspace: Workspace, to: dt.datetime, current: dt.datetime) -> None:
    """Move the workspace's clock to ``to``: forward only, at most ``MAX_CLOCK_YEARS``
    (``current``: its time now)."""
    check_clock_move(to, current)
    workspace.set_setting(CLOCK_KEY, codec.iso_datetime(to))


def reset_clock(workspace: Workspace, system_now: dt.datetime) -> None:
    """Return to the system clock, unless that would move the workspace's time back."""
    clock = workspace_clock(workspace)
    if clock is None:
        return
    if system_now < clock:
        raise InvalidState(
            f"the workspace's clock ({codec.iso_datetime(clock)}) is ahead of the system clock "
            f"({codec.iso_datetime(system_now)}): resetting would move time back",
            hint="time only moves forward; reset once the system clock has caught up",
        )
    workspace.delete_setting(CLOCK_KEY)


# -- the run ----------------------------------------------------------------------------------


@dataclass
class RunSummary:
    until: dt.datetime
    dry_run: bool
    job_id: int | None = None
    days: int = 0
    result: DayResult = field(default_factory=DayResult)

    @property
    def events(self) -> int:
        return sum(self.result.events.values())


def due(billing: BillingStore, workspace: Workspace, now: dt.datetime) -> dict[str, int]:
    """Events due at ``now`` and not carried out, per kind (the first of each subscription)."""
    return billing.due(now, BillingSettings.load(workspace).payment_rules())


def run(
    billing: BillingStore,
    workspace: Workspace,
    until: dt.datetime,
    *,
    now: dt.datetime,
    dry_run: bool = False,
    progress: Callable[[dt.date, DayResult], None] | None = None,
    job_id: int | None = None,
) -> RunSummary:
    """Carry out every billing event due up to ``until``, day by day (module docstring).
    ``job_id``: the journaled run to continue (``jobs resume``); ``dry_run``: everything is
    rolled back at the end, the summary says what would happen."""
    settings = BillingSettings.load(workspace)
    rules = settings.payment_rules()
    summary = RunSummary(until=until, dry_run=dry_run)
    if dry_run:
        with billing.session(dry_run=True, commit_seconds=0):
            stuck = _days(billing, settings, rules, summary, None, progress)
        if stuck is not None:
            raise stuck
        return summary
    if job_id is None and billing.next_day(until.date(), rules) is None:
        _finish_older(workspace, until, now)  # nothing due: no job to journal
        return summary
    if job_id is None:
        job_id = workspace.create_job(
            verb=JOB_VERB,
            action={"until": codec.iso_datetime(until)},
            selection={},
            fingerprint=JOB_FINGERPRINT,
            frozen=False,
            items=(),
            at=now,
        ).id
    summary.job_id = job_id
    with billing.session(dry_run=False, commit_seconds=settings.commit_seconds):
        stuck = _days(billing, settings, rules, summary, job_id, progress)
    if stuck is not None:  # the days before it are committed; the job stays unfinished
        raise stuck
    workspace.set_job_status(job_id, "done", now)
    _finish_older(workspace, until, now)
    return summary


def _finish_older(workspace: Workspace, until: dt.datetime, now: dt.datetime) -> None:
    """Earlier runs that stopped (Ctrl-C, kill -9) are finished by a run that reached their
    time: their events were due by then and are done now."""
    while (older := workspace.unfinished_job(JOB_FINGERPRINT)) is not None:
        if run_until(older.action) > until:
            break
        workspace.set_job_status(older.id, "done", now)


def run_until(action: Mapping[str, Any]) -> dt.datetime:
    """The time a journaled billing run runs to."""
    return codec.parse_datetime(str(action["until"]), dt.date(1970, 1, 1))


def _days(
    billing: BillingStore,
    settings: BillingSettings,
    rules: PaymentRules,
    summary: RunSummary,
    job_id: int | None,
    progress: Callable[[dt.date, DayResult], None] | None,
) -> InvalidState | None:
    """Run the days up to ``summary.until``; the error of a day whose events cannot be carried
    out (returned, not raised: the session keeps the days before it)."""
    last = summary.until.date()

    def decided(dues: Sequence[Due]) -> list[Op]:
        return [decide(settings, d, job_id) for d in dues]

    while (day := billing.next_day(last, rules)) is not None:
        result = billing.run_day(day, rules, decided, job_id)
        if not result.events:  # nothing could be carried out: stop rather than loop
            return _stuck(day, billing.blocked(day))
        summary.days += 1
        summary.result.add(result)
        if progress is not None:
            progress(day, result)
    return None


# The date that makes each kind of event due, and so moves it on.
_DUE_BY = {
    "start": "hs_recurring_billing_start_date",
    "renewal": "hs_next_payment_due_date",
    "retry": "hs_next_payment_retry_date",
    "cancellation": "hs_scheduled_cancellation_date",
    "resume": "hs_resume_date",
}


def _stuck(day: dt.date, blocked: Sequence[tuple[str, int]]) -> InvalidState:
    """Why the events due on ``day`` cannot be carried out: the subscriptions changed back to
    an event billing already carried out (an event is recorded once per subscription, kind and
    day), and how to move each on."""
    if not blocked:
        return InvalidState(f"billing events due on {day} could not be carried out")
    kind, sub_id = blocked[0]
    others = f" (and {len(blocked) - 1} more)" if len(blocked) > 1 else ""
    return InvalidState(
        f"billing events due on {day} could not be carried out: subscription {sub_id}'s "
        f"{kind} is due again on a day billing already carried it out{others}",
        hint=f"an event is carried out once per subscription, kind and day: move its date on "
        f"(`subctl update {sub_id} --set {_DUE_BY[kind]}=…`) or see "
        f"`subctl billing log --id {sub_id}`",
    )


def log(
    billing: BillingStore,
    *,
    since: dt.datetime | None = None,
    sub_id: int | None = None,
    kinds: Sequence[str] = (),
    job_id: int | None = None,
    workspace: Workspace | None = None,
    records: RecordStore | None = None,
) -> Iterator[BillingEvent]:
    """The billing log, streamed. A ``job_id`` that is not a billing run, and a ``sub_id``
    with no events that names no subscription, are ``NotFound`` (checked when ``workspace``
    and ``records`` are given): an empty log then means "nothing happened", never "no such
    thing". The log outlives a deleted subscription, so its events are still shown."""
    for kind in kinds:
        if kind not in KINDS:
            raise InputError("kind", f'"{kind}" is not a billing event ({", ".join(KINDS)})')
    if job_id is not None and workspace is not None and workspace.job(job_id).verb != JOB_VERB:
        raise NotFound(f"job {job_id} is not a billing run", next=Next(Action.LIST_JOBS))
    events = billing.events(since=since, sub_id=sub_id, kinds=kinds, job_id=job_id)
    first = next(events, None)
    if first is None:
        if sub_id is not None and records is not None:
            records.get(sub_id)  # NotFound when there is no such subscription
        return iter(())
    return itertools.chain((first,), events)


# -- the rules of the events the store hands over ---------------------------------------------

ZERO = Decimal("0.00")


def _midnight(day: dt.date) -> dt.datetime:
    return dt.datetime(day.year, day.month, day.day, tzinfo=dt.UTC)


def _is_bank(method: str) -> bool:
    return method.strip().lower().startswith("ach")


def declined(method: str, attempt: int) -> bool:
    """Whether a card payment with ``method`` is declined at ``attempt`` (0: the due date's
    charge, 1…: retries)."""
    if _is_bank(method):
        return False
    if method.endswith(_DECLINES):
        return True
    return attempt == 0 and method.endswith(_DECLINES_FIRST)


def decide(settings: BillingSettings, due: Due, job_id: int | None) -> Bill:
    """What an event the store hands over does (the module docstring's rules)."""
    props = due.subscription.properties
    status = props.get("hs_status")
    at = _midnight(due.at)

    def bill(outcome: str, new_status: str | None, values: dict[str, Any], **extra: Any) -> Bill:
        return Bill(
            subscription_id=due.subscription.id, expect_status=status, at=at, source=SOURCE,
            values=values, kind=due.kind, day=due.at, outcome=outcome, old_status=status,
            new_status=new_status, **extra,
        )  # fmt: skip

    def mail(kind: str, *, unpaid: bool = False) -> tuple[OutboxMessage, ...]:
        if not due.email:
            return ()
        name = props.get("hs_name") or f"subscription {due.subscription.id}"
        if kind == "cancellation" and unpaid:
            subject = f"Your subscription {name} has been canceled"
            body = (
                f'Hello,\n\nyour subscription "{name}" was canceled on {due.at} because its '
                "payment failed. You will not be charged again.\n"
            )
            link = None
        elif kind == "cancellation":
            subject = f"Your subscription {name} has ended"
            body = (
                f'Hello,\n\nyour subscription "{name}" ended on {due.at}, at the end of its '
                "billing period, as requested. You will not be charged again.\n"
            )
            link = None
        else:
            link = update_link(due.subscription)
            subject = f"Your payment for {name} failed: update your payment method"
            body = (
                f'Hello,\n\nthe payment for your subscription "{name}" failed. Please update '
                f"your payment method:\n{link}\n"
            )
        return (OutboxMessage(subscription_id=due.subscription.id, kind=kind,
                              recipient=due.email, subject=subject, body=body, created_at=at,
                              link=link, job_id=job_id),)  # fmt: skip

    if due.kind == "resume":
        return bill("resumed", "active", {
            "hs_status": "active", "hs_next_payment_due_date": due.at, "hs_pause_reason": None,
            "hs_resume_date": None, "hs_mrr": _mrr(props)})  # fmt: skip
    if due.kind == "cancellation":
        values = {"hs_status": "canceled", "hs_canceled_at": at,
                  "hs_scheduled_cancellation_date": None, "hs_next_payment_due_date": None,
                  "hs_next_payment_amount": None, "hs_mrr": ZERO}  # fmt: skip
        return bill("canceled", "canceled", values, messages=mail("cancellation"))
    if due.kind == "expiry":
        values = {"hs_status": "expired", "hs_next_payment_due_date": None,
                  "hs_next_payment_amount": None, "hs_mrr": ZERO}  # fmt: skip
        return bill("expired", "expired", values)
    if due.kind == "settlement":
        return _settlement_failed(due, bill, mail)
    return _charge(settings, due, bill, mail)


def _mrr(props: Mapping[str, Any]) -> Decimal:
    amount, currency = props.get("hs_next_payment_amount"), props.get("hs_currency_code")
    frequency = props.get("hs_recurring_billing_frequency")
    if amount is None or not currency or not frequency:
        return ZERO
    try:
        return monthly_recurring(amount, str(currency), str(frequency))
    except ValueError:
        return ZERO


_Bill = Callable[..., Bill]
_Mail = Callable[..., tuple[OutboxMessage, ...]]


def _charge(settings: BillingSettings, due: Due, bill: _Bill, mail: _Mail) -> Bill:
    """A start, renewal or retry: a payment attempt."""
    props = due.subscription.properties
    amount, currency = props.get("hs_next_payment_amount"), props.get("hs_currency_code")
    frequency = str(props.get("hs_recurring_billing_frequency") or "")
    cycle = due.at if due.kind != "retry" else props.get("hs_next_payment_due_date")
    start = props.get("hs_recurring_billing_start_date")
    try:
        if amount is None or not currency:
            raise ValueError("no next payment amount or currency")
        assert isinstance(cycle, dt.date)
        next_due = next_period_end(
            cycle, frequency, start.day if isinstance(start, dt.date) else None
        )
    except (ValueError, AssertionError) as exc:
        reason = str(exc) or "no due date"
        return bill("failed", "past_due", {"hs_status": "past_due"},
                    note=f"cannot be charged: {reason}")  # fmt: skip
    at = _midnight(due.at)
    method = str(props.get("hs_payment_method") or "")
    bank = _is_bank(method)
    retries = props.get("hs_payment_retry_count")
    attempt = 0 if due.kind != "retry" else int(retries or 0) + 1
    if declined(method, attempt):
        charge = Charge(amount=amount, currency=str(currency), status="failed", method="card",
                        created_at=at)  # fmt: skip
        values: dict[str, Any] = {
            "hs_last_payment_status": "failed",
            "hs_last_payment_amount": amount,
            "hs_last_payment_date": at,
        }
        failed = attempt  # retries failed so far, this one included
        if due.kind != "retry":
            values["hs_status"] = "unpaid"
            values["hs_next_payment_due_date"] = cycle
        if failed < len(settings.retry_days):
            values["hs_payment_retry_count"] = failed
            values["hs_next_payment_retry_date"] = cycle + dt.timedelta(
                days=settings.retry_days[failed]
            )
            new_status = "unpaid"
            note = f"retry on {values['hs_next_payment_retry_date']}"
            messages = mail("payment_method_update") if due.kind != "retry" else ()
        else:
            values["hs_payment_retry_count"] = failed
            values["hs_next_payment_retry_date"] = None
            new_status = settings.after_last_retry
            values["hs_status"] = new_status
            note = "no retries left" if settings.retry_days else "no retries"
            messages = mail("payment_method_update") if due.kind != "retry" else ()
            if new_status == "canceled":  # no payment link for a subscription that has ended
                values.update({"hs_canceled_at": at, "hs_next_payment_due_date": None,
                               "hs_next_payment_amount": None, "hs_mrr": ZERO})  # fmt: skip
                messages = mail("cancellation", unpaid=True)
        return bill("failed", new_status, values, charge=charge, messages=messages, note=note)
    # Only a retry of a failed card payment reaches here with success (the store carries out
    # every other successful charge set-based).
    status = "processing" if bank else "succeeded"
    charge = Charge(amount=amount, currency=str(currency), status=status,
                    method="ach" if bank else "card", created_at=at)  # fmt: skip
    values = {"hs_status": "active", "hs_next_payment_due_date": next_due,
              "hs_last_payment_status": status, "hs_last_payment_amount": amount,
              "hs_last_payment_date": at, "hs_next_payment_retry_date": None,
              "hs_payment_retry_count": None}  # fmt: skip
    if not bank:
        done = props.get("hs_number_of_completed_payments")
        total = props.get("hs_total_collected_amount")
        values["hs_number_of_completed_payments"] = int(done or 0) + 1
        values["hs_total_collected_amount"] = (total or ZERO) + amount
    return bill(status, "active", values, charge=charge)


def _settlement_failed(due: Due, bill: _Bill, mail: _Mail) -> Bill:
    """A bank payment that fails as it settles (successes are set-based in the store)."""
    props = due.subscription.properties
    payment = due.payment
    assert payment is not None
    values: dict[str, Any] = {}
    latest = props.get("hs_last_payment_date") == payment.created_at
    if latest:
        values["hs_last_payment_status"] = "failed"
    status = props.get("hs_status")
    messages: tuple[OutboxMessage, ...] = ()
    if status == "active":
        values["hs_status"] = "unpaid"
        values["hs_next_payment_due_date"] = payment.created_at.date()
        messages = mail("payment_method_update")
    return bill("failed", values.get("hs_status", status), values,
                settles=(payment.id, "failed"), messages=messages, amount=payment.amount,
                currency=payment.currency)  # fmt: skip
