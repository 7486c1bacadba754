"""``subctl export``: columns, headers, values, files (atomic, templates, --force) and the one
pipeline shared with ``list``. Golden files hold the exact bytes of every format x properties
mode (English headers; other header languages join when ``subctl.export.headers`` is merged).
Regenerate them with ``SUBCTL_UPDATE_GOLDEN=1`` and read the diff."""

from __future__ import annotations

import csv
import io
import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from subctl.export.headers import LANGUAGES
from tests.conftest import Invoke

GOLDEN = Path(__file__).parent / "golden" / "export"
PROPERTY_MODES = ("view", "all", "all+associations")
FORMATS = ("csv", "json", "ndjson")


def golden(name: str, text: str) -> None:
    path = GOLDEN / name
    if os.environ.get("SUBCTL_UPDATE_GOLDEN"):
        path.write_bytes(text.encode())
    assert path.is_file(), f"no golden file {path} (SUBCTL_UPDATE_GOLDEN=1 writes it)"
    assert text.encode() == path.read_bytes(), name


@pytest.mark.backends("sqlite", "postgresql")
@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("mode", PROPERTY_MODES)
def test_every_format_and_properties_mode_is_exact(seeded: Invoke, fmt: str, mode: str) -> None:
    result = seeded(f"export --all --properties {mode} --format {fmt} -o -")
    assert result.exit_code == 0, result.stderr
    golden(f"{mode.replace('+', '-')}.en.{fmt}", result.stdout)
    assert result.stderr == "✔ Exported 5 subscriptions to stdout\n"


def test_internal_names_write_names_and_option_values(seeded: Invoke) -> None:
    result = seeded("export --all --properties all+associations --internal-names -o -")
    assert result.exit_code == 0, result.stderr
    golden("all-associations.names.csv", result.stdout)
    header = result.stdout.splitlines()[0].split(",")
    assert header[:3] == ["hs_object_id", "hs_allowed_payment_methods",
                          "hs_automatically_email_invoices"]  # fmt: skip
    assert header[-2:] == ["associated_custom_record_ids", "associated_custom_record"]


def test_view_columns_keep_the_views_order(seeded: Invoke) -> None:
    saved = seeded("filter --where 'status = unpaid' --save-view due --columns mrr,name,id")
    assert saved.exit_code == 0, saved.stderr
    result = seeded("export --view due -o -")
    assert result.stdout == (
        "MRR,Name,Record ID\n100.00,Globex – Basic annual,2\n100.00,Initech – Team quarterly,3\n"
    )


def test_all_is_record_id_first_then_alphabetical(seeded: Invoke) -> None:
    header = seeded("export --all --properties all -o -").stdout.splitlines()[0].split(",")
    assert header[0] == "Record ID"
    assert header[1:] == sorted(header[1:], key=str.casefold)
    assert "Associated Contact IDs" not in header


def test_association_columns_pair_ids_and_labels_at_the_end(seeded: Invoke) -> None:
    result = seeded("export --where 'id <= 2' --properties all+associations --format json -o -")
    rows = json.loads(result.stdout)
    assert rows[0]["associations.contact.ids"] == "17"
    assert rows[0]["associations.company.ids"] == "77"
    assert rows[0]["associations.company"] == "Acme Corp"
    assert rows[1]["associations.payment.ids"] == "900"
    assert rows[1]["associations.deal.ids"] == ""


def test_the_cap_is_1000_unless_all_associations(
    seeded: Invoke, monkeypatch: pytest.MonkeyPatch
) -> None:
    from subctl.store.sql.records import SqlRecordStore

    asked: list[int | None] = []

    class Cell:
        def __init__(self, n: int) -> None:
            self.ids = tuple(range(1, n + 1))
            self.labels = tuple(f"c{i}" for i in self.ids)
            self.count = 1001

    def capped(self: Any, sub_ids: Sequence[int], objects: Sequence[str], *,
               cap: int | None = 1000, **_: Any) -> dict[int, dict[str, Cell]]:  # fmt: skip
        asked.append(cap)
        return {s: {"contact": Cell(1001 if cap is None else cap)} for s in sub_ids}

    monkeypatch.setattr(SqlRecordStore, "association_cells", capped, raising=False)
    result = seeded("export --where 'id = 1' --properties all+associations --format json -o -")
    (row,) = json.loads(result.stdout)
    assert row["associations.contact.ids"].split(";")[-1] == "1000"
    assert row["associations.contact"].count("; ") == 999
    assert "Warning: 1 association cells held more than 1,000 records" in result.stderr
    full = seeded("export --where 'id = 1' --properties all+associations --all-associations -o -")
    assert full.stdout.splitlines()[1].count(";") > 1000 and "Warning" not in full.stderr
    assert asked == [1000, None]


