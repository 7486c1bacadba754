"""Deterministic sample data for a workspace (``subctl demo``, benchmarks, tests).

``populate`` fills a workspace with ``count`` realistic subscriptions and their associated
records. The same ``seed`` and ``today`` always produce the same rows, byte for byte: every value
comes from one ``random.Random(seed)`` consumed in a fixed order, and every date and time is
derived from ``today`` (the reference "now" is ``today`` at 00:00 UTC; every datetime lies before
it).

Speed matters (a million subscriptions, ~18 million rows in all, in about a minute): rows are
plain tuples of stored values (epoch milliseconds, floats, text; see ``subctl.schema``), generated
a block of subscriptions at a time and streamed into ``Seedable.replacing_records``, so memory
stays flat; the whole replacement is one transaction (see there for the indexes). (A generator
thread does not help: GIL hand-offs around every ``sqlite3_step`` made the overlapped load
slower.)

What the data looks like (shares are approximate). Every subscription is consistent with the
billing model (``subctl billing run``; the retry schedule and settlement delay are its defaults,
``RETRY_DAYS`` and ``SETTLEMENT_DAYS``), and **nothing is due at "now"**: every day a billing event
falls on (an active subscription's next payment due date, a scheduled one's start date, an unpaid
card payment's retry date, a pending ACH payment's settlement day, a scheduled cancellation, a
resume date) is tomorrow or later, so a fresh workspace has no billing events due until time moves.

- status: active 55 %, canceled 12 %, unpaid 8 %, expired 8 %, scheduled 7 %, past_due 5 %,
  paused 5 %; currency: USD 70 %, EUR 15 %, GBP 10 %, DKK 5 % (a company's currency follows its
  country); frequencies from ``schema.FREQUENCIES``, mostly monthly and annually.
- amounts: the sum of the subscription's 1-2 line items (a plan with seats, sometimes an add-on),
  priced per billing period; ``hs_mrr`` is that amount per month (0 once canceled or expired,
  and while paused). Plans are priced in order in every currency: Starter (1 seat), Pro (1-5
  seats), Business (3-10), Enterprise (5-40); at one billing frequency the dearest subscription
  of a plan costs less than the cheapest of the next.
- billing days: each subscription's payments fall on its start date moved by whole billing
  periods, month-based ones on the start date's day of month clamped to shorter months (a start
  on the 31st is due on 30 April, 28 or 29 February; ``billing.next_period_end``).
- active: next payment due uniformly within one period ahead, tomorrow or later (a weekly one
  within 6 days, a two-year one within 24 months); the latest payment one period earlier.
  3 % of them cancel at the period end (``cancel --at-period-end``):
  ``hs_scheduled_cancellation_date`` is that day, due date and next payment amount are empty.
- unpaid: a card payment failed 1-6 days ago (the due date): ``hs_payment_retry_count`` 0-2
  failed retries so far and ``hs_next_payment_retry_date`` the next one of the schedule (3, 5, 7
  days after the failure), tomorrow or later; a card ending 0002 failed 1-2 days ago (its first
  retry succeeds). An unpaid ACH subscription's payment failed when it settled (its due date is
  the payment's day, 7-36 days ago): no retry state. past_due: due 1-60 days ago, no retry
  state; automatically collected ones' last payment failed (8-60 days ago, after the last
  retry), manually collected ones paid the previous period and have this period's invoice open.
- canceled: ``hs_canceled_at`` within the last 120 days, the last payment shortly before; 30 %
  of those whose last payment succeeded were refunded the unused days (``cancel --refund
  unused``: a ``refund`` payment of ``billing.prorate``'s amount, ``refunds_payment_id`` its
  payment, which becomes ``partially_refunded`` (or ``refunded``), as does
  ``hs_last_payment_status``); half of those whose last payment was still pending were refunded
  it in full (``--refund-pending``). expired: ended within the last year after one or two terms.
- paused: 60 % resume by themselves (``hs_resume_date`` 1-90 days ahead); their next payment
  due date is the one they had when paused. Most have a ``hs_pause_reason``. scheduled: the
  start date (= next payment due date) 1-60 days ahead.
- fixed terms: every expired subscription and 20 % of the others have
  ``hs_recurring_billing_number_of_payments``, a multiple of the frequency's term (12 monthly
  payments, 4 quarterly, 52 weekly, 1 annual, ...): expired ones completed exactly that many
  payments, the others fewer.
- payment counters: ``hs_number_of_completed_payments`` counts the periods paid since the start
  date (a failed or still pending last payment not yet), ``hs_total_collected_amount`` their
  amount (refunds do not reduce it), ``hs_last_payment_date`` the time of the latest payment.
  Only the latest 1-3 periods' payments are kept as payment rows (with an invoice each when
  invoicing is on), so the counters cover more payments than the workspace holds.
- payment methods: card or ACH (30 % of USD payers). ACH payments made within the settlement
  delay (the last 1-5 days) are ``processing``, as is ``hs_last_payment_status``: they settle
  tomorrow or later. Deterministic failures (the billing model's test values): 1.5 % of cards
  end in 0341 (declines every attempt), 1.5 % in 0002 (declines a cycle's first attempt), 2 %
  of ACH accounts in 1116 (fails when it settles), so moving the clock produces failures,
  retries and past-due subscriptions.
- customers: every subscription has exactly one contact (1-3 e-mails) and one deal; 15 % of
  contacts have 2-4 subscriptions (the same contact and company, currency and payment method);
  85 % of contacts are at a company (1-2 domains, shared by several contacts); 30 % of
  subscriptions have a quote.
- other records (their own random stream: the rows above do not depend on them): 6 % of
  subscriptions have the order of their checkout, 5 % were bought through a payment link (one
  per plan, frequency and currency, shared), 3 % have a feedback submission (a cancellation
  survey once ended), 3 % have 1-3 licenses (records of the custom object ``License``).
- outbox: the e-mails the lifecycle verbs and billing write (``services.lifecycle``: same kinds,
  subjects, bodies and links), to the contact's primary e-mail: the cancellation e-mail of every
  canceled subscription (with the refund when there was one) and of every scheduled
  cancellation, and the payment-method e-mail (with its update link) of every unpaid
  subscription and of past-due ones whose payment failed, sent when the payment failed (an ACH
  payment: when it settled).
"""

