"""The fake HubSpot server (tests/fakehub): shapes, limits, paging, faults, the request log and
the virtual clock's rate-limit windows; and its search semantics against the SQL store's."""

from __future__ import annotations

import datetime as dt
import io
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest

from subctl.query.parser import parse
from subctl.store.http.search import to_filter_groups
from subctl.store.sql import open_local, sqlite_url
from tests.fakehub import FakeHubSpot

TOKEN = "pat-test-token"
SUBS = "/crm/v3/objects/subscriptions"
LIFECYCLE = "/payments-subscriptions/v1/subscriptions/crm"


class Clock:
    """A virtual clock in seconds."""

    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


ROWS: list[dict[str, Any]] = [
    {
        "hs_object_id": 101,
        "hs_name": "Alpha monthly",
        "hs_status": "active",
        "hs_next_payment_due_date": dt.date(2026, 12, 1),
        "hs_mrr": Decimal("10.00"),
        "hs_recurring_billing_frequency": "monthly",
        "hs_currency_code": "USD",
        "hs_allowed_payment_methods": "card;ach",
        "hs_automatically_email_invoices": True,
    },
    {
        "hs_object_id": 102,
        "hs_name": "Beta annual",
        "hs_status": "unpaid",
        "hs_next_payment_due_date": dt.date(2026, 11, 20),
        "hs_mrr": Decimal("25.00"),
        "hs_recurring_billing_frequency": "annually",
        "hs_currency_code": "eur",
        "hs_allowed_payment_methods": "sepa",
        "hs_automatically_email_invoices": False,
    },
    {
        "hs_object_id": 103,
        "hs_name": "Gamma weekly (ACME)",
        "hs_status": "canceled",
        "hs_mrr": Decimal("0.00"),
        "hs_recurring_billing_frequency": "weekly",
    },
    {
        "hs_object_id": 104,
        "hs_name": "delta, acme-app.io",
        "hs_status": "paused",
        "hs_next_payment_due_date": dt.date(2027, 1, 15),
        "hs_mrr": Decimal("20.5"),
        "hs_recurring_billing_frequency": "quarterly",
        "hs_currency_code": "USD",
    },
    {"hs_object_id": 105, "hs_status": "active", "hs_mrr": Decimal("100")},
]


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def fake(clock: Clock) -> FakeHubSpot:
    hub = FakeHubSpot(clock=clock)
    hub.seed(ROWS)
    return hub


def client_of(fake: FakeHubSpot, clock: Clock | None = None) -> httpx.Client:
    """A client of the fake; with ``clock``, each answer moves it 0.25 s on (under the search
    limit of 5 per second)."""

    def tick(_response: httpx.Response) -> None:
        if clock is not None:
            clock.t += 0.25

    return httpx.Client(
        base_url="https://api.hubapi.com",
        transport=fake.transport,
        headers={"Authorization": f"Bearer {TOKEN}"},
        event_hooks={"response": [tick]},
    )


@pytest.fixture
def api(fake: FakeHubSpot, clock: Clock) -> Iterator[httpx.Client]:
    with client_of(fake, clock) as client:
        yield client


@pytest.fixture
def still(fake: FakeHubSpot) -> Iterator[httpx.Client]:
    """A client whose requests do not move the clock."""
    with client_of(fake) as client:
        yield client


def search(api: httpx.Client, body: dict[str, Any]) -> httpx.Response:
    return api.post(f"{SUBS}/search", json=body)


def ids_of(response: httpx.Response) -> list[int]:
    assert response.status_code == 200, response.text
    return [int(r["id"]) for r in response.json()["results"]]


# -- shapes ---------------------------------------------------------------------------------


def test_a_record_comes_back_in_hubspots_shape_with_string_values(api: httpx.Client) -> None:
    response = api.get(
        f"{SUBS}/101", params={"properties": "hs_name,hs_next_payment_due_date,hs_mrr,hs_tax_ids"}
    )
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"id", "properties", "createdAt", "updatedAt", "archived"}
    assert body["id"] == "101" and body["archived"] is False
    props = body["properties"]
    assert props["hs_name"] == "Alpha monthly"
    assert props["hs_next_payment_due_date"] == "2026-12-01"
    assert props["hs_mrr"] == "10.00"
    assert props["hs_tax_ids"] is None  # asked for, without a value
    assert props["hs_object_id"] == "101"
    assert props["hs_lastmodifieddate"].endswith("Z")
    assert all(isinstance(v, str) for k, v in props.items() if k != "hs_tax_ids")


def test_errors_have_status_message_correlation_id_and_category(api: httpx.Client) -> None:
    response = api.get(f"{SUBS}/999")
    assert response.status_code == 404
    body = response.json()
    assert body["status"] == "error" and body["category"] == "OBJECT_NOT_FOUND"
    assert body["message"] and len(body["correlationId"]) == 36