@pytest.mark.backends("sqlite", "postgresql")
@pytest.mark.parametrize("fmt", FORMATS)
def test_stored_cells_are_the_typed_values_text(demo: Invoke, fmt: str) -> None:
    """Cells converted straight from storage (export, list) are exactly what the writers make
    of the typed values ``RecordStore.search`` reads, for every standard property."""
    import datetime as dt
    import io

    from subctl.context import AppContext
    from subctl.export import writers
    from subctl.schema import STANDARD_PROPERTIES
    from subctl.services import subscriptions as svc

    app = AppContext()
    app.workspace_target = os.environ.get("SUBCTL_WORKSPACE")  # PostgreSQL: its URL
    records = app.records()
    fields = ",".join(p.name for p in STANDARD_PROPERTIES)
    request = svc.ListRequest(fields=fields, sort="id:desc")
    listing = svc.build_listing(records, app.workspace(), request, dt.date(2026, 11, 26))
    spec = writers.for_format(fmt)
    typed, stored = io.StringIO(), io.StringIO()
    options = writers.WriteOptions()
    assert spec.write(svc.list_rows(records, listing), listing.columns, typed, options) == 300
    assert spec.write(svc.stored_rows(records, listing), listing.columns, stored, options) == 300
    app.close()
    assert stored.getvalue() == typed.getvalue()
    assert len(typed.getvalue()) > 50_000


def test_labels_replace_option_values(seeded: Invoke) -> None:
    lines = seeded("export --all -o -").stdout.splitlines()
    assert lines[0] == ("Record ID,Name,Status,Next payment due date,Next payment amount,"
                        "Currency code,Billing frequency")  # fmt: skip
    assert lines[1] == "1,Acme Corp – Pro monthly,Active,2026-12-01,99.00,USD,Monthly"


FORMULAS = {
    "6": "=cmd|' /C calc'!A0",
    "7": "+1",
    "8": "-1",
    "9": "@x",
    "10": "\uff1dcmd",
    "11": "\tx",
    "12": "\rx",
}


def test_formulas_are_neutralised_unless_raw(seeded: Invoke) -> None:
    from subctl.config import sqlite_url
    from subctl.schema import standard_registry
    from subctl.store.sql import open_local

    home = Path(os.environ["SUBCTL_HOME"])
    store = open_local(sqlite_url(home / "workspace.db")).records
    reg = standard_registry()
    cols = ["hs_object_id", "hs_name", "hs_status", "hs_net_payment_terms"]
    store.seed("subscriptions", cols, [
        [int(i), name, "active", reg.get("hs_net_payment_terms").to_storage(-5)]  # type: ignore[union-attr]
        for i, name in FORMULAS.items()])  # fmt: skip
    store.close()
    result = seeded("export --where 'id >= 6' --properties all --internal-names -o -")
    assert result.exit_code == 0, result.stderr
    header, *rows = result.stdout.split("\n")[:-1]
    names = header.split(",")
    at, terms = names.index("hs_name"), names.index("hs_net_payment_terms")
    cells = [r.split(",") for r in "\n".join(rows).replace('"\'\rx"', "CR").split("\n")]
    assert [c[at] for c in cells] == ["'=cmd|' /C calc'!A0", "'+1", "'-1", "'@x", "'\uff1dcmd",
                                      "'\tx", "CR"]  # fmt: skip
    assert '"\'\rx"' in result.stdout  # quoted: a bare CR never splits the row
    assert {c[terms] for c in cells} == {"-5"}  # numbers are never neutralised
    raw = seeded("export --where 'id >= 6' --properties all --internal-names --raw -o -")
    assert "=cmd|' /C calc'!A0,active" not in raw.stdout  # column order: name is not by status
    assert ",=cmd|' /C calc'!A0," in raw.stdout and ",+1," in raw.stdout
    assert "'" + "+1" not in raw.stdout


