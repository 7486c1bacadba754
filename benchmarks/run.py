"""subctl's benchmarks: each figure next to a baseline doing the same work, in the same run.

    python benchmarks/run.py [--rows N] [--repeat K] [--only NAME ...] [--cancel-sizes N ...]

Every figure runs the subctl command and its baseline as whole processes, in turn (A B A B ...),
after untimed warm-ups, and prints the median wall time of each, the median of the pairwise
ratios (subctl / baseline; pairs taken minutes apart would drift with the machine's load) and
the peak memory (maximum resident set size) of each process. Nothing is judged: the script
prints figures, exits 1 only when a command fails or its output disagrees with the baseline's.

The workspace (``subctl demo --count N --seed 1``) is built once and cached under the work
directory (``--work-dir``, default ``benchmarks/.work``), keyed by the row count, subctl's
version and the schema version (the migrations ``subctl init`` applies), so a workspace of an
older schema is never timed. See benchmarks/README.md for what each baseline does.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
BIN = Path(sys.executable).parent
SEED = 1
NOW = "2026-06-15T12:00:00+00:00"  # the CLI's clock (SUBCTL_NOW) when the data was generated
CANCELABLE = ("active", "unpaid", "past_due", "scheduled", "paused")
VIEW_ID = 1

# -- the baselines -------------------------------------------------------------------------------

MINIMAL_TYPER_APP = '''\
import typer

app = typer.Typer(add_completion=False, rich_markup_mode=None, no_args_is_help=True)


@app.command()
def hello(name: str) -> None:
    """Say hello."""
    print(f"hello {name}")


@app.command()
def goodbye(name: str, formal: bool = False) -> None:
    """Say goodbye."""
    print(f"goodbye {name}")


if __name__ == "__main__":
    app()
'''

LIST_COLUMNS = (
    "hs_object_id",
    "hs_name",
    "hs_status",
    "hs_next_payment_due_date",
    "hs_next_payment_amount",
    "hs_currency_code",
    "hs_recurring_billing_frequency",
)
ORDER = "ORDER BY hs_next_payment_due_date ASC NULLS LAST, hs_object_id"
LIST_SQL = (
    f"SELECT {', '.join(LIST_COLUMNS)} FROM subscriptions WHERE hs_status IN ('unpaid') "
    f"{ORDER} LIMIT 50"
)
FILTER_WHERE = "status in (unpaid, past_due) and next_payment_due_date < +7d"
FILTER_DUE_MS = 1_782_086_400_000  # +7d from NOW, the day's start in UTC (what subctl compares)
FILTER_SQL = (
    f"SELECT {', '.join(LIST_COLUMNS)} FROM subscriptions "
    f"WHERE hs_status IN ('unpaid', 'past_due') AND hs_next_payment_due_date < {FILTER_DUE_MS} "
    f"{ORDER} LIMIT 50"
)
_LABEL = """CASE a.object_type
      WHEN 'contact' THEN (SELECT trim(coalesce(firstname, '') || ' ' || coalesce(lastname, ''))
                           FROM contacts WHERE id = a.object_id)
      WHEN 'company' THEN (SELECT name FROM companies WHERE id = a.object_id)
      WHEN 'deal' THEN (SELECT name FROM deals WHERE id = a.object_id)
      WHEN 'line_item' THEN (SELECT name || ' × ' || quantity FROM line_items
                             WHERE id = a.object_id)
      WHEN 'quote' THEN (SELECT title FROM quotes WHERE id = a.object_id)
      WHEN 'invoice' THEN (SELECT number FROM invoices WHERE id = a.object_id)
      WHEN 'payment' THEN (SELECT printf('%.2f %s %s (%s)', amount, currency, status, method)
                           FROM payments WHERE id = a.object_id) END"""
_DETAILS = """CASE a.object_type
      WHEN 'contact' THEN (SELECT json_group_array(email) FROM (SELECT email FROM contact_emails
                           WHERE contact_id = a.object_id ORDER BY position))
      WHEN 'company' THEN (SELECT json_group_array(domain) FROM (SELECT domain FROM
                           company_domains WHERE company_id = a.object_id ORDER BY position)) END"""
VIEW_SQL = f"""SELECT s.*,
  (SELECT json_group_array(json_object('type', a.object_type, 'id', a.object_id,
      'associationTypeId', a.type_id, 'label', {_LABEL}, 'details', json({_DETAILS})))
   FROM (SELECT * FROM associations WHERE subscription_id = s.hs_object_id
         ORDER BY object_type, object_id) AS a) AS associations,
  (SELECT json_group_array(json_object('id', p.id, 'amount', p.amount, 'currency', p.currency,
      'status', p.status, 'method', p.method, 'kind', p.kind, 'created_at', p.created_at))
   FROM (SELECT payments.* FROM payments JOIN associations ON associations.object_id = payments.id
         WHERE associations.subscription_id = s.hs_object_id
           AND associations.object_type = 'payment' ORDER BY payments.created_at) AS p) AS payments,
  (SELECT json_group_array(json_object('property', h.property, 'old', h.old_value,
      'new', h.new_value, 'at', h.changed_at, 'source', h.source))
   FROM (SELECT * FROM property_history WHERE subscription_id = s.hs_object_id
         ORDER BY changed_at DESC, id DESC) AS h) AS history,
  (SELECT json_group_array(json_object('kind', o.kind, 'recipient', o.recipient,
      'subject', o.subject, 'at', o.created_at))
   FROM (SELECT * FROM outbox WHERE subscription_id = s.hs_object_id
         ORDER BY created_at DESC, id DESC) AS o) AS outbox
