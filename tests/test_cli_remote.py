"""End to end on a remote profile: every verb through the CLI against the fake HubSpot server
(tests/fakehub) served on 127.0.0.1, holding the same records as the local ``seeded``
workspace (tests/conftest.py).

A read prints exactly what it prints on the local workspace; a write changes HubSpot's record
as it changes the local one (and goes through HubSpot's endpoints: PATCH, lifecycle, archive,
v4 associations, the Properties API); what HubSpot cannot do (refunds, the billing run, the
clock, the outbox) is refused before any request with the documented exit code and a message
saying HubSpot cannot."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from subctl.codec import EPOCH
from tests.conftest import SEED_ROWS, Invoke, Result
from tests.fakehub import FakeHubSpot

TOKEN = "pat-na1-remote-e2e-4b1d"
CREATED = dt.datetime(2025, 1, 1, tzinfo=dt.UTC)


class Wall:
    """The fake's record timestamps: the seeded workspace's creation date while seeding."""

    def __init__(self) -> None:
        self.at: float | None = CREATED.timestamp()

    def __call__(self) -> float:
        import time

        return time.time() if self.at is None else self.at


def mirror_seeded(hub: FakeHubSpot) -> None:
    """The ``seeded`` fixture's records, in HubSpot."""
    rows = []
    for sid, name, status, start, due, amount, cur, freq, mrr, canceled in SEED_ROWS:
        row: dict[str, Any] = {
            "hs_object_id": sid,
            "hs_name": name,
            "hs_status": status,
            "hs_recurring_billing_start_date": dt.date.fromisoformat(str(start)),
            "hs_next_payment_due_date": dt.date.fromisoformat(str(due)) if due else None,
            "hs_next_payment_amount": Decimal(str(amount)) if amount else None,
            "hs_currency_code": cur,
            "hs_recurring_billing_frequency": freq,
            "hs_mrr": Decimal(str(mrr)),
            "hs_canceled_at": dt.datetime.fromisoformat(str(canceled)) if canceled else None,
            "hs_invoice_creation": "on",
        }
        rows.append(row)
    hub.seed(rows)
    hub.add_record(
        "contacts",
        {
            "firstname": "Ada",
            "lastname": "Lovelace",
            "email": "ada@example.com",
            "hs_additional_emails": "ada@work.example",
        },
        record_id=17,
    )
    hub.add_record("companies", {"name": "Acme Corp"}, record_id=77)
    hub.add_record(
        "commerce_payments",
        {
            "hs_initial_amount": "1200.00",
            "hs_currency_code": "EUR",
            "hs_latest_status": "processing",
            "hs_payment_method_type": "ach",
            "hs_payment_type": "payment",
        },
        record_id=900,
    )
    for sub, kind, oid, type_id in (
        (1, "contacts", 17, 295),
        (2, "contacts", 17, 295),
        (1, "companies", 77, 297),
        (2, "commerce_payments", 900, 393),
    ):
        hub.associate(sub, kind, oid, type_id)


@pytest.fixture
def hub() -> FakeHubSpot:
    wall = Wall()
    fake = FakeHubSpot(token=TOKEN, wall=wall)
    mirror_seeded(fake)
    wall.at = None
    return fake


@pytest.fixture
def remote(seeded: Invoke, hub: FakeHubSpot, monkeypatch: pytest.MonkeyPatch) -> Iterator[Invoke]:
    """``invoke`` with a HubSpot profile ``hub`` on the fake server (the local ``seeded``
    workspace stays the default profile's)."""
    monkeypatch.setenv("SUBCTL_TOKEN", TOKEN)
    with hub.serve() as url:
        added = seeded(f"profile add hub --hubspot --base-url {url} --tier professional")
        assert added.exit_code == 0, added.stderr
        yield seeded


def on_hub(invoke: Invoke, args: str) -> Result:
    return invoke(f"--profile hub {args}")


