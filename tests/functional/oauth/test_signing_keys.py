"""Discovery, the JWKS, rotating signing keys with tokens in flight, what the verifier refuses."""

from __future__ import annotations

import re
import time
from datetime import timedelta

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from joserfc import jwt as jose_jwt
from joserfc.jwk import KeySet
from sqlalchemy import select, update

from keyplane.db.base import utcnow
from keyplane.db.unit import unit_of_work
from keyplane.oauth.models import SigningKey
from keyplane.oauth.signing_keys import JWKS_MAX_AGE
from tests.factories import bearer, run_admin
from tests.functional.oauth.helpers import access_token, claims, create_key, header


def test_metadata_document(world):
    answer = world.client.get("/.well-known/oauth-authorization-server")
    assert answer.status_code == 200
    doc = answer.json()
    assert doc["issuer"] == "http://testserver"
    assert doc["token_endpoint"] == "http://testserver/oauth/token"
    assert doc["jwks_uri"] == "http://testserver/.well-known/jwks.json"
    assert doc["revocation_endpoint"] == "http://testserver/oauth/revoke"
    assert doc["introspection_endpoint"] == "http://testserver/oauth/introspect"
    assert "client_credentials" in doc["grant_types_supported"]
    assert {"client_secret_basic", "client_secret_post"} <= set(
        doc["token_endpoint_auth_methods_supported"]
    )


def test_private_keys_are_encrypted_at_rest(world):
    access_token(world.client, *create_key(world))
    with world.runtime.sessions() as db:
        (key,) = db.scalars(select(SigningKey)).all()
    assert "PRIVATE KEY" not in key.private_key
    assert b"BEGIN PRIVATE KEY" in world.runtime.secret_box.decrypt(key.private_key)
    assert set(key.public_jwk) == {"kty", "crv", "x", "y", "use", "alg"}


def rotate(world, **settings_env):
    """``keyplane admin keys rotate`` against the test database, as an operator runs it."""
    output = run_admin(world, "keys", "rotate", **settings_env).output
    world.runtime.oauth.keys.invalidate()  # as a server does within REFRESH_SECONDS
    return output


def _time_passes(world, old_kid: str) -> None:
    """As if PUBLISH_AHEAD had passed: the old key's retirement is due."""
    with unit_of_work(world.runtime.sessions) as db:
        db.execute(
            update(SigningKey)
            .where(SigningKey.kid == old_kid)
            .values(retired_at=utcnow() - timedelta(seconds=1))
        )
    world.runtime.oauth.keys.invalidate()


def test_a_rotated_in_key_is_published_before_it_signs(world):
    key = create_key(world)
    before = access_token(world.client, *key)
    old_kid = header(before)["kid"]
    output = rotate(world)
    new_kid = re.search(r"new signing key\s+(\S+)", output).group(1)
    assert "signs from" in output
    answer = world.client.get("/.well-known/jwks.json")
    assert answer.headers["cache-control"] == f"public, max-age={JWKS_MAX_AGE}"
    assert {k["kid"] for k in answer.json()["keys"]} == {old_kid, new_kid}
    # The old key keeps signing at least one JWKS cache lifetime after the rotation.
    assert header(access_token(world.client, *key))["kid"] == old_kid
    with world.runtime.sessions() as db:
        old = db.get(SigningKey, old_kid)
        assert old.retired_at - utcnow() >= timedelta(seconds=JWKS_MAX_AGE)
    cached = KeySet.import_key_set(answer.json())  # a relying party's cached copy
    _time_passes(world, old_kid)
    after = access_token(world.client, *key)
    assert header(after)["kid"] == new_kid
    # An independent JOSE library verifies the new key's token with the cached JWKS.
    assert jose_jwt.decode(after, cached, algorithms=["ES256"]).claims["client_id"] == key[0]