def test_without_the_token_401_and_without_a_scope_403_naming_it(fake: FakeHubSpot) -> None:
    transport = fake.transport
    anonymous = httpx.Client(base_url="https://x", transport=transport)
    response = anonymous.get(SUBS)
    assert response.status_code == 401
    assert response.json()["category"] == "INVALID_AUTHENTICATION"
    fake.scopes = frozenset({"crm.objects.subscriptions.read"})
    client = httpx.Client(
        base_url="https://x", transport=transport, headers={"Authorization": f"Bearer {TOKEN}"}
    )
    assert client.get(SUBS).status_code == 200
    response = client.patch(f"{SUBS}/101", json={"properties": {"hs_name": "x"}})
    assert response.status_code == 403
    body = response.json()
    assert body["category"] == "MISSING_SCOPES"
    assert body["context"]["missingScopes"] == ["crm.objects.subscriptions.write"]
    assert fake.subscription(101)["hs_name"] == "Alpha monthly"


# -- lists and paging -------------------------------------------------------------------------


def test_list_pages_by_id_with_after_and_refuses_a_limit_over_100(
    fake: FakeHubSpot, api: httpx.Client
) -> None:
    seen: list[int] = []
    params: dict[str, str] = {"limit": "2", "properties": "hs_name"}
    while True:
        body = api.get(SUBS, params=params).json()
        seen += [int(r["id"]) for r in body["results"]]
        if "paging" not in body:
            break
        params["after"] = body["paging"]["next"]["after"]
    assert seen == [101, 102, 103, 104, 105]
    assert api.get(SUBS, params={"limit": "101"}).status_code == 400
    fake.archive(103)
    assert [int(r["id"]) for r in api.get(SUBS, params={"limit": "100"}).json()["results"]] == [
        101,
        102,
        104,
        105,
    ]
    archived = api.get(SUBS, params={"archived": "true"}).json()["results"]
    assert [(r["id"], r["archived"]) for r in archived] == [("103", True)]
    assert "archivedAt" in archived[0]


def test_search_pages_with_after_and_stops_at_10000(fake: FakeHubSpot, api: httpx.Client) -> None:
    response = search(
        api, {"limit": 2, "sorts": [{"propertyName": "hs_mrr", "direction": "DESCENDING"}]}
    )
    body = response.json()
    assert body["total"] == 5 and ids_of(response) == [105, 102]
    assert body["paging"]["next"]["after"] == "2"
    assert ids_of(search(api, {"limit": 2, "after": "4"})) == [105]
    assert "paging" not in search(api, {"limit": 2, "after": "4"}).json()
    assert search(api, {"after": "10000"}).status_code == 400
    assert search(api, {"limit": 201}).status_code == 400
    assert ids_of(search(api, {"limit": 200})) == [101, 102, 103, 104, 105]


def test_search_limits_groups_filters_sorts_and_body_size(api: httpx.Client) -> None:
    def f(i: int) -> dict[str, str]:
        return {"propertyName": "hs_mrr", "operator": "GT", "value": str(i)}

    assert search(api, {"filterGroups": [{"filters": [f(1)]}] * 5}).status_code == 200
    assert search(api, {"filterGroups": [{"filters": [f(1)]}] * 6}).status_code == 400
    assert search(api, {"filterGroups": [{"filters": [f(i) for i in range(6)]}]}).status_code == 200
    assert search(api, {"filterGroups": [{"filters": [f(i) for i in range(7)]}]}).status_code == 400
    eighteen = [{"filters": [f(i) for i in range(6)]}] * 3
    assert search(api, {"filterGroups": eighteen}).status_code == 200
    nineteen = [*eighteen, {"filters": [f(1)]}]
    response = search(api, {"filterGroups": nineteen})
    assert response.status_code == 400 and response.json()["category"] == "VALIDATION_ERROR"
    two_sorts = [{"propertyName": "hs_mrr"}, {"propertyName": "hs_name"}]
    assert search(api, {"sorts": two_sorts}).status_code == 400
    big = {
        "filterGroups": [
            {"filters": [{"propertyName": "hs_name", "operator": "EQ", "value": "x" * 2950}]}
        ]
    }
    assert search(api, big).status_code == 400


def test_search_excludes_archived_records_and_sorts_nulls_last(
    fake: FakeHubSpot, api: httpx.Client
) -> None:
    fake.archive(101)
    for direction, expected in (("ASCENDING", [102, 104]), ("DESCENDING", [104, 102])):
        body = {"sorts": [{"propertyName": "hs_next_payment_due_date", "direction": direction}]}
        # no due date: last either way, by id; 101 (archived) nowhere
        assert ids_of(search(api, body)) == [*expected, 103, 105]


# -- search semantics equal the SQL store's ----------------------------------------------------