def writes(hub: FakeHubSpot) -> list[tuple[str, str]]:
    return [
        (r.method, r.path)
        for r in hub.requests
        if r.method != "GET"
        and not r.path.endswith(("/search", "/batch/read", "/get/access-token-info"))
    ]


# -- reads: the same output as on the local workspace ------------------------------------------

SAME = [
    "list --all --fields id,name,status,due,mrr --sort id --format csv",
    "list --all --fields id,name,status --sort due --format json",
    "list --status unpaid --fields id,name,next_payment_amount --format csv",
    "list --view unpaid --fields id --format csv",
    "list --view scheduled --format json",
    "list --all --format table",
    "filter --where 'status in (active, unpaid) and mrr >= 100' --fields id,name,mrr --format csv",
    "filter --where 'name ~ acme*' --fields id,name --format csv",
    "filter --where 'status != canceled and due < 2026-12-01' --fields id --format json",
    "filter --where 'has canceled_at' --fields id,canceled_at --format csv",
    "filter --where 'associations.contact = 17' --fields id --format csv",
    "filter --where 'currency in (usd, gbp)' --sort name --fields id,name --format csv",
    "view 1 --format table",
    "view 2 --format table",
    "property list --format csv",
    "property view hs_status --format json",
    "export -a -o - --format csv",
    "export --where 'status = unpaid' -o - --format ndjson --properties all",
    "export -a -o - --format csv --properties all+associations",
    "views --format csv",
]


@pytest.mark.parametrize("args", SAME)
def test_a_read_prints_what_it_prints_locally(remote: Invoke, hub: FakeHubSpot, args: str) -> None:
    local = remote(args)
    assert local.exit_code == 0, local.stderr
    assert local.stdout.strip()
    hub.requests.clear()
    far = on_hub(remote, args)
    assert (far.exit_code, far.stdout) == (0, local.stdout), far.stderr
    if not args.startswith("views"):  # saved views live in the local workspace
        assert hub.requests, "the remote profile answered without asking HubSpot"
    assert writes(hub) == []


def test_list_reads_hubspot_not_the_local_workspace(remote: Invoke, hub: FakeHubSpot) -> None:
    hub.modify(1, hs_name="Renamed in HubSpot")
    found = on_hub(remote, "list --all --fields id,name --sort id --format csv")
    assert found.exit_code == 0, found.stderr
    assert found.stdout.splitlines()[1] == "1,Renamed in HubSpot"
    local = remote("list --all --fields id,name --sort id --format csv")
    assert local.stdout.splitlines()[1] == "1,Acme Corp – Pro monthly"


def test_view_shows_hubspots_associations_and_payments(remote: Invoke) -> None:
    found = on_hub(remote, "view 2 --format json")
    assert found.exit_code == 0, found.stderr
    doc = json.loads(found.stdout)
    local = json.loads(remote("view 2 --format json").stdout)
    assert doc["associations"] == local["associations"]
    assert doc["payments"] == local["payments"]
    assert doc["properties"]["hs_status"] == "unpaid"


def test_an_unknown_id_is_not_found(remote: Invoke) -> None:
    found = on_hub(remote, "view 999")
    assert found.exit_code == remote("view 999").exit_code != 0
    assert found.stderr.startswith("Error: ")
    assert "999" in found.stderr


# -- writes ---------------------------------------------------------------------------------


def test_update_patches_the_record(remote: Invoke, hub: FakeHubSpot) -> None:
    done = on_hub(remote, "update 1 --set name=Renamed --set next_payment_amount=120 --yes")
    assert done.exit_code == 0, done.stderr
    sub = hub.subscription(1)
    assert (sub["hs_name"], sub["hs_next_payment_amount"]) == ("Renamed", "120")
    assert remote("update 1 --set name=Renamed --set next_payment_amount=120 --yes").exit_code == 0

    def changes(result: Result) -> list[tuple[str, str, str]]:
        found = json.loads(result.stdout)["history"]
        return sorted((c["property"], c["old"], c["new"]) for c in found)

    # (only the name: HttpStore shows a history value as HubSpot sends it, the amount "120",
    # where the local store shows "120.00")
    local = changes(remote("view 1 --format json"))
    assert local[0] == ("hs_name", "Acme Corp – Pro monthly", "Renamed")
    assert changes(on_hub(remote, "view 1 --format json"))[0] == local[0]
    assert ("PATCH", "/crm/v3/objects/subscriptions/1") in writes(hub) or any(
        p.endswith("/batch/update") for _m, p in writes(hub)
    )


