"""``subctl associate`` end to end on the seeded workspace: subscription 1 has contact 17 and
company 77, subscription 2 contact 17 and payment 900, subscription 3 nothing."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import Invoke, Terminal

pytestmark = pytest.mark.backends("sqlite", "postgresql")


def associations(invoke: Invoke, sub_id: int) -> dict[str, list[tuple[int, int]]]:
    result = invoke(f"view {sub_id} -f json")
    assert result.exit_code == 0, result.stderr
    doc = json.loads(result.stdout)["associations"]
    return {k: [(r["id"], r["associationTypeId"]) for r in v] for k, v in doc.items()}


def test_add_stores_and_shows_the_association_type_id(seeded: Invoke) -> None:
    result = seeded("associate 3 --contact 17 -f json")
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout) | {"label": ""} == {
        "line": None, "subscription_id": 3, "object_type": "contact", "object_id": 17,
        "associationTypeId": 295, "outcome": "added", "label": "", "replaced": [], "error": None,
    }  # fmt: skip
    assert result.stderr.strip() == (
        "✔ Associated contact 17 (Ada Lovelace (ada@example.com)) with subscription 3 [type 295]"
    )
    assert associations(seeded, 3) == {"contact": [(17, 295)]}
    assert "[type 295]" in seeded("view 3 -f table").stdout
    again = seeded("associate 3 --contact 17 -f json")
    assert json.loads(again.stdout)["outcome"] == "unchanged"


def test_a_second_contact_needs_replace(seeded: Invoke) -> None:
    created = seeded("associate 3 --contact new --create 'name=Grace Hopper,email=grace@navy.mil'"
                     " -f json")  # fmt: skip
    assert created.exit_code == 0, created.stderr
    new_id = json.loads(created.stdout)["object_id"]
    assert json.loads(created.stdout)["label"] == "Grace Hopper (grace@navy.mil)"
    refused = seeded(f"associate 1 --contact {new_id}")
    assert refused.exit_code == 5
    assert refused.stderr.splitlines() == [
        "Error: subscription 1 already has contact 17 (Ada Lovelace (ada@example.com)); "
        "a subscription has at most one contact",
        f"Hint: replace it: subctl associate 1 --contact {new_id} --replace",
    ]
    assert associations(seeded, 1)["contact"] == [(17, 295)]
    replaced = seeded(f"associate 1 --contact {new_id} --replace --yes -f json")
    assert replaced.exit_code == 0, replaced.stderr
    assert json.loads(replaced.stdout)["replaced"] == [17]
    assert "replacing contact 17" in replaced.stderr
    assert associations(seeded, 1)["contact"] == [(new_id, 295)]
    # creating a new contact for a subscription that has one is refused before creating it
    refused = seeded("associate 2 --contact new --create 'email=x@example.com'")
    assert refused.exit_code == 5
    assert associations(seeded, 2)["contact"] == [(17, 295)]


def test_companies_add_replace_and_remove(seeded: Invoke) -> None:
    created = seeded("associate 1 --company new --create 'name=\"Globex, Inc.\",domain=globex.com'"
                     " -f json")  # fmt: skip
    assert created.exit_code == 0, created.stderr
    globex = json.loads(created.stdout)["object_id"]
    assert associations(seeded, 1)["company"] == [(77, 297), (globex, 297)]
    listed = seeded("list --where 'associations.company = 77' --fields id -f json")
    assert [r["hs_object_id"] for r in json.loads(listed.stdout)] == [1]
    assert seeded("associate 3 --company 77").exit_code == 0
    listed = seeded("list --where 'associations.company = 77' --fields id -f json")
    assert sorted(r["hs_object_id"] for r in json.loads(listed.stdout)) == [1, 3]
    assert seeded("associate 1 --company 77 --replace --yes").exit_code == 0
    assert associations(seeded, 1)["company"] == [(77, 297)]
    removed = seeded("associate 1 --company 77 --remove")
    assert removed.exit_code == 0
    assert removed.stderr.strip() == "✔ Removed company 77 (Acme Corp) from subscription 1"
    assert "company" not in associations(seeded, 1)
    again = seeded("associate 1 --company 77 --remove")
    assert (again.exit_code, again.stderr.strip()) == (
        3,
        "Error: subscription 1 is not associated with company 77",
    )


def test_every_object_type_with_its_type_id(seeded: Invoke) -> None:
    creates = {
        "deal": "name=Renewal,amount=1200",
        "line-item": "name=Pro plan,quantity=3,price=33.00",
        "quote": "title=Q-2026-1",
        "invoice": "number=INV-1,amount=99",
        "payment": "amount=99.00,currency=usd",
    }
    for flag, fields in creates.items():
        result = seeded(f"associate 3 --{flag} new --create '{fields}'")
        assert result.exit_code == 0, (flag, result.stderr)
    assert associations(seeded, 3) == {
        "deal": [(1, 299)], "line_item": [(1, 301)], "quote": [(1, 303)],
        "invoice": [(1, 623)], "payment": [(901, 393)],
    }  # fmt: skip


def test_a_line_item_has_a_single_parent(seeded: Invoke) -> None:
    assert seeded("associate 1 --line-item new --create 'name=Seat,price=5'").exit_code == 0
    refused = seeded("associate 3 --line-item 1")
    assert refused.exit_code == 5
    assert "line item 1 already belongs to subscription 1" in refused.stderr


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        ("associate 999 --contact 17", 3, "subscription 999 not found"),
        ("associate 3 --contact 12345", 3, "contact 12345 not found"),
        ("associate 3", 2, "give exactly one of --contact"),
        ("associate 3 --contact 17 --company 77", 2, "give exactly one of"),
        ("associate --contact 17", 2, "missing subscription ID"),
        ("associate 3 --contact 17 --replace --remove", 2, "cannot be combined"),
        ("associate 3 --contact 17 --create name=x", 2, "use --contact new --create"),
        ("associate 3 --contact new", 2, "--contact new needs --create"),
        ("associate 3 --contact abc", 2, '--contact: "abc" is not a record id'),
        ("associate 3 --contact new --create 'phone=1'", 2, "contact has no field phone"),
        ("associate 3 --contact new --create 'email=nope'", 2, '"nope" is not an email address'),
        ("associate 3 --company new --create 'domain=acme.com'", 2, "a company needs name="),
        ("associate 3 --payment new --create 'amount=1,currency=dollars'", 2,
         'currency "dollars" is not an ISO 4217 currency code'),
        ("associate 3 --payment new --create 'amount=1,currency=XYZ'", 2,
         'currency "XYZ" is not an ISO 4217 currency code'),
        ("associate 3 --deal new --create 'name=x,amount=lots'", 2, '"lots" is not a number'),
        ("associate 3 --contact new --create name", 2, '"name" is not key=value'),
        ("associate 3 --contact 17 --from-file x.csv", 2, "--from-file takes no ID"),
        ("associate --from-file missing.csv", 2, "cannot read missing.csv"),
    ],
)  # fmt: skip
def test_refusals(seeded: Invoke, args: str, code: int, message: str) -> None:
    result = seeded(args)
    assert result.exit_code == code, result.stderr
    assert message in result.stderr
    assert "Traceback" not in result.stderr


def test_the_objects_an_export_lists(seeded: Invoke, tmp_path: Path) -> None:
    """Orders and payment links with HubSpot's type ids; feedback submissions and custom object
    records with subctl's own (``schema.ASSOCIATION_OBJECTS``)."""
    creates = {
        "order": ("name=ORD-1,amount=99,currency=usd,status=paid", "ORD-1"),
        "payment-link": ("name=Pro checkout,url=https://pay.example.com/pro", "Pro checkout"),
        "feedback-submission": ("survey=NPS survey,sentiment=Positive", "NPS survey (positive)"),
        "custom-record": ("object=License,name=LIC-7", "LIC-7 (License)"),
    }
    for flag, (fields, label) in creates.items():
        result = seeded(f"associate 3 --{flag} new --create '{fields}' -f json")
        assert result.exit_code == 0, (flag, result.stderr)
        assert json.loads(result.stdout)["label"] == label
    assert associations(seeded, 3) == {
        "order": [(1, 515)], "payment_link": [(1, 478)], "feedback_submission": [(1, 9001)],
        "custom_record": [(1, 9003)],
    }  # fmt: skip
    refused = seeded("associate 3 --feedback-submission new --create 'survey=X,sentiment=meh'")
    assert refused.exit_code == 2
    assert 'sentiment "meh" is not one of positive, neutral, negative' in refused.stderr
    pairs = tmp_path / "pairs.csv"
    pairs.write_text("4,orders,1\n4,0-123,1\n4,payment link,1\n4,feedback,1\n"
                     "4,custom object record,1\n")  # fmt: skip
    result = seeded(f"associate --from-file {pairs} -f json")
    assert result.exit_code == 0, result.stderr
    assert [(r["object_type"], r["outcome"]) for r in json.loads(result.stdout)] == [
        ("order", "added"), ("order", "unchanged"), ("payment_link", "added"),
        ("feedback_submission", "added"), ("custom_record", "added"),
    ]  # fmt: skip


