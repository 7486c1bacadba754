"""Custom property definitions: the rules of HubSpot's Properties API (DOMAIN.md §4) applied to
the subscription object, the account tier's custom-property cap, and the permission that shows
highly sensitive values. Pure functions over a ``Store``; no typer, no rich.

**Definitions.** A custom property has an internal ``name`` (``^[a-z][a-z0-9_]*$``, at most
40 characters so that ``ix_subscriptions_cp_<name>`` stays within PostgreSQL's 63-character
identifiers; never ``hs_*``, HubSpot's prefix; never an existing property's name, alias or label,
nor a word of the query language), a ``label`` (unique among labels, names and aliases, since
queries resolve labels too), a ``type`` and a ``fieldType`` from ``FIELD_TYPES`` (the §4
matrix), a ``groupName`` (default ``subscriptioninformation``), options (enumerations only;
``LABEL[=value]``, the value defaulting to the label in snake case), validation rules
(``--rule TYPE[:args]``; see ``parse_rule`` and ``subctl.services.validation``), a
``dataSensitivity`` and ``hasUniqueValue`` (text and number properties only, at most
``UNIQUE_LIMIT`` per object, and fixed once created, as in HubSpot).

Calculated properties (``calculation_equation``) can be defined, but subctl does not evaluate
formulas: their values are read-only. Multiple-checkbox enumerations (``checkbox``) hold
``;``-separated option values.

**Editing.** Label, description, group, field type (within the type), options, rules and
sensitivity can change; name, type and uniqueness cannot. HubSpot-defined properties are
read-only definitions. An option still used by subscriptions (alone or within a multiple-checkbox
value) cannot be removed (exit 5), nor can a multiple-checkbox property change field type while
a subscription holds several values. New rules apply to values set from then on; existing
values are not re-checked (HubSpot behaves the same way).

**Tier caps** (not established by HubSpot, DOMAIN.md §4): the workspace setting
``account_tier`` (``free``, ``starter``, ``professional``, ``enterprise``; default ``free``)
selects a cap on the number of custom properties: by default free 10, starter 100,
professional 1,000, enterprise 1,000, each overridable with the setting
``custom_property_cap.<tier>``. Over the cap, ``create`` fails (exit 5) with the usage, while
existing properties stay viewable, editable and deletable (HubSpot's downgrade rule). Sensitive
and highly sensitive properties require the enterprise tier to be created or raised to that
sensitivity; existing ones keep working after a downgrade.

**Permission** to show highly sensitive values (``--show-sensitive``): the workspace setting
``permissions``, a comma-separated list, must contain ``sensitive_data.view``. It is empty by
default and is granted with ``subctl property settings --grant sensitive_data.view``. On a local
workspace this is an advisory guard against accidental disclosure (whoever can write the
workspace file can grant it); the remote store will defer to HubSpot's own permissions.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, replace
from decimal import Decimal, InvalidOperation
from typing import Any

from subctl.errors import AuthError, Conflict, InvalidState, NotFound, UsageError
from subctl.query.ast import Condition, Op, Query
from subctl.schema import EPOCH, MULTI_VALUE, Option, Property, PropertyRegistry, PropType
from subctl.services import validation
from subctl.store.base import Store

# -- the type / fieldType matrix (DOMAIN.md §4) ---------------------------------------------

FIELD_TYPES: dict[PropType, tuple[str, ...]] = {
    PropType.BOOL: ("booleancheckbox", "calculation_equation"),
    PropType.ENUMERATION: ("booleancheckbox", "checkbox", "radio", "select",
                           "calculation_equation"),
    PropType.DATE: ("date",),
    PropType.DATETIME: ("date",),
    PropType.STRING: ("text", "textarea", "file", "html", "phonenumber", "calculation_equation"),
    PropType.NUMBER: ("number", "calculation_equation"),
}  # fmt: skip
DEFAULT_FIELD_TYPE: dict[PropType, str] = {
    PropType.BOOL: "booleancheckbox",
    PropType.ENUMERATION: "select",
    PropType.DATE: "date",
    PropType.DATETIME: "date",
    PropType.STRING: "text",
    PropType.NUMBER: "number",
}
ALL_FIELD_TYPES: tuple[str, ...] = tuple(
    dict.fromkeys(f for fs in FIELD_TYPES.values() for f in fs)
)
FIELD_TYPE_LABELS: dict[str, str] = {
    "text": "Single-line text",
    "textarea": "Multi-line text",
    "file": "File",
    "html": "Rich text",
    "phonenumber": "Phone number",
    "number": "Number",
    "date": "Date picker",
    "booleancheckbox": "Single checkbox",
    "checkbox": "Multiple checkboxes",
    "radio": "Radio select",
    "select": "Dropdown select",
    "calculation_equation": "Calculation",
}
CALCULATED = "calculation_equation"

SENSITIVITIES = ("non_sensitive", "sensitive", "highly_sensitive")
DEFAULT_GROUP = "subscriptioninformation"
NAME_MAX = 40
LABEL_MAX = 100
OPTION_LIMIT = 1000
UNIQUE_LIMIT = 10  # HubSpot: at most 10 unique-value properties per object
NAME_PATTERN = re.compile(r"^[a-z][a-z0-9_]*$")
RESERVED_NAMES = frozenset(
    {"and", "or", "not", "has", "in", "is", "between", "empty", "associations", "id"}
)

# -- tiers, caps, permissions ------------------------------------------------------------------

TIERS = ("free", "starter", "professional", "enterprise")
DEFAULT_TIER = "free"
DEFAULT_CAPS: dict[str, int] = {"free": 10, "starter": 100, "professional": 1000,
                                "enterprise": 1000}  # fmt: skip
SENSITIVE_TIER = "enterprise"
TIER_KEY = "account_tier"
CAP_KEY = "custom_property_cap.{tier}"
PERMISSIONS_KEY = "permissions"
SENSITIVE_VIEW = "sensitive_data.view"
KNOWN_PERMISSIONS = (SENSITIVE_VIEW,)

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


# -- type / fieldType ------------------------------------------------------------------------


def check_field_type(prop_type: PropType, field_type: str) -> str:
    """The field type, if it goes with the type (the §4 matrix); else a usage error listing the
    valid ones."""
    valid = FIELD_TYPES[prop_type]
    if field_type not in valid:
        raise UsageError(
            f'field type "{field_type}" does not go with type {prop_type.value}; '
            f"valid field types for {prop_type.value}: {', '.join(valid)}"
        )
    return field_type


def is_calculated(prop: Property) -> bool:
    return not prop.hubspot_defined and prop.field_type == CALCULATED


# -- names, labels, groups -------------------------------------------------------------------


def check_name(name: str, registry: PropertyRegistry) -> str:
    if not NAME_PATTERN.match(name):
        raise UsageError(
            f'invalid property name "{name}": use lower-case letters, digits and underscores, '
            "starting with a letter (e.g. subscription_tier)"
        )
    if len(name) > NAME_MAX:
        raise UsageError(f'property name "{name}" is longer than {NAME_MAX} characters')
    if name.startswith("hs_"):
        raise UsageError(f'property name "{name}" uses the prefix hs_, reserved for HubSpot')
    if name in RESERVED_NAMES:
        raise UsageError(f'"{name}" is a reserved word of the query language; choose another name')
    existing = registry.get(name)
    if existing is not None and existing.name == name:
        raise Conflict(f"property {name} already exists", hint=f"see `subctl property view {name}`")
    if existing is not None:
        raise UsageError(
            f'property name "{name}" is already used by {existing.name} ({existing.label}) '
            "as a name, alias or label"
        )
    return name


def check_label(label: str, registry: PropertyRegistry, own: str | None = None) -> str:
    label = label.strip()
    if not label:
        raise UsageError("the label cannot be empty")
    if len(label) > LABEL_MAX:
        raise UsageError(f"the label is longer than {LABEL_MAX} characters")
    control = validation.control_problem(label)
    if control:
        raise UsageError(f"the label: {control}")
    existing = registry.get(label)
    if existing is not None and existing.name != own:
        raise UsageError(
            f'label "{label}" is already used by {existing.name} ({existing.label}) '
            "as a name, alias or label"
        )
    return label


def check_group(group: str) -> str:
    if not NAME_PATTERN.match(group):
        raise UsageError(
            f'invalid group name "{group}": use lower-case letters, digits and underscores'
        )
    return group


def check_sensitivity(value: str) -> str:
    if value not in SENSITIVITIES:
        raise UsageError(f'invalid sensitivity "{value}"; one of: {", ".join(SENSITIVITIES)}')
    return value


# -- options ---------------------------------------------------------------------------------


def option_value(label: str) -> str:
    """The internal value for a label: snake case ("Pro plan" -> "pro_plan")."""
    return re.sub(r"[^0-9a-z]+", "_", label.casefold()).strip("_")


def parse_option(text: str) -> Option:
    """``LABEL`` or ``LABEL=value``."""
    label, eq, value = text.partition("=")
    label, value = label.strip(), value.strip()
    if not label:
        raise UsageError(f'option "{text}" has no label; use LABEL or LABEL=value')
    if not eq:
        value = option_value(label)
        if not value:
            raise UsageError(f'option "{label}" needs an explicit value: "{label}=value"')
    if not value:
        raise UsageError(f'option "{text}" has an empty value')
    if ";" in value:
        raise UsageError(f'option value "{value}" cannot contain ";" (the multi-value separator)')
    return Option(label=label, value=value)


def check_options(options: Sequence[Option]) -> tuple[Option, ...]:
    if len(options) > OPTION_LIMIT:
        raise UsageError(f"at most {OPTION_LIMIT} options")
    labels: set[str] = set()
    values: set[str] = set()
    for option in options:
        if option.value in values:
            raise UsageError(f'option value "{option.value}" is given twice')
        if option.label.casefold() in labels:
            raise UsageError(f'option label "{option.label}" is given twice')
        values.add(option.value)
        labels.add(option.label.casefold())
    return tuple(options)


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
            hint=f"e.g. --rule {RULE_EXAMPLES[rule_type]}",
        )


def _is_ascii_digits(text: str) -> bool:
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
    if _is_ascii_digits(text.removeprefix("-")):
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
        ms = (moment - EPOCH) // dt.timedelta(milliseconds=1)
    if date_only and ms % 86_400_000:
        raise UsageError(f"rule {rule_type}: {ms} is not midnight UTC (date rules take days)")
    try:
        validation.ms_to_datetime(str(ms))
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
    ms_date = validation.ms_to_date
    ms_time = validation.ms_to_datetime
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


# -- building definitions --------------------------------------------------------------------


@dataclass
class PropertySpec:
    """``property create``'s options, as given (texts are parsed and checked by ``build``)."""

    name: str
    label: str
    type: PropType
    field_type: str | None = None
    group: str | None = None
    description: str = ""
    options: Sequence[str] = ()
    rules: Sequence[str] = ()
    sensitivity: str = "non_sensitive"
    unique: bool = False


