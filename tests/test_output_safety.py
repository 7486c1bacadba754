"""Output safety: CSV that reads back exactly (one value, one cell), and stored values that can
never drive a terminal (control characters are shown as escapes in every human output)."""

from __future__ import annotations

import csv
import io
import json
import sqlite3
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from subctl.export import Column
from subctl.export.csvfmt import write_csv
from tests.conftest import Invoke, Terminal

# -- CSV ------------------------------------------------------------------------------------

# Written out independently of the code under test: what starts a spreadsheet formula.
FORMULA_STARTS = (
    "=", "+", "-", "@", "＝", "＋", "－", "＠", "\ufe66", "\ufe62", "\ufe63", "\ufe6b",
    "\t", "\r", "\n",
)  # fmt: skip
NASTY = st.lists(
    st.sampled_from(list("ab ,;\"'\r\n\t=+-@＝＋－＠|") + ["SUM(1)", "\r@SUM(A1)", "\r\n"]),
    max_size=10,
).map("".join)


def expected_cell(value: str) -> str:
    return "'" + value if value.startswith(FORMULA_STARTS) else value


def read_back(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text, newline="")))


@given(st.lists(st.lists(NASTY, min_size=2, max_size=2), max_size=6))
def test_csv_writer_round_trips_every_value(rows: list[list[str]]) -> None:
    """The writer shared by ``--format csv`` and ``delete --backup``."""
    out = io.StringIO(newline="")
    columns = [Column("a", "a"), Column("b", "b")]
    count = write_csv(({"a": a, "b": b} for a, b in rows), columns, out)
    assert count == len(rows)
    assert read_back(out.getvalue()) == [["a", "b"]] + [[expected_cell(v) for v in r] for r in rows]


def test_a_lone_empty_field_is_not_a_blank_line() -> None:
    out = io.StringIO(newline="")
    write_csv([{"a": ""}, {"a": None}], [Column("a", "a")], out)
    assert read_back(out.getvalue()) == [["a"], [""], [""]]


def _workspace(home: Path) -> sqlite3.Connection:
    return sqlite3.connect(home / "workspace.db", timeout=30)


def test_list_csv_round_trips_every_value(invoke: Invoke, subctl_home: Path) -> None:
    assert invoke("init").exit_code == 0

    @settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(st.lists(NASTY, min_size=1, max_size=5))
    def check(names: list[str]) -> None:
        with _workspace(subctl_home) as conn:
            conn.execute("DELETE FROM subscriptions")
            conn.executemany(
                "INSERT INTO subscriptions (hs_object_id, hs_name) VALUES (?, ?)",
                list(enumerate(names, start=1)),
            )
        result = invoke("list --all --fields id,name --sort id --format csv")
        assert result.exit_code == 0, result.stderr
        assert read_back(result.stdout) == [["hs_object_id", "hs_name"]] + [
            [str(i), expected_cell(name)] for i, name in enumerate(names, start=1)
        ]

    check()


def test_delete_backup_csv_round_trips(seeded: Invoke, subctl_home: Path, tmp_path: Path) -> None:
    name = "Hooli\r@SUM(A1)"  # a bare CR: the csv module leaves it unquoted
    with _workspace(subctl_home) as conn:
        conn.execute("UPDATE subscriptions SET hs_name = ? WHERE hs_object_id = 4", (name,))
    backup = tmp_path / "deleted.csv"
    result = seeded(f"delete 4 --backup {backup} --yes --format json")
    assert result.exit_code == 0, result.stderr
    with backup.open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == 1
    assert (rows[0]["hs_object_id"], rows[0]["hs_name"]) == ("4", name)


