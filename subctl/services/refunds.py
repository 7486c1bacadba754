"""Pro-rata refunds of unused service days (``subctl cancel --refund unused``).

The arithmetic, with every choice written down (HubSpot documents none of it):

- **The period.** A cancellation interrupts the billing period that ends on the subscription's
  next payment due date (``period_end``) and began one billing period earlier
  (``period_start``). Period lengths come from ``schema.FREQUENCIES``: ``weekly`` is 7 days,
  ``biweekly`` 14, the others whole calendar months (1, 3, 6, 12, 24), counted back from the
  period end with the day of month clamped to the shorter month (a period ending on 31 March
  began on the last day of February). ``period_days`` is the calendar days between the two.
- **Unused days.** Whole days from the cancellation's UTC date to the period end:
  ``(period_end - cancellation date).days``, clamped to ``0 .. period_days``. The day of the
  cancellation counts as unused (the buyer loses the service that day); a period that already
  ended (an unpaid subscription past its due date) has none.
- **Amount.** ``paid × unused_days / period_days``, computed exactly with ``Decimal`` and rounded
  once, to the currency's minor unit (ISO 4217: 2 decimals, 0 for JPY, KRW, ISK, …, 3 for BHD,
  KWD, …), with ``ROUND_HALF_UP``: commercial rounding, what a buyer checking the arithmetic by
  hand expects. (Half-even only pays off when many rounded values are summed; each refund is
  rounded once.) A refund never exceeds what was paid.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from subctl.query.values import add_months
from subctl.schema import FREQUENCIES

ROUNDING = ROUND_HALF_UP

# ISO 4217 minor units that are not 2.
_MINOR_UNITS: dict[str, int] = {
    **dict.fromkeys(
        ("BIF", "CLP", "DJF", "GNF", "ISK", "JPY", "KMF", "KRW", "PYG", "RWF", "UGX", "UYI",
         "VND", "VUV", "XAF", "XOF", "XPF"),
        0,
    ),
    **dict.fromkeys(("BHD", "IQD", "JOD", "KWD", "LYD", "OMR", "TND"), 3),
}  # fmt: skip
_DAYS: dict[str, int] = {"weekly": 7, "biweekly": 14}
_MONTHS: dict[str, int] = {value: months for value, _label, months in FREQUENCIES if months}


def quantum(currency: str) -> Decimal:
    """The currency's smallest unit: ``Decimal("0.01")`` for USD, ``Decimal("1")`` for JPY."""
    return Decimal(1).scaleb(-_MINOR_UNITS.get(currency.upper(), 2))


def round_money(amount: Decimal, currency: str) -> Decimal:
    return amount.quantize(quantum(currency), rounding=ROUNDING)


def period_start(period_end: dt.date, frequency: str) -> dt.date:
    """The first day of the billing period that ends on ``period_end``; ValueError for an
    unknown frequency."""
    if frequency in _DAYS:
        return period_end - dt.timedelta(days=_DAYS[frequency])
    if frequency in _MONTHS:
        return add_months(period_end, -_MONTHS[frequency])
    raise ValueError(f'unknown billing frequency "{frequency}"')


def next_period_end(period_end: dt.date, frequency: str) -> dt.date:
    """The last day of the billing period after the one that ends on ``period_end`` (the
    inverse of ``period_start``); ValueError for an unknown frequency."""
    if frequency in _DAYS:
        return period_end + dt.timedelta(days=_DAYS[frequency])
    if frequency in _MONTHS:
        return add_months(period_end, _MONTHS[frequency])
    raise ValueError(f'unknown billing frequency "{frequency}"')


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