def build(spec: PropertySpec, registry: PropertyRegistry) -> Property:
    """A checked ``Property`` from a spec (no store access besides the registry)."""
    name = check_name(spec.name.strip(), registry)
    label = check_label(spec.label, registry)
    field_type = check_field_type(spec.type, spec.field_type or DEFAULT_FIELD_TYPE[spec.type])
    options = check_options([parse_option(o) for o in spec.options])
    _check_options_for(spec.type, field_type, options)
    rules = check_rules([parse_rule(r) for r in spec.rules], spec.type, field_type)
    if spec.unique:
        _check_unique_type(spec.type, field_type)
    return Property(
        name=name,
        label=label,
        type=spec.type,
        field_type=field_type,
        options=options,
        description=spec.description.strip(),
        group=check_group(spec.group or DEFAULT_GROUP),
        hubspot_defined=False,
        sensitivity=check_sensitivity(spec.sensitivity),
        unique=spec.unique,
        rules=rules,
    )


def option_answer(prop_type: PropType, field_type: str, answer: str) -> list[str]:
    """Options given as one comma-separated answer (``LABEL`` or ``LABEL=value`` each),
    checked as ``--option`` values are."""
    texts = [text.strip() for text in answer.split(",") if text.strip()]
    _check_options_for(prop_type, field_type, check_options([parse_option(t) for t in texts]))
    return texts


