"""Bad input gets a clear 4xx with the error body and request id, and changes nothing.

"Changes nothing" is checked by dumping every table before and after, except the
audit trail, whose job is to record refused requests too.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select, update

from keyplane.audit.models import AuditEvent
from keyplane.db.base import Base, utcnow
from keyplane.db.models import ApiToken
from keyplane.db.unit import unit_of_work
from keyplane.domain import credentials
from keyplane.domain.credentials import BASE62, SecretKind
from tests.factories import World, bearer

EXEMPT = {AuditEvent.__tablename__}


def snapshot(world: World) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table but the audit trail, in a stable order."""
    found = {}
    with world.runtime.engine.connect() as connection:
        for table in Base.metadata.sorted_tables:
            if table.name not in EXEMPT:
                rows = connection.execute(select(table)).all()
                found[table.name] = sorted((tuple(row) for row in rows), key=repr)
    return found


def assert_error(answer: Any, status: int, words: str = "") -> dict[str, Any]:
    """A clear error: the status, the error body, one X-Request-Id equal to requestId."""
    assert answer.status_code == status, answer.text
    body = answer.json()
    assert set(body) >= {"message", "requestId", "statusCode"}, body
    assert body["statusCode"] == status
    assert body["message"]
    assert answer.headers.get_list("x-request-id") == [body["requestId"]]
    assert words.lower() in body["message"].lower(), body
    return dict(body)


def changed_one_char(value: str) -> str:
    """The value with one body character replaced: the checksum no longer matches."""
    position = 10
    other = BASE62[(BASE62.index(value[position]) + 1) % len(BASE62)]
    return value[:position] + other + value[position + 1 :]


def _expired(world: World) -> str:
    value = world.token(
        "WORKSPACE", world.org.workspaces["ws1"], "WORKSPACE_OWNER", tokenExpiryPeriodInDays=1
    )
    with unit_of_work(world.runtime.sessions) as db:  # move the clock past the end, as time would
        db.execute(
            update(ApiToken)
            .where(ApiToken.secret_hash == credentials.hash_secret(value))
            .values(end_at=utcnow() - timedelta(seconds=1))
        )
    world.runtime.authenticator.cache.clear()
    return value


def _rotated(world: World) -> str:
    value = world.token("ORGANIZATION", None, "ORGANIZATION_MEMBER")
    client = world.client
    assert client.get("/v1/self", headers=bearer(value)).status_code == 200  # now cached
    token_id = client.get("/v1/self", headers=bearer(value)).json()["id"]
    path = f"/v1/organizations/{world.org.id}/tokens/{token_id}/rotate"
    assert client.post(path, headers=bearer(world.org.owner_token)).status_code == 200
    return value


def _deleted(world: World) -> str:
    value = world.token("DEPLOYMENT", world.org.deployments["d1"], "DEPLOYMENT_ADMIN")
    client = world.client
    token_id = client.get("/v1/self", headers=bearer(value)).json()["id"]
    path = f"/v1/organizations/{world.org.id}/tokens/{token_id}"
    assert client.delete(path, headers=bearer(world.org.owner_token)).status_code == 204
    return value


BAD_TOKENS = {
    "malformed": (lambda world: "not-a-token", "malformed"),
    "unknown": (lambda world: credentials.generate(SecretKind.ORGANIZATION_TOKEN), "unknown"),
    "wrong checksum": (lambda world: changed_one_char(world.org.owner_token), "checksum"),
    "cut short": (lambda world: world.org.owner_token[:-1], "malformed"),
    "expired": (_expired, "expired"),
    "rotated": (_rotated, "unknown"),
    "deleted": (_deleted, "unknown"),
}


@pytest.mark.parametrize("case", list(BAD_TOKENS))
def test_bad_token_is_refused_and_changes_nothing(world, case):
    make, words = BAD_TOKENS[case]
    value = make(world)
    before = snapshot(world)
    for method, path, body in (
        ("GET", "/v1/self", None),
        ("POST", f"/v1/organizations/{world.org.id}/workspaces", {"name": "intruder"}),
        (
            "DELETE",
            f"/v1/organizations/{world.org.id}/deployments/{world.org.deployments['d1']}",
            None,
        ),
    ):
        answer = world.client.request(method, path, headers=bearer(value), json=body)
        error = assert_error(answer, 401, words)
        assert answer.headers["www-authenticate"].startswith("Bearer")
        assert value not in error["message"]
    assert snapshot(world) == before


def test_missing_and_malformed_authorization_headers(world):
    for headers in ({}, {"Authorization": "Basic abc"}, {"Authorization": "Bearer "}):
        assert_error(world.client.get("/v1/self", headers=headers), 401)


def test_a_real_token_with_any_one_character_changed_is_refused(world):
    """Every position of the body and checksum: the checksum catches it offline."""
    value = world.org.owner_token
    for position in range(4, len(value)):
        other = BASE62[(BASE62.index(value[position]) + 7) % len(BASE62)]
        changed = value[:position] + other + value[position + 1 :]
        with pytest.raises(credentials.NotAuthenticated):
            credentials.parse(changed)


