"""Builds the rows a test needs through the real services and API."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from fastapi.testclient import TestClient
from typer.testing import CliRunner, Result

from keyplane.config import get_settings
from keyplane.db.unit import unit_of_work
from keyplane.runtime import Runtime
from keyplane.tenancy.bootstrap import init_organization


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def run_admin(world: Any, *args: str, stdin: str | None = None, **settings_env: str) -> Result:
    """``keyplane admin ARGS`` on the test's database, as an operator runs it (more
    ``KEYPLANE_*`` variables in ``settings_env``); it must succeed."""
    from keyplane.cli.admin import app

    settings = world.runtime.settings
    env = {
        "KEYPLANE_DATABASE_URL": settings.resolved_database_url,
        "KEYPLANE_DATA_DIR": str(settings.data_dir),
        **settings_env,
    }
    get_settings.cache_clear()
    try:
        result = CliRunner().invoke(app, list(args), env=env, input=stdin)
    finally:
        get_settings.cache_clear()
    assert result.exit_code == 0, result.output
    return result


@dataclass
class Org:
    id: str
    owner_token: str
    owner_user_id: str
    workspaces: dict[str, str] = field(default_factory=dict)  # name -> id
    deployments: dict[str, str] = field(default_factory=dict)  # name -> id


@dataclass
class World:
    """Two organizations: ``org`` (workspaces ws1, ws2; deployments d1 in ws1, d2 in ws2)
    and ``other``, another tenant with the same shape."""

    client: TestClient
    runtime: Runtime
    org: Org
    other: Org

    @classmethod
    def create(cls, client: TestClient, runtime: Runtime) -> World:
        return cls(
            client,
            runtime,
            build_org(client, runtime, "acme"),
            build_org(client, runtime, "globex"),
        )

    def token(
        self, scope: str, entity_id: str | None, role: str, org: Org | None = None, **extra: Any
    ) -> str:
        """A new token's value, created by the organization's owner."""
        org = org or self.org
        body = {"name": f"{scope.lower()} {role}", "scope": scope, "role": role, **extra}
        if entity_id:
            body["entityId"] = entity_id
        answer = self.client.post(
            f"/v1/organizations/{org.id}/tokens", json=body, headers=bearer(org.owner_token)
        )
        assert answer.status_code == 201, answer.text
        return str(answer.json()["token"])


def build_org(client: TestClient, runtime: Runtime, name: str) -> Org:
    with unit_of_work(runtime.sessions) as db:
        boot = init_organization(db, name, f"owner@{name}.example")
    org = Org(boot.organization_id, boot.token, boot.user_id)
    headers = bearer(org.owner_token)
    for ws in ("ws1", "ws2"):
        answer = client.post(
            f"/v1/organizations/{org.id}/workspaces", json={"name": ws}, headers=headers
        )
        assert answer.status_code == 201, answer.text
        org.workspaces[ws] = answer.json()["id"]
    for dep, ws in (("d1", "ws1"), ("d2", "ws2")):
        answer = client.post(
            f"/v1/organizations/{org.id}/deployments",
            json={"name": dep, "workspaceId": org.workspaces[ws]},
            headers=headers,
        )
        assert answer.status_code == 201, answer.text
        org.deployments[dep] = answer.json()["id"]
    return org
