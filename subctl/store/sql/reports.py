"""The SQL side of ``subctl report``: MRR at each period end rebuilt from the property history,
its movements, and renewals, each in one set-based statement (window functions, no loop over
subscriptions). The rules come from ``subctl.services.reports`` as arguments.

How ``mrr_points`` works (``ReportStore.mrr_points`` states the definition):

- ``sel``: the selected subscriptions (``--where``/``--view``/``--segment`` on stored values),
  a subquery at each use.
- ``touched``: those with a change of ``hs_mrr`` or ``hs_status`` at or after the first bound:
  the only ones whose MRR may move other than by being created. Every other subscription has
  had its stored state since before the first bound or since its creation: created before the
  first bound, it adds its stored MRR to every bound (``fixed``); created after it, from the
  first bound after its create date on, where it is new (``fresh``, per currency and bound).
  Neither costs more than one scan, and neither goes through the grid below.
  A deleted subscription's history, which ``delete`` keeps, may be in ``ch`` and ``touched``
  but never reaches ``at_bound``, which joins the stored subscriptions (``sel``).
- ``iv``: each change as the interval in which it is the state, ``(changed_at, next change]``
  (``LEAD``), and before a property's first change the value it replaced: a bound ``t`` takes
  the interval with ``lo < t <= hi``, i.e. the last change strictly before ``t``.
- ``at_bound``: the touched subscriptions x the bounds, their MRR and status at each bound,
  then ``LAG`` over the bounds: the movement of each subscription between consecutive bounds,
  summed per currency and bound (``w``: how many subscriptions a row stands for).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from subctl.billing import next_period_end
from subctl.query.ast import Expr
from subctl.store.base import MrrPoint, RenewalDay
from subctl.store.sql.compiler import Sql, compile_where, day_of_month
from subctl.store.sql.database import Database, ms

DAY_MS = 86_400_000
_REAL = "DOUBLE PRECISION"  # SQLite: REAL affinity ("DOUB")

_MRR_SQL = """
WITH bounds (k, t) AS (VALUES {bounds}),
ch AS (
  SELECT h.id AS hid, h.subscription_id AS sid, h.property AS p, h.old_value AS ov,
         h.new_value AS nv, h.changed_at AS at
  FROM property_history h{join_sel}
  WHERE h.property IN ('hs_mrr', 'hs_status')
),
touched AS (SELECT DISTINCT sid AS id FROM ch WHERE at >= {first}),
iv AS (
  SELECT ch.sid, ch.p, ch.nv AS v, ch.at AS lo, ch.ov,
         LEAD(ch.at) OVER (PARTITION BY ch.sid, ch.p ORDER BY ch.at, ch.hid) AS hi,
         ROW_NUMBER() OVER (PARTITION BY ch.sid, ch.p ORDER BY ch.at, ch.hid) AS rn
  FROM ch JOIN touched ON touched.id = ch.sid
),
ivs AS (
  SELECT sid, p, v, lo, hi FROM iv
  UNION ALL
  SELECT sid, p, ov, NULL, lo FROM iv WHERE rn = 1
),
at_bound AS (
  SELECT s.id, s.cur, b.k,
         CASE WHEN s.created < b.t THEN 1 ELSE 0 END AS present,
         CASE WHEN hs.sid IS NULL THEN s.status ELSE hs.v END AS status,
         CASE WHEN hm.sid IS NULL THEN s.mrr ELSE CAST(hm.v AS {real}) END AS mrr
  FROM {sel} AS s
  JOIN touched ON touched.id = s.id
  CROSS JOIN bounds b
  LEFT JOIN ivs hs ON hs.sid = s.id AND hs.p = 'hs_status'
       AND (hs.lo IS NULL OR hs.lo < b.t) AND (hs.hi IS NULL OR b.t <= hs.hi)
  LEFT JOIN ivs hm ON hm.sid = s.id AND hm.p = 'hs_mrr'
       AND (hm.lo IS NULL OR hm.lo < b.t) AND (hm.hi IS NULL OR b.t <= hm.hi)
),
eff AS (
  SELECT id, cur, k,
         CASE WHEN present = 1 AND status IN ({earning}) THEN COALESCE(mrr, 0) ELSE 0 END AS m,
         CASE WHEN present = 1 AND status NOT IN ({not_started}) THEN 1 ELSE 0 END AS started
  FROM at_bound
),
moves AS (
  SELECT cur, k, m,
         LAG(m) OVER (PARTITION BY id ORDER BY k) AS m0,
         LAG(started) OVER (PARTITION BY id ORDER BY k) AS s0
  FROM eff
),
untouched AS (
  SELECT cur, created, CASE WHEN status IN ({earning}) THEN COALESCE(mrr, 0) ELSE 0 END AS m
  FROM {sel} AS sel
  WHERE NOT EXISTS (SELECT 1 FROM touched WHERE touched.id = sel.id)
),
fixed AS (
  SELECT cur, SUM(m) AS m, COUNT(*) AS n FROM untouched
  WHERE created < {first} AND m > 0
  GROUP BY cur
),
fresh AS (
  SELECT cur, kc, SUM(m) AS m, COUNT(*) AS n
  FROM (SELECT cur, m, (SELECT MIN(b.k) FROM bounds b WHERE b.t > created) AS kc
        FROM untouched WHERE created >= {first} AND m > 0) AS u
  WHERE kc IS NOT NULL
  GROUP BY cur, kc
)
SELECT cur, k, SUM(m), SUM(n),
       SUM(CASE WHEN m0 = 0 AND m > 0 AND s0 = 0 THEN m ELSE 0 END),
       SUM(CASE WHEN m0 > 0 AND m > m0 THEN m - m0 ELSE 0 END),
       SUM(CASE WHEN m0 > 0 AND m > 0 AND m < m0 THEN m0 - m ELSE 0 END),
       SUM(CASE WHEN m0 > 0 AND m = 0 THEN m0 ELSE 0 END),
       SUM(CASE WHEN m0 = 0 AND m > 0 AND s0 = 1 THEN m ELSE 0 END),
       SUM(CASE WHEN m0 = 0 AND m > 0 AND s0 = 0 THEN w ELSE 0 END),
       SUM(CASE WHEN m0 > 0 AND m > m0 THEN w ELSE 0 END),
       SUM(CASE WHEN m0 > 0 AND m > 0 AND m < m0 THEN w ELSE 0 END),
       SUM(CASE WHEN m0 > 0 AND m = 0 THEN w ELSE 0 END),
       SUM(CASE WHEN m0 = 0 AND m > 0 AND s0 = 1 THEN w ELSE 0 END)
