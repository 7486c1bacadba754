"""``subctl list`` end to end: filters, formats, fields, errors."""

from __future__ import annotations

import fcntl
import json
import os
import pty
import struct
import subprocess
import sys
import termios
from pathlib import Path

import pytest

from tests.conftest import Invoke, WorkspaceCase

pytestmark = pytest.mark.backends("sqlite", "postgresql")


@pytest.fixture
def seeded(seeded: Invoke) -> Invoke:
    """The seeded workspace, billed up to the clock: no billing events due, so that ``list``
    says on stderr only what these tests look at (tests/test_cli_billing.py: the warning)."""
    assert seeded("billing run").exit_code == 0
    return seeded


@pytest.fixture
def demo(demo: Invoke) -> Invoke:
    """The demo workspace, billed up to the clock (as ``seeded``)."""
    assert demo("billing run").exit_code == 0
    return demo


def ids(result_stdout: str) -> list[int]:
    return [row["hs_object_id"] for row in json.loads(result_stdout)]


def test_default_format_off_a_tty_is_json(seeded: Invoke) -> None:
    result = seeded("list --status unpaid")
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout) == [
        {"hs_object_id": 2, "hs_name": "Globex – Basic annual", "hs_status": "unpaid",
         "hs_next_payment_due_date": "2026-11-20", "hs_next_payment_amount": 1200.0,
         "hs_currency_code": "EUR", "hs_recurring_billing_frequency": "annually"},
        {"hs_object_id": 3, "hs_name": "Initech – Team quarterly", "hs_status": "unpaid",
         "hs_next_payment_due_date": "2026-11-30", "hs_next_payment_amount": 300.0,
         "hs_currency_code": "USD", "hs_recurring_billing_frequency": "quarterly"},
    ]  # fmt: skip


def test_json_is_exact(seeded: Invoke) -> None:
    result = seeded("list --status unpaid --fields id,status,due --format json")
    assert result.stdout == (
        "[\n"
        '{"hs_object_id": 2, "hs_status": "unpaid", "hs_next_payment_due_date": "2026-11-20"},\n'
        '{"hs_object_id": 3, "hs_status": "unpaid", "hs_next_payment_due_date": "2026-11-30"}\n'
        "]\n"
    )


def test_ndjson(seeded: Invoke) -> None:
    result = seeded("list -s active -s scheduled --fields id,mrr --format ndjson")
    assert result.stdout == (
        '{"hs_object_id": 1, "hs_mrr": 99.0}\n{"hs_object_id": 5, "hs_mrr": 49.5}\n'
    )


def test_csv_is_exact_and_neutralises_formulas(seeded: Invoke) -> None:
    result = seeded("list --all --fields id,name,canceled_at,mrr --format csv --sort id:desc")
    assert result.exit_code == 0, result.stderr
    assert result.stdout.splitlines() == [
        "hs_object_id,hs_name,hs_canceled_at,hs_mrr",
        "5,Umbrella – Scheduled,,49.50",
        '4,"\'=HYPERLINK(""x"") Hooli",2026-10-01T09:30:00.000Z,0.00',
        "3,Initech – Team quarterly,,100.00",
        "2,Globex – Basic annual,,100.00",
        "1,Acme Corp – Pro monthly,,99.00",
    ]


def test_table_format(seeded: Invoke) -> None:
    result = seeded("list --status unpaid --format table --fields id,name,status")
    assert result.exit_code == 0
    assert result.stdout == (
        "Record ID   Name                       Status\n"
        "─────────────────────────────────────────────\n"
        "        2   Globex – Basic annual      unpaid\n"
        "        3   Initech – Team quarterly   unpaid\n"
    )


def test_table_fits_a_narrow_terminal(seeded: Invoke, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "40")
    result = seeded("list --status unpaid --format table")
    lines = result.stdout.splitlines()
    assert max(len(line) for line in lines) <= 40
    assert lines[:4] == [
        "Record ID   Name                    ",
        "────────────────────────────────────",
        "        2   Globex – Basic annual   ",
        "        3   Initech – Team quarterly",
    ]
    assert len(lines) == 4  # the note on left-out columns is not data: stderr
    assert result.stderr.startswith("(5 columns left out to fit: hs_status,")


def test_status_accepts_labels_case_insensitively(seeded: Invoke) -> None:
    assert ids(seeded("list --status UNPAID").stdout) == [2, 3]
    assert ids(seeded("list --status Canceled,Scheduled").stdout) == [5, 4]


def test_due_filters(seeded: Invoke) -> None:
    # the clock is pinned to 2026-11-26
    assert ids(seeded("list --due-within 7d --sort due").stdout) == [3, 1]
    assert ids(seeded("list --due-before 2026-11-25").stdout) == [2]
    assert ids(seeded("list --due-after +30d").stdout) == [5]


def test_association_filters(seeded: Invoke) -> None:
    assert ids(seeded("list --contact 17").stdout) == [2, 1]
    assert ids(seeded("list --company 77").stdout) == [1]
    assert ids(seeded("list --payment 900").stdout) == [2]
    assert seeded("list --deal 1").stdout == "[]\n"


