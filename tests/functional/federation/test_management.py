"""Managing workload identities: fields, defaults, validation, rights and the audit trail."""

from __future__ import annotations

from typing import Any

import pytest

from tests.factories import World, bearer
from tests.functional.federation.conftest import GITHUB
from tests.functional.federation.helpers import AUD, create_identity, identity_body
from tests.workload_issuer import WorkloadIssuer


def base(world: World) -> str:
    return f"/v1/organizations/{world.org.id}/workload-identities"


def post(world: World, body: dict[str, Any], token: str | None = None) -> Any:
    return world.client.post(base(world), json=body, headers=bearer(token or world.org.owner_token))


def test_create_answers_the_identity_with_its_defaults(world: World) -> None:
    body = identity_body(GITHUB, world.org.deployments["d1"], description="deploys")

    answer = post(world, body)

    assert answer.status_code == 201, answer.text
    made = answer.json()
    assert made["issuer"] == GITHUB and made["audience"] == AUD
    assert made["tokenLifetimeSeconds"] == 900 and made["lastUsedAt"] is None
    assert made["scope"] == "DEPLOYMENT" and made["role"] == "DEPLOYMENT_ADMIN"
    assert made["conditions"] == body["conditions"] and made["description"] == "deploys"
    assert made["createdBy"]["kind"] == "ORGANIZATION_TOKEN" and made["createdAt"]
    owner = bearer(world.org.owner_token)
    listed = world.client.get(base(world), headers=owner).json()
    assert listed["totalCount"] == 1 and listed["workloadIdentities"] == [made]
    assert world.client.get(f"{base(world)}/{made['id']}", headers=owner).json() == made


def test_update_and_delete(world: World) -> None:
    made = create_identity(
        world.client, world.org, identity_body(GITHUB, world.org.deployments["d1"])
    )
    owner = bearer(world.org.owner_token)
    one = f"{base(world)}/{made['id']}"

    changed = world.client.post(
        one, json={"name": "renamed", "tokenLifetimeSeconds": 3600, "audience": "sts.example"},
        headers=owner,
    )  # fmt: skip

    assert changed.status_code == 200, changed.text
    assert changed.json()["name"] == "renamed" and changed.json()["tokenLifetimeSeconds"] == 3600
    assert changed.json()["audience"] == "sts.example"
    gitlab = world.client.post(one, json={"issuer": "https://gitlab.com"}, headers=owner)
    assert gitlab.status_code == 400 and "project_id" in gitlab.text  # GitLab's pins
    moved = world.client.post(
        one,
        json={"issuer": "https://gitlab.com", "conditions": {"project_id": "42"},
              "scope": "WORKSPACE", "entityId": world.org.workspaces["ws2"],
              "role": "WORKSPACE_AUTHOR"},
        headers=owner,
    )  # fmt: skip
    assert moved.status_code == 200, moved.text
    assert (moved.json()["issuer"], moved.json()["scope"], moved.json()["role"]) == (
        "https://gitlab.com", "WORKSPACE", "WORKSPACE_AUTHOR")  # fmt: skip
    assert world.client.delete(one, headers=owner).status_code == 204
    assert world.client.get(one, headers=owner).status_code == 404


@pytest.mark.parametrize(
    ("change", "field", "words"),
    [
        ({"issuer": "https://evil.example"}, "issuer", "KEYPLANE_FEDERATION_ISSUERS"),
        ({"conditions": {"ref": "refs/heads/main"}}, "conditions", "repository_id"),
        ({"conditions": {}}, "conditions", "at least one"),
        ({"conditions": {"repository_id": "acme/pipelines"}}, "conditions", "number"),
        ({"conditions": {"repository_id": "89*"}}, "conditions", "exactly"),
        ({"conditions": {"repository_id": "1", "aud": "x"}}, "conditions", "aud"),
        ({"conditions": {"repository_id": "1", "ref": ""}}, "conditions", "ref"),
        ({"conditions": {"repository_id": "1", "ref": 3.5}}, "conditions", "whole number"),
        ({"conditions": {"repository_id": "1", "ref": [None]}}, "conditions", "whole number"),
        ({"tokenLifetimeSeconds": 3601}, "tokenLifetimeSeconds", "3600"),
        ({"scope": "WORKSPACE", "entityId": "ws1"}, "role", "not a workspace role"),
        ({"entityId": None}, "entityId", "required"),
    ],
)
def test_invalid_identities_are_refused_with_400(
    world: World, change: dict[str, Any], field: str, words: str
) -> None:
    body = {**identity_body(GITHUB, world.org.deployments["d1"]), **change}
    if body.get("entityId") == "ws1":
        body["entityId"] = world.org.workspaces["ws1"]
    body = {k: v for k, v in body.items() if v is not None}

    answer = post(world, body)

    assert answer.status_code == 400, answer.text
    error = answer.json()
    assert words in error["message"] or words in str(error.get("fieldErrors")), error
    named = error.get("fieldErrors") or {}
    assert any(name.split(".")[0] == field for name in named), error