FROM subscriptions AS s WHERE s.hs_object_id = {VIEW_ID}"""


# -- measuring -----------------------------------------------------------------------------------


@dataclass
class Run:
    seconds: float
    peak_kb: int
    status: int
    stdout: str
    stderr: str


TIME = Path("/usr/bin/time")


def run(argv: Sequence[str], env: dict[str, str]) -> Run:
    """One whole process: its wall time and peak RSS. The RSS comes from GNU time (``%M``): a
    child forked from this script would report this script's own RSS as its peak when larger."""
    with (
        tempfile.TemporaryFile() as out,
        tempfile.TemporaryFile() as err,
        tempfile.NamedTemporaryFile("r") as rss,
    ):
        wrapped = [str(TIME), "-f", "%M", "-o", rss.name, *argv] if TIME.is_file() else list(argv)
        started = time.perf_counter()
        child = subprocess.run(wrapped, env=env, stdout=out, stderr=err, stdin=subprocess.DEVNULL)
        seconds = time.perf_counter() - started
        out.seek(0)
        err.seek(0)
        lines = rss.read().split()
        peak_kb = int(lines[-1]) if lines and lines[-1].isdigit() else 0
        return Run(
            seconds,
            peak_kb,
            child.returncode,
            out.read().decode(errors="replace"),
            err.read().decode(errors="replace"),
        )


@dataclass
class Figure:
    name: str
    command: Sequence[str]
    baseline: Sequence[str]
    baseline_name: str
    setup: Callable[[str], None] | None = None  # ("command" | "baseline") before every run
    verify: Callable[[Run, Run], str | None] | None = None  # warm-up outputs -> problem | None
    repeat: int | None = None  # None: --repeat
    statuses: tuple[int, ...] = (0,)  # exit statuses that mean the command did its work


@dataclass
class Result:
    figure: Figure
    command: list[Run] = field(default_factory=list)
    baseline: list[Run] = field(default_factory=list)
    problem: str | None = None
    note: str | None = None

    def median_ms(self, runs: list[Run]) -> float:
        return statistics.median(r.seconds for r in runs) * 1000

    def ratios(self) -> list[float]:
        return [a.seconds / b.seconds for a, b in zip(self.command, self.baseline, strict=True)]


def measure(figure: Figure, env: dict[str, str], repeat: int, warmup: int) -> Result:
    result = Result(figure)
    sides = (("command", figure.command), ("baseline", figure.baseline))
    warm: dict[str, Run] = {}
    for _ in range(warmup):
        for side, argv in sides:
            if figure.setup:
                figure.setup(side)
            done = run(argv, env)
            if done.status not in figure.statuses:
                result.problem = (
                    f"`{' '.join(argv)[:200]}` exited {done.status}: {done.stderr.strip()[-400:]}"
                )
                return result
            warm[side] = done
    if figure.verify and warm:
        result.problem = figure.verify(warm["command"], warm["baseline"])
    for _ in range(figure.repeat or repeat):
        for side, argv in sides:
            if figure.setup:
                figure.setup(side)
            done = run(argv, env)
            if done.status not in figure.statuses:
                result.problem = result.problem or f"`{' '.join(argv)[:200]}` exited {done.status}"
            (result.command if side == "command" else result.baseline).append(done)
    return result


def report(result: Result, width: int) -> str:
    f = result.figure
    if not result.command:
        return f"{f.name:<{width}}  FAILED  {result.problem}"
    ratios = result.ratios()
    mb = 1024.0
    line = (
        f"{f.name:<{width}}  {result.median_ms(result.command):8.1f} ms  "
        f"{result.median_ms(result.baseline):8.1f} ms  "
        f"{statistics.median(ratios):5.2f} ({min(ratios):.2f}-{max(ratios):.2f})  "
        f"{max(r.peak_kb for r in result.command) / mb:7.1f} MB  "
        f"{max(r.peak_kb for r in result.baseline) / mb:7.1f} MB  {f.baseline_name}"
    )
    for extra in (result.note, result.problem):
        if extra:
            line += (
                f"\n{'':<{width}}  ! {extra}"
                if extra is result.problem
                else f"\n{'':<{width}}    {extra}"
            )
    return line


# -- checks of the outputs -----------------------------------------------------------------------


def same_rows(command: Run, baseline: Run) -> str | None:
    """subctl's JSON listing and sqlite-utils' rows name the same subscriptions, in order."""
    try:
        listed = [int(row["hs_object_id"]) for row in json.loads(command.stdout)]
        expected = [int(row["hs_object_id"]) for row in json.loads(baseline.stdout)]
    except (ValueError, KeyError, TypeError) as exc:
        return f"cannot compare outputs: {exc!r}"
    if not listed or listed != expected:
        return (
            f"different rows: subctl {listed[:3]}... ({len(listed)}), "
            f"baseline {expected[:3]}... ({len(expected)})"
        )
    return None