from __future__ import annotations

import datetime as dt
from bisect import bisect_right
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from random import Random
from typing import TYPE_CHECKING, Any

from subctl.billing import paid_period_end, prorate
from subctl.codec import ms_to_datetime
from subctl.schema import ASSOCIATION_BY_NAME
from subctl.services.billing import ACH_FAILS, CARD_DECLINED, CARD_DECLINED_ONCE, BillingSettings
from subctl.services.lifecycle import (
    CANCELLATION_MAIL,
    UPDATE_LINK_MAIL,
    cancellation_text,
    update_link_of,
    update_link_text,
)

if TYPE_CHECKING:
    from subctl.store.base import Seedable

Row = tuple[Any, ...]

DAY_MS = 86_400_000
_EPOCH_ORDINAL = dt.date(1970, 1, 1).toordinal()
BLOCK = 10_000  # subscriptions generated (and inserted) per block

# -- tables, in insertion order (parents before children) -----------------------------------

TABLE_COLUMNS: dict[str, tuple[str, ...]] = {
    "subscriptions": (
        "hs_object_id", "hs_name", "hs_status", "hs_recurring_billing_start_date",
        "hs_next_payment_due_date", "hs_next_payment_amount", "hs_last_payment_amount",
        "hs_last_payment_status", "hs_currency_code", "hs_recurring_billing_frequency",
        "hs_collection_process", "hs_net_payment_terms", "hs_invoice_creation",
        "hs_payment_method", "hs_mrr", "hs_createdate", "hs_lastmodifieddate", "hs_canceled_at",
        "hs_pause_reason",  # m002
        "hs_scheduled_cancellation_date",  # m002
        "hs_last_payment_date", "hs_number_of_completed_payments", "hs_total_collected_amount",
        "hs_recurring_billing_number_of_payments", "hs_resume_date",
        "hs_next_payment_retry_date", "hs_payment_retry_count",  # m006
    ),
    "contacts": ("id", "firstname", "lastname", "created_at"),
    "contact_emails": ("contact_id", "position", "email"),
    "companies": ("id", "name", "created_at"),
    "company_domains": ("company_id", "position", "domain"),
    "deals": ("id", "name", "amount", "stage", "created_at"),
    "line_items": ("id", "name", "quantity", "price", "created_at"),
    "quotes": ("id", "title", "status", "created_at"),
    "invoices": ("id", "number", "amount", "status", "created_at"),
    "payments": (
        "id", "amount", "currency", "status", "method", "kind", "refunds_payment_id", "created_at",
    ),
    # m007
    "orders": ("id", "name", "amount", "currency", "status", "created_at"),
    "payment_links": ("id", "name", "url", "created_at"),
    "feedback_submissions": ("id", "survey", "sentiment", "created_at"),
    "custom_records": ("id", "object_name", "name", "created_at"),
    # ids by insertion order (SQLite's rowid, PostgreSQL's identity): later mail continues them
    "outbox": ("subscription_id", "kind", "recipient", "subject", "body", "link", "created_at"),
    "associations": ("subscription_id", "object_type", "object_id", "type_id"),
}  # fmt: skip
TABLES: tuple[str, ...] = tuple(TABLE_COLUMNS)

STATUS_SHARES: tuple[tuple[str, float], ...] = (
    ("active", 0.55),
    ("unpaid", 0.08),
    ("past_due", 0.05),
    ("canceled", 0.12),
    ("expired", 0.08),
    ("scheduled", 0.07),
    ("paused", 0.05),
)


@dataclass(frozen=True)
class DemoSummary:
    """What ``populate`` wrote: rows per table, subscriptions per status."""

    seed: int
    today: dt.date
    tables: dict[str, int] = field(default_factory=dict)
    statuses: dict[str, int] = field(default_factory=dict)
    pending_ach_payments: int = 0

    @property
    def subscriptions(self) -> int:
        return self.tables.get("subscriptions", 0)

    @property
    def rows(self) -> int:
        return sum(self.tables.values())


def _cuts(shares: Sequence[float]) -> list[float]:
    """Cumulative shares, for ``values[bisect_right(cuts, random())]``."""
    out, acc = [], 0.0
    for share in shares:
        acc += share
        out.append(acc)
    out[-1] = 1.0  # random() < 1.0, so bisect_right never runs past the end
    return out


# -- vocabulary ------------------------------------------------------------------------------