def test_batch_from_file(seeded: Invoke, tmp_path: Path) -> None:
    good = tmp_path / "good.csv"
    good.write_text("subscription_id,object_type,object_id\n3,companies,77\n3,0-1,17\n"
                    "3,contact,17\n")  # fmt: skip
    result = seeded(f"associate --from-file {good} -f json")
    assert result.exit_code == 0, result.stderr
    rows = json.loads(result.stdout)
    assert [(r["line"], r["object_type"], r["associationTypeId"], r["outcome"]) for r in rows] == [
        (2, "company", 297, "added"), (3, "contact", 295, "added"),
        (4, "contact", 295, "unchanged"),
    ]  # fmt: skip
    assert result.stderr.strip() == "✔ 3 rows: 2 added, 1 unchanged"

    mixed = tmp_path / "mixed.csv"
    mixed.write_text("4,company,77\n4,contact,17\n5,contact,999\nx,deal,1\n2,fax,1\n"
                     "1,contact,17,extra\n")  # fmt: skip
    result = seeded(f"associate --from-file {mixed} -f json")
    rows = json.loads(result.stdout)
    assert [(r["line"], r["outcome"]) for r in rows] == [
        (1, "added"), (2, "added"), (3, "failed"), (4, "failed"), (5, "failed"), (6, "failed"),
    ]  # fmt: skip
    assert rows[2]["error"] == "contact 999 not found"
    assert rows[3]["error"] == 'subscription id: "x" is not a record id'
    assert rows[4]["error"].startswith('unknown object type "fax"')
    assert rows[5]["error"].startswith("expected 3 columns")
    assert result.exit_code == 5  # a batch with failed items, whatever the reasons
    assert result.stderr.startswith("Error: 4 of 6 rows failed (2 added, 4 failed); first, line 3:")
    assert associations(seeded, 4) == {"company": [(77, 297)], "contact": [(17, 295)]}

    replace = tmp_path / "replace.csv"
    replace.write_text("1,company,77\n")
    assert seeded("associate 3 --company new --create name=Initech").exit_code == 0
    replace.write_text("3,company,77\n")
    result = seeded(f"associate --from-file {replace} --replace --yes -f json")
    assert json.loads(result.stdout)[0]["replaced"] == [78]
    second = tmp_path / "second.csv"
    assert seeded("associate 5 --contact new --create name=Bob").exit_code == 0  # contact 18
    second.write_text("1,contact,17\n2,contact,17\n1,contact,18\n")
    result = seeded(f"associate --from-file {second} -f json")
    assert result.exit_code == 5
    assert [r["outcome"] for r in json.loads(result.stdout)] == ["unchanged", "unchanged", "failed"]


