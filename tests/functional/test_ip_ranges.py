"""IP restrictions: an organization's and a token's ``allowedIpRanges``.

The client address is the ASGI scope's (``TestClient(client=...)`` sets it, as uvicorn
does from the peer or a trusted proxy's header; tests/e2e/test_ip_ranges.py runs the
real server behind a trusted and an untrusted proxy header).
"""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from keyplane.db.models import ApiToken, Organization
from keyplane.oauth.access_tokens import issue_user_access_token
from keyplane.runtime import Runtime
from tests.factories import World, bearer
from tests.functional.oauth.helpers import access_token, basic, create_key, grant

INSIDE, OUTSIDE = "10.1.2.3", "203.0.113.7"


def from_(world: World, address: str) -> TestClient:
    """A client of the same app whose requests come from ``address``."""
    return TestClient(world.client.app, client=(address, 50000))


def org_path(world: World) -> str:
    return f"/v1/organizations/{world.org.id}"


def set_org_ranges(world: World, ranges: list[str] | None, address: str = INSIDE) -> Any:
    answer = from_(world, address).post(
        org_path(world), json={"allowedIpRanges": ranges}, headers=bearer(world.org.owner_token)
    )
    assert answer.status_code == 200, answer.text
    return answer.json()


def token_with(world: World, ranges: list[str] | None, scope: str = "WORKSPACE") -> str:
    entity = world.org.workspaces["ws1"] if scope == "WORKSPACE" else world.org.deployments["d1"]
    role = "WORKSPACE_MEMBER" if scope == "WORKSPACE" else "DEPLOYMENT_ADMIN"
    return world.token(scope, entity, role, allowedIpRanges=ranges)


def self_from(world: World, address: str, value: str) -> Any:
    return from_(world, address).get("/v1/self", headers=bearer(value))


def token_id(world: World, value: str) -> str:
    return str(self_from(world, INSIDE, value).json()["id"])


def assert_refused(answer: Any, address: str, setting: str) -> None:
    assert answer.status_code == 403, answer.text
    body = answer.json()
    assert f"request from {address} is outside {setting}'s allowedIpRanges" in body["message"]
    assert body["statusCode"] == 403 and body["requestId"]
    assert "missingPermission" not in body


def test_a_token_with_ranges_works_from_inside_and_is_refused_from_outside(world: World) -> None:
    value = token_with(world, ["10.0.0.0/8", "2001:db8::/32"])

    assert self_from(world, INSIDE, value).status_code == 200
    assert self_from(world, "2001:db8::5", value).status_code == 200
    # A dual-stack listener's view of an IPv4 client.
    assert self_from(world, "::ffff:10.9.9.9", value).status_code == 200
    assert_refused(self_from(world, OUTSIDE, value), OUTSIDE, "this token")
    assert_refused(self_from(world, "2001:db9::1", value), "2001:db9::1", "this token")
    # Every route, not only /v1/self.
    listing = from_(world, OUTSIDE).get(org_path(world) + "/deployments", headers=bearer(value))
    assert_refused(listing, OUTSIDE, "this token")


def test_an_organizations_ranges_apply_to_all_its_tokens(world: World) -> None:
    value = token_with(world, None, scope="DEPLOYMENT")
    other = world.token("ORGANIZATION", None, "ORGANIZATION_MEMBER", org=world.other)
    assert self_from(world, OUTSIDE, value).status_code == 200

    shown = set_org_ranges(world, ["10.0.0.0/8"])

    assert shown["allowedIpRanges"] == ["10.0.0.0/8"]
    assert self_from(world, INSIDE, value).status_code == 200
    assert_refused(self_from(world, OUTSIDE, value), OUTSIDE, "the organization")
    assert_refused(self_from(world, OUTSIDE, world.org.owner_token), OUTSIDE, "the organization")
    assert self_from(world, OUTSIDE, other).status_code == 200  # another tenant: untouched


def test_with_both_set_a_request_must_be_inside_both(world: World) -> None:
    value = token_with(world, ["10.1.0.0/16", "192.168.0.0/16"])
    set_org_ranges(world, ["10.0.0.0/8"])

    assert self_from(world, "10.1.200.1", value).status_code == 200
    assert_refused(self_from(world, "10.2.0.1", value), "10.2.0.1", "this token")
    assert_refused(self_from(world, "192.168.1.1", value), "192.168.1.1", "the organization")


def test_a_change_takes_effect_at_once(world: World) -> None:
    value = token_with(world, None)
    tid = token_id(world, value)
    path = f"{org_path(world)}/tokens/{tid}"
    owner = from_(world, INSIDE)
    read = f"{org_path(world)}/workspaces/{world.org.workspaces['ws1']}"
    # Cached in the credential cache and, for this cacheable read, the answer cache.
    assert from_(world, OUTSIDE).get(read, headers=bearer(value)).status_code == 200

    changed = owner.post(
        path, json={"allowedIpRanges": [INSIDE]}, headers=bearer(world.org.owner_token)
    )

    assert changed.status_code == 200 and changed.json()["allowedIpRanges"] == ["10.1.2.3/32"]
    outside = from_(world, OUTSIDE).get(read, headers=bearer(value))
    assert_refused(outside, OUTSIDE, "this token")
    assert from_(world, INSIDE).get(read, headers=bearer(value)).status_code == 200
    # The answer cached for the inside address is not served to the outside one.
    assert_refused(from_(world, OUTSIDE).get(read, headers=bearer(value)), OUTSIDE, "this token")

    cleared = owner.post(
        path, json={"allowedIpRanges": None}, headers=bearer(world.org.owner_token)
    )

    assert cleared.json()["allowedIpRanges"] == []
    assert self_from(world, OUTSIDE, value).status_code == 200