def test_default_order_is_soonest_due_first_without_due_date_last(seeded: Invoke) -> None:
    assert ids(seeded("list").stdout) == [2, 3, 1, 5, 4]


def test_sort_and_limit(seeded: Invoke) -> None:
    assert ids(seeded("list --sort mrr:desc --limit 2").stdout) == [2, 3]
    assert ids(seeded("list --sort -next_payment_due_date").stdout) == [5, 1, 3, 2, 4]


def test_builtin_views(seeded: Invoke) -> None:
    assert ids(seeded("list --view unpaid").stdout) == [2, 3]
    assert ids(seeded("list --view scheduled").stdout) == [5]


def test_empty_result(seeded: Invoke) -> None:
    result = seeded("list --status paused")
    assert (result.exit_code, result.stdout) == (0, "[]\n")
    assert result.stderr == "No subscriptions found.\n"


def test_unknown_field(seeded: Invoke) -> None:
    result = seeded("list --fields id,nope")
    assert result.exit_code == 2
    assert result.stderr.startswith(
        'Error: Unknown field "nope". Available fields: id, name, status'
    )
    assert result.stderr.count("\n") == 1


def test_unknown_status(seeded: Invoke) -> None:
    result = seeded("list --status bogus")
    assert result.exit_code == 2
    assert result.stderr == (
        'Error: "bogus" is not a status; one of: active, unpaid, past_due, canceled, expired, '
        "scheduled, paused\n"
    )


def test_bad_dates_and_limits(seeded: Invoke) -> None:
    result = seeded("list --due-before soon")
    assert result.exit_code == 2 and result.stderr.startswith('Error: --due-before: "soon" is not')
    assert seeded("list --due-within -3d").exit_code == 2
    assert seeded("list --limit 0").exit_code == 2
    assert seeded("list --sort nope").exit_code == 2
    assert seeded("list --format xml").exit_code == 2


def test_missing_workspace_says_how_to_create_one(invoke: Invoke, ws: WorkspaceCase) -> None:
    result = invoke("list")
    assert result.exit_code == 6
    if ws.is_sqlite:
        assert result.stderr.startswith("Error: no workspace at ")
    else:  # an empty database
        assert result.stderr.startswith("Error: postgresql://")
        assert " is not a subctl workspace\n" in result.stderr
        assert f"Hint: create one with `subctl -w {ws.target} init`" in result.stderr
        return
    assert "subctl init" in result.stderr


def test_markup_in_values_is_shown_literally(seeded: Invoke, ws: WorkspaceCase) -> None:
    from subctl.store.sql import open_local

    store = open_local(ws.url).records
    store.seed("subscriptions", ["hs_object_id", "hs_name"], [(9, "[bold]x[/] [/]")])
    store.close()
    result = seeded("list --fields id,name --format table --sort id:desc --limit 1")
    assert result.exit_code == 0, result.stderr
    assert "[bold]x[/] [/]" in result.stdout


# -- limits: nothing is cut without a word ---------------------------------------------------

CUT = "Showing 2 of 5 subscriptions; use --all or --limit\n"


@pytest.mark.parametrize("fmt", ["json", "ndjson", "csv"])
def test_off_a_terminal_every_row_is_written(demo: Invoke, fmt: str) -> None:
    result = demo(f"list --fields id --format {fmt}")
    assert result.exit_code == 0, result.stderr
    assert result.stderr == ""
    rows = {"json": len(json.loads(result.stdout)) if fmt == "json" else 0,
            "ndjson": len(result.stdout.splitlines()),
            "csv": len(result.stdout.splitlines()) - 1}[fmt]  # fmt: skip
    assert rows == 300


@pytest.mark.parametrize("fmt", ["json", "ndjson", "csv"])
def test_a_cut_result_says_so_on_stderr(seeded: Invoke, fmt: str) -> None:
    result = seeded(f"list --fields id --sort id --limit 2 --format {fmt}")
    assert result.exit_code == 0, result.stderr
    assert result.stderr == CUT


def test_a_cut_table_says_so_under_the_table(seeded: Invoke) -> None:
    result = seeded("list --fields id --sort id --limit 2 --format table")
    assert result.stdout == "Record ID\n─────────\n        1\n        2\n" + CUT
    assert result.stderr == CUT  # stdout is not a terminal: the table may not be seen


def test_filter_says_so_too(seeded: Invoke) -> None:
    result = seeded("filter --where 'mrr >= 0' --fields id --limit 2 --format csv")
    assert result.stdout == "hs_object_id\n2\n3\n"
    assert result.stderr == CUT


def test_a_limit_that_is_not_reached_says_nothing(seeded: Invoke) -> None:
    assert seeded("list --fields id --limit 5 --format csv").stderr == ""
    assert seeded("list --fields id --limit 6 --format csv").stderr == ""