def test_batch_from_stdin(seeded: Invoke) -> None:
    result = seeded("associate --from-file - -f csv", input="3,company,77\n")
    assert result.exit_code == 0, result.stderr
    assert result.stdout.splitlines()[1].startswith("1,3,company,77,297,added")


# -- regressions -------------------------------------------------------------------------------


def test_a_payment_belongs_to_one_subscription(seeded: Invoke, tmp_path: Path) -> None:
    refused = seeded("associate 3 --payment 900")
    assert (refused.exit_code, refused.stderr.splitlines()) == (5, [
        "Error: payment 900 already belongs to subscription 2; a payment belongs to one "
        "subscription",
        "Hint: remove it there first: subctl associate 2 --payment 900 --remove",
    ])  # fmt: skip
    assert seeded("associate 3 --payment 900 --replace").exit_code == 5
    assert "payment" not in associations(seeded, 3)
    assert json.loads(seeded("associate 2 --payment 900 -f json").stdout)["outcome"] == "unchanged"
    pairs = tmp_path / "pairs.csv"
    pairs.write_text("3,payment,900\n")
    result = seeded(f"associate --from-file {pairs} -f json")
    assert result.exit_code == 5
    assert json.loads(result.stdout)[0]["error"].startswith("payment 900 already belongs to")
    assert seeded("associate 2 --payment 900 --remove").exit_code == 0
    assert "payment" not in associations(seeded, 2)
    # once removed it can be associated elsewhere (in the same currency)
    assert seeded("associate 1 --payment new --create amount=5,currency=usd").exit_code == 0
    assert seeded("associate 3 --payment 901").exit_code == 5
    assert seeded("associate 1 --payment 901 --remove").exit_code == 0
    assert seeded("associate 3 --payment 901").exit_code == 0
    assert associations(seeded, 3) == {"payment": [(901, 393)]}


