"""The audit log of a remote (HubSpot) profile: HubSpot's calls cannot share the workspace's
transaction, so ``ItemByItem`` appends each item's row after its operation (what was asked:
the status decided on and what was set), in the profile's own workspace."""

from __future__ import annotations

import json
from collections.abc import Iterator
from decimal import Decimal

import pytest

from tests.conftest import Invoke
from tests.fakehub import FakeHubSpot

pytestmark = pytest.mark.backends("sqlite")
TOKEN = "pat-test-token"


@pytest.fixture
def hub(invoke: Invoke, monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeHubSpot]:
    fake = FakeHubSpot(token=TOKEN)
    fake.seed([{"hs_object_id": i, "hs_name": f"S{i}", "hs_status": "active",
                "hs_mrr": Decimal("10"), "hs_recurring_billing_frequency": "monthly"}
               for i in (1, 2, 3)])  # fmt: skip
    monkeypatch.setenv("SUBCTL_TOKEN", TOKEN)
    with fake.serve() as url:
        added = invoke(f"profile add prod --hubspot --base-url {url}")
        assert added.exit_code == 0, added.stderr
        yield fake


def test_remote_changes_are_audited_item_by_item(hub: FakeHubSpot, invoke: Invoke) -> None:
    assert invoke("-p prod --actor ops cancel 1 2 --yes").exit_code == 0
    assert invoke("-p prod pause 3 --yes").exit_code == 0
    # several items at once (the remote unit's workers): rows in the order they finished
    rows = sorted(json.loads(invoke("-p prod audit -f json").stdout),
                  key=lambda r: r["subscription_id"])  # fmt: skip
    assert [
        (r["actor"], r["profile"], r["verb"], r["subscription_id"], r["job_id"], r["before"],
         r["after"]) for r in rows
    ] == [
        ("ops", "prod", "cancel", 1, 1, {"hs_status": "active"}, {"hs_status": "canceled"}),
        ("ops", "prod", "cancel", 2, 1, {"hs_status": "active"}, {"hs_status": "canceled"}),
        (rows[2]["actor"], "prod", "pause", 3, 2, {"hs_status": "active", "hs_resume_date": None},
         {"hs_status": "paused", "hs_resume_date": None}),
    ]  # fmt: skip


def test_a_view_export_remote_profile_sends_nothing(hub: FakeHubSpot, invoke: Invoke) -> None:
    assert invoke("config set profiles.prod.permissions view,export").exit_code == 0
    before = len(hub.requests)
    refused = invoke("-p prod cancel 1 --yes")
    assert (refused.exit_code, refused.stderr) == (
        4, 'Error: profile "prod" lacks the "edit" permission needed by cancel\n'
    )  # fmt: skip
    assert len(hub.requests) == before  # not one request
    assert json.loads(invoke("-p prod audit -f json").stdout) == []


def test_remote_audit_rows_keep_the_values_before(hub: FakeHubSpot, invoke: Invoke) -> None:
    """The before of every property a remote change sets, from the snapshots the batch
    decided on; a deleted record keeps its name and status, as a local store's row does."""
    hub.seed(
        [
            {
                "hs_object_id": 1,
                "hs_name": "S1",
                "hs_status": "active",
                "hs_invoice_creation": "on",
                "hs_recurring_billing_frequency": "monthly",
            }
        ]
    )
    updated = invoke(
        "-p prod update 1 --set name='Renamed one' --set next_payment_due_date=2027-01-15 --yes"
    )
    assert updated.exit_code == 0, updated.stderr
    assert invoke("-p prod cancel 2 --yes").exit_code == 0
    assert invoke("-p prod delete 2 --yes").exit_code == 0
    rows = json.loads(invoke("-p prod audit -f json").stdout)
    assert [(r["verb"], r["subscription_id"], r["target"], r["before"], r["after"])
            for r in rows] == [
        ("update", 1, "update", {"hs_name": "S1", "hs_next_payment_due_date": None},
         {"hs_name": "Renamed one", "hs_next_payment_due_date": "2027-01-15"}),
        ("cancel", 2, "cancel", {"hs_status": "active"}, {"hs_status": "canceled"}),
        ("delete", 2, "delete", {"hs_name": "S2", "hs_status": "canceled"}, None),
    ]  # fmt: skip
    # the before values are the snapshots the batch decided on: no read of its own (2 batch
    # reads per command, the plan's and the decision's; with a read per chunk for the audit
    # it was 3); the only requests per item are the store's own (its status check, the change)
    path = "/crm/v3/objects/subscriptions/"
    reads = [r for r in hub.requests if r.path == f"{path}batch/read"]
    assert len(reads) == 6
    one = [r.path for r in hub.requests if r.method == "GET" and r.path.startswith(path)
           and r.path.rsplit("/", 1)[-1].isdigit()]  # fmt: skip
    assert one == [f"{path}1", f"{path}2", f"{path}2"]


REMOTE_SCENARIO = [
    "associate 1 --contact 17",
    "associate 1 --contact 18 --replace --yes",
    "associate 2 --company new --create 'name=Initech' --yes",
    "property create --name tier --type string --label Tier",
    "property edit tier --label 'Plan tier'",
    "property delete tier --yes",
    "filter --where 'status = active' --save-view mine --yes",
    "views delete mine --yes",
    "segment create vip --manual",
    "segment add vip 1",
]


def test_remote_changes_outside_batches_are_audited(hub: FakeHubSpot, invoke: Invoke) -> None:
    """Associations, property definitions, saved views and segments: the rows a local
    profile writes in the change's transaction, appended after HubSpot's call succeeded."""
    for first, last in ((17, "Lovelace"), (18, "Hopper")):
        hub.add_record("contacts", {"firstname": "A", "lastname": last}, record_id=first)
    for args in REMOTE_SCENARIO:
        done = invoke(f"-p prod {args}")
        assert done.exit_code == 0, (args, done.stderr)
    company = max(hub.records["companies"])
    rows = json.loads(invoke("-p prod audit -f json").stdout)
    definition = {
        "label": "Tier", "type": "string", "field_type": "text",
        "group": "subscriptioninformation", "description": "", "options": [], "rules": [],
        "sensitivity": "non_sensitive", "unique": False,
    }  # fmt: skip
    view = {"query": "status = active", "columns": [], "sort": None}
    assert [(r["verb"], r["subscription_id"], r["target"], r["before"], r["after"])
            for r in rows] == [
        ("associate", 1, "association:contact:17", None, {"type_id": 295}),
        ("associate", 1, "association:contact:18", None, {"type_id": 295}),  # --replace: add,
        ("associate", 1, "association:contact:17", {"associated": True}, None),  # then remove
        ("associate", 2, f"association:company:{company}", None, {"type_id": 297}),
        ("property create", None, "property:tier", None, definition),
        ("property edit", None, "property:tier", {"label": "Tier"}, {"label": "Plan tier"}),
        ("property delete", None, "property:tier", {**definition, "label": "Plan tier"}, None),
        ("filter", None, "view:mine", None, view),
        ("views delete", None, "view:mine", view, None),
        ("segment create", None, "segment:vip", None,
         {"kind": "manual", "query": None, "description": ""}),
        ("segment add", None, "segment:vip", None, {"added": [1]}),
    ]  # fmt: skip
