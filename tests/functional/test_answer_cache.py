"""Repeated reads answered from the answer cache are never stale, nor anyone else's.

Each test reads once to fill the cache, checks that the next read came from it, then
changes something through the API and reads again (on one replica; the replicas'
case is in test_ops_invalidation).
"""

from __future__ import annotations

import re
import time

from fastapi.testclient import TestClient

from keyplane.auth import authenticator
from keyplane.runtime import Runtime
from tests.factories import World, bearer


def _names(client: TestClient, path: str, token: str) -> list[str]:
    answer = client.get(path, headers=bearer(token))
    assert answer.status_code == 200, answer.text
    return [d["name"] for d in answer.json()["deployments"]]


def _cached_twice(world: World, path: str, token: str) -> list[str]:
    """Read twice; the second answer must have come from the cache."""
    first = _names(world.client, path, token)
    kept = len(world.runtime.answers)
    assert kept >= 1
    assert _names(world.client, path, token) == first
    assert len(world.runtime.answers) == kept  # served, not computed and stored again
    return first


def test_a_new_updated_or_deleted_deployment_shows_at_once(world):
    token = world.token("WORKSPACE", world.org.workspaces["ws1"], "WORKSPACE_MEMBER")
    owner = bearer(world.org.owner_token)
    path = f"/v1/organizations/{world.org.id}/deployments"
    assert _cached_twice(world, path, token) == ["d1"]

    created = world.client.post(
        path, json={"name": "d3", "workspaceId": world.org.workspaces["ws1"]}, headers=owner
    )
    assert created.status_code == 201, created.text
    assert _cached_twice(world, path, token) == ["d1", "d3"]

    renamed = world.client.post(
        f"{path}/{created.json()['id']}", json={"name": "d4"}, headers=owner
    )
    assert renamed.status_code == 200, renamed.text
    assert _cached_twice(world, path, token) == ["d1", "d4"]

    deleted = world.client.delete(f"{path}/{created.json()['id']}", headers=owner)
    assert deleted.status_code == 204, deleted.text
    assert _names(world.client, path, token) == ["d1"]


def test_answers_are_per_caller_and_per_query(world):
    ws1 = world.token("WORKSPACE", world.org.workspaces["ws1"], "WORKSPACE_MEMBER")
    ws2 = world.token("WORKSPACE", world.org.workspaces["ws2"], "WORKSPACE_MEMBER")
    path = f"/v1/organizations/{world.org.id}/deployments"
    assert _cached_twice(world, path, ws1) == ["d1"]
    assert _cached_twice(world, path, ws2) == ["d2"]
    assert _cached_twice(world, path, world.org.owner_token) == ["d1", "d2"]
    assert _cached_twice(world, f"{path}?limit=1", world.org.owner_token) == ["d1"]
    assert _cached_twice(world, f"{path}?sorts=name:desc", world.org.owner_token) == ["d2", "d1"]
    # Another tenant's token gets the same 404 as ever, never a kept answer.
    other = world.token("ORGANIZATION", None, "ORGANIZATION_OWNER", org=world.other)
    assert world.client.get(path, headers=bearer(other)).status_code == 404
    assert world.client.get(path, headers=bearer(other)).status_code == 404


def test_a_deleted_token_is_refused_though_its_answer_was_kept(world):
    token = world.token("WORKSPACE", world.org.workspaces["ws1"], "WORKSPACE_MEMBER")
    path = f"/v1/organizations/{world.org.id}/deployments"
    _cached_twice(world, path, token)
    token_id = world.client.get("/v1/self", headers=bearer(token)).json()["id"]
    deleted = world.client.delete(
        f"/v1/organizations/{world.org.id}/tokens/{token_id}",
        headers=bearer(world.org.owner_token),
    )
    assert deleted.status_code == 204, deleted.text
    refused = world.client.get(path, headers=bearer(token))
    assert refused.status_code == 401
    assert "unknown API token" in refused.json()["message"]


