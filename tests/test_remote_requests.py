"""What the remote HubSpot profile asks HubSpot, counted on the fake server (tests/fakehub):
``associate`` reads a subscription's associations once per item (the audit's before is the
service's read, the v4 ``PUT`` is the only other call per item), and the checks stay."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from subctl.errors import NotFound
from tests.conftest import Invoke
from tests.fakehub import FakeHubSpot
from tests.test_cli_remote import hub, on_hub, remote

__all__ = ["hub", "remote"]  # the fixtures, shared with test_cli_remote

SUBS = "/crm/v3/objects/subscriptions/batch/read"
COMPANY_LINKS = "/crm/v4/associations/subscriptions/companies/batch/read"
PAYMENT_LINKS = "/crm/v4/associations/subscriptions/commerce_payments/batch/read"
COMPANIES = "/crm/v3/objects/companies/batch/read"


def asked(fake: FakeHubSpot) -> Counter[str]:
    return Counter(f"{r.method} {r.path}" for r in fake.requests)


def test_a_batch_reads_each_items_associations_once(
    remote: Invoke, hub: FakeHubSpot, tmp_path: Path
) -> None:
    pairs = tmp_path / "pairs.csv"
    pairs.write_text("subscription,object,id\n3,company,77\n4,company,77\n5,company,77\n")
    hub.requests.clear()
    done = on_hub(remote, f"associate --from-file {pairs} --format csv")
    assert done.exit_code == 0, done.stderr
    assert [line.split(",")[5] for line in done.stdout.splitlines()[1:]] == ["added"] * 3
    counts = asked(hub)
    # per item: the associations of that type once (v4, was twice: the audit read them again),
    # the record's label once (was twice), the subscription twice (existence with the
    # associations, its status and dates for the rules; was four times), one PUT
    assert counts[f"POST {COMPANY_LINKS}"] == 3
    assert counts[f"POST {COMPANIES}"] == 3
    assert counts[f"POST {SUBS}"] == 6
    assert sorted(k for k in counts if k.startswith("PUT")) == [
        f"PUT /crm/v4/objects/subscriptions/{s}/associations/companies/77" for s in (3, 4, 5)
    ]
    assert sum(counts.values()) == 3 + 3 * 5  # the profile: its properties, rules and token
    # the audit still says what changed, from the one read
    rows = json.loads(on_hub(remote, "audit -f json").stdout)
    assert [(r["subscription_id"], r["target"], r["before"], r["after"]) for r in rows] == [
        (s, "association:company:77", None, {"type_id": 297}) for s in (3, 4, 5)
    ]


def test_an_association_already_there_is_unchanged_and_not_audited(
    remote: Invoke, hub: FakeHubSpot
) -> None:
    hub.requests.clear()
    done = on_hub(remote, "associate 1 --company 77 --format csv")
    assert done.exit_code == 0, done.stderr
    assert done.stdout.splitlines()[1].endswith(",unchanged")
    counts = asked(hub)
    assert counts[f"POST {COMPANY_LINKS}"] == 1
    # it has associations of that type, so it exists: one read of it (its status and dates)
    assert counts[f"POST {SUBS}"] == 1
    assert not [k for k in counts if k.startswith("PUT")]
    assert json.loads(on_hub(remote, "audit -f json").stdout) == []


def test_a_payment_of_another_subscription_is_still_refused(
    remote: Invoke, hub: FakeHubSpot
) -> None:
    hub.requests.clear()
    refused = on_hub(remote, "associate 3 --payment 900")
    assert (refused.exit_code, refused.stdout) == (5, ""), refused.stderr
    assert refused.stderr.splitlines()[0] == (
        "Error: payment 900 already belongs to subscription 2; a payment belongs to one "
        "subscription"
    )
    counts = asked(hub)
    assert counts[f"POST {PAYMENT_LINKS}"] == 1
    assert not [k for k in counts if k.startswith("PUT")]
    assert (3, "commerce_payments", 900) not in hub.links


@pytest.mark.parametrize(
    ("args", "links"),
    [
        ("associate 2 --contact 17 --remove --yes", "contacts"),
        ("associate 1 --company new --create name=Initech --replace --yes", "companies"),
    ],
)
def test_a_removal_reads_the_associations_once(
    remote: Invoke, hub: FakeHubSpot, args: str, links: str
) -> None:
    """``--remove`` and ``--replace``: the service's read decides; the store's ``DELETE``
    reads them no more (it did, HubSpot answering 204 either way)."""
    hub.requests.clear()
    done = on_hub(remote, args)
    assert done.exit_code == 0, done.stderr
    counts = asked(hub)
    assert counts[f"POST /crm/v4/associations/subscriptions/{links}/batch/read"] == 1
    assert counts[f"POST {SUBS}"] == 1
    assert [k for k in counts if k.startswith("DELETE")] == [
        "DELETE /crm/v4/objects/subscriptions/2/associations/contacts/17"
        if links == "contacts"
        else "DELETE /crm/v4/objects/subscriptions/1/associations/companies/77"
    ]
    assert json.loads(on_hub(remote, "audit -f json").stdout)[-1]["before"] == (
        {"associated": True}
    )


def test_removing_what_is_not_there_is_still_not_found(remote: Invoke, hub: FakeHubSpot) -> None:
    hub.requests.clear()
    refused = on_hub(remote, "associate 3 --contact 17 --remove --yes")
    assert (refused.exit_code, refused.stdout) == (3, ""), refused.stderr
    assert refused.stderr.splitlines()[0] == (
        "Error: subscription 3 is not associated with contact 17"
    )
    assert not [r for r in hub.requests if r.method == "DELETE"]


def test_the_store_says_which_record_is_missing_after_the_put(hub: FakeHubSpot) -> None:
    """``HttpStore.associate`` alone: no reads before the ``PUT``; HubSpot's 404 is explained
    by reading the two records then."""
    from subctl.store.http.client import HubSpotClient
    from subctl.store.http.records import HttpStore
    from tests.test_cli_remote import TOKEN

    store = HttpStore(HubSpotClient("https://api.hubapi.com", TOKEN, transport=hub.transport))
    try:
        hub.requests.clear()
        store.associate(3, "company", 77, 297)
        assert [(r.method, r.path) for r in hub.requests] == [
            ("PUT", "/crm/v4/objects/subscriptions/3/associations/companies/77")
        ]
        assert hub.links[(3, "companies", 77)] == {297}
        with pytest.raises(NotFound, match="^subscription 999 not found$"):
            store.associate(999, "company", 77, 297)
        with pytest.raises(NotFound, match="^company 12345 not found$"):
            store.associate(3, "company", 12345, 297)
        for kind in ("company", None):  # no associations of it: its existence is read
            with pytest.raises(NotFound, match="^subscription 999 not found$"):
                store.associations(999, kind)
    finally:
        store.close()


# -- sync: the property definitions, once ------------------------------------------------------

PROPERTIES = "GET /crm/v3/properties/subscriptions"
RULES = "GET /crm/v3/property-validations/0-69"


def _sync(invoke: Invoke, mirror: str = "mirror") -> dict[str, object]:
    done = on_hub(invoke, f"sync --into {mirror} --format json")
    assert done.exit_code == 0, done.stderr
    found: dict[str, object] = json.loads(done.stdout)
    return found


def test_a_sync_reads_the_property_definitions_once(
    remote: Invoke, hub: FakeHubSpot, tmp_path: Path
) -> None:
    assert remote(f"profile add mirror --local {tmp_path / 'mirror.db'}").exit_code == 0
    for mode in ("full", "incremental"):
        hub.requests.clear()
        assert _sync(remote)["mode"] == mode
        counts = asked(hub)
        # a Professional account (the profile's tier) has no sensitive properties: one GET,
        # not one per data sensitivity (3)
        assert (counts[PROPERTIES], counts[RULES]) == (1, 1), counts
        assert [r.query for r in hub.requests if f"{r.method} {r.path}" == PROPERTIES] == [
            {"dataSensitivity": "non_sensitive"}
        ]


def test_an_enterprise_profile_reads_its_sensitive_properties(
    remote: Invoke, hub: FakeHubSpot, tmp_path: Path
) -> None:
    assert remote("config set profiles.hub.tier enterprise").exit_code == 0
    made = on_hub(
        remote, "property create --name passport --label Passport --type string "
        "--field-type text --sensitivity sensitive",
    )  # fmt: skip
    assert made.exit_code == 0, made.stderr
    assert remote(f"profile add mirror --local {tmp_path / 'mirror.db'}").exit_code == 0
    hub.requests.clear()
    assert _sync(remote)["properties_created"] == 1
    assert asked(hub)[PROPERTIES] == 3  # one per data sensitivity
    shown = remote("--profile mirror property view passport --format json")
    assert json.loads(shown.stdout)["dataSensitivity"] == "sensitive", shown.stderr


def test_a_sensitive_property_made_on_a_professional_profile_is_listed(
    remote: Invoke, hub: FakeHubSpot
) -> None:
    """``property settings --tier enterprise`` on the profile's workspace lets one be made:
    the store lists the sensitive definitions from then on."""
    from subctl.schema import Property, PropType
    from subctl.store.http.client import HubSpotClient
    from subctl.store.http.records import HttpStore
    from tests.test_cli_remote import TOKEN

    store = HttpStore(
        HubSpotClient("https://api.hubapi.com", TOKEN, transport=hub.transport),
        tier="professional",
    )
    try:
        assert store.properties().get("passport") is None
        store.create_property(
            Property(
                "passport",
                "Passport",
                PropType.STRING,
                "text",
                hubspot_defined=False,
                sensitivity="sensitive",
            )  # fmt: skip
        )
        found = store.properties().get("passport")
        assert found is not None and found.sensitivity == "sensitive"
    finally:
        store.close()


@pytest.mark.parametrize(("tier", "gets"), [(None, 3), ("enterprise", 3), ("starter", 1)])
def test_a_profile_without_a_tier_asks_for_every_sensitivity(
    hub: FakeHubSpot, tier: str | None, gets: int
) -> None:
    """The profile's ``--tier`` decides (``open_remote``): said non-Enterprise, one GET; not
    said, every data sensitivity is asked for (an Enterprise account may hold sensitive
    properties, and a profile without ``--tier`` does not say it is not one)."""
    from subctl.store.http import open_remote
    from tests.test_cli_remote import TOKEN

    store = open_remote("https://api.hubapi.com", TOKEN, tier, transport=hub.transport)
    try:
        hub.requests.clear()
        store.properties()
        assert asked(hub)[PROPERTIES] == gets
    finally:
        store.close()


# -- v4 association pages ----------------------------------------------------------------------


def test_every_page_of_a_subscriptions_associations_is_read(
    remote: Invoke, hub: FakeHubSpot
) -> None:
    """Subscription 1 holds 1,201 companies: three pages of 500 on the v4 batch read, the
    pages after the first asked for by ``{id, after}``."""
    many = [77] + [hub.add_record("companies", {"name": f"C{i:04}"}) for i in range(1200)]
    for company in many[1:]:
        hub.associate(1, "companies", company, 297)
    hub.associate(2, "companies", 77, 297)
    hub.requests.clear()
    found = on_hub(remote, "view 1 --format json")
    assert found.exit_code == 0, found.stderr
    assert [c["id"] for c in json.loads(found.stdout)["associations"]["company"]] == sorted(many)
    reads = [r.json["inputs"] for r in hub.requests if r.path == COMPANY_LINKS]
    assert reads == [
        [{"id": "1"}],
        [{"id": "1", "after": str(sorted(many)[499])}],
        [{"id": "1", "after": str(sorted(many)[999])}],
    ]


def test_a_store_reads_every_page(hub: FakeHubSpot) -> None:
    from subctl.store.http.client import HubSpotClient
    from subctl.store.http.records import HttpStore
    from tests.test_cli_remote import TOKEN

    hub.association_page = 2
    for company in [hub.add_record("companies", {"name": f"C{i}"}) for i in range(4)]:
        hub.associate(1, "companies", company, 297)
    store = HttpStore(HubSpotClient("https://api.hubapi.com", TOKEN, transport=hub.transport))
    try:
        companies = sorted(hub.records["companies"])  # 77 and the four
        hub.requests.clear()
        links = store.association_cells([1, 2, 3], ["company"], cap=None)
        assert {sid: cell["company"].count for sid, cell in links.items()} == {1: 5, 2: 0, 3: 0}
        # only subscription 1 has more pages: 2 and 3 are not asked again
        assert [r.json["inputs"] for r in hub.requests if r.path == COMPANY_LINKS] == [
            [{"id": "1"}, {"id": "2"}, {"id": "3"}],
            [{"id": "1", "after": str(companies[1])}],  # the last id of the page before
            [{"id": "1", "after": str(companies[3])}],
        ]
        assert len(store.associations(1, "company")) == 5
    finally:
        store.close()
