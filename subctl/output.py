"""The single output sink: data to stdout, everything else (messages, warnings, hints, progress,
prompts) to stderr. Commands never print directly.

``--format auto`` is a Rich table on a TTY and JSON otherwise. Colour follows the terminal and
``NO_COLOR``. Human output (tables, messages) shows control characters as escapes
(``export.values.visible``); machine formats keep the data exact.

Long tables on a terminal go through a pager, as gh does: ``SUBCTL_PAGER``, else ``PAGER``
(set and empty: no pager), else ``less -FRX`` (which exits at once when the table fits).
"""

from __future__ import annotations

import functools
import io
import itertools
import os
import sys
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING, Any, Protocol, TextIO, cast

from subctl.errors import Aborted, SubctlError
from subctl.export import Column
from subctl.export.values import visible

if TYPE_CHECKING:
    from rich.console import Console, Group


# -- documents: what a command hands the sink for one thing (``view``, ``property view``, …) --


@dataclass(frozen=True)
class Heading:
    """A bold line; with a note (even empty), two spaces and the note in italics."""

    text: str
    note: str | None = None


MIN_VALUES = 30  # columns the values of ``Pairs`` keep beside long labels


@dataclass(frozen=True)
class Pairs:
    """A titled section of (label, value) rows."""

    title: str
    rows: Sequence[tuple[str, str]]


@dataclass(frozen=True)
class Records:
    """A titled table of records (a few rows, e.g. payments), fitted to the terminal."""

    title: str
    rows: Sequence[Mapping[str, Any]]
    columns: Sequence[Column]


@dataclass(frozen=True)
class Paragraph:
    """Plain text; newlines kept."""

    text: str


@dataclass(frozen=True)
class Chart:
    """A terminal chart: per series (name -> values) bars or a sparkline (``export/chart.py``)."""

    labels: Sequence[str]
    series: Mapping[str, Sequence[float]]


Block = Heading | Pairs | Records | Paragraph | Chart


@dataclass(frozen=True)
class Document:
    """One thing in every format: ``data`` for JSON (indented) and NDJSON (one line), ``rows``
    under ``columns`` for CSV, and ``blocks`` for a table (none: ``rows`` as a table)."""

    data: Mapping[str, Any]
    rows: Sequence[Mapping[str, Any]]
    columns: Sequence[Column]
    blocks: Sequence[Block] = ()


FIELD_VALUE = (Column("field", "Field"), Column("value", "Value"))


