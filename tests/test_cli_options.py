"""Options, walked from the live command tree: an empty value given to any option is a usage
error naming the option, never the option silently left out."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.conftest import Invoke, completions_generator

gen = completions_generator()
TREE = gen.command_tree()
# ``--description ''`` clears a description: the one option whose empty value means something.
ACCEPTS_EMPTY = {"--description"}


def _value_options() -> list[tuple[Any, str]]:
    cases = []
    for node in TREE:
        for param in node.command.params:
            if param.param_type_name != "option" or param.is_flag or param.count:
                continue
            option = max(param.opts, key=len)
            if option not in ACCEPTS_EMPTY:
                cases.append((node, option))
    return cases


def _argv(node: Any, option: str) -> list[str]:
    """The command with ``option ''`` and a value for each required argument."""
    args = ["1" for p in node.command.params if p.param_type_name == "argument" and p.required]
    if node.path == ("subctl",):
        return [option, "", "list"]
    return [*node.path[1:], *args, option, ""]


@pytest.mark.parametrize(("node", "option"), _value_options(), ids=lambda x: getattr(x, "name", x))
def test_an_empty_option_value_is_a_usage_error(invoke: Invoke, node: Any, option: str) -> None:
    result = invoke(_argv(node, option))
    assert result.exit_code == 2, (result.exit_code, result.stderr)
    ours = result.stderr.startswith(f"Error: {option}: empty ")
    typed = f"Invalid value for '{option}'" in result.stderr  # an int or a choice: never ''
    assert ours or typed, result.stderr


def test_value_options_are_found() -> None:
    """The walk sees these value-taking options of subctl (a walk finding nothing would prove
    nothing)."""
    found = {(node.name, option) for node, option in _value_options()}
    for case in [("subctl", "--workspace"), ("subctl", "--profile"),
                 ("subctl delete", "--backup"), ("subctl delete", "--plan-out"),
                 ("subctl list", "--view"), ("subctl list", "--fields"),
                 ("subctl list", "--sort"), ("subctl list", "--due-before")]:  # fmt: skip
        assert case in found, case


def test_empty_backup_deletes_nothing(seeded: Invoke) -> None:
    result = seeded(["delete", "4", "--backup", "", "--yes"])
    assert (result.exit_code, result.stdout) == (2, "")
    assert result.stderr == (
        "Error: --backup: empty path\n"
        "Hint: give --backup a value or leave it out (an unset shell variable?)\n"
    )
    assert seeded("view 4 --format json").exit_code == 0


def test_empty_workspace_option_is_refused_but_an_empty_env_var_is_unset(
    seeded: Invoke, monkeypatch: pytest.MonkeyPatch
) -> None:
    refused = seeded(["-w", "", "list"])
    assert refused.exit_code == 2
    assert refused.stderr.startswith("Error: --workspace: empty path\n")
    # SUBCTL_WORKSPACE= (the shell's way to unset it for one command): the default workspace
    monkeypatch.setenv("SUBCTL_WORKSPACE", "")
    monkeypatch.setenv("SUBCTL_PROFILE", "")
    listed = seeded("list --format json")
    assert listed.exit_code == 0, listed.stderr
    assert len(json.loads(listed.stdout)) == 5


def test_an_empty_description_still_clears_it(seeded: Invoke) -> None:
    created = seeded("property create --name tier --label Tier --type string --description Old")
    assert created.exit_code == 0, created.stderr
    assert seeded(["property", "edit", "tier", "--description", ""]).exit_code == 0
    shown = json.loads(seeded("property view tier --format json").stdout)
    assert shown["description"] == ""
