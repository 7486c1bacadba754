"""Regenerate everything derived from the command tree.

* ``completions/subctl.{bash,zsh,fish}``: the scripts Typer prints for
  ``_SUBCTL_COMPLETE=source_<shell> subctl``. They are small and stable: on Tab they call back
  into ``subctl`` (``_SUBCTL_COMPLETE=complete_<shell>``), which completes from the live command
  tree, so they only change when Typer's templates do.
* README.md between ``<!-- cli-reference:start -->`` and ``<!-- cli-reference:end -->``: a
  ``### subctl <path>`` heading and the ``--help`` text of every visible command and group,
  found by walking the tree (nothing here names a command).
* README.md between ``<!-- exit-codes:start -->`` and ``<!-- exit-codes:end -->``: the table
  of ``subctl.errors.EXIT_CODES``.

Help is rendered in-process as plain text (what ``TYPER_USE_RICH=0 COLUMNS=80 subctl … --help``
prints), not in Rich panels, so the reference does not depend on the Rich version or the
terminal. ``tests/test_docs.py`` checks that the two agree.

Usage: ``python completions/generate.py`` (write) or ``python completions/generate.py --check``
(write nothing; list what is stale and exit 1 if anything is).
"""

from __future__ import annotations

import argparse
import os
import re
import sys
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from typer._click import Command, Context

ROOT = Path(__file__).resolve().parent.parent
COMPLETIONS_DIR = ROOT / "completions"
README = ROOT / "README.md"

PROG = "subctl"  # the executable the completion scripts call back into
COMPLETE_VAR = f"_{PROG.upper()}_COMPLETE"
SHELLS = ("bash", "zsh", "fish")
COLUMNS = 80
# Click wraps help to the terminal width minus 2 (what ``COLUMNS=80`` gives).
HELP_WIDTH = COLUMNS - 2
HELP_ENV: Mapping[str, str | None] = {
    "COLUMNS": str(COLUMNS),
    "NO_COLOR": "1",
    "TERM": "dumb",
    # Typer's test switch changes the --install-completion/--show-completion help.
    "_TYPER_COMPLETE_TEST_DISABLE_SHELL_DETECTION": None,
}

REGENERATE = "python completions/generate.py"
SECTION_CLI_REFERENCE = "cli-reference"
SECTION_EXIT_CODES = "exit-codes"

_INSTALL_HINTS = {
    "bash": "source this file from ~/.bashrc, or copy it to\n"
    "#   ~/.local/share/bash-completion/completions/subctl",
    "zsh": "copy this file to a directory on $fpath as _subctl (e.g. ~/.zfunc/_subctl)",
    "fish": "copy this file to ~/.config/fish/completions/subctl.fish",
}


# --------------------------------------------------------------------------- environment


@contextmanager
def patched_env(overrides: Mapping[str, str | None]) -> Iterator[None]:
    """Set (or, for ``None``, unset) environment variables; restore them afterwards."""
    saved = {name: os.environ.get(name) for name in overrides}
    try:
        for name, value in overrides.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


# --------------------------------------------------------------------------- command tree


@dataclass(frozen=True)
class CommandNode:
    """One visible command or group, with a context like the one ``--help`` would get."""

    path: tuple[str, ...]  # ("subctl",), ("subctl", "list"), ("subctl", "property", "add")
    command: Command
    context: Context

    @property
    def name(self) -> str:
        """The full command line, e.g. ``subctl property add``."""
        return " ".join(self.path)

    @property
    def is_group(self) -> bool:
        from typer.core import TyperGroup

        return isinstance(self.command, TyperGroup)

    def help_text(self) -> str:
        """Plain-text ``--help`` output at a fixed width, lines right-stripped."""
        text = self.command.get_help(self.context)
        return "\n".join(line.rstrip() for line in text.splitlines()).strip("\n") + "\n"


def command_tree() -> list[CommandNode]:
    """Every visible command and group, depth first in registration order, root first.

    Builds a fresh Click tree from the Typer app and switches its help to plain text
    (``rich_markup_mode=None``, what ``TYPER_USE_RICH=0`` does). Contexts are created without
    parsing, so no option callback runs.
    """
    import typer
    import typer.main

    from subctl.cli import app

    with patched_env(HELP_ENV):
        root = typer.main.get_command(app)
        nodes: list[CommandNode] = []

        def visit(command: Command, path: tuple[str, ...], parent: Context | None) -> None:
            settings = {**command.context_settings, "terminal_width": HELP_WIDTH}
            context = typer.Context(command, info_name=path[-1], parent=parent, **settings)
            if hasattr(command, "rich_markup_mode"):
                command.rich_markup_mode = None
            node = CommandNode(path, command, context)
            nodes.append(node)
            if node.is_group:
                from typer.core import TyperGroup

                assert isinstance(command, TyperGroup)
                for name in command.list_commands(context):
                    child = command.get_command(context, name)
                    if child is not None and not child.hidden:
                        visit(child, (*path, name), context)

        visit(root, (PROG,), None)
    return nodes


# --------------------------------------------------------------------------- outputs


