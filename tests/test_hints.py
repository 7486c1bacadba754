"""CLI wording of the services' typed errors: flags and command lines come from the command
layer (``commands/_hints.py``), with the messages and hints users have always read."""

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
