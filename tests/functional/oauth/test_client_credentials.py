"""POST /oauth/token with grant_type=client_credentials (RFC 6749 §4.4, §5)."""

from __future__ import annotations

import time

from tests.factories import bearer
from tests.functional.oauth.helpers import (
    claims,
    create_key,
    grant,
    header,
)


def test_key_gets_an_rfc9068_access_token_that_the_api_accepts(world):
    key_id, secret = create_key(world)
    answer = grant(world.client, key_id, secret)
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["token_type"] == "Bearer"
    assert body["expires_in"] == 3600
    assert "refresh_token" not in body
    assert answer.headers["cache-control"] == "no-store"
    assert answer.headers["pragma"] == "no-cache"
    assert answer.headers["deprecation"].startswith("@")
    assert answer.headers["sunset"].endswith("GMT")
    token = body["access_token"]
    assert header(token)["typ"] == "at+jwt"
    assert header(token)["alg"] == "ES256"
    got = claims(token)
    assert got["sub"] == got["client_id"] == key_id
    assert got["iss"] == "http://testserver"
    assert got["aud"] == "http://testserver/v1"
    assert got["org_id"] == world.org.id
    assert got["exp"] - got["iat"] == 3600
    assert abs(got["iat"] - time.time()) < 10
    me = world.client.get("/v1/self", headers=bearer(token))
    assert me.status_code == 200, me.text
    assert me.json()["kind"] == "DEPLOYMENT_KEY"
    assert me.json()["roles"] == [
        {
            "entityType": "DEPLOYMENT",
            "entityId": world.org.deployments["d1"],
            "role": "DEPLOYMENT_ADMIN",
        }
    ]
    assert me.headers["deprecation"] and me.headers["sunset"]


def test_client_secret_post_works_too(world):
    key_id, secret = create_key(world)
    answer = world.client.post(
        "/oauth/token",
        data={"grant_type": "client_credentials", "client_id": key_id, "client_secret": secret},
    )
    assert answer.status_code == 200, answer.text
