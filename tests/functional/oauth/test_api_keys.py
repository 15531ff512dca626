"""Deployment API keys: the API, and the seed's four rules about them."""

from __future__ import annotations

import hashlib

import pytest
from sqlalchemy import select

from keyplane.apikeys.models import DeploymentApiKey
from keyplane.oauth.access_tokens import issue_user_access_token
from tests.factories import bearer
from tests.functional.oauth.helpers import access_token, create_key, grant, keys_url


def test_secret_is_shown_once_and_only_its_hash_is_stored(world):
    key_id, secret = create_key(world)
    assert secret.startswith("kpk_")
    listed = world.client.get(keys_url(world.org), headers=bearer(world.org.owner_token))
    assert listed.status_code == 200
    body = listed.json()
    assert body["totalCount"] == 1
    (item,) = body["apiKeys"]
    assert item["id"] == key_id
    assert item["deploymentId"] == world.org.deployments["d1"]
    assert item["createdBy"]["kind"] == "ORGANIZATION_TOKEN"
    assert item["secret"] is None
    assert secret not in listed.text
    with world.runtime.sessions() as db:
        row = db.scalar(select(DeploymentApiKey).where(DeploymentApiKey.id == key_id))
        assert row.secret_hash == hashlib.sha256(secret.encode()).hexdigest()
        assert secret not in repr(row)


def test_last_used_at_is_recorded_when_the_key_is_used(world):
    key_id, secret = create_key(world)
    access_token(world.client, key_id, secret)
    (item,) = world.client.get(keys_url(world.org), headers=bearer(world.org.owner_token)).json()[
        "apiKeys"
    ]
    assert item["lastUsedAt"] is not None


def test_key_acts_as_deployment_admin_on_its_deployment_only(world):
    org = world.org
    token = access_token(world.client, *create_key(world))
    headers = bearer(token)
    base = f"/v1/organizations/{org.id}"
    assert (
        world.client.get(f"{base}/deployments/{org.deployments['d1']}", headers=headers).status_code
        == 200
    )
    assert (
        world.client.post(
            f"{base}/deployments/{org.deployments['d1']}",
            json={"description": "by key"},
            headers=headers,
        ).status_code
        == 200
    )
    assert (
        world.client.get(f"{base}/deployments/{org.deployments['d2']}", headers=headers).status_code
        == 404
    )
    assert (
        world.client.get(f"{base}/workspaces/{org.workspaces['ws2']}", headers=headers).status_code
        == 404
    )
    deleted = world.client.delete(f"{base}/deployments/{org.deployments['d1']}", headers=headers)
    assert deleted.status_code == 403
    assert "deployment:delete" in deleted.json()["message"]
    other = world.client.get(f"/v1/organizations/{world.other.id}", headers=headers)
    assert other.status_code == 404
    org_token = world.client.post(
        f"{base}/tokens",
        json={"name": "x", "scope": "ORGANIZATION", "role": "ORGANIZATION_MEMBER"},
        headers=headers,
    )
    assert org_token.status_code in (403, 404)
    # Every answer to a key's request announces the deprecation, errors included.
    assert deleted.headers["deprecation"] and deleted.headers["sunset"]


def test_deleting_the_key_ends_access_at_once_even_for_issued_tokens(world):
    key_id, secret = create_key(world)
    token = access_token(world.client, key_id, secret)
    assert world.client.get("/v1/self", headers=bearer(token)).status_code == 200
    gone = world.client.delete(
        f"{keys_url(world.org)}/{key_id}", headers=bearer(world.org.owner_token)
    )
    assert gone.status_code == 204
    after = world.client.get("/v1/self", headers=bearer(token))
    assert after.status_code == 401
    assert "no longer exists" in after.json()["message"]
    assert grant(world.client, key_id, secret).json()["error"] == "invalid_client"


def test_deleting_the_deployment_deletes_its_keys_and_ends_their_access(world):
    key_id, secret = create_key(world)
    token = access_token(world.client, key_id, secret)
    dep = world.org.deployments["d1"]
    deleted = world.client.delete(
        f"/v1/organizations/{world.org.id}/deployments/{dep}", headers=bearer(world.org.owner_token)
    )
    assert deleted.status_code == 204
    assert world.client.get("/v1/self", headers=bearer(token)).status_code == 401
    assert grant(world.client, key_id, secret).status_code == 401
    with world.runtime.sessions() as db:
        assert db.get(DeploymentApiKey, key_id) is None