def test_cancel_pause_and_resume_call_the_lifecycle_endpoints(
    remote: Invoke, hub: FakeHubSpot
) -> None:
    base = "/payments-subscriptions/v1/subscriptions/crm"
    assert on_hub(remote, "pause 1 --yes").exit_code == 0
    assert hub.subscription(1)["hs_status"] == "paused"
    resumed = on_hub(remote, "resume 1 --next-billing-date 2026-12-15 --yes")
    assert resumed.exit_code == 0, resumed.stderr
    sub = hub.subscription(1)
    assert (sub["hs_status"], sub["hs_next_payment_due_date"]) == ("active", "2026-12-15")
    canceled = on_hub(remote, "cancel 3 --yes")
    assert canceled.exit_code == 0, canceled.stderr
    assert hub.subscription(3)["hs_status"] == "canceled"
    calls = [p for _m, p in writes(hub)]
    assert calls == [f"{base}/1/pause", f"{base}/1/unpause", f"{base}/3/cancel"]
    unpause = next(r for r in hub.requests if r.path.endswith("/unpause"))
    day = dt.date(2026, 12, 15)
    assert unpause.json == {
        "proposedNextBillingDate": int(
            (dt.datetime(day.year, day.month, day.day, tzinfo=dt.UTC) - EPOCH).total_seconds()
        )
        * 1000
    }


def test_a_wrong_status_is_refused_before_any_call(remote: Invoke, hub: FakeHubSpot) -> None:
    local = remote("pause 4 --yes")  # canceled
    found = on_hub(remote, "pause 4 --yes")
    assert found.exit_code == local.exit_code != 0
    assert writes(hub) == []


def test_a_batch_cancel_is_journaled_locally_and_listed_by_jobs(
    remote: Invoke, hub: FakeHubSpot
) -> None:
    done = on_hub(remote, "cancel --where 'status = unpaid' --yes --format json")
    assert done.exit_code == 0, done.stderr
    assert [hub.subscription(i)["hs_status"] for i in (2, 3)] == ["canceled", "canceled"]
    jobs = json.loads(on_hub(remote, "jobs --format json").stdout)
    assert [(j["command"], j["status"], j["ok"], j["total"]) for j in jobs] == [
        ("cancel", "done", 2, 2)
    ]
    results = on_hub(remote, f"jobs results {jobs[0]['id']} --format csv")
    assert results.exit_code == 0, results.stderr
    rows = list(csv.DictReader(io.StringIO(results.stdout)))
    assert [(r["id"], r["planned_status"], r["outcome"], r["new_status"]) for r in rows] == [
        ("2", "unpaid", "ok", "canceled"),
        ("3", "unpaid", "ok", "canceled"),
    ]
    assert remote("jobs").stderr == "No jobs yet.\n"  # the local profile's journal is its own


def test_delete_archives_in_hubspot(remote: Invoke, hub: FakeHubSpot) -> None:
    done = on_hub(remote, "delete 4 --yes")
    assert done.exit_code == 0, done.stderr
    assert ("DELETE", "/crm/v3/objects/subscriptions/4") in writes(hub) or any(
        p.endswith("/batch/archive") for _m, p in writes(hub)
    )
    assert hub.records["subscriptions"][4].archived
    assert on_hub(remote, "view 4").exit_code != 0


