"""CLI wording of the services' typed errors: flags and command lines come from the command
layer (``commands/_hints.py``), with the messages and hints users have always read."""

from pathlib import Path

from subctl.commands._hints import hint, word
from subctl.errors import Action, InputError, Next, NotFound
from tests.conftest import Invoke


def test_input_errors_name_the_flag() -> None:
    exc = InputError("due_before", '"soon" is not a date')
    assert exc.message == 'due_before: "soon" is not a date'
    word(exc)
    assert exc.message == '--due-before: "soon" is not a date' and str(exc) == exc.message
    spaced = InputError("unique", "applies to numbers", sep=" ")
    word(spaced)
    assert spaced.message == "--unique applies to numbers"


def test_a_next_step_becomes_the_hint_unless_one_is_given() -> None:
    exc = NotFound("x", next=Next(Action.LIST_PROPERTIES))
    word(exc)
    assert exc.hint == "see `subctl property list`"
    given = NotFound("x", hint='did you mean "y"?', next=Next(Action.LIST_PROPERTIES))
    word(given)
    assert given.hint == 'did you mean "y"?'
    assert hint(Next(Action.REPLACE_CONTACT, {"sub": 3, "record": None})) == (
        "replace it: subctl associate 3 --contact new --create … --replace"
    )
    assert hint(Next(Action.EXAMPLE, {"input": "option", "values": ["A", "B"]})) == (
        "e.g. --option A --option B"
    )


def test_property_errors_read_as_before(seeded: Invoke) -> None:
    def error(args: str) -> str:
        result = seeded(args)
        assert result.exit_code in (2, 3, 4, 5), result
        return result.stderr

    assert error("property create --name a_b --label 'A b' --type string --option X") == (
        "Error: --option applies to enumeration properties, not string\n"
    )
    assert error("property create --name a_b --label 'A b' --type enumeration") == (
        "Error: an enumeration needs at least one option\n"
        "Hint: e.g. --option Basic --option Professional --option Enterprise\n"
    )
    assert error("property create --name a_b --label 'A b' --type string --field-type textarea "
                 "--unique") == (
        "Error: --unique applies to single-line text and number properties only\n"
    )  # fmt: skip
    assert error("property create --name a_b --label 'A b' --type string --rule MIN_LENGTH") == (
        "Error: rule MIN_LENGTH takes 1 argument(s), got 0\nHint: e.g. --rule MIN_LENGTH:3\n"
    )
    assert error("property settings --cap x") == (
        'Error: --cap: "x" is not N, TIER=N or TIER=default\n'
    )
    assert error("property view zzzzzzzz").endswith("Hint: see `subctl property list`\n")
    assert error("property edit hs_name").startswith("Error: hs_name is a HubSpot-defined")
    ok = seeded("property create --name a_b --label 'A b' --type string")
    assert ok.exit_code == 0, ok.stderr
    assert error("property edit a_b").endswith("Hint: see `subctl property edit --help`\n")
    assert error("property create --name a_b --label 'A c' --type string").endswith(
        "Hint: see `subctl property view a_b`\n"
    )
    assert error("property create --name s_b --label 'S b' --type string "
                 "--sensitivity sensitive").endswith(
        "Hint: subctl property settings --tier enterprise\n"
    )  # fmt: skip
    assert error("view 1 --show-sensitive").endswith(
        "Hint: grant it with `subctl property settings --grant sensitive_data.view`\n"
    )


def test_list_and_associate_errors_read_as_before(seeded: Invoke) -> None:
    result = seeded("list --due-within soon")
    assert result.exit_code == 2 and result.stderr.startswith("Error: --due-within: ")
    result = seeded("list --due-after soon")
    assert result.exit_code == 2 and result.stderr.startswith("Error: --due-after: ")
    result = seeded("associate 1 --contact new --create 'nope'")
    assert result.stderr == 'Error: --create: "nope" is not key=value\n'
    result = seeded("associate 1 --company new --create 'name=X,colour=red'")
    assert result.stderr.startswith("Error: --create: company has no field colour; fields: ")
    result = seeded("associate 1 --contact new --create 'name=X' --remove")
    assert result.stderr == "Error: --create and --remove cannot be combined\n"