def same_record(command: Run, baseline: Run) -> str | None:
    try:
        shown = json.loads(command.stdout)
        (row,) = json.loads(baseline.stdout)
        links = sum(len(v) for v in shown["associations"].values())
        expected = len(json.loads(row["associations"]))
    except (ValueError, KeyError, TypeError) as exc:
        return f"cannot compare outputs: {exc!r}"
    if shown["id"] != row["hs_object_id"] or links != expected:
        return (
            f"different record: subctl id {shown['id']} ({links} links), "
            f"baseline {row['hs_object_id']} ({expected})"
        )
    return None


# -- the workspace -------------------------------------------------------------------------------


def subctl_argv() -> list[str]:
    script = BIN / "subctl"
    return [str(script)] if script.is_file() else [sys.executable, "-m", "subctl"]


def schema_key(env: dict[str, str], scratch: Path) -> str:
    """subctl's version and the migrations a new workspace gets: what shapes the cached data."""
    probe = scratch / "probe"
    shutil.rmtree(probe, ignore_errors=True)
    probe.mkdir(parents=True)
    version = subprocess.run(
        [*subctl_argv(), "--version"], env=env, capture_output=True, text=True, check=True
    ).stdout
    subprocess.run(
        [*subctl_argv(), "init"],
        env={**env, "SUBCTL_HOME": str(probe)},
        capture_output=True,
        check=True,
    )
    with sqlite3.connect(probe / "workspace.db") as conn:
        names = sorted(r[0] for r in conn.execute("SELECT name FROM _subctl_migrations"))
    conn.close()
    shutil.rmtree(probe, ignore_errors=True)
    digest = hashlib.sha256("\0".join([version.strip(), *names]).encode()).hexdigest()[:12]
    return f"{len(names)}-{digest}"


def checkpoint(db: Path) -> None:
    with sqlite3.connect(db) as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()
    for suffix in ("-wal", "-shm"):
        Path(f"{db}{suffix}").unlink(missing_ok=True)


def cached_workspace(work: Path, rows: int, env: dict[str, str], rebuild: bool) -> Path:
    """The SUBCTL_HOME holding a ``subctl demo`` workspace of ``rows`` subscriptions."""
    key = schema_key(env, work)
    home = work / f"rows-{rows}-schema-{key}"
    if not rebuild and (home / "built").is_file():
        return home
    for old in work.glob(f"rows-{rows}-schema-*"):
        shutil.rmtree(old, ignore_errors=True)
    home.mkdir(parents=True)
    print(f"building a {rows:,}-subscription workspace in {home} ...", file=sys.stderr, flush=True)
    started = time.perf_counter()
    subprocess.run(
        [*subctl_argv(), "demo", "--count", str(rows), "--seed", str(SEED), "--yes"],
        env={**env, "SUBCTL_HOME": str(home)},
        check=True,
        stdout=subprocess.DEVNULL,
    )
    checkpoint(home / "workspace.db")
    (home / "built").write_text(f"{time.perf_counter() - started:.1f} s\n")
    return home


# -- bulk cancellation ---------------------------------------------------------------------------


def fresh_copy(source: Path, db: Path) -> None:
    """A fresh copy of the cached workspace for one timed run (untimed)."""
    db.parent.mkdir(exist_ok=True)
    for suffix in ("-wal", "-shm"):
        Path(f"{db}{suffix}").unlink(missing_ok=True)
    shutil.copyfile(source, db)


def cancel_counts(one: Callable[[str], int], has_audit: str) -> dict[str, int]:
    """The rows a cancel writes, counted the same way on either database (``one``: the value of
    a count query; ``has_audit``: whether the audit table (m009) exists, in that database's
    catalogue). Audit rows: the cancel's own (a cached workspace holds others, a segment's)."""
    counts = {
        "canceled": one(
            "SELECT count(*) FROM subscriptions WHERE hs_canceled_at = "
            "(SELECT max(hs_canceled_at) FROM subscriptions)"
        ),
        "history": one("SELECT count(*) FROM property_history"),
        "outbox": one("SELECT count(*) FROM outbox"),
        "refunds": one("SELECT count(*) FROM payments WHERE kind = 'refund'"),
    }
    if one(has_audit):
        counts["audit"] = one("SELECT count(*) FROM audit WHERE verb = 'cancel'")
    return counts