_FIRST_NAMES = (
    "James Mary Robert Patricia John Jennifer Michael Linda David Elizabeth William Barbara "
    "Richard Susan Joseph Jessica Thomas Sarah Charles Karen Daniel Lisa Matthew Nancy Anthony "
    "Betty Mark Sandra Steven Ashley Paul Emily Andrew Donna Joshua Michelle Kevin Carol Brian "
    "Amanda Emma Oliver Sophie Lucas Mia Noah Freja William Ida Mads Anna Lukas Lena Jonas "
    "Clara Felix Hannah Liam Chloe Ethan Grace Priya Arjun Mei Hiroshi Fatima Omar Sofia Mateo"
).split()
_LAST_NAMES = (
    "Smith Johnson Williams Brown Jones Garcia Miller Davis Rodriguez Martinez Hernandez Lopez "
    "Wilson Anderson Thomas Taylor Moore Jackson Martin Lee Thompson White Harris Clark Lewis "
    "Robinson Walker Young Allen King Wright Scott Hill Green Adams Baker Nelson Carter Mitchell "
    "Roberts Turner Phillips Campbell Parker Evans Edwards Collins Stewart Morris Murphy Cook "
    "Rogers Morgan Cooper Peterson Reed Bailey Kelly Howard Nielsen Jensen Hansen Pedersen "
    "Larsen Schmidt Schneider Fischer Weber Meyer Wagner Becker Dubois Moreau Laurent Rossi "
    "Russo Patel Shah Kim Nguyen Chen Wang Tanaka Sato Okafor Silva Santos Novak Kowalski"
).split()
_COMPANY_WORDS = (
    "Acme Globex Initech Umbrella Stark Wayne Wonka Hooli Vandelay Soylent Cyberdyne Tyrell "
    "Aperture Gringotts Oscorp Massive Dynamic Northwind Contoso Fabrikam Tailspin Litware "
    "Adventure Proseware Wingtip Blue Yonder Coho Lucerne Margie Fourth Coffee Alpine Ski "
    "Summit Harbor Pioneer Beacon Granite Evergreen Silverline Redwood Bluebird Copperleaf "
    "Brightwave Clearwater Ironbridge Lighthouse Meadow Nimbus Orbit Polaris Quantum Riverbend "
    "Sterling Trident Vertex Willow Zenith Apex Cobalt Delta Ember Falcon Helix Juniper Keystone "
    "Lumen Mosaic Nova Onyx Pinnacle Quartz Sequoia Tundra Vista Atlas Borealis Cascade Dune"
).split()
_COMPANY_KINDS = (
    "Labs Systems Logistics Analytics Software Health Foods Media Robotics Energy Partners "
    "Consulting Studios Networks Capital Works Dynamics Solutions Ventures Design Cloud Data "
    "Security Payments Retail Travel Learning Bio Motors Supply"
).split()
# country: (share, currency, legal-form suffixes, top-level domain)
_COUNTRIES: tuple[tuple[float, str, tuple[str, ...], str], ...] = (
    (0.70, "USD", ("Inc", "LLC", "Corp", "Co"), "com"),
    (0.15, "EUR", ("GmbH", "BV", "SAS", "SE"), "eu"),
    (0.10, "GBP", ("Ltd", "plc", "Ltd", "Group"), "co.uk"),
    (0.05, "DKK", ("ApS", "A/S", "ApS", "Group"), "dk"),
)
_QUALIFIERS = (
    "",
    *(
        "North Blue Global First United Pacific Atlantic Nordic Golden Silver Green Red Bright "
        "Smart Open Prime True New Great Metro Urban Coastal Royal"
    ).split(),
)
_COUNTRY_CUTS = _cuts([c[0] for c in _COUNTRIES])
_FREEMAIL = ("gmail.com", "outlook.com", "yahoo.com", "icloud.com", "proton.me", "hotmail.com")

# plan, monthly list price per seat and currency, seats (fewest, most). Every currency keeps
# the plans in order: the most a subscription of one plan costs (its most seats and the dearest
# add-on) is less than the least of the next plan, per billing frequency.
_PLANS: tuple[tuple[str, dict[str, int], tuple[int, int]], ...] = (
    ("Starter", {"USD": 29, "EUR": 27, "GBP": 24, "DKK": 199}, (1, 1)),
    ("Pro", {"USD": 99, "EUR": 89, "GBP": 79, "DKK": 699}, (1, 5)),
    ("Business", {"USD": 249, "EUR": 229, "GBP": 199, "DKK": 1749}, (3, 10)),
    ("Enterprise", {"USD": 799, "EUR": 749, "GBP": 649, "DKK": 5499}, (5, 40)),
)
_PLAN_CUTS = (0.30, 0.70, 0.93, 1.0)
_ADDONS: tuple[tuple[str, dict[str, int]], ...] = (
    ("Priority support", {"USD": 49, "EUR": 45, "GBP": 39, "DKK": 349}),
    ("Analytics add-on", {"USD": 19, "EUR": 18, "GBP": 15, "DKK": 139}),
    ("Extra storage (100 GB)", {"USD": 9, "EUR": 9, "GBP": 7, "DKK": 69}),
    ("Onboarding package", {"USD": 25, "EUR": 23, "GBP": 20, "DKK": 179}),
)


@dataclass(frozen=True)
class _Frequency:
    value: str
    word: str  # in subscription names: "Acme Corp – Pro plan monthly"
    months: int  # 0: a fixed number of days
    days: int  # approximate period length in days
    price_factor: float  # price of one period, in monthly list prices (annual plans discounted)
    per_month: float  # periods per month (amount * per_month = MRR)
    term: int  # periods in an original term (expired subscriptions ran this long)


_FREQUENCIES: tuple[tuple[_Frequency, float], ...] = (
    (_Frequency("weekly", "weekly", 0, 7, 12 / 52, 52 / 12, 52), 0.04),
    (_Frequency("biweekly", "biweekly", 0, 14, 12 / 26, 26 / 12, 26), 0.03),
    (_Frequency("monthly", "monthly", 1, 30, 1.0, 1.0, 12), 0.52),
    (_Frequency("quarterly", "quarterly", 3, 91, 3.0, 1 / 3, 4), 0.10),
    (_Frequency("per_six_months", "semiannual", 6, 182, 6.0, 1 / 6, 2), 0.05),
    (_Frequency("annually", "annual", 12, 365, 12 * 0.9, 1 / 12, 1), 0.21),
    (_Frequency("per_two_years", "two-year", 24, 730, 24 * 0.85, 1 / 24, 1), 0.05),
)


