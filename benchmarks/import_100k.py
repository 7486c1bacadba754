"""``subctl import`` of a 100,000-row CSV export, against Python's csv reader + one
``executemany`` of the same rows into a fresh SQLite table, in the same run.

    python benchmarks/import_100k.py [--rows 100000] [--repeat 1] [--work DIR] [--xlsx]

The export: ``subctl export --all --properties all+associations`` of a demo workspace (every
property, label headers, Record ID first, a pair of association columns per associated object).
subctl imports it into a fresh workspace (``init``, untimed): every row creates a subscription
with its id, its history and its associations (and the associated records, from their labels),
journaled per chunk. The baseline reads the same file with ``csv.reader`` and inserts every
row, as text, into a fresh table with one ``executemany``, one transaction. Both run as whole
processes, with ``PYTHONDONTWRITEBYTECODE`` and ``PYTHONUNBUFFERED`` unset; the figures printed
are wall time, rows/s, the ratio and each process's peak RSS (``/usr/bin/time``'s %M, else
getrusage).
``--xlsx`` also imports the same rows from an XLSX copy of the export (numbers as numeric
cells; written once with openpyxl, untimed): python-calamine's reading, timed the same way.
"""

from __future__ import annotations

import argparse
import csv
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

NOW = "2026-11-26T12:00:00+00:00"
BASELINE = """
import csv, sqlite3, sys
path, db = sys.argv[1], sys.argv[2]
with open(path, encoding="utf-8-sig", newline="") as handle:
    reader = csv.reader(handle)
    header = next(reader)
    conn = sqlite3.connect(db)
    columns = ", ".join(f'"{h}" TEXT' for h in header)
    conn.execute(f"CREATE TABLE imported ({columns})")
    marks = ", ".join("?" * len(header))
    with conn:
        conn.executemany(f"INSERT INTO imported VALUES ({marks})", reader)
    print(conn.execute("SELECT count(*) FROM imported").fetchone()[0])
"""


def env() -> dict[str, str]:
    out = {k: v for k, v in os.environ.items() if not k.startswith("SUBCTL_")}
    for name in ("PYTHONDONTWRITEBYTECODE", "PYTHONUNBUFFERED"):
        out.pop(name, None)
    out.update(SUBCTL_NOW=NOW, NO_COLOR="1")
    return out


def subctl(*args: str) -> list[str]:
    return [sys.executable, "-m", "subctl", *args]


def timed(argv: list[str], environ: dict[str, str]) -> tuple[float, int, str]:
    """Wall seconds, peak RSS (KiB) and stdout of one process."""
    gnu = shutil.which("time") or ("/usr/bin/time" if Path("/usr/bin/time").exists() else None)
    with tempfile.NamedTemporaryFile("r", suffix=".rss") as rss:
        command = [gnu, "-f", "%M", "-o", rss.name, *argv] if gnu else argv
        start = time.perf_counter()
        done = subprocess.run(command, env=environ, capture_output=True, text=True, check=False)
        wall = time.perf_counter() - start
        if done.returncode != 0:
            raise SystemExit(f"{' '.join(argv)} failed ({done.returncode}): {done.stderr[-2000:]}")
        peak = int(rss.read().strip().splitlines()[-1]) if gnu else 0
    return wall, peak, done.stdout


def make_export(work: Path, rows: int, environ: dict[str, str]) -> Path:
    """A demo workspace's export: ``subctl export --all --properties all+associations``
    (labels as headers and option cells, Record ID first, the association pairs at the end)."""
    source = work / "source"
    path = work / f"export-{rows}.csv"
    if path.exists():
        return path
    home = {**environ, "SUBCTL_HOME": str(source)}
    subprocess.run(subctl("demo", "--count", str(rows), "--seed", "5"), env=home, check=True,
                   capture_output=True)  # fmt: skip
    subprocess.run(
        subctl("export", "--all", "--properties", "all+associations", "-o", str(path)),
        env=home, check=True, capture_output=True,
    )  # fmt: skip
    return path


def make_xlsx(path: Path) -> Path:
    """The export as an XLSX workbook (numbers typed), written once."""
    target = path.with_suffix(".xlsx")
    if target.exists():
        return target
    from openpyxl import Workbook

    book = Workbook(write_only=True)
    sheet = book.create_sheet("Subscriptions")

    def typed(cell: str) -> object:
        if not cell or cell[0] not in "-0123456789" or "-" in cell[1:]:
            return cell
        try:
            return float(cell)
        except ValueError:
            return cell

    with path.open(encoding="utf-8", newline="") as handle:
        reader = csv.reader(handle)
        sheet.append(next(reader))
        for row in reader:
            sheet.append([typed(c) for c in row])
    book.save(target)
    return target


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--work", type=Path, default=None)
    parser.add_argument("--xlsx", action="store_true", help="also import an XLSX copy")
    args = parser.parse_args()
    environ = env()
    work = args.work or Path(tempfile.mkdtemp(prefix="subctl-import-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    path = make_export(work, args.rows, environ)
    size = path.stat().st_size
    print(f"export: {path} ({args.rows:,} rows, {size / 1e6:.1f} MB)")
    print(f"{'run':>4}  {'subctl s':>9}  {'rows/s':>9}  {'RSS MiB':>8}  "
          f"{'baseline s':>10}  {'rows/s':>9}  {'RSS MiB':>8}  {'ratio':>6}")  # fmt: skip
    for n in range(1, args.repeat + 1):
        target = work / f"target-{n}"
        shutil.rmtree(target, ignore_errors=True)
        home = {**environ, "SUBCTL_HOME": str(target)}
        subprocess.run(subctl("init"), env=home, check=True, capture_output=True)
        wall, peak, _out = timed(subctl("import", str(path), "--format", "csv"), home)
        with sqlite3.connect(target / "workspace.db") as db:
            (count,) = db.execute("SELECT count(*) FROM subscriptions").fetchone()
        if count != args.rows:
            raise SystemExit(f"subctl imported {count} rows, not {args.rows}")
        base_db = work / f"baseline-{n}.db"
        base_db.unlink(missing_ok=True)
        base_wall, base_peak, base_out = timed(
            [sys.executable, "-c", BASELINE, str(path), str(base_db)], environ
        )
        if int(base_out) != args.rows:
            raise SystemExit(f"the baseline inserted {base_out.strip()} rows")
        print(f"{n:>4}  {wall:>9.2f}  {args.rows / wall:>9,.0f}  {peak / 1024:>8.0f}  "
              f"{base_wall:>10.2f}  {args.rows / base_wall:>9,.0f}  {base_peak / 1024:>8.0f}  "
              f"{wall / base_wall:>6.1f}")  # fmt: skip
        if args.xlsx:
            book = make_xlsx(path)
            target = work / f"target-xlsx-{n}"
            shutil.rmtree(target, ignore_errors=True)
            home = {**environ, "SUBCTL_HOME": str(target)}
            subprocess.run(subctl("init"), env=home, check=True, capture_output=True)
            wall, peak, _out = timed(subctl("import", str(book), "--format", "csv"), home)
            print(f"xlsx  {wall:>9.2f}  {args.rows / wall:>9,.0f}  {peak / 1024:>8.0f}  "
                  f"({book.stat().st_size / 1e6:.1f} MB workbook)")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
