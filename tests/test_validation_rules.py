"""Every validation rule of DOMAIN.md §4, table-driven: a passing and a failing value each (through
``coerce_value``, the path of ``update --set``), and the parsing of rule arguments."""

from __future__ import annotations

import datetime as dt

import pytest

from subctl.errors import UsageError
from subctl.schema import Property, PropType
from subctl.services import properties as props
from subctl.services import validation
from subctl.services.values import coerce_value

pytestmark = pytest.mark.backends("sqlite", "postgresql")

TODAY = dt.date(2026, 11, 26)  # a Thursday, as the pinned test clock

S, N, D, DT = PropType.STRING, PropType.NUMBER, PropType.DATE, PropType.DATETIME

# rule as --rule takes it, type, field type, passing value, failing value, error fragment
CASES: list[tuple[str, PropType, str, str, str, str]] = [
    ("MIN_LENGTH:3", S, "text", "abc", "ab", 'x: "ab" is shorter than MIN_LENGTH 3'),
    ("MIN_LENGTH:3", S, "phonenumber", "+4512", "+4", "shorter than MIN_LENGTH 3"),
    ("MAX_LENGTH:5", S, "textarea", "abcde", "abcdef", 'x: "abcdef" is longer than MAX_LENGTH 5'),
    ("MIN_NUMBER:10", N, "number", "10", "5", "x: 5 is below MIN_NUMBER 10"),
    ("MAX_NUMBER:100", N, "number", "100", "100.5", "x: 100.5 is above MAX_NUMBER 100"),
    ("DECIMAL:2", N, "number", "1.50", "1.234",
     "x: 1.234 has more than 2 decimal places (DECIMAL 2)"),
    ("ALPHANUMERIC:ALPHANUMERIC", S, "text", "Abc 123", "ab-1", "(ALPHANUMERIC ALPHANUMERIC)"),
    ("ALPHANUMERIC:ALPHA_ONLY", S, "text", "Mary Ann", "R2D2",
     "has characters other than letters: 2 (ALPHANUMERIC ALPHA_ONLY)"),
    ("ALPHANUMERIC:NUMERIC_ONLY", S, "textarea", "12345", "12a", "(ALPHANUMERIC NUMERIC_ONLY)"),
    ("SPECIAL_CHARACTERS", S, "text", "St. John's, Inc-1", "50% off",
     'x: "50% off" has special characters: % (SPECIAL_CHARACTERS NOT_ALLOWED)'),
    ("REGEX:^[A-Z]{2}-[0-9]+$", S, "text", "DK-123", "dk-123",
     'x: "dk-123" does not match REGEX ^[A-Z]{2}-[0-9]+$'),
    ('REGEX:["^[A-Z]+$", "use capitals"]', S, "text", "ABC", "abc",
     'x: "abc": use capitals (REGEX)'),
    ("FORMAT:UPPER", S, "text", "ABC 1", "Abc", 'x: "Abc" is not upper case (FORMAT UPPER)'),
    ("FORMAT:LOWER", S, "textarea", "abc", "aBc", "(FORMAT LOWER)"),
    ("FORMAT:CAPITALIZATION", S, "text", "Ada Lovelace", "ada Lovelace",
     "is not capitalized (FORMAT CAPITALIZATION)"),
    ("WHITESPACE", S, "text", "abc", "a b", 'x: "a b" contains whitespace (WHITESPACE ALL)'),
    ("WHITESPACE:TRIM", S, "text", "a b", " ab",
     "has leading or trailing whitespace (WHITESPACE TRIM)"),
    ("EMAIL", S, "text", "ada@example.com", "ada@", 'x: "ada@" is not an email address (EMAIL)'),
    ("DOMAIN", S, "text", "acme.co.uk", "acme", 'x: "acme" is not a domain name (DOMAIN)'),
    ("URL", S, "text", "https://acme.com/pricing?x=1", "ftp://acme.com", "is not a URL (URL)"),
    ("URL", S, "text", "acme.com/path", "not a url", "is not a URL (URL)"),
    ("EMAIL_ALLOWED_DOMAINS:acme.com,acme.io", S, "text", "a@mail.acme.com", "a@gmail.com",
     'x: "a@gmail.com": gmail.com is not an allowed domain '
     "(EMAIL_ALLOWED_DOMAINS acme.com, acme.io)"),
    ("EMAIL_BLOCKED_DOMAINS:gmail.com", S, "text", "a@acme.com", "A@GMAIL.COM",
     "gmail.com is a blocked domain (EMAIL_BLOCKED_DOMAINS gmail.com)"),
    ("URL_ALLOWED_DOMAINS:acme.com", S, "text", "https://www.acme.com/x", "https://evil.com",
     "evil.com is not an allowed domain (URL_ALLOWED_DOMAINS acme.com)"),
    ("URL_BLOCKED_DOMAINS:example.com", S, "text", "https://acme.com", "http://example.com/x",
     "example.com is a blocked domain (URL_BLOCKED_DOMAINS example.com)"),
    ("PHONE_NUMBER_WITH_EXPLICIT_COUNTRY_CODE", S, "phonenumber", "+45 12 34 56 78", "12345678",
     "is not a phone number with a +country code (PHONE_NUMBER_WITH_EXPLICIT_COUNTRY_CODE)"),
    ("PHONE_NUMBER_WITH_EXPLICIT_COUNTRY_CODE:us", S, "phonenumber", "+1 (555) 123-4567",
     "+44 20 7946 0958", "is not a US number (+1) (PHONE_NUMBER_WITH_EXPLICIT_COUNTRY_CODE us)"),
    ("START_DATE:2026-01-01", D, "date", "2026-01-01", "2025-12-31",
     "x: 2025-12-31 is before START_DATE 2026-01-01"),
    ("END_DATE:1798675200000", D, "date", "2026-12-31", "2027-01-01",
     "x: 2027-01-01 is after END_DATE 2026-12-31"),
    ("START_DATETIME:2026-01-01T00:00:00Z", DT, "date", "2026-01-01T00:00:00Z",
     "2025-12-31T23:59:59Z", "is before START_DATETIME 2026-01-01T00:00:00Z"),
    ("END_DATETIME:2026-12-31T18:00:00+01:00", DT, "date", "2026-12-31T17:00:00Z",
     "2026-12-31T17:00:01Z", "is after END_DATETIME 2026-12-31T17:00:00Z"),
    ("AFTER_DURATION:P7D", D, "date", "2026-12-03", "+6d",
     "x: 2026-12-02 is earlier than 2026-12-03, P7D after today (AFTER_DURATION P7D)"),
    ("BEFORE_DURATION:P1M", D, "date", "2026-10-26", "2026-10-27",
     "is later than 2026-10-26, P1M before today (BEFORE_DURATION P1M)"),
    ("AFTER_DATETIME_DURATION:PT12H", DT, "date", "2026-11-26T12:00:00Z", "2026-11-26T11:59:59Z",
     "PT12H after now (AFTER_DATETIME_DURATION PT12H)"),
    ("BEFORE_DATETIME_DURATION:P1Y", DT, "date", "2025-11-26T00:00:00Z", "2025-11-26T00:00:01Z",
     "P1Y before now (BEFORE_DATETIME_DURATION P1Y)"),
    ("DAYS_OF_WEEK:MON,fri", D, "date", "2026-11-27", "today",
     "x: 2026-11-26 is a THURSDAY (DAYS_OF_WEEK MONDAY, FRIDAY)"),
    ("DAYS_OF_WEEK:SATURDAY", DT, "date", "2026-11-29T00:30:00+01:00", "2026-11-29T01:30:00+01:00",
     "x: 2026-11-29T00:30:00Z is a SUNDAY (DAYS_OF_WEEK SATURDAY)"),
]  # fmt: skip


