"""Failed credential checks are limited; a valid credential is never refused for them.

Issue 11, item 19: CI runners behind one NAT share an address, and a deployment API
key's ID is public (it is the JWT ``client_id``). Failures from an address, or for a
key ID, answer 429 past the limit, while the real token or secret still works from
the same address. Failed JWT checks count like any other failure.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from keyplane.app import create_app
from keyplane.audit.models import AuditEvent
from keyplane.runtime import Runtime
from tests.factories import World, bearer
from tests.functional.oauth.helpers import access_token, create_key, grant

LIMIT = 3
NAT = ("203.0.113.7", 4321)


@pytest.fixture
def limited(settings, engine) -> Iterator[tuple[World, TestClient]]:
    """A server with a failure limit of 3 a minute; a second client behind one 'NAT'."""
    from tests.conftest import _empty

    _empty(engine)
    config = settings.model_copy(update={"auth_failure_limit_per_minute": LIMIT})
    runtime = Runtime.create(config, engine=engine)
    app = create_app(config, runtime)
    world = World.create(TestClient(app), runtime)
    try:
        yield world, TestClient(app, client=NAT)
    finally:
        runtime.close()


def _self(client: TestClient, value: str) -> int:
    return client.get("/v1/self", headers=bearer(value)).status_code


def _wrong(value: str) -> str:
    return value[:-1] + ("A" if value[-1] != "A" else "B")


def test_valid_tokens_work_from_an_address_over_its_limit(limited) -> None:
    world, nat = limited
    key = create_key(world)
    jwt = access_token(world.client, *key)
    for _ in range(LIMIT):
        assert _self(nat, _wrong(world.org.owner_token)) == 401
    answer = nat.get("/v1/self", headers=bearer(_wrong(world.org.owner_token)))
    assert answer.status_code == 429 and 1 <= int(answer.headers["retry-after"]) <= 61
    assert _self(nat, "kpo_malformed") == 429
    # The neighbours behind the same address are not locked out.
    assert _self(nat, world.org.owner_token) == 200
    assert _self(nat, jwt) == 200
    assert _self(world.client, _wrong(world.org.owner_token)) == 401  # another address


def test_failed_jwt_checks_are_limited(limited) -> None:
    world, nat = limited
    key = create_key(world)
    jwt = access_token(world.client, *key)
    forged = _wrong(jwt)
    for _ in range(LIMIT):
        assert _self(nat, forged) == 401
    assert _self(nat, forged) == 429
    assert _self(nat, world.org.owner_token) == 200
    assert _self(nat, jwt) == 200


def test_a_known_key_id_cannot_lock_out_its_real_secret(limited) -> None:
    world, nat = limited
    key_id, secret = create_key(world)
    for _ in range(LIMIT):
        assert grant(nat, key_id, "kpk_wrong").status_code == 401
    assert grant(nat, key_id, "kpk_wrong").status_code == 429
    assert grant(world.client, key_id, "kpk_wrong").status_code == 429  # per key ID too
    # The real secret works, from anywhere, the attacker's address included.
    assert grant(world.client, key_id, secret).status_code == 200
    assert grant(nat, key_id, secret).status_code == 200
    other_id, other_secret = create_key(world, "d2")
    assert grant(nat, other_id, other_secret).status_code == 200
    assert grant(nat, other_id, other_secret + "x").status_code == 429


def _audit_events(runtime: Runtime) -> int:
    with runtime.sessions() as db:
        return db.scalar(select(func.count()).select_from(AuditEvent)) or 0


@pytest.mark.parametrize(
    ("path", "form"),
    [
        ("/oauth/token", {"grant_type": "bogus"}),
        ("/oauth/token", {}),
        ("/oauth/token", {"grant_type": "client_credentials", "scope": "admin"}),
        ("/oauth/introspect", {"token": "x", "client_id": "nobody"}),
        ("/oauth/revoke", {"token": "x", "client_id": "nobody"}),
    ],
)
def test_refusals_before_any_credential_check_are_limited_too(limited, path, form) -> None:
    """Each refusal is an audit event: past the limit they answer 429, which is not."""
    world, nat = limited
    key_id, secret = create_key(world)
    if "scope" in form:
        form = {**form, "client_id": key_id, "client_secret": secret}
    for _ in range(LIMIT):
        assert nat.post(path, data=form).status_code in (400, 401)
    before = _audit_events(world.runtime)
    for _ in range(5):
        answer = nat.post(path, data=form)
        assert answer.status_code == 429, answer.text
        assert answer.json()["error"] == "temporarily_unavailable"
    assert _audit_events(world.runtime) == before
    assert grant(nat, key_id, secret).status_code == 200  # a valid grant still works
    assert world.client.post(path, data=form).status_code in (400, 401)  # another address
