"""Billing-period money, a domain module that services and stores both use: pro-rata refunds
of unused service days (``subctl cancel --refund unused``) and the monthly recurring revenue
of a periodic amount.

The arithmetic, with every choice written down (HubSpot documents none of it):

- **The period paid.** A refund is of the period the refunded payment actually paid for, never
  of a date the subscription merely points at (a paused subscription's next payment due date is
  its resume date, possibly months after the paid period ended). That period begins on the
  payment's UTC date and runs one billing period (``paid_period_end``); when the next payment
  due date falls inside it (an invoice paid some days late, a resume with an earlier next
  billing date) it ends there, because a new period is paid from that day. A paused
  subscription's due date is not a period boundary and is ignored.
- **The period's length.** The billing period ending on ``period_end`` began one billing period
  earlier (``period_start``). Period lengths come from ``schema.FREQUENCIES``: ``weekly`` is 7
  days, ``biweekly`` 14, the others whole calendar months (1, 3, 6, 12, 24), counted with the
  day of month clamped to the shorter month (a period ending on 31 March began on the last day
  of February). ``period_days`` is the calendar days between the two.
- **Unused days.** Whole days from the cancellation's UTC date to the period end:
  ``(period_end - cancellation date).days``, clamped to ``0 .. period_days``. The day of the
  cancellation counts as unused (the buyer loses the service that day); a period that already
  ended (an unpaid subscription past its due date) has none.
- **Amount.** ``paid × unused_days / period_days``, computed exactly with ``Decimal`` and rounded
  once, to the currency's minor unit (ISO 4217: 2 decimals, 0 for JPY, KRW, ISK, …, 3 for BHD,
  KWD, …), with ``ROUND_HALF_UP``: commercial rounding, what a buyer checking the arithmetic by
  hand expects. (Half-even only pays off when many rounded values are summed; each refund is
  rounded once.) A refund never exceeds what was paid.
- **MRR** (``hs_mrr``) is one period's amount per month: weekly × 52 / 12, biweekly × 26 / 12,
  monthly × 1, every n months ÷ n, rounded like a refund.
"""

from __future__ import annotations

import calendar
import datetime as dt
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from functools import lru_cache

from subctl.codec import money_quantum
from subctl.query.values import add_months
from subctl.schema import FREQUENCIES

ROUNDING = ROUND_HALF_UP

_DAYS: dict[str, int] = {"weekly": 7, "biweekly": 14}
_MONTHS: dict[str, int] = {value: months for value, _label, months in FREQUENCIES if months}


def quantum(currency: str) -> Decimal:
    """The currency's smallest unit (``codec.money_quantum``, where the decimals of every
    currency are defined): ``Decimal("0.01")`` for USD, ``Decimal("1")`` for JPY."""
    return money_quantum(currency)


def round_money(amount: Decimal, currency: str) -> Decimal:
    return amount.quantize(quantum(currency), rounding=ROUNDING)


@lru_cache(maxsize=8192)  # batches compute the same few thousand periods again and again
def _add_period(day: dt.date, frequency: str, periods: int) -> dt.date:
    if frequency in _DAYS:
        return day + dt.timedelta(days=_DAYS[frequency] * periods)
    if frequency in _MONTHS:
        return add_months(day, _MONTHS[frequency] * periods)
    raise ValueError(f'unknown billing frequency "{frequency}"')


def period_start(period_end: dt.date, frequency: str) -> dt.date:
    """The first day of the billing period that ends on ``period_end``; ValueError for an
    unknown frequency."""
    return _add_period(period_end, frequency, -1)


def paid_period_end(paid_on: dt.date, frequency: str, next_due: dt.date | None) -> dt.date:
    """The end of the period a payment made on ``paid_on`` paid for: one billing period later,
    or ``next_due`` when that falls inside (module docstring); ValueError for an unknown
    frequency."""
    end = _add_period(paid_on, frequency, 1)
    if next_due is not None and paid_on < next_due < end:
        return next_due
    return end


def monthly_recurring(amount: Decimal, currency: str, frequency: str) -> Decimal:
    """The MRR of ``amount`` billed every period of ``frequency``; ValueError for an unknown
    frequency."""
    if frequency in _DAYS:
        per_year = 365 // _DAYS[frequency]  # 52 weeks, 26 fortnights
        return round_money(amount * per_year / 12, currency)
    if frequency in _MONTHS:
        return round_money(amount / _MONTHS[frequency], currency)
    raise ValueError(f'unknown billing frequency "{frequency}"')


def _on_billing_day(day: dt.date, billing_day: int) -> dt.date:
    """``day``'s month on ``billing_day``, clamped to the month's length (31 -> 28 February)."""
    return day.replace(day=min(billing_day, calendar.monthrange(day.year, day.month)[1]))


def next_period_end(period_end: dt.date, frequency: str, billing_day: int | None = None) -> dt.date:
    """The last day of the billing period after the one that ends on ``period_end``;
    ValueError for an unknown frequency.

    Month-based periods end on the subscription's ``billing_day`` (its start date's day of
    month), clamped to the month's length: a subscription started on the 31st is due on 31
    January, 28 February, 31 March, never drifting to the 28th. A ``period_end`` that is not on
    the billing day (a due date moved by hand, a resume with a new next billing date) keeps its
    own day of month, as does every period end without a billing day."""
    end = _add_period(period_end, frequency, 1)
    if billing_day is None or frequency not in _MONTHS:
        return end
    if period_end != _on_billing_day(period_end, billing_day):
        return end
    return _on_billing_day(end, billing_day)


@dataclass(frozen=True)
class ProRata:
    paid: Decimal
    currency: str
    period_start: dt.date
    period_end: dt.date
    period_days: int
    unused_days: int
    refund: Decimal

    @property
    def full(self) -> bool:
        return self.refund >= self.paid

    def describe(self) -> str:
        return (
            f"{self.refund} {self.currency} for {self.unused_days} of {self.period_days} unused "
            f"days ({self.period_start} to {self.period_end})"
        )


def prorate(
    paid: Decimal, currency: str, frequency: str, period_end: dt.date, canceled_at: dt.datetime
) -> ProRata:
    """The refund of the unused days of the period ending ``period_end`` (module docstring)."""
    start = period_start(period_end, frequency)
    period_days = (period_end - start).days
    cancel_day = canceled_at.astimezone(dt.UTC).date()
    unused = min(max((period_end - cancel_day).days, 0), period_days)
    exact = paid * unused / period_days
    refund = min(round_money(exact, currency), paid)
    return ProRata(paid, currency, start, period_end, period_days, unused, refund)