def test_rotation_keeps_tokens_in_flight_valid(world):
    key = create_key(world)
    before = access_token(world.client, *key)
    output = rotate(world)
    assert "new signing key" in output and "retired" in output
    _time_passes(world, header(before)["kid"])
    after = access_token(world.client, *key)
    assert header(after)["kid"] != header(before)["kid"]
    assert header(after)["kid"] in output
    jwks = world.client.get("/.well-known/jwks.json").json()
    assert {k["kid"] for k in jwks["keys"]} == {header(before)["kid"], header(after)["kid"]}
    for token in (before, after):
        assert world.client.get("/v1/self", headers=bearer(token)).status_code == 200
    # Once every token the old key signed has expired, it leaves the JWKS.
    with unit_of_work(world.runtime.sessions) as db:
        db.execute(
            update(SigningKey)
            .where(SigningKey.kid == header(before)["kid"])
            .values(unpublish_at=utcnow() - timedelta(seconds=1))
        )
    world.runtime.oauth.keys.invalidate()
    jwks = world.client.get("/.well-known/jwks.json").json()
    assert [k["kid"] for k in jwks["keys"]] == [header(after)["kid"]]
    refused = world.client.get("/v1/self", headers=bearer(before))
    assert refused.status_code == 401
    assert "unknown or retired key" in refused.json()["message"]


def test_a_retired_key_outlives_the_longest_token_any_grant_issues(world):
    """Key-pair tokens set to live a minute; a workload identity's may live an hour: the
    retired key stays published for the hour, or those tokens would die with it."""
    old_kid = published_kid(world)
    rotate(world, KEYPLANE_ACCESS_TOKEN_LIFETIME_SECONDS="60")
    with world.runtime.sessions() as db:
        old = db.get(SigningKey, old_kid)
        assert old.unpublish_at - old.retired_at >= timedelta(seconds=3600)


def published_kid(world) -> str:
    (only,) = world.client.get("/.well-known/jwks.json").json()["keys"]
    return str(only["kid"])


def forged(world, token: str, **changes) -> dict:
    """The claims and header of ``token`` with changes, for re-signing."""
    return {**claims(token), **changes}


def sign_with_server_key(world, payload: dict, **headers) -> str:
    keys = world.runtime.oauth.keys.current()
    head = {"kid": keys.signer_kid, "typ": "at+jwt", **headers}
    return jwt.encode(payload, keys.signer, algorithm="ES256", headers=head)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"aud": "https://elsewhere.example"}, "not meant for"),
        ({"iss": "https://evil.example"}, "not issued by"),
        ({"exp": int(time.time()) - 60}, "expired"),
        ({"kp_kind": "ROBOT"}, "invalid access token"),
    ],
)
def test_verifier_checks_claims(world, change, message):
    token = access_token(world.client, *create_key(world))
    bad = sign_with_server_key(world, forged(world, token, **change))
    answer = world.client.get("/v1/self", headers=bearer(bad))
    assert answer.status_code == 401
    assert message in answer.json()["message"]


def test_verifier_requires_typ_at_jwt(world):
    token = access_token(world.client, *create_key(world))
    bad = sign_with_server_key(world, claims(token), typ="JWT")
    answer = world.client.get("/v1/self", headers=bearer(bad))
    assert answer.status_code == 401
    assert "typ" in answer.json()["message"]


def test_verifier_refuses_other_algorithms_and_keys(world):
    token = access_token(world.client, *create_key(world))
    kid = header(token)["kid"]
    payload = claims(token)
    unsigned = jwt.encode(payload, None, algorithm="none", headers={"kid": kid, "typ": "at+jwt"})
    hmac = jwt.encode(
        payload, "secret" * 6, algorithm="HS256", headers={"kid": kid, "typ": "at+jwt"}
    )
    stranger = ec.generate_private_key(ec.SECP256R1())
    impostor = jwt.encode(
        payload, stranger, algorithm="ES256", headers={"kid": kid, "typ": "at+jwt"}
    )
    for bad in (unsigned, hmac, impostor):
        answer = world.client.get("/v1/self", headers=bearer(bad))
        assert answer.status_code == 401, bad
    tampered = token[:-4] + ("AAAA" if not token.endswith("AAAA") else "BBBB")
    assert world.client.get("/v1/self", headers=bearer(tampered)).status_code == 401