QUERIES = [
    "status = active",
    "status != active",
    "status in (active, paused)",
    "status not in (active, paused)",
    "mrr > 10",
    "mrr >= 10 and mrr <= 25",
    "mrr between 10 and 21",
    "due < 2026-12-01",
    "due != 2026-12-01",
    "not due > 2026-11-30",
    "has due",
    "not has due",
    "name = 'alpha MONTHLY'",
    "name != 'alpha monthly'",
    "name in ('alpha monthly', 'BETA ANNUAL')",
    "name not in ('alpha monthly')",
    "name ~ acme*",
    "name ~ 'acme-app.io'",
    "name !~ acme*",
    "name ~ '*ly'",
    "currency = usd",
    "frequency = monthly or frequency = weekly",
    "allowed_payment_methods = ach",
    "allowed_payment_methods in (sepa, ach)",
    "allowed_payment_methods != ach",
    "automatically_email_invoices = true",
    "automatically_email_invoices != true",
    "(status = active and mrr < 50) or name ~ gamma",
]


@pytest.fixture
def sql_records(tmp_path: Path) -> Iterator[Any]:
    local = open_local(sqlite_url(tmp_path / "same.db"), create=True)
    registry = local.records.properties()
    for row in ROWS:
        props = [registry.get(n) for n in row]
        local.records.seed(
            "subscriptions",
            [p.column for p in props if p is not None],
            [[p.to_storage(row[p.name]) for p in props if p is not None]],
        )
    yield local.records
    local.close()


@pytest.mark.parametrize("text", QUERIES)
def test_search_matches_what_the_sql_store_matches(
    text: str, sql_records: Any, api: httpx.Client
) -> None:
    from subctl.query.ast import Query

    registry = sql_records.properties()
    expr = parse(text, registry, today=dt.date(2026, 11, 26))
    local = sorted(s.id for s in sql_records.search(Query(where=expr), ["hs_object_id"]))
    body = {"filterGroups": to_filter_groups(expr, registry), "limit": 200}
    assert sorted(ids_of(search(api, body))) == local


def test_in_on_a_string_property_wants_lower_case_values(api: httpx.Client) -> None:
    def matches(values: list[str]) -> list[int]:
        flt = {"propertyName": "hs_currency_code", "operator": "IN", "values": values}
        return ids_of(search(api, {"filterGroups": [{"filters": [flt]}]}))

    assert matches(["usd"]) == [101, 104]
    assert matches(["USD"]) == []  # as HubSpot: IN values of strings must be lower case


def test_enumerations_compare_case_sensitively(api: httpx.Client) -> None:
    flt = {"propertyName": "hs_status", "operator": "EQ", "value": "ACTIVE"}
    assert ids_of(search(api, {"filterGroups": [{"filters": [flt]}]})) == []


def test_association_pseudo_property(fake: FakeHubSpot, api: httpx.Client) -> None:
    contact = fake.add_record("contacts", {"email": "ada@example.com"})
    fake.associate(102, "contacts", contact, 295)
    flt = {"propertyName": "associations.contact", "operator": "EQ", "value": str(contact)}
    assert ids_of(search(api, {"filterGroups": [{"filters": [flt]}]})) == [102]


# -- writes ---------------------------------------------------------------------------------


def test_updates_validate_values_and_bump_the_modified_date(
    fake: FakeHubSpot, api: httpx.Client
) -> None:
    before = fake.subscription(101)["hs_lastmodifieddate"]
    response = api.patch(f"{SUBS}/101", json={"properties": {"hs_name": "Renamed", "hs_mrr": ""}})
    assert response.status_code == 200
    after = fake.subscription(101)
    assert after["hs_name"] == "Renamed" and "hs_mrr" not in after
    assert after["hs_lastmodifieddate"] > before  # type: ignore[operator]
    for bad in (
        {"hs_status": "nope"},
        {"hs_mrr": "ten"},
        {"hs_next_payment_due_date": "x"},
        {"hs_nope": "1"},
        {"hs_lastmodifieddate": "1"},
        {"hs_next_payment_due_date": "1700000000001"},
        {"hs_mrr": 10},  # values are strings
        {"hs_name": None},  # "" clears, not null
    ):
        response = api.patch(f"{SUBS}/101", json={"properties": bad})
        assert response.status_code == 400, bad
        assert response.json()["category"] == "VALIDATION_ERROR"
    assert fake.subscription(101)["hs_name"] == "Renamed"


def test_properties_with_history_newest_first(fake: FakeHubSpot, api: httpx.Client) -> None:
    api.patch(f"{SUBS}/102", json={"properties": {"hs_name": "Beta renamed"}})
    fake.modify(102, hs_name="Beta in the UI", hs_mrr="")
    body = api.get(
        f"{SUBS}/102", params={"properties": "hs_name", "propertiesWithHistory": "hs_name,hs_mrr"}
    ).json()
    history = body["propertiesWithHistory"]
    assert [(e["value"], e["sourceType"]) for e in history["hs_name"]] == [
        ("Beta in the UI", "CRM_UI"),
        ("Beta renamed", "API"),
        ("Beta annual", "API"),
    ]
    assert [e["value"] for e in history["hs_mrr"]] == ["", "25.00"]
    stamps = [e["timestamp"] for e in history["hs_name"]]
    assert stamps == sorted(stamps, reverse=True) and len(set(stamps)) == 3