class Cancel:
    """``subctl cancel --from-file IDS --refund unused --yes --format json`` of ``size``
    cancelable subscriptions, against benchmarks/cancel_baseline.py writing the same rows through
    sqlite3. Each side runs on its own fresh copy of the cached workspace (copied untimed)."""

    def __init__(self, source: Path, work: Path, size: int) -> None:
        self.source = source
        self.dir = work / f"cancel-{size}"
        self.dir.mkdir(parents=True, exist_ok=True)
        self.ids = self.dir / "ids.txt"
        marks = ",".join("?" * len(CANCELABLE))
        with sqlite3.connect(source) as conn:
            ids = [
                r[0]
                for r in conn.execute(
                    f"SELECT hs_object_id FROM subscriptions WHERE hs_status IN ({marks}) "
                    "ORDER BY hs_object_id LIMIT ?",
                    (*CANCELABLE, size),
                )
            ]
        conn.close()
        if len(ids) < size:
            raise SystemExit(f"the workspace has only {len(ids):,} cancelable subscriptions")
        self.ids.write_text("".join(f"{i}\n" for i in ids))
        self.db = {side: self.dir / side / "workspace.db" for side in ("command", "baseline")}

    def setup(self, side: str) -> None:
        fresh_copy(self.source, self.db[side])

    def written(self, side: str) -> dict[str, int]:
        with sqlite3.connect(self.db[side]) as conn:
            one = lambda sql: conn.execute(sql).fetchone()[0]  # noqa: E731
            counts = cancel_counts(one, "SELECT count(*) FROM sqlite_master WHERE name = 'audit'")
        conn.close()
        return counts

    def verify(self, command: Run, baseline: Run) -> str | None:
        mine, theirs = self.written("command"), self.written("baseline")
        self.note = f"rows written: subctl {mine}, baseline {theirs}"
        try:
            ok = sum(1 for r in json.loads(command.stdout) if r["outcome"] in ("ok", "attention"))
        except (ValueError, KeyError, TypeError) as exc:
            return f"cannot read subctl's results: {exc!r}"
        if mine != theirs or ok != theirs["canceled"]:
            return f"subctl canceled {ok:,}, the baseline {theirs['canceled']:,}"
        return None

    def figure(self, size: int) -> Figure:
        command = [
            *subctl_argv(),
            "--workspace",
            str(self.db["command"]),
            "cancel",
            "--from-file",
            str(self.ids),
            "--refund",
            "unused",
            "--yes",
            "--format",
            "json",
        ]
        baseline = [
            sys.executable,
            str(HERE / "cancel_baseline.py"),
            str(self.db["baseline"]),
            str(self.ids),
            NOW,
        ]
        return Figure(
            f"cancel-{size // 1000}k",
            command,
            baseline,
            "same writes via sqlite3",
            setup=self.setup,
            verify=self.verify,
            repeat=3,
            statuses=(0, 5),
        )


# -- advancing the clock ------------------------------------------------------------------------

ADVANCE_DAYS = 30


class Advance:
    """``subctl clock advance 30d --format json`` (the billing run up to 30 days after the demo's
    day) against benchmarks/advance_baseline.py renewing the same due rows through sqlite3 (one
    UPDATE, one INSERT). Each side runs on its own fresh copy of the cached workspace."""

    def __init__(self, source: Path, work: Path) -> None:
        self.source = source
        self.dir = work / f"advance-{ADVANCE_DAYS}d"
        self.dir.mkdir(parents=True, exist_ok=True)
        self.db = {side: self.dir / side / "workspace.db" for side in ("command", "baseline")}
        self.note: str | None = None

    def setup(self, side: str) -> None:
        fresh_copy(self.source, self.db[side])

    def verify(self, command: Run, baseline: Run) -> str | None:
        """subctl's first charge of each row the baseline renews (its renewals and starts)
        against the baseline's renewed rows; both counts printed."""
        try:
            theirs = json.loads(baseline.stdout)["renewed"]
        except (ValueError, KeyError, TypeError) as exc:
            return f"cannot read the baseline's counts: {exc!r}"
        from advance_baseline import DUE, until_ms  # beside this script

        with sqlite3.connect(self.db["command"]) as conn:
            # The rows due at the start (the baseline's DUE, on the untouched workspace) and
            # the first charge subctl made of each. A due row whose pending bank payment failed
            # to settle before its due date is not charged (it is unpaid by then); subctl also
            # charges subscriptions that become due as it runs (resumed, paid at a retry, weekly
            # ones again): both counted apart.
            conn.execute("ATTACH DATABASE ? AS source", (str(self.source),))  # read only
            conn.execute(
                "CREATE TEMP TABLE due AS SELECT hs_object_id AS id FROM source.subscriptions"
                f" WHERE {DUE}",
                {"until": until_ms(NOW, ADVANCE_DAYS)},
            )
            charges = (
                "SELECT subscription_id FROM billing_events WHERE kind IN ('start', 'renewal')"
            )
            first, unsettled, charged, events, subs = conn.execute(
                f"SELECT (SELECT count(*) FROM due WHERE id IN ({charges})),"
                f" (SELECT count(*) FROM due WHERE id NOT IN ({charges}) AND id IN"
                "  (SELECT subscription_id FROM billing_events"
                "   WHERE kind = 'settlement' AND outcome = 'failed')),"
                f" (SELECT count(DISTINCT subscription_id) FROM ({charges})),"
                " (SELECT count(*) FROM billing_events),"
                " (SELECT count(DISTINCT subscription_id) FROM billing_events)"
            ).fetchone()
        conn.close()
        self.note = (
            f"renewed: subctl {first:,} of the due subscriptions, {unsettled:,} not (a bank"
            f" payment failed to settle first); {charged:,} charged in all, {events:,} billing"
            f" events on {subs:,} subscriptions; baseline {theirs:,} rows"
        )
        if first + unsettled != theirs:
            return (
                f"subctl renewed {first:,} subscriptions (+{unsettled:,}), the baseline {theirs:,}"
            )
        return None

    def figure(self) -> Figure:
        command = [*subctl_argv(), "--workspace", str(self.db["command"]), "clock",
                   "advance", f"{ADVANCE_DAYS}d", "--format", "json"]  # fmt: skip
        baseline = [sys.executable, str(HERE / "advance_baseline.py"), str(self.db["baseline"]),
                    NOW, str(ADVANCE_DAYS)]  # fmt: skip
        return Figure(
            f"advance-{ADVANCE_DAYS}d",
            command,
            baseline,
            "same renewals via sqlite3",
            setup=self.setup,
            verify=self.verify,
            repeat=3,
        )

    def floor_figure(self) -> Figure:
        """``advance_floor.py`` (the baseline's renewals with only the billing events and due-date
        history they must leave, set-based) against the same baseline: a lower bound of
        ``advance-30d``'s ratio, whatever subctl's implementation."""
        floor = [sys.executable, str(HERE / "advance_floor.py"), str(self.db["command"]), NOW,
                 str(ADVANCE_DAYS)]  # fmt: skip
        baseline = [sys.executable, str(HERE / "advance_baseline.py"), str(self.db["baseline"]),
                    NOW, str(ADVANCE_DAYS)]  # fmt: skip

        def same_rows(command: Run, base: Run) -> str | None:
            if json.loads(command.stdout)["renewed"] != json.loads(base.stdout)["renewed"]:
                return "the floor and the baseline renewed different rows"
            return None

        return Figure(
            "advance-floor",
            floor,
            baseline,
            "same renewals via sqlite3",
            setup=self.setup,
            verify=same_rows,
            repeat=3,
        )


