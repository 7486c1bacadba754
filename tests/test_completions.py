"""The committed shell completion scripts are what ``completions/generate.py`` produces now, and
the dynamic completion they call back into knows every command in the tree."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from subctl.cli import run
from tests.conftest import completions_generator

ROOT = Path(__file__).resolve().parent.parent


gen = completions_generator()
TREE = gen.command_tree()
GROUPS = [node for node in TREE if node.is_group]


@pytest.mark.parametrize("shell", gen.SHELLS)
def test_completion_script_is_up_to_date(shell: str) -> None:
    path = gen.COMPLETIONS_DIR / f"{gen.PROG}.{shell}"
    assert path.exists(), f"completions/{path.name} is missing: run `{gen.REGENERATE}`"
    expected = gen.completion_script(shell)
    assert path.read_text(encoding="utf-8") == expected, (
        f"completions/{path.name} is stale: run `{gen.REGENERATE}`"
    )


@pytest.mark.parametrize("shell", gen.SHELLS)
def test_completion_script_calls_back_into_the_subctl_executable(shell: str) -> None:
    script = (gen.COMPLETIONS_DIR / f"{gen.PROG}.{shell}").read_text(encoding="utf-8")
    assert f"{gen.COMPLETE_VAR}=complete_{shell}" in script
    assert f" {gen.PROG}" in script
    assert sys.executable not in script and "__main__" not in script


def _complete_bash(words: list[str]) -> list[str]:
    """What ``subctl`` answers to bash's Tab after ``words`` (the last one being completed)."""
    env = {
        gen.COMPLETE_VAR: "complete_bash",
        "COMP_WORDS": " ".join(words),
        "COMP_CWORD": str(len(words) - 1),
    }
    with CliRunner().isolation(env=env) as (out, _err, _):
        code = run([])
        sys.stdout.flush()
        output = out.getvalue().decode()
    assert code == 0
    return output.split()


@pytest.mark.parametrize("group", GROUPS, ids=lambda node: node.name)
def test_dynamic_completion_offers_every_subcommand(group: Any) -> None:
    children = {node.path[-1] for node in TREE if node.path[:-1] == group.path}
    offered = set(_complete_bash([*group.path, ""]))
    assert children <= offered, f"completing `{group.name} ` misses {sorted(children - offered)}"