def test_a_role_change_changes_the_answer(world):
    token = world.token("ORGANIZATION", None, "ORGANIZATION_OWNER")
    token_id = world.client.get("/v1/self", headers=bearer(token)).json()["id"]
    path = f"/v1/organizations/{world.org.id}/deployments"
    assert _cached_twice(world, path, token) == ["d1", "d2"]
    changed = world.client.post(
        f"/v1/organizations/{world.org.id}/tokens/{token_id}/roles",
        json={"roles": [
            {"entityType": "ORGANIZATION", "entityId": world.org.id, "role": "ORGANIZATION_MEMBER"},
            {"entityType": "WORKSPACE", "entityId": world.org.workspaces["ws2"],
             "role": "WORKSPACE_MEMBER"},
        ]},
        headers=bearer(world.org.owner_token),
    )  # fmt: skip
    assert changed.status_code == 200, changed.text
    assert _names(world.client, path, token) == ["d2"]


def test_kept_answers_carry_their_own_request_id_and_route_metrics(world, runtime: Runtime):
    token = world.token("WORKSPACE", world.org.workspaces["ws1"], "WORKSPACE_MEMBER")
    path = f"/v1/organizations/{world.org.id}/deployments"
    ids = {world.client.get(path, headers=bearer(token)).headers["x-request-id"] for _ in range(3)}
    assert len(ids) == 3
    metrics = world.client.get("/metrics").text
    template = re.escape('route="/v1/organizations/{orgId}/deployments",status="200"')
    counted = re.search(
        r'keyplane_http_requests_total\{method="GET",' + template + r"\} (\S+)", metrics
    )
    assert counted is not None and float(counted.group(1)) >= 3


def test_an_expired_token_is_refused_though_its_answer_was_kept(world, monkeypatch):
    token = world.token(
        "WORKSPACE", world.org.workspaces["ws1"], "WORKSPACE_MEMBER", tokenExpiryPeriodInDays=1
    )
    path = f"/v1/organizations/{world.org.id}/deployments"
    _cached_twice(world, path, token)

    class TwoDaysLater:
        monotonic = staticmethod(time.monotonic)

        @staticmethod
        def time() -> float:
            return time.time() + 2 * 86400

    monkeypatch.setattr(authenticator, "time", TwoDaysLater)
    refused = world.client.get(path, headers=bearer(token))
    assert refused.status_code == 401
    assert "expired on" in refused.json()["message"]


def test_a_bulk_statement_cannot_bypass_the_invalidation(world):
    """Changes made with update()/delete() statements, not through ORM objects, drop
    the caches when they commit; a rollback drops nothing."""
    from sqlalchemy import update

    from keyplane.db import unit
    from keyplane.db.models import Deployment

    token = world.token("WORKSPACE", world.org.workspaces["ws1"], "WORKSPACE_MEMBER")
    path = f"/v1/organizations/{world.org.id}/deployments"
    assert _cached_twice(world, path, token) == ["d1"]

    with unit.unit_of_work(world.runtime.sessions) as db:
        db.execute(update(Deployment).where(Deployment.name == "d1").values(name="bulk"))
    assert _cached_twice(world, path, token) == ["bulk"]

    try:
        with unit.unit_of_work(world.runtime.sessions) as db:
            db.execute(update(Deployment).where(Deployment.name == "bulk").values(name="no"))
            raise RuntimeError("rolled back")
    except RuntimeError:
        pass
    kept = len(world.runtime.answers)
    assert _names(world.client, path, token) == ["bulk"]
    assert len(world.runtime.answers) == kept  # still served from the cache


def test_last_used_bookkeeping_drops_no_cache(world):
    from keyplane.db.models import ApiToken

    token = world.token("WORKSPACE", world.org.workspaces["ws1"], "WORKSPACE_MEMBER")
    path = f"/v1/organizations/{world.org.id}/deployments"
    assert _cached_twice(world, path, token) == ["d1"]
    token_id = world.client.get("/v1/self", headers=bearer(token)).json()["id"]
    world.runtime.authenticator.last_used.write(ApiToken, token_id)
    kept = len(world.runtime.answers)
    assert _names(world.client, path, token) == ["d1"]
    assert len(world.runtime.answers) == kept