# -- dates -----------------------------------------------------------------------------------

_fromordinal = dt.date.fromordinal
_MONTH_DAYS = (31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)


def _ms(ordinal: int) -> int:
    """Epoch milliseconds of a date (midnight UTC), from its proleptic ordinal."""
    return (ordinal - _EPOCH_ORDINAL) * DAY_MS


_ON_DAY: dict[int, int] = {}  # _on_day's results, by ym * 32 + day (a few thousand)


def _on_day(ym: int, day: int) -> int:
    """The ordinal of ``day`` in month ``ym`` (``year * 12 + month - 1``), clamped to the
    month's length (31 -> 30 April, 28 or 29 February)."""
    key = ym * 32 + day
    found = _ON_DAY.get(key)
    if found is None:
        year, month0 = divmod(ym, 12)
        last = _MONTH_DAYS[month0]
        if month0 == 1 and year % 4 == 0 and (year % 100 != 0 or year % 400 == 0):
            last = 29
        found = _ON_DAY[key] = dt.date(year, month0 + 1, min(day, last)).toordinal()
    return found


class _Cycles:
    """The billing days of one subscription: cycle ``k`` is its start date moved ``k`` billing
    periods on, month-based ones on the start date's day of month clamped to the month's length
    (``billing.next_period_end`` with the start date's day as the billing day)."""

    __slots__ = ("start", "ym", "day", "months", "days")

    def __init__(self, start: int, freq: _Frequency, ym: int = 0, day: int = 0) -> None:
        self.start = start
        self.months = freq.months
        self.days = freq.days
        if freq.months and not day:
            date = _fromordinal(start)
            ym, day = date.year * 12 + date.month - 1, date.day
        self.ym, self.day = ym, day

    @classmethod
    def back(cls, ordinal: int, periods: int, freq: _Frequency) -> _Cycles:
        """The cycles of a subscription that started ``periods`` billing periods before
        ``ordinal`` (that day of month, clamped: cycle ``periods`` may fall a few days earlier
        than ``ordinal`` when the start month is shorter)."""
        if not freq.months:
            return cls(ordinal - periods * freq.days, freq)
        date = _fromordinal(ordinal)
        ym = date.year * 12 + date.month - 1 - periods * freq.months
        start = _on_day(ym, date.day)
        day = date.day if date.day <= 28 else _fromordinal(start).day
        return cls(start, freq, ym, day)

    def __call__(self, k: int) -> int:
        if not self.months:
            return self.start + k * self.days
        return _on_day(self.ym + k * self.months, self.day)


# -- generation ------------------------------------------------------------------------------

# The billing model's defaults (workspace settings ``billing.retry_days`` and
# ``billing.settlement_days``) and its documented test payment methods
# (``services.billing.PAYMENT_TEST_VALUES``).
RETRY_DAYS = BillingSettings().retry_days
SETTLEMENT_DAYS = BillingSettings().settlement_days
# Draws never depend on ``today`` (the same seed gives every subscription the same status,
# plan, payment method and offsets on any day): a day that does not fit (a month end clamped
# to a shorter month) is replaced by another one derived from the same draw, u + _GOLDEN.
_GOLDEN = 0.6180339887498949
# Days tried before taking the last one: on some days of the year no day of a short window can
# be a cycle day of a subscription whose start month was shorter (the 29th-31st clamped to the
# 28th); its date then falls a day or two outside the window rather than never.
_TRIES = 16


class _Block:
    """The rows of one block of subscriptions, per table."""

    __slots__ = ("rows", "done")

    def __init__(self, done: int) -> None:
        self.done = done
        self.rows: dict[str, list[Row]] = {name: [] for name in TABLES}


_COMPANY_COMBOS = len(_QUALIFIERS) * len(_COMPANY_WORDS) * len(_COMPANY_KINDS)
_COMPANY_STEP = 7_919  # prime, coprime with _COMPANY_COMBOS: (i * step) % combos is a bijection


def _company(cid: int, salt: int) -> tuple[str, str, str, str]:
    """Name, primary domain, alternative domain and currency of company ``cid``.

    Derived from the id (and the seed's salt), so shared companies need no lookup table. Names
    repeat only across legal forms; domains never repeat.
    """
    serial, index = divmod(cid - 1, _COMPANY_COMBOS)
    h = (index * _COMPANY_STEP + salt) % _COMPANY_COMBOS
    h, k = divmod(h, len(_COMPANY_KINDS))
    q, w = divmod(h, len(_COMPANY_WORDS))
    qualifier, word, kind = _QUALIFIERS[q], _COMPANY_WORDS[w], _COMPANY_KINDS[k]
    mix = (cid * 0x9E3779B1 + salt) & 0xFFFFFFFF
    country = _COUNTRIES[bisect_right(_COUNTRY_CUTS, (mix % 1000) / 1000)]
    suffix = country[2][(mix >> 12) % len(country[2])]
    slug = f"{qualifier}{word}{kind}{serial + 1 if serial else ''}".lower()
    name = f"{qualifier} {word} {kind} {suffix}" if qualifier else f"{word} {kind} {suffix}"
    return name, f"{slug}.{country[3]}", f"{slug}-app.io", country[1]