@pytest.mark.parametrize(
    ("args", "input", "code"),
    [  # a bad row fails its item: a batch with a failed item exits 5
        ("associate --from-file - -f json", "²,contact,1\n", 5),
        ("associate --from-file - -f json", "3,contact,17\n²,contact,1\n", 5),
        ("associate 3 --line-item new --create 'name=x,price=1,quantity=²'", None, 2),
        ("associate 3 --line-item new --create 'name=x,price=1,quantity=" + "9" * 30 + "'", None,
         2),
        ("associate 3 --contact ²", None, 2),
    ],
)  # fmt: skip
def test_non_ascii_digits_are_refused_cleanly(
    seeded: Invoke, args: str, input: str | None, code: int
) -> None:
    result = seeded(args, input=input)
    assert result.exit_code == code, result.stderr
    assert "unexpected" not in result.stderr and "Traceback" not in result.stderr


def test_batch_header_after_a_comment(seeded: Invoke) -> None:
    text = "# my pairs\n\nsubscription_id,object_type,object_id\n3,company,77\n"
    result = seeded("associate --from-file - -f json", input=text)
    assert result.exit_code == 0, result.stderr
    assert [(r["line"], r["outcome"]) for r in json.loads(result.stdout)] == [(4, "added")]
    # only the first row can be a header
    text = "subscription_id,object_type,object_id\nid,type,object\n"
    result = seeded("associate --from-file - -f json", input=text)
    assert result.exit_code == 5
    assert [(r["line"], r["outcome"]) for r in json.loads(result.stdout)] == [(2, "failed")]


def test_batch_from_stdin_ignores_a_bom(seeded: Invoke) -> None:
    result = seeded("associate --from-file - -f json", input="\ufeff3,company,77\n3,contact,17\n")
    assert result.exit_code == 0, result.stderr
    assert [(r["line"], r["object_type"], r["outcome"]) for r in json.loads(result.stdout)] == [
        (1, "company", "added"),
        (2, "contact", "added"),
    ]