def test_batches_cap_at_100_and_answer_207_with_the_missing_ids(api: httpx.Client) -> None:
    too_many = {"inputs": [{"id": str(i)} for i in range(101)]}
    assert api.post(f"{SUBS}/batch/read", json=too_many).status_code == 400
    response = api.post(
        f"{SUBS}/batch/update",
        json={
            "inputs": [
                {"id": "101", "properties": {"hs_name": "A"}},
                {"id": "998", "properties": {"hs_name": "B"}},
            ]
        },
    )
    assert response.status_code == 207
    body = response.json()
    assert [r["id"] for r in body["results"]] == ["101"]
    assert body["errors"][0]["context"]["ids"] == ["998"]
    assert {"status", "category", "message"} <= set(body["errors"][0])
    assert {"status", "results", "startedAt", "completedAt"} <= set(body)
    response = api.post(f"{SUBS}/batch/read", json={"inputs": [{"id": "101"}]})
    assert response.status_code == 200


def test_delete_archives_and_a_billable_live_subscription_cannot_be_deleted(
    fake: FakeHubSpot, api: httpx.Client
) -> None:
    fake.modify(101, hs_invoice_creation="on")
    response = api.delete(f"{SUBS}/101")
    assert response.status_code == 400
    assert api.delete(f"{SUBS}/103").status_code == 204
    assert api.get(f"{SUBS}/103").status_code == 404
    assert api.get(f"{SUBS}/103", params={"archived": "true"}).status_code == 200
    assert api.delete(f"{SUBS}/103").status_code == 204  # gone already: still 204


# -- lifecycle ------------------------------------------------------------------------------


def test_lifecycle_changes_status_as_hubspot_and_refuses_a_wrong_status(
    fake: FakeHubSpot, api: httpx.Client
) -> None:
    assert api.post(f"{LIFECYCLE}/101/pause").status_code == 400  # a JSON body is required
    assert api.post(f"{LIFECYCLE}/101/pause", json={"pauseReason": "holiday"}).status_code == 204
    sub = fake.subscription(101)
    assert sub["hs_status"] == "paused" and sub["hs_pause_reason"] == "holiday"
    assert api.post(f"{LIFECYCLE}/101/pause", json={}).status_code == 409
    assert api.post(f"{LIFECYCLE}/101/unpause", json={}).status_code == 400
    next_ms = 1_798_761_600_000  # 2027-01-01
    response = api.post(f"{LIFECYCLE}/101/unpause", json={"proposedNextBillingDate": next_ms})
    assert response.status_code == 204
    sub = fake.subscription(101)
    assert sub["hs_status"] == "active" and sub["hs_next_payment_due_date"] == "2027-01-01"
    assert "hs_pause_reason" not in sub
    again = api.post(f"{LIFECYCLE}/101/unpause", json={"proposedNextBillingDate": next_ms})
    assert again.status_code == 409
    assert api.post(f"{LIFECYCLE}/101/cancel").status_code == 204
    sub = fake.subscription(101)
    assert sub["hs_status"] == "canceled" and sub["hs_canceled_at"]
    assert "hs_next_payment_due_date" not in sub
    response = api.post(f"{LIFECYCLE}/101/cancel")
    assert response.status_code == 409 and response.json()["category"] == "CONFLICT"
    assert dict(fake.applied) == {(101, "pause"): 1, (101, "unpause"): 1, (101, "cancel"): 1}
    assert api.post(f"{LIFECYCLE}/999/cancel").status_code == 404


# -- properties and associations -------------------------------------------------------------


def test_properties_api(api: httpx.Client, fake: FakeHubSpot) -> None:
    props = api.get("/crm/v3/properties/subscriptions").json()["results"]
    status = next(p for p in props if p["name"] == "hs_status")
    assert {"label", "value", "displayOrder", "hidden"} <= set(status["options"][0])
    assert status["hubspotDefined"] is True and "description" in status
    body = {
        "name": "tier",
        "label": "Tier",
        "type": "enumeration",
        "fieldType": "select",
        "groupName": "subscriptioninformation",
        "options": [{"label": "Basic", "value": "basic"}],
    }
    assert api.post("/crm/v3/properties/subscriptions", json=body).status_code == 201
    assert api.post("/crm/v3/properties/subscriptions", json=body).status_code == 409
    bad = {**body, "name": "other", "fieldType": "text"}
    assert api.post("/crm/v3/properties/subscriptions", json=bad).status_code == 400
    assert api.patch(f"{SUBS}/101", json={"properties": {"tier": "basic"}}).status_code == 200
    assert api.patch(f"{SUBS}/101", json={"properties": {"tier": "gold"}}).status_code == 400
    assert api.delete("/crm/v3/properties/subscriptions/tier").status_code == 204
    assert "tier" not in fake.subscription(101)
    assert api.delete("/crm/v3/properties/subscriptions/hs_name").status_code == 400


