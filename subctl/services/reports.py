"""``subctl report``: MRR and its movements, churn, revenue at risk, renewals.

The definitions (every choice where HubSpot and the issue are silent is written here):

- **MRR at a time** is the sum of ``hs_mrr`` over the subscriptions that exist then (create date
  before it) and whose status then is one of ``EARNING``: ``active``, ``unpaid`` and
  ``past_due``. An unpaid or past-due subscription still owes its payments and is still a
  customer: it stays in MRR (and in ``report at-risk``) until it is canceled or expires. A
  ``scheduled`` subscription earns nothing before its start; ``paused``, ``canceled`` and
  ``expired`` earn nothing (their ``hs_mrr`` is 0 anyway).
- **The state at a time** is rebuilt from the property history: a subscription's ``hs_mrr`` and
  ``hs_status`` at time *t* are those of its last change strictly before *t* (before its first
  change: the value that change replaced; without changes: its stored value). Reports read
  the workspace as it stands: a subscription deleted since is gone from every period, and
  ``--where``/``--view``/``--segment`` select on today's values.
- **Periods** are calendar days, ISO weeks (Monday to Sunday) or calendar months, UTC. MRR of
  a period is MRR at its end (the start of the next period); the current period ends now
  (the workspace clock), and periods after now are not reported.
- **Movements** compare each subscription's MRR at the start and at the end of a period (so
  two changes within one period net out): from 0 to more is **new** when, at the start, it
  did not exist yet or was ``scheduled``, and **reactivation** otherwise (a resumed pause, a
  subscription back from 0); more than before is **expansion** (an upgrade), less but not 0
  **contraction** (a downgrade), down to 0 is **churn**. So the movements of a period always
  add up to its change in MRR: ``end = start + new + expansion - contraction - churn +
  reactivation`` (the reconciliation test checks it by hand).
- **Churn** of a pause: a paused subscription's MRR is 0, so a pause is MRR churn in the
  period it starts (and its resume a reactivation); a ``past_due`` subscription is not churn
  (it is at risk); a cancellation at period end is churn in the period in which it takes
  effect (its date), not when it is scheduled. ``report churn`` per period: **logo churn** =
  subscriptions that earned MRR at the start and none at the end / those earning at the
  start; **gross revenue churn** = (churn + contraction) / MRR at the start; **net revenue
  churn** = (churn + contraction - expansion - reactivation) / MRR at the start (negative:
  net expansion). Rates are percentages, 2 decimals; empty when nothing earned at the start.
- **Currencies** are never added together silently: without ``--rates`` every figure is per
  currency (``--currency C`` alone keeps the subscriptions in C); with ``--currency C --rates
  FILE`` (CSV ``currency,rate``: one unit of *currency* is *rate* units of C) every currency
  is converted to C and added, and a currency of the data missing from the file is an error.
- **At risk** (``report at-risk``): ``unpaid`` and ``past_due`` subscriptions, the next payment
  amount they owe, their MRR, the days since the payment was due, and the retry state: the
  next retry (``unpaid`` with a retry date), ``waiting for a new payment method`` (``unpaid``
  without one: a bank payment or the last retry failed), ``no retries`` (``past_due``: paid by
  hand with ``subctl pay``). Totals per currency.
- **Renewals** (``report renewals --within 30d``): per day from today, the ``active``
  subscriptions whose next payment is due that day and will be charged (no cancellation
  scheduled by then, fixed term not reached), the ``scheduled`` ones starting that day and the
  ``paused`` ones resuming that day (billed at once), with their next payment amounts. Weekly
  and biweekly ones are listed at every renewal in the window; month-based ones at their next
  due date only (a window longer than their period shows one renewal of each). Outcomes are not
  predicted: a card that will decline is listed like any other.
"""

from __future__ import annotations

import csv
import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from subctl.codec import ValueParseError, iso_datetime, money_quantum, parse_date, parse_days
from subctl.errors import InputError
from subctl.query.ast import Condition, Expr, Op, Query, all_of
from subctl.store.base import MrrPoint, RecordStore, ReportStore, Workspace

EARNING = ("active", "unpaid", "past_due")
NOT_STARTED = ("scheduled",)
AT_RISK = ("unpaid", "past_due")
BY = ("day", "week", "month")
DEFAULT_PERIODS = {"day": 30, "week": 12, "month": 12}
MOVEMENTS = ("new", "expansion", "contraction", "churn", "reactivation")
CENT = Decimal("0.01")
MAX_PERIODS = 3660


