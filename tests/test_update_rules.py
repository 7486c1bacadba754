"""``update`` on standard properties follows HubSpot: read-only and computed properties, the
billable rules, amounts in the currency's precision, text limits, and the billing details HubSpot
keeps editable (seeded: 1 active USD due 2026-12-01, 2 unpaid EUR, 5 scheduled GBP; all
billable; today 2026-11-26)."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from subctl.errors import UsageError
from subctl.schema import CURRENCY_CODES, standard_registry
from subctl.services.validation import MONEY_LIMIT, money_problem
from subctl.services.values import coerce_value
from tests.conftest import Invoke, WorkspaceCase, connect

pytestmark = pytest.mark.backends("sqlite", "postgresql")

ACTIVE, UNPAID, SCHEDULED = 1, 2, 5
TODAY = dt.date(2026, 11, 26)
REG = standard_registry()


def view(invoke: Invoke, sub_id: int) -> dict[str, Any]:
    result = invoke(f"view {sub_id} --format json")
    assert result.exit_code == 0, result.stderr
    props: dict[str, Any] = json.loads(result.stdout)["properties"]
    return props


def ids(invoke: Invoke, where: str) -> list[int]:
    result = invoke(["list", "--where", where, "--fields", "id", "--format", "json"])
    assert result.exit_code == 0, result.stderr
    return [row["hs_object_id"] for row in json.loads(result.stdout)]


def refused(invoke: Invoke, args: str | list[str], code: int) -> str:
    """The one-line error of a refused update (nothing else on stderr but a hint)."""
    result = invoke(args)
    assert result.exit_code == code, (args, result.exit_code, result.stderr)
    lines = result.stderr.splitlines()
    assert lines[0].startswith("Error: ") and all(line.startswith("Hint: ") for line in lines[1:])
    return lines[0]


def set_column(ws: WorkspaceCase, sub_id: int, column: str, value: object) -> None:
    import sqlalchemy as sa

    with connect(ws) as conn:
        conn.execute(
            sa.text(f"UPDATE subscriptions SET {column} = :value WHERE hs_object_id = :sid"),
            {"value": value, "sid": sub_id},
        )
        conn.commit()


# -- read-only and computed properties -------------------------------------------------------


@pytest.mark.parametrize(
    ("assignment", "reason"),
    [
        ("mrr=120", "mrr is read-only: HubSpot computes it from the line items"),
        ("last_payment_amount=5", "last_payment_amount is read-only: it is recorded from payments"),
        ("last_payment_status=succeeded", "last_payment_status is read-only: it is recorded"),
        ("billable=off", "billable cannot be turned off: a billable subscription stays billable"),
        ("billable=", "billable cannot be turned off"),
        ("status=active", 'status cannot be set to "active" with update'),
    ],
)
def test_computed_and_read_only_properties_are_refused(
    seeded: Invoke, assignment: str, reason: str
) -> None:
    assert reason in refused(seeded, ["update", str(ACTIVE), "--set", assignment], 2)


def test_status_active_points_to_pay_and_resume(seeded: Invoke) -> None:
    result = seeded(f"update {UNPAID} --set status=active")
    assert (result.exit_code, result.stderr) == (
        2,
        'Error: --set: status cannot be set to "active" with update\n'
        "Hint: use `subctl pay` (unpaid, past due) or `subctl resume` (paused)\n",
    )


def test_currency_and_frequency_are_fixed_once_billable(seeded: Invoke) -> None:
    line = refused(seeded, f"update {ACTIVE} --set currency=EUR", 5)
    assert line == "Error: the currency of a billable subscription cannot change"
    line = refused(seeded, f"update {ACTIVE} --set frequency=annually", 5)
    assert line == "Error: the billing frequency of a billable subscription cannot change"
    same = seeded(f"update {ACTIVE} --set currency=USD --format json")
    assert same.exit_code == 0 and json.loads(same.stdout)[0]["note"] == "no change"


def test_subscriptions_without_invoices_cannot_be_edited(seeded: Invoke, ws: WorkspaceCase) -> None:
    set_column(ws, ACTIVE, "hs_invoice_creation", "off")
    line = refused(seeded, f"update {ACTIVE} --set name=Renamed", 5)
    assert line == (
        "Error: the subscription does not create invoices, so it cannot be edited "
        "(turn invoice creation on with --set billable=on)"
    )
    set_column(ws, ACTIVE, "hs_invoice_creation", None)  # HubSpot's default: off
    assert refused(seeded, f"update {ACTIVE} --set name=Renamed", 5) == line
    result = seeded(f"update {ACTIVE} --set billable=on --set currency=BHD "
                    "--set frequency=annually --set next_payment_amount=12.345")  # fmt: skip
    assert result.exit_code == 0, result.stderr
    props = view(seeded, ACTIVE)
    assert (props["hs_invoice_creation"], props["hs_currency_code"],
            props["hs_recurring_billing_frequency"]) == ("on", "BHD", "annually")  # fmt: skip
    # a BHD amount keeps its third decimal: view shows it and --where finds it
    assert props["hs_next_payment_amount"] == 12.345
    assert ids(seeded, "next_payment_amount = 12.345") == [ACTIVE]
    assert refused(seeded, f"update {ACTIVE} --set currency=USD", 5).endswith("cannot change")


# -- amounts -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("sub_id", "amount", "code", "message"),
    [
        (ACTIVE, "12.345", 5, "12.345 has more decimal places than USD allows (2 decimal places)"),
        (ACTIVE, "-5", 2, "next_payment_amount: -5 is negative; amounts are 0 or more"),
        (ACTIVE, "1e12", 2, "is too large; amounts are below 1,000,000,000,000"),
        (ACTIVE, "0.0001", 2, "has more than 3 decimal places"),
        (SCHEDULED, "49.505", 5, "more decimal places than GBP allows"),
    ],
)
def test_amounts_are_refused_not_rounded(
    seeded: Invoke, sub_id: int, amount: str, code: int, message: str
) -> None:
    before = view(seeded, sub_id)["hs_next_payment_amount"]
    assert message in refused(seeded, f"update {sub_id} --set next_payment_amount={amount}", code)
    assert view(seeded, sub_id)["hs_next_payment_amount"] == before


def test_amount_round_trips(seeded: Invoke) -> None:
    assert seeded(f"update {ACTIVE} --set next_payment_amount=12.34").exit_code == 0
    assert view(seeded, ACTIVE)["hs_next_payment_amount"] == 12.34
    assert ids(seeded, "next_payment_amount = 12.34") == [ACTIVE]
    big = "999999999999.99"
    assert seeded(f"update {ACTIVE} --set next_payment_amount={big}").exit_code == 0
    assert view(seeded, ACTIVE)["hs_next_payment_amount"] == float(big)
    assert ids(seeded, f"next_payment_amount = {big}") == [ACTIVE]


@pytest.mark.parametrize(
    ("amount", "currency", "ok"),
    [("1500", "JPY", True), ("1.5", "JPY", False), ("1.234", "BHD", True), ("1.2345", "BHD", False),
     ("1.23", "USD", True), ("1.230", "usd", True), ("1.231", "EUR", False), ("1.23", None, True),
     ("1.234", None, False)],
)  # fmt: skip
def test_money_precision_per_currency(amount: str, currency: str | None, ok: bool) -> None:
    assert (money_problem(Decimal(amount), currency) is None) is ok


@settings(max_examples=200, deadline=None)
@given(
    st.decimals(min_value=0, max_value=MONEY_LIMIT - Decimal("0.001"), places=3),
    st.sampled_from(sorted(CURRENCY_CODES)),
)
def test_every_accepted_amount_reads_back_as_set(amount: Decimal, currency: str) -> None:
    """Invariant: an amount update accepts (limits and currency precision) is stored exactly:
    it reads back equal, with the same digits."""
    prop = REG.get("next_payment_amount")
    assert prop is not None
    try:
        value = coerce_value(prop, str(amount), today=TODAY)
    except UsageError:
        raise AssertionError(f"{amount} refused") from None
    if money_problem(value, currency) is not None:
        return
    stored = prop.from_storage(prop.to_storage(value))
    assert stored == value and stored.normalize() == value.normalize()


# -- other standard properties -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("assignment", "message"),
    [
        ("net_payment_terms=-1", "net_payment_terms: -1 is not a whole number of days (0 to 365)"),
        ("net_payment_terms=1.5", "1.5 is not a whole number of days"),
        ("net_payment_terms=999999999999999999", "more digits than a number property holds"),
        ("net_payment_terms=366", "366 is not a whole number of days (0 to 365)"),
        ("currency=usd", '"usd" is not an ISO 4217 currency code; write it USD'),
        ("currency=XYZ", '"XYZ" is not an ISO 4217 currency code'),
        ("owner=0", "owner: 0 is not an owner id (1 to 9,007,199,254,740,991)"),
        ("owner=9007199254740993", "more digits than a number property holds exactly"),
        ("locale=english please", "is not a locale such as en-us"),
        ("name=a\x1b[31mred", "name: control character U+001B is not allowed in single-line text"),
        ("name=two\nlines", "control character U+000A is not allowed in single-line text"),
        ("billing_city=x\x07", "control character U+0007"),
        ("invoice_comments=bell\x07", "U+0007 is not allowed in text (newlines and tabs are)"),
    ],
)
def test_malformed_values_are_usage_errors(seeded: Invoke, assignment: str, message: str) -> None:
    result = seeded(["update", str(ACTIVE), "--set", assignment])
    assert result.exit_code == 2, result.stderr
    assert message in result.stderr.splitlines()[0]
    assert "\x1b" not in result.stderr and "\x07" not in result.stderr


def test_text_is_limited_to_65536_characters(seeded: Invoke) -> None:
    longest = "x" * 65_536
    assert seeded(["update", str(ACTIVE), "--set", f"invoice_comments={longest}"]).exit_code == 0
    assert view(seeded, ACTIVE)["hs_invoice_comments"] == longest
    line = refused(seeded, ["update", str(ACTIVE), "--set", f"name={longest}y"], 2)
    assert line == "Error: name: the text has 65,537 characters; text is limited to 65,536"


@pytest.mark.parametrize("sub_id", [ACTIVE, SCHEDULED])
@pytest.mark.parametrize(("name", "what"), [("name", "name"), ("due", "next payment due date")])
def test_name_and_next_due_date_cannot_be_cleared(
    seeded: Invoke, sub_id: int, name: str, what: str
) -> None:
    line = refused(seeded, f"update {sub_id} --set {name}=", 5)
    assert line == f"Error: the {what} of an active or scheduled subscription cannot be cleared"


def test_a_scheduled_subscriptions_first_payment_moves_with_its_start_date(
    seeded: Invoke,
) -> None:
    """A scheduled subscription's next payment is due on its start date: a new start date moves
    it (and says so), unless the update sets the next due date too; an active one's stays."""
    result = seeded(f"update {SCHEDULED} --set start_date=2027-02-10 --yes --format json")
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout)[0]["note"] == (
        "set hs_recurring_billing_start_date=2027-02-10, hs_next_payment_due_date=2027-02-10"
    )
    props = view(seeded, SCHEDULED)
    assert props["hs_recurring_billing_start_date"] == props["hs_next_payment_due_date"]
    assert props["hs_next_payment_due_date"] == "2027-02-10"
    both = seeded(
        f"update {SCHEDULED} --set start_date=2027-03-01 --set next_payment_due_date=2027-03-15"
        " --yes --format json"
    )
    assert both.exit_code == 0, both.stderr
    props = view(seeded, SCHEDULED)
    assert (props["hs_recurring_billing_start_date"], props["hs_next_payment_due_date"]) == (
        "2027-03-01",
        "2027-03-15",
    )
    assert seeded(f"update {ACTIVE} --set start_date=2026-02-01 --yes").exit_code == 0
    assert view(seeded, ACTIVE)["hs_next_payment_due_date"] == "2026-12-01"


