"""The CLI's errors and exit codes.

Every failure a user can act on is a :class:`CliError`: a message that says what went
wrong, an optional hint that says what to do, and the exit code a script can test.
"""

from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    OK = 0
    FAILURE = 1
    USAGE = 2
    NOT_AUTHENTICATED = 3
    PERMISSION_DENIED = 4
    NOT_FOUND = 5


class CliError(Exception):
    exit_code = ExitCode.FAILURE

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint


class UsageError(CliError):
    """The command line asks for something that cannot be done as written."""

    exit_code = ExitCode.USAGE


class NotAuthenticated(CliError):
    """No usable credential: none set, malformed, unknown, expired, rotated or deleted."""

    exit_code = ExitCode.NOT_AUTHENTICATED


class PermissionDenied(CliError):
    exit_code = ExitCode.PERMISSION_DENIED


class NotFound(CliError):
    exit_code = ExitCode.NOT_FOUND
