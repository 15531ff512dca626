"""Every error path of POST /oauth/token (RFC 6749 §5.2), and the failure rate limit."""

from __future__ import annotations

import base64

import pytest
from fastapi.testclient import TestClient

from keyplane.app import create_app
from keyplane.runtime import Runtime
from tests.factories import World
from tests.functional.oauth.helpers import FORM, basic, create_key, grant


def error_of(answer, status: int, error: str) -> str:
    assert answer.status_code == status, answer.text
    assert answer.headers["cache-control"] == "no-store"
    assert answer.headers["pragma"] == "no-cache"
    body = answer.json()
    assert body["error"] == error
    return str(body["error_description"])


@pytest.fixture
def key(world):
    return create_key(world)


def test_body_must_be_a_form(world):
    answer = world.client.post("/oauth/token", json={"grant_type": "client_credentials"})
    assert "x-www-form-urlencoded" in error_of(answer, 400, "invalid_request")


def test_grant_type_is_required(world, key):
    answer = world.client.post("/oauth/token", data={}, headers=basic(*key))
    assert "grant_type" in error_of(answer, 400, "invalid_request")


def test_parameters_may_not_repeat(world, key):
    body = "grant_type=client_credentials&grant_type=client_credentials"
    answer = world.client.post("/oauth/token", content=body, headers={**FORM, **basic(*key)})
    assert "more than once" in error_of(answer, 400, "invalid_request")


def test_unknown_grant_type(world, key):
    answer = world.client.post("/oauth/token", data={"grant_type": "password"}, headers=basic(*key))
    assert "client_credentials" in error_of(answer, 400, "unsupported_grant_type")


def test_no_client_authentication(world):
    answer = world.client.post("/oauth/token", data={"grant_type": "client_credentials"})
    error_of(answer, 401, "invalid_client")
    assert answer.headers["www-authenticate"].startswith("Basic")


def test_wrong_secret_with_basic_is_401_with_www_authenticate(world, key):
    key_id, _ = key
    _, other_secret = create_key(world, "d2")
    answer = grant(world.client, key_id, other_secret)
    assert "wrong secret" in error_of(answer, 401, "invalid_client")
    assert answer.headers["www-authenticate"].startswith('Basic realm="keyplane"')


def test_wrong_secret_with_post_is_400_without_www_authenticate(world, key):
    key_id, _ = key
    answer = world.client.post(
        "/oauth/token",
        data={"grant_type": "client_credentials", "client_id": key_id, "client_secret": "nope"},
    )
    error_of(answer, 400, "invalid_client")
    assert "www-authenticate" not in answer.headers


def test_right_secret_with_another_key_id(world, key):
    _, secret = key
    other_id, _ = create_key(world, "d2")
    error_of(grant(world.client, other_id, secret), 401, "invalid_client")


@pytest.mark.parametrize(
    "authorization",
    [
        "Basic not-base64!",
        "Basic " + base64.b64encode(b"no-colon").decode(),
        "Bearer abc",
    ],
)
def test_malformed_authorization_header(world, authorization):
    answer = world.client.post(
        "/oauth/token",
        data={"grant_type": "client_credentials"},
        headers={"Authorization": authorization},
    )
    error_of(answer, 401, "invalid_client")
    assert answer.headers["www-authenticate"].startswith("Basic")


def test_two_authentication_methods_at_once(world, key):
    key_id, secret = key
    answer = world.client.post(
        "/oauth/token",
        data={"grant_type": "client_credentials", "client_secret": secret},
        headers=basic(key_id, secret),
    )
    assert "one client authentication method" in error_of(answer, 400, "invalid_request")


def test_secret_without_client_id(world, key):
    answer = world.client.post(
        "/oauth/token", data={"grant_type": "client_credentials", "client_secret": key[1]}
    )
    assert "client_id" in error_of(answer, 400, "invalid_request")


def test_unknown_client_without_secret(world):
    answer = world.client.post(
        "/oauth/token", data={"grant_type": "client_credentials", "client_id": "someone"}
    )
    assert "secret" in error_of(answer, 400, "invalid_client")


def test_scope_is_refused(world, key):
    answer = grant(world.client, *key, scope="admin")
    error_of(answer, 400, "invalid_scope")


def test_resource_must_be_this_api(world, key):
    assert grant(world.client, *key, resource="http://testserver/v1").status_code == 200
    answer = grant(world.client, *key, resource="https://elsewhere.example")
    error_of(answer, 400, "invalid_target")


def test_failed_client_authentications_are_rate_limited(settings, engine, db_url):
    from tests.conftest import _empty

    _empty(engine)
    limited = settings.model_copy(update={"auth_failure_limit_per_minute": 3})
    runtime = Runtime.create(limited, engine=engine)
    client = TestClient(create_app(limited, runtime))
    world = World.create(client, runtime)
    key_id, _ = create_key(world)
    for _ in range(3):
        assert grant(client, key_id, "kpk_wrong").status_code == 401
    answer = grant(client, key_id, "kpk_wrong")
    assert "too many failed" in error_of(answer, 429, "temporarily_unavailable")
    assert 1 <= int(answer.headers["retry-after"]) <= 61
    # Per key ID: another address is refused for this key too...
    elsewhere = TestClient(create_app(limited, runtime), client=("10.9.9.9", 1234))
    assert grant(elsewhere, key_id, "kpk_wrong").status_code == 429
    # ...and per address: this address is refused for another key.
    other_id, other_secret = create_key(world, "d2")
    assert grant(client, other_id, other_secret + "x").status_code == 429
    runtime.close()