def test_net_payment_terms_round_trip(seeded: Invoke) -> None:
    assert seeded(f"update {ACTIVE} --set net_payment_terms=45").exit_code == 0
    assert view(seeded, ACTIVE)["hs_net_payment_terms"] == 45
    assert ids(seeded, "net_payment_terms = 45") == [ACTIVE]


@settings(max_examples=100, deadline=None)
@given(st.text(min_size=1, max_size=20), st.characters(categories=["Cc"]))
def test_control_characters_never_pass_single_line_text(text: str, control: str) -> None:
    prop = REG.get("billing_address")
    assert prop is not None
    with pytest.raises(
        UsageError, match=r"control character U\+[0-9A-F]{4} is not allowed in single"
    ):
        coerce_value(prop, text + control, today=TODAY)


# -- the billing details HubSpot keeps editable ---------------------------------------------------


def test_billing_details_can_be_updated_viewed_and_filtered(seeded: Invoke) -> None:
    result = seeded(["update", str(ACTIVE),
                     "--set", "billing_address=1 Main St", "--set", "billing_address2=Suite 4",
                     "--set", "billing_city=Springfield", "--set", "billing_state=IL",
                     "--set", "billing_zip=62701", "--set", "billing_country=US",
                     "--set", "owner=4711", "--set", "automatically_email_invoices=yes",
                     "--set", "allowed_payment_methods=card;ACH bank transfer",
                     "--set", "collect_address_types=billing_address",
                     "--set", "invoice_comments=Thanks!\nNet 30.", "--set", "language=Danish",
                     "--set", "locale=da-dk", "--set", "payment_enabled=true",
                     "--set", "tax_ids=DK12345678", "--format", "json"])  # fmt: skip
    assert result.exit_code == 0, result.stderr
    note = json.loads(result.stdout)[0]["note"]
    assert "hs_automatically_email_invoices=true" in note and "hubspot_owner_id=4711" in note
    props = view(seeded, ACTIVE)
    assert {name: props[name] for name in (
        "hs_recipient_billing_address", "hs_recipient_billing_address2",
        "hs_recipient_billing_city", "hs_recipient_billing_state", "hs_recipient_billing_zip",
        "hs_recipient_billing_country", "hubspot_owner_id", "hs_automatically_email_invoices",
        "hs_allowed_payment_methods", "hs_collect_address_types", "hs_invoice_comments",
        "hs_language", "hs_locale", "hs_payment_enabled", "hs_tax_ids")} == {
        "hs_recipient_billing_address": "1 Main St",
        "hs_recipient_billing_address2": "Suite 4",
        "hs_recipient_billing_city": "Springfield",
        "hs_recipient_billing_state": "IL",
        "hs_recipient_billing_zip": "62701",
        "hs_recipient_billing_country": "US",
        "hubspot_owner_id": 4711,
        "hs_automatically_email_invoices": True,
        "hs_allowed_payment_methods": "card;ach",
        "hs_collect_address_types": "billing_address",
        "hs_invoice_comments": "Thanks!\nNet 30.",
        "hs_language": "da",
        "hs_locale": "da-dk",
        "hs_payment_enabled": True,
        "hs_tax_ids": "DK12345678",
    }  # fmt: skip
    assert ids(seeded, "billing_city = springfield and automatically_email_invoices = true") == [
        ACTIVE
    ]
    assert ids(seeded, "owner = 4711 and language = da") == [ACTIVE]
    listed = seeded("property list --format json")
    names = {p["name"] for p in json.loads(listed.stdout)}
    assert {"hs_recipient_billing_address", "hubspot_owner_id", "hs_tax_ids"} <= names


