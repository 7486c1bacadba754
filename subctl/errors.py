"""Typed errors with exit codes. Raised anywhere, mapped to output once in ``cli.main()``.

| code | meaning                                    |
|------|--------------------------------------------|
| 0    | success, including empty results           |
| 1    | unexpected / internal error                |
| 2    | usage error (bad flag value, bad query)    |
| 3    | not found                                  |
| 4    | authentication / permission                |
| 5    | invalid state / conflict                   |
| 6    | workspace or remote unavailable            |
| 130  | aborted (confirmation declined, Ctrl-C)    |
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Self


class Action(StrEnum):
    """What a person can do next about an error, in the services' terms; the command layer
    words it (a command line, a flag) as the error's hint (``commands/_hints.py``)."""

    REPLACE_CONTACT = "replace_contact"  # sub, record (None: a record to create)
    REMOVE_PAYMENT = "remove_payment"  # sub, record: from the subscription that holds it
    SET_TIER = "set_tier"  # tier
    GRANT = "grant"  # permission
    LIST_PROPERTIES = "list_properties"
    VIEW_PROPERTY = "view_property"  # name
    EDIT_PROPERTY_HELP = "edit_property_help"
    LEAVE_ONE_VALUE = "leave_one_value"  # property: list its subscriptions with several values
    CHANGE_VALUES = "change_values"  # property, values (None: every value of a multi-value one)
    EXAMPLE = "example"  # input, values: e.g. the input given with each of the values
    SELECT = "select"  # how to select subscriptions for a batch
    NEW_PLAN = "new_plan"  # write a new plan (a dry run)
    USE_VERB = "use_verb"  # status: the verbs that set a status
    REFUND_PENDING = "refund_pending"  # sub: refund its pending bank payments
    CANCEL_NOW = "cancel_now"  # sub: cancel it immediately (its period is over)
    RETRY_BATCH = "retry_batch"  # run a batch again, or resume its job
    RESUME_JOB = "resume_job"  # job: an unfinished job, stopped by an error between chunks
    LIST_VIEWS = "list_views"
    LIST_JOBS = "list_jobs"
    CREATE_WORKSPACE = "create_workspace"  # path (None: the default one), demo: or sample data
    ADOPT_WORKSPACE = "adopt_workspace"  # path: add subctl's tables to a foreign database
    UPGRADE_WORKSPACE = "upgrade_workspace"  # path
    NAME_WORKSPACE_FILE = "name_workspace_file"  # path: a directory given as the workspace
    CHOOSE_WORKSPACE = "choose_workspace"  # check the path, or choose another workspace
    RECOVER_WORKSPACE = "recover_workspace"  # where: a damaged SQLite file
    WORK_ON_COPY = "work_on_copy"  # a read-only workspace
    INSTALL_DRIVER = "install_driver"  # extra: the package extra with the database driver
    FIND_DUPLICATES = "find_duplicates"  # property: values of a unique property shared


@dataclass(frozen=True)
class Next:
    """A typed next step: an ``Action`` and its arguments."""

    action: Action
    args: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Opt:
    """An input named in a message, in the services' terms (``Opt("refund", "unused")``); the
    command layer words it as the user types it (``--refund unused``)."""

    input: str
    value: str | None = None

    def __str__(self) -> str:
        return self.input if self.value is None else f"{self.input} {self.value}"


@dataclass(frozen=True)
class Call:
    """A command named in a message: its verb and inputs, and whether it is named with the
    program (``subctl cancel``) or as a verb of it (``update --set status=unpaid``)."""

    verb: str
    opts: tuple[Opt, ...] = ()
    program: bool = True

    def __str__(self) -> str:
        return " ".join([self.verb, *map(str, self.opts)])


Words = tuple[str | Opt | Call, ...]
"""A text naming inputs and commands: its parts, joined."""


class SubctlError(Exception):
    """Base class: a one-line message, an optional hint, a class-level exit code.

    ``detail`` is optional context printed under the message, e.g. a query with a caret under
    the offending position. ``next``: a typed next step, which the command layer words as the
    hint when there is none.
    """

    exit_code = 1

    def __init__(
        self,
        message: str,
        hint: str | None = None,
        detail: str | None = None,
        *,
        next: Next | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint
        self.detail = detail
        self.next = next
        self.words: Words | None = None

    @classmethod
    def naming(
        cls, *words: str | Opt | Call, hint: str | None = None, next: Next | None = None
    ) -> Self:
        """An error whose message names inputs (``Opt``), which the command layer words."""
        exc = cls("".join(map(str, words)), hint, next=next)
        exc.words = words
        return exc

    def reworded(self, message: str) -> None:
        """The message as the command layer words it."""
        self.message = message
        self.args = (message,)


class UsageError(SubctlError):
    exit_code = 2


class InputError(UsageError):
    """A bad value of one input, named by ``input`` in the services' terms (``due_before``,
    ``create``, ``line_item``, ``cap``, ``option``, ``unique``); the command layer names it as
    the user gave it (``--due-before``). The message is the input, ``sep``, then ``problem``."""

    def __init__(
        self,
        input: str,
        problem: str,
        *,
        sep: str = ": ",
        hint: str | None = None,
        next: Next | None = None,
    ) -> None:
        super().__init__(f"{input}{sep}{problem}", hint, next=next)
        self.input = input
        self.problem = problem
        self.sep = sep

    def worded(self, name: str) -> None:
        """Name the input as the user gave it."""
        self.reworded(f"{name}{self.sep}{self.problem}")


class ConfirmationRequired(UsageError):
    """A destructive verb ran without a TTY and without ``--yes``."""


class NotFound(SubctlError):
    exit_code = 3


class AuthError(SubctlError):
    exit_code = 4


class InvalidState(SubctlError):
    exit_code = 5


class Conflict(InvalidState):
    pass


class StoreUnavailable(SubctlError):
    exit_code = 6


class InDoubt(StoreUnavailable):
    """A change sent to a remote store whose answer was lost (a timeout or a 5xx after the
    request went out): it may or may not have been applied. Never retried blindly: the
    caller re-reads the record to find out (``store/http/writes.py``)."""


class DiskFull(StoreUnavailable):
    """No space left for the workspace or a file subctl writes (ENOSPC, SQLite's "database or
    disk is full")."""


class Aborted(SubctlError):
    exit_code = 130


EXIT_CODES: tuple[tuple[int, str], ...] = (
    (0, "success, including empty results"),
    (1, "unexpected internal error"),
    (UsageError.exit_code, "usage error: bad option value, bad query, missing --yes off a TTY"),
    (NotFound.exit_code, "not found"),
    (AuthError.exit_code, "authentication or permission"),
    (InvalidState.exit_code, "invalid state or conflict"),
    (StoreUnavailable.exit_code, "workspace or remote unavailable"),
    (Aborted.exit_code, "aborted: confirmation declined or Ctrl-C"),
)