def test_leaving_the_field_out_keeps_the_list(world: World) -> None:
    value = token_with(world, ["10.0.0.0/8"])
    path = f"{org_path(world)}/tokens/{token_id(world, value)}"
    set_org_ranges(world, ["10.0.0.0/8"])

    renamed = from_(world, INSIDE).post(
        path, json={"name": "renamed"}, headers=bearer(world.org.owner_token)
    )
    org = from_(world, INSIDE).post(
        org_path(world), json={"name": "acme 2"}, headers=bearer(world.org.owner_token)
    )

    assert renamed.json()["allowedIpRanges"] == ["10.0.0.0/8"]
    assert org.json()["allowedIpRanges"] == ["10.0.0.0/8"]
    assert_refused(self_from(world, OUTSIDE, value), OUTSIDE, "this token")


def test_ranges_are_stored_in_canonical_form_and_survive_rotation(
    world: World, runtime: Runtime
) -> None:
    value = token_with(world, ["2001:DB8::/32", "198.51.100.7", "10.0.0.0/8", "10.0.0.0/8"])
    tid = token_id(world, value)
    answer = from_(world, INSIDE).post(
        f"{org_path(world)}/tokens/{tid}/rotate", headers=bearer(world.org.owner_token)
    )

    expected = ["2001:db8::/32", "198.51.100.7/32", "10.0.0.0/8"]
    assert answer.json()["allowedIpRanges"] == expected
    with runtime.sessions() as db:
        assert db.scalar(select(ApiToken.allowed_ip_ranges).where(ApiToken.id == tid)) == expected
    assert_refused(self_from(world, OUTSIDE, answer.json()["token"]), OUTSIDE, "this token")


@pytest.mark.parametrize(
    ("ranges", "problem"),
    [
        (["10.0.0.5/24"], "host bits set: write the network, 10.0.0.0/24"),
        (["not-an-address"], "not an IPv4 or IPv6 range"),
        (["10.0.0.0/33"], "not an IPv4 or IPv6 range"),
        ([""], "not an IPv4 or IPv6 range"),
        ([f"10.{i}.0.0/16" for i in range(101)], "at most 100"),
        ("10.0.0.0/8", "valid list"),
    ],
)
def test_invalid_ranges_are_refused_naming_the_problem(
    world: World, runtime: Runtime, ranges: Any, problem: str
) -> None:
    owner = bearer(world.org.owner_token)
    tokens = f"{org_path(world)}/tokens"
    value = token_with(world, None)
    body = {"name": "t", "scope": "ORGANIZATION", "role": "ORGANIZATION_MEMBER"}
    answers = [
        world.client.post(tokens, json={**body, "allowedIpRanges": ranges}, headers=owner),
        world.client.post(
            f"{tokens}/{token_id(world, value)}", json={"allowedIpRanges": ranges}, headers=owner
        ),
        world.client.post(org_path(world), json={"allowedIpRanges": ranges}, headers=owner),
    ]

    for answer in answers:
        assert answer.status_code == 400, answer.text
        assert problem in answer.json()["fieldErrors"]["allowedIpRanges"]
    with runtime.sessions() as db:
        assert db.get(Organization, world.org.id).allowed_ip_ranges == []  # type: ignore[union-attr]


def test_deployment_api_key_tokens_follow_the_organizations_ranges(world: World) -> None:
    key_id, secret = create_key(world)
    jwt = access_token(world.client, key_id, secret)
    assert self_from(world, OUTSIDE, jwt).status_code == 200

    set_org_ranges(world, ["10.0.0.0/8"])

    assert self_from(world, INSIDE, jwt).status_code == 200
    assert_refused(self_from(world, OUTSIDE, jwt), OUTSIDE, "the organization")
    # Nor is a new access token issued outside.
    refused = grant(from_(world, OUTSIDE), key_id, secret)
    assert refused.status_code == 400, refused.text
    assert refused.json()["error"] == "unauthorized_client"
    assert refused.json()["error_description"].startswith(
        f"request from {OUTSIDE} is outside the organization's allowedIpRanges"
    )
    assert access_token(from_(world, INSIDE), key_id, secret)
    # Nor does the key's secret introspect from outside.
    introspected = {"token": jwt}
    outside = from_(world, OUTSIDE).post(
        "/oauth/introspect", data=introspected, headers=basic(key_id, secret)
    )
    assert (outside.status_code, outside.json()["error"]) == (400, "unauthorized_client")
    inside = from_(world, INSIDE).post(
        "/oauth/introspect", data=introspected, headers=basic(key_id, secret)
    )
    assert inside.status_code == 200 and inside.json()["active"] is True


def test_peoples_logins_are_not_restricted(world: World, runtime: Runtime) -> None:
    set_org_ranges(world, ["10.0.0.0/8"])
    login = issue_user_access_token(runtime, world.org.owner_user_id).access_token

    answer = from_(world, OUTSIDE).get(org_path(world), headers=bearer(login))

    assert answer.status_code == 200, answer.text
    assert answer.json()["allowedIpRanges"] == ["10.0.0.0/8"]


def test_a_refused_write_is_in_the_audit_trail_with_the_address(world: World) -> None:
    value = token_with(world, ["10.0.0.0/8"])
    refused = from_(world, OUTSIDE).post(
        f"{org_path(world)}/workspaces/{world.org.workspaces['ws1']}",
        json={"description": "x"},
        headers=bearer(value),
    )
    assert_refused(refused, OUTSIDE, "this token")

    events = world.client.get(
        f"{org_path(world)}/audit-logs", headers=bearer(world.org.owner_token)
    ).json()["auditLogs"]

    failed = [e for e in events if e["outcome"] == "failure" and e["clientIp"] == OUTSIDE]
    assert failed and failed[0]["actor"]["id"] == token_id(world, value)
