"""The spreadsheet writers (``subctl.export.xlsx``, ``subctl.export.xls``): files reopened with
openpyxl (xlsx) and python-calamine (xls) and checked cell by cell, on both xlsx back ends."""

from __future__ import annotations

import datetime as dt
import importlib.util
import io
import subprocess
import sys
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from subctl.errors import UsageError
from subctl.export import Column, xls, xlsx
from subctl.export.writers import WriteOptions, for_format, for_path

ENGINES = [
    pytest.param(
        "rustpy_xlsxwriter",
        marks=pytest.mark.skipif(
            importlib.util.find_spec("rustpy_xlsxwriter") is None,
            reason="the fast-xlsx extra is not installed",
        ),
    ),
    "xlsxwriter",
]

COLUMNS = [
    Column("hs_object_id", "Record ID", kind="number"),
    Column("hs_name", "Name"),
    Column("amount", "Amount", kind="money", currency_key="currency"),
    Column("currency", "Currency"),
    Column("start", "Start date", kind="date"),
    Column("created", "Created", kind="datetime"),
    Column("auto", "Auto renew", kind="bool"),
    Column("count", "Count", kind="number"),
    Column("status", "Status", kind="enum"),
]
ROWS: list[dict[str, Any]] = [
    {"hs_object_id": 1, "hs_name": "=HYPERLINK(\"x\") Hooli", "amount": Decimal("1234.5"),
     "currency": "USD", "start": dt.date(2026, 1, 31),
     "created": dt.datetime(2026, 1, 31, 23, 59, 58, 250000, tzinfo=dt.UTC), "auto": True,
     "count": 2.5, "status": "Active"},
    {"hs_object_id": 2, "hs_name": "-1 Initech", "amount": Decimal("1200.4"),
     "currency": "JPY", "start": None, "created": dt.datetime(2026, 2, 1, tzinfo=dt.UTC),
     "auto": False, "count": 10**16, "status": "@Paused"},
    {"hs_object_id": 3, "hs_name": "x" * 40_000, "amount": Decimal("1.2345"),
     "currency": "BHD", "start": dt.date(2026, 3, 1), "created": None, "auto": None,
     "count": None, "status": None},
]  # fmt: skip


