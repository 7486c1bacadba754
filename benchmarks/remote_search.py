"""Reading past CRM search's limits: how many requests and how much (virtual) time HubSpot reads
take through ``HttpStore``.

    python benchmarks/remote_search.py [--count N] [--tier T]

Against the in-process fake HubSpot (``tests/fakehub``, which enforces the limits: 10,000
results a search, 5 groups, 18 filters, 3,000 characters, 5 searches a second, the tier's
budget per 10 s) on a virtual clock: the time printed is the pacing HubSpot's limits impose
(requests spaced as the client spaces them), not this machine's speed (also printed).

Prints one line per read: every match once (checked), the requests made, the virtual seconds.
Exits 1 when a read returns a match twice, misses one, or a request was refused (4xx).
"""

from __future__ import annotations

import argparse
import collections
import datetime as dt
import sys
import time
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from subctl.query.ast import Condition, Op, Or, Query, Sort  # noqa: E402
from subctl.store.http.client import HubSpotClient  # noqa: E402
from subctl.store.http.records import HttpStore  # noqa: E402
from tests.contract.conftest import VirtualClock  # noqa: E402
from tests.fakehub import FakeHubSpot  # noqa: E402

STATUSES = ("active", "unpaid", "canceled", "paused")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=25_000)
    parser.add_argument("--tier", default="professional")
    args = parser.parse_args()
    n = args.count
    clock = VirtualClock()
    fake = FakeHubSpot(clock=clock, tier=args.tier, token="pat-bench")
    fake.seed([{"hs_object_id": 1 + i, "hs_name": f"Sub {i}", "hs_status": STATUSES[i % 4],
                "hs_mrr": Decimal(i % 97),
                "hs_next_payment_due_date": dt.date(2027, 1, 1) + dt.timedelta(days=i % 50)}
               for i in range(n)])  # fmt: skip
    client = HubSpotClient("https://api.hubapi.com", "pat-bench", tier=args.tier,
                           transport=fake.transport, clock=clock, sleep=clock.sleep)  # fmt: skip
    store = HttpStore(client)
    store.properties()
    every = list(range(1, n + 1))
    seven = Or(tuple(Condition("hs_mrr", Op.EQ, (Decimal(k),)) for k in range(7)))
    reads: list[tuple[str, Callable[[], list[int]], list[int], bool]] = [
        (f"all {n:,}, id order (partitions past 10,000)",
         lambda: [s.id for s in store.search(Query(), ["hs_status"])], every, True),
        ("7 OR groups (split into 2 searches, merged)",
         lambda: [s.id for s in store.search(Query(where=seven), ["hs_mrr"])],
         [i + 1 for i in range(n) if i % 97 < 7], True),
        (f"all {n:,} sorted by due date (sorted here)",
         lambda: [s.id for s in store.search(Query(sort=Sort("hs_next_payment_due_date")),
                                             ["hs_next_payment_due_date"])], every, False),
        ("count of a filter (one search's total)",
         lambda: [store.count(Condition("hs_status", Op.EQ, ("canceled",)))],
         [len(range(2, n, 4))], True),
    ]  # fmt: skip
    failed = False
    for name, read, expected, ordered in reads:
        fake.requests.clear()
        start, wall = clock(), time.perf_counter()
        got = read()
        virtual, spent = clock() - start, time.perf_counter() - wall
        statuses = collections.Counter(r.status for r in fake.requests)
        ok = (got if ordered else sorted(got)) == expected
        refused = sum(v for k, v in statuses.items() if 400 <= k < 500 and k != 429)
        failed |= not ok or bool(refused)
        bodies: list[Any] = [r.json for r in fake.requests if r.json is not None]
        widest = max((len(str(b)) for b in bodies), default=0)
        print(f"{name}: {'ok' if ok else 'WRONG'}, {len(fake.requests)} requests "
              f"({dict(statuses)}), {virtual:.1f} s virtual, {spent:.1f} s here, "
              f"widest body ~{widest:,} characters")  # fmt: skip
    store.close()
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
