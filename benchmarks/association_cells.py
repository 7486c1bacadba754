"""``RecordStore.association_cells`` per 1,000 subscriptions, on workspaces of several sizes.

    python benchmarks/association_cells.py [--rows 100000 1000000] [--chunks 20] [--repeat 5]

An export reads the association columns of its rows a chunk of 1,000 subscriptions at a time:
this times one call for 1,000 subscriptions and every object type (``ASSOCIATION_OBJECTS``),
with the default cap of 1,000 and with ``all_emails``/``all_domains``, on the cached demo
workspaces of ``run.py`` (built on first use: ``subctl demo --count N --seed 1``). The chunks
are ``--chunks`` sets of 1,000 ids drawn at random (fixed seed) over the whole id range. The
baseline reads the same association rows (no labels) with one ``sqlite3`` query per chunk. The
time per 1,000 must not grow with the workspace: each object type is one query that seeks the
primary key of ``associations`` (subscription, object type, object id) once per subscription,
and each label's record by its id.
"""

from __future__ import annotations

import argparse
import os
import random
import sqlite3
import statistics
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from run import NOW, cached_workspace  # noqa: E402

CHUNK = 1000


def _chunks(rows: int, count: int) -> list[list[int]]:
    """``count`` chunks of ``CHUNK`` ids drawn over the whole id range (1 to ``rows``)."""
    rng = random.Random(21)
    return [sorted(rng.sample(range(1, rows + 1), CHUNK)) for _ in range(count)]


def _median_ms(times: list[float]) -> float:
    return statistics.median(times) * 1000


def measure(home: Path, rows: int, chunks: int, repeat: int) -> None:
    from subctl.schema import ASSOCIATION_BY_NAME
    from subctl.store.sql import open_local, sqlite_url

    db = home / "workspace.db"
    store = open_local(sqlite_url(db)).records
    objects = list(ASSOCIATION_BY_NAME)
    sets = _chunks(rows, chunks)
    conn = sqlite3.connect(db)
    cells = links = 0
    for ids in sets:  # warm-up: every page once
        got = store.association_cells(ids, objects)
        conn.execute(
            f"SELECT * FROM associations WHERE subscription_id IN ({', '.join('?' * len(ids))})",
            ids,
        ).fetchall()
        cells += sum(1 for per in got.values() for c in per.values() if c.count)
        links += sum(c.count for per in got.values() for c in per.values())
    plain: list[float] = []
    every: list[float] = []
    base: list[float] = []
    for _ in range(repeat):
        for ids in sets:
            start = time.perf_counter()
            store.association_cells(ids, objects)
            plain.append(time.perf_counter() - start)
            start = time.perf_counter()
            store.association_cells(ids, objects, all_emails=True, all_domains=True)
            every.append(time.perf_counter() - start)
            start = time.perf_counter()
            conn.execute(
                "SELECT subscription_id, object_type, object_id FROM associations"
                f" WHERE subscription_id IN ({', '.join('?' * len(ids))})"
                " ORDER BY subscription_id, object_type, object_id",
                ids,
            ).fetchall()
            base.append(time.perf_counter() - start)
    conn.close()
    store.close()
    size = sum(len(ids) for ids in sets) // len(sets)
    print(
        f"{rows:>9,} subscriptions: {len(objects)} object types, {size:,} subscriptions per "
        f"call, {links / len(sets):,.0f} associations and {cells / len(sets):,.0f} non-empty "
        f"cells per call\n"
        f"    association_cells                      {_median_ms(plain):7.1f} ms per 1,000 "
        f"(min {min(plain) * 1000:.1f}, max {max(plain) * 1000:.1f})\n"
        f"    association_cells all e-mails/domains  {_median_ms(every):7.1f} ms per 1,000 "
        f"(min {min(every) * 1000:.1f}, max {max(every) * 1000:.1f})\n"
        f"    baseline (sqlite3, the rows, no labels) {_median_ms(base):6.1f} ms per 1,000",
        flush=True,
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--chunks", type=int, default=20, help="sets of 1,000 ids per size")
    parser.add_argument("--repeat", type=int, default=5, help="timed passes over the sets")
    parser.add_argument("--work-dir", type=Path, default=HERE / ".work")
    parser.add_argument("--rebuild", action="store_true", help="rebuild the cached workspaces")
    args = parser.parse_args()
    env = dict(os.environ)
    for name in ("SUBCTL_HOME", "SUBCTL_WORKSPACE", "SUBCTL_PROFILE"):
        env.pop(name, None)
    env.update(SUBCTL_NOW=NOW, NO_COLOR="1")
    work = args.work_dir.resolve()
    work.mkdir(parents=True, exist_ok=True)
    print(f"median of {args.repeat} passes over {args.chunks} sets of 1,000 ids; {sys.executable}")
    for rows in args.rows:
        home = cached_workspace(work, rows, env, args.rebuild)
        measure(home, rows, args.chunks, args.repeat)
    return 0


if __name__ == "__main__":
    sys.exit(main())