def test_a_github_identity_may_pin_the_owner_alone(world: World) -> None:
    body = identity_body(GITHUB, world.org.deployments["d1"], conditions={
        "repository_owner_id": "71042", "ref": "refs/heads/*"})  # fmt: skip
    assert post(world, body).status_code == 201


def test_an_id_written_as_a_json_number_is_taken_as_its_text(world: World) -> None:
    body = identity_body(GITHUB, world.org.deployments["d1"], conditions={
        "repository_id": 892314, "repository_owner_id": [71042, "71043"]})  # fmt: skip
    answer = post(world, body)
    assert answer.status_code == 201, answer.text
    assert answer.json()["conditions"] == {
        "repository_id": "892314",
        "repository_owner_id": ["71042", "71043"],
    }
    refused = post(world, {**body, "conditions": {"repository_id": True}})
    assert refused.status_code == 400, refused.text


def test_an_http_issuer_works_only_when_the_operator_lists_it(
    world: World, workload_issuer: WorkloadIssuer
) -> None:
    listed = identity_body(workload_issuer.url, world.org.deployments["d1"])
    unlisted = identity_body("http://127.0.0.1:1", world.org.deployments["d1"])
    assert post(world, listed).status_code == 201
    assert post(world, unlisted).status_code == 400


def test_managing_needs_the_tokens_permission_of_the_scope(world: World) -> None:
    ws1, d1 = world.org.workspaces["ws1"], world.org.deployments["d1"]
    author = world.token("WORKSPACE", ws1, "WORKSPACE_AUTHOR")
    body = identity_body(GITHUB, ws1, scope="WORKSPACE", role="WORKSPACE_MEMBER")

    refused = post(world, body, author)

    assert refused.status_code == 403, refused.text
    assert refused.json()["missingPermission"] == "workspace.tokens:manage"
    made = create_identity(world.client, world.org, identity_body(GITHUB, d1))
    one = f"{base(world)}/{made['id']}"
    for method in ("GET", "DELETE"):
        answer = world.client.request(method, one, headers=bearer(author))
        assert answer.status_code == 403, answer.text
    assert world.client.get(base(world), headers=bearer(author)).json()["totalCount"] == 0


def test_no_escalation_through_an_identity(world: World) -> None:
    """A token that may manage d1's tokens but holds only that (issue 10's keeper) can
    neither make nor delete an identity holding DEPLOYMENT_ADMIN there."""
    owner = bearer(world.org.owner_token)
    world.client.post(f"/v1/organizations/{world.org.id}/custom-roles", json={
        "name": "keeper", "permissions": ["deployment.tokens:manage"]}, headers=owner)  # fmt: skip
    d1 = world.org.deployments["d1"]
    keeper = world.token("DEPLOYMENT", d1, "keeper")

    made = post(world, identity_body(GITHUB, d1), keeper)

    assert made.status_code == 403 and made.json()["missingPermission"] == "deployment:deploy"
    admin = create_identity(world.client, world.org, identity_body(GITHUB, d1))
    gone = world.client.delete(f"{base(world)}/{admin['id']}", headers=bearer(keeper))
    assert gone.status_code == 403 and "DEPLOYMENT_ADMIN" in gone.json()["message"]
    up = world.client.post(
        f"{base(world)}/{admin['id']}", json={"role": "keeper"}, headers=bearer(keeper)
    )
    assert up.status_code == 403
    own = post(world, identity_body(GITHUB, d1, role="keeper"), keeper)
    assert own.status_code == 201, own.text


def test_another_tenants_identity_is_not_found(world: World) -> None:
    theirs = create_identity(
        world.client, world.other, identity_body(GITHUB, world.other.deployments["d1"])
    )
    answer = world.client.get(
        f"{base(world)}/{theirs['id']}", headers=bearer(world.org.owner_token)
    )
    assert answer.status_code == 404
    across = world.client.get(
        f"/v1/organizations/{world.other.id}/workload-identities",
        headers=bearer(world.org.owner_token),
    )
    assert across.status_code == 404


def test_every_change_is_in_the_audit_trail(world: World) -> None:
    made = create_identity(
        world.client, world.org, identity_body(GITHUB, world.org.deployments["d1"])
    )
    owner = bearer(world.org.owner_token)
    one = f"{base(world)}/{made['id']}"
    world.client.post(one, json={"name": "renamed"}, headers=owner)
    world.client.delete(one, headers=owner)

    events = world.client.get(f"/v1/organizations/{world.org.id}/audit-logs", headers=owner).json()[
        "auditLogs"
    ]

    ours = [(e["action"], e["target"]["type"]) for e in events if e["target"]["id"] == made["id"]]
    assert sorted(ours) == sorted(
        (action, "workload_identity")
        for action in (
            "workload_identity.create",
            "workload_identity.update",
            "workload_identity.delete",
        )
    )