def field_rows(data: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The scalar entries of a document as (field, value) rows, for CSV."""
    return [{"field": k, "value": v} for k, v in data.items() if not isinstance(v, list | dict)]


def pairs_table(title: str, pairs: Sequence[tuple[str, str]], width: int) -> Group:
    """A titled two-column table of (label, value) pairs within ``width``: the one renderer of
    ``Pairs``. The labels' column is as wide as the longest label, and never narrower than its
    longest word (``Start date (hs_recurring_billing_start_date)`` wraps between the two, not
    inside the internal name) while the values keep ``MIN_VALUES`` columns; a narrower
    terminal folds words."""
    from rich import box
    from rich.console import Group
    from rich.table import Table
    from rich.text import Text

    labels = [visible(key) for key, _ in pairs]
    longest = max((len(label) for label in labels), default=1)
    word = max((len(w) for label in labels for w in label.split()), default=1)
    room = max(width - 3, 2)  # the columns' padding
    label_width = min(longest, max(word, room * 2 // 5), max(room - MIN_VALUES, room // 2))
    table = Table(box=box.SIMPLE, show_header=False, pad_edge=False, expand=True)
    table.add_column(style="dim", overflow="fold", width=max(label_width, 1))
    table.add_column(overflow="fold", ratio=1)  # the rest of the width
    for label, (_, value) in zip(labels, pairs, strict=True):
        # plain text (values are data, never Rich markup), control characters shown as escapes
        table.add_row(Text(label), Text(visible(value, newlines=True)))
    return Group(Text(visible(title), style="bold"), table)


def render_blocks(blocks: Sequence[Block], width: int) -> Group:
    """The blocks as one Rich renderable within ``width`` (the terminal's)."""
    from rich.console import Group
    from rich.text import Text

    from subctl.export.table import fitted_table

    parts: list[Any] = []
    for block in blocks:
        if isinstance(block, Heading):
            if block.note is None:
                heading = Text(visible(block.text), style="bold")
            else:
                heading = Text(f"{visible(block.text)}  ", style="bold")
                heading.append(visible(block.note), style="italic")
            parts.append(heading)
        elif isinstance(block, Pairs):
            parts.append(pairs_table(block.title, block.rows, width))
        elif isinstance(block, Records):
            notes: list[str] = []
            table = fitted_table(block.rows, block.columns, width, note=notes.append)
            parts.append(Group(Text(visible(block.title), style="bold"), table))
            parts.extend(Text(visible(n), style="dim") for n in notes)
        elif isinstance(block, Chart):
            from subctl.export import chart

            parts.append(chart.render(block.labels, block.series, width))
        else:
            parts.append(Text(visible(block.text, newlines=True)))
    return Group(*parts)


class Format(StrEnum):
    AUTO = "auto"
    TABLE = "table"
    JSON = "json"
    NDJSON = "ndjson"
    CSV = "csv"
    IDS = "ids"  # one record id a line, for pipes (``--from-file -`` reads it back)


def write_ids(rows: Iterable[Mapping[str, Any]], stream: TextIO) -> int:
    """``--format ids``: each row's record id (``hs_object_id``, else ``id``), one a line."""
    count = 0
    for row in rows:
        value = row.get("hs_object_id", row.get("id"))
        if value is None:
            from subctl.errors import UsageError

            raise UsageError("--format ids needs rows with an id; use json or csv here")
        stream.write(f"{value}\n")
        count += 1
    return count


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


def answer(prompt: Any) -> Any:
    """A prompt's answer (questionary). Ctrl-C or end of input at a prompt ends the command
    (exit 130) before anything changed, never "no" (which may go on) and never a message on
    stdout."""
    try:
        return prompt.unsafe_ask()
    except (KeyboardInterrupt, EOFError):
        raise Aborted("interrupted at a prompt; nothing was changed") from None


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

    def console(self, stream: TextIO | None = None, *, width: int | None = None) -> Console:
        return _console_class()(
            file=stream or self.stdout, no_color=self.no_color, highlight=False, width=width
        )

    @staticmethod
    def pager_command() -> list[str] | None:
        """``SUBCTL_PAGER``, else ``PAGER``, else ``less -FRX``; set and empty means none."""
        import shlex

        for name in ("SUBCTL_PAGER", "PAGER"):
            if name in os.environ:
                command = os.environ[name].strip()
                return shlex.split(command) if command else None
        return ["less", "-FRX"]

    @contextmanager
    def paged(self, enabled: bool) -> Iterator[TextIO]:
        """A stream for a long table: the pager's input when ``enabled`` and stdout is a
        terminal, else stdout. Quitting the pager early ends the output quietly."""
        command = self.pager_command() if enabled and self.is_tty else None
        if command is None:
            yield self.stdout
            return
        import subprocess

        self.stdout.flush()
        try:
            pager = subprocess.Popen(command, stdin=subprocess.PIPE, text=True, encoding="utf-8")
        except OSError as exc:
            self.warn(f"pager {command[0]!r} did not start ({exc.strerror}); not paging")
            yield self.stdout
            return
        assert pager.stdin is not None
        try:
            yield cast(TextIO, pager.stdin)
            pager.stdin.close()
        except BrokenPipeError:  # the pager was quit before the end
            pass
        finally:
            try:
                pager.stdin.close()
            except OSError:
                pass
            pager.wait()

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
        page: bool = False,
        footer: Callable[[int], str | None] | None = None,
    ) -> int:
        """Write rows in the format; returns the count. Tables use headers, data formats keys.

        ``page``: a table may be long (no limit); on a terminal it goes through the pager.
        ``footer(count)``: a line for after the rows (e.g. that the result was cut): under a
        table, and on stderr unless a table went to the terminal, where it was just seen.
        """
        fmt = self.resolve(fmt)
        keyed = [Column(c.key, c.key) for c in columns]
        rows = _started(rows)
        count = 0
        below: str | None = None
        with self._data():
            if fmt is Format.TABLE:
                from rich.text import Text

                from subctl.export.table import render_table

                width = self.console().width
                notes: list[str] = []  # said once the pager has closed, not under it
                count = -1
                with self.paged(page) as stream:
                    console = self.console(stream, width=width)
                    count = render_table(rows, columns, console, note=notes.append)
                    below = footer(count) if footer is not None and count else None
                    if below:
                        console.print(Text(visible(below), style="dim"))
                if count < 0:  # the pager was quit before the end: the reader has seen enough
                    return 0
                for note in notes:
                    self.message(note)
                if self.is_tty:
                    below = None
            else:
                if fmt is Format.IDS:
                    count = write_ids(rows, self.stdout)
                else:
                    from subctl.export import writers

                    spec = writers.for_format(fmt.value)
                    options = writers.WriteOptions(terminal=fmt is Format.CSV and self.is_tty)
                    count = spec.write(rows, keyed, self.stdout, options)
                below = footer(count) if footer is not None and count else None
            # Inside: when stdout's reader has gone, there is nothing to say about the rows.
            if below:
                self.message(below)
            if count == 0 and empty:
                self.message(empty)
        return count

    def document(self, data: Mapping[str, Any], *, compact: bool = False) -> None:
        """One JSON document: indented, or on one line (``compact``, for NDJSON)."""
        from subctl.export.jsonfmt import write_document

        with self._data():
            write_document(data, self.stdout, indent=None if compact else 2)

    def detail(self, doc: Document, fmt: Format) -> None:
        """One thing (``view``, ``property view``, ``views show``) in the format: a table shows
        its blocks (or its rows as a table), CSV its rows, JSON and NDJSON its data."""
        fmt = self.resolve(fmt)
        if fmt is Format.IDS:
            from subctl.errors import UsageError

            raise UsageError("--format ids lists the ids of rows; this shows one document")
        if fmt is Format.TABLE and doc.blocks:
            with self._data():
                console = self.console()
                console.print(render_blocks(doc.blocks, console.width))
        elif fmt in (Format.TABLE, Format.CSV):
            self.rows(doc.rows, doc.columns, fmt, empty="")
        else:
            self.document(doc.data, compact=fmt is Format.NDJSON)

    def result(self, doc: Document, fmt: Format, message: str) -> None:
        """What a change did (``associate``, ``property create``/``edit``): JSON, NDJSON and CSV
        put the document on stdout; a table shows only ``message``, which is said (stderr) in
        every format."""
        if self.resolve(fmt) is not Format.TABLE:
            self.detail(doc, fmt)
        self.success(message)

    def text(self, line: str) -> None:
        """One plain value to stdout (``config get``); on a terminal, control characters are
        shown escaped, never sent raw."""
        if self.is_tty:
            line = visible(line)
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
        """A line (or lines) on stderr; values interpolated into it cannot drive the terminal."""
        self.stderr.write(visible(text, newlines=True) + "\n")
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

    def prompt_output(self) -> Any:
        """Where prompts draw: stderr, as prompt_toolkit's terminal output (stdout stays data)."""
        from prompt_toolkit.output import create_output

        return create_output(stdout=self.stderr)

    @contextmanager
    def progress(
        self, description: str, total: int | None, *, unit: str | None = None
    ) -> Iterator[Any]:
        """A Rich progress bar on stderr when it is a TTY; yields ``advance(n, total=None)``
        (``total``: the total became known, ``sync``). With ``unit`` (``subscriptions``):
        done / total, the rate per second and the time left."""
        if not self._isatty(self.stderr):
            yield lambda n=1, total=None: None
            return
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            ProgressColumn,
            TextColumn,
            TimeRemainingColumn,
        )
        from rich.text import Text

        columns: list[Any] = []
        if unit is not None:

            class Rate(ProgressColumn):
                def render(self, task: Any) -> Text:
                    speed = task.finished_speed or task.speed
                    return Text("" if speed is None else f"{speed:,.0f} {unit}/s")

            columns = [TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                       Rate(), TimeRemainingColumn()]  # fmt: skip
        with Progress(*columns, console=self.console(self.stderr), transient=True) as bar:
            task = bar.add_task(visible(description), total=total)

            def advance(n: int = 1, total: int | None = None) -> None:
                if total is not None:
                    bar.update(task, total=total)
                bar.advance(task, n)

            yield advance


