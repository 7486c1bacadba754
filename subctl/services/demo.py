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

What the data looks like (shares are approximate):

- status: active 55 %, canceled 12 %, unpaid 8 %, expired 8 %, scheduled 7 %, past_due 5 %,
  paused 5 %; currency: USD 70 %, EUR 15 %, GBP 10 %, DKK 5 % (a company's currency follows its
  country); frequencies from ``schema.FREQUENCIES``, mostly monthly and annually.
- amounts: the sum of the subscription's 1-2 line items (a plan with seats, sometimes an add-on),
  priced per billing period; ``hs_mrr`` is that amount per month (0 once canceled or expired,
  and while paused).
- dates: the next payment due date lies within -30..+60 days of ``today`` (active: today or
  later, within one period; unpaid and past_due: in the past; canceled and expired: none;
  scheduled: the start date, 1-60 days ahead); month-based schedules keep their day of month.
  ``hs_canceled_at`` lies within the last 120 days. Most paused subscriptions have a
  ``hs_pause_reason``; ``hs_scheduled_cancellation_date`` stays empty (lifecycle verbs set it).
- every subscription has exactly one contact (1-3 emails) and one deal; 85 % have a company
  (1-2 domains, shared by ~3 subscriptions on average); 30 % have a quote. Every subscription
  that has been billed (all but scheduled ones) has 1-3 payments (card or ach), each with an
  invoice when invoicing is on. The last payment matches ``hs_last_payment_status``; unpaid
  subscriptions' last payment failed (some of them have an ACH retry still processing), and a
  third of active ACH subscriptions have their latest payment pending (ach, processing).
