"""The CLI's errors and exit codes.

Every failure a user can act on is a :class:`CliError`: a message that says what went
wrong, an optional hint that says what to do, and the exit code a script can test.
:func:`unreachable` is the one for a server that gave no answer (which setting fixes
a TLS failure, which URL to check).
"""

from __future__ import annotations

from enum import IntEnum
from typing import Any


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


def of_domain(error: Any) -> CliError:
    """The error of an admin command for a domain error (``keyplane.domain.errors``) raised
    on the database: the exit code the API's answer to it would give."""
    kind = {400: UsageError, 401: NotAuthenticated, 403: PermissionDenied, 404: NotFound}
    return kind.get(error.status_code, CliError)(error.message)


def unreachable(error: Any) -> CliError:
    """The CLI error for a server that gave no HTTP answer (a ServerUnreachable)."""
    if error.tls:
        from keyplane.client import CA_BUNDLE_VAR

        return CliError(
            str(error),
            hint=f"if the server uses a private CA, point {CA_BUNDLE_VAR} at its CA bundle "
            "(a PEM file); if it serves plain http, write KEYPLANE_URL with http://",
        )
    if error.closed:
        return CliError(
            str(error),
            hint="the server or a proxy in front of it closed the connection mid-request "
            "(a proxy's body size or time limit, a restart): try again, and if it persists "
            "ask the operator to look at the server's log",
        )
    return CliError(
        str(error), hint=f"check KEYPLANE_URL ({error.base_url}) and that the server is running"
    )