# -- segments ---------------------------------------------------------------------------------

SEGMENT = "bench-due"  # a dynamic segment whose query is FILTER_WHERE
SEGMENT_CREATED = "2026-06-12T12:00:00+00:00"  # 3 days before NOW: its diff has movers


def ensure_segment(env: dict[str, str]) -> None:
    """The dynamic segment of the segment figures, made once in the cached workspace (its
    first refresh 3 days before NOW, so that ``segment diff`` at NOW finds who entered and
    left)."""
    shown = subprocess.run(
        [*subctl_argv(), "segment", "show", SEGMENT, "--format", "json"],
        env=env, capture_output=True, text=True,
    )  # fmt: skip
    if shown.returncode == 0:
        return
    subprocess.run(
        [*subctl_argv(), "segment", "create", SEGMENT, "--where", FILTER_WHERE],
        env={**env, "SUBCTL_NOW": SEGMENT_CREATED}, check=True, capture_output=True,
    )  # fmt: skip


def same_ids(command: Run, baseline: Run) -> str | None:
    """``--format ids`` of the segment and of the filter: the same ids, in the same order."""
    if command.stdout.split() != baseline.stdout.split():
        return "the segment and the filter listed different ids"
    return None


def diff_counts(command: Run, baseline: Run) -> str | None:
    """The diff's members now are the filter's matches."""
    try:
        size = int(json.loads(command.stdout)["size"])
    except (ValueError, KeyError, TypeError) as exc:
        return f"cannot read the diff: {exc!r}"
    listed = len(baseline.stdout.split())
    return None if size == listed else f"diff says {size} members, the filter lists {listed}"


def segment_figures(sub: list[str]) -> list[Figure]:
    """``segment members`` of a dynamic segment against the equivalent ``filter`` (limit 50,
    and every match as ids), and ``segment diff`` against the filter listing every match."""
    filter_ = [*sub, "filter", "--where", FILTER_WHERE]
    members = [*sub, "segment", "members", SEGMENT]
    every = [*filter_, "--all", "--format", "ids"]
    return [
        Figure("segment-members", [*members, "--limit", "50", "--format", "json"],
               [*filter_, "--limit", "50", "--format", "json"], "same filter",
               verify=same_rows),
        Figure("segment-members-all", [*members, "--all", "--format", "ids"], every,
               "same filter, every match", verify=same_ids),
        Figure("segment-diff", [*sub, "segment", "diff", SEGMENT, "--format", "json"], every,
               "filter, every match (ids)", verify=diff_counts),
    ]  # fmt: skip


# -- export --------------------------------------------------------------------------------------