def test_a_unique_property_refuses_a_value_another_record_holds(api: httpx.Client) -> None:
    body = {
        "name": "order_code",
        "label": "Order code",
        "type": "string",
        "fieldType": "text",
        "groupName": "subscriptioninformation",
        "hasUniqueValue": True,
    }
    assert api.post("/crm/v3/properties/subscriptions", json=body).status_code == 201

    def patch(ident: int, value: str) -> int:
        found = api.patch(f"{SUBS}/{ident}", json={"properties": {"order_code": value}})
        return found.status_code

    assert (patch(101, "AB"), patch(101, "AB"), patch(102, "AB"), patch(102, "ab")) == (
        200,
        200,
        409,
        200,
    )
    twins = {
        "inputs": [
            {"id": "103", "properties": {"order_code": "X"}},
            {"id": "104", "properties": {"order_code": "X"}},
        ]
    }
    response = api.post(f"{SUBS}/batch/update", json=twins)
    assert response.status_code == 409 and response.json()["category"] == "CONFLICT"


def test_associations_v4(fake: FakeHubSpot, api: httpx.Client) -> None:
    contact = fake.add_record("contacts", {"firstname": "Ada", "email": "ada@example.com"})
    path = f"/crm/v4/objects/subscriptions/101/associations/contacts/{contact}"
    spec = [{"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": 295}]
    response = api.put(path, json=spec)
    assert response.status_code == 201
    listed = api.get("/crm/v4/objects/subscriptions/101/associations/contacts").json()
    assert listed["results"] == [
        {
            "toObjectId": str(contact),
            "associationTypes": [{"category": "HUBSPOT_DEFINED", "typeId": 295, "label": None}],
        }
    ]
    reverse = api.get(f"/crm/v4/objects/contacts/{contact}/associations/subscriptions").json()
    assert reverse["results"][0]["toObjectId"] == "101"
    assert reverse["results"][0]["associationTypes"][0]["typeId"] == 296
    batch = api.post(
        "/crm/v4/associations/subscriptions/contacts/batch/read",
        json={"inputs": [{"id": "101"}, {"id": "102"}]},
    )
    assert batch.status_code == 207
    assert [r["from"]["id"] for r in batch.json()["results"]] == ["101"]
    missing = api.put("/crm/v4/objects/subscriptions/101/associations/contacts/9", json=spec)
    assert missing.status_code == 404
    assert api.delete(path).status_code == 204
    assert api.get("/crm/v4/objects/subscriptions/101/associations/contacts").json() == {
        "results": []
    }


# -- rate limits, faults and the request log ---------------------------------------------------


def test_the_tier_budget_per_10_seconds_with_headers_and_retry_after(
    clock: Clock, still: httpx.Client, fake: FakeHubSpot
) -> None:
    api = still
    first = api.get(f"{SUBS}/101")
    assert first.headers["X-HubSpot-RateLimit-Max"] == "190"
    assert first.headers["X-HubSpot-RateLimit-Interval-Milliseconds"] == "10000"
    assert first.headers["X-HubSpot-RateLimit-Remaining"] == "189"
    for _ in range(189):
        clock.t += 0.01
        assert api.get(f"{SUBS}/101").status_code == 200
    clock.t += 0.01
    limited = api.get(f"{SUBS}/101")
    assert limited.status_code == 429
    assert limited.json()["category"] == "RATE_LIMITS"
    assert limited.headers["Retry-After"] == "9"  # the first request leaves the window at 1010
    assert limited.headers["X-HubSpot-RateLimit-Remaining"] == "0"
    clock.t = 1010.0  # the first request has left the window
    assert api.get(f"{SUBS}/101").status_code == 200
    assert api.get(f"{SUBS}/101").status_code == 429
    ok = [r.t for r in fake.requests if r.status != 429]
    assert max(sum(1 for t in ok if s - 10 < t <= s) for s in ok) == 190


def test_free_tier_allows_100(clock: Clock) -> None:
    hub = FakeHubSpot(tier="free", clock=clock)
    client = httpx.Client(
        base_url="https://x", transport=hub.transport, headers={"Authorization": f"Bearer {TOKEN}"}
    )
    statuses = [client.get(SUBS).status_code for _ in range(101)]
    assert statuses.count(200) == 100 and statuses[-1] == 429