def _prop(rule: str, ptype: PropType, field_type: str) -> Property:
    rules = props.check_rules([props.parse_rule(rule)], ptype, field_type)
    return Property("x", "X", ptype, field_type, hubspot_defined=False, rules=rules)


def test_every_rule_type_is_covered() -> None:
    covered = {props.parse_rule(rule)[0] for rule, *_ in CASES}
    assert covered == set(validation.RULE_TYPES) == set(props.RULE_TARGETS)


@pytest.mark.parametrize(
    ("rule", "ptype", "field_type", "good", "bad", "message"), CASES, ids=[c[0] for c in CASES]
)
def test_rule_passes_and_fails(
    rule: str, ptype: PropType, field_type: str, good: str, bad: str, message: str
) -> None:
    prop = _prop(rule, ptype, field_type)
    assert coerce_value(prop, good, today=TODAY) is not None
    with pytest.raises(UsageError) as info:
        coerce_value(prop, bad, today=TODAY)
    assert message in info.value.message
    assert info.value.message.startswith("x: ")
    assert coerce_value(prop, "", today=TODAY) is None  # clearing passes every rule


def test_every_rule_is_checked_and_the_first_broken_one_is_reported() -> None:
    prop = Property("code", "Code", S, "text", hubspot_defined=False,
                    rules=(("MIN_LENGTH", ("3",)), ("FORMAT", ("UPPER",))))  # fmt: skip
    assert validation.problems(prop, "ab", today=TODAY) == [
        '"ab" is shorter than MIN_LENGTH 3',
        '"ab" is not upper case (FORMAT UPPER)',
    ]
    with pytest.raises(UsageError, match=r'^code: "ab" is shorter than MIN_LENGTH 3$'):
        validation.check(prop, "ab", today=TODAY)