class Export:
    """``subctl export --all --properties all -o FILE`` (every standard property, English
    headers, option labels) against benchmarks/export_baseline.py: sqlite3 rows straight into
    Python's csv module (or json.dumps per line), the same bytes (compared after the warm-up).
    ``limit``: only the subscriptions with ids up to it (the 100k figure: memory against N)."""

    def __init__(self, db: Path, work: Path, fmt: str, rows: int, limit: int | None) -> None:
        self.db, self.fmt, self.limit = db, fmt, limit
        self.count = min(rows, limit) if limit else rows
        self.dir = work / "export"
        self.dir.mkdir(parents=True, exist_ok=True)
        tag = f"{fmt}-{limit or rows}"
        self.out = {side: self.dir / f"{side}-{tag}.{fmt}" for side in ("command", "baseline")}
        self.name = f"export-{fmt}" + (f"-{limit // 1000}k" if limit else "")
        self.note: str | None = None

    def setup(self, side: str) -> None:
        self.out[side].unlink(missing_ok=True)

    def verify(self, command: Run, baseline: Run) -> str | None:
        mine, theirs = self.out["command"].read_bytes(), self.out["baseline"].read_bytes()
        if mine != theirs:
            pairs = enumerate(zip(mine, theirs, strict=False))
            at = next((i for i, (a, b) in pairs if a != b), None)
            return f"the files differ (sizes {len(mine):,} and {len(theirs):,}; first at {at})"
        return None

    def figure(self) -> Figure:
        select = ["--where", f"id <= {self.limit}"] if self.limit else ["--all"]
        command = [*subctl_argv(), "export", *select, "--properties", "all",
                   "-o", str(self.out["command"]), "--force"]  # fmt: skip
        baseline = [sys.executable, str(HERE / "export_baseline.py"), str(self.db),
                    str(self.out["baseline"]), self.fmt,
                    *([str(self.limit)] if self.limit else [])]  # fmt: skip
        return Figure(
            self.name,
            command,
            baseline,
            f"sqlite3 -> {'csv module' if self.fmt == 'csv' else 'json.dumps'}, same bytes",
            setup=self.setup,
            verify=self.verify,
        )

    def rate(self, result: Result) -> str:
        mine = statistics.median(r.seconds for r in result.command)
        theirs = statistics.median(r.seconds for r in result.baseline)
        return (
            f"{self.count:,} rows: subctl {self.count / mine:,.0f} rows/s, "
            f"baseline {self.count / theirs:,.0f} rows/s"
        )


# -- PostgreSQL (optional) -----------------------------------------------------------------------

PG_SOURCE = "bench_source"  # the demo data; every cancel run gets a copy of it
PG_CANCEL = "bench_cancel"


class Postgres:
    """The server of SUBCTL_BENCH_PG_URL (a role that may create databases), else a cluster of
    our own under the work directory, found and started as tests/pg.py does (the binaries on
    PATH or under /usr/lib/postgresql/*/bin; as root, run by an unprivileged user), kept between
    runs (the demo data is built once) and stopped when the benchmark ends.

    Durability as the SQLite workspace's (WAL, ``synchronous=NORMAL``: a commit is not synced
    at once, a crash loses no consistency): ``synchronous_commit=off``, ``fsync`` on."""

    def __init__(self, work: Path) -> None:
        self.work = work
        self.stop_argv: list[str] | None = None
        self.admin: str | None = None
        self.why = ""

    def start(self) -> bool:
        url = os.environ.get("SUBCTL_BENCH_PG_URL")
        if url:
            self.admin, self.why = url, "SUBCTL_BENCH_PG_URL"
            return True
        try:
            import psycopg  # noqa: F401
        except ImportError:
            self.why = "no psycopg in this venv (pip install 'subctl[postgres]')"
            return False
        sys.path.insert(0, str(HERE.parent))
        from tests import pg

        bindir = pg.binaries()
        if bindir is None:
            self.why = "no SUBCTL_BENCH_PG_URL and no PostgreSQL server binaries"
            return False
        user = pg._unprivileged_user()
        as_user = ["runuser", "-u", user, "--"] if user else []
        root = self.work / "pg"
        data = root / "data"
        if not (data / "PG_VERSION").is_file():
            shutil.rmtree(root, ignore_errors=True)
            root.mkdir(parents=True)
            if user:
                shutil.chown(root, user)
            os.chmod(root, 0o700)
            done = subprocess.run(
                [*as_user, str(bindir / "initdb"), "-D", str(data), "-U", "bench", "-A", "trust",
                 "-E", "UTF8", "--locale=C.UTF-8", "--no-instructions"],
                capture_output=True, text=True,
            )  # fmt: skip
            if done.returncode:
                self.why = f"initdb failed: {done.stderr.strip()[-200:]}"
                return False
        port = pg._free_port()
        options = (
            f"-p {port} -c listen_addresses=127.0.0.1 -c unix_socket_directories='{root}'"
            " -c synchronous_commit=off -c shared_buffers=256MB -c max_wal_size=4GB"
        )
        done = subprocess.run(
            [*as_user, str(bindir / "pg_ctl"), "-D", str(data), "-l", str(root / "log"),
             "-o", options, "-w", "-t", "120", "start"],
            capture_output=True, text=True,
        )  # fmt: skip
        if done.returncode:
            self.why = f"pg_ctl start failed: {done.stderr.strip()[-200:]}"
            return False
        self.stop_argv = [*as_user, str(bindir / "pg_ctl"), "-D", str(data), "-m", "fast",
                          "-w", "stop"]  # fmt: skip
        self.admin = f"postgresql://bench@127.0.0.1:{port}/postgres"
        self.why = f"a cluster in {data}, PostgreSQL {(data / 'PG_VERSION').read_text().strip()}"
        return True

    def stop(self) -> None:
        if self.stop_argv is not None:
            subprocess.run(self.stop_argv, capture_output=True)
            self.stop_argv = None

    def url(self, database: str) -> str:
        assert self.admin is not None
        base, _, _query = self.admin.partition("?")
        head = base.rsplit("/", 1)[0]
        return f"{head}/{database}" + (f"?{_query}" if _query else "")

    def sql(self, *statements: str, database: str | None = None) -> None:
        import psycopg

        url = self.admin if database is None else self.url(database)
        assert url is not None
        with psycopg.connect(url, autocommit=True) as conn:
            for statement in statements:
                conn.execute(statement)

    def exists(self, database: str) -> bool:
        import psycopg

        assert self.admin is not None
        with psycopg.connect(self.admin, autocommit=True) as conn:
            found = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (database,))
            return found.fetchone() is not None