@pytest.mark.parametrize(
    ("value", "cell"),
    [
        ("＝HYPERLINK(1)", "'＝HYPERLINK(1)"),
        ("\t=1", "'\t=1"),
        ("\r=1", "'\r=1"),
        ("-1", "'-1"),
        ("\n@SUM(A1)", "'\n@SUM(A1)"),
        ("\ufe66HYPERLINK(1)", "'\ufe66HYPERLINK(1)"),
    ],
)
def test_formula_starters_are_neutralised(value: str, cell: str) -> None:
    out = io.StringIO(newline="")
    write_csv([{"a": value}], [Column("a", "a")], out, header=False)
    assert read_back(out.getvalue()) == [[cell]]


# -- terminal escapes -------------------------------------------------------------------------

# A clipboard write (OSC 52), a window title (OSC 0), clear screen and cursor home (CSI).
EVIL = "x\x1b]52;c;aGVsbG8\x07\x1b]0;pwned\x07\x1b[2J\x1b[H\x9b31m"


@pytest.fixture
def evil(seeded: Invoke, subctl_home: Path, monkeypatch: pytest.MonkeyPatch) -> Invoke:
    """Subscription 1's and 2's names, a property's label and option, a view's query and a
    job's selection (cancelling 2) all hold escape sequences (the names and the label written
    to the workspace directly: subctl refuses control characters in them)."""
    created = seeded(
        ["property", "create", "--name", "tier", "--label", "Tier",
         "--type", "enumeration", "--option", f"Basic {EVIL}=basic"]
    )  # fmt: skip
    assert created.exit_code == 0, created.stderr
    with _workspace(subctl_home) as conn:
        conn.execute("UPDATE subscriptions SET hs_name = ? WHERE hs_object_id = 1", (EVIL,))
        conn.execute("UPDATE subscriptions SET hs_name = ? WHERE hs_object_id = 2", (EVIL + "2",))
        conn.execute("UPDATE property_definitions SET label = ? WHERE name = 'tier'",
                     (f"Tier {EVIL}",))  # fmt: skip
    saved = seeded(["filter", "--where", f'name = "{EVIL}"', "--save-view", "evil"])
    assert saved.exit_code == 0, saved.stderr
    canceled = seeded(["cancel", "--where", f'name = "{EVIL}2"', "--yes", "--format", "json"])
    assert canceled.exit_code == 0, canceled.stderr
    return seeded


HUMAN_OUTPUTS = [
    "list --all --format table --fields id,name,status",
    "view 1 --format table",
    "jobs --format table",
    "jobs results 1 --format table",  # (ids and outcomes: no stored text to show)
    "pause 1 --dry-run --format table",
    "property list --format table",
    "property view tier --format table",
    "views --format table",
    "views show evil --format table",
]