def test_file_is_private_complete_and_named_from_the_template(
    seeded: Invoke, tmp_path: Path
) -> None:
    template = tmp_path / "exports" / "subs-{view}-{date}-{time}.csv"
    result = seeded(["export", "--view", "unpaid", "-o", str(template)])
    assert result.exit_code == 0, result.stderr
    path = tmp_path / "exports" / "subs-unpaid-2026-11-26-120000.csv"
    assert result.stdout == ""
    assert result.stderr == f"✔ Exported 2 subscriptions to {path}\n"
    assert path.read_text().splitlines()[1].startswith("2,Globex")
    assert path.stat().st_mode & 0o777 == 0o600
    assert [p.name for p in path.parent.iterdir()] == [path.name]  # no temporary file left


def test_an_existing_file_needs_force(seeded: Invoke, tmp_path: Path) -> None:
    path = tmp_path / "subs.csv"
    path.write_text("keep me\n")
    result = seeded(["export", "--all", "-o", str(path)])
    assert result.exit_code == 2
    assert result.stderr == (f"Error: {path} already exists\nHint: add --force to overwrite it\n")
    assert path.read_text() == "keep me\n"
    assert seeded(["export", "--all", "-o", str(path), "--force"]).exit_code == 0
    assert path.read_text().startswith("Record ID,")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["subctl-home", "subs.csv"]


