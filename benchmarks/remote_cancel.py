"""A remote batch cancel under faults: 2,000 subscriptions cancelled on HubSpot's API.

    python benchmarks/remote_cancel.py [--count N] [--faults F] [--seed S] [--tier T]
                                       [--latency SECONDS]

The run is the one a remote profile makes (``tests/remote_cancel.py``): a job journaled in a
SQLite workspace, ``ItemByItem`` with the client's worker threads, each item a status read
and a lifecycle ``cancel`` through ``HubSpotClient`` (pacing, retries, in-doubt re-reads),
against the in-process fake HubSpot (``tests/fakehub``) answering ``--faults`` of the
requests with a 429, a 5xx or a timeout (half of the 5xx and timeouts after the cancel was
applied: lost answers), on a virtual clock (the simulation's time, not the wall clock).

Prints the figures; exits 1 when an item was not cancelled exactly once or a 10-second
window of the request log holds more than the tier's budget. The throughput is reported,
not judged here (tests/test_http_unit.py asserts >= 90% at a smaller count).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.remote_cancel import run  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=2000)
    parser.add_argument("--faults", type=float, default=0.2)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--tier", default="professional")
    parser.add_argument(
        "--latency",
        type=float,
        default=0.0,
        help="seconds a request takes (virtual; 0.5x-1.5x drawn per request)",
    )
    args = parser.parse_args()
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        figures, _ = run(Path(tmp), args.count, faults=args.faults, seed=args.seed,
                         tier=args.tier, latency=args.latency)  # fmt: skip
    print(
        f"remote batch cancel: {args.tier}, faults {args.faults:.0%}, seed {args.seed}, "
        f"latency {args.latency:g} s"
    )
    for line in figures.lines():
        print(f"  {line}")
    print(f"  wall time: {time.perf_counter() - started:.1f} s")
    ok = figures.cancelled_once == figures.items and figures.max_window <= figures.budget
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