# -- prompts ---------------------------------------------------------------------------------

Check = Callable[[str], object]  # raises a SubctlError for a bad answer, which is asked again


def validator(check: Check) -> Callable[[str], bool | str]:
    """For questionary's ``validate=``: True for a good answer, else the error, shown under the
    answer, which is then asked again."""

    def validate(text: str) -> bool | str:
        try:
            check(text)
        except SubctlError as exc:
            return exc.message
        return True

    return validate


class Prompter(Protocol):
    """How a command asks a person (``AppContext.prompter``): on a terminal, questionary on
    stderr; in tests, a scripted one. Ctrl-C or end of input at a question is ``Aborted``."""

    @property
    def interactive(self) -> bool:
        """Whether there is anyone to ask (stdin and stderr are a terminal)."""
        ...

    def confirm(self, question: str, *, default: bool = False) -> bool: ...

    def text(self, question: str, *, default: str = "", check: Check | None = None) -> str: ...

    def select(
        self, question: str, choices: Sequence[str], *, default: str | None = None
    ) -> str: ...

    def checkbox(self, question: str, choices: Sequence[str]) -> list[str]:
        """At least one of the choices."""
        ...

    def autocomplete(self, question: str, choices: Sequence[str], *, check: Check) -> str: ...

    def secret(self, question: str) -> str:
        """A hidden answer (a token): never echoed."""
        ...