class CancelPg:
    """The cancel figure on both backends: subctl on a fresh copy of the SQLite workspace (A)
    against subctl on a fresh copy of the PostgreSQL one (B, ``CREATE DATABASE … TEMPLATE``,
    untimed), the same ids; the rows each wrote are counted after the warm-up and must agree."""

    def __init__(self, cancel: Cancel, server: Postgres, size: int) -> None:
        self.cancel, self.server, self.size = cancel, server, size
        self.note: str | None = None

    def setup(self, side: str) -> None:
        if side == "command":
            self.cancel.setup("command")
            return
        self.server.sql(
            f'DROP DATABASE IF EXISTS "{PG_CANCEL}" WITH (FORCE)',
            f'CREATE DATABASE "{PG_CANCEL}" TEMPLATE "{PG_SOURCE}"',
        )

    def written(self) -> dict[str, int]:
        import psycopg

        with psycopg.connect(self.server.url(PG_CANCEL), autocommit=True) as conn:

            def one(sql: str) -> int:
                row = conn.execute(sql).fetchone()
                return int(row[0]) if row else 0

            return cancel_counts(one, "SELECT count(*) FROM pg_tables WHERE tablename = 'audit'")

    def verify(self, command: Run, baseline: Run) -> str | None:
        lite, pg = self.cancel.written("command"), self.written()
        self.note = f"rows written: SQLite {lite}, PostgreSQL {pg}"
        if lite != pg:
            return "SQLite and PostgreSQL wrote different rows"
        return None

    def figure(self, sqlite_command: Sequence[str]) -> Figure:
        sub = list(sqlite_command)
        at = sub.index("--workspace")
        pg = [*sub[:at], "--workspace", self.server.url(PG_CANCEL), *sub[at + 2 :]]
        return Figure(f"cancel-{self.size // 1000}k-pg", sub, pg, "subctl on PostgreSQL",
                      setup=self.setup, verify=self.verify, repeat=3,
                      statuses=(0, 5))  # fmt: skip


# -- main ----------------------------------------------------------------------------------------


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument(
        "--rows", type=int, default=1_000_000, help="subscriptions in the workspace"
    )
    parser.add_argument("--repeat", type=int, default=7, help="timed runs of each read (cancel: 3)")
    parser.add_argument("--warmup", type=int, default=1, help="untimed runs of each side first")
    parser.add_argument("--only", nargs="+", metavar="NAME", help="only these figures")
    parser.add_argument(
        "--cancel-sizes",
        nargs="+",
        type=int,
        default=[100_000],
        metavar="N",
        help="subscriptions per cancel figure, e.g. 100000 400000",
    )
    parser.add_argument(
        "--work-dir", type=Path, default=Path(os.environ.get("SUBCTL_BENCH_DIR", HERE / ".work"))
    )
    parser.add_argument("--no-postgres", action="store_true", help="skip the PostgreSQL figures")
    parser.add_argument("--rebuild", action="store_true", help="rebuild the cached workspace")
    args = parser.parse_args(argv)

    env = dict(os.environ)
    # What a user's shell runs: bytecode written and read, buffered output.
    for name in (
        "SUBCTL_WORKSPACE",
        "SUBCTL_PROFILE",
        "SUBCTL_DEBUG",
        "PYTHONDONTWRITEBYTECODE",
        "PYTHONUNBUFFERED",
        "PYTHONPROFILEIMPORTTIME",
    ):
        env.pop(name, None)
    env.update(SUBCTL_NOW=NOW, NO_COLOR="1", COLUMNS="100")
    work = args.work_dir.resolve()
    work.mkdir(parents=True, exist_ok=True)
    home = cached_workspace(work, args.rows, env, args.rebuild)
    env["SUBCTL_HOME"] = str(home)
    db = home / "workspace.db"
    app = work / "minimal_typer_app.py"
    app.write_text(MINIMAL_TYPER_APP)
    sub, py, su = subctl_argv(), sys.executable, str(BIN / "sqlite-utils")
    if not Path(su).is_file():
        sys.exit("sqlite-utils is missing: pip install -e '.[dev]'")

    figures = [
        Figure("help", [*sub, "--help"], [py, str(app), "--help"], "2-command Typer app --help"),
        Figure("version", [*sub, "--version"], [py, "-c", "pass"], "python -c pass"),
        Figure(
            "list",
            [*sub, "list", "--status", "unpaid", "--limit", "50", "--format", "json"],
            [su, "query", str(db), LIST_SQL],
            "sqlite-utils query",
            verify=same_rows,
        ),
        Figure(
            "filter",
            [*sub, "filter", "--where", FILTER_WHERE, "--limit", "50", "--format", "json"],
            [su, "query", str(db), FILTER_SQL],
            "sqlite-utils query",
            verify=same_rows,
        ),
        Figure(
            "view",
            [*sub, "view", str(VIEW_ID), "--format", "json"],
            [su, "query", str(db), VIEW_SQL],
            "sqlite-utils query",
            verify=same_record,
        ),
    ]
    segments = segment_figures(sub)
    if not args.only or any(f.name in args.only for f in segments):
        ensure_segment(env)
        figures += segments
    cancels = {}
    for size in args.cancel_sizes:
        name = f"cancel-{size // 1000}k"
        if not args.only or name in args.only:
            cancels[name] = Cancel(db, work, size)
            figures.append(cancels[name].figure(size))
    exports = {}
    for fmt, limit in (("csv", None), ("ndjson", None), ("csv", 100_000)):
        export = Export(db, work, fmt, args.rows, limit)
        if not args.only or export.name in args.only:
            exports[export.name] = export
            figures.append(export.figure())
    advance = None
    if not args.only or {f"advance-{ADVANCE_DAYS}d", "advance-floor"} & set(args.only):
        advance = Advance(db, work)
        figures += [advance.figure(), advance.floor_figure()]
    figures = [f for f in figures if not args.only or f.name in args.only]

    print(
        f"{args.rows:,} subscriptions (schema {home.name.split('-schema-')[1]}); median of "
        f"{args.repeat} runs (cancel, advance: 3) after {args.warmup} warm-up; {sys.executable}"
    )
    width = max([len(f.name) for f in figures] + [12])
    print(
        f"{'figure':<{width}}  {'subctl':>11}  {'baseline':>11}  {'ratio (min-max)':<16}  "
        f"{'subctl RSS':>10}  {'base RSS':>10}  baseline"
    )
    failed = False
    for figure in figures:
        result = measure(figure, env, args.repeat, args.warmup)
        result.note = getattr(cancels.get(figure.name), "note", None)
        if advance is not None and figure.name == f"advance-{ADVANCE_DAYS}d":
            result.note = advance.note
        if figure.name in exports and result.command:
            result.note = exports[figure.name].rate(result)
        print(report(result, width), flush=True)
        failed |= result.problem is not None
    if not args.no_postgres:
        failed |= postgres_figures(args, env, work, figures, width, cancels)
    return 1 if failed else 0