def test_lifecycle_and_batch_errors_read_as_before(seeded: Invoke, tmp_path: Path) -> None:
    def error(args: str) -> str:
        result = seeded(args)
        assert result.exit_code in (2, 3, 5), result
        return result.stderr

    assert error("cancel 1 --refund all --yes") == (
        'Error: --refund: "all" is not supported; use --refund unused\n'
    )
    assert error("cancel 1 --refund unused --at-period-end --yes") == (
        "Error: --refund unused cannot be combined with --at-period-end: a subscription "
        "canceled at the end of its period has no unused days\n"
    )
    assert error("cancel 1 --refund-pending --at-period-end --yes") == (
        "Error: --refund-pending applies to immediate cancellation, not --at-period-end\n"
    )
    assert error("resume 1 --yes") == "Error: resume needs --next-billing-date DATE\n"
    assert error("resume 1 --next-billing-date soon --yes").startswith(
        "Error: --next-billing-date: "
    )
    assert error("update 1 --yes") == "Error: update needs at least one --set PROPERTY=VALUE\n"
    assert error("update 1 --set canceled_at=2026-01-01 --yes").endswith(
        " is read-only: it follows the lifecycle verbs (`subctl cancel`)\n"
    )
    assert error("update 1 --set last_payment_amount=5 --yes") == (
        "Error: --set: last_payment_amount is read-only: it is recorded from payments "
        "(`subctl pay`, `update --set status=unpaid`)\n"
    )
    assert error("update 1 --set status=canceled --yes") == (
        'Error: --set: status cannot be set to "canceled" with update\nHint: use `subctl cancel`\n'
    )
    assert error("update 1 --set status=unpaid --set name=x --yes") == (
        "Error: --set status=… records a billing event; set it on its own\n"
    )
    assert error("cancel --yes") == (
        "Error: no subscriptions selected\n"
        "Hint: give IDs, --from-file FILE, --where EXPR, --view NAME, --segment NAME or "
        "--plan FILE\n"
    )
    assert error(f"cancel 1 --plan {tmp_path / 'plan.json'} --yes") == (
        "Error: --plan cannot be combined with IDs, --from-file, --where, --view or --segment\n"
    )
    assert error("cancel 1 --dry-run --plan-out -") == (
        "Error: --plan-out needs a file: stdout carries the per-item results\n"
    )
    assert error(f"delete 1 --backup {tmp_path} --yes").startswith(
        f"Error: --backup: {tmp_path} is a directory\nHint: name a file ("
    )
    assert error("jobs results 999").endswith("Hint: list batches with `subctl jobs`\n")


def test_store_hints_read_as_before(invoke: Invoke, tmp_path: Path) -> None:
    missing = tmp_path / "none.db"
    result = invoke(f"-w {missing} list")
    assert result.exit_code == 6 and result.stderr == (
        f"Error: no workspace at {missing}\n"
        f"Hint: create one with `subctl -w {missing} init` "
        f"(or `subctl -w {missing} demo` for sample data)\n"
    )
    result = invoke(f"-w {tmp_path} list")
    assert result.stderr.endswith(f"Hint: e.g. --workspace {tmp_path / 'workspace.db'}\n")
    assert hint(Next(Action.INSTALL_DRIVER, {"extra": "postgres"})) == (
        "PostgreSQL workspaces need the driver: pip install 'subctl[postgres]'"
    )
    assert hint(Next(Action.FIND_DUPLICATES, {"property": "code"})) == (
        "find them with `subctl list --fields code --sort code`, give them distinct values, "
        "and run init again"
    )
    assert hint(Next(Action.RETRY_BATCH)) == (
        "run the command again (or `subctl jobs resume JOB`): items are re-read first"
    )
    assert hint(Next(Action.UPGRADE_WORKSPACE, {"path": None})) == "run `subctl init` to upgrade it"
