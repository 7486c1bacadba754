"""subctl's performance benchmarks: each command against a baseline, in the same run and venv.

    python benchmarks/run.py [--rows N] [--repeat K] [--stat median|min] [--only NAME ...]

Builds a demo workspace of ``--rows`` subscriptions once (``subctl.services.demo.populate``),
cached under ``<tempdir>/subctl-bench/`` and keyed by the row count and a marker of everything that
shapes it (subctl's version, the migrations, the demo generator's source), so a stale cache is
rebuilt. Then every benchmark runs its command and its baseline ``--repeat`` times, interleaved,
after one untimed warm-up each, and compares the medians (``--stat min``: the fastest runs). Only
ratios are judged, never absolute times: the script exits 1 when a ratio misses its target (or a
command fails, or its output disagrees with the baseline's).

To add a benchmark, append a ``Benchmark`` to the list in ``benchmarks()``; ``setup`` (run before
every timed run, untimed) can restore a fresh copy of the workspace for benchmarks that write.
"""

from __future__ import annotations

import argparse
import datetime as dt
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
from dataclasses import dataclass
from pathlib import Path

try:
    import subctl
    from subctl.schema import DEFAULT_LIST_FIELDS
    from subctl.services import demo
    from subctl.store.sql import migrations
except ImportError:  # pragma: no cover
    sys.exit("benchmarks/run.py needs subctl installed: run it with the project's venv python")

CACHE_FORMAT = "1"  # bump when the way the cache is built changes
SEED = 1
TODAY = dt.date(2026, 6, 15)  # the demo data's "today"; the CLI is pinned to it via SUBCTL_NOW
CACHE_ROOT = Path(tempfile.gettempdir()) / "subctl-bench"


@dataclass(frozen=True)
class Env:
    """What benchmarks are built from."""

    home: Path  # SUBCTL_HOME of the cached workspace
    workspace: Path  # home / "workspace.db"
    scratch: Path  # a directory for generated files
    subctl: tuple[str, ...]  # how to run subctl with this interpreter
    env: dict[str, str]  # the environment every command runs in


@dataclass(frozen=True)
class Benchmark:
    name: str
    command: Sequence[str]
    baseline: Sequence[str]
    target: float  # the largest acceptable command / baseline ratio
    setup: Callable[[], None] | None = None  # before every run of either, untimed
    verify: Callable[[str, str], str | None] | None = None  # (stdouts) -> a problem, or None


@dataclass(frozen=True)
class Outcome:
    benchmark: Benchmark
    command_ms: float
    baseline_ms: float
    problem: str | None = None

    @property
    def ratio(self) -> float:
        return self.command_ms / self.baseline_ms

    @property
    def ok(self) -> bool:
        return self.problem is None and self.ratio <= self.benchmark.target


# -- the benchmarks --------------------------------------------------------------------------