def test_search_allows_5_per_second(clock: Clock, still: httpx.Client) -> None:
    api = still
    statuses = [search(api, {}).status_code for _ in range(6)]
    assert statuses == [200] * 5 + [429]
    clock.t += 1.0
    assert search(api, {}).status_code == 200


def test_injected_faults_and_lost_responses(fake: FakeHubSpot, api: httpx.Client) -> None:
    fake.inject("500", "lost-503", "timeout", "lost-timeout", "429")
    body = {"properties": {"hs_name": "one"}}
    assert api.patch(f"{SUBS}/101", json=body).status_code == 500
    assert fake.subscription(101)["hs_name"] == "Alpha monthly"  # not applied
    assert api.patch(f"{SUBS}/101", json={"properties": {"hs_name": "two"}}).status_code == 503
    assert fake.subscription(101)["hs_name"] == "two"  # applied, the answer lost
    with pytest.raises(httpx.ReadTimeout):
        api.patch(f"{SUBS}/101", json={"properties": {"hs_name": "three"}})
    assert fake.subscription(101)["hs_name"] == "two"
    with pytest.raises(httpx.ReadTimeout):
        api.patch(f"{SUBS}/101", json={"properties": {"hs_name": "four"}})
    assert fake.subscription(101)["hs_name"] == "four"
    response = api.get(f"{SUBS}/101")
    assert response.status_code == 429 and response.headers["Retry-After"] == "1"
    log = [(r.method, r.status, r.fault) for r in fake.requests]
    assert log == [
        ("PATCH", 500, "500"),
        ("PATCH", 503, "lost-503"),
        ("PATCH", 0, "timeout"),
        ("PATCH", 0, "lost-timeout"),
        ("GET", 429, "429"),
    ]


def test_injected_faults_can_wait_for_a_path(fake: FakeHubSpot, api: httpx.Client) -> None:
    fake.inject("lost-500", on="/cancel")
    assert api.get(f"{SUBS}/101").status_code == 200
    assert api.post(f"{LIFECYCLE}/101/cancel").status_code == 500
    assert fake.subscription(101)["hs_status"] == "canceled"
    assert api.post(f"{LIFECYCLE}/101/cancel").status_code == 409
    assert fake.applied[(101, "cancel")] == 1


def test_a_fault_rate_is_seeded_and_roughly_that_share(clock: Clock) -> None:
    def statuses(seed: int) -> list[int]:
        hub = FakeHubSpot(clock=clock, faults=0.2, seed=seed)
        hub.seed(ROWS[:1])
        client = httpx.Client(
            base_url="https://x",
            transport=hub.transport,
            headers={"Authorization": f"Bearer {TOKEN}"},
        )
        found = []
        for _ in range(500):
            clock.t += 0.1
            try:
                found.append(client.get(f"{SUBS}/101").status_code)
            except httpx.ReadTimeout:
                found.append(0)
        return found

    first = statuses(7)
    assert first == statuses(7)
    failed = sum(1 for s in first if s != 200)
    assert 70 <= failed <= 130, failed  # 20% of 500, give or take
    assert {0, 429, 500, 502, 503} <= set(first)


def test_the_request_log_records_method_path_query_body_and_status_never_the_token(
    fake: FakeHubSpot, api: httpx.Client, clock: Clock
) -> None:
    clock.t = 1234.5
    api.get(SUBS, params={"limit": "5", "properties": ["hs_name", "hs_status"]})
    search(api, {"limit": 1})
    first, second = fake.requests
    assert (first.t, first.method, first.path, first.status) == (1234.5, "GET", SUBS, 200)
    assert first.query == {"limit": "5", "properties": "hs_name,hs_status"}
    assert first.json is None
    assert second.json == {"limit": 1} and second.path == f"{SUBS}/search"
    assert TOKEN not in repr(fake.requests)


def test_serve_answers_over_http_on_127_0_0_1(fake: FakeHubSpot) -> None:
    fake.timeout_delay = 0.5
    with fake.serve() as url:
        assert url.startswith("http://127.0.0.1:")
        with httpx.Client(
            base_url=url, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=0.2
        ) as client:
            response = client.get(f"{SUBS}/102", params={"properties": "hs_status"})
            assert response.status_code == 200
            assert response.json()["properties"]["hs_status"] == "unpaid"
            assert response.headers["X-HubSpot-RateLimit-Max"] == "190"
            assert client.post(f"{LIFECYCLE}/102/cancel").status_code == 204
            fake.inject("timeout")
            with pytest.raises(httpx.ReadTimeout):
                client.get(f"{SUBS}/102")
    assert fake.subscription(102)["hs_status"] == "canceled"


# -- CRM exports ----------------------------------------------------------------------------

