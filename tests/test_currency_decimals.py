"""Amounts in currencies without 2 decimals (JPY, KRW: 0; BHD, KWD: 3) round-trip exactly: a
HubSpot CRM export file (HubSpot writes ``1500`` for JPY) imported, exported again and imported
again changes nothing, in csv, ndjson and xlsx; spreadsheet cells carry each currency's
decimals in their number format. The decimals of a currency are defined once
(``codec.CURRENCY_DECIMALS``)."""

from __future__ import annotations

import csv
import io
import json
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from subctl.codec import (
    CURRENCY_DECIMALS,
    PropType,
    currency_decimals,
    money_from_storage,
    money_quantum,
    to_storage,
)
from tests.conftest import Invoke

pytestmark = pytest.mark.backends("sqlite", "postgresql")

# A HubSpot CRM export of the default columns (Record ID, then the properties' labels): amounts
# as HubSpot's API returns them, with their currency's decimals.
HEADER = ["Record ID", "Name", "Status", "Next payment due date", "Next payment amount",
          "Currency code", "Billing frequency"]  # fmt: skip
ROWS = [
    ["11", "Tokyo – Pro monthly", "Active", "2026-12-01", "1500", "JPY", "Monthly"],
    ["12", "Seoul – Team annual", "Active", "2026-12-02", "99000", "KRW", "Annually"],
    ["13", "Manama – Pro monthly", "Active", "2026-12-03", "12.345", "BHD", "Monthly"],
    ["14", "Kuwait – Basic monthly", "Active", "2026-12-04", "7.250", "KWD", "Monthly"],
    ["15", "Acme – Pro monthly", "Active", "2026-12-05", "99.00", "USD", "Monthly"],
]  # fmt: skip