def money(value: float | Decimal, currency: str | None) -> Decimal:
    """An amount of ``currency`` with that currency's decimals (JPY 0, BHD 3, most 2:
    ``codec.money_quantum``), half to even."""
    return Decimal(str(value)).quantize(money_quantum(currency), rounding=ROUND_HALF_EVEN)


@dataclass(frozen=True)
class ReportRequest:
    where: str | None = None
    view: str | None = None
    segment: str | None = None
    currency: str | None = None
    rates: str | None = None  # a CSV file: currency,rate
    start: str | None = None  # --from
    end: str | None = None  # --to
    by: str = "month"
    within: str = "30d"


@dataclass(frozen=True)
class Period:
    start: dt.datetime
    end: dt.datetime  # exclusive; the current period ends now


@dataclass
class Report:
    """A report's rows (typed values keyed by column), the series a chart draws, and what it
    was asked."""

    name: str
    rows: list[dict[str, Any]]
    chart: dict[str, list[float]] = field(default_factory=dict)  # series name -> values
    labels: list[str] = field(default_factory=list)  # the chart's x labels
    meta: dict[str, Any] = field(default_factory=dict)
    totals: list[dict[str, Any]] = field(default_factory=list)


# -- selection, currencies ---------------------------------------------------------------------


def selection(
    records: RecordStore,
    workspace: Workspace,
    request: ReportRequest,
    today: dt.date,
    now: dt.datetime,
    *extra: Expr,
) -> Expr | None:
    """The subscriptions a report covers: ``--where``, ``--view``, ``--segment`` (the listing's
    one selection), and ``--currency`` alone (no rates: one currency)."""
    from subctl.services.subscriptions import ListRequest, build_listing

    listing = build_listing(
        records,
        workspace,
        ListRequest(where=request.where, view=request.view, segment=request.segment),
        today,
        now,
    )
    filters: list[Expr | None] = [listing.query.where, *extra]
    if request.currency and not request.rates:
        filters.append(Condition("hs_currency_code", Op.EQ, (request.currency.upper(),)))
    return all_of(*filters)


def read_rates(path: str, target: str) -> dict[str, Decimal]:
    """``currency,rate`` rows (a header line is optional): one unit of currency is ``rate``
    units of ``target``. The target itself is 1."""
    try:
        text = Path(path).read_text(encoding="utf-8-sig")
    except OSError as exc:
        raise InputError("rates", f"cannot read {path}: {exc.strerror or exc}") from exc
    rates: dict[str, Decimal] = {target: Decimal(1)}
    for number, row in enumerate(csv.reader(text.splitlines()), 1):
        if not row or not "".join(row).strip():
            continue
        if len(row) != 2:
            raise InputError("rates", f"{path} line {number}: expected currency,rate")
        code, rate_text = row[0].strip().upper(), row[1].strip()
        if number == 1 and code == "CURRENCY":
            continue
        try:
            rate = Decimal(rate_text)
        except InvalidOperation:
            raise InputError(
                "rates", f'{path} line {number}: "{rate_text}" is not a number'
            ) from None
        if not rate.is_finite() or rate <= 0:
            raise InputError("rates", f"{path} line {number}: a rate must be positive")
        if code == target and rate != 1:
            raise InputError("rates", f"{path} line {number}: {target} to {target} must be 1")
        rates[code] = rate
    return rates


def conversion(request: ReportRequest) -> dict[str, Decimal] | None:
    """``--rates`` (read before any query: a bad file fails fast), or None: per currency.
    Every report calls it first: ``--currency`` is checked here too, an ISO 4217 code as
    ``update --set currency=`` takes (any case: it selects, it is not stored), so an unknown
    code is refused rather than giving an empty report."""
    if request.currency is not None:
        from subctl.services.validation import currency_problem

        problem = currency_problem(request.currency.upper(), f'"{request.currency}"')
        if problem:
            raise InputError("currency", problem)
    if not request.rates:
        return None
    if not request.currency:
        raise InputError(
            "rates",
            "converting needs --currency, the currency to convert to",
            hint="e.g. --currency USD --rates rates.csv",
        )
    return read_rates(request.rates, request.currency.upper())


# -- periods -----------------------------------------------------------------------------------


def _day(d: dt.date) -> dt.datetime:
    return dt.datetime(d.year, d.month, d.day, tzinfo=dt.UTC)


def _period_start(d: dt.date, by: str) -> dt.date:
    if by == "week":
        return d - dt.timedelta(days=d.weekday())
    if by == "month":
        return d.replace(day=1)
    return d