@pytest.mark.parametrize("sub_id", ["0", "-1", str(2**63), "99999999999999999999999"])
def test_subscription_ids_out_of_range_are_usage_errors(seeded: Invoke, sub_id: str) -> None:
    result = seeded(["associate", sub_id, "--contact", "17"])
    assert result.exit_code == 2, result.stderr
    assert "Traceback" not in result.stderr and "unexpected" not in result.stderr


def test_the_largest_subscription_id_is_looked_up(seeded: Invoke) -> None:
    result = seeded(["associate", str(2**63 - 1), "--contact", "17"])
    assert (result.exit_code, result.stderr.strip()) == (
        3,
        f"Error: subscription {2**63 - 1} not found",
    )


# -- edit rules, confirmation, currencies, line items -------------------------------------------


def freeze_subscription_1(invoke: Invoke) -> None:
    """Subscription 1's next payment becomes due tomorrow: it can no longer be edited."""
    result = invoke("update 1 --set next_payment_due_date=2026-11-27 --yes")
    assert result.exit_code == 0, result.stderr


ENDED = "subscription 4 is canceled: an ended subscription cannot be edited"
FROZEN = (
    "Error: subscription 1: the next payment is due tomorrow (2026-11-27): subscriptions cannot "
    "be edited within 2 days of their next payment\n"
)


@pytest.mark.parametrize(
    "args",
    [
        "--company 77 --remove",
        "--contact 17 --replace --yes",
        "--company new --create name=Initech --replace --yes",
    ],
)
def test_replace_and_remove_follow_the_edit_freeze(seeded: Invoke, args: str) -> None:
    freeze_subscription_1(seeded)
    before = associations(seeded, 1)
    result = seeded(f"associate 1 {args}")
    assert (result.exit_code, result.stderr) == (5, FROZEN)
    assert associations(seeded, 1) == before
    # adding is not an edit
    assert seeded("associate 1 --deal new --create name=Renewal").exit_code == 0


def test_replace_and_remove_refused_on_an_ended_subscription(
    seeded: Invoke, tmp_path: Path
) -> None:
    assert seeded("associate 4 --company 77").exit_code == 0
    for args in ("--company 77 --remove", "--company 77 --replace --yes"):
        result = seeded(f"associate 4 {args}")
        assert (result.exit_code, result.stderr) == (5, f"Error: {ENDED}\n")
    pairs = tmp_path / "pairs.csv"
    pairs.write_text("4,company,77\n")
    result = seeded(f"associate --from-file {pairs} --remove -f json")
    assert result.exit_code == 5
    assert json.loads(result.stdout)[0]["error"] == ENDED
    assert associations(seeded, 4) == {"company": [(77, 297)]}


def test_replace_asks_first(seeded: Invoke, terminal: Terminal) -> None:
    assert seeded("associate 3 --company new --create name=Initech").exit_code == 0  # 78
    # off a terminal: --yes is required, nothing changes without it
    result = seeded("associate 1 --company 78 --replace")
    assert (result.exit_code, result.stderr.splitlines()) == (2, [
        "Error: Replace company 77 (Acme Corp) of subscription 1: confirmation required",
        "Hint: pass --yes to confirm",
    ])  # fmt: skip
    assert associations(seeded, 1)["company"] == [(77, 297)]
    # on a terminal: declining changes nothing
    fake = terminal(False)
    assert seeded("associate 1 --company 78 --replace").exit_code == 130
    assert fake.questions == ["Replace company 77 (Acme Corp) of subscription 1?"]
    assert associations(seeded, 1)["company"] == [(77, 297)]
    fake = terminal(True)
    assert seeded("associate 1 --company 78 --replace").exit_code == 0
    assert associations(seeded, 1)["company"] == [(78, 297)]
    # nothing to replace: nothing to ask
    fake = terminal(False)
    assert seeded("associate 3 --contact 17 --replace").exit_code == 0
    assert fake.questions == []


def test_replace_from_a_file_needs_yes_off_a_terminal(seeded: Invoke, tmp_path: Path) -> None:
    pairs = tmp_path / "pairs.csv"
    pairs.write_text("3,company,77\n")
    result = seeded(f"associate --from-file {pairs} --replace")
    assert result.exit_code == 2 and "confirmation required" in result.stderr
    assert "company" not in associations(seeded, 3)