def _generate(count: int, seed: int, today: dt.date, block: int) -> Iterator[_Block]:
    """Yield the rows of ``count`` subscriptions, ``block`` subscriptions at a time."""
    rng = Random(seed)
    rand = rng.random
    salt = rng.getrandbits(20)

    today_ord = today.toordinal()
    now_ms = _ms(today_ord)  # the reference instant: today, 00:00 UTC
    # ACH payments of this day or later are pending: they settle tomorrow or later
    pending_since = today_ord - SETTLEMENT_DAYS + 1

    statuses = [s for s, _ in STATUS_SHARES]
    status_cuts = _cuts([share for _, share in STATUS_SHARES])
    freqs = [f for f, _ in _FREQUENCIES]
    freq_cuts = _cuts([share for _, share in _FREQUENCIES])
    max_cycles = {f.value: max(1, 1095 // f.days) for f in freqs}  # up to ~3 years of history
    term_cuts = [0.5, 1.0]  # expired: one or two original terms
    first_names, last_names = _FIRST_NAMES, _LAST_NAMES
    n_first, n_last = len(first_names), len(last_names)
    card_brands = ("Visa", "Visa", "Visa", "Mastercard", "Mastercard", "Amex")
    manual_terms = (30.0, 30.0, 30.0, 14.0, 45.0, 60.0)
    auto_terms = (0.0, 30.0, 30.0)
    quote_statuses = ("APPROVED", "APPROVED", "APPROVAL_NOT_NEEDED")
    pause_reasons = (
        "Customer requested a break",
        "Seasonal business",
        "Budget review",
        "Waiting for a new purchase order",
        "Migrating to another account",
        None,
    )

    t_contact = ASSOCIATION_BY_NAME["contact"].type_id
    t_company = ASSOCIATION_BY_NAME["company"].type_id
    t_deal = ASSOCIATION_BY_NAME["deal"].type_id
    t_line = ASSOCIATION_BY_NAME["line_item"].type_id
    t_quote = ASSOCIATION_BY_NAME["quote"].type_id
    t_invoice = ASSOCIATION_BY_NAME["invoice"].type_id
    t_payment = ASSOCIATION_BY_NAME["payment"].type_id
    t_order = ASSOCIATION_BY_NAME["order"].type_id
    t_link = ASSOCIATION_BY_NAME["payment_link"].type_id
    t_feedback = ASSOCIATION_BY_NAME["feedback_submission"].type_id
    t_custom = ASSOCIATION_BY_NAME["custom_record"].type_id
    # The objects m007 added draw from a stream of their own: the rows of the other tables
    # stay those the seed gave before.
    more = Random(f"{seed}:m007").random
    link_ids: dict[tuple[str, str, str], int] = {}  # (plan, frequency, currency) -> its link
    links_ms = now_ms - 2190 * DAY_MS  # before every subscription
    order_id = feedback_id = custom_id = 0

    n_companies = n_contacts = 0
    line_id = quote_id = invoice_id = payment_id = 0

    # The current customer: a contact (usually at a company) with 1 or, for some, 2-4
    # subscriptions in a row, all in the company's currency, paid with the same method.
    group_left = 0
    first = surname = cname = domain = account = currency = recipient = ""
    method = method_label = last4 = ""
    cid = 0
    ach = False
    contact_emails: list[Row] = []
    contact_created = 0

    for start in range(0, count, block):
        out = _Block(min(count, start + block))
        subs = out.rows["subscriptions"]
        contacts = out.rows["contacts"]
        emails = out.rows["contact_emails"]
        companies = out.rows["companies"]
        domains = out.rows["company_domains"]
        deals = out.rows["deals"]
        lines = out.rows["line_items"]
        quotes = out.rows["quotes"]
        invoices = out.rows["invoices"]
        payments = out.rows["payments"]
        outbox = out.rows["outbox"]
        assoc = out.rows["associations"]
        orders = out.rows["orders"]
        payment_links = out.rows["payment_links"]
        feedback = out.rows["feedback_submissions"]
        customs = out.rows["custom_records"]

        for sid in range(start + 1, out.done + 1):
            status = statuses[bisect_right(status_cuts, rand())]
            freq = freqs[bisect_right(freq_cuts, rand())]

            # -- who pays: a contact, usually at a company (new, or one already billed)
            if not group_left:
                group_left = 1 if rand() < 0.85 else 2 + int(rand() * 3)
                n_contacts += 1
                first = first_names[int(rand() * n_first)]
                surname = last_names[int(rand() * n_last)]
                cid = 0
                if rand() < 0.85:
                    if n_companies == 0 or rand() < 0.35:
                        n_companies += 1
                        cid = n_companies
                        cname, domain, alt_domain, currency = _company(cid, salt)
                        # long before any subscription (histories reach back at most ~5 years)
                        company_ms = now_ms - 2190 * DAY_MS - int(rand() * 365 * DAY_MS)
                        companies.append((cid, cname, company_ms))
                        domains.append((cid, 0, domain))
                        if rand() < 0.3:
                            domains.append((cid, 1, alt_domain))
                    else:  # a recent company: sharing stays even across the id range
                        cid = n_companies - int(rand() * min(n_companies, 2000))
                        cname, domain, _alt, currency = _company(cid, salt)
                    account = cname
                else:
                    cname = domain = ""
                    r = rand()
                    currency = (
                        "USD" if r < 0.7 else "EUR" if r < 0.85 else "GBP" if r < 0.95 else "DKK"
                    )
                    account = f"{first} {surname}"
                local = f"{first}.{surname}".lower()
                recipient = f"{local}@{domain or _FREEMAIL[n_contacts % 6]}"
                contact_emails = [(n_contacts, 0, recipient)]
                r = rand()
                if r < 0.45:
                    extra = f"{first.lower()}{n_contacts % 97}@{_FREEMAIL[int(r * 13) % 6]}"
                    contact_emails.append((n_contacts, 1, extra))
                    if r < 0.12:
                        work = f"{first[0]}{surname}@{domain or 'mail.com'}".lower()
                        contact_emails.append((n_contacts, 2, work))
                contact_created = now_ms
                # the payment method: a few are the documented test values that fail
                ach = currency == "USD" and rand() < 0.3
                r = rand()
                if ach:
                    last4 = ACH_FAILS if r < 0.02 else f"{int(rand() * 10000):04d}"
                    if r >= 0.02 and last4 == ACH_FAILS:
                        last4 = "1117"
                    method, method_label = "ach", f"ACH - {last4}"
                else:
                    if r < 0.015:
                        last4 = CARD_DECLINED
                    elif r < 0.03:
                        last4 = CARD_DECLINED_ONCE
                    else:
                        last4 = f"{int(rand() * 10000):04d}"
                        if last4 in (CARD_DECLINED, CARD_DECLINED_ONCE):
                            last4 = "4242"
                    method = "card"
                    method_label = f"{card_brands[int(rand() * 6)]} - {last4}"
            group_left -= 1
            if sid == count:
                group_left = 0  # the last customer ends with the last subscription

            # -- what: a plan with seats, sometimes an add-on; priced per billing period
            plan, prices, (min_seats, max_seats) = _PLANS[bisect_right(_PLAN_CUTS, rand())]
            seats = min_seats + int(rand() ** 2 * (max_seats - min_seats + 1))  # mostly few
            factor = freq.price_factor
            unit = round(prices[currency] * factor, 2)
            amount = unit * seats
            addon = None
            if rand() < 0.35:
                addon = _ADDONS[int(rand() * len(_ADDONS))]
                addon_unit = round(addon[1][currency] * factor, 2)
                amount += addon_unit
            amount = round(amount, 2)
            mrr = round(amount * freq.per_month, 2)

            # -- how: collection
            automatic = rand() < (0.45 if status == "past_due" else 0.82)
            collection = "automatic_payments" if automatic else "manual_payments"
            if automatic:
                terms = auto_terms[int(rand() * len(auto_terms))]
            else:
                terms = manual_terms[int(rand() * len(manual_terms))]
            invoicing = "on" if rand() < 0.93 else "off"

            # -- when, per status: cyc(k) is the k-th billing day after the start date; the
            # latest payment attempt was on cyc(last), cycles 0..last were charged.
            period = freq.days
            cycles = 1 + int(rand() * max_cycles[freq.value])
            last = cycles - 1
            next_due: int | None = None
            canceled_ms: int | None = None
            last_status: str | None = "succeeded"
            open_invoice = 0  # ordinal of an overdue invoice without a payment
            failed_mail_ms = 0  # the payment-method e-mail of a failed payment
            pause_reason: str | None = None
            resume: int | None = None
            retry_day: int | None = None
            retry_count: int | None = None
            if status == "active":
                # due uniformly within one period ahead (tomorrow or later); the last payment
                # (one period earlier) before today
                u = rand()
                for _ in range(_TRIES):
                    cyc = _Cycles.back(today_ord + 1 + int(u * period), cycles, freq)
                    next_due = cyc(cycles)
                    if next_due > today_ord and cyc(last) < today_ord:
                        break
                    u = (u + _GOLDEN) % 1.0  # another day, without another draw (see _GOLDEN)
            elif status == "unpaid" and ach:
                # the bank payment failed when it settled, SETTLEMENT_DAYS after its day; the
                # due date went back to that day; no automatic retry for bank payments
                ago = SETTLEMENT_DAYS + 1 + int(rand() * 30)
                cyc = _Cycles.back(today_ord - ago, last, freq)
                next_due = cyc(last)
                last_status = "failed"
            elif status == "unpaid":
                # a card payment failed 1-6 days ago (retries 3, 5 and 7 days after it; a card
                # that declines only once would have been paid by its first retry)
                oldest = 2 if last4 == CARD_DECLINED_ONCE else RETRY_DAYS[-1] - 1
                u = rand()
                for _ in range(_TRIES):
                    cyc = _Cycles.back(today_ord - 1 - int(u * oldest), last, freq)
                    next_due = cyc(last)
                    if next_due >= today_ord - oldest:
                        break
                    u = (u + _GOLDEN) % 1.0
                assert next_due is not None  # _TRIES > 0
                age = today_ord - next_due
                retry_count = min(sum(1 for days in RETRY_DAYS if days <= age), len(RETRY_DAYS) - 1)
                retry_day = next_due + RETRY_DAYS[retry_count]
                last_status = "failed"
            elif status == "past_due" and automatic:
                # the payment failed, and so did its last retry (7 days later), before today
                cyc = _Cycles.back(today_ord - RETRY_DAYS[-1] - 1 - int(rand() * 53), last, freq)
                next_due = cyc(last)
                last_status = "failed"
            elif status == "past_due":  # the previous period was paid; this one's is overdue
                cyc = _Cycles.back(today_ord - 1 - int(rand() * 30), cycles, freq)
                next_due = open_invoice = cyc(cycles)
            elif status == "canceled":
                canceled_ms = now_ms - 3_600_000 - int(rand() * 120 * DAY_MS)
                cancel_day = _EPOCH_ORDINAL + canceled_ms // DAY_MS
                cyc = _Cycles.back(cancel_day - 1 - int(rand() * min(period, 60)), last, freq)
            elif status == "expired":
                cycles = freq.term * (1 + bisect_right(term_cuts, rand()))
                last = cycles - 1
                cyc = _Cycles.back(today_ord - 1 - int(rand() * 365), cycles, freq)
            elif status == "paused":
                cyc = _Cycles.back(today_ord - 1 - int(rand() * min(period, 60)), last, freq)
                next_due = cyc(cycles)  # as it was when paused (pausing keeps it)
                pause_reason = pause_reasons[int(rand() * len(pause_reasons))]
                if rand() < 0.6:
                    resume = today_ord + 1 + int(rand() * 90)
            else:  # scheduled: billing starts on the start date
                cyc = _Cycles(today_ord + 1 + int(rand() * 60), freq)
                next_due = cyc.start
                cycles, last, last_status = 0, -1, None
            last_day = cyc(last) if cycles else 0
            if ach and last_status == "succeeded" and last_day >= pending_since:
                last_status = "processing"  # settles SETTLEMENT_DAYS after its day
            term: int | None = None
            if status == "expired":
                term = cycles
            elif rand() < 0.2:  # a fixed term, not reached yet
                term = freq.term * (cycles // freq.term + 1)

            start_day = cyc.start
            if cycles:
                created_ms = _ms(start_day - 1 - int(rand() * 21)) + int(rand() * DAY_MS)
            else:
                created_ms = _ms(today_ord - 1 - int(rand() * 45)) + int(rand() * DAY_MS)
            contact_created = min(contact_created, created_ms)

            # -- the subscription's own records
            sub_name = f"{account} – {plan} plan {freq.word}"
            assoc.append((sid, "contact", n_contacts, t_contact))
            if cid:
                assoc.append((sid, "company", cid, t_company))
            deal_ms = created_ms - int(rand() * 30 * DAY_MS)
            deals.append(
                (sid, f"{account} – {plan} plan", round(mrr * 12, 2), "closedwon", deal_ms)
            )
            assoc.append((sid, "deal", sid, t_deal))
            line_id += 1
            lines.append((line_id, f"{plan} plan", seats, unit, created_ms))
            assoc.append((sid, "line_item", line_id, t_line))
            if addon is not None:
                line_id += 1
                lines.append((line_id, addon[0], 1, addon_unit, created_ms))
                assoc.append((sid, "line_item", line_id, t_line))
            if rand() < 0.3:
                quote_id += 1
                quote_ms = deal_ms + int(rand() * (created_ms - deal_ms))
                quote_status = quote_statuses[int(rand() * 3)]
                quotes.append((quote_id, f"{account} – {plan} plan quote", quote_status, quote_ms))
                assoc.append((sid, "quote", quote_id, t_quote))

            # -- bought at checkout (an order), through a payment link, feedback, licenses
            r = more()
            if r < 0.06:  # a checkout's order (paid, or open while never charged)
                order_id += 1
                orders.append((order_id, f"ORD-{order_id:07d}", amount, currency,
                               "paid" if cycles else "open", created_ms))  # fmt: skip
                assoc.append((sid, "order", order_id, t_order))
            if r >= 0.95:  # one link per plan, frequency and currency, shared
                key = (plan, freq.value, currency)
                link_id = link_ids.get(key)
                if link_id is None:
                    link_id = link_ids[key] = len(link_ids) + 1
                    slug = f"{plan}-{freq.value}-{currency}".lower()
                    payment_links.append((link_id, f"{plan} plan {freq.word} ({currency})",
                                          f"https://pay.example.com/{slug}", links_ms))  # fmt: skip
                assoc.append((sid, "payment_link", link_id, t_link))
            r = more()
            if r < 0.03:  # an answered survey: cancellation survey once ended
                feedback_id += 1
                survey = "Cancellation survey" if status in ("canceled", "expired") else (
                    "NPS survey" if r < 0.02 else "Customer satisfaction survey"
                )  # fmt: skip
                sentiment = ("positive", "neutral", "negative")[int(more() * 3)]
                answered = created_ms + int(more() * (now_ms - created_ms))
                feedback.append((feedback_id, survey, sentiment, answered))
                assoc.append((sid, "feedback_submission", feedback_id, t_feedback))
            elif r >= 0.97:  # licenses (a custom object) of a plan with seats, 1-3 of them
                for _ in range(1 + int(more() * min(seats, 3))):
                    custom_id += 1
                    customs.append((custom_id, "License", f"LIC-{custom_id:06d}", created_ms))
                    assoc.append((sid, "custom_record", custom_id, t_custom))

            # -- payments (oldest first: the latest 1-3 cycles) and their invoices
            last_event_ms = created_ms
            last_pay_ms: int | None = None
            if cycles:
                for back in range(min(1 + int(rand() * 3), cycles) - 1, -1, -1):
                    day = cyc(last - back) if back else last_day
                    pay_ms = _ms(day) + 21_600_000 + int(rand() * 50_000_000)
                    pay_status = last_status if back == 0 else "succeeded"
                    payment_id += 1
                    payments.append((payment_id, amount, currency, pay_status, method,
                                     "payment", None, pay_ms))  # fmt: skip
                    assoc.append((sid, "payment", payment_id, t_payment))
                    if invoicing == "on":
                        invoice_id += 1
                        invoices.append(
                            (invoice_id, f"INV-{invoice_id:07d}", amount,
                             "paid" if pay_status == "succeeded" else "open", _ms(day))
                        )  # fmt: skip
                        assoc.append((sid, "invoice", invoice_id, t_invoice))
                    last_pay_ms = pay_ms
                assert last_pay_ms is not None
                last_event_ms = last_pay_ms
                if last_status == "failed" and not failed_mail_ms:
                    # a card payment fails when charged, a bank payment when it settles
                    failed_mail_ms = (
                        _ms(last_day + SETTLEMENT_DAYS) + int(rand() * DAY_MS) if ach
                        else last_pay_ms
                    )  # fmt: skip
            if open_invoice and invoicing == "on":
                invoice_id += 1
                invoices.append(
                    (invoice_id, f"INV-{invoice_id:07d}", amount, "open", _ms(open_invoice))
                )
                assoc.append((sid, "invoice", invoice_id, t_invoice))
            completed = cycles if last_status == "succeeded" else max(cycles - 1, 0)

            # -- what the buyer was told (the texts the lifecycle verbs write), and refunds
            scheduled_end: int | None = None
            if status == "active" and rand() < 0.03:  # cancel --at-period-end
                assert next_due is not None and last_pay_ms is not None
                scheduled_end, next_due = next_due, None
                told_ms = last_pay_ms + int(rand() * (now_ms - last_pay_ms))
                subject, body = cancellation_text(
                    sub_name, _fromordinal(_EPOCH_ORDINAL + told_ms // DAY_MS),
                    _fromordinal(scheduled_end), None, None,
                )  # fmt: skip
                outbox.append((sid, CANCELLATION_MAIL, recipient, subject, body, None,
                               told_ms))  # fmt: skip
                last_event_ms = told_ms
            elif canceled_ms is not None:
                refund: Decimal | None = None
                r = rand()
                if last_status == "processing" and r < 0.5:  # cancel --refund-pending
                    refund, last_status = Decimal(f"{amount:.2f}"), "refunded"
                elif last_status == "succeeded" and r < 0.3:  # cancel --refund unused
                    end = paid_period_end(_fromordinal(last_day), freq.value, None)
                    paid = Decimal(f"{amount:.2f}")
                    pro = prorate(paid, currency, freq.value, end, ms_to_datetime(canceled_ms))
                    if pro.refund > 0:
                        refund = pro.refund
                        last_status = "refunded" if pro.full else "partially_refunded"
                if refund is not None:  # the latest payment, refunded when it was canceled
                    refunded = payments[-1]
                    payments[-1] = (*refunded[:3], last_status, *refunded[4:])
                    payment_id += 1
                    payments.append((payment_id, float(refund), currency, "succeeded",
                                     method, "refund", refunded[0], canceled_ms))  # fmt: skip
                    assoc.append((sid, "payment", payment_id, t_payment))
                subject, body = cancellation_text(
                    sub_name, _fromordinal(_EPOCH_ORDINAL + canceled_ms // DAY_MS), None,
                    refund, currency,
                )  # fmt: skip
                outbox.append((sid, CANCELLATION_MAIL, recipient, subject, body, None,
                               canceled_ms))  # fmt: skip
                last_event_ms = max(last_event_ms, canceled_ms)
            elif failed_mail_ms:  # unpaid, and past due after a failed payment
                link = update_link_of(sid, ms_to_datetime(created_ms))
                subject, body = update_link_text(sub_name, link)
                outbox.append((sid, UPDATE_LINK_MAIL, recipient, subject, body, link,
                               failed_mail_ms))  # fmt: skip
                last_event_ms = max(last_event_ms, failed_mail_ms)
            if rand() < 0.25:  # edited since
                last_event_ms += int(rand() * (now_ms - last_event_ms))
            modified_ms = min(max(last_event_ms, created_ms), now_ms - 1)

            ended = status in ("canceled", "expired")
            subs.append(
                (
                    sid,
                    sub_name,
                    status,
                    _ms(start_day),
                    None if next_due is None else _ms(next_due),
                    None if ended or scheduled_end is not None else amount,
                    amount if cycles else None,
                    last_status,
                    currency,
                    freq.value,
                    collection,
                    terms,
                    invoicing,
                    method_label,
                    0.0 if ended or status == "paused" else mrr,
                    created_ms,
                    modified_ms,
                    canceled_ms,
                    pause_reason,
                    None if scheduled_end is None else _ms(scheduled_end),
                    last_pay_ms,
                    float(completed),
                    round(completed * amount, 2),
                    None if term is None else float(term),
                    None if resume is None else _ms(resume),
                    None if retry_day is None else _ms(retry_day),
                    None if retry_count is None else float(retry_count),
                )
            )

            if not group_left:  # the customer's contact, created before its first subscription
                contacts.append((n_contacts, first, surname,
                                 contact_created - int(rand() * 60 * DAY_MS)))  # fmt: skip
                emails.extend(contact_emails)
        yield out


# -- loading ---------------------------------------------------------------------------------


def populate(
    store: Seedable,
    *,
    count: int,
    seed: int,
    today: dt.date,
    progress: Callable[[int], None] | None = None,
    stamp: tuple[str, str] | None = None,
) -> DemoSummary:
    """Replace the workspace's data with ``count`` sample subscriptions and their records.

    Deterministic: the same ``seed`` and ``today`` give identical rows. Existing subscriptions
    and associated records (history, jobs and outbox mail included) are replaced in one
    transaction (``Seedable.replacing_records``): interrupted, the workspace is unchanged.
    Custom property definitions, saved views and settings stay. Whether replacing is allowed is
    the caller's decision. ``progress`` receives the number of subscriptions generated so far,
    after every block. ``stamp``: see ``Seedable.replacing_records``.
    """
    if count < 0:
        raise ValueError("count must not be negative")
    tables = dict.fromkeys(TABLES, 0)
    statuses = dict.fromkeys((s for s, _ in STATUS_SHARES), 0)
    pending = 0
    with store.replacing_records(stamp) as insert:
        for block in _generate(count, seed, today, BLOCK):
            for name in TABLES:
                rows = block.rows[name]
                if rows:
                    tables[name] += insert(name, TABLE_COLUMNS[name], rows)
            for row in block.rows["subscriptions"]:
                statuses[row[2]] += 1
            for row in block.rows["payments"]:
                if row[3] == "processing" and row[4] == "ach":
                    pending += 1
            if progress is not None:
                progress(block.done)
    return DemoSummary(
        seed=seed, today=today, tables=tables, statuses=statuses, pending_ach_payments=pending
    )
