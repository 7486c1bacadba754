"""Issue #16: ``subctl report``. The reconciliation test: a small hand-built workspace (nine
subscriptions, seeded like tests/billing_world.py) moved through three months with ``clock
advance`` (renewals, a failed payment, a pause and its resume, an upgrade and a downgrade, a
cancellation at period end and an immediate one, a start, a new subscription), and every figure
of ``report mrr``, ``churn``, ``at-risk`` and ``renewals`` checked against values worked out
by hand from the definitions (services/reports.py), on SQLite and PostgreSQL.

The hand computation (USD; EUR holds one monthly subscription of 70 and GBP one weekly of 12.00,
MRR 52.00, that only renew):

    2028-01-01  S1 100 + S2 50 + S3 80 + S4 40 + S5 30 + S6 20 = 320 (S7 scheduled, S8 later)
    January     S4 upgraded 40 -> 60 on the 10th: expansion 20                      -> 340
                (S2's card declines on the 20th: unpaid, then past due on the 27th:
                 still MRR, no movement)
    February    S3 paused on the 1st: churn 80; S5 canceled at period end on the 5th:
                churn 30; S7 starts on the 20th: new 60                              -> 290
    March       S3 resumes on the 5th: reactivation 80; S6 canceled on the 8th:
                churn 20; S4 downgraded 60 -> 45 on the 8th: contraction 15;
                S8 created on the 10th: new 25                                       -> 360
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import Invoke, WorkspaceCase

D = dt.date.fromisoformat
T0 = dt.datetime(2028, 1, 1, tzinfo=dt.UTC)
CREATED = dt.datetime(2027, 6, 1, tzinfo=dt.UTC)

# id, currency, status, price, start, next due, payment method, created
SUBS = [
    (1, "USD", "active", "100.00", "2027-12-15", "2028-01-15", "Visa ending 4242", None),
    (2, "USD", "active", "50.00", "2027-12-20", "2028-01-20", "Visa ending 0341", None),
    (3, "USD", "active", "80.00", "2027-12-10", "2028-02-10", "Visa ending 4242", None),
    (4, "USD", "active", "40.00", "2027-12-25", "2028-01-25", "Visa ending 4242", None),
    (5, "USD", "active", "30.00", "2027-12-05", "2028-02-05", "Visa ending 4242", None),
    (6, "USD", "active", "20.00", "2027-12-28", "2028-03-28", "Visa ending 4242", None),
    (7, "USD", "scheduled", "60.00", "2028-02-20", "2028-02-20", "Visa ending 4242", None),
    (8, "USD", "active", "25.00", "2028-03-10", "2028-04-10", "Visa ending 4242", "2028-03-10"),
    (9, "EUR", "active", "70.00", "2027-12-18", "2028-01-18", "Visa ending 4242", None),
    (10, "GBP", "active", "12.00", "2027-12-27", "2028-01-03", "Visa ending 4242", None),
]
WEEKLY = {10: "52.00"}  # weekly: 12.00 x 52 / 12 = 52.00 MRR


def seed(url: str) -> None:
    """The workspace at ``url``: SUBS, monthly, each with one line item (id 100 + id) of its
    price and a buyer; the clock set to T0."""
    from subctl.services import billing
    from subctl.store.sql import open_local

    if url.startswith("sqlite:///"):
        Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    local = open_local(url, create=True)
    try:
        registry = local.records.properties()
        names = ("hs_object_id", "hs_name", "hs_status", "hs_recurring_billing_frequency",
                 "hs_recurring_billing_start_date", "hs_next_payment_due_date",
                 "hs_next_payment_amount", "hs_currency_code", "hs_payment_method", "hs_mrr",
                 "hs_createdate", "hs_lastmodifieddate")  # fmt: skip
        props = [registry.get(n) for n in names]
        rows = []
        for sid, cur, status, price, start, due, method, created in SUBS:
            made = CREATED if created is None else dt.datetime.fromisoformat(created + "T00:00Z")
            frequency, mrr = ("weekly", WEEKLY[sid]) if sid in WEEKLY else ("monthly", price)
            values = (sid, f"Sub {sid}", status, frequency, D(start), D(due), Decimal(price),
                      cur, method, Decimal(mrr), made, made)  # fmt: skip
            rows.append([p.to_storage(v) for p, v in zip(props, values, strict=True) if p])
        local.records.seed("subscriptions", [p.column for p in props if p], rows)
        ms = 1_800_000_000_000
        local.records.seed(
            "line_items",
            ["id", "name", "quantity", "price", "created_at"],
            [(100 + s[0], f"Plan {s[0]}", 1, float(s[3]), ms) for s in SUBS],
        )
        local.records.seed(
            "contacts",
            ["id", "firstname", "lastname", "created_at"],
            [(1000 + s[0], "Buyer", str(s[0]), ms) for s in SUBS],
        )
        local.records.seed(
            "contact_emails",
            ["contact_id", "position", "email"],
            [(1000 + s[0], 0, f"buyer{s[0]}@example.com") for s in SUBS],
        )
        local.records.seed(
            "associations",
            ["subscription_id", "object_type", "object_id", "type_id"],
            [(s[0], "contact", 1000 + s[0], 295) for s in SUBS]
            + [(s[0], "line_item", 100 + s[0], 301) for s in SUBS],
        )
        billing.set_clock(local.workspace, T0, T0)
    finally:
        local.close()


def ok(invoke: Invoke, args: str) -> str:
    result = invoke(args)
    assert result.exit_code == 0, (args, result.stderr)
    return result.stdout


@pytest.fixture
def world(
    invoke: Invoke, ws: WorkspaceCase, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> Invoke:
    """The scenario of the module's docstring, run to 2028-04-01 through the CLI (files the
    tests write go to ``tmp_path``)."""
    monkeypatch.chdir(tmp_path)
    seed(ws.url)
    monkeypatch.delenv("SUBCTL_NOW")  # the workspace's clock is the time
    ok(invoke, "clock advance 9d --format json")  # 2028-01-10
    ok(invoke, "associate 4 --line-item 104 --quantity 1 --price 60 --format json")
    ok(invoke, "cancel 5 --at-period-end --yes --format json")
    ok(invoke, "clock advance 22d --format json")  # 2028-02-01
    ok(invoke, "pause 3 --resume-on 2028-03-05 --yes --format json")
    ok(invoke, "clock advance 36d --format json")  # 2028-03-08
    ok(invoke, "cancel 6 --yes --format json")
    ok(invoke, "associate 4 --line-item 104 --quantity 1 --price 45 --format json")
    ok(invoke, "clock advance 24d --format json")  # 2028-04-01
    return invoke


def mrr_rows(invoke: Invoke, extra: str = "") -> list[dict[str, Any]]:
    doc = json.loads(ok(invoke, f"report mrr --from 2028-01-01 --to 2028-03-31 -f json {extra}"))
    rows: list[dict[str, Any]] = doc["rows"]
    return rows


MRR_FIELDS = ("period", "currency", "start_mrr", "new", "expansion", "contraction", "churn",
              "reactivation", "net_change", "mrr", "subscriptions")  # fmt: skip
EXPECTED_MRR = [
    ("2028-01", "EUR", 70, 0, 0, 0, 0, 0, 0, 70, 1),
    ("2028-02", "EUR", 70, 0, 0, 0, 0, 0, 0, 70, 1),
    ("2028-03", "EUR", 70, 0, 0, 0, 0, 0, 0, 70, 1),
    ("2028-01", "GBP", 52, 0, 0, 0, 0, 0, 0, 52, 1),
    ("2028-02", "GBP", 52, 0, 0, 0, 0, 0, 0, 52, 1),
    ("2028-03", "GBP", 52, 0, 0, 0, 0, 0, 0, 52, 1),
    ("2028-01", "USD", 320, 0, 20, 0, 0, 0, 20, 340, 6),
    ("2028-02", "USD", 340, 60, 0, 0, 110, 0, -50, 290, 5),
    ("2028-03", "USD", 290, 25, 0, 15, 20, 80, 70, 360, 6),
]


@pytest.mark.backends("sqlite", "postgresql")
def test_mrr_movements_reconcile_with_the_hand_computation(world: Invoke) -> None:
    rows = mrr_rows(world)
    assert [tuple(r[k] for k in MRR_FIELDS) for r in rows] == EXPECTED_MRR
    for r in rows:  # the movements add up to the change
        moved = r["new"] + r["expansion"] - r["contraction"] - r["churn"] + r["reactivation"]
        assert r["start_mrr"] + moved == r["mrr"] == r["start_mrr"] + r["net_change"]

    # Churn per period, from the same figures (rates: 2 decimals, percent).
    doc = json.loads(ok(world, "report churn --from 2028-01-01 --to 2028-03-31 -f json"))
    usd = [r for r in doc["rows"] if r["currency"] == "USD"]
    assert [(r["period"], r["start_subscriptions"], r["churned"], r["logo_churn_pct"],
             r["start_mrr"], r["churned_mrr"], r["contraction"], r["gross_revenue_churn_pct"],
             r["net_revenue_churn_pct"]) for r in usd] == [
        ("2028-01", 6, 0, 0.0, 320, 0, 0, 0.0, -6.25),  # (0 - 20) / 320
        ("2028-02", 6, 2, 33.33, 340, 110, 0, 32.35, 32.35),  # 2/6; 110/340
        ("2028-03", 5, 1, 20.0, 290, 20, 15, 12.07, -15.52),  # 1/5; 35/290; (35 - 80)/290
    ]  # fmt: skip

    # Converted: EUR at 1.10 USD, GBP at 1.25, added to USD; never without a rate for every
    # currency.
    rates = Path("rates.csv")
    rates.write_text("currency,rate\nEUR,1.10\nGBP,1.25\n")
    converted = mrr_rows(world, "--currency USD --rates rates.csv")
    assert [(r["period"], r["currency"], r["start_mrr"], r["mrr"]) for r in converted] == [
        ("2028-01", "USD", 462.0, 482.0),  # 320 + 77 + 65 -> 340 + 77 + 65
        ("2028-02", "USD", 482.0, 432.0),
        ("2028-03", "USD", 432.0, 502.0),
    ]
    rates.write_text("currency,rate\nGBP,1.25\n")  # no EUR
    result = world("report mrr --currency USD --rates rates.csv -f json")
    assert result.exit_code == 2
    assert "no rate for EUR" in result.stderr and "Traceback" not in result.stderr
    # --currency alone: that currency's subscriptions only.
    assert [r["currency"] for r in mrr_rows(world, "--currency eur")] == ["EUR"] * 3

    # The selection: --where on stored values (S4 alone: its upgrade and downgrade).
    only4 = mrr_rows(world, "--where 'id = 4'")
    assert [(r["expansion"], r["contraction"], r["mrr"]) for r in only4] == [
        (20, 0, 60),
        (0, 0, 60),
        (0, 15, 45),
    ]


@pytest.mark.backends("sqlite", "postgresql")
def test_at_risk_and_renewals_on_the_hand_built_workspace(world: Invoke) -> None:
    doc = json.loads(ok(world, "report at-risk -f json"))
    # S2: declined on 2028-01-20, retried on the 23rd, 25th and 27th, then past due.
    assert doc["rows"] == [{
        "id": 2, "name": "Sub 2", "status": "past_due", "currency": "USD", "amount_due": 50.0,
        "mrr": 50.0, "due_date": "2028-01-20", "days_overdue": 72, "retries": 3,
        "retry_state": "no retries (past due)",
    }]  # fmt: skip
    assert doc["totals"] == [
        {"currency": "USD", "subscriptions": 1, "amount_due": 50.0, "mrr": 50.0}
    ]
    out = ok(world, "report renewals --within 30d -f csv")
    assert out.splitlines() == [
        "date,currency,subscriptions,amount",
        "2028-04-03,GBP,1,12.00",  # S10 weekly: every week
        "2028-04-05,USD,1,80.00",  # S3: resumed 5 March, billed then
        "2028-04-10,GBP,1,12.00",
        "2028-04-10,USD,1,25.00",  # S8
        "2028-04-15,USD,1,100.00",  # S1
        "2028-04-17,GBP,1,12.00",
        "2028-04-18,EUR,1,70.00",  # S9
        "2028-04-20,USD,1,60.00",  # S7: started 20 February
        "2028-04-24,GBP,1,12.00",
        "2028-04-25,USD,1,45.00",  # S4 at its downgraded price
    ]
    # Converted to USD (EUR 1.10, GBP 1.25): one row a day, the currencies added.
    Path("rates.csv").write_text("EUR,1.10\nGBP,1.25\n")
    out = ok(world, "report renewals --within 30d --currency usd --rates rates.csv -f csv")
    assert out.splitlines() == [
        "date,currency,subscriptions,amount",
        "2028-04-03,USD,1,15.00",
        "2028-04-05,USD,1,80.00",
        "2028-04-10,USD,2,40.00",  # 12.00 GBP + 25.00 USD
        "2028-04-15,USD,1,100.00",
        "2028-04-17,USD,1,15.00",
        "2028-04-18,USD,1,77.00",
        "2028-04-20,USD,1,60.00",
        "2028-04-24,USD,1,15.00",
        "2028-04-25,USD,1,45.00",
    ]


def test_report_mrr_csv_is_exact(world: Invoke) -> None:
    out = ok(world, "report mrr --from 2028-02-01 --to 2028-02-29 --currency USD -f csv")
    assert out.splitlines() == [
        ",".join(MRR_FIELDS),
        "2028-02,USD,340.00,60.00,0.00,0.00,110.00,0.00,-50.00,290.00,5",
    ]
    out = ok(world, "report mrr --from 2028-02-01 --to 2028-02-29 --currency USD -f json")
    assert json.loads(out) == {
        "report": "mrr", "by": "month", "from": "2028-02-01", "to": "2028-03-01T00:00:00.000Z",
        "converted_to": None,
        "rows": [{
            "period": "2028-02", "currency": "USD", "start_mrr": 340.0, "new": 60.0,
            "expansion": 0.0, "contraction": 0.0, "churn": 110.0, "reactivation": 0.0,
            "net_change": -50.0, "mrr": 290.0, "subscriptions": 5,
        }],
    }  # fmt: skip
    assert out.startswith('{\n  "report": "mrr",\n') and out.endswith("}\n")


def test_report_mrr_to_xlsx_has_the_rows_and_a_native_chart(world: Invoke) -> None:
    import zipfile

    import openpyxl

    ok(world, "report mrr --from 2028-01-01 --to 2028-03-31 -o mrr.xlsx")
    sheet = openpyxl.load_workbook("mrr.xlsx").active
    assert sheet is not None
    values = [[c.value for c in row] for row in sheet.iter_rows()]
    assert values[0][:3] == ["Period", "Currency", "Start MRR"]
    assert values[7][:3] == ["2028-01", "USD", 320]
    assert len(values) == 10
    assert "xl/charts/chart1.xml" in zipfile.ZipFile("mrr.xlsx").namelist()
    assert oct(Path("mrr.xlsx").stat().st_mode & 0o777) == "0o600"


def test_bad_report_options_are_one_line_usage_errors(world: Invoke) -> None:
    for args, words in [
        ("report mrr --by year", "unknown period"),
        ("report mrr --from 2029-01-01", "--from is after --to"),
        (
            "report mrr --rates x.csv",
            "Error: --rates: converting needs --currency, the currency to convert to\n",
        ),
        ("report renewals --within soon", "not a duration"),
    ]:
        result = world(args)
        assert result.exit_code == 2, (args, result.stderr)
        assert words in result.stderr and "Traceback" not in result.stderr, result.stderr


def test_an_unknown_currency_is_refused_by_every_report(world: Invoke) -> None:
    # it gave exit 0 and empty rows; worded as `update --set currency=XYZ` is
    for report in ("mrr", "churn", "at-risk", "renewals"):
        for code in ("QQQ", "us"):
            for rates in ("", " --rates x.csv"):
                result = world(f"report {report} --currency {code}{rates}")
                assert (result.exit_code, result.stdout) == (2, ""), (report, code)
                assert result.stderr == (
                    f'Error: --currency: "{code}" is not an ISO 4217 currency code '
                    "(e.g. USD, EUR, JPY)\n"
                ), (report, code)
        # a code in any case selects: it is not stored
        assert world(f"report {report} --currency usd -f json").exit_code == 0, report
    assert world("update 1 --set currency=QQQ").stderr == (
        'Error: currency: "QQQ" is not an ISO 4217 currency code (e.g. USD, EUR, JPY)\n'
    )


def test_the_four_reports_on_demo_data_after_90_days(
    invoke: Invoke, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    ok(invoke, "demo --count 300 --seed 1")
    ok(invoke, "clock set 2026-11-26T12:00:00Z --format json")
    monkeypatch.delenv("SUBCTL_NOW")
    ok(invoke, "clock advance 90d --format json")
    for name in ("mrr --by week", "churn", "at-risk", "renewals --within 30d"):
        doc = json.loads(ok(invoke, f"report {name} -f json"))
        assert doc["rows"], name
        rows = list(csv.DictReader(io.StringIO(ok(invoke, f"report {name} -f csv"))))
        assert len(rows) == len(doc["rows"]), name
        table = ok(invoke, f"report {name} -f table")
        assert table.strip() and "Traceback" not in table
        path = tmp_path / f"{name.split()[0]}.xlsx"
        ok(invoke, f"report {name} -o {path}")
        assert path.stat().st_size > 0
    for r in json.loads(ok(invoke, "report mrr --by week -f json"))["rows"]:
        moved = r["new"] + r["expansion"] - r["contraction"] - r["churn"] + r["reactivation"]
        assert round(r["start_mrr"] + moved, 2) == round(r["mrr"], 2), r


def test_a_remote_profile_is_told_to_sync_first(
    invoke: Invoke, monkeypatch: pytest.MonkeyPatch
) -> None:
    from subctl import config

    monkeypatch.delenv("SUBCTL_WORKSPACE", raising=False)
    remote = config.Profile("hub", None, "hubspot")
    monkeypatch.setattr(config, "load_profile", lambda name: remote)
    for args in ("report mrr -f json", "report churn -f json", "report renewals -f json"):
        result = invoke(args)
        assert result.exit_code == 5, result.stderr
        assert "profile hub is a HubSpot profile" in result.stderr
        assert "subctl sync --into NAME" in result.stderr
        assert result.stdout == ""


def test_reports_need_view_and_a_file_needs_export(world: Invoke) -> None:
    assert world("config set profiles.reader.permissions view").exit_code == 0
    assert world("-p reader report mrr -f json").exit_code == 0
    result = world("-p reader report renewals -o renewals.csv")
    assert result.exit_code == 4, result.stderr
    assert 'lacks the "export" permission' in result.stderr
    assert not Path("renewals.csv").exists()
    assert world("config set profiles.blind.permissions export").exit_code == 0
    assert world("-p blind report at-risk -f json").exit_code == 4


@pytest.mark.backends("sqlite", "postgresql")
def test_renewals_count_every_renewal_in_a_long_window(world: Invoke) -> None:
    """Monthly subscriptions renew again within a window longer than a month, on the day the
    billing run will charge them (a due date off the billing day keeps its own day)."""
    out = ok(world, "report renewals --within 70d --where 'currency in (USD, EUR)' -f csv")
    assert out.splitlines() == [
        "date,currency,subscriptions,amount",
        "2028-04-05,USD,1,80.00",  # S3, resumed on 5 March: the 5th, not its billing day 10
        "2028-04-10,USD,1,25.00",  # S8
        "2028-04-15,USD,1,100.00",  # S1
        "2028-04-18,EUR,1,70.00",  # S9
        "2028-04-20,USD,1,60.00",  # S7
        "2028-04-25,USD,1,45.00",  # S4
        "2028-05-05,USD,1,80.00",
        "2028-05-10,USD,1,25.00",
        "2028-05-15,USD,1,100.00",
        "2028-05-18,EUR,1,70.00",
        "2028-05-20,USD,1,60.00",
        "2028-05-25,USD,1,45.00",
        "2028-06-05,USD,1,80.00",  # S8's 10 June is the window's end: not in it
    ]
    weekly = ok(world, "report renewals --within 70d --where 'currency = GBP' -f csv")
    assert [line.split(",")[0] for line in weekly.splitlines()[1:]] == [
        "2028-04-03", "2028-04-10", "2028-04-17", "2028-04-24", "2028-05-01", "2028-05-08",
        "2028-05-15", "2028-05-22", "2028-05-29", "2028-06-05",
    ]  # fmt: skip


@pytest.mark.backends("sqlite", "postgresql")
def test_amounts_keep_their_currencys_decimals(world: Invoke, ws: WorkspaceCase) -> None:
    """BHD has three decimals and JPY none: reports neither cut the one nor pad the other,
    converted amounts take the target currency's."""
    import sqlalchemy as sa

    from tests.conftest import connect

    with connect(ws) as conn:
        for sid, cur, amount in ((9, "BHD", 70.125), (1, "JPY", 15000.0)):
            conn.execute(
                sa.text(
                    "UPDATE subscriptions SET hs_currency_code = :cur,"
                    " hs_next_payment_amount = :amount WHERE hs_object_id = :sid"
                ),
                {"cur": cur, "amount": amount, "sid": sid},
            )
        conn.commit()
    out = ok(world, "report renewals --within 30d --where 'currency in (BHD, JPY)' -f csv")
    assert out.splitlines() == [
        "date,currency,subscriptions,amount",
        "2028-04-15,JPY,1,15000",
        "2028-04-18,BHD,1,70.125",
    ]
    Path("rates.csv").write_text("BHD,2.65\nJPY,0.0067\n")
    out = ok(
        world,
        "report renewals --within 30d --where 'currency in (BHD, JPY)' --currency usd"
        " --rates rates.csv -f csv",
    )
    assert out.splitlines() == [
        "date,currency,subscriptions,amount",
        "2028-04-15,USD,1,100.50",
        "2028-04-18,USD,1,185.83",  # 70.125 x 2.65 = 185.83125
    ]
