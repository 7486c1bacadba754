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
        ("ops", "prod", "cancel", 1, 1, '{"hs_status":"active"}', '{"hs_status":"canceled"}'),
        ("ops", "prod", "cancel", 2, 1, '{"hs_status":"active"}', '{"hs_status":"canceled"}'),
        (rows[2]["actor"], "prod", "pause", 3, 2, '{"hs_status":"active"}',
         '{"hs_status":"paused","hs_resume_date":null}'),
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