def _check_options_for(prop_type: PropType, field_type: str, options: Sequence[Option]) -> None:
    if prop_type is not PropType.ENUMERATION:
        if options:
            raise UsageError(f"--option applies to enumeration properties, not {prop_type.value}")
        return
    if not options and field_type != CALCULATED:
        raise UsageError(
            "an enumeration needs at least one option",
            hint="e.g. --option Basic --option Professional --option Enterprise",
        )


def _check_unique_type(prop_type: PropType, field_type: str) -> None:
    if (prop_type, field_type) not in ((PropType.STRING, "text"), (PropType.NUMBER, "number")):
        raise UsageError("--unique applies to single-line text and number properties only")


# -- tiers and limits ------------------------------------------------------------------------


def account_tier(store: Store) -> str:
    tier = store.get_setting(TIER_KEY) or DEFAULT_TIER
    return tier if tier in TIERS else DEFAULT_TIER


def tier_cap(store: Store, tier: str) -> int:
    override = store.get_setting(CAP_KEY.format(tier=tier))
    if override and _is_ascii_digits(override):
        return int(override)
    return DEFAULT_CAPS[tier]


@dataclass(frozen=True)
class Limits:
    tier: str
    limit: int
    usage: int
    unique_usage: int

    @property
    def over(self) -> bool:
        return self.usage >= self.limit

    def describe(self) -> str:
        return f"{self.usage} of {self.limit} custom properties used ({self.tier} tier)"