def _next_start(d: dt.date, by: str) -> dt.date:
    if by == "week":
        return d + dt.timedelta(days=7)
    if by == "month":
        return (d.replace(day=28) + dt.timedelta(days=4)).replace(day=1)
    return d + dt.timedelta(days=1)


def _back(d: dt.date, by: str, count: int) -> dt.date:
    if by == "month":
        months = d.year * 12 + d.month - 1 - count
        return dt.date(months // 12, months % 12 + 1, 1)
    return d - dt.timedelta(days=count * (7 if by == "week" else 1))


def periods(request: ReportRequest, now: dt.datetime) -> list[Period]:
    """The calendar periods from the one holding ``--from`` to the one holding ``--to``
    (default: now; the last ``DEFAULT_PERIODS`` periods), none after now."""
    by = request.by
    if by not in BY:
        raise InputError("by", f'unknown period "{by}"; one of: {", ".join(BY)}')
    today = now.date()

    def date(name: str, text: str) -> dt.date:
        try:
            return parse_date(text, today)
        except ValueParseError as exc:
            raise InputError(name, str(exc)) from exc

    last = date("to", request.end) if request.end else today
    last = min(last, today)
    first_start = (
        _period_start(date("from", request.start), by)
        if request.start
        else _back(_period_start(last, by), by, DEFAULT_PERIODS[by] - 1)
    )
    if first_start > last:
        raise InputError("from", "--from is after --to (or in the future)")
    out: list[Period] = []
    start = first_start
    while start <= last:
        end = _next_start(start, by)
        out.append(Period(_day(start), min(_day(end), now)))
        if len(out) > MAX_PERIODS:
            raise InputError("from", f"more than {MAX_PERIODS:,} periods; use a longer --by")
        start = end
    return out


def label(period: Period, by: str) -> str:
    d = period.start.date()
    if by == "month":
        return f"{d:%Y-%m}"
    if by == "week":
        year, week, _ = d.isocalendar()
        return f"{year}-W{week:02d}"
    return d.isoformat()


# -- MRR and churn -----------------------------------------------------------------------------


@dataclass(frozen=True)
class _Figures:
    mrr: Decimal
    subscriptions: int
    moves: tuple[Decimal, ...]  # MOVEMENTS
    counts: tuple[int, ...]


def _figures(point: MrrPoint, currency: str | None, rate: Decimal = Decimal(1)) -> _Figures:
    """``point``'s figures in ``currency`` (its own, or the one ``rate`` converts to)."""
    moves = (point.new, point.expansion, point.contraction, point.churn, point.reactivation)
    counts = (point.new_count, point.expansion_count, point.contraction_count,
              point.churn_count, point.reactivation_count)  # fmt: skip
    return _Figures(
        money(Decimal(str(point.mrr)) * rate, currency),
        point.subscriptions,
        tuple(money(Decimal(str(m)) * rate, currency) for m in moves),
        counts,
    )


def _add(a: _Figures, b: _Figures) -> _Figures:
    return _Figures(
        a.mrr + b.mrr,
        a.subscriptions + b.subscriptions,
        tuple(x + y for x, y in zip(a.moves, b.moves, strict=True)),
        tuple(x + y for x, y in zip(a.counts, b.counts, strict=True)),
    )


def _series(
    reports: ReportStore,
    records: RecordStore,
    workspace: Workspace,
    request: ReportRequest,
    now: dt.datetime,
) -> tuple[list[Period], dict[str, list[_Figures]]]:
    """Per currency (or the one target currency, converted): the figures at each bound (the
    first period's start, then each period's end)."""
    spans = periods(request, now)
    rates = conversion(request)
    where = selection(records, workspace, request, now.date(), now)
    bounds = [spans[0].start, *(p.end for p in spans)]
    points = reports.mrr_points(bounds, where, earning=EARNING, not_started=NOT_STARTED, now=now)
    zero = _Figures(Decimal(0), 0, (Decimal(0),) * 5, (0,) * 5)
    per: dict[str, list[_Figures]] = {}
    if rates is not None and request.rates and request.currency:
        target = request.currency.upper()
        missing = sorted({p.currency or "(none)" for p in points} - set(rates))
        if missing:
            raise InputError("rates", f"no rate for {', '.join(missing)} in {request.rates}")
        series = [zero] * len(bounds)
        for p in points:
            series[p.bound] = _add(series[p.bound], _figures(p, target, rates[p.currency or ""]))
        per[target] = series
    else:
        for p in points:
            cur = p.currency or ""
            per.setdefault(cur, [zero] * len(bounds))[p.bound] = _figures(p, cur)
    return spans, dict(sorted(per.items()))


def _meta(name: str, request: ReportRequest, spans: Sequence[Period]) -> dict[str, Any]:
    return {
        "report": name,
        "by": request.by,
        "from": spans[0].start.date().isoformat(),
        "to": iso_datetime(spans[-1].end),
        "converted_to": request.currency.upper() if request.rates and request.currency else None,
    }


def mrr_report(
    reports: ReportStore,
    records: RecordStore,
    workspace: Workspace,
    request: ReportRequest,
    now: dt.datetime,
) -> Report:
    spans, per = _series(reports, records, workspace, request, now)
    rows: list[dict[str, Any]] = []
    chart: dict[str, list[float]] = {}
    for cur, series in per.items():
        for k, span in enumerate(spans, 1):
            before, after = series[k - 1], series[k]
            new, expansion, contraction, churn, reactivation = after.moves
            rows.append({
                "period": label(span, request.by),
                "currency": cur,
                "start_mrr": before.mrr,
                "new": new,
                "expansion": expansion,
                "contraction": contraction,
                "churn": churn,
                "reactivation": reactivation,
                "net_change": after.mrr - before.mrr,
                "mrr": after.mrr,
                "subscriptions": after.subscriptions,
            })  # fmt: skip
        chart[f"MRR {cur}"] = [float(series[k].mrr) for k in range(1, len(series))]
    return Report("mrr", rows, chart, [label(s, request.by) for s in spans],
                  _meta("mrr", request, spans))  # fmt: skip


def _pct(part: Decimal, whole: Decimal) -> Decimal | None:
    return None if whole == 0 else (part * 100 / whole).quantize(CENT, rounding=ROUND_HALF_EVEN)


def churn_report(
    reports: ReportStore,
    records: RecordStore,
    workspace: Workspace,
    request: ReportRequest,
    now: dt.datetime,
) -> Report:
    spans, per = _series(reports, records, workspace, request, now)
    rows: list[dict[str, Any]] = []
    chart: dict[str, list[float]] = {}
    for cur, series in per.items():
        values: list[float] = []
        for k, span in enumerate(spans, 1):
            before, after = series[k - 1], series[k]
            new, expansion, contraction, churn, reactivation = after.moves
            churned = after.counts[3]
            gross = _pct(churn + contraction, before.mrr)
            rows.append({
                "period": label(span, request.by),
                "currency": cur,
                "start_subscriptions": before.subscriptions,
                "churned": churned,
                "logo_churn_pct": (
                    None if before.subscriptions == 0
                    else (Decimal(churned * 100) / before.subscriptions).quantize(CENT)
                ),
                "start_mrr": before.mrr,
                "churned_mrr": churn,
                "contraction": contraction,
                "gross_revenue_churn_pct": gross,
                "net_revenue_churn_pct": _pct(
                    churn + contraction - expansion - reactivation, before.mrr
                ),
            })  # fmt: skip
            values.append(float(gross or 0))
        chart[f"Gross revenue churn % {cur}"] = values
    return Report("churn", rows, chart, [label(s, request.by) for s in spans],
                  _meta("churn", request, spans))  # fmt: skip


# -- at risk, renewals -------------------------------------------------------------------------

AT_RISK_FIELDS = (
    "hs_object_id", "hs_name", "hs_status", "hs_currency_code", "hs_next_payment_amount",
    "hs_mrr", "hs_next_payment_due_date", "hs_payment_retry_count",
    "hs_next_payment_retry_date", "hs_last_payment_status",
)  # fmt: skip


# Ages of what is overdue (the at-risk chart): label, most days.
AGES = (("0-7 days", 7), ("8-30 days", 30), ("31-60 days", 60), ("61-90 days", 90),
        ("over 90 days", 10**9))  # fmt: skip


def _retry_state(props: Mapping[str, Any]) -> str:
    if props.get("hs_status") == "past_due":
        return "no retries (past due)"
    retry = props.get("hs_next_payment_retry_date")
    if retry is not None:
        done = int(props.get("hs_payment_retry_count") or 0)
        return f"retry {done + 1} on {retry.isoformat()}"
    return "waiting for a new payment method"


def at_risk_report(
    records: RecordStore, workspace: Workspace, request: ReportRequest, now: dt.datetime
) -> Report:
    """Unpaid and past-due subscriptions, most overdue first, with totals per currency (or
    converted with ``--rates``). A listing: the rows stream from the store's search."""
    from subctl.query.ast import Sort

    today = now.date()
    rates = conversion(request)
    status = Condition("hs_status", Op.IN, AT_RISK)
    where = selection(records, workspace, request, today, now, status)
    query = Query(where=where, sort=Sort("hs_next_payment_due_date", False))
    registry = records.properties()
    fields = [f for f in AT_RISK_FIELDS if f in registry]
    rows: list[dict[str, Any]] = []
    totals: dict[str, list[Any]] = {}
    for sub in records.search(query, fields):
        p = sub.properties
        due = p.get("hs_next_payment_due_date")
        cur = str(p.get("hs_currency_code") or "")
        amount = money(p.get("hs_next_payment_amount") or 0, cur)
        mrr = money(p.get("hs_mrr") or 0, cur)
        rows.append({
            "id": sub.id,
            "name": p.get("hs_name"),
            "status": p.get("hs_status"),
            "currency": cur,
            "amount_due": amount,
            "mrr": mrr,
            "due_date": due,
            "days_overdue": (today - due).days if due is not None and due <= today else 0,
            "retries": int(p.get("hs_payment_retry_count") or 0),
            "retry_state": _retry_state(p),
        })  # fmt: skip
        key = cur
        if rates is not None:
            if cur not in rates:
                raise InputError("rates", f"no rate for {cur or '(none)'} in {request.rates}")
            key = request.currency.upper() if request.currency else cur
            amount, mrr = money(amount * rates[cur], key), money(mrr * rates[cur], key)
        total = totals.setdefault(key, [0, Decimal(0), Decimal(0)])
        total[0] += 1
        total[1] += amount
        total[2] += mrr
    total_rows = [
        {"currency": cur, "subscriptions": n, "amount_due": amount, "mrr": mrr}
        for cur, (n, amount, mrr) in sorted(totals.items())
    ]
    # The chart: the amounts due by age (days overdue), a series per currency.
    chart: dict[str, list[float]] = {}
    for row in rows:
        cur = row["currency"]
        amount = row["amount_due"]
        if rates is not None:
            target = str(request.currency).upper()
            cur, amount = target, money(amount * rates[cur], target)
        series = chart.setdefault(f"Amount due {cur}", [0.0] * len(AGES))
        series[next(i for i, (_, top) in enumerate(AGES) if row["days_overdue"] <= top)] += float(
            amount
        )
    chart = dict(sorted(chart.items()))
    meta = {"report": "at-risk", "as_of": iso_datetime(now)}
    return Report("at-risk", rows, chart, [name for name, _ in AGES], meta, total_rows)


def renewals_report(
    reports: ReportStore,
    records: RecordStore,
    workspace: Workspace,
    request: ReportRequest,
    now: dt.datetime,
) -> Report:
    try:
        days = parse_days(request.within)
    except ValueParseError as exc:
        raise InputError("within", str(exc)) from exc
    if days < 1:
        raise InputError("within", "--within must be at least 1d")
    today = now.date()
    rates = conversion(request)
    start = _day(today)
    end = _day(today + dt.timedelta(days=days))
    where = selection(records, workspace, request, today, now)
    found = reports.renewals(start, end, where, now=now)
    per: dict[tuple[dt.date, str], list[Any]] = {}
    for r in found:
        cur = r.currency or ""
        amount = money(r.amount, cur)
        if rates is not None:
            if cur not in rates:
                raise InputError("rates", f"no rate for {cur or '(none)'} in {request.rates}")
            target = request.currency.upper() if request.currency else cur
            amount, cur = money(amount * rates[cur], target), target
        day = dt.date(1970, 1, 1) + dt.timedelta(days=r.day)
        entry = per.setdefault((day, cur), [0, Decimal(0)])
        entry[0] += r.subscriptions
        entry[1] += amount
    rows = [
        {"date": day, "currency": cur, "subscriptions": n, "amount": amount}
        for (day, cur), (n, amount) in sorted(per.items())
    ]
    currencies = sorted({cur for _, cur in per})
    dates = [today + dt.timedelta(days=i) for i in range(days)]
    chart = {
        f"Renewals {cur}": [float(per.get((d, cur), [0, Decimal(0)])[1]) for d in dates]
        for cur in currencies
    }
    totals = [
        {"currency": cur, "subscriptions": sum(n for (_, c), (n, _a) in per.items() if c == cur),
         "amount": sum((a for (_, c), (_n, a) in per.items() if c == cur), Decimal(0))}
        for cur in currencies
    ]  # fmt: skip
    meta = {"report": "renewals", "from": today.isoformat(), "days": days}
    return Report("renewals", rows, chart, [d.isoformat() for d in dates], meta, totals)