def test_a_payment_in_another_currency_is_refused(seeded: Invoke) -> None:
    assert seeded("associate 2 --payment 900 --remove").exit_code == 0
    result = seeded("associate 1 --payment 900")
    assert (result.exit_code, result.stderr) == (5, (
        "Error: payment 900 is in EUR, subscription 1 in USD: a payment in another currency "
        "cannot be associated\n"
    ))  # fmt: skip
    created = seeded("associate 1 --payment new --create amount=5,currency=eur")
    assert created.exit_code == 5
    assert "the payment is in EUR, subscription 1 in USD" in created.stderr
    assert "payment" not in associations(seeded, 1)
    assert seeded("associate 1 --payment new --create amount=5,currency=usd").exit_code == 0


def history(invoke: Invoke, sub_id: int, name: str) -> list[tuple[str, str]]:
    doc = json.loads(invoke(f"view {sub_id} -f json").stdout)
    return [(h["old"], h["new"]) for h in doc["history"] if h["property"] == name]


def test_edit_a_line_item_and_the_amounts_follow(seeded: Invoke) -> None:
    assert seeded("associate 1 --line-item new --create 'name=Pro plan,quantity=3,price=33'"
                  ).exit_code == 0  # fmt: skip
    assert seeded("associate 1 --line-item new --create 'name=Add-on,price=9.99'").exit_code == 0
    result = seeded("associate 1 --line-item 1 --quantity 4 --price 12.50 -f json")
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout) == {
        "subscription_id": 1, "line_item_id": 1, "name": "Pro plan", "quantity": 4,
        "price": 12.5, "currency": "USD", "hs_next_payment_amount": 59.99, "hs_mrr": 59.99,
    }  # fmt: skip
    assert result.stderr == (
        "✔ Updated line item 1 (Pro plan) of subscription 1: 4 × 12.50 USD; next payment "
        "amount 99.00 → 59.99, MRR 99.00 → 59.99\n"
    )
    doc = json.loads(seeded("view 1 -f json").stdout)
    assert (doc["properties"]["hs_next_payment_amount"], doc["properties"]["hs_mrr"]) == (
        59.99, 59.99)  # fmt: skip
    assert [r["label"] for r in doc["associations"]["line_item"]] == ["Pro plan × 4", "Add-on × 1"]
    assert history(seeded, 1, "hs_next_payment_amount") == [("99.00", "59.99")]
    assert history(seeded, 1, "hs_mrr") == [("99.00", "59.99")]
    # a quarterly subscription: MRR is a third of the amount
    assert seeded("associate 3 --line-item new --create 'name=Team,quantity=3,price=100'"
                  ).exit_code == 0  # fmt: skip
    result = seeded("associate 3 --line-item 3 --price 110 -f json")
    assert result.exit_code == 0, result.stderr
    row = json.loads(result.stdout)
    assert (row["hs_next_payment_amount"], row["hs_mrr"]) == (330.0, 110.0)
    # paused: the amount follows, the MRR stays 0 until resumed
    assert seeded("pause 1 --yes").exit_code == 0
    row = json.loads(seeded("associate 1 --line-item 2 --quantity 2 -f json").stdout)
    assert (row["hs_next_payment_amount"], row["hs_mrr"]) == (69.98, 0.0)
    assert seeded("resume 1 --next-billing-date 2027-01-10 --yes").exit_code == 0
    assert json.loads(seeded("view 1 -f json").stdout)["properties"]["hs_mrr"] == 69.98


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        ("associate 3 --line-item 1 --quantity 2", 5,
         "line item 1 does not belong to subscription 3"),
        ("associate 1 --line-item 9 --quantity 2", 3, "line item 9 not found"),
        ("associate 1 --line-item 1 --quantity 0", 2,
         '--line-item: quantity "0" is not a positive whole number'),
        ("associate 1 --line-item 1 --quantity 1000001", 2,
         '--line-item: quantity "1000001" is not a positive whole number (1 to 1,000,000)'),
        ("associate 1 --line-item 1 --quantity 2.5", 2,
         '--line-item: quantity "2.5" is not a positive whole number'),
        ("associate 1 --line-item 1 --price 1e400", 2,
         '--line-item: price "1e400" is out of range'),
        ("associate 1 --line-item 1 --price 1e-400", 2,
         '--line-item: price "1e-400" is out of range'),
        ("associate 1 --line-item 1 --price 99999999999999999999", 2,
         '--line-item: price "99999999999999999999" is out of range'),
        ("associate 1 --line-item 1 --price 1000000000000", 2,
         '--line-item: price "1000000000000" is too large'),
        ("associate 1 --line-item 1 --price 1.23456", 2,
         "--line-item: price \"1.23456\" has more than 3 decimal places"),
        ("associate 1 --line-item 1 --price 1.234", 2,
         "--line-item: price 1.234 has more decimal places than USD allows (2 decimal places)"),
        ("associate 1 --line-item 1 --quantity 1000000 --price 999999999", 2,
         "--line-item: the next payment amount 999999999000000.00 is too large"),
        ("associate 1 --line-item 1 --price abc", 2, '--line-item: price "abc" is not a number'),
        ("associate 1 --line-item 1 --price -1", 2, '--line-item: price "-1" is negative'),
        ("associate 1 --contact 17 --quantity 2", 2, "--line-item ID only"),
        ("associate 1 --line-item 1 --price 5 --replace", 2, "--line-item ID only"),
        ("associate 4 --line-item 2 --price 5", 5, "an ended subscription cannot be edited"),
    ],
)  # fmt: skip
def test_line_item_edit_refusals(seeded: Invoke, args: str, code: int, message: str) -> None:
    assert seeded("associate 1 --line-item new --create 'name=Seat,price=5'").exit_code == 0
    assert seeded("associate 4 --line-item new --create 'name=Seat,price=5'").exit_code == 0
    result = seeded(args)
    assert result.exit_code == code, result.stderr
    assert message in result.stderr and "Traceback" not in result.stderr
    assert json.loads(seeded("view 1 -f json").stdout)["properties"]["hs_next_payment_amount"] == 99


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ("amount=1e400,currency=usd", '--create: amount "1e400" is out of range'),
        ("amount=-5,currency=usd", '--create: amount "-5" is negative'),
        ("amount=1.234,currency=usd", "--create: amount 1.234 has more decimal places than USD"),
        ("amount=5.5,currency=jpy", "--create: amount 5.5 has more decimal places than JPY"),
    ],
)  # fmt: skip
def test_new_payment_amounts_are_checked_money(seeded: Invoke, fields: str, message: str) -> None:
    result = seeded(f"associate 3 --payment new --create '{fields}'")
    assert result.exit_code == 2, result.stderr
    assert result.stderr.startswith(f"Error: {message}")
    assert "payment" not in associations(seeded, 3)
    assert seeded("view 3").exit_code == 0


def test_line_items_of_a_frozen_subscription_cannot_be_edited(seeded: Invoke) -> None:
    assert seeded("associate 1 --line-item new --create 'name=Seat,price=5'").exit_code == 0
    freeze_subscription_1(seeded)
    result = seeded("associate 1 --line-item 1 --quantity 2")
    assert (result.exit_code, result.stderr) == (5, FROZEN)


def test_pairs_on_stdin_with_cr_only_line_endings(seeded: Invoke) -> None:
    """Old-Mac line endings on stdin read as they do from a file: one row a line."""
    result = seeded(
        ["associate", "--from-file", "-", "--format", "csv"], input="5,company,77\r2,company,77\r"
    )
    assert result.exit_code == 0, result.stderr
    assert [line.split(",")[:6] for line in result.stdout.splitlines()[1:]] == [
        ["1", "5", "company", "77", "297", "added"],
        ["2", "2", "company", "77", "297", "added"],
    ]