def limits(store: Store) -> Limits:
    tier = account_tier(store)
    custom = store.properties().custom
    return Limits(tier, tier_cap(store, tier), len(custom), sum(p.unique for p in custom))


def _require_sensitive_tier(store: Store, sensitivity: str) -> None:
    tier = account_tier(store)
    if sensitivity != "non_sensitive" and tier != SENSITIVE_TIER:
        raise InvalidState(
            f"{sensitivity} properties require the {SENSITIVE_TIER} tier (this workspace: {tier})",
            hint=f"subctl property settings --tier {SENSITIVE_TIER}",
        )


def _require_room(store: Store, prop: Property) -> Limits:
    current = limits(store)
    if current.over:
        raise InvalidState(
            f"custom property limit reached: {current.describe()}",
            hint="delete a custom property or move to a higher tier "
            "(existing properties stay viewable and editable)",
        )
    if prop.unique and current.unique_usage >= UNIQUE_LIMIT:
        raise InvalidState(f"at most {UNIQUE_LIMIT} unique-value properties per object")
    return current


# -- create / preview / edit / delete ----------------------------------------------------------


def plan_create(store: Store, spec: PropertySpec) -> Property:
    """Every check ``create`` makes (definition, tier cap, sensitivity), without creating."""
    prop = build(spec, store.properties())
    _require_sensitive_tier(store, prop.sensitivity)
    _require_room(store, prop)
    return prop


def create(store: Store, spec: PropertySpec) -> tuple[Property, Limits]:
    prop = plan_create(store, spec)
    store.create_property(prop)
    return prop, limits(store)


@dataclass(frozen=True)
class SampleResult:
    text: str
    value: Any = None
    error: str | None = None

    @property
    def valid(self) -> bool:
        return self.error is None


def check_sample(
    prop: Property, text: str, today: dt.date, now: dt.datetime | None = None
) -> SampleResult:
    """Validate a sample value as ``update --set`` would (the article's "Example" tab); the
    value of a highly sensitive property is masked in the result, like everywhere else."""
    from subctl.services.masking import HIGHLY_SENSITIVE, MASK
    from subctl.services.values import coerce_value

    try:
        result = SampleResult(text, coerce_value(prop, text, today=today, now=now))
    except UsageError as exc:
        result = SampleResult(text, error=exc.message)
    if prop.sensitivity != HIGHLY_SENSITIVE:
        return result
    error = result.error.replace(text, MASK) if result.error and text else result.error
    return SampleResult(MASK, None if result.value is None else MASK, error)