def _csv(rows: list[list[str]]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(HEADER)
    writer.writerows(rows)
    return out.getvalue()


def _import(invoke: Invoke, path: Path) -> list[str]:
    result = invoke(["import", str(path), "-f", "json"])
    assert result.exit_code == 0, result.stderr
    return [row["outcome"] for row in json.loads(result.stdout)]


@pytest.fixture
def hubspot_file(invoke: Invoke, tmp_path: Path) -> Path:
    """A workspace holding ROWS, created from HubSpot's file (which is returned)."""
    assert invoke("init").exit_code == 0
    path = tmp_path / "hubspot.csv"
    path.write_text(_csv(ROWS), encoding="utf-8")
    assert _import(invoke, path) == ["created"] * len(ROWS)
    return path


def test_hubspots_file_imports_unchanged_and_exports_again_byte_for_byte(
    invoke: Invoke, hubspot_file: Path, tmp_path: Path
) -> None:
    assert _import(invoke, hubspot_file) == ["unchanged"] * len(ROWS)
    exported = tmp_path / "subctl.csv"
    result = invoke(["export", "--where", "id in (11, 12, 13, 14, 15)", "-o", str(exported)])
    assert result.exit_code == 0, result.stderr
    # JPY 1500 (not 1500.00), BHD 12.345, KWD 7.250, USD 99.00: each currency's decimals
    assert exported.read_text(encoding="utf-8") == hubspot_file.read_text(encoding="utf-8")
    assert _import(invoke, exported) == ["unchanged"] * len(ROWS)
    result = invoke(["import", str(exported)])
    assert result.stderr.splitlines()[-1] == "✔ 5 rows: 5 unchanged"


def test_ndjson_amounts_have_their_currencys_decimals(
    invoke: Invoke, hubspot_file: Path, tmp_path: Path
) -> None:
    out = invoke(["export", "--where", "id in (11, 13, 15)", "-f", "ndjson", "-o", "-",
                  "--internal-names"])  # fmt: skip
    assert out.exit_code == 0, out.stderr
    amounts = [line.split('"hs_next_payment_amount": ')[1].split(",")[0]
               for line in out.stdout.splitlines()]  # fmt: skip
    assert amounts == ["1500", "12.345", "99.0"]  # JSON numbers: JPY a whole number
    records = [json.loads(line) for line in out.stdout.splitlines()]
    assert [(r["hs_object_id"], r["hs_next_payment_amount"], r["hs_currency_code"])
            for r in records] == [(11, 1500, "JPY"), (13, 12.345, "BHD"),
                                  (15, 99.0, "USD")]  # fmt: skip


@pytest.mark.parametrize("suffix", ["ndjson", "json"])
@pytest.mark.parametrize("properties", ["view", "all+associations"])
def test_an_ndjson_or_json_export_imports_unchanged(
    invoke: Invoke, hubspot_file: Path, tmp_path: Path, properties: str, suffix: str
) -> None:
    path = tmp_path / f"subs.{suffix}"
    result = invoke(["export", "--all", "--properties", properties, "-o", str(path)])
    assert result.exit_code == 0, result.stderr
    assert _import(invoke, path) == ["unchanged"] * len(ROWS)
    # a changed amount is an update, read from the JSON number (the first record: id 11)
    text = path.read_text()
    path.write_text(
        text.replace('"hs_next_payment_amount": 1500,', '"hs_next_payment_amount": 1700,', 1)
    )
    assert _import(invoke, path) == ["updated"] + ["unchanged"] * (len(ROWS) - 1)
    shown = invoke(["view", "11", "-f", "json"])
    assert json.loads(shown.stdout)["properties"]["hs_next_payment_amount"] == 1700


@pytest.mark.parametrize(
    ("name", "text", "message"),
    [
        ("a.json", "[]\n", "Error: {path} is empty: no record\n"),
        (
            "a.json",
            '[\n{"hs_object_id": 11},\n[1]\n]\n',
            "Error: {path}:3: not a JSON object, one record a line\n"
            "Hint: import the .ndjson or .csv backup or export instead, or convert:"
            " jq -c '.[]' a.json > records.ndjson\n",
        ),
        (
            "a.ndjson",
            '{"hs_object_id": 11}\n[1]\n',
            "Error: {path}:2: not a JSON object, one record a line\n",
        ),
        (
            "a.ndjson",
            '{"hs_object_id": 11}\n{"hs_object_id": 12, "x": 1}\n',
            'Error: {path}:2: key "x" is not in the first record\'s keys\n',
        ),
        (
            "a.ndjson",
            '{"hs_object_id": 11}\n{oops\n',
            "Error: {path}:2: not JSON (Expecting property name enclosed in double quotes)\n",
        ),
    ],
)
def test_a_bad_ndjson_file_is_refused_with_its_line(
    invoke: Invoke, hubspot_file: Path, tmp_path: Path, name: str, text: str, message: str
) -> None:
    path = tmp_path / name
    path.write_text(text)
    result = invoke(["import", str(path)])
    assert (result.exit_code, result.stderr) == (2, message.format(path=path))


@pytest.mark.parametrize("engine", ["xlsxwriter", "rustpy_xlsxwriter"])
def test_xlsx_cells_have_their_currencys_decimals_and_import_unchanged(
    invoke: Invoke,
    hubspot_file: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    engine: str,
) -> None:
    import openpyxl

    monkeypatch.setenv("SUBCTL_XLSX_ENGINE", engine)
    path = tmp_path / "subs.xlsx"
    result = invoke(["export", "--where", "id in (11, 12, 13, 14, 15)", "-o", str(path)])
    assert result.exit_code == 0, result.stderr
    # cell formats are per cell; the Rust back end formats whole columns, so these rows (0, 3
    # and 2 decimals) are written by XlsxWriter, and the message says so
    assert "(written by XlsxWriter " in result.stderr
    sheet = openpyxl.load_workbook(path).active
    cells = [(row[4].value, row[4].number_format, row[5].value)
             for row in sheet.iter_rows(min_row=2)]  # fmt: skip
    assert cells == [
        (1500, "#,##0", "JPY"),
        (99000, "#,##0", "KRW"),
        (12.345, "#,##0.000", "BHD"),
        (7.25, "#,##0.000", "KWD"),
        (99, "#,##0.00", "USD"),
    ]
    assert _import(invoke, path) == ["unchanged"] * len(ROWS)


@pytest.mark.parametrize(
    ("ids", "number_format"),
    [("11, 12", "#,##0"), ("13, 14", "#,##0.000"), ("15", "#,##0.00")],
    ids=["zero", "three", "two"],
)
def test_the_rust_back_end_formats_a_column_of_one_currencys_decimals(
    invoke: Invoke,
    hubspot_file: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    ids: str,
    number_format: str,
) -> None:
    import openpyxl

    pytest.importorskip("rustpy_xlsxwriter")
    monkeypatch.setenv("SUBCTL_XLSX_ENGINE", "rustpy_xlsxwriter")
    path = tmp_path / "subs.xlsx"
    result = invoke(["export", "--where", f"id in ({ids})", "--properties", "all", "-o",
                     str(path)])  # fmt: skip
    assert result.exit_code == 0, result.stderr
    assert "(written by rustpy-xlsxwriter " in result.stderr
    sheet = openpyxl.load_workbook(path).active
    header = [c.value for c in sheet[1]]
    at = header.index("Next payment amount")
    assert {row[at].number_format for row in sheet.iter_rows(min_row=2)} == {number_format}
    assert _import(invoke, path) == ["unchanged"] * len(ids.split(","))


def test_decimals_are_defined_once() -> None:
    from subctl import billing
    from subctl.services.validation import money_problem

    assert (currency_decimals("JPY"), currency_decimals("krw"), currency_decimals("BHD"),
            currency_decimals("USD"), currency_decimals("XYZ"), currency_decimals(None)) == (
        0, 0, 3, 2, 2, 2)  # fmt: skip
    for code, places in CURRENCY_DECIMALS.items():
        assert billing.quantum(code) == money_quantum(code) == Decimal(1).scaleb(-places)
    assert money_problem(Decimal("1500.5"), "JPY") == (
        "1500.5 has more decimal places than JPY allows (0 decimal places)"
    )
    assert money_problem(Decimal("1500.00"), "JPY") is None  # trailing zeros add no precision
    assert money_problem(Decimal("12.3456"), "BHD") is not None


def _amounts(places: int) -> st.SearchStrategy[Decimal]:
    """Amounts valid in a currency of ``places`` decimals: 0 to below a trillion."""
    unit = Decimal(1).scaleb(-places)
    return st.integers(0, 10**12 * 10**places - 1).map(lambda n: n * unit)


CURRENCIES = st.sampled_from(["JPY", "KRW", "USD", "EUR", "BHD", "KWD"])


@given(data=st.data())
def test_an_amount_valid_in_its_currency_reads_back_with_exactly_its_decimals(
    data: st.DataObject,
) -> None:
    code = data.draw(CURRENCIES)
    amount = data.draw(_amounts(currency_decimals(code)))
    stored = to_storage(PropType.NUMBER, amount)
    back = money_from_storage(stored, code)
    assert back == amount and str(back) == f"{amount:.{currency_decimals(code)}f}"


@settings(max_examples=25, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])  # fmt: skip
@given(data=st.data())
def test_export_then_import_is_the_identity_for_the_currencys_decimals(
    invoke: Invoke, tmp_path: Path, data: st.DataObject
) -> None:
    """export -> import changes nothing, and the exported text is the amount with exactly its
    currency's decimals (what HubSpot writes), for csv, ndjson and xlsx."""
    if not (tmp_path / "initialised").exists():  # one workspace for every example
        assert invoke("init").exit_code == 0
        (tmp_path / "initialised").touch()
    code = data.draw(CURRENCIES)
    places = currency_decimals(code)
    amount = data.draw(_amounts(places))
    text = f"{amount:.{places}f}"
    source = tmp_path / "in.csv"
    source.write_text(_csv([["21", "Any", "Active", "2026-12-01", text, code, "Monthly"]]))
    result = invoke(["import", str(source), "-f", "json"])
    assert result.exit_code == 0, result.stderr
    for suffix in ("csv", "ndjson", "xlsx"):
        out = tmp_path / f"out.{suffix}"
        result = invoke(["export", "--where", "id = 21", "-o", str(out), "--force"])
        assert result.exit_code == 0, result.stderr
        if suffix == "csv":
            assert out.read_text().splitlines()[1].split(",")[4] == text
        assert _import(invoke, out) == ["unchanged"]


