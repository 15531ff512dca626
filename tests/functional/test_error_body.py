"""The error body names the missing permission on a 403, and the API docs say so."""

from __future__ import annotations

from keyplane.domain.roles import Role
from tests.factories import bearer


def test_a_403_names_the_missing_permission(world) -> None:
    member = bearer(world.token("ORGANIZATION", None, Role.ORGANIZATION_MEMBER))
    orgs = f"/v1/organizations/{world.org.id}"
    refused = world.client.post(f"{orgs}/workspaces", json={"name": "x"}, headers=member)
    assert refused.status_code == 403
    body = refused.json()
    assert body["missingPermission"] == "workspace:create"
    assert body["message"] == "missing permission workspace:create"
    hidden = world.client.get(f"/v1/organizations/{world.other.id}", headers=member)
    assert hidden.status_code == 404 and "missingPermission" not in hidden.json()


def test_the_openapi_error_body_documents_it(client) -> None:
    document = client.get("/v1/openapi.json").json()
    body = document["components"]["schemas"]["ErrorBody"]
    assert "missingPermission" in body["properties"]
    assert "403" in body["properties"]["missingPermission"]["description"]
    create = document["paths"]["/v1/organizations/{orgId}/workspaces"]["post"]["responses"]
    assert create["403"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/ErrorBody"
    }
    assert "missingPermission" in create["403"]["description"]


def test_a_body_that_is_not_json_says_so_and_where(world) -> None:
    answer = world.client.post(
        f"/v1/organizations/{world.org.id}/workspaces",
        content=b'{"name":',
        headers={**bearer(world.org.owner_token), "Content-Type": "application/json"},
    )
    assert answer.status_code == 400
    assert answer.json()["fieldErrors"] == {
        "body": "not valid JSON: Expecting value at character 8"
    }


def test_a_deadlock_is_a_409_to_try_again_not_a_500(world, monkeypatch) -> None:
    """PostgreSQL ends one of two transactions that wait for each other; that request
    changed nothing and may simply be sent again. Other database errors stay a 500."""
    from psycopg import errors as pg

    answer = _delete_workspace_failing_with(world, monkeypatch, pg.DeadlockDetected("deadlock"))
    assert answer.status_code == 409, answer.text
    assert "try again" in answer.json()["message"]

    answer = _delete_workspace_failing_with(world, monkeypatch, pg.DiskFull("no space left"))
    assert answer.status_code == 500


def _delete_workspace_failing_with(world, monkeypatch, cause: Exception):  # type: ignore[no-untyped-def]
    """DELETE a workspace, its use case raising the driver's ``cause`` as SQLAlchemy does."""
    from sqlalchemy.exc import OperationalError

    from keyplane.tenancy import service

    def failing(*_args: object, **_kwargs: object) -> None:
        raise OperationalError("DELETE …", {}, cause)

    monkeypatch.setattr(service, "delete_workspace", failing)
    return world.client.delete(
        f"/v1/organizations/{world.org.id}/workspaces/{world.org.workspaces['ws2']}",
        headers=bearer(world.org.owner_token),
    )
