"""How API errors become CLI errors: the exit code a script sees and the hint a person reads."""

from __future__ import annotations

import pytest

from keyplane.cli.credentials import Credential
from keyplane.cli.errors import ExitCode
from keyplane.cli.explain import explain
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


def _session(roles: list[dict[str, str]]) -> object:
    from keyplane.cli.context import Session

    me = {"kind": "ORGANIZATION_TOKEN", "name": "ci", "id": "t1", "roles": roles}
    return Session(client=None, credential=CREDENTIAL, me=me, org_id="o1")  # type: ignore[arg-type]


def test_a_403_names_the_permission_from_the_body_field() -> None:
    session = _session([{"entityType": "WORKSPACE", "entityId": "w1", "role": "WORKSPACE_MEMBER"}])
    error = ApiError(403, "forbidden", "r", body={"missingPermission": "workspace.tokens:manage"})
    hint = explain(error, CREDENTIAL, session).hint  # type: ignore[arg-type]
    assert hint and "workspace.tokens:manage needs at least WORKSPACE_OWNER" in hint


def test_a_403_without_the_field_falls_back_to_the_message() -> None:
    session = _session([])
    error = ApiError(403, "missing permission deployment:deploy", "r")
    hint = explain(error, CREDENTIAL, session).hint  # type: ignore[arg-type]
    assert hint and "deployment:deploy needs at least WORKSPACE_AUTHOR" in hint


def test_a_403_for_a_policy_names_no_role() -> None:
    """CI/CD enforcement refuses an owner, who holds deployment:deploy: no advice to
    get a role they already have."""
    session = _session(
        [{"entityType": "ORGANIZATION", "entityId": "o1", "role": "ORGANIZATION_OWNER"}]
    )
    error = ApiError(403, "deployment d1 enforces CI/CD: deploys must come from …", "r")
    explained = explain(error, CREDENTIAL, session)  # type: ignore[arg-type]
    assert explained.hint is None and "enforces CI/CD" in explained.message


@pytest.mark.parametrize(
    ("roles", "lacks"),
    [
        ([{"entityType": "ORGANIZATION", "entityId": "o1", "role": "ORGANIZATION_MEMBER"}], True),
        ([{"entityType": "ORGANIZATION", "entityId": "o1", "role": "ORGANIZATION_OWNER"}], False),
        ([{"entityType": "WORKSPACE", "entityId": "w1", "role": "WORKSPACE_MEMBER"}], False),
    ],
)
def test_which_organization_tokens_see_no_workspace(
    roles: list[dict[str, str]], lacks: bool
) -> None:
    assert _session(roles).lacks_workspace_roles() is lacks  # type: ignore[attr-defined]