def resolve(store: Store, name: str) -> Property:
    prop = store.properties().get(name)
    if prop is None:
        suggestion = store.properties().suggest(name)
        raise NotFound(
            f'property "{name}" not found',
            hint=f'did you mean "{suggestion}"?' if suggestion else "see `subctl property list`",
        )
    return prop


def _custom_only(prop: Property, verb: str) -> None:
    if prop.hubspot_defined:
        raise InvalidState(
            f"{prop.name} is a HubSpot-defined property; its definition is read-only",
            hint=f"only custom properties can be {verb}",
        )


@dataclass
class PropertyEdit:
    """``property edit``'s options; None / empty: unchanged."""

    label: str | None = None
    description: str | None = None
    group: str | None = None
    field_type: str | None = None
    options: Sequence[str] = ()  # add, or relabel an existing value
    remove_options: Sequence[str] = ()  # values or labels
    rules: Sequence[str] = ()  # set (replacing a rule of the same type)
    remove_rules: Sequence[str] = ()  # rule types
    clear_rules: bool = False
    sensitivity: str | None = None

    def empty(self) -> bool:
        return not (
            self.label is not None or self.description is not None or self.group is not None
            or self.field_type is not None or self.options or self.remove_options or self.rules
            or self.remove_rules or self.clear_rules or self.sensitivity is not None
        )  # fmt: skip


def _edited_options(prop: Property, edit: PropertyEdit) -> tuple[tuple[Option, ...], list[str]]:
    """The new option list and the removed values."""
    options = list(prop.options)
    removed: list[str] = []
    for text in edit.remove_options:
        match = next(
            (o for o in options if o.value == text or o.label.casefold() == text.casefold()), None
        )
        if match is None:
            raise UsageError(
                f'{prop.name} has no option "{text}"; options: {", ".join(prop.option_values())}'
            )
        options.remove(match)
        removed.append(match.value)
    for text in edit.options:
        new = parse_option(text)
        at = next((i for i, o in enumerate(options) if o.value == new.value), None)
        if at is None:
            options.append(new)
        else:
            options[at] = replace(options[at], label=new.label)
    return check_options(options), removed


def _edited_rules(prop: Property, edit: PropertyEdit) -> list[Rule]:
    rules = {} if edit.clear_rules else dict(prop.rules)
    for text in edit.remove_rules:
        rule_type = text.strip().upper()
        if rule_type not in rules:
            have = ", ".join(rules) or "none"
            raise UsageError(f"{prop.name} has no {rule_type} rule (its rules: {have})")
        del rules[rule_type]
    for text in edit.rules:
        rule_type, args = parse_rule(text)
        rules[rule_type] = args
    return list(rules.items())


def edit(store: Store, name: str, change: PropertyEdit) -> Property:
    """Apply an edit to a custom property; allowed over the tier cap (the downgrade rule)."""
    prop = resolve(store, name)
    _custom_only(prop, "edited")
    if change.empty():
        raise UsageError("nothing to change", hint="see `subctl property edit --help`")
    registry = store.properties()
    field_type = prop.field_type
    if change.field_type is not None:
        field_type = check_field_type(prop.type, change.field_type)
    options, removed = prop.options, list[str]()
    if change.options or change.remove_options:
        if prop.type is not PropType.ENUMERATION:
            raise UsageError(f"{prop.name} is a {prop.type.value} property; it has no options")
        options, removed = _edited_options(prop, change)
    _check_options_for(prop.type, field_type, options)
    rules = check_rules(_edited_rules(prop, change), prop.type, field_type)
    sensitivity = prop.sensitivity
    if change.sensitivity is not None:
        sensitivity = check_sensitivity(change.sensitivity)
        if SENSITIVITIES.index(sensitivity) > SENSITIVITIES.index(prop.sensitivity):
            _require_sensitive_tier(store, sensitivity)
    if prop.unique:
        _check_unique_type(prop.type, field_type)
    if removed:
        _check_options_unused(store, prop, removed)
    if prop.multi_value and field_type != MULTI_VALUE:
        several = sum(len(values) > 1 for values in _multi_values(store, prop))
        if several:
            raise InvalidState(
                f"cannot change {prop.name} to {field_type}: {several} subscription(s) have "
                "several values",
                hint=f"leave one value on each first; see "
                f"subctl list --where 'has {prop.name}' --fields id,{prop.name}",
            )
    updated = replace(
        prop,
        label=check_label(change.label, registry, own=prop.name)
        if change.label is not None
        else prop.label,
        description=change.description.strip()
        if change.description is not None
        else prop.description,
        group=check_group(change.group) if change.group is not None else prop.group,
        field_type=field_type,
        options=options,
        rules=rules,
        sensitivity=sensitivity,
    )
    store.update_property(updated)
    return updated