EXPORT = {
    "exportType": "VIEW",
    "exportName": "subs",
    "format": "CSV",
    "language": "EN",
    "objectType": "0-69",
    "objectProperties": ["hs_name", "hs_status", "hs_next_payment_due_date"],
    "associatedObjectType": ["CONTACT"],
    "publicCrmSearchRequest": {
        "filterGroups": [
            {
                "filters": [
                    {"propertyName": "hs_status", "operator": "IN", "values": ["active", "paused"]}
                ]
            }
        ],
        "sorts": [],
    },
}


def poll_until_complete(api: httpx.Client, task: str) -> dict[str, Any]:
    states = []
    for _ in range(10):
        body = api.get(f"/crm/v3/exports/export/async/tasks/{task}/status").json()
        states.append(body["status"])
        if body["status"] == "COMPLETE":
            assert states == ["PROCESSING", "COMPLETE"]
            return dict(body)
    raise AssertionError(states)


def test_an_export_is_started_polled_and_downloaded_without_the_token(
    fake: FakeHubSpot, api: httpx.Client, clock: Clock
) -> None:
    contact = fake.add_record("contacts", {"email": "ada@example.com"})
    fake.associate(104, "contacts", contact, 295)
    started = api.post("/crm/v3/exports/export/async", json=EXPORT)
    assert started.status_code == 202
    task = started.json()["id"]
    done = poll_until_complete(api, task)
    url = done["result"]
    assert "X-Amz-Signature=" in url and url.split("?")[0].endswith("/subs.csv")
    with_token = api.get(url)  # the client's Authorization header goes along: S3 refuses it
    assert with_token.status_code == 400 and b"Only one auth mechanism" in with_token.content
    plain = httpx.Client(transport=fake.transport)
    file = plain.get(url)
    assert file.status_code == 200
    assert file.text == (
        "Record ID,Name,Status,Next payment due date,Associated Contact IDs\n"
        "101,Alpha monthly,Active,2026-12-01,\n"
        f'104,"delta, acme-app.io",Paused,2027-01-15,{contact}\n'
        "105,,Active,,\n"
    )
    details = api.get(f"/crm/v3/exports/export/{task}").json()
    assert (details["exportState"], details["recordCount"]) == ("DONE", 3)
    clock.t += 301  # the URL expires after five minutes; a new poll issues a new one
    expired = plain.get(url)
    assert expired.status_code == 403 and b"Request has expired" in expired.content
    again = api.get(f"/crm/v3/exports/export/async/tasks/{task}/status").json()["result"]
    assert again != url and plain.get(again).status_code == 200


def test_export_internal_names_and_values_and_a_big_csv_comes_zipped(
    fake: FakeHubSpot, api: httpx.Client
) -> None:
    fake.exports.zip_bytes = 100
    body = {
        **EXPORT,
        "exportInternalValuesOptions": ["NAMES", "VALUES"],
        "associatedObjectType": [],
    }
    task = api.post("/crm/v3/exports/export/async", json=body).json()["id"]
    url = poll_until_complete(api, task)["result"]
    assert url.split("?")[0].endswith("/subs.zip")
    import zipfile

    packed = httpx.Client(transport=fake.transport).get(url).content
    with zipfile.ZipFile(io.BytesIO(packed)) as archive:
        text = archive.read("subs.csv").decode()
    assert text.splitlines()[:2] == [
        "hs_object_id,hs_name,hs_status,hs_next_payment_due_date",
        "101,Alpha monthly,active,2026-12-01",
    ]


def test_exports_run_one_at_a_time_and_need_the_export_scope(
    fake: FakeHubSpot, api: httpx.Client
) -> None:
    first = api.post("/crm/v3/exports/export/async", json=EXPORT).json()["id"]
    second = api.post("/crm/v3/exports/export/async", json=EXPORT).json()["id"]
    status = f"/crm/v3/exports/export/async/tasks/{second}/status"
    assert api.get(status).json()["status"] == "PENDING"  # waits for the first
    poll_until_complete(api, first)
    assert api.get(status).json()["status"] == "PROCESSING"
    assert (
        api.post("/crm/v3/exports/export/async", json={**EXPORT, "format": "PDF"}).status_code
        == 400
    )
    fake.scopes = fake.scopes - {"crm.export"}
    refused = api.post("/crm/v3/exports/export/async", json=EXPORT)
    assert refused.status_code == 403
    assert refused.json()["context"]["missingScopes"] == ["crm.export"]


# -- Lists API ------------------------------------------------------------------------------

LIST_QUERIES = [
    "status = active",
    "status != active",
    "status in (active, paused)",
    "mrr > 10",
    "mrr between 10 and 21",
    "due < 2026-12-01",
    "due <= 2026-12-01",
    "due = 2026-12-01",
    "due != 2026-12-01",
    "due between 2026-11-01 and 2026-12-31",
    "has due",
    "not has due",
    "name = 'alpha MONTHLY'",
    "name in ('alpha monthly', 'BETA ANNUAL')",
    "name not in ('alpha monthly')",
    "allowed_payment_methods = ach",
    "automatically_email_invoices = true",
    "(status = active and mrr < 50) or name = 'beta annual'",
]