MINIMAL_TYPER_APP = '''\
import typer

app = typer.Typer()


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


def _select_unpaid(limit: int) -> str:
    columns = ", ".join(DEFAULT_LIST_FIELDS)
    return (
        f"SELECT {columns} FROM subscriptions WHERE hs_status = 'unpaid' "
        f"ORDER BY hs_next_payment_due_date, hs_object_id LIMIT {limit}"
    )


def _same_ids(command_out: str, baseline_out: str) -> str | None:
    """The listing and the baseline returned the same subscriptions, in the same order."""
    try:
        listed = [int(row["hs_object_id"]) for row in json.loads(command_out)]
        expected = [int(row[0]) for row in json.loads(baseline_out)]
    except (ValueError, KeyError, TypeError) as exc:
        return f"cannot compare outputs: {exc!r}"
    if listed != expected:
        return f"different rows: subctl {listed[:5]}..., baseline {expected[:5]}..."
    return None


# -- a compound filter ---------------------------------------------------------------------------

FILTER_WHERE = "status in (unpaid, past_due) and next_payment_due_date < +7d"
FILTER_FIELDS = ("hs_object_id", "hs_name", "hs_status", "hs_next_payment_due_date", "hs_mrr")


def _filter_baseline(workspace: Path) -> str:
    """The same query written by hand: the same SELECT through sqlite3, every matching row
    written as NDJSON. Like the list baseline it imports SQLAlchemy, the stack subctl runs on, so
    the ratio measures subctl's own work (the CLI, the query language, value conversion)."""
    due = (TODAY + dt.timedelta(days=7) - dt.date(1970, 1, 1)).days * 86_400_000
    select = (
        f"SELECT {', '.join(FILTER_FIELDS)} FROM subscriptions "
        f"WHERE hs_status IN ('unpaid', 'past_due') AND hs_next_payment_due_date < {due} "
        "ORDER BY hs_next_payment_due_date, hs_object_id"
    )
    return (
        "import sqlalchemy, sqlite3, json, sys; "
        f"conn = sqlite3.connect({str(workspace)!r}); keys = {FILTER_FIELDS!r}; "
        "w = sys.stdout.write; "
        f"[w(json.dumps(dict(zip(keys, row))) + chr(10)) for row in conn.execute({select!r})]"
    )


def _same_ndjson_ids(command_out: str, baseline_out: str) -> str | None:
    listed = [json.loads(line)["hs_object_id"] for line in command_out.splitlines()]
    expected = [json.loads(line)["hs_object_id"] for line in baseline_out.splitlines()]
    if not listed or listed != expected:
        return f"different rows: subctl {len(listed)}, baseline {len(expected)}"
    return None


# -- bulk cancellation -------------------------------------------------------------

CANCELLATIONS = 100_000
CANCEL_TARGET = 8.0  # see the README: the budget, 5 s for the command, is ≈ 7.5
CANCELABLE = ("active", "unpaid", "past_due", "scheduled", "paused")


class CancelBench:
    """``subctl cancel`` of 100,000 subscriptions (journal, history, outbox, per-item JSON
    results) against one equivalent ``UPDATE`` through ``sqlite3``. Its own cached workspace
    (30 % more demo subscriptions than cancellations: enough of them are cancelable) is
    built on first use; every run starts from a fresh copy of it (``setup``, untimed)."""

    def __init__(self, env: Env) -> None:
        self.dir = env.scratch / "cancel"
        self.workspace = self.dir / "workspace.db"
        self.ids = self.dir / "ids.txt"
        self.source: Path | None = None

    def setup(self) -> None:
        if self.source is None:
            self.source = cached_workspace(CANCELLATIONS * 13 // 10) / "workspace.db"
            self.dir.mkdir(parents=True, exist_ok=True)
            marks = ", ".join("?" * len(CANCELABLE))
            with sqlite3.connect(self.source) as conn:
                ids = [r[0] for r in conn.execute(
                    f"SELECT hs_object_id FROM subscriptions WHERE hs_status IN ({marks})"
                    " ORDER BY hs_object_id LIMIT ?", (*CANCELABLE, CANCELLATIONS))]  # fmt: skip
            conn.close()
            self.ids.write_text("".join(f"{i}\n" for i in ids))
        for suffix in ("-wal", "-shm"):
            Path(f"{self.workspace}{suffix}").unlink(missing_ok=True)
        shutil.copyfile(self.source, self.workspace)

    def baseline(self) -> str:
        return (
            "import json, sqlite3, time; "
            f"conn = sqlite3.connect({str(self.workspace)!r}); "
            "conn.execute('PRAGMA journal_mode=WAL'); conn.execute('PRAGMA synchronous=NORMAL'); "
            f"ids = json.dumps([int(x) for x in open({str(self.ids)!r}).read().split()]); "
            "now = int(time.time() * 1000); "
            "cur = conn.execute('UPDATE subscriptions SET hs_status = ?, hs_canceled_at = ?, "
            "hs_next_payment_due_date = NULL, hs_next_payment_amount = NULL, "
            "hs_scheduled_cancellation_date = NULL, hs_mrr = 0, hs_lastmodifieddate = ? "
            "WHERE hs_object_id IN (SELECT value FROM json_each(?))', "
            "('canceled', now, now, ids)); conn.commit(); print(cur.rowcount)"
        )

    @staticmethod
    def verify(command_out: str, baseline_out: str) -> str | None:
        try:
            results = json.loads(command_out)
            updated = int(baseline_out)
        except ValueError as exc:
            return f"cannot compare outputs: {exc!r}"
        ok = sum(1 for r in results if r["outcome"] == "ok")
        if ok != updated or len(results) != updated:
            return f"subctl canceled {ok} of {len(results)}, the UPDATE {updated}"
        return None


# `~` with 12 wildcards against the same query with one: word patterns match in linear time.
TOKEN_MANY_WILDCARDS = "*a*a*a*a*a*a*a*a*a*a*a*"
TOKEN_ONE_WILDCARD = "a*"


def _token_listing(token: str) -> list[str]:
    where = f'name ~ "{token}"'
    return ["list", "--where", where, "--all", "--format", "ndjson", "--fields", "id"]


def benchmarks(env: Env) -> list[Benchmark]:
    py = sys.executable
    minimal_app = env.scratch / "minimal_typer_app.py"
    minimal_app.write_text(MINIMAL_TYPER_APP)
    cancel = CancelBench(env)
    cancel_command = [*env.subctl, "--workspace", str(cancel.workspace), "cancel", "--from-file",
                      str(cancel.ids), "--yes", "--format", "json"]  # fmt: skip
    query = (
        "import sqlalchemy; import sqlite3; import json; "
        f"conn = sqlite3.connect({str(env.workspace)!r}); "
        f"print(json.dumps(conn.execute({_select_unpaid(50)!r}).fetchall()))"
    )
    return [
        Benchmark("version", [*env.subctl, "--version"], [py, "-c", "import typer"], 1.3),
        Benchmark("help", [*env.subctl, "--help"], [py, str(minimal_app), "--help"], 1.3),
        Benchmark(
            "list-unpaid",
            [*env.subctl, "list", "--status", "unpaid", "--limit", "50", "--format", "json"],
            [py, "-c", query],
            1.5,
            verify=_same_ids,
        ),
        Benchmark(
            "filter-compound",
            [
                *env.subctl,
                "filter",
                "--where",
                FILTER_WHERE,
                "--all",
                "--format",
                "ndjson",
                "--fields",
                ",".join(FILTER_FIELDS),
            ],
            [py, "-c", _filter_baseline(env.workspace)],
            2.0,
            verify=_same_ndjson_ids,
        ),  # fmt: skip
        Benchmark(
            "token-wildcards",
            [*env.subctl, *_token_listing(TOKEN_MANY_WILDCARDS)],
            [*env.subctl, *_token_listing(TOKEN_ONE_WILDCARD)],
            2.0,
        ),
        Benchmark(
            "cancel-100k",
            cancel_command,
            [py, "-c", cancel.baseline()],
            CANCEL_TARGET,
            setup=cancel.setup,
            verify=cancel.verify,
        ),
    ]


# -- the cached workspace --------------------------------------------------------------------


def cache_marker() -> str:
    """Changes whenever the cached workspaces would come out differently."""
    digest = hashlib.sha256()
    for part in (CACHE_FORMAT, subctl.__version__, str(SEED), TODAY.isoformat(),
                 *(m.__name__ for m in migrations.MIGRATIONS)):  # fmt: skip
        digest.update(part.encode() + b"\0")
    digest.update(Path(demo.__file__).read_bytes())
    return digest.hexdigest()[:16]


def cached_workspace(rows: int, *, rebuild: bool = False) -> Path:
    """The SUBCTL_HOME of a workspace with ``rows`` demo subscriptions, built if needed."""
    marker = cache_marker()
    home = CACHE_ROOT / f"rows-{rows}-{marker}"
    meta = home / "meta.json"
    if not rebuild and meta.is_file() and (home / "workspace.db").is_file():
        return home
    for old in CACHE_ROOT.glob("rows-*"):  # stale ones (and this one, half-built or rebuilt)
        if old.is_dir() and (not old.name.endswith(f"-{marker}") or old == home):
            shutil.rmtree(old, ignore_errors=True)
    home.mkdir(parents=True)
    building = home / "building.db"

    from subctl.store.sql import SqlStore, sqlite_url

    print(f"building a {rows:,}-subscription workspace in {home} ...", file=sys.stderr)
    started = time.perf_counter()
    store = SqlStore(sqlite_url(building), create=True)
    try:
        summary = demo.populate(store, count=rows, seed=SEED, today=TODAY, progress=_progress(rows))
    finally:
        store.close()
    with sqlite3.connect(building) as conn:  # fold the WAL into the file before renaming it
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()
    for suffix in ("-wal", "-shm"):
        Path(f"{building}{suffix}").unlink(missing_ok=True)
    building.replace(home / "workspace.db")
    seconds = time.perf_counter() - started
    meta.write_text(json.dumps({"marker": marker, "rows": summary.rows, "seconds": seconds,
                                "tables": summary.tables}, indent=2))  # fmt: skip
    print(f"\rbuilt {summary.rows:,} rows in {seconds:.1f} s" + " " * 20, file=sys.stderr)
    return home


def _progress(total: int) -> Callable[[int], None]:
    def report(done: int) -> None:
        if sys.stderr.isatty():
            print(f"\r  {done:,} / {total:,}", end="", file=sys.stderr, flush=True)

    return report


# -- running ---------------------------------------------------------------------------------


def _subctl_argv() -> tuple[str, ...]:
    script = Path(sys.executable).parent / "subctl"
    return (str(script),) if script.is_file() else (sys.executable, "-m", "subctl")


def _run(
    argv: Sequence[str], env: dict[str, str]
) -> tuple[float, subprocess.CompletedProcess[str]]:
    started = time.perf_counter()
    done = subprocess.run(list(argv), env=env, capture_output=True, text=True, check=False)
    return (time.perf_counter() - started) * 1000, done


STATISTICS: dict[str, Callable[[list[float]], float]] = {
    "median": statistics.median,
    "min": min,
}


def measure(
    bench: Benchmark, env: dict[str, str], repeat: int, stat: Callable[[list[float]], float]
) -> Outcome:
    outputs: list[str] = []
    problem: str | None
    for argv in (bench.command, bench.baseline):  # warm-up (caches, .pyc), and a sanity check
        if bench.setup:
            bench.setup()
        _ms, done = _run(argv, env)
        if done.returncode != 0:
            problem = f"`{' '.join(argv)}` exited {done.returncode}: {done.stderr.strip()[-500:]}"
            return Outcome(bench, float("nan"), float("nan"), problem)
        outputs.append(done.stdout)
    problem = bench.verify(*outputs) if bench.verify else None
    times: tuple[list[float], list[float]] = ([], [])
    for _ in range(repeat):
        for argv, samples in zip((bench.command, bench.baseline), times, strict=True):
            if bench.setup:
                bench.setup()
            ms, done = _run(argv, env)
            if done.returncode != 0:
                problem = problem or f"`{' '.join(argv)}` exited {done.returncode}"
            samples.append(ms)
    return Outcome(bench, stat(times[0]), stat(times[1]), problem)


def report(outcome: Outcome, width: int) -> str:
    b = outcome.benchmark
    if outcome.problem and outcome.command_ms != outcome.command_ms:  # nan: never ran
        return f"{b.name:<{width}}  FAILED  {outcome.problem}"
    line = (
        f"{b.name:<{width}}  {outcome.command_ms:7.1f} ms vs {outcome.baseline_ms:7.1f} ms   "
        f"ratio {outcome.ratio:.2f}  (target ≤{b.target:g})  {'ok' if outcome.ok else 'MISSED'}"
    )
    return f"{line}  {outcome.problem}" if outcome.problem else line


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--rows", type=int, default=1_000_000, help="subscriptions in the workspace"
    )
    parser.add_argument("--repeat", type=int, default=7, help="timed runs of each command")
    parser.add_argument(
        "--stat", choices=sorted(STATISTICS), default="median", help="how runs are summarised"
    )
    parser.add_argument("--only", nargs="+", metavar="NAME", help="run only these benchmarks")
    parser.add_argument("--rebuild", action="store_true", help="rebuild the cached workspace")
    args = parser.parse_args(argv)
    if args.rows < 1 or args.repeat < 1:
        parser.error("--rows and --repeat must be positive")

    home = cached_workspace(args.rows, rebuild=args.rebuild)
    env = dict(os.environ)
    # Users' shells set neither PYTHONDONTWRITEBYTECODE nor PYTHONUNBUFFERED: time what they run.
    for name in ("SUBCTL_WORKSPACE", "SUBCTL_PROFILE", "SUBCTL_DEBUG", "PYTHONDONTWRITEBYTECODE",
                 "PYTHONUNBUFFERED"):  # fmt: skip
        env.pop(name, None)
    env.update(SUBCTL_HOME=str(home), SUBCTL_NOW=f"{TODAY.isoformat()}T12:00:00+00:00",
               NO_COLOR="1", COLUMNS="100")  # fmt: skip
    bench_env = Env(home, home / "workspace.db", CACHE_ROOT, _subctl_argv(), env)
    selected = [b for b in benchmarks(bench_env) if not args.only or b.name in args.only]
    if not selected:
        parser.error(f"no benchmark named {', '.join(args.only)}")

    print(f"{args.rows:,} subscriptions; {args.stat} of {args.repeat} runs; {sys.executable}")
    width = max(len(b.name) for b in selected)
    failed = False
    for bench in selected:
        outcome = measure(bench, env, args.repeat, STATISTICS[args.stat])
        print(report(outcome, width), flush=True)
        failed |= not outcome.ok
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