def test_oversized_bodies_get_413(world):
    before = snapshot(world)
    path = f"/v1/organizations/{world.org.id}/workspaces"
    limit = world.runtime.settings.max_body_bytes
    declared = world.client.post(
        path,
        content=b'{"name": "' + b"x" * limit + b'"}',
        headers={**bearer(world.org.owner_token), "Content-Type": "application/json"},
    )
    assert_error(declared, 413, "too large")

    def chunks():  # streamed, with no Content-Length to trust
        yield b'{"name": "'
        for _ in range(limit // 65536 + 2):
            yield b"x" * 65536
        yield b'"}'

    streamed = world.client.post(
        path,
        content=chunks(),
        headers={**bearer(world.org.owner_token), "Content-Type": "application/json"},
    )
    assert_error(streamed, 413, "too large")
    assert snapshot(world) == before


def test_unknown_fields_get_400_with_field_errors(world):
    before = snapshot(world)
    headers = bearer(world.org.owner_token)
    org = f"/v1/organizations/{world.org.id}"
    for path, body in (
        (f"{org}/workspaces", {"name": "ws9", "colour": "blue"}),
        (
            f"{org}/tokens",
            {"name": "t", "scope": "ORGANIZATION", "role": "ORGANIZATION_MEMBER", "admin": True},
        ),
        (f"{org}/deployments", {"name": "d9", "workspaceId": world.org.workspaces["ws1"], "x": 1}),
    ):
        error = assert_error(world.client.post(path, json=body, headers=headers), 400)
        unknown = set(body) - {"name", "scope", "role", "workspaceId"}
        assert {key: error["fieldErrors"].get(key) for key in unknown} == dict.fromkeys(
            unknown, "unknown field"
        )
    assert snapshot(world) == before


@pytest.mark.parametrize("days", [0, -1, 3651, 100000])
def test_out_of_range_expiry_gets_400(world, days):
    before = snapshot(world)
    body = {
        "name": "t",
        "scope": "ORGANIZATION",
        "role": "ORGANIZATION_MEMBER",
        "tokenExpiryPeriodInDays": days,
    }
    answer = world.client.post(
        f"/v1/organizations/{world.org.id}/tokens", json=body, headers=bearer(world.org.owner_token)
    )
    error = assert_error(answer, 400)
    assert "tokenExpiryPeriodInDays" in error["fieldErrors"]
    assert snapshot(world) == before


@pytest.mark.parametrize("days", [1, 3650])
def test_expiry_bounds_are_accepted(world, days):
    body = {
        "name": "t",
        "scope": "ORGANIZATION",
        "role": "ORGANIZATION_MEMBER",
        "tokenExpiryPeriodInDays": days,
    }
    answer = world.client.post(
        f"/v1/organizations/{world.org.id}/tokens", json=body, headers=bearer(world.org.owner_token)
    )
    assert answer.status_code == 201, answer.text
    assert answer.json()["expiryPeriodInDays"] == days


LISTS = ["/workspaces", "/deployments", "/tokens", "/users", "/custom-roles"]


@pytest.mark.parametrize("path", LISTS)
def test_paging_limits(world, path):
    url = f"/v1/organizations/{world.org.id}{path}"
    headers = bearer(world.org.owner_token)
    before = snapshot(world)
    for params in ({"limit": 1001}, {"limit": 0}, {"offset": -1}, {"limit": "many"}):
        error = assert_error(world.client.get(url, params=params, headers=headers), 400)
        assert set(error["fieldErrors"]) == set(params)
    for sort in ("nonsense:asc", "name:sideways", "createdAt:up"):
        error = assert_error(
            world.client.get(url, params={"sorts": sort}, headers=headers), 400, "sort"
        )
        assert "sorts" in error["fieldErrors"]
    assert snapshot(world) == before
    # Checked after the snapshot: a listing that succeeds records the permission it used.
    answer = world.client.get(url, params={"limit": 1000}, headers=headers)
    assert answer.status_code == 200, answer.text
    assert answer.json()["limit"] == 1000


def test_malformed_json_gets_400(world):
    before = snapshot(world)
    answer = world.client.post(
        f"/v1/organizations/{world.org.id}/workspaces",
        content=b'{"name": ',
        headers={**bearer(world.org.owner_token), "Content-Type": "application/json"},
    )
    assert_error(answer, 400)
    assert snapshot(world) == before


@pytest.mark.parametrize(
    ("scope", "entity", "role", "named"),
    [
        ("WORKSPACE", "ws1", "ORGANIZATION_OWNER", "WORKSPACE_ACCESSOR, WORKSPACE_MEMBER"),
        ("DEPLOYMENT", "d1", "WORKSPACE_OWNER", "DEPLOYMENT_ADMIN or a custom deployment role"),
        ("ORGANIZATION", None, "DEPLOYMENT_ADMIN", "ORGANIZATION_MEMBER, ORGANIZATION_BILLING"),
    ],
)
def test_a_role_of_another_level_gets_400_naming_the_roles_of_this_one(
    world, scope, entity, role, named
):
    """The message says what would have been accepted, not a command to look it up."""
    before = snapshot(world)
    ids = {**world.org.workspaces, **world.org.deployments}
    body = {"name": "t", "scope": scope, "role": role}
    if entity:
        body["entityId"] = ids[entity]
    answer = world.client.post(
        f"/v1/organizations/{world.org.id}/tokens", json=body, headers=bearer(world.org.owner_token)
    )
    error = assert_error(answer, 400, named)
    assert error["fieldErrors"] == {"role": "unknown role for this entity"}
    # The owner did exercise organization.tokens:manage (least-privilege bookkeeping).
    changed = {name for name, rows in snapshot(world).items() if rows != before[name]}
    assert changed <= {"permission_uses"}
