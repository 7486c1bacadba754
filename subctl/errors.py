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


class SubctlError(Exception):
    """Base class: a one-line message, an optional hint, a class-level exit code.

    ``detail`` is optional context printed under the message, e.g. a query with a caret under
    the offending position.
    """

    exit_code = 1

    def __init__(self, message: str, hint: str | None = None, detail: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint
        self.detail = detail


class UsageError(SubctlError):
    exit_code = 2


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