@pytest.mark.parametrize("args", HUMAN_OUTPUTS)
def test_no_escape_reaches_a_human_output(
    evil: Invoke, args: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", "300")
    result = evil(args)
    assert result.exit_code == 0, result.stderr
    shown = result.stdout + result.stderr
    assert not {"\x1b", "\x07", "\x9b"} & set(shown)
    if "results" not in args:
        assert "\\x1b]52;c;aGVsbG8\\x07" in result.stdout  # shown, visibly


def test_previews_and_messages_show_escapes_visibly(evil: Invoke, terminal: Terminal) -> None:
    terminal(False)
    preview = evil("cancel 1 3 --format table")  # the preview before the confirmation
    assert preview.exit_code == 130
    assert "\x1b" not in preview.stderr and "\\x1b]52;c;aGVsbG8\\x07" in preview.stderr
    missing = evil(["views", "show", EVIL])  # a value interpolated into an error message
    assert missing.exit_code == 3
    assert "\x1b" not in missing.stderr and "\\x1b]52" in missing.stderr
    created = evil(["property", "create", "--name", "note", "--label", "Note", "--type",
                    "string", "--preview", "--sample", EVIL, "--format", "table"])  # fmt: skip
    # The sample is refused (no control characters in single-line text), and does not reach
    # the terminal raw.
    assert (created.exit_code, "U+001B" in created.stderr) == (2, True), created.stderr
    assert "\x1b" not in created.stdout + created.stderr


@pytest.mark.parametrize(
    "args",
    [
        ["property", "create", "--name", "note", "--label", EVIL, "--type", "string"],
        ["property", "create", "--name", "note", "--label", "No\x07te", "--type", "string"],
        ["property", "edit", "tier", "--label", f"Tier {EVIL}"],
    ],
)
def test_property_labels_refuse_control_characters(evil: Invoke, args: list[str]) -> None:
    result = evil(args)
    assert result.exit_code == 2, result.stderr
    assert result.stderr.startswith("Error: the label: control character U+00")
    assert "not allowed in single-line text" in result.stderr
    assert "\x1b" not in result.stdout + result.stderr
    assert "note" not in evil("property list --format json").stdout


def test_csv_to_a_terminal_shows_escapes_visibly(
    evil: Invoke, monkeypatch: pytest.MonkeyPatch
) -> None:
    from subctl.output import Output

    monkeypatch.setattr(Output, "is_tty", property(lambda self: True))
    result = evil("list --fields id,name --sort id --limit 1 --format csv")
    assert result.exit_code == 0, result.stderr
    assert read_back(result.stdout)[1] == ["1", "x\\x1b]52;c;aGVsbG8\\x07\\x1b]0;pwned\\x07"
                                                "\\x1b[2J\\x1b[H\\x9b31m"]  # fmt: skip
    assert not {"\x1b", "\x07", "\x9b"} & set(result.stdout)


@pytest.mark.parametrize("fmt", ["json", "ndjson", "csv"])
def test_machine_formats_keep_the_data_exact(evil: Invoke, fmt: str) -> None:
    result = evil(f"list --fields id,name --sort id --limit 1 --format {fmt}")
    if fmt == "csv":
        assert read_back(result.stdout)[1] == ["1", EVIL]
    else:
        first = json.loads(result.stdout)[0] if fmt == "json" else json.loads(result.stdout)
        assert first["hs_name"] == EVIL


# -- narrow terminals and whole values ------------------------------------------------------


def test_property_list_at_80_columns_keeps_internal_names_whole(
    seeded: Invoke, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", "80")
    names = [p["name"] for p in json.loads(seeded("property list --format json").stdout)]
    result = seeded("property list --format table")
    assert result.exit_code == 0
    lines = result.stdout.splitlines()
    assert max(len(line) for line in lines) <= 80
    rule = next(i for i, line in enumerate(lines) if line.startswith("─"))
    assert [line.split()[0] for line in lines[rule + 1 :]] == names
    assert "hs_recurring_billing_start_date" in names
    assert result.stderr.startswith("(")  # the left-out columns are named on stderr
    assert "groupName" in result.stderr


@pytest.mark.parametrize("fmt", ["json", "csv"])
def test_jobs_data_formats_never_cut_values(seeded: Invoke, tmp_path: Path, fmt: str) -> None:
    plan = tmp_path / "plan.json"
    assert seeded(f"cancel 1 --dry-run --plan-out {plan} --format json").exit_code == 0
    assert seeded(f"cancel --plan {plan} --yes --format json").exit_code == 0
    digest = json.loads(plan.read_text())["hash"]
    result = seeded(f"jobs --format {fmt}")
    assert result.exit_code == 0, result.stderr
    assert "…" not in result.stdout
    assert f"--plan {digest}" in result.stdout


@pytest.mark.parametrize("fmt", ["json", "ndjson"])
def test_json_escapes_c1_controls_and_keeps_them_exact(evil: Invoke, fmt: str) -> None:
    """U+009B is CSI to some terminals: JSON writes it as an escape, which reads back exact."""
    listed = evil(f"list --fields id,name --sort id --limit 1 --format {fmt}")
    viewed = evil("view 1 --format json")
    assert "\x9b" not in listed.stdout + viewed.stdout and "\\u009b" in listed.stdout
    first = json.loads(listed.stdout)[0] if fmt == "json" else json.loads(listed.stdout)
    assert first["hs_name"] == EVIL and json.loads(viewed.stdout)["properties"]["hs_name"] == EVIL