def _multi_values(store: Store, prop: Property) -> Iterator[set[str]]:
    """The option values of each subscription with a value for a multiple-checkbox property."""
    query = Query(where=Condition(prop.name, Op.HAS_PROPERTY))
    for sub in store.search(query, fields=[prop.name]):
        yield set(str(sub.properties[prop.name]).split(";"))


def _check_options_unused(store: Store, prop: Property, removed: Sequence[str]) -> None:
    """An option still used by subscriptions cannot be removed: with a multiple-checkbox
    property, a subscription uses every option in its ``;``-separated value."""
    if prop.multi_value:
        in_use = sum(bool(values.intersection(removed)) for values in _multi_values(store, prop))
        listing = f"subctl list --where 'has {prop.name}' --fields id,{prop.name}"
    else:
        in_use = store.count(Condition(prop.name, Op.IN, tuple(removed)))
        listing = f"subctl list --where '{prop.name} in ({', '.join(removed)})'"
    if in_use:
        raise InvalidState(
            f"cannot remove option(s) {', '.join(removed)} of {prop.name}: "
            f"{in_use} subscription(s) use them",
            hint=f"change those values first, e.g. {listing}",
        )


def usage_count(store: Store, prop: Property) -> int:
    """How many subscriptions have a value for the property."""
    return store.count(Condition(prop.name, Op.HAS_PROPERTY))


def plan_delete(store: Store, name: str) -> tuple[Property, int, list[str]]:
    """The custom property to delete, how many subscriptions have a value for it, and the
    saved views that use it. Deleting keeps those views: they fail with a clear error until
    they are saved again without it (views are the user's; nothing of theirs goes silently)."""
    from subctl.services.views import views_using

    prop = resolve(store, name)
    _custom_only(prop, "deleted")
    return prop, usage_count(store, prop), views_using(store, prop.name)


def delete(store: Store, prop: Property) -> None:
    store.delete_property(prop.name)


# -- documents -------------------------------------------------------------------------------


def document(prop: Property, *, usage: int | None = None) -> dict[str, Any]:
    """A property definition in the Properties API's shape (``property view --format json``)."""
    doc: dict[str, Any] = {
        "name": prop.name,
        "label": prop.label,
        "type": prop.type.value,
        "fieldType": prop.field_type,
        "groupName": prop.group,
        "description": prop.description,
        "options": [
            {"label": o.label, "value": o.value, "description": o.description,
             "displayOrder": i, "hidden": False}
            for i, o in enumerate(prop.options)
        ],
        "validationRules": [
            {"ruleType": t, "ruleArguments": list(args), "description": describe_rule((t, args))}
            for t, args in prop.rules
        ],
        "dataSensitivity": prop.sensitivity,
        "hasUniqueValue": prop.unique,
        "hubspotDefined": prop.hubspot_defined,
        "calculated": prop.field_type == CALCULATED,
        "modificationMetadata": {
            "archivable": not prop.hubspot_defined,
            "readOnlyDefinition": prop.hubspot_defined,
            "readOnlyValue": prop.read_only_value or prop.field_type == CALCULATED,
        },
        "aliases": list(prop.aliases),
    }  # fmt: skip
    if usage is not None:
        doc["usage"] = usage
    return doc


