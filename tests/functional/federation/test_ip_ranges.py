"""A workload identity's access tokens are held to its organization's allowedIpRanges."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from tests.factories import World, bearer
from tests.functional.federation.helpers import AUD, exchange
from tests.workload_issuer import WorkloadIssuer


def test_exchanged_tokens_are_refused_outside_the_organizations_ranges(
    world: World, identity: dict[str, Any], workload_issuer: WorkloadIssuer
) -> None:
    inside = TestClient(world.client.app, client=("10.1.2.3", 50000))
    outside = TestClient(world.client.app, client=("203.0.113.7", 50000))
    answer = exchange(world.client, identity["id"], workload_issuer.mint(AUD))
    assert answer.status_code == 200, answer.text
    token = answer.json()["access_token"]
    assert outside.get("/v1/self", headers=bearer(token)).status_code == 200

    changed = inside.post(
        f"/v1/organizations/{world.org.id}",
        json={"allowedIpRanges": ["10.0.0.0/8"]},
        headers=bearer(world.org.owner_token),
    )

    assert changed.status_code == 200, changed.text
    assert inside.get("/v1/self", headers=bearer(token)).status_code == 200
    refused = outside.get("/v1/self", headers=bearer(token))
    assert refused.status_code == 403
    assert refused.json()["message"].startswith(
        "request from 203.0.113.7 is outside the organization's allowedIpRanges"
    )


def test_no_token_is_issued_outside_and_the_id_token_is_not_spent(
    world: World, identity: dict[str, Any], workload_issuer: WorkloadIssuer
) -> None:
    inside = TestClient(world.client.app, client=("10.1.2.3", 50000))
    outside = TestClient(world.client.app, client=("203.0.113.7", 50000))
    changed = world.client.post(
        f"/v1/organizations/{world.org.id}",
        json={"allowedIpRanges": ["10.0.0.0/8"]},
        headers=bearer(world.org.owner_token),
    )
    assert changed.status_code == 200, changed.text
    id_token = workload_issuer.mint(AUD)

    refused = exchange(outside, identity["id"], id_token)

    assert refused.status_code == 400, refused.text
    assert refused.json()["error"] == "unauthorized_client"
    description = refused.json()["error_description"]
    assert "request from 203.0.113.7 is outside the organization's allowedIpRanges" in description
    assert exchange(inside, identity["id"], id_token).status_code == 200