def test_billing_details_follow_the_edit_rules(seeded: Invoke) -> None:
    line = refused(seeded, f"update {UNPAID} --set billing_city=Berlin", 5)
    assert "only active or scheduled subscriptions can be edited" in line
    assert refused(seeded, f"update {ACTIVE} --set language=klingon", 2).startswith(
        'Error: language: "klingon" is not an option'
    )


def test_existing_workspaces_gain_the_billing_columns(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import sqlalchemy as sa

    from subctl.store.sql import migrations, open_local, sqlite_url

    url = sqlite_url(tmp_path / "old.db")
    engine = sa.create_engine(url)
    old = [m for m in migrations.MIGRATIONS if m.__name__ != "m004_billing_details"]
    monkeypatch.setattr(migrations, "MIGRATIONS", old)
    migrations.migrate(engine)
    with engine.begin() as conn:
        conn.exec_driver_sql(
            "INSERT INTO subscriptions (hs_object_id, hs_name, hs_status)"
            " VALUES (1, 'Old', 'active')"
        )
    engine.dispose()
    monkeypatch.undo()
    store = open_local(url, create=True).records  # what `subctl init` does: the upgrade
    try:
        sub = store.get(1)
        assert sub.properties["hs_name"] == "Old"
        assert sub.properties["hs_recipient_billing_city"] is None
        assert sub.properties["hs_automatically_email_invoices"] is None
    finally:
        store.close()
