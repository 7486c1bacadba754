"""A small hand-built workspace for the billing tests (tests/test_billing_scenario.py): one
subscription per case of the billing rules (services/billing.py's docstring), seeded through
``SqlRecordStore.seed`` (no demo data), and helpers that read back what billing wrote."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from subctl.codec import DAY_MS

D = dt.date.fromisoformat
CREATED = dt.datetime(2027, 1, 1, tzinfo=dt.UTC)


@dataclass(frozen=True)
class Case:
    id: int
    name: str
    status: str
    frequency: str
    start: dt.date
    due: dt.date | None
    amount: str | None = "10.00"
    method: str = "Visa ending 4242"
    email: bool = True
    extra: tuple[tuple[str, Any], ...] = ()


# The hand-picked subscriptions. The clock starts at T0 (2028-01-10) and moves to 2028-04-10.
CASES = [
    Case(1, "weekly", "active", "weekly", D("2027-12-06"), D("2028-01-10"), "7.00"),
    Case(2, "biweekly", "active", "biweekly", D("2027-12-20"), D("2028-01-17"), "14.00"),
    # Started on the 31st: due 31 Jan, 29 Feb (leap year), 31 Mar, never drifting to the 29th.
    Case(3, "month end", "active", "monthly", D("2027-10-31"), D("2028-01-31"), "31.00"),
    # Started on the 30th: due on 29 Feb 2028 (clamped), then 30 May.
    Case(4, "quarterly", "active", "quarterly", D("2027-11-30"), D("2028-02-29"), "90.00"),
    Case(5, "six months", "active", "per_six_months", D("2027-09-15"), D("2028-03-15"), "180.00"),
    # Started on a leap day: renews on 29 Feb 2028, then 28 Feb 2029.
    Case(6, "annual leap", "active", "annually", D("2024-02-29"), D("2028-02-29"), "365.00"),
    Case(7, "two years", "active", "per_two_years", D("2026-03-01"), D("2028-03-01"), "730.00",
         method="Mastercard ending 5454"),
    # Scheduled to start on a leap day (annual): active on 29 Feb 2028, due 28 Feb 2029.
    Case(8, "scheduled leap", "scheduled", "annually", D("2028-02-29"), D("2028-02-29"),
         "366.00"),
    Case(9, "declines always", "active", "monthly", D("2027-11-20"), D("2028-01-20"), "20.00",
         method="Visa ending 0341"),
    Case(10, "declines first", "active", "monthly", D("2027-12-15"), D("2028-01-15"), "15.00",
         method="Visa ending 0002"),
    Case(11, "ach settles", "active", "monthly", D("2027-12-12"), D("2028-01-12"), "12.00",
         method="ACH ending 6789"),
    Case(12, "ach fails", "active", "monthly", D("2027-12-14"), D("2028-01-14"), "14.00",
         method="ACH ending 1116"),
    Case(13, "cancel at period end", "active", "monthly", D("2027-12-05"), D("2028-02-05"),
         "5.00", extra=(("hs_scheduled_cancellation_date", D("2028-02-05")),)),
    Case(14, "scheduled", "scheduled", "monthly", D("2028-01-25"), D("2028-01-25"), "25.00"),
    Case(15, "paused until", "paused", "monthly", D("2027-06-01"), D("2027-12-01"), "30.00",
         extra=(("hs_resume_date", D("2028-02-01")), ("hs_pause_reason", "customer_request"),
                ("hs_mrr", Decimal("0.00")))),
    Case(16, "fixed term", "active", "monthly", D("2027-11-20"), D("2028-01-20"), "16.00",
         extra=(("hs_recurring_billing_number_of_payments", 3),
                ("hs_number_of_completed_payments", 2),
                ("hs_total_collected_amount", Decimal("32.00")))),
    # Never billed: every other status.
    Case(17, "canceled", "canceled", "monthly", D("2027-01-01"), None, None,
         extra=(("hs_canceled_at", dt.datetime(2027, 6, 1, tzinfo=dt.UTC)),)),
    Case(18, "expired", "expired", "monthly", D("2027-01-01"), None, None),
    Case(19, "past due", "past_due", "monthly", D("2027-10-03"), D("2027-12-03"), "9.00"),
    Case(20, "paused", "paused", "monthly", D("2027-10-04"), D("2027-12-04"), "8.00"),
    Case(21, "unpaid bank", "unpaid", "monthly", D("2027-10-05"), D("2027-12-05"), "7.00",
         method="ACH ending 1116"),
    # Active but without an amount: cannot be charged (past_due, with a note); no buyer.
    Case(22, "no amount", "active", "monthly", D("2027-10-06"), D("2028-01-22"), None,
         email=False),
]  # fmt: skip
IDS = {case.name: case.id for case in CASES}


def email(sub_id: int) -> str:
    return f"buyer{sub_id}@example.com"


def seed(url: str) -> None:
    """Create the workspace at ``url`` holding CASES, each with its buyer (a contact with an
    e-mail, except where ``email`` is false)."""
    from subctl.store.sql import open_local

    local = open_local(url, create=True)
    try:
        registry = local.records.properties()
        rows: dict[tuple[str, ...], list[list[Any]]] = {}
        for case in CASES:
            values: dict[str, Any] = {
                "hs_object_id": case.id,
                "hs_name": f"Sub {case.id} {case.name}",
                "hs_status": case.status,
                "hs_recurring_billing_frequency": case.frequency,
                "hs_recurring_billing_start_date": case.start,
                "hs_next_payment_due_date": case.due,
                "hs_next_payment_amount": None if case.amount is None else Decimal(case.amount),
                "hs_currency_code": "USD",
                "hs_payment_method": case.method,
                "hs_mrr": Decimal("0.00") if case.amount is None else Decimal(case.amount),
                "hs_createdate": CREATED,
                "hs_lastmodifieddate": CREATED,
                **dict(case.extra),
            }
            props = [registry.get(name) for name in values]
            key = tuple(values)
            rows.setdefault(key, []).append(
                [p.to_storage(values[p.name]) for p in props if p is not None]
            )
        for names, stored in rows.items():
            columns = [registry.get(n).column for n in names]  # type: ignore[union-attr]
            local.records.seed("subscriptions", columns, stored)
        buyers = [c.id for c in CASES if c.email]
        ms = 1_800_000_000_000
        local.records.seed(
            "contacts",
            ["id", "firstname", "lastname", "created_at"],
            [(1000 + i, "Buyer", str(i), ms) for i in buyers],
        )
        local.records.seed(
            "contact_emails",
            ["contact_id", "position", "email"],
            [(1000 + i, 0, email(i)) for i in buyers],
        )
        local.records.seed(
            "associations",
            ["subscription_id", "object_type", "object_id", "type_id"],
            [(i, "contact", 1000 + i, 295) for i in buyers],
        )
    finally:
        local.close()


def advance(url: str, until: dt.datetime, *, dry_run: bool = False) -> Any:
    """Move the workspace's clock to ``until`` and run billing up to it (what ``clock set``
    does), through the services."""
    from subctl.services import billing
    from subctl.store.sql import open_local

    local = open_local(url)
    try:
        current = billing.workspace_clock(local.workspace) or until
        if not dry_run:
            billing.set_clock(local.workspace, until, current)
        return billing.run(local.billing, local.workspace, until, now=until, dry_run=dry_run)
    finally:
        local.close()


def day(ms: int | None) -> str | None:
    if ms is None:
        return None
    return (dt.date(1970, 1, 1) + dt.timedelta(days=int(ms) // DAY_MS)).isoformat()


@contextmanager
def cursor(url: str) -> Iterator[Any]:
    import sqlalchemy as sa

    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            yield conn
    finally:
        engine.dispose()


def rows(url: str, sql: str, *params: Any) -> list[tuple[Any, ...]]:
    with cursor(url) as conn:
        return [tuple(r) for r in conn.exec_driver_sql(sql, params).all()]


# Tables a billing run does not write whose rows carry the time they were made.
IGNORED = ("jobs", "job_items", "_subctl_migrations", "saved_views", "access")


def dump(url: str, *, ignore_jobs: bool = False) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table, sorted (``ignore_jobs``: without the job journal and the
    ``job_id`` columns that point into it, which differ between one run and two, nor the
    tables stamped with the time the workspace was made)."""
    import sqlalchemy as sa

    out: dict[str, list[tuple[Any, ...]]] = {}
    with cursor(url) as conn:
        for table in sorted(sa.inspect(conn).get_table_names()):
            if ignore_jobs and table in IGNORED:
                continue
            quoted = conn.dialect.identifier_preparer.quote(table)
            result = conn.exec_driver_sql(f"SELECT * FROM {quoted}")
            names = list(result.keys())
            rows = []
            for row in result.all():
                values = list(row)
                if ignore_jobs and "job_id" in names:
                    values[names.index("job_id")] = None
                rows.append(tuple(values))
            out[table] = sorted(rows, key=repr)
    return out
