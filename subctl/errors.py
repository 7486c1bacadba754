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
from typing import Any


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


@dataclass(frozen=True)
class Next:
    """A typed next step: an ``Action`` and its arguments."""

    action: Action
    args: Mapping[str, Any] = field(default_factory=dict)


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
        self.message = f"{name}{self.sep}{self.problem}"
        self.args = (self.message,)


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