FROM (
  SELECT cur, k, m, CASE WHEN m > 0 THEN 1 ELSE 0 END AS n, m0, s0, 1 AS w FROM moves
  UNION ALL
  SELECT fixed.cur, bounds.k, fixed.m, fixed.n, fixed.m, 1, fixed.n FROM fixed CROSS JOIN bounds
  UNION ALL
  SELECT fresh.cur, bounds.k, fresh.m, fresh.n,
         CASE WHEN bounds.k = fresh.kc THEN 0 ELSE fresh.m END, 0, fresh.n
  FROM fresh JOIN bounds ON bounds.k >= fresh.kc
) AS x
GROUP BY cur, k
ORDER BY cur, k
"""

# Renewals in [start, end): each selected subscription's first due date (a scheduled one's start,
# a paused one's resume date) when it falls in the window, then every later one in the window
# from ``_renewal_steps`` (its rows: the k-th due date after a first one, per frequency and
# billing day, computed by ``billing.next_period_end``: calendar months clamp to the billing
# day), as long as no cancellation is scheduled by then and the term has payments left.
_FIRST_DUE = """
  SELECT hs_object_id AS id,
         CASE hs_status WHEN 'scheduled' THEN hs_recurring_billing_start_date
                        WHEN 'paused' THEN hs_resume_date
                        ELSE hs_next_payment_due_date END AS at,
         hs_recurring_billing_frequency AS freq, {billing_day} AS bday,
         hs_currency_code AS cur, COALESCE(hs_next_payment_amount, 0) AS amount,
         hs_scheduled_cancellation_date AS stop,
         hs_recurring_billing_number_of_payments - COALESCE(hs_number_of_completed_payments, 0)
           AS left_
  FROM subscriptions
  WHERE hs_status IN ('active', 'scheduled', 'paused'){where}
