"""``subctl report mrr --by month`` over one year on a 1M-subscription workspace, against the
equivalent GROUP BY through sqlite3, in the same run.

    python benchmarks/report_mrr.py [--workspace DB] [--rows N] [--repeat K] [--work-dir DIR]

The workspace: ``--workspace DB`` (a SQLite workspace with a year of history), else one built
once and cached under ``--work-dir`` (default ``benchmarks/.work/report-N``): ``subctl demo
--count N --seed 1``, then ``subctl clock advance 92d`` four times (the billing run writes the
history: renewals, failures, retries, cancellations, pauses, resumes, expiries, starts), as
benchmarks/advance_baseline.py's figure builds its workspace with ``demo`` and the clock.

The figure: ``subctl -w DB report mrr --by month --from <12 months back> --format json`` (the
workspace clock is the time) against this file run as ``--baseline DB FROM TO``: one
statement through ``sqlite3`` that computes the same table, MRR at each month end per currency
and the month's movements, with the same definitions (services/reports.py): the state at a
time is the last ``hs_mrr``/``hs_status`` change before it (or the value the first change
replaced; else the stored value), MRR counts while active, unpaid or past due. It rebuilds the
state of every subscription at every month end (subscriptions x months, with the history as
intervals), GROUP BY currency and month, and prints the rows as JSON: no selection, no
services, no output formatting, no CLI: what the ratio measures is what subctl adds to the
query the work needs. The outputs are compared (MRR per currency and month, to the cent).

Both sides run as whole processes in turn (A B A B ...) after a warm-up; printed: the median
wall time of each, the median ratio (target <= 1.5x) and each side's peak memory (max RSS,
GNU time). Exits 1 when a side fails or the figures disagree.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import sqlite3
import statistics
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from run import Run, run, subctl_argv  # noqa: E402  (beside this script)

ADVANCES = 4  # x 92 days: a year of history
EARNING = "('active', 'unpaid', 'past_due')"

BASELINE_SQL = f"""
WITH RECURSIVE months (k, t) AS (
  SELECT 0, :first UNION ALL
  SELECT k + 1, CAST(strftime('%s', t / 1000, 'unixepoch', '+1 month') AS INTEGER) * 1000
  FROM months WHERE k < :n - 1
),
bounds (k, t) AS (SELECT k, t FROM months UNION ALL SELECT :n, :last),
iv AS (
  SELECT subscription_id AS sid, property AS p, new_value AS v, changed_at AS lo, old_value AS ov,
         LEAD(changed_at) OVER w AS hi, ROW_NUMBER() OVER w AS rn
  FROM property_history WHERE property IN ('hs_mrr', 'hs_status')
  WINDOW w AS (PARTITION BY subscription_id, property ORDER BY changed_at, id)
),
ivs AS (
  SELECT sid, p, v, lo, hi FROM iv UNION ALL SELECT sid, p, ov, NULL, lo FROM iv WHERE rn = 1
),
state AS (
  SELECT s.hs_object_id AS id, s.hs_currency_code AS cur, b.k,
         CASE WHEN s.hs_createdate < b.t
              AND COALESCE(hs.v, s.hs_status) IN {EARNING}
              THEN COALESCE(CASE WHEN hm.sid IS NULL THEN s.hs_mrr ELSE CAST(hm.v AS REAL) END, 0)
              ELSE 0 END AS m,
         CASE WHEN s.hs_createdate < b.t AND COALESCE(hs.v, s.hs_status) <> 'scheduled'
              THEN 1 ELSE 0 END AS started
  FROM subscriptions s CROSS JOIN bounds b
  LEFT JOIN ivs hs ON hs.sid = s.hs_object_id AND hs.p = 'hs_status'
       AND (hs.lo IS NULL OR hs.lo < b.t) AND (hs.hi IS NULL OR b.t <= hs.hi)
  LEFT JOIN ivs hm ON hm.sid = s.hs_object_id AND hm.p = 'hs_mrr'
       AND (hm.lo IS NULL OR hm.lo < b.t) AND (hm.hi IS NULL OR b.t <= hm.hi)
),
moves AS (
  SELECT cur, k, m, LAG(m) OVER (PARTITION BY id ORDER BY k) AS m0,
         LAG(started) OVER (PARTITION BY id ORDER BY k) AS s0
  FROM state
)
SELECT cur, k, ROUND(SUM(m), 2),
       ROUND(SUM(CASE WHEN m0 = 0 AND m > 0 AND s0 = 0 THEN m ELSE 0 END), 2),
       ROUND(SUM(CASE WHEN m0 > 0 AND m > m0 THEN m - m0 ELSE 0 END), 2),
       ROUND(SUM(CASE WHEN m0 > 0 AND m > 0 AND m < m0 THEN m0 - m ELSE 0 END), 2),
       ROUND(SUM(CASE WHEN m0 > 0 AND m = 0 THEN m0 ELSE 0 END), 2),
       ROUND(SUM(CASE WHEN m0 = 0 AND m > 0 AND s0 = 1 THEN m ELSE 0 END), 2),
       SUM(CASE WHEN m > 0 THEN 1 ELSE 0 END)
