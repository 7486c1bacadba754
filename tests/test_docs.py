"""README's generated sections are current, and every command is documented: a help text with an
``Example: subctl …`` line, and a section in README's CLI reference.

The command list is walked from the live tree, so new commands are covered automatically; after
adding or changing one, run ``python completions/generate.py``.
"""

from __future__ import annotations

import difflib
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import completions_generator

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = re.compile(r"^\s*Example:\s+subctl(\s|$)", re.MULTILINE)


gen = completions_generator()
TREE = gen.command_tree()


def _readme() -> str:
    readme: Path = gen.README
    return readme.read_text(encoding="utf-8")


def _stale_message(what: str, current: str, expected: str) -> str:
    diff = difflib.unified_diff(
        current.splitlines(), expected.splitlines(), "README.md", "generated", lineterm="", n=1
    )
    shown = list(diff)[:40]
    return f"README.md's {what} is stale: run `{gen.REGENERATE}`\n" + "\n".join(shown)


@pytest.mark.parametrize(
    ("section", "render"),
    [(gen.SECTION_CLI_REFERENCE, gen.cli_reference), (gen.SECTION_EXIT_CODES, gen.exit_code_table)],
)
def test_readme_section_is_up_to_date(section: str, render: Any) -> None:
    current = gen.read_section(_readme(), section)
    expected = render()
    assert current == expected, _stale_message(section, current, expected)


def test_generator_check_passes() -> None:
    """The script itself, as a developer or CI runs it."""
    result = subprocess.run(
        [sys.executable, str(ROOT / "completions" / "generate.py"), "--check"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("node", [TREE[0], TREE[-1]], ids=lambda node: node.name)
def test_reference_matches_real_help_output(node: Any) -> None:
    """The in-process rendering equals what ``subctl … --help`` prints with plain output."""
    env = {**os.environ, "TYPER_USE_RICH": "0", **{k: v for k, v in gen.HELP_ENV.items() if v}}
    env.pop("_TYPER_COMPLETE_TEST_DISABLE_SHELL_DETECTION", None)
    result = subprocess.run(
        [sys.executable, "-m", "subctl", *node.path[1:], "--help"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    real = "\n".join(line.rstrip() for line in result.stdout.splitlines()).strip("\n") + "\n"
    assert real == node.help_text()


@pytest.mark.parametrize("node", TREE, ids=lambda node: node.name)
def test_command_has_help(node: Any) -> None:
    assert (node.command.help or "").strip(), f"`{node.name}` has no help text (docstring)"


@pytest.mark.parametrize("node", TREE, ids=lambda node: node.name)
def test_command_help_has_example(node: Any) -> None:
    assert EXAMPLE.search(node.help_text()), (
        f"`{node.name} --help` has no line starting `Example: subctl …`; add one to its docstring "
        "(or help=) as a paragraph of its own"
    )


@pytest.mark.parametrize("node", TREE, ids=lambda node: node.name)
def test_command_is_in_readme(node: Any) -> None:
    reference = gen.read_section(_readme(), gen.SECTION_CLI_REFERENCE)
    assert f"\n### {node.name}\n" in reference, (
        f"`{node.name}` is not in README's CLI reference: run `{gen.REGENERATE}`"
    )


# Type names of the CLI framework, as its help would print them: ``<str>``, ``<int range>``,
# ``<list[int]>``, ``{ID}`` (a required argument). Help speaks of IDs, names and files.
FRAMEWORK_TYPE = re.compile(
    r"<(?:str|int|float|bool|path|datetime|uuid|file|int range|float range|list\[[^\]]*\])>"
    r"|\{[A-Z_.]+\}"
)


@pytest.mark.parametrize("node", TREE, ids=lambda node: node.name)
def test_help_shows_no_framework_type_names(node: Any) -> None:
    found = FRAMEWORK_TYPE.findall(node.help_text())
    assert not found, f"`{node.name} --help` shows {found}: give the parameter a metavar"


@pytest.mark.parametrize("node", TREE, ids=lambda node: node.name)
def test_help_shows_no_id_bounds(node: Any) -> None:
    """An id's 64-bit bounds are no reading matter (they are checked, not shown)."""
    assert "9223372036854775807" not in node.help_text(), node.help_text()