def list_row(prop: Property) -> dict[str, Any]:
    return {
        "name": prop.name,
        "label": prop.label,
        "type": prop.type.value,
        "fieldType": prop.field_type,
        "groupName": prop.group,
        "custom": not prop.hubspot_defined,
        "dataSensitivity": prop.sensitivity,
        "hasUniqueValue": prop.unique,
        "options": len(prop.options),
        "rules": ", ".join(t for t, _ in prop.rules),
    }


def list_properties(store: Store, *, custom_only: bool = False) -> list[Property]:
    props = list(store.properties())
    return [p for p in props if not (custom_only and p.hubspot_defined)]


def field_type_label(prop: Property) -> str:
    if prop.field_type == "date" and prop.type is PropType.DATETIME:
        return "Date and time picker"
    return FIELD_TYPE_LABELS.get(prop.field_type, prop.field_type)


# -- settings: tier, caps, permissions ---------------------------------------------------------


def permissions(store: Store) -> list[str]:
    raw = store.get_setting(PERMISSIONS_KEY) or ""
    return [p for p in (s.strip() for s in raw.split(",")) if p]


def require_sensitive_access(store: Store, doing: str = "showing highly sensitive values") -> None:
    """``--show-sensitive`` (and filtering or sorting on highly sensitive values) needs the
    ``sensitive_data.view`` permission (module docstring)."""
    if SENSITIVE_VIEW not in permissions(store):
        raise AuthError(
            f"{doing} requires the {SENSITIVE_VIEW} permission",
            hint=f"grant it with `subctl property settings --grant {SENSITIVE_VIEW}`",
        )


@dataclass
class SettingsChange:
    tier: str | None = None
    caps: Sequence[str] = ()  # "N" (the tier's) or "TIER=N" or "TIER=default"
    grant: Sequence[str] = ()
    revoke: Sequence[str] = ()

    def empty(self) -> bool:
        return self.tier is None and not (self.caps or self.grant or self.revoke)


def _parse_cap(text: str, tier: str) -> tuple[str, str]:
    name, eq, value = text.partition("=")
    if not eq:
        name, value = tier, text
    name, value = name.strip().lower(), value.strip().lower()
    if name not in TIERS:
        raise UsageError(f'unknown tier "{name}"; one of: {", ".join(TIERS)}')
    if value == "default":
        return name, ""
    if not _is_ascii_digits(value) or len(value) > 9:
        raise UsageError(f'--cap: "{text}" is not N, TIER=N or TIER=default')
    return name, str(int(value))


def change_settings(store: Store, change: SettingsChange) -> None:
    tier = account_tier(store)
    if change.tier is not None:
        tier = change.tier.strip().lower()
        if tier not in TIERS:
            raise UsageError(f'unknown tier "{change.tier}"; one of: {", ".join(TIERS)}')
    caps = [_parse_cap(c, tier) for c in change.caps]
    granted = permissions(store)
    for perm in [*change.grant, *change.revoke]:
        if perm not in KNOWN_PERMISSIONS:
            raise UsageError(f'unknown permission "{perm}"; known: {", ".join(KNOWN_PERMISSIONS)}')
    granted = [p for p in granted if p not in change.revoke]
    granted += [p for p in change.grant if p not in granted]
    if change.tier is not None:
        store.set_setting(TIER_KEY, tier)
    for name, value in caps:
        store.set_setting(CAP_KEY.format(tier=name), value)
    if change.grant or change.revoke:
        store.set_setting(PERMISSIONS_KEY, ",".join(granted))


def settings_document(store: Store) -> dict[str, Any]:
    """Tier, caps, usage (the shape of HubSpot's custom-property limits) and permissions."""
    current = limits(store)
    return {
        "tier": current.tier,
        "customProperties": {
            "usage": current.usage,
            "limit": current.limit,
            "percentage": round(100 * current.usage / current.limit, 1) if current.limit else 100.0,
            "canCreate": not current.over,
        },
        "uniqueProperties": {"usage": current.unique_usage, "limit": UNIQUE_LIMIT},
        "sensitiveData": current.tier == SENSITIVE_TIER,
        "caps": {t: tier_cap(store, t) for t in TIERS},
        "permissions": permissions(store),
    }
