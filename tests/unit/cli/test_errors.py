"""How API errors become CLI errors: the exit code a script sees and the hint a person reads."""

from __future__ import annotations

import pytest

from keyplane.cli.context import explain
from keyplane.cli.credentials import Credential
from keyplane.cli.errors import ExitCode
from keyplane.client import ApiError

CREDENTIAL = Credential(bearer="kpw_x", source="ASTRO_API_TOKEN")


@pytest.mark.parametrize(
    ("status", "code"),
    [
        (400, ExitCode.USAGE),
        (401, ExitCode.NOT_AUTHENTICATED),
        (403, ExitCode.PERMISSION_DENIED),
        (404, ExitCode.NOT_FOUND),
        (409, ExitCode.FAILURE),
        (429, ExitCode.FAILURE),
        (500, ExitCode.FAILURE),
    ],
)
def test_exit_code_of_each_status(status: int, code: ExitCode) -> None:
    assert explain(ApiError(status, "nope", "req-1"), CREDENTIAL, None).exit_code == code


def test_invalid_input_lists_the_fields() -> None:
    error = explain(
        ApiError(400, "invalid request: see fieldErrors", "r", {"role": "unknown role"}),
        CREDENTIAL,
        None,
    )
    assert error.message == "invalid request: see fieldErrors (role: unknown role)"


def test_server_failure_gives_the_request_id() -> None:
    error = explain(ApiError(500, "internal error", "req-42"), CREDENTIAL, None)
    assert error.hint and "req-42" in error.hint


def test_unauthenticated_names_where_the_credential_came_from() -> None:
    error = explain(ApiError(401, "unknown API token"), CREDENTIAL, None)
    assert error.hint and "ASTRO_API_TOKEN" in error.hint
    assert "kpw_x" not in f"{error.message} {error.hint}"