def test_associate_puts_a_v4_association(remote: Invoke, hub: FakeHubSpot) -> None:
    done = on_hub(remote, "associate 3 --company 77 --yes")
    assert done.exit_code == 0, done.stderr
    assert hub.links[(3, "companies", 77)] == {297}
    assert ("PUT", "/crm/v4/objects/subscriptions/3/associations/companies/77") in writes(hub)


def test_property_create_and_delete_through_the_properties_api(
    remote: Invoke, hub: FakeHubSpot
) -> None:
    made = on_hub(
        remote, "property create --name tier --label Tier --type string --field-type text"
    )
    assert made.exit_code == 0, made.stderr
    assert hub.props["subscriptions"]["tier"].label == "Tier"
    assert on_hub(remote, "update 1 --set tier=gold --yes").exit_code == 0
    assert hub.subscription(1)["tier"] == "gold"
    listed = on_hub(remote, "property list --format csv").stdout
    assert "tier" in listed
    gone = on_hub(remote, "property delete tier --yes")
    assert gone.exit_code == 0, gone.stderr
    assert "tier" not in hub.props["subscriptions"]
    assert "tier" not in remote("property list --format csv").stdout  # not created locally


def test_export_client_side_writes_every_record(
    remote: Invoke, hub: FakeHubSpot, tmp_path: Path
) -> None:
    target = tmp_path / "subs.csv"
    done = on_hub(remote, f"export -a -o {target}")
    assert done.exit_code == 0, done.stderr
    local = tmp_path / "local.csv"
    assert remote(f"export -a -o {local}").exit_code == 0
    assert target.read_bytes() == local.read_bytes()
    assert not any(r.path.startswith("/crm/v3/exports") for r in hub.requests)


def test_saved_views_run_against_hubspot(remote: Invoke, hub: FakeHubSpot) -> None:
    saved = on_hub(
        remote, "filter --where 'status = active' --save-view mine --fields id --format csv"
    )
    assert saved.exit_code == 0, saved.stderr
    hub.modify(5, hs_status="active")
    found = on_hub(remote, "list --view mine --fields id --format csv")
    assert found.stdout.splitlines()[1:] == ["1", "5"]


# -- what HubSpot cannot do ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "code"),
    [
        ("cancel 2 --refund unused --yes", 2),
        ("cancel 2 --refund-pending --yes", 2),
        ("billing run", 5),
        ("clock advance 1d", 5),
        ("clock set 2027-01-01", 5),
        ("send-update-link 1 --yes", 5),
    ],
)
def test_what_hubspot_cannot_do_is_refused_before_any_request(
    remote: Invoke, hub: FakeHubSpot, args: str, code: int
) -> None:
    found = on_hub(remote, args)
    assert found.exit_code == code, found.stderr
    first = found.stderr.splitlines()[0]
    assert first.startswith("Error: ") and "HubSpot" in first
    assert found.stdout == ""
    assert writes(hub) == []


def test_a_batch_cancel_through_faults_cancels_each_once(remote: Invoke, hub: FakeHubSpot) -> None:
    """A 429, a 500 before the change and a 500 after it (a lost answer): the batch finishes,
    each subscription is canceled exactly once."""
    hub.inject("429", "lost-500", "500", on="/cancel")
    done = on_hub(remote, "cancel 1 2 3 --yes --format json")
    assert done.exit_code == 0, done.stderr
    assert [hub.subscription(i)["hs_status"] for i in (1, 2, 3)] == ["canceled"] * 3
    assert {k: n for k, n in hub.applied.items() if k[1] == "cancel"} == {
        (1, "cancel"): 1,
        (2, "cancel"): 1,
        (3, "cancel"): 1,
    }
    assert [r.fault for r in hub.requests if r.fault] == ["429", "lost-500", "500"]
    (job,) = json.loads(on_hub(remote, "jobs --format json").stdout)
    assert (job["ok"], job["failed"], job["attention"], job["unprocessed"]) == (3, 0, 0, 0)


