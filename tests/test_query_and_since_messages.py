"""Input mistakes said as typed: ``audit --since`` names the value given (never the "-" put
before an age) and takes hours (``12h``); ``~``/``!~`` with no word to look for is a usage
error (exit 2), not an empty answer."""

from __future__ import annotations

import json

import pytest

from tests.conftest import Invoke


def test_since_takes_hours_from_the_workspace_clock(
    seeded: Invoke, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SUBCTL_NOW", "2026-11-26T12:00:00Z")
    assert seeded("update 1 --set name=Renamed --yes").exit_code == 0
    monkeypatch.setenv("SUBCTL_NOW", "2026-11-26T14:00:00Z")  # two hours later
    recent = seeded("audit --since 3h -f json")
    assert recent.exit_code == 0, recent.stderr
    assert [row["verb"] for row in json.loads(recent.stdout)] == ["update"]
    assert seeded("audit --since 1H -f json").stdout == "[]\n"
    assert seeded("audit --since -3h -f json").stdout == recent.stdout


@pytest.mark.parametrize("typed", ["1x", "-1x", "yesterdayish"])
def test_a_bad_since_names_what_was_typed_and_the_accepted_forms(
    seeded: Invoke, typed: str
) -> None:
    bad = seeded(["audit", "--since", typed])
    assert (bad.exit_code, bad.stdout) == (2, "")
    assert bad.stderr.splitlines() == [
        f'Error: --since: "{typed}" is neither an age nor a date or time',
        "Hint: an age (12h, 7d, 2w, 3m, 1y), a date (2027-01-01) or a time (2027-01-01T12:00:00Z)",
    ]


@pytest.mark.parametrize(
    ("where", "error", "caret"),
    [
        ('name ~ ""', 'Error: "~" needs a word to look for at column 8 '
         '(for no value, use "name is empty")', "         ^^"),
        ("name !~ '*'", 'Error: "!~" needs a word to look for at column 9 '
         '(for no value, use "name is empty")', "          ^^^"),
    ],
)  # fmt: skip
def test_contains_with_no_word_is_a_usage_error(
    seeded: Invoke, where: str, error: str, caret: str
) -> None:
    bad = seeded(["filter", "--where", where])
    assert (bad.exit_code, bad.stdout) == (2, "")
    assert bad.stderr.splitlines() == [error, f"  {where}", caret]
    found = seeded(["filter", "--where", "name ~ acme", "--fields", "id", "--format", "csv"])
    assert (found.exit_code, found.stdout) == (0, "hs_object_id\n1\n")
