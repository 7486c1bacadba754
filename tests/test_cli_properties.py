"""``subctl property …`` end to end, the article's upsell example, value validation through
``update --set``, tier caps and the downgrade rule, sensitivity and masking."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import VALID_PAIRS, Invoke, Terminal

pytestmark = pytest.mark.backends("sqlite", "postgresql")

TIER = ("property create --name subscription_tier --label 'Subscription tier' --type enumeration "
        "--option Basic --option Professional --option Enterprise")  # fmt: skip


def ok(invoke: Invoke, args: str) -> str:
    result = invoke(args)
    assert result.exit_code == 0, result.stderr
    return result.stdout


def ids(invoke: Invoke, args: str) -> list[int]:
    return [row["hs_object_id"] for row in json.loads(ok(invoke, args + " --fields id -f json"))]


# -- the article's upsell example ------------------------------------------------------------


def test_upsell_segment_end_to_end(demo: Invoke) -> None:
    result = demo(TIER)
    assert result.exit_code == 0, result.stderr
    assert "Created property subscription_tier (enumeration/select)" in result.stderr
    active = ids(demo, "list --where 'status = active and due > +3d and billable = on' --all")
    scheduled = ids(demo, "list --where 'status = scheduled and due > +3d and billable = on' --all")
    assert len(active) >= 15 and len(scheduled) >= 2
    basic_active, pro_active = active[:10], active[10:15]
    for chosen, value in ((basic_active + scheduled[:2], "Basic"), (pro_active, "professional")):
        result = demo(f"update {' '.join(map(str, chosen))} --set subscription_tier={value} "
                      "--yes -f json")  # fmt: skip
        assert result.exit_code == 0, result.stderr
    found = ids(demo, "list --where 'subscription_tier = basic and status = active' --all")
    assert sorted(found) == sorted(basic_active)
    by_label = ids(demo, "list --where '\"Subscription tier\" = Basic' --all")
    assert sorted(by_label) == sorted(basic_active + scheduled[:2])
    view = json.loads(ok(demo, f"view {basic_active[0]} -f json"))
    assert view["properties"]["subscription_tier"] == "basic"
    usage = json.loads(ok(demo, "property view subscription_tier -f json"))["usage"]
    assert usage == len(basic_active) + len(pro_active) + 2


def test_update_set_names_the_option_or_rule_it_breaks(seeded: Invoke) -> None:
    ok(seeded, TIER)
    ok(seeded, "property create --name code --label Code --type string "
               "--rule MIN_LENGTH:3 --rule 'REGEX:^[A-Z]+$'")  # fmt: skip
    result = seeded("update 1 --set subscription_tier=gold --yes")
    assert (result.exit_code, result.stderr.splitlines()[0]) == (
        2,
        'Error: subscription_tier: "gold" is not an option (basic, professional, enterprise)',
    )
    result = seeded("update 1 --set code=AB --yes")
    assert (result.exit_code, result.stderr.splitlines()[0]) == (
        2,
        'Error: code: "AB" is shorter than MIN_LENGTH 3',
    )
    result = seeded("update 1 --set code=abc --yes")
    assert result.stderr.startswith('Error: code: "abc" does not match REGEX ^[A-Z]+$')
    assert seeded("update 1 --set code=ABC --yes").exit_code == 0


@pytest.mark.backends("sqlite")  # reads SQLite's EXPLAIN QUERY PLAN
def test_custom_property_filters_use_their_index(seeded: Invoke, subctl_home: Path) -> None:
    from subctl.store.sql import open_local, sqlite_url
    from tests.test_query_plan import plan

    ok(seeded, TIER)
    ok(seeded, "property create --name code --label Code --type string")
    store = open_local(sqlite_url(subctl_home / "workspace.db")).records
    assert "INDEX ix_subscriptions_cp_subscription_tier" in plan(store, "subscription_tier = basic")
    assert "INDEX ix_subscriptions_cp_code" in plan(store, "code = 'AB-1'")
    store.close()


# -- create ------------------------------------------------------------------------------------


def test_every_type_and_field_type_pair(invoke: Invoke) -> None:
    ok(invoke, "init")
    ok(invoke, "property settings --tier enterprise")
    field_types = sorted(set().union(*VALID_PAIRS.values()))
    for n, (ptype, valid) in enumerate(sorted(VALID_PAIRS.items())):
        for m, field_type in enumerate(field_types):
            option = " --option A" if ptype == "enumeration" else ""
            result = invoke(f"property create --name p{n}_{m} --label P{n}_{m} --type {ptype} "
                            f"--field-type {field_type}{option} -f json")  # fmt: skip
            if field_type in valid:
                assert result.exit_code == 0, (ptype, field_type, result.stderr)
                doc = json.loads(result.stdout)
                assert (doc["type"], doc["fieldType"]) == (ptype, field_type)
            else:
                assert result.exit_code == 2, (ptype, field_type)
                listed = result.stderr.strip().split(f"valid field types for {ptype}: ")[1]
                assert set(listed.split(", ")) == valid
                assert result.stderr.startswith(
                    f'Error: field type "{field_type}" does not go with type {ptype}'
                )


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        ("--name Tier --label T --type string", 2, "invalid property name"),
        ("--name hs_tier --label T --type string", 2, "prefix hs_"),
        ("--name status --label T --type string", 2, "already used by hs_status"),
        ("--name t --label T --type json", 2, "Invalid value for '--type'"),
        ("--name t --label T --type number --rule EMAIL", 2, "rule EMAIL does not apply"),
        ("--name t --label T --type enumeration", 2, "needs at least one option"),
        ("--name t --label T --type string --sample x", 2, "--sample goes with --preview"),
        ("--label T --type string", 2, "missing --name"),
        ("--name t --label T --type string --sensitivity sensitive", 5, "enterprise tier"),
    ],
)
def test_create_refuses(seeded: Invoke, args: str, code: int, message: str) -> None:
    result = seeded(f"property create {args}")
    assert result.exit_code == code, result.stderr
    assert message in result.stderr
    assert "Traceback" not in result.stderr


def test_create_twice_is_a_conflict(seeded: Invoke) -> None:
    ok(seeded, TIER)
    result = seeded(TIER)
    assert (result.exit_code, result.stderr.splitlines()[0]) == (
        5,
        "Error: property subscription_tier already exists",
    )


def test_a_terminal_asks_for_missing_fields(seeded: Invoke, terminal: Terminal) -> None:
    prompter = terminal("subscription_tier", "", "enumeration", "radio", "Basic, Pro=pro")
    doc = json.loads(ok(seeded, "property create -f json"))
    assert prompter.questions == [
        "Internal name (e.g. subscription_tier):", "Label:", "Type:", "Field type:",
        "Options, comma-separated (LABEL or LABEL=value):",
    ]  # fmt: skip
    assert (doc["label"], doc["fieldType"]) == ("Subscription tier", "radio")
    assert [o["value"] for o in doc["options"]] == ["basic", "pro"]


def test_preview_validates_a_sample_and_creates_nothing(seeded: Invoke) -> None:
    args = ("property create --name code --label Code --type string --rule MIN_LENGTH:3 "
            "--rule FORMAT:UPPER --preview")  # fmt: skip
    result = seeded(args + " --sample ABC -f json")
    assert result.exit_code == 0, result.stderr
    doc = json.loads(result.stdout)
    assert doc["preview"] is True and doc["sample"] == {"text": "ABC", "valid": True, "error": None}
    assert "nothing was created" in result.stderr
    bad = seeded(args + " --sample ab -f table")
    assert bad.exit_code == 2
    assert bad.stderr.strip() == 'Error: code: "ab" is shorter than MIN_LENGTH 3'
    assert "Code: Single-line text" in bad.stdout and "✘ code:" in bad.stdout
    assert json.loads(ok(seeded, "property list --custom -f json")) == []


# -- list, view, edit, delete ------------------------------------------------------------------


def test_list_and_view(seeded: Invoke) -> None:
    ok(seeded, TIER + " --description 'Plan tier' --group plans")
    rows = json.loads(ok(seeded, "property list -f json"))
    assert {"hs_status", "subscription_tier"} <= {r["name"] for r in rows}
    custom = json.loads(ok(seeded, "property list --custom -f json"))
    assert [(r["name"], r["custom"], r["groupName"]) for r in custom] == [
        ("subscription_tier", True, "plans")
    ]
    doc = json.loads(ok(seeded, "property view 'Subscription tier' -f json"))
    assert (doc["name"], doc["description"], doc["usage"]) == ("subscription_tier", "Plan tier", 0)
    table = ok(seeded, "property view subscription_tier -f table")
    assert "enumeration / select (Dropdown select)" in table and "professional" in table
    status = json.loads(ok(seeded, "property view status -f json"))
    assert status["hubspotDefined"] and status["modificationMetadata"]["readOnlyDefinition"]
    result = seeded("property view nope")
    assert (result.exit_code, result.stderr.splitlines()[0]) == (
        3,
        'Error: property "nope" not found',
    )


def test_edit(seeded: Invoke) -> None:
    ok(seeded, TIER)
    ok(seeded, "update 1 --set subscription_tier=basic --yes")
    args = ("property edit subscription_tier --label Tier --option Premium "
            "--remove-option enterprise --field-type radio -f json")  # fmt: skip
    doc = json.loads(ok(seeded, args))
    assert doc["label"] == "Tier" and doc["fieldType"] == "radio"
    assert [o["value"] for o in doc["options"]] == ["basic", "professional", "premium"]
    in_use = seeded("property edit subscription_tier --remove-option basic")
    assert in_use.exit_code == 5
    assert "1 subscription(s) use them" in in_use.stderr
    for args, code, message in [
        ("property edit subscription_tier", 2, "nothing to change"),
        ("property edit subscription_tier --field-type text", 2, "valid field types"),
        ("property edit status --label State", 5, "read-only"),
        ("property edit nope --label x", 3, "not found"),
    ]:
        result = seeded(args)
        assert (result.exit_code, message in result.stderr) == (code, True), result.stderr


def test_delete(seeded: Invoke) -> None:
    ok(seeded, TIER)
    ok(seeded, "property create --name note --label Note --type string")
    result = seeded("property delete note")  # no values: no question
    assert result.exit_code == 0 and "Deleted property note" in result.stderr
    ok(seeded, "update 1 --set subscription_tier=basic --yes")
    refused = seeded("property delete subscription_tier")
    assert refused.exit_code == 2
    assert "values on 1 subscription(s): confirmation required" in refused.stderr
    assert seeded("property view subscription_tier").exit_code == 0
    result = seeded("property delete subscription_tier --yes")
    assert result.exit_code == 0 and "(1 values)" in result.stderr
    after = seeded("list --where 'subscription_tier = basic'")
    assert after.exit_code == 2 and 'unknown field "subscription_tier"' in after.stderr
    assert "subscription_tier" not in json.loads(ok(seeded, "view 1 -f json"))["properties"]
    hubspot = seeded("property delete hs_status --yes")
    assert hubspot.exit_code == 5 and "read-only" in hubspot.stderr


# -- tiers and sensitivity ---------------------------------------------------------------------


def test_tier_cap_and_downgrade(seeded: Invoke) -> None:
    settings = json.loads(ok(seeded, "property settings -f json"))
    assert settings["tier"] == "free" and settings["customProperties"]["limit"] == 10
    ok(seeded, "property settings --tier starter --cap starter=2")
    ok(seeded, "property create --name a --label A --type string")
    ok(seeded, "property create --name b --label B --type number")
    over = seeded("property create --name c --label C --type string")
    assert over.exit_code == 5
    assert over.stderr.splitlines()[0] == (
        "Error: custom property limit reached: 2 of 2 custom properties used (starter tier)"
    )
    # downgrade: existing properties stay viewable and editable, no new ones
    ok(seeded, "property settings --tier free --cap free=1")
    usage = json.loads(ok(seeded, "property settings -f json"))["customProperties"]
    assert (usage["usage"], usage["limit"], usage["canCreate"]) == (2, 1, False)
    assert json.loads(ok(seeded, "property view a -f json"))["label"] == "A"
    ok(seeded, "property edit a --label Alpha --rule MAX_LENGTH:10")
    assert seeded("update 1 --set a=short --yes").exit_code == 0
    assert seeded("property create --name c --label C --type string").exit_code == 5
    ok(seeded, "property delete b")
    ok(seeded, "property settings --tier professional")
    ok(seeded, "property create --name c --label C --type string")


def test_an_update_never_tells_whether_a_guess_matched_a_sensitive_value(seeded: Invoke) -> None:
    ok(seeded, "property settings --tier enterprise")
    ok(seeded, "property create --name ssn --label SSN --type string "
               "--sensitivity highly_sensitive")  # fmt: skip
    ok(seeded, "update 1 --set ssn=123-45-6789 --yes")
    notes = [
        json.loads(ok(seeded, f"update 1 --set ssn={guess} --dry-run -f json"))[0]
        for guess in ("000-00-0000", "123-45-6789")
    ]
    wrong, right = notes
    assert wrong == right and right["note"] == "would set ssn=******", notes


def test_sensitive_properties_and_masking(seeded: Invoke) -> None:
    ok(seeded, "property settings --tier enterprise")
    ok(seeded, "property create --name tax_id --label 'Tax ID' --type string "
               "--sensitivity highly_sensitive")  # fmt: skip
    ok(seeded, "property create --name note --label Note --type string --sensitivity sensitive")
    ok(seeded, "update 1 --set tax_id=DK12345678 --set note=hello --yes")
    rows = json.loads(ok(seeded, "list --where 'has tax_id' --fields id,tax_id,note -f json"))
    assert rows == [{"hs_object_id": 1, "tax_id": "******", "note": "hello"}]
    csv = ok(seeded, "list --where 'has tax_id' --fields id,tax_id -f csv")
    assert "DK12345678" not in csv and "******" in csv
    view = json.loads(ok(seeded, "view 1 -f json"))
    assert view["properties"]["tax_id"] == "******"
    assert all(c["new"] == "******" for c in view["history"] if c["property"] == "tax_id")
    assert "DK12345678" not in ok(seeded, "view 1 -f table")
    denied = seeded("list --show-sensitive")
    assert denied.exit_code == 4 and "sensitive_data.view" in denied.stderr
    assert seeded("view 1 --show-sensitive").exit_code == 4
    ok(seeded, "property settings --grant sensitive_data.view")
    rows = json.loads(ok(seeded, "list --where 'has tax_id' --fields id,tax_id --show-sensitive"
                                 " -f json"))  # fmt: skip
    assert rows == [{"hs_object_id": 1, "tax_id": "DK12345678"}]
    assert json.loads(ok(seeded, "view 1 --show-sensitive -f json"))["properties"]["tax_id"] == (
        "DK12345678"
    )
    # a downgrade keeps the existing sensitive property working
    ok(seeded, "property settings --tier starter")
    ok(seeded, "property edit tax_id --label 'Tax number'")
    raised = seeded("property edit note --sensitivity highly_sensitive")
    assert raised.exit_code == 5


def test_unique_values(seeded: Invoke) -> None:
    ok(seeded, "property create --name order_code --label 'Order code' --type string --unique")
    ok(seeded, "update 1 --set order_code=A-1 --yes")
    clash = seeded("update 5 --set order_code=a-1 --yes")  # case-insensitively equal
    assert (clash.exit_code, clash.stderr.splitlines()[0]) == (
        5,
        "Error: order_code: the value is already used by another subscription (unique values)",
    )
    assert seeded("update 5 --set order_code=A-2 --yes").exit_code == 0


def test_date_rules_use_the_pinned_clock(seeded: Invoke) -> None:
    ok(seeded, "property create --name renewal --label Renewal --type date "
               "--rule AFTER_DURATION:P7D --rule DAYS_OF_WEEK:MON,TUE,WED,THU,FRI")  # fmt: skip
    today = dt.date(2026, 11, 26)
    assert seeded(f"update 1 --set renewal={today + dt.timedelta(days=7)} --yes").exit_code == 0
    early = seeded("update 1 --set renewal=+6d --yes")
    assert early.exit_code == 2 and "(AFTER_DURATION P7D)" in early.stderr
    weekend = seeded("update 1 --set renewal=2026-12-05 --yes")
    assert "is a SATURDAY (DAYS_OF_WEEK" in weekend.stderr


# -- regressions -------------------------------------------------------------------------------

FEATS = ("property create --name feats --label Feats --type enumeration --field-type checkbox "
         "--option A --option B --option C")  # fmt: skip


def test_options_within_multiple_checkbox_values_are_in_use(seeded: Invoke) -> None:
    ok(seeded, FEATS)
    ok(seeded, "update 1 --set 'feats=a;b' --yes")
    ok(seeded, "update 5 --set feats=c --yes")
    refused = seeded("property edit feats --remove-option b")
    assert (refused.exit_code, refused.stderr.splitlines()) == (5, [
        "Error: cannot remove option(s) b of feats: 1 subscription(s) use them",
        "Hint: change those values first, e.g. subctl list --where 'has feats' --fields id,feats",
    ])  # fmt: skip
    refused = seeded("property edit feats --remove-option A --remove-option c")
    assert refused.exit_code == 5 and "2 subscription(s) use them" in refused.stderr
    # a single-value field type cannot hold a;b
    for field_type in ("select", "radio", "booleancheckbox", "calculation_equation"):
        refused = seeded(f"property edit feats --field-type {field_type}")
        assert (refused.exit_code, refused.stderr.splitlines()[0]) == (
            5,
            f"Error: cannot change feats to {field_type}: 1 subscription(s) have several values",
        )
    assert json.loads(ok(seeded, "property view feats -f json"))["fieldType"] == "checkbox"
    ok(seeded, "update 1 --set feats=a --yes")
    assert (
        json.loads(ok(seeded, "property edit feats --field-type select -f json"))["fieldType"]
        == "select"
    )
    ok(seeded, "property edit feats --remove-option b")


def test_cap_and_date_rule_arguments_take_ascii_digits_only(seeded: Invoke) -> None:
    for args in (
        "property settings --cap '²'",
        "property settings --cap 'starter=²'",
        "property settings --cap 9999999999",
        "property create --name d1 --label D1 --type date --rule 'START_DATE:²'",
        "property create --name d1 --label D1 --type datetime --rule 'END_DATETIME:-²'",
    ):
        result = seeded(args)
        assert result.exit_code == 2, (args, result.stderr)
        assert result.stderr.startswith("Error: ") and "unexpected" not in result.stderr
    assert json.loads(ok(seeded, "property settings -f json"))["caps"]["starter"] == 100


def test_duration_rules_are_capped_when_set(seeded: Invoke) -> None:
    result = seeded("property create --name d2 --label D2 --type date --rule AFTER_DURATION:P9000Y")
    assert (result.exit_code, result.stderr.splitlines()[0]) == (
        2,
        "Error: rule AFTER_DURATION: P9000Y is longer than 100 years",
    )
    ok(seeded, "property create --name d2 --label D2 --type date --rule AFTER_DURATION:P100Y")
    late = seeded("update 1 --set d2=2027-01-01 --yes")
    assert late.exit_code == 2 and "P100Y after today (AFTER_DURATION P100Y)" in late.stderr


def test_regex_rules_are_re2(seeded: Invoke) -> None:
    import time

    ok(seeded, "property create --name code --label Code --type string --rule 'REGEX:(?:a+)+b'")
    started = time.monotonic()
    result = seeded(f"update 1 --set code={'a' * 32} --yes")
    assert time.monotonic() - started < 5
    assert (result.exit_code, result.stderr.splitlines()[0]) == (
        2,
        f'Error: code: "{"a" * 32}" does not match REGEX (?:a+)+b',
    )
    ok(seeded, "update 1 --set code=aaab --yes")
    refused = seeded("property create --name look --label Look --type string --rule 'REGEX:a(?!b)'")
    assert refused.exit_code == 2
    assert refused.stderr.splitlines() == [
        "Error: rule REGEX: invalid pattern (RE2): invalid perl operator: (?!",
        "Hint: patterns are RE2's, as in HubSpot: no lookaround or backreferences",
    ]
    refused = seeded("property edit code --rule 'REGEX:(?<=a)b'")
    assert refused.exit_code == 2 and "invalid pattern (RE2)" in refused.stderr


def test_validation_messages_mask_highly_sensitive_values(seeded: Invoke) -> None:
    ok(seeded, "property settings --tier enterprise")
    ok(seeded, "property create --name tax_id --label 'Tax ID' --type string "
               "--sensitivity highly_sensitive --rule 'REGEX:^[A-Z]{2}[0-9]+$' "
               "--rule MAX_LENGTH:12")  # fmt: skip
    for value, rule in (("dk12345678", "does not match REGEX"), ("DK12345678901", "MAX_LENGTH")):
        result = seeded(f"update 1 --set tax_id={value} --yes")
        assert result.exit_code == 2
        assert result.stderr.startswith("Error: tax_id: ****** ") and rule in result.stderr
        assert value not in result.stderr


def test_property_view_and_settings_use_the_one_two_column_table(
    invoke: Invoke, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``view``, ``property view`` and ``property settings`` share one renderer of pairs."""
    from subctl import output

    real = output.pairs_table
    titles: list[str] = []

    def spy(title: str, pairs: Any, width: int) -> Any:
        titles.append(title)
        return real(title, pairs, width)

    monkeypatch.setattr(output, "pairs_table", spy)
    assert invoke("init").exit_code == 0
    assert invoke("property view hs_status --format table").exit_code == 0
    assert invoke("property settings --format table").exit_code == 0
    assert titles[0] == "Property hs_status" and "Workspace settings" in titles