def test_key_is_not_bound_to_the_user_who_created_it(world):
    org, client = world.org, world.client
    owner = bearer(org.owner_token)
    invited = client.post(
        f"/v1/organizations/{org.id}/invites", json={"email": "dev@acme.example"}, headers=owner
    )
    assert invited.status_code == 201, invited.text
    user_id = invited.json()["id"]
    roles = {
        "organizationRole": "ORGANIZATION_MEMBER",
        "workspaceRoles": [{"workspaceId": org.workspaces["ws1"], "role": "WORKSPACE_OWNER"}],
    }
    assert (
        client.post(
            f"/v1/organizations/{org.id}/users/{user_id}/roles", json=roles, headers=owner
        ).status_code
        == 200
    )
    user_token = issue_user_access_token(world.runtime, user_id).access_token
    key_id, secret = create_key(world, token=user_token)
    demoted = {**roles, "workspaceRoles": []}
    assert (
        client.post(
            f"/v1/organizations/{org.id}/users/{user_id}/roles", json=demoted, headers=owner
        ).status_code
        == 200
    )
    assert access_token(client, key_id, secret)
    removed = client.delete(f"/v1/organizations/{org.id}/users/{user_id}", headers=owner)
    assert removed.status_code == 204
    token = access_token(client, key_id, secret)
    me = client.get("/v1/self", headers=bearer(token))
    assert me.status_code == 200
    assert me.json()["roles"][0]["role"] == "DEPLOYMENT_ADMIN"


@pytest.mark.parametrize(
    ("scope", "entity", "role", "status"),
    [
        ("WORKSPACE", "ws1", "WORKSPACE_OWNER", 201),
        ("WORKSPACE", "ws1", "WORKSPACE_OPERATOR", 403),
        ("WORKSPACE", "ws2", "WORKSPACE_OWNER", 404),
        ("DEPLOYMENT", "d1", "DEPLOYMENT_ADMIN", 201),
        ("DEPLOYMENT", "d2", "DEPLOYMENT_ADMIN", 404),
    ],
)
def test_who_may_create_keys(world, scope, entity, role, status):
    ids = {**world.org.workspaces, **world.org.deployments}
    token = world.token(scope, ids[entity], role)
    answer = world.client.post(keys_url(world.org), json={"name": "k"}, headers=bearer(token))
    assert answer.status_code == status, answer.text
    if status == 403:
        assert "deployment.tokens:manage" in answer.json()["message"]


def test_a_custom_role_cannot_mint_a_key_with_more_rights_than_it_holds(world):
    org, owner = world.org, bearer(world.org.owner_token)
    made = world.client.post(
        f"/v1/organizations/{org.id}/custom-roles",
        json={"name": "KEYMAKER", "permissions": ["deployment:read", "deployment.tokens:manage"]},
        headers=owner,
    )
    assert made.status_code == 201, made.text
    token = world.token("DEPLOYMENT", org.deployments["d1"], "KEYMAKER")
    answer = world.client.post(keys_url(org), json={"name": "k"}, headers=bearer(token))
    assert answer.status_code == 403
    assert "cannot grant DEPLOYMENT_ADMIN" in answer.json()["message"]


def test_other_tenants_keys_are_invisible(world):
    key_id, _ = create_key(world)
    other = bearer(world.other.owner_token)
    assert world.client.get(keys_url(world.org), headers=other).status_code == 404
    assert world.client.delete(f"{keys_url(world.org)}/{key_id}", headers=other).status_code == 404
    # The right owner, but the wrong deployment in the path.
    wrong = world.client.delete(
        f"{keys_url(world.org, 'd2')}/{key_id}", headers=bearer(world.org.owner_token)
    )
    assert wrong.status_code == 404


def test_create_validates_its_body(world):
    answer = world.client.post(
        keys_url(world.org), json={"name": "", "extra": 1}, headers=bearer(world.org.owner_token)
    )
    assert answer.status_code == 400
    assert set(answer.json()["fieldErrors"]) == {"name", "extra"}


def test_switching_keys_off_refuses_grants_and_issued_tokens(world):
    key_id, secret = create_key(world)
    token = access_token(world.client, key_id, secret)
    org_url = f"/v1/organizations/{world.org.id}"
    member = world.token("ORGANIZATION", None, "ORGANIZATION_MEMBER")
    refused = world.client.post(org_url, json={"apiKeysEnabled": False}, headers=bearer(member))
    assert refused.status_code == 403
    off = world.client.post(
        org_url, json={"apiKeysEnabled": False}, headers=bearer(world.org.owner_token)
    )
    assert off.status_code == 200 and off.json()["apiKeysEnabled"] is False
    assert world.client.get("/v1/self", headers=bearer(token)).status_code == 401
    answer = grant(world.client, key_id, secret)
    assert answer.status_code == 400
    assert answer.json()["error"] == "unauthorized_client"
    assert "apiKeysEnabled" in answer.json()["error_description"]
    world.client.post(org_url, json={"apiKeysEnabled": True}, headers=bearer(world.org.owner_token))
    assert world.client.get("/v1/self", headers=bearer(token)).status_code == 200