"""
_RENEWALS_SQL = """
WITH first_due AS ({first_due}),
due (at, cur, amount) AS (
  SELECT at, cur, amount FROM first_due
  WHERE at >= {start} AND at < {end}
    AND (stop IS NULL OR stop > at) AND (left_ IS NULL OR left_ > 0)
  UNION ALL
  SELECT s.next_at, f.cur, f.amount
  FROM first_due f JOIN _renewal_steps s
    ON s.at = f.at AND s.freq = f.freq AND s.bday = f.bday
  WHERE f.at >= {start} AND (f.stop IS NULL OR f.stop > s.next_at)
    AND (f.left_ IS NULL OR f.left_ > s.k)
)
SELECT at / {day} AS day, cur, COUNT(*), SUM(amount)
FROM due
GROUP BY at / {day}, cur
ORDER BY 1, 2
"""


def mrr_statement(
    bounds: Sequence[dt.datetime],
    cond: str,
    cond_params: Sequence[Any],
    *,
    earning: Sequence[str],
    not_started: Sequence[str],
) -> tuple[str, list[Any]]:
    """The text and parameters of ``mrr_points``'s statement (``cond``: the compiled selection,
    empty for every subscription). benchmarks/report_mrr.py runs it through sqlite3 too."""
    # The selection is a subquery written where it is used (not a CTE: SQLite would
    # materialise it, a copy of every subscription, and index the copy to join it), so its
    # parameters bind once per use; the bounds and the statuses are literals (integers this
    # code computes, status names the services define).
    sel = (
        "(SELECT hs_object_id AS id, hs_currency_code AS cur, hs_createdate AS created,"
        " hs_mrr AS mrr, hs_status AS status FROM subscriptions"
        + (f" WHERE {cond})" if cond else ")")
    )
    for status in (*earning, *not_started):
        if not status.replace("_", "").isalnum():
            raise ValueError(f"not a status name: {status!r}")
    text = _MRR_SQL.format(
        bounds=", ".join(f"({k}, CAST({ms(t)} AS BIGINT))" for k, t in enumerate(bounds)),
        join_sel=f" JOIN {sel} AS sel ON sel.id = h.subscription_id" if cond else "",
        sel=sel,
        first=int(ms(bounds[0])),
        real=_REAL,
        earning=", ".join(f"'{s}'" for s in earning),
        not_started=", ".join(f"'{s}'" for s in not_started),
    )
    return text, list(cond_params) * text.count(sel)


class SqlReports:
    """``ReportStore`` over the SQL workspace (SQLite or PostgreSQL)."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def _where(self, where: Expr | None, sql: Sql, now: dt.datetime) -> str:
        if where is None:
            return ""
        return compile_where(where, self.db.properties(), sql, now=now).text

    def mrr_points(
        self,
        bounds: Sequence[dt.datetime],
        where: Expr | None,
        *,
        earning: Sequence[str],
        not_started: Sequence[str],
        now: dt.datetime,
    ) -> list[MrrPoint]:
        if not bounds:
            return []
        sql = Sql(self.db.dialect)
        cond = self._where(where, sql, now)
        text, params = mrr_statement(
            bounds, cond, sql.params, earning=earning, not_started=not_started
        )
        with self.db.reading() as cursor:
            cursor.execute(text, params)
            rows = cursor.fetchall()
        return [_point(row) for row in rows]

    def renewals(
        self, start: dt.datetime, end: dt.datetime, where: Expr | None, *, now: dt.datetime
    ) -> list[RenewalDay]:
        sqlite = self.db.is_sqlite
        lo, hi = int(ms(start)), int(ms(end))
        # The bounds are integers this code computes: literals (the texts bind the filter only).
        combos, main = Sql(self.db.dialect), Sql(self.db.dialect)
        first = {"billing_day": day_of_month("hs_recurring_billing_start_date", sqlite)}
        with self.db.reading() as cursor:
            cond = self._where(where, combos, now)
            cursor.execute(
                "SELECT DISTINCT f.at, f.freq, f.bday FROM ("
                + _FIRST_DUE.format(**first, where=f" AND ({cond})" if cond else "")
                + f") f WHERE f.at >= {lo} AND f.at < {hi}",
                combos.params,
            )
            steps = _steps(cursor.fetchall(), end.date())
            cursor.execute(
                "CREATE TEMP TABLE IF NOT EXISTS _renewal_steps"
                " (at BIGINT, freq TEXT, bday INTEGER, k INTEGER, next_at BIGINT)"
            )
            cursor.execute(
                "CREATE INDEX IF NOT EXISTS _renewal_steps_first ON _renewal_steps (at, freq, bday)"
            )
            cursor.execute("DELETE FROM _renewal_steps")
            if steps:
                m = self.db.mark
                cursor.executemany(f"INSERT INTO _renewal_steps VALUES ({m}, {m}, {m}, {m}, {m})",
                                   steps)  # fmt: skip
            cond = self._where(where, main, now)
            text = _RENEWALS_SQL.format(
                first_due=_FIRST_DUE.format(**first, where=f" AND ({cond})" if cond else ""),
                day=DAY_MS, start=lo, end=hi,
            )  # fmt: skip
            cursor.execute(text, main.params)
            rows = cursor.fetchall()
        return [RenewalDay(int(d), c, int(n), float(a or 0)) for d, c, n, a in rows]


def _steps(combos: Sequence[Sequence[Any]], end: dt.date) -> list[tuple[int, str, int, int, int]]:
    """Every due date after each first one (at, frequency, billing day) before ``end``: the
    rows of ``_renewal_steps``. A frequency ``next_period_end`` does not know has none."""
    rows: list[tuple[int, str, int, int, int]] = []
    for at, freq, bday in combos:
        first = dt.date(1970, 1, 1) + dt.timedelta(days=int(at) // DAY_MS)
        day, k = first, 0
        while True:
            try:
                day = next_period_end(day, str(freq or ""), int(bday) or None)
            except ValueError:
                break
            if day >= end:
                break
            k += 1
            rows.append((int(at), freq, int(bday), k, (day - dt.date(1970, 1, 1)).days * DAY_MS))
    return rows


def _point(row: Sequence[Any]) -> MrrPoint:
    cur, k, m, n, *rest = row
    a = [float(v or 0) for v in rest[:5]]
    c = [int(v or 0) for v in rest[5:]]
    return MrrPoint(
        cur, int(k), float(m or 0), int(n or 0), a[0], a[1], a[2], a[3], a[4],
        c[0], c[1], c[2], c[3], c[4],
    )  # fmt: skip