def completion_script(shell: str) -> str:
    """What ``_SUBCTL_COMPLETE=source_<shell> subctl`` prints, with a short header."""
    from typer.testing import CliRunner

    from subctl.cli import run

    with CliRunner().isolation(env={COMPLETE_VAR: f"source_{shell}"}) as (out, err, _):
        code = run([])
        sys.stdout.flush()
        script = out.getvalue().decode()
        problem = err.getvalue().decode()
    if code != 0 or not script.strip():
        raise RuntimeError(f"{COMPLETE_VAR}=source_{shell} {PROG} failed ({code}): {problem}")
    header = (
        f"# {PROG} {shell} completion, generated by `{REGENERATE}` from\n"
        f"# `{COMPLETE_VAR}=source_{shell} {PROG}`; do not edit.\n"
        f"# Install: {_INSTALL_HINTS[shell]}.\n"
    )
    lines = [line.rstrip() for line in script.strip("\n").splitlines()]
    if lines and lines[0].startswith("#compdef"):  # zsh: must stay the first line
        return lines[0] + "\n" + header + "\n".join(lines[1:]).rstrip("\n") + "\n"
    return header + "\n" + "\n".join(lines) + "\n"


def cli_reference(nodes: Sequence[CommandNode] | None = None) -> str:
    """The Markdown between the cli-reference markers."""
    nodes = command_tree() if nodes is None else nodes
    parts = [
        f"<!-- Generated by `{REGENERATE}`; do not edit by hand. -->",
        "",
        f"Each command's `--help`, as printed at {COLUMNS} columns (plain text, on a terminal",
        "too).",
    ]
    for node in nodes:
        parts += ["", f"### {node.name}", "", "```text", node.help_text().rstrip("\n"), "```"]
    return "\n".join(parts) + "\n"


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def exit_code_table() -> str:
    """The Markdown between the exit-codes markers."""
    from subctl.errors import EXIT_CODES

    rows = ["| code | meaning |", "|---|---|"]
    rows += [f"| {code} | {_cell(meaning)} |" for code, meaning in EXIT_CODES]
    return "\n".join(rows) + "\n"


def _markers(name: str) -> tuple[str, str]:
    return f"<!-- {name}:start -->", f"<!-- {name}:end -->"


def _section_span(text: str, name: str) -> tuple[int, int]:
    start, end = _markers(name)
    match = re.search(re.escape(start) + r"\n(.*?)" + re.escape(end), text, flags=re.DOTALL)
    if match is None:
        raise ValueError(f"README.md has no '{start}' … '{end}' section")
    return match.start(1), match.end(1)


def read_section(text: str, name: str) -> str:
    """The text between a section's markers (the start marker's newline excluded)."""
    begin, end = _section_span(text, name)
    return text[begin:end]


def replace_section(text: str, name: str, body: str) -> str:
    begin, end = _section_span(text, name)
    return text[:begin] + body + text[end:]


def readme_sections() -> dict[str, str]:
    """Section name → its expected content."""
    return {SECTION_CLI_REFERENCE: cli_reference(), SECTION_EXIT_CODES: exit_code_table()}


@dataclass(frozen=True)
class Target:
    path: Path
    content: str
    stale_parts: tuple[str, ...]  # human-readable: what is out of date

    @property
    def stale(self) -> bool:
        return bool(self.stale_parts)


def _read(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None


def targets() -> list[Target]:
    """Every generated file with its expected content and what in it is stale."""
    result: list[Target] = []
    for shell in SHELLS:
        path = COMPLETIONS_DIR / f"{PROG}.{shell}"
        expected = completion_script(shell)
        current = _read(path)
        stale = () if current == expected else (f"{shell} completion script",)
        result.append(Target(path, expected, stale))
    readme = _read(README)
    if readme is None:
        raise FileNotFoundError(README)
    expected = readme
    stale_sections: list[str] = []
    for name, body in readme_sections().items():
        if read_section(readme, name) != body:
            stale_sections.append(f"section {name}")
            expected = replace_section(expected, name, body)
    result.append(Target(README, expected, tuple(stale_sections)))
    return result


# --------------------------------------------------------------------------- main


def _relative(path: Path) -> str:
    try:
        return str(path.relative_to(ROOT))
    except ValueError:
        return str(path)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="completions/generate.py",
        description="Regenerate shell completions and README's CLI reference and exit codes.",
    )
    parser.add_argument(
        "--check", action="store_true", help="write nothing; exit 1 listing what is stale"
    )
    args = parser.parse_args(argv)
    if str(ROOT) not in sys.path:  # run as a script from anywhere: import this checkout
        sys.path.insert(0, str(ROOT))

    stale = [t for t in targets() if t.stale]
    if args.check:
        for target in stale:
            print(f"stale: {_relative(target.path)} ({', '.join(target.stale_parts)})")
        if stale:
            print(f"run `{REGENERATE}` to regenerate", file=sys.stderr)
            return 1
        print("up to date")
        return 0
    for target in stale:
        target.path.write_text(target.content, encoding="utf-8", newline="\n")
        print(f"wrote {_relative(target.path)} ({', '.join(target.stale_parts)})")
    if not stale:
        print("up to date")
    return 0


if __name__ == "__main__":
    sys.exit(main())