def test_a_failed_export_leaves_no_file(
    seeded: Invoke, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from subctl.export import cells

    def broken(self: Any) -> Any:
        yield from ()
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(cells.StoredRows, "chunks", broken)
    result = seeded(["export", "--all", "-o", str(tmp_path / "subs.csv")])
    assert result.exit_code == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["subctl-home"]


@pytest.mark.parametrize(
    ("args", "error"),
    [
        ("--all -o subs.xlsx -o -", "cannot be written to stdout"),
        ("--all -o subs.txt", 'cannot tell the format of "subs.txt" from its suffix'),
        ("-o subs.csv", "say which subscriptions to export"),
        ("--all", "say where to write the export"),
        ("--all --view unpaid -o subs.csv", "--all cannot be combined with --view, --where or"),
        ("--all --properties some -o subs.csv", 'unknown --properties "some"'),
        ("--all -o 'subs-{day}.csv'", "unknown placeholder {day}"),
        ("--all --format pdf -o subs.pdf", 'unknown format "pdf"'),
    ],
)
def test_usage_errors(seeded: Invoke, args: str, error: str) -> None:
    if "xlsx" in args:
        args = "--all --format xlsx -o -"
        from subctl.export import writers

        error = "xlsx " + error
        if "xlsx" not in writers.REGISTRY:
            error = 'unknown format "xlsx"'
    result = seeded(f"export {args}")
    assert result.exit_code == 2, result.stderr
    assert result.stderr.startswith(f"Error: {error}"), result.stderr
    assert result.stdout == ""


def test_highly_sensitive_values_are_masked(seeded: Invoke) -> None:
    for args in (
        "property settings --tier enterprise",
        "property create --name tax_id --label 'Tax ID' --type string --field-type text "
        "--sensitivity highly_sensitive",
        "update 1 --set tax_id=DK12345678 --yes",
    ):
        assert seeded(args).exit_code == 0, args
    for fmt in FORMATS:
        masked = seeded(f"export --where 'id = 1' --properties all --format {fmt} -o -")
        assert "DK12345678" not in masked.stdout and "******" in masked.stdout
    refused = seeded("export --all --properties all --show-sensitive -o -")
    assert refused.exit_code == 4
    assert seeded("property settings --grant sensitive_data.view").exit_code == 0
    shown = seeded("export --where 'id = 1' --properties all --show-sensitive -o -")
    assert "DK12345678" in shown.stdout


def test_help_example_runs_on_the_demo_workspace(demo: Invoke, tmp_path: Path) -> None:
    import re

    from subctl.commands.exports import subscription_export

    doc = subscription_export.__doc__ or ""
    example = re.search(r"Example: subctl (.*)", doc)
    assert example is not None
    os.chdir(tmp_path)
    result = demo(example.group(1))
    assert result.exit_code == 0, result.stderr
    (written,) = (tmp_path / "exports").iterdir()
    assert written.name == "unpaid-2026-11-26.csv"
    assert written.read_text().count("\n") > 1


def test_progress_counts_rows_against_the_total(
    demo: Invoke, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from collections.abc import Iterator
    from contextlib import contextmanager

    from subctl.output import Output

    seen: list[Any] = []

    @contextmanager
    def progress(self: Output, description: str, total: int | None, **kw: Any) -> Iterator[Any]:
        seen.append((description, total, kw))
        yield seen.append

    monkeypatch.setattr(Output, "progress", progress)
    import subctl.store.sql.records as records

    monkeypatch.setattr(records, "STREAM_CHUNK", 64)
    result = demo(["export", "--where", "id <= 200", "-o", str(tmp_path / "s.csv")])
    assert result.exit_code == 0, result.stderr
    assert seen == [("Exporting", 200, {"unit": "subscriptions"}), 64, 64, 64, 8]


def test_email_and_domain_options_reach_the_store(
    seeded: Invoke, monkeypatch: pytest.MonkeyPatch
) -> None:
    from subctl.store.sql.records import SqlRecordStore

    asked: list[dict[str, Any]] = []

    def cells(self: Any, sub_ids: Sequence[int], objects: Sequence[str], **kw: Any) -> Any:
        asked.append(kw)
        return {}

    monkeypatch.setattr(SqlRecordStore, "association_cells", cells, raising=False)
    args = "export --all --properties all+associations -o -"
    assert seeded(f"{args} --all-emails --all-domains").exit_code == 0
    assert seeded(args).exit_code == 0
    assert asked == [
        {"cap": 1000, "all_emails": True, "all_domains": True},
        {"cap": 1000, "all_emails": False, "all_domains": False},
    ]


OTHER_LANGUAGES = [lang for lang in LANGUAGES if lang != "en"]


@pytest.mark.parametrize("language", OTHER_LANGUAGES)
@pytest.mark.parametrize("mode", PROPERTY_MODES)
def test_headers_in_another_language(seeded: Invoke, mode: str, language: str) -> None:
    """Headers are translated (and ``all`` sorts by them), values are not; JSON keys are
    internal names in any language."""
    result = seeded(f"export --all --properties {mode} --language {language} -o -")
    assert result.exit_code == 0, result.stderr
    golden(f"{mode.replace('+', '-')}.{language}.csv", result.stdout)
    english = seeded(f"export --all --properties {mode} -o -").stdout
    assert result.stdout.splitlines()[0] != english.splitlines()[0]
    args = f"export --all --properties {mode} --format json -o -"
    translated = seeded(f"{args} --language {language}").stdout
    assert json.loads(translated) == json.loads(seeded(args).stdout)


@pytest.mark.parametrize("language", LANGUAGES)
def test_spreadsheet_headers_are_the_csv_headers(
    seeded: Invoke, tmp_path: Path, language: str
) -> None:
    """xlsx and xls write the columns of the one pipeline: the golden csv headers, typed rows."""
    import openpyxl
    from python_calamine import CalamineWorkbook

    args = f"export --all --properties all+associations --language {language}"
    header = seeded(f"{args} -o -").stdout.splitlines()[0]
    for fmt in ("xlsx", "xls"):
        path = tmp_path / f"subs.{fmt}"
        result = seeded(f"{args} --force -o {path}")
        assert result.exit_code == 0, result.stderr
        if fmt == "xlsx":
            rows = [[c.value for c in r] for r in openpyxl.load_workbook(path).active.iter_rows()]
        else:
            rows = CalamineWorkbook.from_path(str(path)).get_sheet_by_index(0).to_python()
        assert len(rows) == 6  # the header and the 5 seeded subscriptions
        written = io.StringIO()
        csv.writer(written, lineterminator="").writerow(rows[0])
        assert written.getvalue() == header


def test_an_unknown_language_is_a_usage_error(seeded: Invoke) -> None:
    refused = seeded("export --all --language xx -o -")
    assert refused.exit_code == 2
    assert refused.stderr.startswith('Error: unknown header language "xx"')


def test_at_most_1000_associated_records_per_cell(seeded: Invoke, ws: Any) -> None:
    """A subscription with 1,001 contacts: 1,000 in its cells (ids in order) and a warning;
    all 1,001 with --all-associations."""
    from subctl.store.sql import open_local

    store = open_local(ws.url).records
    ids = range(1000, 2001)
    store.seed("contacts", ["id", "firstname", "lastname", "created_at"],
               [(i, "C", str(i), 0) for i in ids])  # fmt: skip
    store.seed("associations", ["subscription_id", "object_type", "object_id", "type_id"],
               [(3, "contact", i, 295) for i in ids])  # fmt: skip
    store.close()
    args = "export --where 'id = 3' --properties all+associations --format ndjson -o -"
    capped = seeded(args)
    row = json.loads(capped.stdout)
    assert row["associations.contact.ids"].split(";") == [str(i) for i in range(1000, 2000)]
    assert row["associations.contact"].count("; ") == 999
    assert "Warning: 1 association cells held more than 1,000 records" in capped.stderr
    full = json.loads(seeded(f"{args} --all-associations").stdout)
    assert len(full["associations.contact.ids"].split(";")) == 1001


@pytest.mark.parametrize(
    ("engine", "name"), [("xlsxwriter", "XlsxWriter"), ("rustpy_xlsxwriter", "rustpy-xlsxwriter")]
)
def test_an_xlsx_export_names_the_writer_that_ran(
    seeded: Invoke, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, engine: str, name: str
) -> None:
    from importlib.metadata import version

    monkeypatch.setenv("SUBCTL_XLSX_ENGINE", engine)
    path = tmp_path / "subs.xlsx"
    result = seeded(["export", "--view", "unpaid", "-o", str(path)])
    assert result.exit_code == 0, result.stderr
    assert result.stderr == (
        f"✔ Exported 2 subscriptions to {path} (written by {name} {version(name)})\n"
    )


def test_a_file_where_a_directory_should_be_is_named(seeded: Invoke, tmp_path: Path) -> None:
    (tmp_path / "a.csv").write_text("")
    result = seeded(["export", "--all", "-o", str(tmp_path / "a.csv" / "subs.csv")])
    assert (result.exit_code, result.stdout) == (2, "")
    assert result.stderr == f"Error: cannot create directory {tmp_path / 'a.csv'}: File exists\n"


def test_force_replaces_files_only(seeded: Invoke, tmp_path: Path) -> None:
    real = tmp_path / "real.csv"
    real.write_text("kept\n")
    link = tmp_path / "link.csv"
    link.symlink_to(real)
    pipe = tmp_path / "pipe.csv"
    os.mkfifo(pipe)
    for target in (link, pipe):
        result = seeded(["export", "--all", "--force", "-o", str(target)])
        assert (result.exit_code, result.stdout) == (2, "")
        assert result.stderr == (
            f"Error: {target} is not a regular file\nHint: give the name of a file to write\n"
        )
    assert link.is_symlink() and real.read_text() == "kept\n" and pipe.is_fifo()


def test_association_options_without_association_columns_are_said_to_do_nothing(
    seeded: Invoke,
) -> None:
    result = seeded("export --all --all-associations --all-emails -o -")
    assert result.exit_code == 0, result.stderr
    assert result.stderr.startswith(
        "Warning: --all-associations, --all-emails applies to association columns, and this "
        "export has none (--properties all+associations adds them)\n"
    )
    quiet = seeded("export --all --properties all+associations --all-associations -o -")
    assert "Warning" not in quiet.stderr