def test_export_server_side_downloads_hubspots_file(
    remote: Invoke, hub: FakeHubSpot, tmp_path: Path
) -> None:
    target = tmp_path / "unpaid.csv"
    done = on_hub(remote, f"export --where 'status = unpaid' -o {target} --server-side")
    assert done.exit_code == 0, done.stderr
    assert (
        done.stderr == f"✔ Exported 2 subscriptions to {target} (built by HubSpot's CRM exports)\n"
    )
    lines = target.read_text().splitlines()
    assert lines[0].startswith("Record ID,Name,Status,")
    assert [line.split(",")[0] for line in lines[1:]] == ["2", "3"]
    assert [s for _t, s in hub.exports.downloads] == [200]  # fetched without the token
    assert sum(1 for r in hub.requests if r.path == "/crm/v3/exports/export/async") == 1


# -- an unreachable HubSpot -------------------------------------------------------------------


def test_a_refused_connection_fails_fast_naming_the_base_url(
    seeded: Invoke, monkeypatch: pytest.MonkeyPatch
) -> None:
    import socket
    import time

    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{s.getsockname()[1]}"
    monkeypatch.setenv("SUBCTL_TOKEN", TOKEN)
    assert seeded(f"profile add down --hubspot --base-url {url}").exit_code == 0
    started = time.monotonic()
    found = seeded("--profile down list")
    took = time.monotonic() - started
    assert found.exit_code == 6, found.stderr
    assert found.stdout == ""
    assert found.stderr.splitlines() == [
        "Error: HubSpot is unreachable (ConnectError)",
        f"Hint: check the network, or the profile's base URL {url} (subctl profile show)",
    ]
    assert took < 5, took


# -- what HubSpot cannot do: refused before a job is journaled -------------------------------


@pytest.mark.parametrize(
    ("args", "code", "error", "hint"),
    [
        (
            "pause 1 --resume-on +30d --yes",
            2,
            "Error: --resume-on: HubSpot's pause takes no resume date "
            "(on a remote HubSpot profile)",
            "Hint: pause without it and resume by hand (subctl resume); a local profile "
            "(subctl sync --into NAME mirrors the account) can",
        ),
        (
            "update 1 --set status=unpaid --yes",
            2,
            "Error: --set status=…: HubSpot sets a subscription's status by itself "
            "(on a remote HubSpot profile)",
            "Hint: it changes with HubSpot's own billing; a local profile "
            "(subctl sync --into NAME mirrors the account) can",
        ),
        (
            "pay 5 --yes",
            5,
            "Error: HubSpot has no endpoint to record a payment: it collects payments by "
            "itself (profile hub is a HubSpot profile)",
            "Hint: record it in HubSpot's payments tool; pay works on local profiles",
        ),
    ],
)
def test_what_hubspot_cannot_do_is_refused_before_any_job(
    remote: Invoke, hub: FakeHubSpot, args: str, code: int, error: str, hint: str
) -> None:
    hub.requests.clear()
    refused = on_hub(remote, args)
    assert (refused.exit_code, refused.stdout) == (code, ""), refused.stderr
    assert refused.stderr.splitlines() == [error, hint]
    assert writes(hub) == []
    jobs = on_hub(remote, "jobs list --format json")
    assert (jobs.exit_code, jobs.stdout) == (0, "[]\n"), jobs.stderr


def test_a_local_profile_still_takes_what_hubspot_refuses(remote: Invoke) -> None:
    marked = remote("update 1 --set status=unpaid --yes")
    assert marked.exit_code == 0, marked.stderr
    marked = remote("pay 1 --yes")
    assert marked.exit_code == 0, marked.stderr
    marked = remote("pause 1 --resume-on +30d --yes")
    assert marked.exit_code == 0, marked.stderr


# -- the property limit's tier: the profile's ------------------------------------------------


