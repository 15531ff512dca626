"""The CLI's errors and exit codes.

Every failure a user can act on is a :class:`CliError`: a message that says what went
wrong, an optional hint that says what to do, and the exit code a script can test.
:func:`unreachable` is the one for a server that gave no answer (which setting fixes
a TLS failure, which URL to check); :func:`of_server_setup` the one for settings the
server's commands cannot work with.
"""

from __future__ import annotations

import sys
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


def _driver_missing(error: Exception) -> bool:
    """A ModuleNotFoundError raised where a SQLAlchemy dialect imports its driver."""
    if not isinstance(error, ModuleNotFoundError):
        return False
    frame = error.__traceback__
    while frame is not None:
        code = frame.tb_frame.f_code
        if code.co_name == "import_dbapi" and "sqlalchemy" in code.co_filename:
            return True
        frame = frame.tb_next
    return False


def of_server_setup(error: Exception) -> CliError | None:
    """The CLI error for settings that ``keyplane server`` or ``keyplane admin`` cannot
    work with: a value that is not valid (exit 2), a database that cannot be reached or
    opened (exit 1). None for any other error: a bug, which keeps its traceback."""
    # Only those commands import the settings and SQLAlchemy, which a CLI installed
    # without the server does not even have: an error of neither is neither's.
    config, database = sys.modules.get("keyplane.config"), sys.modules.get("sqlalchemy.exc")
    if config is not None and isinstance(error, config.SettingsError):
        return UsageError(str(error))
    if database is not None and (
        isinstance(error, database.NoSuchModuleError) or _driver_missing(error)
    ):
        return UsageError(
            "KEYPLANE_DATABASE_URL: keyplane runs on SQLite (sqlite:///PATH) and PostgreSQL "
            "(postgresql+psycopg://…); the database it names needs a driver keyplane does "
            "not have"
        )
    # An OperationalError outside any statement: connecting, or opening the file.
    if (
        database is not None
        and isinstance(error, database.OperationalError)
        and error.statement is None
    ):
        reason = str(error.orig).splitlines()[0]
        return CliError(
            f"KEYPLANE_DATABASE_URL: the database cannot be used: {reason}",
            hint="check KEYPLANE_DATABASE_URL, and that the database is running and "
            "accepts connections from here",
        )
    return None