def test_datetime_durations_count_from_now_when_given() -> None:
    prop = _prop("AFTER_DATETIME_DURATION:PT1H", DT, "date")
    now = dt.datetime(2026, 11, 26, 15, 0, tzinfo=dt.UTC)
    value = dt.datetime(2026, 11, 26, 15, 30, tzinfo=dt.UTC)
    assert validation.problems(prop, value, today=TODAY) == []  # from midnight
    assert validation.problems(prop, value, today=TODAY, now=now)  # from 15:00


def test_regex_limits_values_to_1000_characters() -> None:
    prop = _prop("REGEX:^a+$", S, "text")
    assert coerce_value(prop, "a" * 1000, today=TODAY)
    with pytest.raises(UsageError, match="limited to 1000 characters"):
        coerce_value(prop, "a" * 1001, today=TODAY)


# -- parsing rule arguments ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("min_length:3", ("MIN_LENGTH", ("3",))),
        ("MIN_NUMBER: -1.50", ("MIN_NUMBER", ("-1.50",))),
        ("SPECIAL_CHARACTERS", ("SPECIAL_CHARACTERS", ("NOT_ALLOWED",))),
        ("WHITESPACE", ("WHITESPACE", ())),
        ("ALPHANUMERIC:alpha_only", ("ALPHANUMERIC", ("ALPHA_ONLY",))),
        ("REGEX:^[a-z]{1,3},x:y$", ("REGEX", ("^[a-z]{1,3},x:y$",))),
        ("REGEX:[A-Z]+", ("REGEX", ("[A-Z]+",))),
        ('REGEX:["^(?:a|b)$", "a or b"]', ("REGEX", ("^(?:a|b)$", "a or b"))),
        ("EMAIL_ALLOWED_DOMAINS:ACME.com, acme.io,acme.com",
         ("EMAIL_ALLOWED_DOMAINS", ("acme.com", "acme.io"))),
        ("PHONE_NUMBER_WITH_EXPLICIT_COUNTRY_CODE:DK",
         ("PHONE_NUMBER_WITH_EXPLICIT_COUNTRY_CODE", ("dk",))),
        ("START_DATE:2026-01-01", ("START_DATE", ("1767225600000",))),
        ("START_DATE:1767225600000", ("START_DATE", ("1767225600000",))),
        ("END_DATETIME:2026-01-01T01:00:00+01:00", ("END_DATETIME", ("1767225600000",))),
        ("AFTER_DURATION:p2w", ("AFTER_DURATION", ("P2W",))),
        ("BEFORE_DATETIME_DURATION:P1DT12H", ("BEFORE_DATETIME_DURATION", ("P1DT12H",))),
        ("DAYS_OF_WEEK:fri,Mon,MONDAY", ("DAYS_OF_WEEK", ("MONDAY", "FRIDAY"))),
    ],
)  # fmt: skip
def test_parse_rule_normalises_arguments(text: str, expected: props.Rule) -> None:
    assert props.parse_rule(text) == expected


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("LENGTH:3", 'unknown rule type "LENGTH"'),
        ("MIN_LENGTH", "takes 1 argument(s), got 0"),
        ("MIN_LENGTH:x", '"x" is not a whole number'),
        ("MAX_LENGTH:0", "0 is not between 1 and 10000"),
        ("MAX_LENGTH:10001", "10001 is not between 1 and 10000"),
        ("MIN_NUMBER:ten", '"ten" is not a number'),
        ("MAX_NUMBER:inf", '"inf" is not a number'),
        ("DECIMAL:21", "21 is not between 0 and 20"),
        ("ALPHANUMERIC:LETTERS", '"LETTERS" is not one of ALPHANUMERIC, ALPHA_ONLY, NUMERIC_ONLY'),
        ("SPECIAL_CHARACTERS:ALLOWED", "is not one of NOT_ALLOWED"),
        ("REGEX:", "takes 1-2 argument(s), got 0"),
        ("REGEX:^(a|b)$", "capture groups are not supported"),
        ("REGEX:[a-", "invalid pattern"),
        ("REGEX:a(", "invalid pattern"),
        ("REGEX:[\"a\", \"b\", \"c\"]", "takes 1-2 argument(s), got 3"),
        ("FORMAT:TITLE", "is not one of CAPITALIZATION, UPPER, LOWER"),
        ("WHITESPACE:SOME", "is not one of ALL, TRIM"),
        ("EMAIL:x", "takes 0 argument(s), got 1"),
        ("EMAIL_ALLOWED_DOMAINS", "takes 1-20 argument(s), got 0"),
        ("URL_BLOCKED_DOMAINS:" + ",".join(f"d{i}.com" for i in range(21)), "got 21"),
        ("EMAIL_BLOCKED_DOMAINS:not a domain", '"not a domain" is not a domain name'),
        ("PHONE_NUMBER_WITH_EXPLICIT_COUNTRY_CODE:zz", 'unknown country code "zz"'),
        ("START_DATE:2026-13-01", 'is not YYYY-MM-DD or epoch ms'),
        ("START_DATE:1", "is not midnight UTC"),
        ("END_DATETIME:tomorrow", "is not an ISO datetime or epoch ms"),
        ("AFTER_DURATION:7D", 'is not an ISO-8601 period such as P7D'),
        ("AFTER_DURATION:PT1H", "date rules take days, weeks, months or years"),
        ("BEFORE_DURATION:P", "is not an ISO-8601 period"),
        ("DAYS_OF_WEEK:FUNDAY", '"FUNDAY" is not a day of the week'),
        ("DAYS_OF_WEEK:[1,", "arguments are not a JSON array"),
    ],
)  # fmt: skip
def test_parse_rule_refuses_bad_arguments(text: str, message: str) -> None:
    with pytest.raises(UsageError) as info:
        props.parse_rule(text)
    assert message in info.value.message


