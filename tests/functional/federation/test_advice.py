"""A workload identity's exercised permissions are recorded through its access tokens,
and its advice names the least role that covers them."""

from __future__ import annotations

from typing import Any

from tests.factories import World, bearer
from tests.functional.federation.helpers import AUD, exchange
from tests.functional.oauth.helpers import claims as decoded
from tests.workload_issuer import WorkloadIssuer


def test_an_identity_that_only_reads_is_told_of_a_read_only_custom_role(
    world: World, identity: dict[str, Any], workload_issuer: WorkloadIssuer
) -> None:
    org = f"/v1/organizations/{world.org.id}"
    owner = bearer(world.org.owner_token)
    reader = {"name": "reader", "permissions": ["deployment:read"]}
    assert world.client.post(f"{org}/custom-roles", json=reader, headers=owner).status_code == 201
    path = f"{org}/workload-identities/{identity['id']}/advice"
    unused = world.client.get(path, headers=owner).json()
    assert (unused["stale"], unused["usedPermissions"]) == (True, [])

    token = exchange(world.client, identity["id"], workload_issuer.mint(AUD)).json()
    assert decoded(token["access_token"])["kp_kind"] == "WORKLOAD_IDENTITY"
    d1 = identity["entityId"]
    read = world.client.get(f"{org}/deployments/{d1}", headers=bearer(token["access_token"]))
    assert read.status_code == 200

    found = world.client.get(path, headers=owner).json()
    assert found["credentialType"] == "WORKLOAD_IDENTITY"
    assert found["credentialId"] == identity["id"]
    assert found["usedPermissions"] == ["deployment:read"]
    assert (found["currentRole"], found["suggestedRole"]) == ("DEPLOYMENT_ADMIN",) * 2
    assert found["suggestedCustomRole"] == "reader"
    assert (found["fits"], found["stale"]) == (False, False)
