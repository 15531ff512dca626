"""Least privilege from use: what credentials exercised is recorded, coalesced, and
turned into the least role that covers it (issue 14, item 4)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import event, select, update

from keyplane.db.base import utcnow
from keyplane.db.models import ApiToken
from keyplane.db.unit import unit_of_work
from keyplane.hygiene.models import PermissionUse
from tests.factories import bearer
from tests.functional.test_deploys import bundle, push


def token_id(world, value):
    return world.client.get("/v1/self", headers=bearer(value)).json()["id"]


def advice(world, token, days=None, by=None):
    params = {"days": days} if days is not None else {}
    answer = world.client.get(
        f"/v1/organizations/{world.org.id}/tokens/{token}/advice",
        params=params,
        headers=bearer(by or world.org.owner_token),
    )
    assert answer.status_code == 200, answer.text
    return answer.json()


def list_deployments(world, value, limit=20):
    # Each limit is another answer: a repeated one may come from the answer cache,
    # which runs no route and so exercises nothing anew.
    answer = world.client.get(
        f"/v1/organizations/{world.org.id}/deployments",
        params={"limit": limit},
        headers=bearer(value),
    )
    assert answer.status_code == 200, answer.text
    return answer.json()


def uses_of(runtime, credential_id):
    with runtime.sessions() as db:
        rows = db.scalars(select(PermissionUse).where(PermissionUse.credential_id == credential_id))
        return {(r.permission, r.entity_level, r.entity_id): r.last_used_at for r in rows}


def test_an_owner_token_that_only_lists_and_deploys_is_advised_author(world):
    ws1 = world.org.workspaces["ws1"]
    value = world.token("WORKSPACE", ws1, "WORKSPACE_OWNER", name="ci")
    listed = list_deployments(world, value)
    assert [d["name"] for d in listed["deployments"]] == ["d1"]
    assert push(world, value, bundle()).status_code == 201

    found = advice(world, token_id(world, value))
    assert found["credentialType"] == "API_TOKEN"
    assert found["currentRole"] == "WORKSPACE_OWNER"
    assert found["usedPermissions"] == ["deployment:read", "deployment:deploy"]
    assert found["suggestedRole"] == "WORKSPACE_AUTHOR"
    assert found["suggestedCustomRole"] is None
    assert (found["fits"], found["stale"], found["days"]) == (False, False, 90)
    assert found["lastUsedAt"] is not None
    where = {(u["permission"], u["entityType"], u["entityId"]) for u in found["uses"]}
    d1 = world.org.deployments["d1"]
    # The listing reached every deployment of ws1; the deploy, d1.
    assert where == {
        ("deployment:read", "DEPLOYMENT", None),
        ("deployment:deploy", "DEPLOYMENT", d1),
    }


def test_a_token_that_only_lists_needs_member_and_a_member_fits(world):
    ws1 = world.org.workspaces["ws1"]
    owner = world.token("WORKSPACE", ws1, "WORKSPACE_OWNER", name="lister")
    member = world.token("WORKSPACE", ws1, "WORKSPACE_MEMBER", name="reader")
    for value in (owner, member):
        list_deployments(world, value)
    assert advice(world, token_id(world, owner))["suggestedRole"] == "WORKSPACE_MEMBER"
    found = advice(world, token_id(world, member))
    assert (found["suggestedRole"], found["fits"]) == ("WORKSPACE_MEMBER", True)


def test_a_token_never_used_is_stale(world):
    value = world.token("ORGANIZATION", None, "ORGANIZATION_OWNER", name="forgotten")
    with world.runtime.sessions() as db:
        tid = db.scalar(select(ApiToken.id).where(ApiToken.name == "forgotten"))
    found = advice(world, tid)
    assert found["stale"] is True
    assert found["usedPermissions"] == [] and found["uses"] == []
    assert found["lastUsedAt"] is None
    assert found["suggestedRole"] == "ORGANIZATION_MEMBER"
    assert value  # never sent


def test_uses_older_than_the_window_do_not_count(world, runtime):
    value = world.token("WORKSPACE", world.org.workspaces["ws1"], "WORKSPACE_OWNER")
    tid = token_id(world, value)
    assert push(world, value, bundle()).status_code == 201
    assert advice(world, tid)["suggestedRole"] == "WORKSPACE_AUTHOR"
    long_ago = utcnow() - timedelta(days=100)
    with unit_of_work(runtime.sessions) as db:
        db.execute(
            update(PermissionUse)
            .where(PermissionUse.credential_id == tid)
            .values(last_used_at=long_ago)
        )
        db.execute(update(ApiToken).where(ApiToken.id == tid).values(last_used_at=long_ago))

    found = advice(world, tid)
    assert (found["usedPermissions"], found["stale"]) == ([], True)
    assert found["suggestedRole"] == "WORKSPACE_ACCESSOR"
    wider = advice(world, tid, days=120)
    assert "deployment:deploy" in wider["usedPermissions"] and wider["stale"] is False
    assert wider["suggestedRole"] == "WORKSPACE_AUTHOR"


def test_a_use_is_written_at_most_once_per_interval(world, runtime):
    value = world.token("WORKSPACE", world.org.workspaces["ws1"], "WORKSPACE_OWNER")
    tid = token_id(world, value)
    written = []

    def count(_conn, _cursor, statement, *_args):
        if statement.lstrip().upper().startswith("INSERT INTO PERMISSION_USES"):
            written.append(statement)

    event.listen(runtime.engine, "before_cursor_execute", count)
    try:
        for limit in range(1, 6):
            list_deployments(world, value, limit)
    finally:
        event.remove(runtime.engine, "before_cursor_execute", count)
    assert len(written) == 1
    first = uses_of(runtime, tid)
    list_deployments(world, value, 6)
    assert uses_of(runtime, tid) == first  # same row, same time: nothing written


def test_with_no_interval_every_use_is_written(world, runtime):
    runtime.permission_uses._gate.interval = 0.0  # as KEYPLANE_LAST_USED_INTERVAL_SECONDS=0
    value = world.token("WORKSPACE", world.org.workspaces["ws1"], "WORKSPACE_OWNER")
    tid = token_id(world, value)
    list_deployments(world, value, 1)
    first = uses_of(runtime, tid)
    list_deployments(world, value, 2)
    assert [later > first[key] for key, later in uses_of(runtime, tid).items()] == [True]


def test_a_deployment_token_is_told_of_a_smaller_custom_role(world):
    org = world.org
    owner = bearer(org.owner_token)
    body = {"name": "pusher", "permissions": ["deployment:deploy"]}
    assert (
        world.client.post(f"/v1/organizations/{org.id}/custom-roles", json=body, headers=owner)
    ).status_code == 201
    value = world.token("DEPLOYMENT", org.deployments["d1"], "DEPLOYMENT_ADMIN")
    assert push(world, value, bundle()).status_code == 201
    found = advice(world, token_id(world, value))
    assert found["suggestedRole"] == "DEPLOYMENT_ADMIN"
    assert found["suggestedCustomRole"] == "pusher"
    assert found["fits"] is False


@pytest.mark.parametrize("days", ["0", "366", "-1", "many"])
def test_the_window_is_validated(world, days):
    value = world.token("WORKSPACE", world.org.workspaces["ws1"], "WORKSPACE_MEMBER")
    answer = world.client.get(
        f"/v1/organizations/{world.org.id}/tokens/{token_id(world, value)}/advice",
        params={"days": days},
        headers=bearer(world.org.owner_token),
    )
    assert answer.status_code == 400
    assert "days" in answer.json()["fieldErrors"]


def test_another_tenant_gets_not_found(world):
    value = world.token("WORKSPACE", world.org.workspaces["ws1"], "WORKSPACE_MEMBER")
    tid = token_id(world, value)
    answer = world.client.get(
        f"/v1/organizations/{world.org.id}/tokens/{tid}/advice",
        headers=bearer(world.other.owner_token),
    )
    assert answer.status_code == 404
    answer = world.client.get(
        f"/v1/organizations/{world.other.id}/tokens/{tid}/advice",
        headers=bearer(world.other.owner_token),
    )
    assert answer.status_code == 404


def test_a_deployment_api_key_records_its_use_through_its_access_tokens(world):
    org, owner = world.org, bearer(world.org.owner_token)
    base = f"/v1/organizations/{org.id}/deployments/{org.deployments['d1']}"
    key = world.client.post(f"{base}/api-keys", json={"name": "ci"}, headers=owner).json()
    issued = world.client.post(
        "/oauth/token",
        data={
            "grant_type": "client_credentials",
            "client_id": key["id"],
            "client_secret": key["secret"],
        },
    )
    assert issued.status_code == 200, issued.text
    listed = world.client.get(f"{base}/deploys", headers=bearer(issued.json()["access_token"]))
    assert listed.status_code == 200
    found = world.client.get(f"{base}/api-keys/{key['id']}/advice", headers=owner).json()
    assert found["credentialType"] == "DEPLOYMENT_API_KEY"
    assert found["usedPermissions"] == ["deployment:read"]
    assert (found["currentRole"], found["suggestedRole"]) == ("DEPLOYMENT_ADMIN",) * 2
    assert found["stale"] is False


def test_a_deleted_credentials_uses_are_dropped_and_the_others_written(world, runtime):
    ws1 = world.org.workspaces["ws1"]
    kept = world.token("WORKSPACE", ws1, "WORKSPACE_MEMBER", name="kept")
    gone = world.token("WORKSPACE", ws1, "WORKSPACE_MEMBER", name="gone")
    kept_id, gone_id = token_id(world, kept), token_id(world, gone)
    uses = runtime.permission_uses
    flush, uses.flush = uses.flush, lambda: None  # hold the writes back
    try:
        list_deployments(world, kept)
        list_deployments(world, gone)
        assert uses.queued
        delete = world.client.delete(
            f"/v1/organizations/{world.org.id}/tokens/{gone_id}",
            headers=bearer(world.org.owner_token),
        )
        assert delete.status_code == 204
    finally:
        uses.flush = flush
    uses.flush()
    assert uses_of(runtime, gone_id) == {}
    assert list(uses_of(runtime, kept_id)) == [("deployment:read", "DEPLOYMENT", "*")]


def test_an_older_use_written_later_never_moves_last_use_back(world, runtime):
    """Two replicas note the same use; the one that noted it earlier writes last."""
    value = world.token("WORKSPACE", world.org.workspaces["ws1"], "WORKSPACE_OWNER")
    tid = token_id(world, value)
    uses = runtime.permission_uses
    flush, uses.flush = uses.flush, lambda: None  # this replica's write waits
    try:
        list_deployments(world, value)
        held = dict(uses._queued)
    finally:
        uses.flush = flush
    uses._queued.clear()
    runtime.permission_uses._gate.interval = 0.0
    list_deployments(world, value, 2)  # the other replica's use, later, written first
    written = uses_of(runtime, tid)
    uses._queued.update(held)
    uses.flush()  # the earlier note arrives now
    assert uses_of(runtime, tid) == written
