"""The single output sink: data to stdout, everything else (messages, warnings, hints, progress,
prompts) to stderr. Commands never print directly.

``--format auto`` is a Rich table on a TTY and JSON otherwise. Colour follows the terminal and
``NO_COLOR``.
"""

from __future__ import annotations

import functools
import io
import os
import sys
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from enum import StrEnum
from typing import TYPE_CHECKING, Any, TextIO

from subctl.errors import Aborted, ConfirmationRequired
from subctl.export import Column

if TYPE_CHECKING:
    from rich.console import Console


class Format(StrEnum):
    AUTO = "auto"
    TABLE = "table"
    JSON = "json"
    NDJSON = "ndjson"
    CSV = "csv"


def silence(stream: TextIO) -> None:
    """Send what is still written to a stream whose reader has gone (a closed pipe) nowhere,
    the buffered rest included, so that later writes and the flush at exit do not fail."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, stream.fileno())
        os.close(devnull)
    except (OSError, ValueError, io.UnsupportedOperation):  # not a file descriptor (tests)
        pass


@functools.cache
def _console_class() -> type[Console]:
    """Rich's Console, except that a closed pipe is left to ``Output`` instead of Rich's exit
    code 1."""
    from rich.console import Console

    class _Console(Console):
        def on_broken_pipe(self) -> None:
            self.quiet = True
            raise BrokenPipeError

    return _Console


class Output:
    def __init__(
        self,
        stdout: TextIO | None = None,
        stderr: TextIO | None = None,
        stdin: TextIO | None = None,
    ) -> None:
        self.stdout = stdout or sys.stdout
        self.stderr = stderr or sys.stderr
        self.stdin = stdin or sys.stdin
        self.no_color = "NO_COLOR" in os.environ

    # -- terminals -------------------------------------------------------------------------

    @staticmethod
    def _isatty(stream: TextIO) -> bool:
        try:
            return stream.isatty()
        except (AttributeError, ValueError):
            return False

    @property
    def is_tty(self) -> bool:
        return self._isatty(self.stdout)

    @property
    def can_prompt(self) -> bool:
        return self._isatty(self.stdin) and self._isatty(self.stderr)

    def console(self, stream: TextIO | None = None) -> Console:
        return _console_class()(file=stream or self.stdout, no_color=self.no_color, highlight=False)

    def resolve(self, fmt: Format) -> Format:
        if fmt is Format.AUTO:
            return Format.TABLE if self.is_tty else Format.JSON
        return fmt

    # -- data ------------------------------------------------------------------------------

    def rows(
        self,
        rows: Iterable[Mapping[str, Any]],
        columns: Sequence[Column],
        fmt: Format,
        *,
        empty: str = "No subscriptions found.",
    ) -> int:
        """Write rows in the format; returns the count. Tables use headers, data formats keys."""
        fmt = self.resolve(fmt)
        keyed = [Column(c.key, c.key) for c in columns]
        count = 0
        with self._data():
            if fmt is Format.TABLE:
                from subctl.export.table import render_table

                count = render_table(rows, columns, self.console())
            elif fmt is Format.CSV:
                from subctl.export.csvfmt import write_csv

                count = write_csv(rows, keyed, self.stdout)
            elif fmt is Format.NDJSON:
                from subctl.export.jsonfmt import write_ndjson

                count = write_ndjson(rows, keyed, self.stdout)
            else:
                from subctl.export.jsonfmt import write_json

                count = write_json(rows, keyed, self.stdout)
            if count == 0 and empty:
                self.message(empty)
        return count

    def document(self, data: Mapping[str, Any], *, compact: bool = False) -> None:
        """One JSON document: indented, or on one line (``compact``, for NDJSON)."""
        from subctl.export.jsonfmt import write_document

        with self._data():
            write_document(data, self.stdout, indent=None if compact else 2)

    def text(self, line: str) -> None:
        """One plain value to stdout (``config get``); on a terminal, control characters are
        shown escaped, never sent raw."""
        if self.is_tty:
            line = "".join(c if c.isprintable() else repr(c)[1:-1] for c in line)
        with self._data():
            self.stdout.write(line + "\n")

    def print(self, renderable: Any) -> None:
        """A Rich renderable to stdout (human detail views)."""
        with self._data():
            self.console().print(renderable)

    @contextmanager
    def _data(self) -> Iterator[None]:
        """Writing data to stdout. When its reader has gone (``subctl list | head``), the rest
        of the data goes nowhere and the command runs on to its own exit code: 0 for a listing,
        non-zero for a batch with failures."""
        try:
            yield
        except BrokenPipeError:
            silence(self.stdout)

    # -- messages (stderr) -----------------------------------------------------------------

    def message(self, text: str) -> None:
        self.stderr.write(text + "\n")
        self.stderr.flush()

    def success(self, text: str) -> None:
        self.message(f"✔ {text}")

    def warn(self, text: str) -> None:
        self.message(f"Warning: {text}")

    def error(self, text: str, hint: str | None = None, detail: str | None = None) -> None:
        self.message(f"Error: {text}")
        if detail:
            self.message(detail)
        if hint:
            self.message(f"Hint: {hint}")

    # -- interaction -----------------------------------------------------------------------

    def confirm(self, question: str, *, yes: bool) -> None:
        """Ask before a destructive step. Off a TTY, ``--yes`` is required; declining aborts."""
        if yes:
            return
        if not self.can_prompt:
            raise ConfirmationRequired(
                f"{question.rstrip('?')}: confirmation required", hint="pass --yes to confirm"
            )
        import questionary

        answer = questionary.confirm(question, default=False, output=self.prompt_output()).ask()
        if not answer:
            raise Aborted("aborted")

    def prompt_output(self) -> Any:
        """Where prompts draw: stderr, as prompt_toolkit's terminal output (stdout stays data)."""
        from prompt_toolkit.output import create_output

        return create_output(stdout=self.stderr)

    @contextmanager
    def progress(self, description: str, total: int | None) -> Iterator[Any]:
        """A Rich progress bar on stderr when it is a TTY; yields ``advance(n)``."""
        if not self._isatty(self.stderr):
            yield lambda n=1: None
            return
        from rich.progress import Progress

        with Progress(console=self.console(self.stderr), transient=True) as bar:
            task = bar.add_task(description, total=total)
            yield lambda n=1: bar.advance(task, n)
