"""POST /oauth/revoke (RFC 7009) and POST /oauth/introspect (RFC 7662)."""

from __future__ import annotations

import pytest

from tests.factories import bearer
from tests.functional.oauth.helpers import access_token, basic, create_key, keys_url


@pytest.fixture
def key(world):
    return create_key(world)


def revoke(world, key, token, **extra):
    return world.client.post("/oauth/revoke", data={"token": token, **extra}, headers=basic(*key))


def introspect(world, key, token):
    return world.client.post("/oauth/introspect", data={"token": token}, headers=basic(*key))


def test_revoked_token_stops_working_at_once(world, key):
    token = access_token(world.client, *key)
    answer = revoke(world, key, token, token_type_hint="access_token")
    assert answer.status_code == 200
    assert answer.json() == {}
    assert answer.headers["cache-control"] == "no-store"
    refused = world.client.get("/v1/self", headers=bearer(token))
    assert refused.status_code == 401
    assert "revoked" in refused.json()["message"]
    assert introspect(world, key, token).json() == {"active": False}
    # Revoking twice is fine; the key itself still gets new tokens.
    assert revoke(world, key, token).status_code == 200
    fresh = access_token(world.client, *key)
    assert world.client.get("/v1/self", headers=bearer(fresh)).status_code == 200


def test_revoking_an_invalid_token_answers_200(world, key):
    assert revoke(world, key, "not-a-token").status_code == 200
    assert revoke(world, key, "eyJhbGciOiJub25lIn0.e30.").status_code == 200


def test_revocation_needs_client_authentication(world, key):
    token = access_token(world.client, *key)
    answer = world.client.post("/oauth/revoke", data={"token": token})
    assert answer.status_code == 401
    assert answer.json()["error"] == "invalid_client"
    assert world.client.get("/v1/self", headers=bearer(token)).status_code == 200


def test_revocation_needs_a_token(world, key):
    answer = world.client.post("/oauth/revoke", data={}, headers=basic(*key))
    assert answer.status_code == 400
    assert answer.json() == {
        "error": "invalid_request",
        "error_description": "missing parameter: token",
    }


def test_api_tokens_are_not_revoked_here(world, key):
    answer = revoke(world, key, world.org.owner_token)
    assert answer.status_code == 400
    assert answer.json()["error"] == "unsupported_token_type"
    assert world.client.get("/v1/self", headers=bearer(world.org.owner_token)).status_code == 200


def test_a_client_cannot_revoke_another_clients_token(world, key):
    token = access_token(world.client, *key)
    other = create_key(world, "d2")
    answer = revoke(world, other, token)
    assert answer.status_code == 400
    assert answer.json()["error"] == "invalid_request"
    assert world.client.get("/v1/self", headers=bearer(token)).status_code == 200


def test_introspection_of_an_active_token(world, key):
    token = access_token(world.client, *key)
    answer = introspect(world, key, token)
    assert answer.status_code == 200
    assert answer.headers["cache-control"] == "no-store"
    body = answer.json()
    assert body["active"] is True
    assert body["client_id"] == body["sub"] == key[0]
    assert body["token_type"] == "Bearer"
    assert body["aud"] == "http://testserver/v1"
    assert body["org_id"] == world.org.id
    assert body["exp"] > body["iat"]


@pytest.mark.parametrize("token", ["garbage", "eyJhbGciOiJFUzI1NiJ9.e30.c2ln", "kpk_x"])
def test_introspection_of_anything_invalid_is_only_inactive(world, key, token):
    answer = introspect(world, key, token)
    assert answer.status_code == 200
    assert answer.json() == {"active": False}


def test_introspection_of_another_clients_token_is_inactive(world, key):
    token = access_token(world.client, *key)
    assert introspect(world, create_key(world, "d2"), token).json() == {"active": False}


def test_introspection_after_the_key_is_deleted_is_inactive(world, key):
    token = access_token(world.client, *key)
    other = create_key(world, "d2")
    world.client.delete(f"{keys_url(world.org)}/{key[0]}", headers=bearer(world.org.owner_token))
    # The deleted key cannot authenticate any more, and its token is dead for others too.
    assert introspect(world, key, token).status_code == 401
    assert introspect(world, other, token).json() == {"active": False}


def test_introspection_needs_client_authentication_and_a_token(world, key):
    token = access_token(world.client, *key)
    unauthenticated = world.client.post("/oauth/introspect", data={"token": token})
    assert unauthenticated.status_code == 401
    assert unauthenticated.json()["error"] == "invalid_client"
    missing = world.client.post("/oauth/introspect", data={}, headers=basic(*key))
    assert missing.status_code == 400
    assert missing.json()["error"] == "invalid_request"
    wrong_type = world.client.post("/oauth/introspect", json={"token": token}, headers=basic(*key))
    assert wrong_type.status_code == 400


@pytest.mark.parametrize("secret", ["nope", None], ids=["wrong secret", "another key's"])
def test_introspection_refuses_a_failed_client_secret_post_with_401(world, key, secret):
    # RFC 7662 §2.3: invalid caller credentials are a 401, whichever way they were sent.
    token = access_token(world.client, *key)
    wrong = secret or create_key(world, "d2")[1]
    answer = world.client.post(
        "/oauth/introspect", data={"token": token, "client_id": key[0], "client_secret": wrong}
    )
    assert answer.status_code == 401
    assert answer.json()["error"] == "invalid_client"
    assert answer.headers["www-authenticate"].startswith('Basic realm="keyplane"')
    assert answer.headers["cache-control"] == "no-store"
    right = world.client.post(
        "/oauth/introspect", data={"token": token, "client_id": key[0], "client_secret": key[1]}
    )
    assert right.status_code == 200 and right.json()["active"] is True