"""

from __future__ import annotations

import datetime as dt
from bisect import bisect_right
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from random import Random
from typing import TYPE_CHECKING, Any

from subctl.schema import ASSOCIATION_BY_NAME

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
    ),
    "contacts": ("id", "firstname", "lastname", "created_at"),
    "contact_emails": ("contact_id", "position", "email"),
    "companies": ("id", "name", "created_at"),
    "company_domains": ("company_id", "position", "domain"),
    "deals": ("id", "name", "amount", "stage", "created_at"),
    "line_items": ("id", "name", "quantity", "price", "created_at"),
    "quotes": ("id", "title", "status", "created_at"),
    "invoices": ("id", "number", "amount", "status", "created_at"),
    "payments": ("id", "amount", "currency", "status", "method", "kind", "created_at"),
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

# plan, monthly list price per currency, max seats
_PLANS: tuple[tuple[str, dict[str, int], int], ...] = (
    ("Starter", {"USD": 29, "EUR": 27, "GBP": 24, "DKK": 199}, 1),
    ("Pro", {"USD": 99, "EUR": 89, "GBP": 79, "DKK": 699}, 10),
    ("Business", {"USD": 249, "EUR": 229, "GBP": 199, "DKK": 1749}, 50),
    ("Enterprise", {"USD": 799, "EUR": 749, "GBP": 649, "DKK": 5499}, 1),
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


def _ms(ordinal: int) -> int:
    """Epoch milliseconds of a date (midnight UTC), from its proleptic ordinal."""
    return (ordinal - _EPOCH_ORDINAL) * DAY_MS


def _day_down(ordinal: int, freq: _Frequency) -> int:
    """For month-based schedules, the 28th instead of a later day (so months shift safely)."""
    if not freq.months:
        return ordinal
    day = _fromordinal(ordinal).day
    return ordinal - (day - 28) if day > 28 else ordinal


def _day_up(ordinal: int, freq: _Frequency) -> int:
    """For month-based schedules, the 1st of the next month instead of a day after the 28th."""
    if not freq.months or _fromordinal(ordinal).day <= 28:
        return ordinal
    ahead = ordinal + 4
    return ahead - _fromordinal(ahead).day + 1


def _day_past(ordinal: int, earliest: int, freq: _Frequency) -> int:
    """``_day_down``, or ``_day_up`` when that would fall before ``earliest`` (a date well in the
    past, so the result stays in the past)."""
    down = _day_down(ordinal, freq)
    return down if down >= earliest else _day_up(ordinal, freq)


def _shift(ordinal: int, periods: int, freq: _Frequency) -> int:
    """Move a date by whole billing periods (calendar months for month-based frequencies)."""
    if not freq.months:
        return ordinal + periods * freq.days
    date = _fromordinal(ordinal)
    year, month0 = divmod(date.year * 12 + date.month - 1 + periods * freq.months, 12)
    return dt.date(year, month0 + 1, date.day).toordinal()


# -- generation ------------------------------------------------------------------------------


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

    n_companies = 0
    line_id = quote_id = invoice_id = payment_id = 0

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
        assoc = out.rows["associations"]

        for sid in range(start + 1, out.done + 1):
            status = statuses[bisect_right(status_cuts, rand())]
            freq = freqs[bisect_right(freq_cuts, rand())]

            # -- who pays: a contact, usually at a company (new, or one already billed)
            first = first_names[int(rand() * n_first)]
            surname = last_names[int(rand() * n_last)]
            cid = 0
            new_company = False
            if rand() < 0.85:
                if n_companies == 0 or rand() < 0.35:
                    n_companies += 1
                    cid = n_companies
                    new_company = True
                else:  # a recent company: sharing stays even across the id range
                    cid = n_companies - int(rand() * min(n_companies, 2000))
                cname, domain, alt_domain, currency = _company(cid, salt)
                account = cname
            else:
                cname = domain = alt_domain = ""
                r = rand()
                currency = "USD" if r < 0.7 else "EUR" if r < 0.85 else "GBP" if r < 0.95 else "DKK"
                account = f"{first} {surname}"

            # -- what: a plan with seats, sometimes an add-on; priced per billing period
            plan, prices, max_seats = _PLANS[bisect_right(_PLAN_CUTS, rand())]
            seats = 1 + int(rand() ** 2 * max_seats) if max_seats > 1 else 1  # mostly few
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

            # -- how: collection, payment method
            automatic = rand() < (0.45 if status == "past_due" else 0.82)
            collection = "automatic_payments" if automatic else "manual_payments"
            if automatic:
                terms = auto_terms[int(rand() * len(auto_terms))]
            else:
                terms = manual_terms[int(rand() * len(manual_terms))]
            invoicing = "on" if rand() < 0.93 else "off"
            last4 = f"{int(rand() * 10000):04d}"
            ach = currency == "USD" and rand() < 0.3
            if ach:
                method, method_label = "ach", f"ACH - {last4}"
            else:
                method = "card"
                method_label = f"{card_brands[int(rand() * 6)]} - {last4}"

            # -- when: anchor dates per status. last_day: day of the last payment attempt;
            # cycles: billing periods begun so far (including last_day's; 0: not started).
            period = freq.days
            next_due: int | None = None
            canceled_ms: int | None = None
            last_status: str | None = "succeeded"
            extra_open_invoice = 0  # ordinal of an overdue invoice without a payment
            pending_retry = False
            pause_reason: str | None = None
            if status == "active":
                # one period back must lie before today: months are at least 28 days
                hi = min(57, period - 3) if freq.months else period - 1
                next_due = _day_up(today_ord + int(rand() * (hi + 1)), freq)
                last_day = _shift(next_due, -1, freq)
                cycles = 1 + int(rand() * max_cycles[freq.value])
                if ach and rand() < 0.35:
                    last_status = "processing"
            elif status == "unpaid":
                next_due = _day_past(today_ord - 1 - int(rand() * 30), today_ord - 30, freq)
                last_day = next_due
                cycles = 1 + int(rand() * max_cycles[freq.value])
                last_status = "failed"
                pending_retry = ach and rand() < 0.4
            elif status == "past_due":
                next_due = _day_past(today_ord - 1 - int(rand() * 30), today_ord - 30, freq)
                if automatic:
                    last_day = next_due
                    last_status = "failed"
                    cycles = 1 + int(rand() * max_cycles[freq.value])
                else:  # the previous period was paid; this period's invoice is overdue
                    last_day = _shift(next_due, -1, freq)
                    extra_open_invoice = next_due
                    cycles = 1 + int(rand() * max_cycles[freq.value])
            elif status == "canceled":
                canceled_ms = now_ms - 3_600_000 - int(rand() * 120 * DAY_MS)
                cancel_day = _EPOCH_ORDINAL + canceled_ms // DAY_MS
                last_day = _day_down(cancel_day - 1 - int(rand() * min(period, 60)), freq)
                cycles = 1 + int(rand() * max_cycles[freq.value])
                if ach and rand() < 0.1:
                    last_status = "processing"
            elif status == "expired":
                end = _day_down(today_ord - 1 - int(rand() * 365), freq)
                term = freq.term * (1 + bisect_right(term_cuts, rand()))
                last_day = _shift(end, -1, freq)
                cycles = term
            elif status == "paused":
                last_day = _day_down(today_ord - 1 - int(rand() * min(period, 60)), freq)
                next_due = today_ord + 1 + int(rand() * 60)
                cycles = 1 + int(rand() * max_cycles[freq.value])
                pause_reason = pause_reasons[int(rand() * len(pause_reasons))]
            else:  # scheduled: billing starts on the start date
                start_day = today_ord + 1 + int(rand() * 60)
                next_due = start_day
                last_day = 0
                cycles = 0
                last_status = None

            if cycles:
                start_day = _shift(last_day, 1 - cycles, freq)
                created_ms = _ms(start_day - 1 - int(rand() * 21)) + int(rand() * DAY_MS)
            else:
                created_ms = _ms(today_ord - 1 - int(rand() * 45)) + int(rand() * DAY_MS)

            # -- the subscription's own records
            sub_name = f"{account} – {plan} plan {freq.word}"
            contact_ms = created_ms - int(rand() * 60 * DAY_MS)
            contacts.append((sid, first, surname, contact_ms))
            local = f"{first}.{surname}".lower()
            emails.append((sid, 0, f"{local}@{domain or _FREEMAIL[sid % 6]}"))
            r = rand()
            if r < 0.45:
                emails.append((sid, 1, f"{first.lower()}{sid % 97}@{_FREEMAIL[int(r * 13) % 6]}"))
                if r < 0.12:
                    emails.append((sid, 2, f"{first[0]}{surname}@{domain or 'mail.com'}".lower()))
            assoc.append((sid, "contact", sid, t_contact))
            if cid:
                if new_company:
                    # long before any subscription (histories reach back at most ~5 years)
                    company_ms = now_ms - 2190 * DAY_MS - int(rand() * 365 * DAY_MS)
                    companies.append((cid, cname, company_ms))
                    domains.append((cid, 0, domain))
                    if rand() < 0.3:
                        domains.append((cid, 1, alt_domain))
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

            # -- payments (oldest first) and their invoices
            last_event_ms = created_ms
            if cycles:
                n_pay = min(1 + int(rand() * 3), cycles)
                for back in range(n_pay - 1, -1, -1):
                    day = _shift(last_day, -back, freq) if back else last_day
                    pay_ms = _ms(day) + 21_600_000 + int(rand() * 50_000_000)
                    pay_status = last_status if back == 0 else "succeeded"
                    payment_id += 1
                    payments.append(
                        (payment_id, amount, currency, pay_status, method, "payment", pay_ms)
                    )
                    assoc.append((sid, "payment", payment_id, t_payment))
                    if invoicing == "on":
                        invoice_id += 1
                        invoices.append(
                            (invoice_id, f"INV-{invoice_id:07d}", amount,
                             "paid" if pay_status == "succeeded" else "open", _ms(day))
                        )  # fmt: skip
                        assoc.append((sid, "invoice", invoice_id, t_invoice))
                    last_event_ms = pay_ms
                if pending_retry:  # the buyer updated the method; an ACH retry is processing
                    payment_id += 1
                    retry_ms = min(last_event_ms + DAY_MS + int(rand() * DAY_MS), now_ms - 60_000)
                    payments.append(
                        (payment_id, amount, currency, "processing", "ach", "payment", retry_ms)
                    )
                    assoc.append((sid, "payment", payment_id, t_payment))
                    last_event_ms = retry_ms
            if extra_open_invoice and invoicing == "on":
                invoice_id += 1
                invoices.append(
                    (invoice_id, f"INV-{invoice_id:07d}", amount, "open", _ms(extra_open_invoice))
                )
                assoc.append((sid, "invoice", invoice_id, t_invoice))
            if canceled_ms is not None:
                last_event_ms = max(last_event_ms, canceled_ms)
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
                    None if ended else amount,
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
                )
            )
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