def test_list_and_view_show_amounts_with_their_currencys_decimals(
    invoke: Invoke, hubspot_file: Path
) -> None:
    listed = invoke(["list", "--where", "id in (11, 13, 15)", "-f", "csv"])
    assert listed.exit_code == 0, listed.stderr
    assert [line.split(",")[4:6] for line in listed.stdout.splitlines()[1:]] == [
        ["1500", "JPY"], ["12.345", "BHD"], ["99.00", "USD"]
    ]  # fmt: skip
    table = invoke(["list", "--where", "id in (11, 14)", "-f", "table"])
    assert [line.split()[-3] for line in table.stdout.splitlines()[-2:]] == ["1500", "7.250"]
    shown = invoke(["view", "11", "-f", "json"])
    assert '"hs_next_payment_amount": 1500,' in shown.stdout  # a JSON integer, as exports
    listed = invoke(["list", "--where", "id in (11, 13)", "-f", "json"])
    assert [(r["hs_next_payment_amount"], r["hs_currency_code"])
            for r in json.loads(listed.stdout)] == [(1500, "JPY"), (12.345, "BHD")]  # fmt: skip


def test_a_payments_label_has_its_currencys_decimals() -> None:
    """Association cells (``Associated Payment``) restore a payment from its label: a BHD
    amount keeps its third decimal, a JPY amount has none."""
    from subctl.labels import payment_label

    assert [
        payment_label(Decimal("1500.00"), "JPY", "succeeded", "card"),
        payment_label(12.345, "BHD", "failed", "card"),
        payment_label(99.0, "USD", "succeeded", "ach"),
        payment_label(Decimal("12.345"), "USD", "succeeded", "card"),  # finer: never rounded
    ] == [
        "1500 JPY succeeded (card)",
        "12.345 BHD failed (card)",
        "99.00 USD succeeded (ach)",
        "12.345 USD succeeded (card)",
    ]
