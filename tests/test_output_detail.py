"""``Output.detail``/``Output.result``: one document, rendered as ``--format`` says."""

import io
import json

from subctl.export import Column
from subctl.output import Document, Format, Heading, Output, Pairs, Paragraph, Records
from tests.conftest import Invoke

DOC = Document(
    data={"id": 7, "name": "Ada", "tags": ["a", "b"]},
    rows=[{"field": "id", "value": 7}, {"field": "name", "value": "Ada"}],
    columns=[Column("field", "Field"), Column("value", "Value")],
    blocks=[
        Heading("Ada", "Active: paid"),
        Pairs("Properties", [("Name", "Ada"), ("Id", "7")]),
        Records("Payments", [{"id": 1, "amount": "9.00 EUR"}],
                [Column("id", "ID"), Column("amount", "Amount")]),
        Paragraph("line one\nline two"),
    ],
)  # fmt: skip


def _out() -> tuple[Output, io.StringIO, io.StringIO]:
    stdout, stderr = io.StringIO(), io.StringIO()
    return Output(stdout=stdout, stderr=stderr), stdout, stderr


def test_detail_renders_each_format() -> None:
    out, stdout, _ = _out()
    out.detail(DOC, Format.JSON)
    assert json.loads(stdout.getvalue()) == DOC.data and stdout.getvalue().count("\n") > 1
    out, stdout, _ = _out()
    out.detail(DOC, Format.NDJSON)
    assert json.loads(stdout.getvalue()) == DOC.data and stdout.getvalue().count("\n") == 1
    out, stdout, _ = _out()
    out.detail(DOC, Format.CSV)
    assert stdout.getvalue().splitlines() == ["field,value", "id,7", "name,Ada"]
    out, stdout, _ = _out()
    out.detail(DOC, Format.TABLE)
    shown = stdout.getvalue()
    for text in ("Ada  Active: paid", "Properties", "Payments", "9.00 EUR", "line one", "line two"):
        assert text in shown
    assert "tags" not in shown


def test_detail_without_blocks_is_its_rows_as_a_table() -> None:
    out, stdout, _ = _out()
    out.detail(Document(DOC.data, DOC.rows, DOC.columns), Format.TABLE)
    assert "Field" in stdout.getvalue() and "Ada" in stdout.getvalue()


def test_result_shows_data_except_as_a_table_and_always_the_message() -> None:
    out, stdout, stderr = _out()
    out.result(DOC, Format.TABLE, "done")
    assert stdout.getvalue() == "" and stderr.getvalue() == "✔ done\n"
    out, stdout, stderr = _out()
    out.result(DOC, Format.CSV, "done")
    assert stdout.getvalue().startswith("field,value") and stderr.getvalue() == "✔ done\n"


def test_views_show_in_every_format(seeded: Invoke) -> None:
    shown = json.loads(seeded("views show unpaid --format json").stdout)
    compact = seeded("views show unpaid --format ndjson").stdout
    assert compact.count("\n") == 1 and json.loads(compact) == shown
    csv = seeded("views show unpaid --format csv").stdout.splitlines()
    assert csv[0] == "name,query,columns,sort,builtin" and csv[1].startswith("unpaid,")
    table = seeded("views show unpaid --format table").stdout
    assert "Name" in table and "unpaid" in table


def test_associate_result_in_every_format(seeded: Invoke) -> None:
    ndjson = seeded("associate 3 --contact 17 -f ndjson")
    assert ndjson.exit_code == 0 and ndjson.stdout.count("\n") == 1
    row = json.loads(ndjson.stdout)
    assert row["subscription_id"] == 3 and row["object_id"] == 17
    table = seeded("associate 3 --company 77 -f table")
    assert table.exit_code == 0 and table.stdout == "" and table.stderr.startswith("✔ ")
    csv = seeded("associate 1 --company 77 --remove --yes -f csv")
    assert csv.exit_code == 0, csv.stderr
    assert csv.stdout.splitlines()[0].startswith("subscription_id,object_type,object_id")


def test_property_edit_result_in_every_format(seeded: Invoke) -> None:
    created = seeded("property create --name tier --label Tier --type enumeration --option A "
                     "-f ndjson")  # fmt: skip
    assert created.exit_code == 0 and json.loads(created.stdout)["name"] == "tier"
    assert created.stdout.count("\n") == 1
    csv = seeded("property edit tier --label 'Plan tier' -f csv")
    assert csv.exit_code == 0 and "label,Plan tier" in csv.stdout.splitlines()
    assert csv.stderr == "✔ Updated property tier\n"
    table = seeded("property edit tier --label 'Tier' -f table")
    assert table.stdout == "" and table.stderr == "✔ Updated property tier\n"