class QuestionaryPrompter:
    """Questions drawn on stderr by questionary (imported on the first question)."""

    def __init__(self, out: Output) -> None:
        self.out = out

    @property
    def interactive(self) -> bool:
        return self.out.can_prompt

    def confirm(self, question: str, *, default: bool = False) -> bool:
        import questionary

        return bool(answer(questionary.confirm(question, default=default, output=self._output())))

    def text(self, question: str, *, default: str = "", check: Check | None = None) -> str:
        import questionary

        validate = validator(check) if check else None
        prompt = questionary.text(question, default=default, validate=validate,
                                  output=self._output())  # fmt: skip
        return str(answer(prompt))

    def select(self, question: str, choices: Sequence[str], *, default: str | None = None) -> str:
        import questionary

        prompt = questionary.select(question, choices=list(choices), default=default,
                                    output=self._output())  # fmt: skip
        return str(answer(prompt))

    def checkbox(self, question: str, choices: Sequence[str]) -> list[str]:
        import questionary

        prompt = questionary.checkbox(
            question,
            choices=list(choices),
            validate=lambda picked: bool(picked) or "pick at least one value",
            output=self._output(),
        )
        return [str(c) for c in answer(prompt)]

    def autocomplete(self, question: str, choices: Sequence[str], *, check: Check) -> str:
        import questionary

        prompt = questionary.autocomplete(
            question, choices=list(choices), validate=validator(check), output=self._output()
        )
        return str(answer(prompt))

    def secret(self, question: str) -> str:
        import questionary

        return str(answer(questionary.password(question, output=self._output())))

    def _output(self) -> Any:
        return self.out.prompt_output()


def _started(rows: Iterable[Mapping[str, Any]]) -> Iterator[Mapping[str, Any]]:
    """The rows with the first already read: an error at the start of a read (a query a store
    refuses, a segment's list not found) is raised before a writer puts its header on stdout
    (nothing on stdout before an error). One row held: memory stays flat."""
    it = iter(rows)
    for first in it:
        return itertools.chain((first,), it)
    return iter(())
