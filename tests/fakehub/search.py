"""CRM search semantics (DOMAIN.md §3), written independently of subctl's compilers but to the
same rules as the SQL store (``subctl.store.sql.compiler``'s docstring):

- a filter never matches a record without a value, except ``NEQ``, ``NOT_IN`` and
  ``NOT_CONTAINS_TOKEN`` (and ``NOT_HAS_PROPERTY``), which do;
- strings compare case-insensitively, except ``IN``/``NOT_IN`` values, which HubSpot requires
  lower case (an upper-case value in an ``IN`` list matches nothing, as in HubSpot);
  enumerations compare exactly (case-sensitive);
- multiple-checkbox enumerations (``;``-joined): ``EQ``/``IN`` match a record holding any of the
  options given, ``NEQ``/``NOT_IN`` their complement;
- ``CONTAINS_TOKEN`` matches a whole word, ``*`` a wildcard within the word; words are
  separated by white space and ``,;:!?()[]{}"'`` (the SQL store's ``TOKEN_SEPARATORS``);
- ``associations.<object>`` with ``EQ`` matches records associated with that record.

A malformed filter raises ``BadFilter`` (a 400 VALIDATION_ERROR).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import Any

from tests.fakehub.objects import PropDef, decimal, instant_ms

TOKEN_SEPARATORS = " \t\r\n,;:!?()[]{}\"'"
OPERATORS = frozenset(
    {
        "EQ", "NEQ", "LT", "LTE", "GT", "GTE", "BETWEEN", "IN", "NOT_IN", "HAS_PROPERTY",
        "NOT_HAS_PROPERTY", "CONTAINS_TOKEN", "NOT_CONTAINS_TOKEN",
    }
)  # fmt: skip
_NEGATIVE = frozenset({"NEQ", "NOT_IN", "NOT_CONTAINS_TOKEN"})


class BadFilter(ValueError):
    pass


@functools.lru_cache(maxsize=256)
def token_pattern(token: str) -> re.Pattern[str]:
    word = "[^" + re.escape(TOKEN_SEPARATORS) + "]*"
    body = word.join(re.escape(part) for part in token.lower().split("*"))
    edge = "[" + re.escape(TOKEN_SEPARATORS) + "]"
    return re.compile(f"(?:^|{edge}){body}(?:$|{edge})")


def _key(prop: PropDef, text: str) -> Any:
    """The comparable form of a wire value for ``prop`` (a filter value or a stored one)."""
    if prop.type in ("date", "datetime"):
        ms = instant_ms(text)
        if ms is None:
            raise BadFilter(f"{text} is not a valid date or datetime for {prop.name}")
        return ms
    if prop.type == "number":
        number = decimal(text)
        if number is None:
            raise BadFilter(f"{text} is not a valid number for {prop.name}")
        return number
    if prop.type == "bool":
        return text.strip().lower()
    if prop.type == "enumeration":
        return text
    return text.lower()


def sort_key(prop: PropDef, stored: str) -> Any:
    """Sort order of stored values: numbers and dates by value, text by code point (as the SQL
    store's ``ORDER BY`` on SQLite)."""
    if prop.type in ("date", "datetime"):
        return int(stored)
    if prop.type == "number":
        return decimal(stored) or Decimal(0)
    return stored


Matcher = Callable[[Mapping[str, str], int], bool]


def compile_filter(
    f: Mapping[str, Any],
    props: Mapping[str, PropDef],
    associated: Callable[[str, int], set[int]],
) -> Matcher:
    """A predicate over (stored properties, record id) for one filter of a filter group;
    ``associated(object, id)``: ids of the records associated with that record."""
    if not isinstance(f, Mapping):
        raise BadFilter("a filter is an object")
    name = f.get("propertyName")
    op = f.get("operator")
    if not isinstance(name, str) or op not in OPERATORS:
        raise BadFilter(f"invalid filter: propertyName and one of {sorted(OPERATORS)} needed")
    for key in ("value", "highValue"):
        if key in f and not isinstance(f[key], str):
            raise BadFilter(f"filter {key} must be a string")
    if "values" in f and (
        not isinstance(f["values"], list) or not all(isinstance(v, str) for v in f["values"])
    ):
        raise BadFilter("filter values must be an array of strings")
    if name.startswith("associations."):
        return _association_filter(name.removeprefix("associations."), op, f, associated)
    prop = props.get(name)
    if prop is None:
        raise BadFilter(f"Property {name} does not exist")
    value_ops = {"EQ", "NEQ", "LT", "LTE", "GT", "GTE", "CONTAINS_TOKEN", "NOT_CONTAINS_TOKEN"}
    if op in value_ops and "value" not in f:
        raise BadFilter(f"{op} needs a value")
    if op == "BETWEEN" and ("value" not in f or "highValue" not in f):
        raise BadFilter("BETWEEN needs value and highValue")
    if op in ("IN", "NOT_IN") and "values" not in f:
        raise BadFilter(f"{op} needs values")

    def test(present: Callable[[str], bool]) -> Matcher:
        negative = op in _NEGATIVE

        def match(stored: Mapping[str, str], _id: int) -> bool:
            raw = stored.get(prop.name)
            if raw is None:
                return negative
            return present(raw)

        return match

    if op == "HAS_PROPERTY":
        return lambda stored, _id: stored.get(prop.name) is not None
    if op == "NOT_HAS_PROPERTY":
        return lambda stored, _id: stored.get(prop.name) is None
    if op in ("CONTAINS_TOKEN", "NOT_CONTAINS_TOKEN"):
        pattern = token_pattern(f["value"])
        if op == "CONTAINS_TOKEN":
            return test(lambda raw: pattern.search(raw.lower()) is not None)
        return test(lambda raw: pattern.search(raw.lower()) is None)
    if prop.multi and op in ("EQ", "NEQ", "IN", "NOT_IN"):
        wanted = {f["value"]} if op in ("EQ", "NEQ") else set(f["values"])
        if op in ("EQ", "IN"):
            return test(lambda raw: bool(wanted & set(raw.split(";"))))
        return test(lambda raw: not wanted & set(raw.split(";")))
    if op in ("IN", "NOT_IN"):
        if prop.type == "string":  # sent lower case, as HubSpot requires; stored folded
            keys = set(f["values"])
        else:
            keys = {_key(prop, v) for v in f["values"]}
        if op == "IN":
            return test(lambda raw: _key(prop, raw) in keys)
        return test(lambda raw: _key(prop, raw) not in keys)
    if op == "BETWEEN":
        low, high = _key(prop, f["value"]), _key(prop, f["highValue"])
        return test(lambda raw: low <= _key(prop, raw) <= high)
    value = _key(prop, f["value"])
    compare: dict[str, Callable[[Any], bool]] = {
        "EQ": lambda k: bool(k == value),
        "NEQ": lambda k: bool(k != value),
        "LT": lambda k: bool(k < value),
        "LTE": lambda k: bool(k <= value),
        "GT": lambda k: bool(k > value),
        "GTE": lambda k: bool(k >= value),
    }
    check = compare[op]
    return test(lambda raw: check(_key(prop, raw)))


def _association_filter(
    singular: str, op: str, f: Mapping[str, Any], associated: Callable[[str, int], set[int]]
) -> Matcher:
    if op != "EQ" or "value" not in f:
        raise BadFilter("associations.* filters take EQ with a record id")
    try:
        other = int(f["value"])
    except ValueError as exc:
        raise BadFilter(f"{f['value']} is not a record id") from exc
    ids = associated(singular, other)
    return lambda _stored, sub_id: sub_id in ids
