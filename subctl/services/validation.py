"""Validation rules of custom properties (DOMAIN.md §4, HubSpot's property validations API).

A property carries its rules as ``((RULE_TYPE, (arg, …)), …)``, with the arguments stored as
HubSpot's ``ruleArguments`` strings (already checked and normalised by
``subctl.services.properties.parse_rule``). ``check(prop, value)`` tests one *typed* value (see
``subctl.schema``: ``str``, ``int``/``Decimal``, ``date``, aware ``datetime``) against every rule
and raises ``UsageError`` naming the property and the rule, e.g. ``mrr: 5 is below MIN_NUMBER
10``. ``None`` (clearing a value) passes every rule.

Semantics, where HubSpot's guide leaves room (each choice is subctl's; HubSpot's wording is in
DOMAIN.md §4):

- Rules are checked, never applied as normalisation (``shouldApplyNormalization`` is false):
  ``FORMAT UPPER`` rejects "abc" rather than storing "ABC".
- ``MIN_LENGTH``/``MAX_LENGTH`` count characters (code points), inclusive bounds.
- ``MIN_NUMBER``/``MAX_NUMBER`` are inclusive. ``DECIMAL n`` allows at most ``n`` digits after
  the point, ignoring trailing zeros (``1.50`` has one).
- ``ALPHANUMERIC``: ``ALPHANUMERIC`` allows letters and digits, ``ALPHA_ONLY`` letters,
  ``NUMERIC_ONLY`` digits (any script); spaces are allowed (``WHITESPACE`` governs them).
- ``SPECIAL_CHARACTERS NOT_ALLOWED`` rejects punctuation and symbols (Unicode categories P* and
  S*, e.g. ``$ % & @ !``) except the hyphen, period, comma and apostrophe of ordinary names
  ("Smith-Jones", "St. John's, Inc").
- ``REGEX [pattern, message]``: the whole value must match (a full match, like Java's
  ``matches()``); capture groups are refused when the rule is set and values are limited to
  1,000 characters (HubSpot KB). Patterns are RE2's, as HubSpot's (``google-re2``: matching in
  linear time, so no pattern can hang; no backreferences or lookaround; the digit, word and
  space classes are ASCII).
- ``FORMAT``: ``UPPER``/``LOWER`` compare with the upper/lower-cased value; ``CAPITALIZATION``
  requires every word to start with an upper-case letter (if it starts with a letter).
- ``WHITESPACE``: ``ALL`` (also the meaning without an argument) forbids any whitespace, ``TRIM``
  only leading and trailing whitespace.
- ``EMAIL``, ``DOMAIN``, ``URL``: syntactic checks; a URL may omit its ``http(s)://`` scheme but
  its host must be a domain name. ``*_ALLOWED_DOMAINS``/``*_BLOCKED_DOMAINS`` imply the value is
  an email / URL, and match the domain itself and its subdomains, case-insensitively.
- ``PHONE_NUMBER_WITH_EXPLICIT_COUNTRY_CODE``: the number starts with ``+`` and has 7-15 digits
  (spaces, dots, dashes and parentheses allowed); with a country argument (``us``), it starts
  with that country's calling code.
- ``START_DATE``/``END_DATE`` (and ``*_DATETIME``) are inclusive bounds given in epoch ms.
- ``AFTER_DURATION P`` requires the value to be at least ``P`` after today (``P7D``: a week's
  lead time); ``BEFORE_DURATION P`` at least ``P`` before today. The ``*_DATETIME_DURATION``
  variants count from ``now`` (midnight UTC of ``today`` unless the caller passes ``now``).
  Periods are at most ``PERIOD_MAX_YEARS`` long when a rule is set; a bound beyond the calendar
  (a rule stored before that limit) fails the rule rather than the command.
- ``DAYS_OF_WEEK`` compares the UTC weekday.

Besides its rules, every value keeps the limits of its property (checked first, the same way;
HubSpot's where it documents them, subctl's choice otherwise):

- Text (``string``) holds at most ``TEXT_MAX_LENGTH`` (65,536) characters (DOMAIN.md §4).
  Control characters (C0, DEL, C1: a newline, an escape sequence) are refused in single-line
  text; multi-line text (``textarea``, ``html``) allows newlines and tabs, no other control
  character. Messages name the character by its code point, never print it.
- Amounts (money properties) are at least 0, below ``MONEY_LIMIT`` (a trillion) and have at most
  ``MONEY_DECIMALS`` (3) decimal places, the finest minor unit of a billing currency: such an
  amount is stored exactly and shown and matched as typed. The precision of the subscription's
  own currency (``money_problem``) depends on the subscription, and is checked by the update.
- Standard properties: ``hs_currency_code`` is an ISO 4217 code (``schema.CURRENCY_CODES``,
  upper case as HubSpot writes it); ``hs_net_payment_terms`` a whole number of days from 0 to
  ``NET_TERMS_MAX_DAYS`` (365: HubSpot's presets go to 90, a year leaves room for custom terms);
  ``hubspot_owner_id`` a positive whole number a double holds exactly; ``hs_locale`` a
  language tag such as ``en-us``.

Messages quote the rejected value, except for highly sensitive properties, whose value (and any
part of it, such as offending characters or a domain) shows as ``schema.MASK``.
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any
from urllib.parse import urlsplit

from subctl.codec import currency_decimals, ms_to_date, ms_to_datetime, short_datetime, to_text
from subctl.errors import UsageError
from subctl.query.values import add_months
from subctl.schema import CURRENCY_CODES, MASK, Property, PropType

REGEX_MAX_LENGTH = 1000
TEXT_MAX_LENGTH = 65_536
MONEY_LIMIT = Decimal("1e12")
MONEY_DECIMALS = 3
QUANTITY_MAX = 1_000_000  # units of one line item
NET_TERMS_MAX_DAYS = 365
OWNER_ID_MAX = 2**53 - 1
MULTI_LINE_FIELD_TYPES = frozenset({"textarea", "html"})
MULTI_LINE_CONTROLS = frozenset("\n\t\r")
_LOCALE = re.compile(r"^[a-z]{2,3}(?:-[a-z0-9]{2,8})*$", re.IGNORECASE)
PERIOD_MAX_YEARS = 100  # duration rules; far beyond any real lead time, well within the calendar
WEEKDAYS = ("MONDAY", "TUESDAY", "WEDNESDAY", "THURSDAY", "FRIDAY", "SATURDAY", "SUNDAY")
NAME_PUNCTUATION = frozenset("-.,'")

# Country calling codes for PHONE_NUMBER_WITH_EXPLICIT_COUNTRY_CODE (ISO 3166-1 alpha-2, lower
# case, as HubSpot's example ["us"]). A selection: the countries HubSpot bills in and their
# neighbours; extend as needed.
CALLING_CODES: dict[str, str] = {
    "us": "1", "ca": "1", "mx": "52", "br": "55", "ar": "54", "cl": "56", "co": "57", "pe": "51",
    "gb": "44", "ie": "353", "fr": "33", "de": "49", "nl": "31", "be": "32", "lu": "352",
    "ch": "41", "at": "43", "it": "39", "es": "34", "pt": "351", "dk": "45", "se": "46",
    "no": "47", "fi": "358", "is": "354", "pl": "48", "cz": "420", "sk": "421", "hu": "36",
    "ro": "40", "bg": "359", "gr": "30", "hr": "385", "si": "386", "ee": "372", "lv": "371",
    "lt": "370", "tr": "90", "il": "972", "ae": "971", "sa": "966", "za": "27", "ng": "234",
    "ke": "254", "eg": "20", "in": "91", "sg": "65", "my": "60", "th": "66", "id": "62",
    "ph": "63", "vn": "84", "jp": "81", "kr": "82", "cn": "86", "hk": "852", "tw": "886",
    "au": "61", "nz": "64",
}  # fmt: skip

_DOMAIN_LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$", re.IGNORECASE)
_EMAIL_LOCAL = re.compile(r"^[A-Za-z0-9!#$%&'*+/=?^_`{|}~.-]{1,64}$")
_PERIOD = re.compile(
    r"^P(?:(\d+)Y)?(?:(\d+)M)?(?:(\d+)W)?(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+)S)?)?$"
)


# -- shared syntax checks (also used when rules are defined) ----------------------------------


def is_domain(text: str) -> bool:
    """A domain name: dot-separated labels of letters, digits and hyphens, an alphabetic TLD."""
    if not text or len(text) > 253 or text.endswith("."):
        return False
    labels = text.split(".")
    if len(labels) < 2 or not all(_DOMAIN_LABEL.match(label) for label in labels):
        return False
    tld = labels[-1]
    return tld.isascii() and tld.isalpha() and len(tld) >= 2


def email_domain(text: str) -> str | None:
    """The domain of an email address, lower-cased; None when ``text`` is not one."""
    local, at, domain = text.rpartition("@")
    if not at or not _EMAIL_LOCAL.match(local) or ".." in local:
        return None
    if local.startswith(".") or local.endswith("."):
        return None
    return domain.lower() if is_domain(domain) else None


def url_host(text: str) -> str | None:
    """The host of an http(s) URL (the scheme may be omitted), lower-cased; None otherwise."""
    if not text or any(c.isspace() for c in text):
        return None
    candidate = text if "://" in text else f"http://{text}"
    try:
        parts = urlsplit(candidate)
        host = parts.hostname
        parts.port  # noqa: B018 - raises ValueError on a bad port
    except ValueError:
        return None
    if parts.scheme.lower() not in ("http", "https") or not host or parts.username is not None:
        return None
    return host.lower() if is_domain(host) else None


def domain_matches(host: str, domains: Sequence[str]) -> bool:
    """``host`` is one of ``domains`` or a subdomain of one."""
    return any(host == d or host.endswith("." + d) for d in domains)


@dataclass(frozen=True)
class Period:
    """An ISO-8601 period: ``P1Y2M3W4DT5H6M7S``."""

    months: int = 0  # years count as 12 months
    days: int = 0  # weeks count as 7 days
    seconds: int = 0

    @property
    def has_time(self) -> bool:
        return self.seconds != 0

    @property
    def years(self) -> float:
        """The length in years, roughly (12 months or 365 days a year)."""
        return self.months / 12 + (self.days + self.seconds / 86_400) / 365

    def after(self, start: dt.datetime) -> dt.datetime:
        moved = add_months(start.date(), self.months)
        shifted = start.replace(year=moved.year, month=moved.month, day=moved.day)
        return shifted + dt.timedelta(days=self.days, seconds=self.seconds)

    def before(self, start: dt.datetime) -> dt.datetime:
        moved = add_months(start.date(), -self.months)
        shifted = start.replace(year=moved.year, month=moved.month, day=moved.day)
        return shifted - dt.timedelta(days=self.days, seconds=self.seconds)


def parse_period(text: str) -> Period | None:
    """An ISO-8601 period (upper case, as HubSpot writes it), or None when ``text`` is not one."""
    match = _PERIOD.match(text)
    if not match or text in ("P", "PT") or text.endswith("T"):
        return None
    y, mo, w, d, h, mi, s = (int(g) if g else 0 for g in match.groups())
    if max(y, mo, w, d, h, mi, s) > 100_000:
        return None
    return Period(months=12 * y + mo, days=7 * w + d, seconds=3600 * h + 60 * mi + s)


def compile_regex(pattern: str) -> Any:
    """``pattern`` compiled by RE2, HubSpot's engine (linear-time matching); ``UsageError`` with
    RE2's message when RE2 refuses it. ``re2`` (google-re2, a compiled extension) is imported
    here, never at startup; it caches compiled patterns."""
    import re2

    options = re2.Options()
    options.log_errors = False  # else RE2 also logs the error to stderr
    try:
        return re2.compile(pattern, options)
    except re2.error as exc:
        detail = exc.args[0] if exc.args else ""
        if isinstance(detail, bytes):
            detail = detail.decode("utf-8", "replace")
        raise UsageError(
            f"rule REGEX: invalid pattern (RE2): {detail}",
            hint="patterns are RE2's, as in HubSpot: no lookaround or backreferences",
        ) from None
    except UnicodeEncodeError:
        raise UsageError("rule REGEX: invalid pattern: it is not valid text") from None


# -- checking values --------------------------------------------------------------------------


@dataclass(frozen=True)
class _Context:
    name: str  # the property as named in messages
    today: dt.date
    now: dt.datetime
    masked: bool = False  # a highly sensitive property: messages never show the value

    def quote(self, value: Any) -> str:
        """The value as messages show it."""
        return MASK if self.masked else _quote(value)

    def part(self, text: str) -> str:
        """Part of the value (offending characters, a domain) as messages show it."""
        return MASK if self.masked else text


Checker = Callable[[_Context, Any, tuple[str, ...]], str | None]  # -> a problem, or None


def _quote(value: Any) -> str:
    if isinstance(value, str):
        return f'"{value}"'
    if isinstance(value, dt.datetime):
        return short_datetime(value)
    return to_text(value)


def _min_length(c: _Context, v: str, args: tuple[str, ...]) -> str | None:
    return None if len(v) >= int(args[0]) else f"{c.quote(v)} is shorter than MIN_LENGTH {args[0]}"


def _max_length(c: _Context, v: str, args: tuple[str, ...]) -> str | None:
    return None if len(v) <= int(args[0]) else f"{c.quote(v)} is longer than MAX_LENGTH {args[0]}"


def _min_number(c: _Context, v: Any, args: tuple[str, ...]) -> str | None:
    if Decimal(str(v)) >= Decimal(args[0]):
        return None
    return f"{c.quote(v)} is below MIN_NUMBER {args[0]}"


def _max_number(c: _Context, v: Any, args: tuple[str, ...]) -> str | None:
    if Decimal(str(v)) <= Decimal(args[0]):
        return None
    return f"{c.quote(v)} is above MAX_NUMBER {args[0]}"


def _decimal_places(number: Decimal) -> int:
    """Digits after the point, ignoring trailing zeros (``1.50`` has one)."""
    exponent = number.normalize().as_tuple().exponent
    return -exponent if isinstance(exponent, int) and exponent < 0 else 0


def _decimal(c: _Context, v: Any, args: tuple[str, ...]) -> str | None:
    if _decimal_places(Decimal(str(v))) <= int(args[0]):
        return None
    return f"{c.quote(v)} has more than {args[0]} decimal places (DECIMAL {args[0]})"


_ALPHANUMERIC_KINDS: dict[str, tuple[Callable[[str], bool], str]] = {
    "ALPHANUMERIC": (str.isalnum, "letters and digits"),
    "ALPHA_ONLY": (str.isalpha, "letters"),
    "NUMERIC_ONLY": (str.isdigit, "digits"),
}


def _alphanumeric(c: _Context, v: str, args: tuple[str, ...]) -> str | None:
    allowed, what = _ALPHANUMERIC_KINDS[args[0]]
    bad = sorted({ch for ch in v if not ch.isspace() and not allowed(ch)})
    if not bad:
        return None
    listed = c.part("".join(bad))
    return f"{c.quote(v)} has characters other than {what}: {listed} (ALPHANUMERIC {args[0]})"


def _special(ch: str) -> bool:
    return unicodedata.category(ch)[0] in "PS" and ch not in NAME_PUNCTUATION


def _special_characters(c: _Context, v: str, args: tuple[str, ...]) -> str | None:
    bad = sorted({ch for ch in v if _special(ch)})
    if not bad:
        return None
    listed = c.part("".join(bad))
    return f"{c.quote(v)} has special characters: {listed} (SPECIAL_CHARACTERS NOT_ALLOWED)"


def _regex(c: _Context, v: str, args: tuple[str, ...]) -> str | None:
    if len(v) > REGEX_MAX_LENGTH:
        return f"values are limited to {REGEX_MAX_LENGTH} characters (REGEX)"
    try:
        matched = compile_regex(args[0]).fullmatch(v) is not None
    except UsageError as exc:  # a pattern stored before patterns were RE2's
        return f"the rule cannot be checked: {exc.message}; edit the rule (REGEX)"
    except UnicodeEncodeError:  # not text (a lone surrogate): nothing matches it
        matched = False
    if matched:
        return None
    if len(args) > 1 and args[1]:
        return f"{c.quote(v)}: {args[1]} (REGEX)"
    return f"{c.quote(v)} does not match REGEX {args[0]}"


def _capitalized(v: str) -> bool:
    return all(not w[0].isalpha() or w[0].isupper() for w in v.split())


def _format(c: _Context, v: str, args: tuple[str, ...]) -> str | None:
    kind = args[0]
    ok = {"UPPER": v == v.upper(), "LOWER": v == v.lower(), "CAPITALIZATION": _capitalized(v)}
    if ok[kind]:
        return None
    what = {"UPPER": "upper case", "LOWER": "lower case", "CAPITALIZATION": "capitalized"}[kind]
    return f"{c.quote(v)} is not {what} (FORMAT {kind})"


def _whitespace(c: _Context, v: str, args: tuple[str, ...]) -> str | None:
    kind = args[0] if args else "ALL"
    if kind == "TRIM":
        if v == v.strip():
            return None
        return f"{c.quote(v)} has leading or trailing whitespace (WHITESPACE TRIM)"
    if not any(ch.isspace() for ch in v):
        return None
    return f"{c.quote(v)} contains whitespace (WHITESPACE {kind})"


def _email(c: _Context, v: str, args: tuple[str, ...]) -> str | None:
    return None if email_domain(v) else f"{c.quote(v)} is not an email address (EMAIL)"


def _domain(c: _Context, v: str, args: tuple[str, ...]) -> str | None:
    return None if is_domain(v) else f"{c.quote(v)} is not a domain name (DOMAIN)"


def _url(c: _Context, v: str, args: tuple[str, ...]) -> str | None:
    return None if url_host(v) else f"{c.quote(v)} is not a URL (URL)"


def _domains(kind: str, rule: str) -> Checker:
    extract = email_domain if kind == "email" else url_host
    allowed = rule.endswith("_ALLOWED_DOMAINS")
    noun = "an email address" if kind == "email" else "a URL"

    def check(c: _Context, v: str, args: tuple[str, ...]) -> str | None:
        host = extract(v)
        listed = ", ".join(args)
        if host is None:
            return f"{c.quote(v)} is not {noun} ({rule} {listed})"
        if domain_matches(host, args) == allowed:
            return None
        verdict = "is not an allowed domain" if allowed else "is a blocked domain"
        return f"{c.quote(v)}: {c.part(host)} {verdict} ({rule} {listed})"

    return check


def _phone(c: _Context, v: str, args: tuple[str, ...]) -> str | None:
    rule = "PHONE_NUMBER_WITH_EXPLICIT_COUNTRY_CODE" + (f" {args[0]}" if args else "")
    digits = "".join(ch for ch in v if ch.isdigit())
    shape = re.fullmatch(r"\+[\d\s().-]+", v.strip()) and 7 <= len(digits) <= 15
    if not shape:
        return f"{c.quote(v)} is not a phone number with a +country code ({rule})"
    if args and not digits.startswith(CALLING_CODES[args[0]]):
        return (
            f"{c.quote(v)} is not a {args[0].upper()} number (+{CALLING_CODES[args[0]]}) ({rule})"
        )
    return None


def _start_date(c: _Context, v: dt.date, args: tuple[str, ...]) -> str | None:
    bound = ms_to_date(args[0])
    return None if v >= bound else f"{c.quote(v)} is before START_DATE {bound.isoformat()}"


def _end_date(c: _Context, v: dt.date, args: tuple[str, ...]) -> str | None:
    bound = ms_to_date(args[0])
    return None if v <= bound else f"{c.quote(v)} is after END_DATE {bound.isoformat()}"


def _start_datetime(c: _Context, v: dt.datetime, args: tuple[str, ...]) -> str | None:
    bound = ms_to_datetime(args[0])
    return None if v >= bound else f"{c.quote(v)} is before START_DATETIME {_quote(bound)}"


def _end_datetime(c: _Context, v: dt.datetime, args: tuple[str, ...]) -> str | None:
    bound = ms_to_datetime(args[0])
    return None if v <= bound else f"{c.quote(v)} is after END_DATETIME {_quote(bound)}"


def _as_datetime(value: dt.date) -> dt.datetime:
    if isinstance(value, dt.datetime):
        return value
    return dt.datetime(value.year, value.month, value.day, tzinfo=dt.UTC)


def _duration(rule: str) -> Checker:
    after = rule.startswith("AFTER_")
    with_time = "DATETIME" in rule

    def check(c: _Context, v: Any, args: tuple[str, ...]) -> str | None:
        period = parse_period(args[0])
        assert period is not None, args
        reference = c.now if with_time else _as_datetime(c.today)
        anchor = "now" if with_time else "today"
        side = "after" if after else "before"
        try:
            bound = period.after(reference) if after else period.before(reference)
        except (ValueError, OverflowError):  # beyond year 9999 or before year 1: nothing passes
            return (
                f"{c.quote(v)} cannot be {args[0]} {side} {anchor}: that is beyond the calendar "
                f"({rule} {args[0]})"
            )
        value = _as_datetime(v)
        if (value >= bound) if after else (value <= bound):
            return None
        shown = _quote(bound) if with_time else bound.date().isoformat()
        relation = "earlier" if after else "later"
        return (
            f"{c.quote(v)} is {relation} than {shown}, {args[0]} {side} {anchor} ({rule} {args[0]})"
        )

    return check


def _days_of_week(c: _Context, v: Any, args: tuple[str, ...]) -> str | None:
    day = (v.astimezone(dt.UTC) if isinstance(v, dt.datetime) else v).weekday()
    if WEEKDAYS[day] in args:
        return None
    return f"{c.quote(v)} is a {c.part(WEEKDAYS[day])} (DAYS_OF_WEEK {', '.join(args)})"


CHECKS: dict[str, Checker] = {
    "MIN_LENGTH": _min_length,
    "MAX_LENGTH": _max_length,
    "MIN_NUMBER": _min_number,
    "MAX_NUMBER": _max_number,
    "DECIMAL": _decimal,
    "ALPHANUMERIC": _alphanumeric,
    "SPECIAL_CHARACTERS": _special_characters,
    "REGEX": _regex,
    "FORMAT": _format,
    "WHITESPACE": _whitespace,
    "EMAIL": _email,
    "DOMAIN": _domain,
    "URL": _url,
    "EMAIL_ALLOWED_DOMAINS": _domains("email", "EMAIL_ALLOWED_DOMAINS"),
    "EMAIL_BLOCKED_DOMAINS": _domains("email", "EMAIL_BLOCKED_DOMAINS"),
    "URL_ALLOWED_DOMAINS": _domains("url", "URL_ALLOWED_DOMAINS"),
    "URL_BLOCKED_DOMAINS": _domains("url", "URL_BLOCKED_DOMAINS"),
    "PHONE_NUMBER_WITH_EXPLICIT_COUNTRY_CODE": _phone,
    "START_DATE": _start_date,
    "END_DATE": _end_date,
    "START_DATETIME": _start_datetime,
    "END_DATETIME": _end_datetime,
    "AFTER_DURATION": _duration("AFTER_DURATION"),
    "BEFORE_DURATION": _duration("BEFORE_DURATION"),
    "AFTER_DATETIME_DURATION": _duration("AFTER_DATETIME_DURATION"),
    "BEFORE_DATETIME_DURATION": _duration("BEFORE_DATETIME_DURATION"),
    "DAYS_OF_WEEK": _days_of_week,
}
RULE_TYPES: tuple[str, ...] = tuple(CHECKS)


# -- the limits of every value (module docstring) --------------------------------------------


def _text_limits(prop: Property, v: str) -> str | None:
    if len(v) > TEXT_MAX_LENGTH:
        return f"the text has {len(v):,} characters; text is limited to {TEXT_MAX_LENGTH:,}"
    return control_problem(v, multi_line=prop.field_type in MULTI_LINE_FIELD_TYPES)


def control_problem(text: str, *, multi_line: bool = False) -> str | None:
    """The first control character ``text`` may not hold, as a problem, or None: none in
    single-line text, only newlines and tabs in multi-line text."""
    for ch in text:
        if unicodedata.category(ch) == "Cc" and not (multi_line and ch in MULTI_LINE_CONTROLS):
            where = "text" if multi_line else "single-line text"
            allowed = " (newlines and tabs are)" if multi_line else ""
            return f"control character U+{ord(ch):04X} is not allowed in {where}{allowed}"
    return None


def _money_limits(c: _Context, v: Any) -> str | None:
    return money_limit_problem(Decimal(str(v)), c.quote(v))


def money_limit_problem(amount: Decimal, shown: str) -> str | None:
    """Why ``amount`` (written ``shown`` in messages) cannot be an amount of money in any
    currency (negative, too large, finer than every minor unit), or None."""
    if amount < 0:
        return f"{shown} is negative; amounts are 0 or more"
    if amount >= MONEY_LIMIT:
        return f"{shown} is too large; amounts are below {MONEY_LIMIT:,.0f}"
    if _decimal_places(amount) > MONEY_DECIMALS:
        return (
            f"{shown} has more than {MONEY_DECIMALS} decimal places, finer than any "
            "currency's minor unit"
        )
    return None


def money_problem(amount: Decimal, currency: str | None) -> str | None:
    """Why ``amount`` cannot be an amount in ``currency`` (more decimal places than the
    currency's minor unit: 2 for USD, 0 for JPY, 3 for BHD; 2 when the currency is unknown), or
    None. Amounts are refused, never rounded: what is stored is what was typed."""
    code = (currency or "").upper()
    places = currency_decimals(code)
    if _decimal_places(amount) <= places:
        return None
    unit = f"{places} decimal place" + ("" if places == 1 else "s")
    shown = code or "an amount without a currency"
    return f"{amount} has more decimal places than {shown} allows ({unit})"


def _currency_code(c: _Context, v: str) -> str | None:
    if v in CURRENCY_CODES:
        return None
    if v.strip().upper() in CURRENCY_CODES:
        return f"{c.quote(v)} is not an ISO 4217 currency code; write it {v.strip().upper()}"
    return currency_problem(v, c.quote(v))


def currency_problem(code: str, shown: str) -> str | None:
    """Why ``code`` (written ``shown`` in messages) is not an ISO 4217 currency code, or None."""
    if code in CURRENCY_CODES:
        return None
    return f"{shown} is not an ISO 4217 currency code (e.g. USD, EUR, JPY)"


def _whole_number(c: _Context, v: Any, low: int, high: int, what: str) -> str | None:
    number = Decimal(str(v))
    if number != number.to_integral_value() or not low <= number <= high:
        return f"{c.quote(v)} is not {what} ({low} to {high:,})"
    return None


def _net_payment_terms(c: _Context, v: Any) -> str | None:
    return _whole_number(c, v, 0, NET_TERMS_MAX_DAYS, "a whole number of days")


def _owner_id(c: _Context, v: Any) -> str | None:
    return _whole_number(c, v, 1, OWNER_ID_MAX, "an owner id")


def _locale(c: _Context, v: str) -> str | None:
    return None if _LOCALE.match(v) else f"{c.quote(v)} is not a locale such as en-us"


_STANDARD_LIMITS: dict[str, Callable[[_Context, Any], str | None]] = {
    "hs_currency_code": _currency_code,
    "hs_net_payment_terms": _net_payment_terms,
    "hubspot_owner_id": _owner_id,
    "hs_locale": _locale,
}


def _limits(c: _Context, prop: Property, value: Any) -> str | None:
    if prop.type is PropType.STRING and isinstance(value, str):
        problem = _text_limits(prop, value)
        if problem:
            return problem
    if prop.money:
        return _money_limits(c, value)
    standard = _STANDARD_LIMITS.get(prop.name) if prop.hubspot_defined else None
    return standard(c, value) if standard is not None else None


def problems(
    prop: Property, value: Any, *, today: dt.date, now: dt.datetime | None = None
) -> list[str]:
    """Every limit and rule ``value`` breaks, as messages without the property name."""
    if value is None:
        return []
    if now is None:
        now = dt.datetime(today.year, today.month, today.day, tzinfo=dt.UTC)
    context = _Context(prop.name, today, now, masked=prop.highly_sensitive)
    limit = _limits(context, prop, value)
    found = [limit] if limit else []
    for rule_type, args in prop.rules:
        checker = CHECKS.get(rule_type)
        if checker is None:  # a rule type this version does not know: not enforced
            continue
        problem = checker(context, value, args)
        if problem:
            found.append(problem)
    return found


def check(prop: Property, value: Any, *, today: dt.date, now: dt.datetime | None = None) -> None:
    """Raise ``UsageError`` for the first limit or rule ``value`` breaks (the message names the
    rule)."""
    found = problems(prop, value, today=today, now=now)
    if found:
        name = prop.aliases[0] if prop.aliases else prop.name
        raise UsageError(f"{name}: {found[0]}")
