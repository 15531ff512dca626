"""Migrating deployment API keys to Deployment API tokens: one server-side step.

A dry run changes nothing; applying replaces every key of the plan with a token of
the same rights and deletes the key in one transaction; running again mints nothing.
"""

from __future__ import annotations

from sqlalchemy import func, select

from keyplane.apikeys.models import DeploymentApiKey
from keyplane.db.models import ApiToken
from tests.factories import World, bearer
from tests.functional.oauth.helpers import create_key, grant


def migrate(world: World, token: str | None = None, **body: object):  # type: ignore[no-untyped-def]
    return world.client.post(
        f"/v1/organizations/{world.org.id}/api-keys/migrate",
        json=body,
        headers=bearer(token or world.org.owner_token),
    )


def counts(world: World) -> tuple[int, int]:
    """(API keys, API tokens) of the organization, read from the database."""
    with world.runtime.sessions() as db:
        keys = db.scalar(
            select(func.count()).where(DeploymentApiKey.organization_id == world.org.id)
        )
        tokens = db.scalar(select(func.count()).where(ApiToken.organization_id == world.org.id))
    return int(keys or 0), int(tokens or 0)


def test_a_dry_run_lists_the_plan_and_changes_nothing(world):
    key_ids = {create_key(world, dep)[0] for dep in ("d1", "d2")}
    before = counts(world)
    answer = migrate(world, dryRun=True)
    assert answer.status_code == 200, answer.text
    plan = answer.json()["migrations"]
    assert {step["keyId"] for step in plan} == key_ids
    assert all(step["role"] == "DEPLOYMENT_ADMIN" for step in plan)
    assert all(step["token"] is None and step["tokenId"] is None for step in plan)
    assert counts(world) == before


def test_applying_replaces_each_key_with_a_token_of_the_same_rights(world):
    d1 = world.org.deployments["d1"]
    key_id, secret = create_key(world, "d1")
    keys_before, tokens_before = counts(world)
    answer = migrate(world, deploymentId=d1)
    assert answer.status_code == 200, answer.text
    (step,) = answer.json()["migrations"]
    assert step["keyId"] == key_id and step["deploymentId"] == d1
    assert counts(world) == (keys_before - 1, tokens_before + 1)
    me = world.client.get("/v1/self", headers=bearer(step["token"])).json()
    assert me["kind"] == "DEPLOYMENT_TOKEN"
    assert me["roles"] == [{"entityType": "DEPLOYMENT", "entityId": d1, "role": "DEPLOYMENT_ADMIN"}]
    assert grant(world.client, key_id, secret).status_code == 401  # the key is gone
    token = world.client.get(
        f"/v1/organizations/{world.org.id}/tokens/{step['tokenId']}",
        headers=bearer(world.org.owner_token),
    ).json()
    assert token["endAt"] is None and key_id in token["description"]


def test_a_second_run_finds_nothing_to_migrate(world):
    create_key(world, "d1")
    assert len(migrate(world).json()["migrations"]) == 1
    after_first = counts(world)
    again = migrate(world)
    assert again.status_code == 200 and again.json()["migrations"] == []
    assert counts(world) == after_first


def test_a_plan_that_went_stale_changes_nothing(world):
    kept, _ = create_key(world, "d1")
    gone, _ = create_key(world, "d2")
    world.client.delete(
        f"/v1/organizations/{world.org.id}/deployments/{world.org.deployments['d2']}"
        f"/api-keys/{gone}",
        headers=bearer(world.org.owner_token),
    )
    before = counts(world)
    answer = migrate(world, keyIds=[kept, gone])
    assert answer.status_code == 409 and gone in answer.json()["message"]
    assert counts(world) == before


def test_only_keys_the_caller_may_manage_are_in_its_plan(world):
    create_key(world, "d1")
    create_key(world, "d2")
    ws1 = world.token("WORKSPACE", world.org.workspaces["ws1"], "WORKSPACE_OWNER")
    plan = migrate(world, ws1, dryRun=True).json()["migrations"]
    assert {step["deploymentId"] for step in plan} == {world.org.deployments["d1"]}
    other = migrate(world, ws1, deploymentId=world.org.deployments["d2"], dryRun=True)
    assert other.status_code == 404
    assert migrate(world, world.other.owner_token).status_code == 404


def test_managing_keys_without_holding_their_rights_migrates_nothing(world):
    org = world.org
    made = world.client.post(
        f"/v1/organizations/{org.id}/custom-roles",
        json={"name": "KEYMAKER", "permissions": ["deployment:read", "deployment.tokens:manage"]},
        headers=bearer(org.owner_token),
    )
    assert made.status_code == 201, made.text
    create_key(world, "d1")
    token = world.token("DEPLOYMENT", org.deployments["d1"], "KEYMAKER")
    before = counts(world)
    assert migrate(world, token).json()["migrations"] == []
    named = migrate(world, token, deploymentId=org.deployments["d1"])
    assert named.status_code == 403 and "DEPLOYMENT_ADMIN" in named.json()["message"]
    assert counts(world) == before