@pytest.mark.parametrize(
    ("rule", "ptype", "field_type"),
    [
        ("MIN_NUMBER:1", S, "text"),
        ("MIN_LENGTH:1", N, "number"),
        ("MIN_LENGTH:1", S, "html"),
        ("EMAIL", S, "textarea"),
        ("PHONE_NUMBER_WITH_EXPLICIT_COUNTRY_CODE", S, "text"),
        ("REGEX:a", S, "phonenumber"),
        ("START_DATE:2026-01-01", DT, "date"),
        ("START_DATETIME:0", D, "date"),
        ("DECIMAL:2", N, "calculation_equation"),
        ("DAYS_OF_WEEK:MON", PropType.ENUMERATION, "select"),
    ],
)
def test_rules_apply_only_to_their_types(rule: str, ptype: PropType, field_type: str) -> None:
    with pytest.raises(UsageError, match="does not apply to"):
        props.check_rules([props.parse_rule(rule)], ptype, field_type)


def test_rules_are_one_per_type_with_consistent_bounds() -> None:
    with pytest.raises(UsageError, match="MIN_LENGTH is given twice"):
        props.check_rules([("MIN_LENGTH", ("1",)), ("MIN_LENGTH", ("2",))], S, "text")
    with pytest.raises(UsageError, match="MIN_NUMBER is greater than MAX_NUMBER"):
        props.check_rules([("MIN_NUMBER", ("10",)), ("MAX_NUMBER", ("9.5",))], N, "number")


@pytest.mark.parametrize("rule", [c[0] for c in CASES])
def test_rule_text_round_trips_and_every_rule_is_described(rule: str) -> None:
    parsed = props.parse_rule(rule)
    assert props.parse_rule(props.rule_text(parsed)) == parsed
    assert props.describe_rule(parsed)


# -- regressions -------------------------------------------------------------------------------


def test_regex_rules_use_re2_and_never_backtrack() -> None:
    import time

    prop = _prop("REGEX:(?:a+)+b", S, "text")
    started = time.monotonic()
    with pytest.raises(UsageError, match="does not match REGEX"):
        coerce_value(prop, "a" * 32, today=TODAY)  # catastrophic for a backtracking engine
    assert time.monotonic() - started < 1
    assert coerce_value(prop, "aab", today=TODAY) == "aab"
    # RE2 semantics: \d is ASCII digits
    digits = _prop(r"REGEX:\d+", S, "text")
    assert coerce_value(digits, "123", today=TODAY) == "123"
    with pytest.raises(UsageError, match="does not match REGEX"):
        coerce_value(digits, "١٢٣", today=TODAY)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("REGEX:(?=a)a", "invalid pattern (RE2): invalid perl operator: (?="),
        (r"REGEX:(?:a)\1", r"invalid pattern (RE2): invalid escape sequence: \1"),
        ("REGEX:a{1001}", "invalid pattern (RE2): invalid repetition size: {1001}"),
        ("REGEX:(?P<x>a)", "capture groups are not supported"),
    ],
)
def test_patterns_re2_refuses_are_refused(text: str, message: str) -> None:
    with pytest.raises(UsageError) as info:
        props.parse_rule(text)
    assert message in info.value.message