FROM moves GROUP BY cur, k ORDER BY cur, k
"""


def month_start(day: dt.date) -> dt.date:
    return day.replace(day=1)


def back_months(day: dt.date, count: int) -> dt.date:
    months = day.year * 12 + day.month - 1 - count
    return dt.date(months // 12, months % 12 + 1, 1)


def ms(day: dt.datetime) -> int:
    return int(day.timestamp() * 1000)


def baseline(db: str, first: str, now_iso: str) -> None:
    """The equivalent GROUP BY: months from ``first`` (a month's first day) to now."""
    start = dt.datetime.fromisoformat(first).replace(tzinfo=dt.UTC)
    now = dt.datetime.fromisoformat(now_iso.replace("Z", "+00:00"))
    n = (now.year - start.year) * 12 + now.month - start.month + 1  # months, the last ends now
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    rows = conn.execute(BASELINE_SQL, {"first": ms(start), "n": n, "last": ms(now)}).fetchall()
    out = [
        {"currency": cur, "bound": k, "mrr": m, "new": a, "expansion": e, "contraction": c,
         "churn": ch, "reactivation": r, "subscriptions": count}
        for cur, k, m, a, e, c, ch, r, count in rows
    ]  # fmt: skip
    json.dump(out, sys.stdout)


def statement(db: str, path: str) -> None:
    """subctl's own statement (written by the parent to ``path``) through sqlite3: what subctl
    adds around it (start-up, services, formatting) is the difference."""
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    rows = conn.execute(Path(path).read_text()).fetchall()
    json.dump([list(r) for r in rows], sys.stdout)


def write_statement(now: str, first: dt.date, path: Path) -> None:
    from subctl.services import reports
    from subctl.store.sql.reports import mrr_statement

    moment = dt.datetime.fromisoformat(now.replace("Z", "+00:00"))
    spans = reports.periods(reports.ReportRequest(by="month", start=first.isoformat()), moment)
    bounds = [spans[0].start, *(p.end for p in spans)]
    text, params = mrr_statement(
        bounds, "", [], earning=reports.EARNING, not_started=reports.NOT_STARTED
    )
    assert not params
    path.write_text(text)


def workspace_clock(db: str) -> str:
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        row = conn.execute("SELECT value FROM workspace_settings WHERE key = 'clock'").fetchone()
    finally:
        conn.close()
    if row is None:
        raise SystemExit(f"{db}: its clock is not set (build it with clock advance)")
    return str(row[0])


def build(work: Path, rows: int, env: dict[str, str]) -> Path:
    db = work / "workspace.db"
    if (work / "ready").exists():
        return db
    work.mkdir(parents=True, exist_ok=True)
    for name in ("workspace.db", "workspace.db-wal", "workspace.db-shm"):
        (work / name).unlink(missing_ok=True)
    steps = [["demo", "--count", str(rows), "--seed", "1", "--yes"]] + [
        ["clock", "advance", "92d", "--format", "json"]
    ] * ADVANCES
    for step in steps:
        print(f"building: subctl {' '.join(step)}", file=sys.stderr, flush=True)
        subprocess.run([*subctl_argv(), "-w", str(db), *step], env=env, check=True,
                       stdout=subprocess.DEVNULL)  # fmt: skip
    (work / "ready").write_text("")
    return db


FIELDS = ("mrr", "new", "expansion", "contraction", "churn", "reactivation", "subscriptions")


def compare(command: Run, base: Run) -> str | None:
    """MRR, its movements and the subscriptions per currency and month, to the cent: subctl's
    rows against the baseline's bounds."""
    doc = json.loads(command.stdout)
    ours = {(r["currency"], r["period"]): [round(r[f], 2) for f in FIELDS] for r in doc["rows"]}
    theirs = json.loads(base.stdout)
    months = sorted({p for _, p in ours})
    expected = {
        (r["currency"], months[r["bound"] - 1]): [round(r[f], 2) for f in FIELDS]
        for r in theirs
        if r["bound"] >= 1
    }
    if ours != expected:
        wrong = sorted(k for k in set(ours) | set(expected) if ours.get(k) != expected.get(k))
        return (
            f"figures differ at {wrong[:3]}: {[(ours.get(k), expected.get(k)) for k in wrong[:2]]}"
        )
    return None


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workspace", help="a SQLite workspace with history (default: build)")
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--work-dir", default=str(HERE / ".work"))
    parser.add_argument(
        "--baseline", nargs=3, metavar=("DB", "FROM", "NOW"), help=argparse.SUPPRESS
    )
    parser.add_argument("--statement", nargs=2, metavar=("DB", "FILE"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.baseline:
        baseline(*args.baseline)
        return 0
    if args.statement:
        statement(*args.statement)
        return 0
    env = {k: v for k, v in os.environ.items() if not k.startswith("SUBCTL_")}
    env["SUBCTL_HOME"] = str(Path(args.work_dir) / "home")
    db = Path(args.workspace) if args.workspace else build(
        Path(args.work_dir) / f"report-{args.rows}", args.rows, env
    )  # fmt: skip
    now = workspace_clock(str(db))
    today = dt.datetime.fromisoformat(now.replace("Z", "+00:00")).date()
    first = back_months(month_start(today), 11)  # 12 months, the last one ends now
    command = [*subctl_argv(), "-w", str(db), "report", "mrr", "--by", "month",
               "--from", first.isoformat(), "--format", "json"]  # fmt: skip
    base = [sys.executable, str(Path(__file__).resolve()), "--baseline", str(db),
            first.isoformat(), now]  # fmt: skip
    sql_file = Path(args.work_dir) / "report_mrr.sql"
    sql_file.parent.mkdir(parents=True, exist_ok=True)
    write_statement(now, first, sql_file)
    own = [sys.executable, str(Path(__file__).resolve()), "--statement", str(db), str(sql_file)]
    sides = (("subctl", command), ("baseline", base), ("statement", own))
    runs: dict[str, list[Run]] = {side: [] for side, _ in sides}
    warm = {side: run(argv, env) for side, argv in sides}
    for side, done in warm.items():
        if done.status != 0:
            print(f"report-mrr  FAILED  {side} exited {done.status}: {done.stderr[-400:]}")
            return 1
    problem = compare(warm["subctl"], warm["baseline"])
    for _ in range(args.repeat):
        for side, argv in sides:
            runs[side].append(run(argv, env))
    ratios = [a.seconds / b.seconds for a, b in zip(runs["subctl"], runs["baseline"], strict=True)]
    mib = 1024.0
    rows = len(json.loads(warm["subctl"].stdout)["rows"])
    print(
        f"report-mrr-month  {statistics.median(r.seconds for r in runs['subctl']):7.2f} s  "
        f"baseline {statistics.median(r.seconds for r in runs['baseline']):7.2f} s  "
        f"ratio {statistics.median(ratios):.2f}x ({min(ratios):.2f}-{max(ratios):.2f}; target "
        f"<= 1.5x)  peak {max(r.peak_kb for r in runs['subctl']) / mib:.1f} MiB "
        f"(baseline {max(r.peak_kb for r in runs['baseline']) / mib:.1f} MiB)  "
        f"{rows} rows, 12 months to {now}, {db}"
    )
    own_ratios = [
        a.seconds / b.seconds for a, b in zip(runs["subctl"], runs["statement"], strict=True)
    ]
    print(
        f"  subctl's own statement through sqlite3: "
        f"{statistics.median(r.seconds for r in runs['statement']):.2f} s, "
        f"peak {max(r.peak_kb for r in runs['statement']) / mib:.1f} MiB: subctl adds "
        f"{statistics.median(own_ratios):.2f}x ({min(own_ratios):.2f}-{max(own_ratios):.2f})"
    )
    if problem:
        print(f"  ! {problem}")
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
