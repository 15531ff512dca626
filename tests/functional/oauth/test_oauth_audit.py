"""What the authorization server leaves in the audit log."""

from __future__ import annotations

import json

import jwt

from tests.factories import bearer
from tests.functional.oauth.helpers import access_token, basic, create_key


def events(world, action):
    answer = world.client.get(
        f"/v1/organizations/{world.org.id}/audit-logs",
        params={"action": action},
        headers=bearer(world.org.owner_token),
    )
    assert answer.status_code == 200, answer.text
    return answer.json()["auditLogs"]


def test_key_use_is_recorded_once_per_interval_not_per_grant(world):
    key_id, secret = create_key(world)
    for _ in range(3):
        access_token(world.client, key_id, secret)
    [used] = events(world, "api_key.use")
    assert used["actor"]["kind"] == "DEPLOYMENT_KEY"
    assert used["actor"]["id"] == key_id


def test_revocation_is_recorded_with_the_key_as_actor(world):
    key = create_key(world)
    token = access_token(world.client, *key)
    answer = world.client.post("/oauth/revoke", data={"token": token}, headers=basic(*key))
    assert answer.status_code == 200
    assert answer.headers["deprecation"]
    [revoked] = events(world, "oauth.revoke")
    assert revoked["actor"]["id"] == key[0]
    # The revoked token is named by its jti, never by its value.
    jti = jwt.decode(token, options={"verify_signature": False})["jti"]
    assert revoked["target"] == {"type": "access_token", "id": jti}
    assert token not in json.dumps(revoked)