def test_a_stored_pattern_re2_refuses_fails_its_rule() -> None:
    prop = Property("x", "X", S, "text", hubspot_defined=False, rules=(("REGEX", ("(?=a)a",)),))
    assert validation.problems(prop, "a", today=TODAY) == [
        "the rule cannot be checked: rule REGEX: invalid pattern (RE2): invalid perl operator: "
        "(?=; edit the rule (REGEX)"
    ]


@pytest.mark.parametrize(
    "text",
    ["START_DATE:²", "START_DATE:-²", "END_DATETIME:--5", "START_DATE:" + "9" * 5000],
)
def test_epoch_ms_arguments_are_ascii_digits(text: str) -> None:
    with pytest.raises(UsageError):
        props.parse_rule(text)


@pytest.mark.parametrize(
    ("text", "ok"),
    [
        ("AFTER_DURATION:P100Y", True),
        ("BEFORE_DURATION:P36500D", True),
        ("AFTER_DURATION:P101Y", False),
        ("AFTER_DURATION:P9000Y", False),
        ("BEFORE_DURATION:P1200M1D", False),
        ("AFTER_DATETIME_DURATION:PT100000H", True),
    ],
)
def test_duration_periods_are_capped(text: str, ok: bool) -> None:
    if ok:
        props.parse_rule(text)
        return
    with pytest.raises(UsageError, match="is longer than 100 years"):
        props.parse_rule(text)


@pytest.mark.parametrize(
    ("rule", "value"),
    [
        ("AFTER_DURATION", dt.date(2027, 1, 1)),
        ("BEFORE_DURATION", dt.date(2027, 1, 1)),
        ("AFTER_DATETIME_DURATION", dt.datetime(2027, 1, 1, tzinfo=dt.UTC)),
        ("BEFORE_DATETIME_DURATION", dt.datetime(2027, 1, 1, tzinfo=dt.UTC)),
    ],
)
def test_a_stored_period_beyond_the_calendar_fails_its_rule(rule: str, value: dt.date) -> None:
    ptype = DT if "DATETIME" in rule else D
    prop = Property("x", "X", ptype, "date", hubspot_defined=False, rules=((rule, ("P9000Y",)),))
    found = validation.problems(prop, value, today=TODAY)
    assert len(found) == 1 and f"that is beyond the calendar ({rule} P9000Y)" in found[0]


CASES_BY_RULE = {c[0]: c for c in CASES}


@pytest.mark.parametrize(
    "rule",
    ["MIN_LENGTH:3", "MAX_NUMBER:100", "DECIMAL:2", "ALPHANUMERIC:ALPHA_ONLY", "SPECIAL_CHARACTERS",
     "REGEX:^[A-Z]{2}-[0-9]+$", "FORMAT:UPPER", "EMAIL", "EMAIL_ALLOWED_DOMAINS:acme.com,acme.io",
     "URL_BLOCKED_DOMAINS:example.com", "PHONE_NUMBER_WITH_EXPLICIT_COUNTRY_CODE:us",
     "START_DATE:2026-01-01", "END_DATETIME:2026-12-31T18:00:00+01:00", "AFTER_DURATION:P7D",
     "DAYS_OF_WEEK:MON,fri"],
)  # fmt: skip
def test_messages_mask_highly_sensitive_values(rule: str) -> None:
    from dataclasses import replace

    from subctl.services.masking import MASK

    _, ptype, field_type, _, bad, _ = CASES_BY_RULE[rule]
    prop = replace(_prop(rule, ptype, field_type), sensitivity="highly_sensitive")
    shown = _prop(rule, ptype, field_type)
    with pytest.raises(UsageError) as plain:
        coerce_value(shown, bad, today=TODAY)
    with pytest.raises(UsageError) as masked:
        coerce_value(prop, bad, today=TODAY)
    assert masked.value.message.startswith(f"x: {MASK}")
    value = str(plain.value.message).split(" ")[1].strip('":')  # the value as quoted
    assert value not in masked.value.message
    if rule.startswith("EMAIL_ALLOWED") or rule.startswith("URL_BLOCKED"):
        assert "gmail.com is" not in masked.value.message
        assert "example.com is" not in masked.value.message
    if rule.startswith("DAYS_OF_WEEK"):
        assert "THURSDAY" not in masked.value.message
