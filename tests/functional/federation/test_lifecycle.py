"""What happens to exchanged tokens when their identity changes or goes, and RFC 7009 /
RFC 7662 for them: revoked and introspected by their own workload identity."""

from __future__ import annotations

from typing import Any

from tests.factories import World, bearer
from tests.functional.federation.helpers import AUD, exchange
from tests.functional.oauth.helpers import access_token, basic, create_key
from tests.workload_issuer import WorkloadIssuer


def exchanged(world: World, identity: dict[str, Any], issuer: WorkloadIssuer) -> str:
    answer = exchange(world.client, identity["id"], issuer.mint(AUD))
    assert answer.status_code == 200, answer.text
    return str(answer.json()["access_token"])


def path(world: World, identity: dict[str, Any]) -> str:
    return f"/v1/organizations/{world.org.id}/workload-identities/{identity['id']}"


def status_of(world: World, token: str) -> int:
    return world.client.get("/v1/self", headers=bearer(token)).status_code


def test_deleting_the_identity_ends_its_tokens_at_once(
    world: World, identity: dict[str, Any], workload_issuer: WorkloadIssuer
) -> None:
    token = exchanged(world, identity, workload_issuer)
    assert status_of(world, token) == 200

    gone = world.client.delete(path(world, identity), headers=bearer(world.org.owner_token))

    assert gone.status_code == 204
    answer = world.client.get("/v1/self", headers=bearer(token))
    assert answer.status_code == 401 and "deleted" in answer.json()["message"]
    again = exchange(world.client, identity["id"], workload_issuer.mint(AUD))
    assert again.status_code == 400 and again.json()["error"] == "invalid_client"


def test_new_conditions_end_the_tokens_issued_under_the_old_ones(
    world: World, identity: dict[str, Any], workload_issuer: WorkloadIssuer
) -> None:
    token = exchanged(world, identity, workload_issuer)
    conditions = {**identity["conditions"], "environment": "production"}

    changed = world.client.post(
        path(world, identity),
        json={"conditions": conditions},
        headers=bearer(world.org.owner_token),
    )

    assert changed.status_code == 200, changed.text
    assert status_of(world, token) == 401
    assert status_of(world, exchanged(world, identity, workload_issuer)) == 200


def test_a_new_role_applies_to_issued_tokens_and_a_new_name_keeps_them(
    world: World, identity: dict[str, Any], workload_issuer: WorkloadIssuer
) -> None:
    token = exchanged(world, identity, workload_issuer)
    owner = bearer(world.org.owner_token)
    world.client.post(f"/v1/organizations/{world.org.id}/custom-roles", json={
        "name": "reader", "permissions": ["deployment:read"]}, headers=owner)  # fmt: skip

    world.client.post(path(world, identity), json={"role": "reader", "name": "ci"}, headers=owner)

    me = world.client.get("/v1/self", headers=bearer(token)).json()
    assert me["roles"][0]["role"] == "reader" and me["workloadIdentity"]["name"] == "ci"


def test_a_custom_role_an_identity_holds_cannot_be_deleted(
    world: World, identity: dict[str, Any], workload_issuer: WorkloadIssuer
) -> None:
    """Else a role made later under the same name would hand its rights to the identity."""
    owner = bearer(world.org.owner_token)
    roles = f"/v1/organizations/{world.org.id}/custom-roles"
    made = world.client.post(roles, json={"name": "reader", "permissions": ["deployment:read"]},
                             headers=owner)  # fmt: skip
    world.client.post(path(world, identity), json={"role": "reader"}, headers=owner)

    refused = world.client.delete(f"{roles}/{made.json()['id']}", headers=owner)

    assert refused.status_code == 409, refused.text
    assert "reader is held 1 time(s)" in refused.json()["message"]
    world.client.delete(path(world, identity), headers=owner)
    assert world.client.delete(f"{roles}/{made.json()['id']}", headers=owner).status_code == 204


def test_the_identity_revokes_its_own_token(
    world: World, identity: dict[str, Any], workload_issuer: WorkloadIssuer
) -> None:
    token = exchanged(world, identity, workload_issuer)
    other = exchanged(world, identity, workload_issuer)

    answer = world.client.post("/oauth/revoke", data={"token": token, "client_id": identity["id"]})

    assert answer.status_code == 200 and answer.json() == {}
    assert status_of(world, token) == 401 and status_of(world, other) == 200


def test_no_other_client_revokes_it(
    world: World, identity: dict[str, Any], workload_issuer: WorkloadIssuer
) -> None:
    token = exchanged(world, identity, workload_issuer)
    key = create_key(world)

    by_key = world.client.post("/oauth/revoke", data={"token": token}, headers=basic(*key))
    by_cli = world.client.post("/oauth/revoke", data={"token": token, "client_id": "keyplane-cli"})

    assert by_key.status_code == 400 and by_cli.status_code == 400
    assert status_of(world, token) == 200


def test_the_identity_introspects_its_own_token(
    world: World, identity: dict[str, Any], workload_issuer: WorkloadIssuer
) -> None:
    token = exchanged(world, identity, workload_issuer)

    def introspect(client_id: str) -> dict[str, Any]:
        data = {"token": token, "client_id": client_id}
        answer = world.client.post("/oauth/introspect", data=data)
        assert answer.status_code == 200, answer.text
        return dict(answer.json())

    active = introspect(identity["id"])
    assert active["active"] is True and active["client_id"] == active["sub"] == identity["id"]
    assert active["username"] == identity["name"] and active["org_id"] == world.org.id

    world.client.delete(path(world, identity), headers=bearer(world.org.owner_token))
    assert (
        world.client.post(
            "/oauth/introspect", data={"token": token, "client_id": identity["id"]}
        ).json()["error"]
        == "invalid_client"
    )  # the client itself is gone now


def test_other_clients_learn_nothing_by_introspection(
    world: World, identity: dict[str, Any], workload_issuer: WorkloadIssuer
) -> None:
    token = exchanged(world, identity, workload_issuer)
    key = create_key(world)
    key_token = access_token(world.client, *key)
    by_key = world.client.post("/oauth/introspect", data={"token": token}, headers=basic(*key))
    by_cli = world.client.post(
        "/oauth/introspect", data={"token": token, "client_id": "keyplane-cli"}
    )
    by_identity = world.client.post(
        "/oauth/introspect", data={"token": key_token, "client_id": identity["id"]}
    )

    assert by_key.json() == {"active": False} and by_identity.json() == {"active": False}
    assert by_cli.status_code == 401 and by_cli.json()["error"] == "invalid_client"


def test_deleting_its_deployment_deletes_the_identity(
    world: World, identity: dict[str, Any], workload_issuer: WorkloadIssuer
) -> None:
    token = exchanged(world, identity, workload_issuer)
    owner = bearer(world.org.owner_token)
    dep = f"/v1/organizations/{world.org.id}/deployments/{identity['entityId']}"

    assert world.client.delete(dep, headers=owner).status_code == 204

    assert world.client.get(path(world, identity), headers=owner).status_code == 404
    assert status_of(world, token) == 401
