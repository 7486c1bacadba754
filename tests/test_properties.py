"""Property definitions (``services.properties``): the §4 type/fieldType matrix, names, labels,
options, rules, tier caps and the downgrade rule, sensitivity, editing and masking."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pytest

from subctl.errors import AuthError, Conflict, InputError, InvalidState, NotFound, UsageError
from subctl.schema import Option, Property, PropType, standard_registry
from subctl.services import masking
from subctl.services import properties as svc
from subctl.services.values import coerce_value
from subctl.store.sql import LocalBackend, open_local, sqlite_url
from tests.conftest import VALID_PAIRS

TODAY = dt.date(2026, 11, 26)

FIELD_TYPES = sorted(set().union(*VALID_PAIRS.values()) | {"dropdown", "Text", ""})
MATRIX = [(t, f, f in VALID_PAIRS[t]) for t in sorted(VALID_PAIRS) for f in FIELD_TYPES]


def spec(**kw: object) -> svc.PropertySpec:
    base: dict[str, object] = {"name": "tier", "label": "Tier", "type": PropType.STRING}
    base.update(kw)
    return svc.PropertySpec(**base)  # type: ignore[arg-type]


@pytest.fixture
def local(tmp_path: Path) -> Iterator[LocalBackend]:
    backend = open_local(sqlite_url(tmp_path / "w.db"), create=True)
    yield backend
    backend.close()


@pytest.mark.parametrize(
    ("ptype", "field_type", "valid"), MATRIX, ids=[f"{t}-{f or 'empty'}" for t, f, _ in MATRIX]
)
def test_type_field_type_matrix(ptype: str, field_type: str, valid: bool) -> None:
    options = ["Basic"] if ptype == "enumeration" else []
    request = spec(type=PropType(ptype), field_type=field_type or "none", options=options)
    if valid:
        prop = svc.build(request, standard_registry())
        assert (prop.type.value, prop.field_type) == (ptype, field_type)
        return
    with pytest.raises(UsageError) as info:
        svc.build(request, standard_registry())
    listed = ", ".join(svc.FIELD_TYPES[PropType(ptype)])
    assert info.value.message.endswith(f"valid field types for {ptype}: {listed}")
    assert set(listed.split(", ")) == VALID_PAIRS[ptype]


def test_field_type_defaults_to_the_types_usual_one() -> None:
    for ptype in PropType:
        options = ["A"] if ptype is PropType.ENUMERATION else []
        prop = svc.build(spec(type=ptype, options=options), standard_registry())
        assert prop.field_type in VALID_PAIRS[ptype.value]


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("Tier", "invalid property name"),
        ("1tier", "invalid property name"),
        ("tier-x", "invalid property name"),
        ("t" * 41, "longer than 40 characters"),
        ("hs_tier", "uses the prefix hs_"),
        ("status", r"already used by hs_status \(Status\)"),
        ("billable", "already used by hs_invoice_creation"),
        ("and", "reserved word"),
        ("has", "reserved word"),
    ],
)
def test_bad_names(name: str, message: str) -> None:
    with pytest.raises(UsageError, match=message):
        svc.build(spec(name=name), standard_registry())


def test_labels_must_be_unique_and_not_empty() -> None:
    with pytest.raises(UsageError, match="already used by hs_status"):
        svc.build(spec(label="status"), standard_registry())
    with pytest.raises(UsageError, match="cannot be empty"):
        svc.build(spec(label="  "), standard_registry())


def test_options() -> None:
    prop = svc.build(
        spec(type=PropType.ENUMERATION, options=["Basic", "Pro plan", "Enterprise=ent"]),
        standard_registry(),
    )
    assert prop.options == (Option("Basic", "basic"), Option("Pro plan", "pro_plan"),
                            Option("Enterprise", "ent"))  # fmt: skip
    cases = [
        (spec(type=PropType.ENUMERATION), "needs at least one option"),
        (spec(type=PropType.ENUMERATION, options=["A", "a"]), 'value "a" is given twice'),
        (spec(type=PropType.ENUMERATION, options=["A=x", "a=y"]), 'label "a" is given twice'),
        (spec(type=PropType.ENUMERATION, options=["=x"]), "has no label"),
        (spec(type=PropType.ENUMERATION, options=["!!"]), "needs an explicit value"),
        (spec(type=PropType.ENUMERATION, options=["A=a;b"]), 'cannot contain ";"'),
        (spec(options=["A"]), "^option applies to enumeration properties"),
        (spec(type=PropType.BOOL, options=["A"]), "^option applies to enumeration properties"),
    ]
    for request, message in cases:
        with pytest.raises(UsageError, match=message):
            svc.build(request, standard_registry())


def test_unique_applies_to_text_and_numbers() -> None:
    assert svc.build(spec(unique=True), standard_registry()).unique
    assert svc.build(spec(type=PropType.NUMBER, unique=True), standard_registry()).unique
    with pytest.raises(InputError, match="^unique applies") as raised:
        svc.build(spec(field_type="textarea", unique=True), standard_registry())
    assert raised.value.input == "unique"  # the command layer names it --unique


def test_calculated_properties_are_read_only_and_checkboxes_multi_valued() -> None:
    calc = svc.build(spec(type=PropType.NUMBER, field_type="calculation_equation"),
                     standard_registry())  # fmt: skip
    with pytest.raises(UsageError, match="tier: a calculated property; its value cannot be set"):
        coerce_value(calc, "1", today=TODAY)
    multi = svc.build(spec(type=PropType.ENUMERATION, field_type="checkbox",
                           options=["Email", "SMS", "Post"]), standard_registry())  # fmt: skip
    assert coerce_value(multi, "sms; Email;sms", today=TODAY) == "sms;email"
    with pytest.raises(UsageError, match='"fax" is not an option'):
        coerce_value(multi, "email;fax", today=TODAY)
    assert coerce_value(multi, ";post; Email", today=TODAY) == ";post;email"  # appends


# -- store-backed: create, caps, downgrade, edit, delete ---------------------------------------


def test_create_round_trips_through_the_store(local: LocalBackend) -> None:
    created, limits = svc.create(
        local.records, local.workspace,
        spec(name="code", label="Code", description=" An order code ",
             rules=["MIN_LENGTH:2", "FORMAT:UPPER"], unique=True),
    )  # fmt: skip
    assert limits.describe() == "1 of 10 custom properties used (free tier)"
    assert local.records.properties().get("code") == created
    assert created.description == "An order code"
    assert created.rules == (("MIN_LENGTH", ("2",)), ("FORMAT", ("UPPER",)))
    with pytest.raises(Conflict, match="property code already exists"):
        svc.create(local.records, local.workspace, spec(name="code", label="Code 2"))


def test_tier_cap_and_the_downgrade_rule(local: LocalBackend) -> None:
    svc.change_settings(local.workspace, svc.SettingsChange(tier="starter", caps=["2"]))
    svc.create(local.records, local.workspace, spec(name="a", label="A"))
    svc.create(local.records, local.workspace, spec(name="b", label="B"))
    with pytest.raises(InvalidState) as info:
        svc.create(local.records, local.workspace, spec(name="c", label="C"))
    assert info.value.message == (
        "custom property limit reached: 2 of 2 custom properties used (starter tier)"
    )
    # downgrade: existing properties stay viewable and editable, no new ones
    svc.change_settings(local.workspace, svc.SettingsChange(tier="free", caps=["free=1"]))
    assert (
        svc.limits(local.records, local.workspace).describe()
        == "2 of 1 custom properties used (free tier)"
    )
    assert svc.resolve(local.records, "a").label == "A"
    assert (
        svc.edit(local.records, local.workspace, "a", svc.PropertyEdit(label="Alpha")).label
        == "Alpha"
    )
    with pytest.raises(InvalidState, match="2 of 1"):
        svc.plan_create(local.records, local.workspace, spec(name="c", label="C"))
    svc.delete(local.records, svc.plan_delete(local.records, local.workspace, "b")[0])
    with pytest.raises(InvalidState, match="1 of 1"):
        svc.create(local.records, local.workspace, spec(name="c", label="C"))
    svc.change_settings(local.workspace, svc.SettingsChange(caps=["free=default"]))
    assert svc.tier_cap(local.workspace, "free") == 10
    svc.create(local.records, local.workspace, spec(name="c", label="C"))


def test_default_caps_are_documented() -> None:
    assert svc.DEFAULT_CAPS == {"free": 10, "starter": 100, "professional": 1000,
                                "enterprise": 1000}  # fmt: skip
    for tier, cap in svc.DEFAULT_CAPS.items():
        assert f"{tier} {cap:,}" in (svc.__doc__ or "")


def test_sensitive_properties_need_enterprise(local: LocalBackend) -> None:
    with pytest.raises(InvalidState, match="sensitive properties require the enterprise tier"):
        svc.create(local.records, local.workspace, spec(sensitivity="sensitive"))
    svc.change_settings(local.workspace, svc.SettingsChange(tier="enterprise"))
    svc.create(
        local.records,
        local.workspace,
        spec(name="secret", label="Secret", sensitivity="highly_sensitive"),
    )
    svc.create(local.records, local.workspace, spec(name="plain", label="Plain"))
    svc.change_settings(local.workspace, svc.SettingsChange(tier="professional"))
    # an existing sensitive property stays editable, lowering sensitivity is allowed ...
    assert svc.edit(
        local.records, local.workspace, "secret", svc.PropertyEdit(label="Secret 2")
    ).sensitivity == ("highly_sensitive")
    # ... raising one is not
    with pytest.raises(InvalidState, match="enterprise"):
        svc.edit(local.records, local.workspace, "plain", svc.PropertyEdit(sensitivity="sensitive"))
    assert svc.edit(
        local.records, local.workspace, "secret", svc.PropertyEdit(sensitivity="sensitive")
    ).sensitivity == ("sensitive")


def test_unique_limit(local: LocalBackend) -> None:
    svc.change_settings(local.workspace, svc.SettingsChange(tier="enterprise"))
    for i in range(svc.UNIQUE_LIMIT):
        svc.create(local.records, local.workspace, spec(name=f"u{i}", label=f"U{i}", unique=True))
    with pytest.raises(InvalidState, match="at most 10 unique-value properties"):
        svc.create(local.records, local.workspace, spec(name="u10", label="U10", unique=True))


def test_edit(local: LocalBackend) -> None:
    svc.create(
        local.records, local.workspace, spec(type=PropType.ENUMERATION, options=["Basic", "Pro"])
    )
    edited = svc.edit(
        local.records, local.workspace,
        "Tier",  # by label
        svc.PropertyEdit(options=["Enterprise", "Professional=pro"], remove_options=["basic"],
                         field_type="radio", description="Plan tier", group="plans"),
    )  # fmt: skip
    assert edited.options == (Option("Professional", "pro"), Option("Enterprise", "enterprise"))
    assert (edited.field_type, edited.description, edited.group) == ("radio", "Plan tier", "plans")
    assert local.records.properties().get("tier") == edited
    for change, error, message in [
        (svc.PropertyEdit(), UsageError, "nothing to change"),
        (svc.PropertyEdit(field_type="text"), UsageError, "valid field types for enumeration"),
        (svc.PropertyEdit(remove_options=["gold"]), UsageError, 'has no option "gold"'),
        (svc.PropertyEdit(rules=["MIN_LENGTH:2"]), UsageError, "does not apply"),
        (svc.PropertyEdit(remove_rules=["REGEX"]), UsageError, "has no REGEX rule"),
        (svc.PropertyEdit(remove_options=["pro", "enterprise"]), UsageError, "at least one option"),
        (svc.PropertyEdit(label="Status"), UsageError, "already used by hs_status"),
    ]:
        with pytest.raises(error, match=message):
            svc.edit(local.records, local.workspace, "tier", change)
    with pytest.raises(InvalidState, match="HubSpot-defined property; its definition is read-only"):
        svc.edit(local.records, local.workspace, "status", svc.PropertyEdit(label="State"))
    with pytest.raises(NotFound, match='property "nope" not found'):
        svc.edit(local.records, local.workspace, "nope", svc.PropertyEdit(label="x"))


def test_edit_rules(local: LocalBackend) -> None:
    svc.create(
        local.records,
        local.workspace,
        spec(name="code", label="Code", rules=["MIN_LENGTH:2", "FORMAT:UPPER"]),
    )
    change = svc.PropertyEdit(rules=["MIN_LENGTH:4", "EMAIL"], remove_rules=["format"])
    edited = svc.edit(local.records, local.workspace, "code", change)
    assert edited.rules == (("MIN_LENGTH", ("4",)), ("EMAIL", ()))
    with pytest.raises(UsageError, match="EMAIL does not apply"):
        svc.edit(local.records, local.workspace, "code", svc.PropertyEdit(field_type="textarea"))
    cleared = svc.edit(
        local.records,
        local.workspace,
        "code",
        svc.PropertyEdit(clear_rules=True, field_type="textarea"),
    )
    assert (cleared.rules, cleared.field_type) == ((), "textarea")


def test_hubspot_defined_properties_cannot_be_deleted(local: LocalBackend) -> None:
    with pytest.raises(InvalidState, match="read-only"):
        svc.plan_delete(local.records, local.workspace, "hs_status")


def test_settings_and_permissions(local: LocalBackend) -> None:
    doc = svc.settings_document(local.records, local.workspace)
    assert (doc["tier"], doc["customProperties"]["limit"], doc["permissions"]) == ("free", 10, [])
    with pytest.raises(AuthError, match="sensitive_data.view"):
        svc.require_sensitive_access(local.workspace)
    svc.change_settings(local.workspace, svc.SettingsChange(grant=["sensitive_data.view"]))
    svc.require_sensitive_access(local.workspace)
    svc.change_settings(local.workspace, svc.SettingsChange(revoke=["sensitive_data.view"]))
    assert svc.permissions(local.workspace) == []
    for change, message in [
        (svc.SettingsChange(tier="gold"), 'unknown tier "gold"'),
        (svc.SettingsChange(caps=["lots"]), "is not N, TIER=N or TIER=default"),
        (svc.SettingsChange(caps=["silver=3"]), 'unknown tier "silver"'),
        (svc.SettingsChange(grant=["admin"]), 'unknown permission "admin"'),
    ]:
        with pytest.raises(UsageError, match=message):
            svc.change_settings(local.workspace, change)


def test_masker() -> None:
    secret = Property("tax_id", "Tax ID", PropType.STRING, "text", hubspot_defined=False,
                      sensitivity="highly_sensitive")  # fmt: skip
    semi = Property("note", "Note", PropType.STRING, "text", hubspot_defined=False,
                    sensitivity="sensitive")  # fmt: skip
    registry = standard_registry()
    registry = type(registry)([*registry, secret, semi])
    mask = masking.masker(registry, show=False)
    assert mask.row({"tax_id": "DK1", "note": "n", "hs_name": "x"}) == {
        "tax_id": masking.MASK,
        "note": "n",
        "hs_name": "x",
    }
    assert mask.row({"tax_id": None}) == {"tax_id": None}
    assert masking.masker(registry, show=True).row({"tax_id": "DK1"}) == {"tax_id": "DK1"}


def test_property_document_shape() -> None:
    prop = svc.build(spec(type=PropType.ENUMERATION, options=["Basic"], rules=[]),
                     standard_registry())  # fmt: skip
    doc = svc.document(prop, usage=3)
    assert doc["options"] == [{"label": "Basic", "value": "basic", "description": "",
                               "displayOrder": 0, "hidden": False}]  # fmt: skip
    assert (doc["fieldType"], doc["groupName"], doc["hubspotDefined"], doc["usage"]) == (
        "select",
        "subscriptioninformation",
        False,
        3,
    )
    status = svc.document(standard_registry().get("status"))  # type: ignore[arg-type]
    assert status["modificationMetadata"]["readOnlyDefinition"] is True


def test_calculated_is_a_property_of_the_definition() -> None:
    formula = Property("score", "Score", PropType.NUMBER, "calculation_equation",
                       hubspot_defined=False)  # fmt: skip
    assert formula.is_calculated
    assert not standard_registry().get("mrr").is_calculated  # type: ignore[union-attr]


def test_the_query_package_imports_no_service() -> None:
    import subprocess
    import sys

    code = (
        "import sys, subctl.query.parser, subctl.query.lists, subctl.codec; "
        "print(sorted(m for m in sys.modules if m.startswith('subctl.services')))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