def test_the_property_limit_follows_the_profiles_tier_unless_set(remote: Invoke) -> None:
    shown = on_hub(remote, "property settings --format json")
    assert shown.exit_code == 0, shown.stderr
    doc = json.loads(shown.stdout)
    assert (doc["tier"], doc["customProperties"]) == (
        "professional",
        {"usage": 0, "limit": 1000, "percentage": 0.0, "canCreate": True},
    )
    assert on_hub(remote, "property settings --tier starter").exit_code == 0
    doc = json.loads(on_hub(remote, "property settings --format json").stdout)
    assert (doc["tier"], doc["customProperties"]["limit"]) == ("starter", 100)  # set: it wins
    local = json.loads(remote("property settings --format json").stdout)
    assert (local["tier"], local["customProperties"]["limit"]) == ("free", 10)


# -- cancel --at-period-end of a period already over: refused, locally and on HubSpot ---------


@pytest.mark.parametrize("profile", ["default", "hub"])
def test_cancel_at_period_end_never_schedules_a_date_in_the_past(
    remote: Invoke, hub: FakeHubSpot, monkeypatch: pytest.MonkeyPatch, profile: str
) -> None:
    monkeypatch.setenv("SUBCTL_NOW", "2026-12-05T12:00:00Z")  # 1's next payment (12-01) is due
    hub.requests.clear()
    refused = remote(f"--profile {profile} cancel 1 --at-period-end --yes --format csv")
    note = (
        "the period ended on 2026-12-01, before today (2026-12-05): its next payment is past "
        "due, so there is no period end to cancel at"
    )
    assert (refused.exit_code, refused.stdout) == (
        5,
        "id,name,status,outcome,new_status,note\n"
        f'1,Acme Corp – Pro monthly,active,failed,active,"{note}"\n',
    ), refused.stderr
    assert refused.stderr.splitlines() == [
        "Warning: subscription 1: its period ended on 2026-12-01, so it was not scheduled to "
        "cancel; cancel it now with `subctl cancel 1`",
        f"Error: {note}",
    ]
    assert writes(hub) == []
    shown = json.loads(remote(f"--profile {profile} view 1 --format json").stdout)
    assert shown["properties"].get("hs_scheduled_cancellation_date") is None


def test_a_long_retry_wait_is_said_once_on_stderr(
    remote: Invoke, hub: FakeHubSpot, monkeypatch: pytest.MonkeyPatch
) -> None:
    from subctl.store.http.client import HubSpotClient

    monkeypatch.setattr(HubSpotClient, "NOTICE_AFTER", 0.1)  # any wait is "long" here
    hub.inject("503", "503")
    found = on_hub(remote, "list --all --fields id --sort id --format csv")
    assert (found.exit_code, found.stdout) == (0, "hs_object_id\n1\n2\n3\n4\n5\n"), found.stderr
    said = [line for line in found.stderr.splitlines() if "retrying" in line]
    # once (the second wait is not said again); the first backoff is 0.25-0.5 s: "1 s"
    assert said == ["HubSpot answered 503; retrying in 1 s..."]


def test_a_job_journaled_before_the_refusal_is_refused_on_resume_not_run(
    remote: Invoke, hub: FakeHubSpot, monkeypatch: pytest.MonkeyPatch
) -> None:
    import subctl.services.lifecycle as lifecycle

    with monkeypatch.context() as patch:  # as older versions did: journaled, then refused
        patch.setattr(lifecycle, "refuse_incapable", lambda action, capabilities: None)
        failed = on_hub(remote, "pause 1 --resume-on +30d --yes")
    assert failed.exit_code == 5, failed.stderr
    hub.requests.clear()
    resumed = on_hub(remote, "jobs resume 1 --yes")
    assert (resumed.exit_code, resumed.stdout) == (5, ""), resumed.stderr
    assert resumed.stderr.splitlines() == [
        "Error: job 1 cannot be resumed here: --resume-on: HubSpot's pause takes no resume date "
        "(on a remote HubSpot profile)",
        "Hint: nothing was changed; run the command again without what is refused",
    ]
    assert writes(hub) == []