def postgres_figures(
    args: argparse.Namespace,
    env: dict[str, str],
    work: Path,
    figures: list[Figure],
    width: int,
    cancels: dict[str, Cancel],
) -> bool:
    """list, filter and cancel on PostgreSQL: subctl on SQLite (A) against subctl on
    PostgreSQL (B); the ratio is SQLite / PostgreSQL (below 1: PostgreSQL is slower)."""
    server = Postgres(work)
    if not server.start():
        print(f"PostgreSQL: skipped ({server.why})")
        return False
    try:
        return _postgres_figures(args, env, work, figures, width, cancels, server)
    finally:
        server.stop()


def _postgres_figures(
    args: argparse.Namespace,
    env: dict[str, str],
    work: Path,
    figures: list[Figure],
    width: int,
    cancels: dict[str, Cancel],
    server: Postgres,
) -> bool:
    source = server.url(PG_SOURCE)
    # keyed like the SQLite workspace (rows, subctl's version, the schema): a database of an
    # older schema is rebuilt, never timed
    marker = work / f"pg-rows-{args.rows}-schema-{schema_key(env, work)}"
    if not marker.is_file() or not server.exists(PG_SOURCE):
        print(f"building a {args.rows:,}-subscription PostgreSQL workspace ...", file=sys.stderr,
              flush=True)  # fmt: skip
        server.sql(f'DROP DATABASE IF EXISTS "{PG_SOURCE}" WITH (FORCE)',
                   f'CREATE DATABASE "{PG_SOURCE}"')  # fmt: skip
        done = subprocess.run(
            [*subctl_argv(), "--workspace", source, "demo", "--count", str(args.rows),
             "--seed", str(SEED), "--yes"],
            env=env, capture_output=True, text=True,
        )  # fmt: skip
        if done.returncode:
            print(
                f"PostgreSQL: skipped (subctl demo on {server.why} exited {done.returncode}: "
                f"{done.stderr.strip()[-300:]})"
            )
            return False
        server.sql("VACUUM ANALYZE", database=PG_SOURCE)  # as a long-lived database would be
        marker.write_text("built\n")
    print(f"PostgreSQL ({server.why}): the ratio is SQLite / PostgreSQL, subctl on both")
    failed = False
    for figure in figures:
        if figure.name in ("list", "filter"):
            sub = list(figure.command)
            pg = [sub[0], "--workspace", source, *sub[1:]]
            measured = Figure(f"{figure.name}-pg", sub, pg, "subctl on PostgreSQL",
                              verify=same_listing)  # fmt: skip
            result = measure(measured, env, args.repeat, args.warmup)
        elif figure.name in cancels:
            both = CancelPg(cancels[figure.name], server, int(figure.name[7:-1]) * 1000)
            result = measure(both.figure(figure.command), env, args.repeat, args.warmup)
            result.note = both.note
        else:
            continue
        print(report(result, width), flush=True)
        failed |= result.problem is not None
    return failed


def same_listing(command: Run, baseline: Run) -> str | None:
    return (
        None if command.stdout == baseline.stdout else "SQLite and PostgreSQL listed different rows"
    )


if __name__ == "__main__":
    sys.exit(main())