@pytest.fixture(params=ENGINES)
def engine(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    name: str = request.param
    monkeypatch.setenv("SUBCTL_XLSX_ENGINE", name)
    return name


def _xlsx(rows: Any, columns: list[Column] = COLUMNS, **options: Any) -> tuple[bytes, int]:
    out = io.BytesIO()
    count = for_format("xlsx").write(rows, columns, out, WriteOptions(**options))
    return out.getvalue(), count


def _open(data: bytes) -> Any:
    import openpyxl

    return openpyxl.load_workbook(io.BytesIO(data))


def _cells(sheet: Any) -> list[list[tuple[Any, str, str]]]:
    return [[(c.value, c.data_type, c.number_format) for c in row] for row in sheet.iter_rows()]


def test_engine_names_the_back_end_that_runs(engine: str) -> None:
    expected = {"rustpy_xlsxwriter": "rustpy-xlsxwriter ", "xlsxwriter": "XlsxWriter "}[engine]
    assert xlsx.engine().startswith(expected)


def test_cells_are_typed_and_formatted(engine: str) -> None:
    data, count = _xlsx(ROWS)
    assert count == 3
    book = _open(data)
    assert book.sheetnames == ["Subscriptions"]
    sheet = book.active
    assert sheet.freeze_panes == "A2"
    assert sheet.auto_filter.ref == "A1:I4"
    rows = _cells(sheet)
    assert [value for value, _, _ in rows[0]] == [c.header for c in COLUMNS]
    day, instant, general = "yyyy-mm-dd", "yyyy-mm-dd hh:mm:ss", "General"
    # each money cell has its currency's decimals; the Rust back end formats by column only
    usd, jpy, bhd = (("#,##0.00#",) * 3 if engine == "rustpy_xlsxwriter"
                     else ("#,##0.00", "#,##0", "#,##0.000"))  # fmt: skip
    assert rows[1] == [
        (1, "n", general),
        ('\'=HYPERLINK("x") Hooli', "s", general),  # neutralised
        (1234.5, "n", usd),
        ("USD", "s", general),
        (dt.datetime(2026, 1, 31), "d", day),
        (dt.datetime(2026, 1, 31, 23, 59, 58, 250000), "d", instant),  # UTC, ms kept
        (True, "b", general),
        (2.5, "n", general),
        ("Active", "s", general),
    ]
    assert rows[2][1:] == [
        ("'-1 Initech", "s", general),
        (1200, "n", jpy),  # JPY: no minor unit
        ("JPY", "s", general),
        (None, "n", rows[2][4][2]),
        (dt.datetime(2026, 2, 1), "d", instant),
        (False, "b", general),
        ("10000000000000000", "s", general),  # 17 digits: a number cell would round it
        ("'@Paused", "s", general),
    ]
    name, amount = rows[3][1], rows[3][2]
    assert (len(name[0]), name[0][-1]) == (32_767, "…")  # a cell's limit
    assert amount == (1.235, "n", bhd)  # BHD: 3 decimals
    assert [value for value, _, _ in rows[3][4:]] == [dt.datetime(2026, 3, 1), None, None, None,
                                                      None]  # fmt: skip


def test_raw_keeps_formula_text(engine: str) -> None:
    data, _ = _xlsx(ROWS[:2], raw=True)
    sheet = _open(data).active
    assert [sheet["B2"].value, sheet["B3"].value, sheet["I3"].value] == [
        '=HYPERLINK("x") Hooli',
        "-1 Initech",
        "@Paused",
    ]
    assert sheet["B2"].data_type == "s"  # text, never a formula


def test_no_rows_is_the_header_alone(engine: str) -> None:
    data, count = _xlsx([])
    sheet = _open(data).active
    assert count == 0
    assert [[c.value for c in row] for row in sheet.iter_rows()] == [[c.header for c in COLUMNS]]
    assert sheet.freeze_panes == "A2"


def test_a_stream_of_rows_is_written_lazily(engine: str) -> None:
    def rows() -> Any:
        for i in range(1, 2001):
            yield {"hs_object_id": i, "hs_name": f"S{i}"}

    data, count = _xlsx(rows(), COLUMNS[:2])
    sheet = _open(data).active
    assert count == 2000 and sheet.max_row == 2001
    assert (sheet["A2001"].value, sheet["B2001"].value) == (2000, "S2000")


@pytest.mark.parametrize("known", [True, False])
def test_rows_beyond_a_sheet_continue_on_the_next(
    engine: str, known: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(xlsx, "MAX_DATA_ROWS", 3)
    rows = [{"hs_object_id": i, "hs_name": f"S{i}"} for i in range(1, 8)]
    stream = iter(rows)  # no length
    if engine == "rustpy_xlsxwriter" and not known:
        with pytest.raises(UsageError, match="more than 3 rows do not fit in one xlsx sheet"):
            _xlsx(stream, COLUMNS[:2])
        return
    data, count = _xlsx(stream, COLUMNS[:2], total=7 if known else None, sheet="Subs/2026")
    book = _open(data)
    assert count == 7
    assert book.sheetnames == ["Subs_2026", "Subs_2026 (2)", "Subs_2026 (3)"]
    assert [[[c.value for c in r] for r in book[name].iter_rows()] for name in book.sheetnames] == [
        [["Record ID", "Name"], [1, "S1"], [2, "S2"], [3, "S3"]],
        [["Record ID", "Name"], [4, "S4"], [5, "S5"], [6, "S6"]],
        [["Record ID", "Name"], [7, "S7"]],
    ]
    for name in book.sheetnames:
        assert book[name].freeze_panes == "A2"
    assert book["Subs_2026 (3)"].auto_filter.ref == "A1:B2"


def test_duplicate_headers_are_written_by_the_pure_writer(engine: str) -> None:
    columns = [Column("a", "Name"), Column("b", "Name")]
    data, _ = _xlsx([{"a": "x", "b": "y"}], columns)
    assert [[c.value for c in r] for r in _open(data).active.iter_rows()] == [
        ["Name", "Name"], ["x", "y"]
    ]  # fmt: skip


def test_suffixes_and_formats() -> None:
    assert for_path("EXPORT.XLSX").name == "xlsx"
    assert for_path("a.xls").max_rows == 65_535
    with pytest.raises(UsageError) as caught:
        for_path("a.ods")
    assert caught.value.exit_code == 2 and ".ods" in str(caught.value.message)


# -- xls ---------------------------------------------------------------------------------------


def _xls(rows: Any, columns: list[Column] = COLUMNS, **options: Any) -> tuple[bytes, int]:
    out = io.BytesIO()
    count = for_format("xls").write(rows, columns, out, WriteOptions(**options))
    return out.getvalue(), count


def test_xls_cells_are_typed() -> None:
    from python_calamine import CalamineWorkbook

    data, count = _xls(ROWS[:2])
    assert count == 2
    book = CalamineWorkbook.from_filelike(io.BytesIO(data))
    assert book.sheet_names == ["Subscriptions"]
    rows = book.get_sheet_by_index(0).to_python()
    assert rows == [
        [c.header for c in COLUMNS],
        [1, "'=HYPERLINK(\"x\") Hooli", 1234.5, "USD", dt.date(2026, 1, 31),
         dt.datetime(2026, 1, 31, 23, 59, 58), True, 2.5, "Active"],  # read to the second
        [2, "'-1 Initech", 1200, "JPY", "", dt.date(2026, 2, 1), False,  # calamine: midnight
         "10000000000000000", "'@Paused"],
    ]  # fmt: skip


def test_xls_over_the_row_cap_is_refused_before_writing() -> None:
    out = io.BytesIO()
    with pytest.raises(UsageError) as caught:
        for_format("xls").write(iter(()), COLUMNS, out, WriteOptions(total=65_536))
    assert caught.value.exit_code == 2
    assert str(caught.value.message) == "65,536 rows do not fit in an xls file (at most 65,535)"
    assert "xlsx" in str(caught.value.hint) and "csv" in str(caught.value.hint)
    assert out.getvalue() == b""


def test_xls_stream_over_the_row_cap_stops(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(xls, "MAX_DATA_ROWS", 2)
    with pytest.raises(UsageError, match="more than 2 rows do not fit in one xls sheet"):
        _xls(iter(ROWS), COLUMNS)
    assert _xls(iter(ROWS[:2]), COLUMNS)[1] == 2


def test_xls_without_xlwt_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(xls, "available", lambda: False)
    with pytest.raises(UsageError) as caught:
        _xls(ROWS)
    assert (caught.value.message, caught.value.hint) == (
        "xls needs the xls extra",
        "pip install 'subctl[xls]'",
    )


def test_writers_load_no_spreadsheet_library_until_they_write(tmp_path: Path) -> None:
    probe = (
        "import sys\n"
        "from subctl.export import writers\n"
        "from subctl.export.xlsx import engine\n"
        "engine(); writers.for_path('a.xlsx'); writers.for_path('a.xls')\n"
        "print(sorted(m for m in ('xlsxwriter', 'rustpy_xlsxwriter', 'xlwt') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert out.stdout == "[]\n"


def test_lists_and_text_subclasses_are_text_cells(engine: str) -> None:
    from enum import StrEnum

    class Label(StrEnum):
        BAD = "=1+1"

    columns = [Column("a", "A"), Column("b", "B")]
    data, _ = _xlsx([{"a": ["Basic", "Pro"], "b": Label.BAD}], columns)
    sheet = _open(data).active
    assert (sheet["A2"].value, sheet["B2"].value) == ("Basic; Pro", "'=1+1")


def test_a_named_file_is_written_through_its_path(engine: str, tmp_path: Path) -> None:
    """The Rust writer streams to a path (a file object would hold the workbook in memory):
    the same file the caller holds open, which then sees the whole workbook."""
    path = tmp_path / "subs.xlsx"
    with path.open("wb") as out:
        count = for_format("xlsx").write(ROWS[:2], COLUMNS, out, WriteOptions())
        assert out.tell() == path.stat().st_size > 0
    assert count == 2
    assert _cells(_open(path.read_bytes()).active)[2][0] == (2, "n", "General")
