"""Validation rules of custom properties (``--rule TYPE[:args]``): where each applies
(DOMAIN.md §4), parsing to HubSpot's ``ruleArguments``, consistency checks and readings. The
rules themselves are enforced by ``subctl.services.validation``."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Iterable, Sequence
from decimal import Decimal, InvalidOperation

from subctl import codec
from subctl.errors import Action, Next, UsageError
from subctl.schema import PropType
from subctl.services import validation

# -- validation rules: where each applies (DOMAIN.md §4) ---------------------------------------

_TEXT = frozenset({"text", "textarea"})
_SINGLE = frozenset({"text"})
_LENGTH = frozenset({"text", "textarea", "phonenumber"})
_S, _N, _D, _DT = PropType.STRING, PropType.NUMBER, PropType.DATE, PropType.DATETIME
RULE_TARGETS: dict[str, tuple[frozenset[PropType], frozenset[str]]] = {
    "MIN_LENGTH": (frozenset({_S}), _LENGTH),
    "MAX_LENGTH": (frozenset({_S}), _LENGTH),
    "MIN_NUMBER": (frozenset({_N}), frozenset({"number"})),
    "MAX_NUMBER": (frozenset({_N}), frozenset({"number"})),
    "DECIMAL": (frozenset({_N}), frozenset({"number"})),
    "ALPHANUMERIC": (frozenset({_S}), _TEXT),
    "SPECIAL_CHARACTERS": (frozenset({_S}), _TEXT),
    "REGEX": (frozenset({_S}), _TEXT),
    "FORMAT": (frozenset({_S}), _TEXT),
    "WHITESPACE": (frozenset({_S}), _SINGLE),
    "EMAIL": (frozenset({_S}), _SINGLE),
    "DOMAIN": (frozenset({_S}), _SINGLE),
    "URL": (frozenset({_S}), _SINGLE),
    "EMAIL_ALLOWED_DOMAINS": (frozenset({_S}), _SINGLE),
    "EMAIL_BLOCKED_DOMAINS": (frozenset({_S}), _SINGLE),
    "URL_ALLOWED_DOMAINS": (frozenset({_S}), _SINGLE),
    "URL_BLOCKED_DOMAINS": (frozenset({_S}), _SINGLE),
    "PHONE_NUMBER_WITH_EXPLICIT_COUNTRY_CODE": (frozenset({_S}), frozenset({"phonenumber"})),
    "START_DATE": (frozenset({_D}), frozenset({"date"})),
    "END_DATE": (frozenset({_D}), frozenset({"date"})),
    "AFTER_DURATION": (frozenset({_D}), frozenset({"date"})),
    "BEFORE_DURATION": (frozenset({_D}), frozenset({"date"})),
    "START_DATETIME": (frozenset({_DT}), frozenset({"date"})),
    "END_DATETIME": (frozenset({_DT}), frozenset({"date"})),
    "AFTER_DATETIME_DURATION": (frozenset({_DT}), frozenset({"date"})),
    "BEFORE_DATETIME_DURATION": (frozenset({_DT}), frozenset({"date"})),
    "DAYS_OF_WEEK": (frozenset({_D, _DT}), frozenset({"date"})),
}
assert set(RULE_TARGETS) == set(validation.RULE_TYPES)

Rule = tuple[str, tuple[str, ...]]

# -- rules -----------------------------------------------------------------------------------


def _split_args(rule_type: str, text: str) -> list[str]:
    text = text.strip()
    if not text:
        return []
    if text.startswith("["):
        try:
            parsed = json.loads(text)
        except json.JSONDecodeError as exc:
            if rule_type == "REGEX":  # a pattern such as [A-Z]+, not a JSON array
                return [text]
            raise UsageError(f"rule {rule_type}: arguments are not a JSON array: {exc}") from exc
        if not isinstance(parsed, list) or not all(
            isinstance(a, str | int | float) for a in parsed
        ):
            raise UsageError(f"rule {rule_type}: arguments must be a JSON array of strings")
        return [str(a) for a in parsed]
    if rule_type == "REGEX":
        return [text]  # the whole text is the pattern (it may contain commas and colons)
    return [a.strip() for a in text.split(",") if a.strip()]


def _count(rule_type: str, args: list[str], low: int, high: int) -> None:
    if not low <= len(args) <= high:
        wanted = str(low) if low == high else f"{low}-{high}"
        raise UsageError(
            f"rule {rule_type} takes {wanted} argument(s), got {len(args)}",
            next=Next(Action.EXAMPLE, {"input": "rule", "values": [RULE_EXAMPLES[rule_type]]}),
        )


def is_ascii_digits(text: str) -> bool:
    """Only 0-9 (``str.isdigit`` also takes ``²`` and other digits ``int`` refuses)."""
    return text.isascii() and text.isdigit()


def _int_arg(rule_type: str, text: str, low: int, high: int) -> str:
    try:
        value = int(text)
    except ValueError:
        raise UsageError(f'rule {rule_type}: "{text}" is not a whole number') from None
    if not low <= value <= high:
        raise UsageError(f"rule {rule_type}: {value} is not between {low} and {high}")
    return str(value)


def _number_arg(rule_type: str, text: str) -> str:
    try:
        value = Decimal(text)
    except InvalidOperation:
        value = Decimal("NaN")
    if not value.is_finite():
        raise UsageError(f'rule {rule_type}: "{text}" is not a number')
    return str(value)


def _choice(rule_type: str, text: str, choices: Sequence[str]) -> str:
    word = text.strip().upper()
    if word not in choices:
        raise UsageError(f'rule {rule_type}: "{text}" is not one of {", ".join(choices)}')
    return word


def _epoch_ms_arg(rule_type: str, text: str, *, date_only: bool) -> str:
    text = text.strip()
    if is_ascii_digits(text.removeprefix("-")):
        if len(text) > 20:  # far beyond any date (and int() refuses 4,300 digits)
            raise UsageError(f"rule {rule_type}: {text[:20]}… is out of range")
        ms = int(text)
    else:
        try:
            if date_only:
                day = dt.date.fromisoformat(text)
                moment = dt.datetime(day.year, day.month, day.day, tzinfo=dt.UTC)
            else:
                moment = dt.datetime.fromisoformat(text.replace("z", "Z"))
                if moment.tzinfo is None:
                    moment = moment.replace(tzinfo=dt.UTC)
        except ValueError:
            shape = "YYYY-MM-DD" if date_only else "an ISO datetime"
            raise UsageError(f'rule {rule_type}: "{text}" is not {shape} or epoch ms') from None
        ms = codec.datetime_to_ms(moment)
    if date_only and ms % 86_400_000:
        raise UsageError(f"rule {rule_type}: {ms} is not midnight UTC (date rules take days)")
    try:
        codec.ms_to_datetime(ms)
    except OverflowError:
        raise UsageError(f"rule {rule_type}: {text} is out of range") from None
    return str(ms)


def _period_arg(rule_type: str, text: str, *, with_time: bool) -> str:
    period = validation.parse_period(text.strip().upper())
    if period is None:
        raise UsageError(f'rule {rule_type}: "{text}" is not an ISO-8601 period such as P7D')
    if period.has_time and not with_time:
        raise UsageError(f"rule {rule_type}: date rules take days, weeks, months or years")
    if period.years > validation.PERIOD_MAX_YEARS:
        raise UsageError(
            f"rule {rule_type}: {text.strip()} is longer than {validation.PERIOD_MAX_YEARS} years"
        )
    return text.strip().upper()


def _weekday(text: str) -> str:
    word = text.strip().upper()
    for day in validation.WEEKDAYS:
        if word in (day, day[:3]):
            return day
    raise UsageError(
        f'rule DAYS_OF_WEEK: "{text}" is not a day of the week (MONDAY … SUNDAY or MON … SUN)'
    )


def _domain_args(rule_type: str, args: list[str]) -> list[str]:
    _count(rule_type, args, 1, 20)
    domains = [a.strip().lower() for a in args]
    for domain in domains:
        if not validation.is_domain(domain):
            raise UsageError(f'rule {rule_type}: "{domain}" is not a domain name')
    return list(dict.fromkeys(domains))


def _regex_args(args: list[str]) -> list[str]:
    _count("REGEX", args, 1, 2)
    pattern = args[0]
    if not pattern:
        raise UsageError("rule REGEX: the pattern is empty")
    compiled = validation.compile_regex(pattern)  # RE2, as HubSpot
    if compiled.groups:
        raise UsageError("rule REGEX: capture groups are not supported", hint="use (?:…) to group")
    return args


def _normalise_args(rule_type: str, args: list[str]) -> list[str]:
    t = rule_type
    if t in ("MIN_LENGTH", "MAX_LENGTH"):
        _count(t, args, 1, 1)
        return [_int_arg(t, args[0], 0 if t == "MIN_LENGTH" else 1,
                         65_536 if t == "MIN_LENGTH" else 10_000)]  # fmt: skip
    if t in ("MIN_NUMBER", "MAX_NUMBER"):
        _count(t, args, 1, 1)
        return [_number_arg(t, args[0])]
    if t == "DECIMAL":
        _count(t, args, 1, 1)
        return [_int_arg(t, args[0], 0, 20)]
    if t == "ALPHANUMERIC":
        _count(t, args, 1, 1)
        return [_choice(t, args[0], ("ALPHANUMERIC", "ALPHA_ONLY", "NUMERIC_ONLY"))]
    if t == "SPECIAL_CHARACTERS":
        _count(t, args, 0, 1)
        return [_choice(t, args[0] if args else "NOT_ALLOWED", ("NOT_ALLOWED",))]
    if t == "REGEX":
        return _regex_args(args)
    if t == "FORMAT":
        _count(t, args, 1, 1)
        return [_choice(t, args[0], ("CAPITALIZATION", "UPPER", "LOWER"))]
    if t == "WHITESPACE":
        _count(t, args, 0, 1)
        return [_choice(t, a, ("ALL", "TRIM")) for a in args]
    if t in ("EMAIL", "DOMAIN", "URL"):
        _count(t, args, 0, 0)
        return []
    if t.endswith("_DOMAINS"):
        return _domain_args(t, args)
    if t == "PHONE_NUMBER_WITH_EXPLICIT_COUNTRY_CODE":
        _count(t, args, 0, 1)
        codes = [a.strip().lower() for a in args]
        for code in codes:
            if code not in validation.CALLING_CODES:
                known = ", ".join(sorted(validation.CALLING_CODES))
                raise UsageError(f'rule {t}: unknown country code "{code}"; known: {known}')
        return codes
    if t in ("START_DATE", "END_DATE", "START_DATETIME", "END_DATETIME"):
        _count(t, args, 1, 1)
        return [_epoch_ms_arg(t, args[0], date_only="DATETIME" not in t)]
    if t.endswith("DURATION"):
        _count(t, args, 1, 1)
        return [_period_arg(t, args[0], with_time="DATETIME" in t)]
    assert t == "DAYS_OF_WEEK", t
    _count(t, args, 1, 7)
    days = {_weekday(a) for a in args}
    return [d for d in validation.WEEKDAYS if d in days]


def parse_rule(text: str) -> Rule:
    """``TYPE``, ``TYPE:a,b`` or ``TYPE:["a","b"]`` -> ``(TYPE, (args…))``, normalised as
    HubSpot's ``ruleArguments`` (dates as epoch ms, enum words upper case). ``REGEX:pattern``
    takes everything after the colon as the pattern; give a message with the JSON form
    ``REGEX:["^[A-Z]+$","use capitals"]`` (text after ``REGEX:`` that is not a JSON array is
    the pattern, so ``REGEX:[A-Z]+`` works too)."""
    head, _, rest = text.partition(":")
    rule_type = head.strip().upper()
    if rule_type not in RULE_TARGETS:
        raise UsageError(
            f'unknown rule type "{head.strip()}"', hint=f"one of: {', '.join(RULE_TARGETS)}"
        )
    return rule_type, tuple(_normalise_args(rule_type, _split_args(rule_type, rest)))


def check_rule_target(rule: Rule, prop_type: PropType, field_type: str) -> None:
    types, field_types = RULE_TARGETS[rule[0]]
    if prop_type in types and field_type in field_types:
        return
    targets = ", ".join(sorted(field_types))
    kinds = "/".join(t.value for t in sorted(types))
    raise UsageError(
        f"rule {rule[0]} does not apply to a {prop_type.value} property with field type "
        f"{field_type}; it applies to {kinds} ({targets})"
    )


def check_rules(rules: Iterable[Rule], prop_type: PropType, field_type: str) -> tuple[Rule, ...]:
    """Rules valid for the type, at most one per rule type, with consistent bounds."""
    by_type: dict[str, tuple[str, ...]] = {}
    for rule in rules:
        check_rule_target(rule, prop_type, field_type)
        if rule[0] in by_type:
            raise UsageError(f"rule {rule[0]} is given twice; a property has one rule per type")
        by_type[rule[0]] = rule[1]
    for low, high, convert in (
        ("MIN_LENGTH", "MAX_LENGTH", int),
        ("MIN_NUMBER", "MAX_NUMBER", Decimal),
        ("START_DATE", "END_DATE", int),
        ("START_DATETIME", "END_DATETIME", int),
    ):
        if low in by_type and high in by_type:
            if convert(by_type[low][0]) > convert(by_type[high][0]):
                raise UsageError(f"rule {low} is greater than {high}")
    return tuple(by_type.items())


RULE_EXAMPLES: dict[str, str] = {
    "MIN_LENGTH": "MIN_LENGTH:3",
    "MAX_LENGTH": "MAX_LENGTH:100",
    "MIN_NUMBER": "MIN_NUMBER:0",
    "MAX_NUMBER": "MAX_NUMBER:1000",
    "DECIMAL": "DECIMAL:2",
    "ALPHANUMERIC": "ALPHANUMERIC:NUMERIC_ONLY",
    "SPECIAL_CHARACTERS": "SPECIAL_CHARACTERS:NOT_ALLOWED",
    "REGEX": "'REGEX:^[A-Z]{2}-[0-9]+$'",
    "FORMAT": "FORMAT:UPPER",
    "WHITESPACE": "WHITESPACE:TRIM",
    "EMAIL": "EMAIL",
    "DOMAIN": "DOMAIN",
    "URL": "URL",
    "EMAIL_ALLOWED_DOMAINS": "EMAIL_ALLOWED_DOMAINS:acme.com,acme.io",
    "EMAIL_BLOCKED_DOMAINS": "EMAIL_BLOCKED_DOMAINS:gmail.com",
    "URL_ALLOWED_DOMAINS": "URL_ALLOWED_DOMAINS:acme.com",
    "URL_BLOCKED_DOMAINS": "URL_BLOCKED_DOMAINS:example.com",
    "PHONE_NUMBER_WITH_EXPLICIT_COUNTRY_CODE": "PHONE_NUMBER_WITH_EXPLICIT_COUNTRY_CODE:us",
    "START_DATE": "START_DATE:2026-01-01",
    "END_DATE": "END_DATE:2027-12-31",
    "START_DATETIME": "START_DATETIME:2026-01-01T00:00:00Z",
    "END_DATETIME": "END_DATETIME:2027-12-31T23:59:59Z",
    "AFTER_DURATION": "AFTER_DURATION:P7D",
    "BEFORE_DURATION": "BEFORE_DURATION:P1M",
    "AFTER_DATETIME_DURATION": "AFTER_DATETIME_DURATION:PT12H",
    "BEFORE_DATETIME_DURATION": "BEFORE_DATETIME_DURATION:P1Y",
    "DAYS_OF_WEEK": "DAYS_OF_WEEK:MON,TUE,WED,THU,FRI",
}


def describe_rule(rule: Rule) -> str:
    """A human reading of a rule, for ``view`` and ``--preview``."""
    t, args = rule
    a = args[0] if args else ""
    ms_date = codec.ms_to_date
    ms_time = codec.ms_to_datetime
    texts: dict[str, Callable[[], str]] = {
        "MIN_LENGTH": lambda: f"at least {a} characters",
        "MAX_LENGTH": lambda: f"at most {a} characters",
        "MIN_NUMBER": lambda: f"at least {a}",
        "MAX_NUMBER": lambda: f"at most {a}",
        "DECIMAL": lambda: f"at most {a} decimal places",
        "ALPHANUMERIC": lambda: {"ALPHANUMERIC": "letters and digits only",
                                 "ALPHA_ONLY": "letters only",
                                 "NUMERIC_ONLY": "digits only"}[a],
        "SPECIAL_CHARACTERS": lambda: "no special characters ($, %, & …)",
        "REGEX": lambda: f"matches {a}" + (f" ({args[1]})" if len(args) > 1 else ""),
        "FORMAT": lambda: {"UPPER": "upper case", "LOWER": "lower case",
                           "CAPITALIZATION": "every word capitalized"}[a],
        "WHITESPACE": lambda: "no leading or trailing whitespace" if a == "TRIM"
        else "no whitespace",
        "EMAIL": lambda: "an email address",
        "DOMAIN": lambda: "a domain name",
        "URL": lambda: "a URL",
        "EMAIL_ALLOWED_DOMAINS": lambda: f"an email address at {', '.join(args)}",
        "EMAIL_BLOCKED_DOMAINS": lambda: f"an email address not at {', '.join(args)}",
        "URL_ALLOWED_DOMAINS": lambda: f"a URL on {', '.join(args)}",
        "URL_BLOCKED_DOMAINS": lambda: f"a URL not on {', '.join(args)}",
        "PHONE_NUMBER_WITH_EXPLICIT_COUNTRY_CODE": lambda: "a phone number with a +country code"
        + (f" ({a.upper()}, +{validation.CALLING_CODES[a]})" if a else ""),
        "START_DATE": lambda: f"on or after {ms_date(a).isoformat()}",
        "END_DATE": lambda: f"on or before {ms_date(a).isoformat()}",
        "START_DATETIME": lambda: f"at or after {ms_time(a).isoformat()}",
        "END_DATETIME": lambda: f"at or before {ms_time(a).isoformat()}",
        "AFTER_DURATION": lambda: f"at least {a} after today",
        "BEFORE_DURATION": lambda: f"at least {a} before today",
        "AFTER_DATETIME_DURATION": lambda: f"at least {a} after now",
        "BEFORE_DATETIME_DURATION": lambda: f"at least {a} before now",
        "DAYS_OF_WEEK": lambda: "on " + ", ".join(d.capitalize() for d in args),
    }  # fmt: skip
    return texts[t]()


def rule_text(rule: Rule) -> str:
    """The rule as ``--rule`` takes it back."""
    t, args = rule
    if not args:
        return t
    if t == "REGEX" and len(args) == 1 and not args[0].startswith("["):
        return f"{t}:{args[0]}"
    if t == "REGEX":
        return f"{t}:{json.dumps(list(args))}"
    if any("," in a for a in args):
        return f"{t}:{json.dumps(list(args))}"
    return f"{t}:{','.join(args)}"
