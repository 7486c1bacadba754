"""The baseline of the export figures: the bytes ``subctl export --all --properties all`` writes
(English headers, option labels), written by a plain script: ``sqlite3`` rows straight into
Python's ``csv`` module (or ``json.dumps`` per line), each value converted by the obvious Python
expression for its type. Property names, labels and options come from ``subctl.schema`` (data,
not conversions).

    python benchmarks/export_baseline.py DB OUT {csv|ndjson} [MAX_ID]
"""

from __future__ import annotations

import csv
import datetime as dt
import json
import sqlite3
import sys

from subctl.schema import STANDARD_PROPERTIES

EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
EPOCH_DAY = EPOCH.date()
FORMULA = ("=", "+", "-", "@", "\uff1d", "\uff0b", "\uff0d", "\uff20", "\ufe66", "\ufe62", "\ufe63",
           "\ufe6b", "\t", "\r", "\n")  # fmt: skip


def converters(json_out: bool) -> list:  # type: ignore[type-arg]
    def date(ms):  # type: ignore[no-untyped-def]
        return None if ms is None else (EPOCH_DAY + dt.timedelta(days=ms // 86_400_000)).isoformat()

    def instant(ms):  # type: ignore[no-untyped-def]
        if ms is None:
            return None
        text = (EPOCH + dt.timedelta(milliseconds=ms)).isoformat(timespec="milliseconds")
        return text.replace("+00:00", "Z")

    def money(x):  # type: ignore[no-untyped-def]
        if x is None or json_out:
            return x
        text = f"{x:.3f}"
        return text[:-1] if text.endswith("0") else text

    def number(x):  # type: ignore[no-untyped-def]
        if x is None:
            return None
        return int(x) if float(x).is_integer() else x

    def boolean(x):  # type: ignore[no-untyped-def]
        if x is None:
            return None
        return bool(x) if json_out else ("true" if x else "false")

    def labels(prop):  # type: ignore[no-untyped-def]
        names = {o.value: o.label for o in prop.options}

        def label(x):  # type: ignore[no-untyped-def]
            if x is None:
                return None
            if prop.multi_value:
                x = ";".join(names.get(v, v) for v in x.split(";"))
            else:
                x = names.get(x, x)
            return x if json_out or not x.startswith(FORMULA) else "'" + x

        return label

    def text(x):  # type: ignore[no-untyped-def]
        return x if json_out or x is None or not x.startswith(FORMULA) else "'" + x

    out = []
    for prop in PROPS:
        if prop.type == "date":
            out.append(date)
        elif prop.type == "datetime":
            out.append(instant)
        elif prop.type == "number":
            out.append(money if prop.money else number)
        elif prop.type == "bool":
            out.append(boolean)
        elif prop.type == "enumeration" and prop.options:
            out.append(labels(prop))
        else:
            out.append(text)
    return out


RECORD_ID, *REST = STANDARD_PROPERTIES
PROPS = [RECORD_ID, *sorted(REST, key=lambda p: (p.label.casefold(), p.label))]


def main() -> None:
    db, path, fmt = sys.argv[1:4]
    where = f" WHERE hs_object_id <= {int(sys.argv[4])}" if len(sys.argv) > 4 else ""
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    columns = ", ".join(p.name for p in PROPS)
    cursor = conn.execute(f"SELECT {columns} FROM subscriptions{where} ORDER BY hs_object_id")
    convert = converters(fmt == "ndjson")
    with open(path, "w", encoding="utf-8", newline="") as out:
        if fmt == "csv":
            writer = csv.writer(out, lineterminator="\n")
            writer.writerow([p.label for p in PROPS])
            for row in cursor:
                writer.writerow([f(v) for f, v in zip(convert, row, strict=True)])
        else:
            keys = [p.name for p in PROPS]
            for row in cursor:
                record = {k: f(v) for k, f, v in zip(keys, convert, row, strict=True)}
                out.write(json.dumps(record, ensure_ascii=False) + "\n")
    conn.close()


if __name__ == "__main__":
    main()