@pytest.mark.parametrize("verb", ["list", "filter --where 'mrr >= 0'"])
def test_limit_bounds_and_all_are_usage_errors(seeded: Invoke, verb: str) -> None:
    result = seeded(f"{verb} --limit 99999999999999999999")
    assert (result.exit_code, result.stdout) == (2, "")
    assert result.stderr == (
        "Error: --limit must be at most 9223372036854775807\n"
        "Hint: use --all for every subscription\n"
    )
    result = seeded(f"{verb} --all --limit 3")
    assert (result.exit_code, result.stdout) == (2, "")
    assert result.stderr == (
        "Error: --all and --limit cannot be combined\n"
        "Hint: --all lists every subscription, --limit N the first N\n"
    )


def test_fields_named_in_fields_are_never_left_out(
    seeded: Invoke, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", "40")
    result = seeded("list --status unpaid --format table --fields id,name,status,mrr,currency")
    assert result.exit_code == 0
    assert result.stderr == ""
    lines = result.stdout.splitlines()
    assert max(len(line) for line in lines) <= 40
    assert "Status" in result.stdout
    for value in ("unpaid", "EUR", "USD", "100.00"):
        assert value in result.stdout


# -- on a terminal: a default limit, and a pager for --all -------------------------------------


def run_on_terminal(args: list[str], env: dict[str, str]) -> str:
    """Run subctl with stdout on a pseudo-terminal (100 columns); returns what it showed."""
    leader, follower = pty.openpty()
    fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 100, 0, 0))
    dropped = ("COLUMNS", "PAGER", "SUBCTL_PAGER")
    inherited = {k: v for k, v in os.environ.items() if k not in dropped}
    proc = subprocess.Popen(
        [sys.executable, "-m", "subctl", *args],
        stdin=subprocess.DEVNULL, stdout=follower, stderr=follower,
        env={**inherited, "TERM": "dumb", **env},
    )  # fmt: skip
    os.close(follower)
    seen = b""
    try:
        while True:
            try:
                chunk = os.read(leader, 65536)
            except OSError:  # the terminal closed: the process has exited
                break
            if not chunk:
                break
            seen += chunk
        assert proc.wait(timeout=60) == 0, seen.decode(errors="replace")
    finally:
        proc.kill()
        os.close(leader)
    return seen.decode().replace("\r\n", "\n")


def test_a_terminal_gets_the_first_50_and_is_told(demo: Invoke) -> None:
    shown = run_on_terminal(["list", "--fields", "id"], {"SUBCTL_PAGER": ""})
    assert shown.count("\n") == 2 + 50 + 1
    assert shown.endswith("Showing 50 of 300 subscriptions; use --all or --limit\n")


def test_all_as_a_table_goes_through_the_pager(demo: Invoke, tmp_path: Path) -> None:
    paged = tmp_path / "paged.txt"
    pager = f"{sys.executable} -c 'import sys; open(sys.argv[1], \"w\").write(sys.stdin.read())'"
    shown = run_on_terminal(
        ["list", "--all", "--fields", "id,name"], {"SUBCTL_PAGER": f"{pager} {paged}"}
    )
    assert shown == ""
    lines = paged.read_text().splitlines()
    assert len(lines) == 2 + 300
    assert lines[0].startswith("Record ID   Name")
    assert len({len(line) for line in lines}) == 1  # one table: every line as wide


def test_quitting_the_pager_early_says_nothing_more(invoke: Invoke) -> None:
    """``q`` after the first screen: the command ends quietly, with 0 and no false note (the
    table is larger than a pipe's buffer, so the pager leaves while subctl still writes)."""
    assert invoke("demo --count 3000").exit_code == 0
    assert invoke("billing run").exit_code == 0
    quits = f"{sys.executable} -c 'import sys; sys.stdin.readline()'"
    shown = run_on_terminal(["list", "--all", "--fields", "id,name"], {"SUBCTL_PAGER": quits})
    assert shown == ""


def test_an_empty_pager_variable_means_no_pager(demo: Invoke) -> None:
    shown = run_on_terminal(["list", "--all", "--fields", "id"], {"PAGER": ""})
    assert shown.count("\n") == 2 + 300


def test_matches_are_counted_only_when_the_limit_is_reached(
    seeded: Invoke, monkeypatch: pytest.MonkeyPatch
) -> None:
    from subctl.query.ast import Expr
    from subctl.store.sql.records import SqlRecordStore

    counted: list[Expr | None] = []
    real = SqlRecordStore.count

    def count(self: SqlRecordStore, where: Expr | None = None) -> int:
        counted.append(where)
        return real(self, where)

    monkeypatch.setattr(SqlRecordStore, "count", count)
    assert seeded("list --status unpaid --limit 3 --format csv").stderr == ""
    assert counted == []
    result = seeded("list --status unpaid,active --limit 2 --format csv")
    assert result.stderr == "Showing 2 of 3 subscriptions; use --all or --limit\n"
    assert len(counted) == 1