def list_members(api: httpx.Client, list_id: str) -> list[int]:
    found, params = [], {"limit": "2"}
    while True:
        body = api.get(f"/crm/v3/lists/{list_id}/memberships", params=params).json()
        found += [int(r["recordId"]) for r in body["results"]]
        if "paging" not in body:
            return found
        params["after"] = body["paging"]["next"]["after"]


@pytest.mark.parametrize("text", LIST_QUERIES)
def test_a_dynamic_list_holds_what_the_sql_store_matches(
    text: str, sql_records: Any, api: httpx.Client
) -> None:
    from subctl.query.ast import Query
    from subctl.query.lists import to_filter_branch

    registry = sql_records.properties()
    expr = parse(text, registry, today=dt.date(2026, 11, 26))
    local = sorted(s.id for s in sql_records.search(Query(where=expr), ["hs_object_id"]))
    body = {
        "name": "l",
        "objectTypeId": "0-69",
        "processingType": "DYNAMIC",
        "filterBranch": to_filter_branch(expr, registry),
    }
    made = api.post("/crm/v3/lists", json=body)
    assert made.status_code == 200, made.text
    assert list_members(api, made.json()["list"]["listId"]) == local


def test_starts_with_is_the_whole_values_start_not_a_words(api: httpx.Client) -> None:
    """HubSpot's STARTS_WITH (what ``name ~ acme*`` compiles to for a list) tests the value's
    start: "delta, acme-app.io" has a word starting with acme (CRM search and the SQL store
    match it), but does not start with it."""
    branch = {
        "filterBranchType": "OR",
        "filters": [],
        "filterBranches": [
            {
                "filterBranchType": "AND",
                "filterBranches": [],
                "filters": [
                    {
                        "filterType": "PROPERTY",
                        "property": "hs_name",
                        "operation": {
                            "operationType": "STRING",
                            "operator": "STARTS_WITH",
                            "value": "acme",
                            "includeObjectsWithNoValueSet": False,
                        },
                    }
                ],
            }
        ],
    }
    made = api.post(
        "/crm/v3/lists",
        json={
            "name": "acme",
            "objectTypeId": "0-69",
            "processingType": "DYNAMIC",
            "filterBranch": branch,
        },
    )
    assert list_members(api, made.json()["list"]["listId"]) == []


def test_snapshot_and_manual_lists_and_their_limits(fake: FakeHubSpot, api: httpx.Client) -> None:
    from subctl.query.lists import to_filter_branch

    registry = fake_registry()
    branch = to_filter_branch(
        parse("status = active", registry, today=dt.date(2026, 11, 26)), registry
    )
    snap = api.post(
        "/crm/v3/lists",
        json={
            "name": "snap",
            "objectTypeId": "0-69",
            "processingType": "SNAPSHOT",
            "filterBranch": branch,
        },
    )
    snap_id = snap.json()["list"]["listId"]
    fake.modify(102, hs_status="active")  # a snapshot keeps what matched when it was made
    assert list_members(api, snap_id) == [101, 105]
    again = api.post(
        "/crm/v3/lists", json={"name": "snap", "objectTypeId": "0-69", "processingType": "MANUAL"}
    )
    assert again.status_code == 409
    manual = api.post(
        "/crm/v3/lists", json={"name": "vip", "objectTypeId": "0-69", "processingType": "MANUAL"}
    ).json()["list"]
    path = f"/crm/v3/lists/{manual['listId']}"
    added = api.put(f"{path}/memberships/add", json=["103", "104", "999"]).json()
    assert added == {"recordIdsAdded": ["103", "104"], "recordsIdsMissing": ["999"]}
    assert api.put(f"{path}/memberships/remove", json=["103"]).json()["recordIdsRemoved"] == ["103"]
    assert list_members(api, manual["listId"]) == [104]
    by_name = api.get("/crm/v3/lists/object-type-id/0-69/name/vip").json()["list"]
    assert (by_name["listId"], by_name["size"]) == (manual["listId"], 1)
    assert api.delete(path).status_code == 204
    assert api.get(path).status_code == 404
    bad = {**branch, "filterBranchType": "XOR"}
    assert (
        api.post(
            "/crm/v3/lists",
            json={
                "name": "x",
                "objectTypeId": "0-69",
                "processingType": "DYNAMIC",
                "filterBranch": bad,
            },
        ).status_code
        == 400
    )
    fake.scopes = fake.scopes - {"crm.lists.write"}
    refused = api.post(
        "/crm/v3/lists", json={"name": "y", "objectTypeId": "0-69", "processingType": "MANUAL"}
    )
    assert refused.json()["context"]["missingScopes"] == ["crm.lists.write"]


def fake_registry() -> Any:
    from subctl.schema import standard_registry

    return standard_registry()
