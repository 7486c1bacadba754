"""XLSX writing: subctl's writer against a bare openpyxl ``write_only`` loop, same rows, same run.

    python benchmarks/xlsx.py                  # 100,000 rows
    python benchmarks/xlsx.py --rows 100000 1000000 --repeat 3

Each figure runs in a fresh process (so its peak memory is its own): the rows are made on the
fly from one generator (13 mixed columns as an export has them: ids, names, a status label,
money with its currency, dates, UTC datetimes, a boolean, counts, an e-mail, text that needs
neutralising), written to a file in a temporary directory. Figures: subctl with its default
back end (rustpy-xlsxwriter when the fast-xlsx extra is installed), subctl with the pure-Python
back end (``SUBCTL_XLSX_ENGINE=xlsxwriter``), and the baseline: openpyxl ``write_only``
appending the same typed cells (dates and datetimes as such, money as float), no neutralising,
no formats. Printed: seconds (median), rows/s, the ratio baseline/subctl (>= 3 is the target
of issue #17) and peak RSS. Nothing is asserted.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

KEYS = ("hs_object_id", "hs_name", "hs_status", "amount", "currency", "start", "created",
        "auto", "count", "email", "tier", "mrr", "note")  # fmt: skip
CURRENCIES = ("EUR", "USD", "JPY", "BHD", "DKK")
BASE = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)


def rows(n: int) -> Iterator[dict[str, Any]]:
    for i in range(1, n + 1):
        yield {
            "hs_object_id": i,
            "hs_name": f"Subscription {i}",
            "hs_status": ("Active", "Paused", "Canceled")[i % 3],
            "amount": Decimal(4950 + i % 700) / 100,
            "currency": CURRENCIES[i % 5],
            "start": (BASE + dt.timedelta(days=i % 900)).date(),
            "created": BASE + dt.timedelta(minutes=i),
            "auto": i % 2 == 0,
            "count": i % 12,
            "email": f"buyer{i}@example.com",
            "tier": ("Basic", "Professional", "Enterprise")[i % 3],
            "mrr": 1.25 * i,
            "note": "=1+1" if i % 10 == 0 else "note",
        }


def run_subctl(n: int, path: str) -> int:
    from subctl.export import Column
    from subctl.export.writers import WriteOptions, for_format

    kinds = {"hs_object_id": "number", "amount": "money", "start": "date",
             "created": "datetime", "auto": "bool", "count": "number", "mrr": "number",
             "hs_status": "enum", "tier": "enum"}  # fmt: skip
    columns = [
        Column(k, k.replace("_", " ").title(), kind=kinds.get(k, "text"),
               currency_key="currency" if k == "amount" else None)
        for k in KEYS
    ]  # fmt: skip
    with open(path, "wb") as out:
        return for_format("xlsx").write(rows(n), columns, out, WriteOptions(total=n))


def run_openpyxl(n: int, path: str) -> int:
    import openpyxl

    book = openpyxl.Workbook(write_only=True)
    sheet = book.create_sheet("Subscriptions")
    sheet.append([k.replace("_", " ").title() for k in KEYS])
    count = 0
    for row in rows(n):
        cells = [row[k] for k in KEYS]
        cells[3] = float(cells[3])
        cells[6] = cells[6].replace(tzinfo=None)
        sheet.append(cells)
        count += 1
    book.save(path)
    return count


def child(figure: str, n: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "out.xlsx")
        start = time.perf_counter()
        count = (run_openpyxl if figure == "openpyxl" else run_subctl)(n, path)
        seconds = time.perf_counter() - start
        size = os.path.getsize(path)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux -> MiB
    print(json.dumps({"seconds": seconds, "rows": count, "bytes": size, "peak_mib": peak}))


def measure(figure: str, n: int) -> dict[str, Any]:
    env = dict(os.environ)
    if figure == "subctl-xlsxwriter":
        env["SUBCTL_XLSX_ENGINE"] = "xlsxwriter"
    else:
        env.pop("SUBCTL_XLSX_ENGINE", None)
    proc = subprocess.run(
        [sys.executable, __file__, "--child", figure, str(n)],
        capture_output=True, text=True, env=env, check=True,
    )  # fmt: skip
    result: dict[str, Any] = json.loads(proc.stdout)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, nargs="+", default=[100_000])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child[0], int(args.child[1]))
        return
    from subctl.export.xlsx import engine

    print(f"subctl's xlsx back end: {engine()}")
    figures = ["subctl", "subctl-xlsxwriter", "openpyxl"]
    for n in args.rows:
        times: dict[str, list[float]] = {f: [] for f in figures}
        peaks: dict[str, float] = dict.fromkeys(figures, 0.0)
        for _ in range(args.repeat):  # alternately: the machine's drift hits every figure
            for figure in figures:
                result = measure(figure, n)
                assert result["rows"] == n, result
                times[figure].append(result["seconds"])
                peaks[figure] = max(peaks[figure], result["peak_mib"])
        base = statistics.median(times["openpyxl"])
        print(f"\n{n:,} rows x {len(KEYS)} columns, median of {args.repeat}")
        print(f"{'figure':<20} {'seconds':>8} {'rows/s':>10} {'openpyxl/this':>14} {'peak MiB':>9}")
        for figure in figures:
            seconds = statistics.median(times[figure])
            print(f"{figure:<20} {seconds:>8.2f} {n / seconds:>10,.0f} {base / seconds:>13.2f}x "
                  f"{peaks[figure]:>9.0f}")  # fmt: skip


if __name__ == "__main__":
    main()
