"""RFC 8693 token exchange: a CI job's ID token from a real local issuer becomes an
access token holding its workload identity's role, and every bad token is refused
with an ``invalid_grant`` naming the check that failed."""

from __future__ import annotations

import time
from typing import Any

import pytest
from fastapi.testclient import TestClient
from limits import RateLimitItemPerMinute
from sqlalchemy import select

from keyplane.audit.models import AuditEvent
from keyplane.config import Settings
from keyplane.runtime import Runtime
from tests.factories import World, bearer
from tests.functional.federation.helpers import (
    ACCESS_TOKEN,
    AUD,
    GRANT,
    create_identity,
    exchange,
    identity_body,
    refused,
)
from tests.functional.oauth.helpers import claims as decoded
from tests.workload_issuer import REPOSITORY, WorkloadIssuer


def test_an_id_token_becomes_an_access_token_holding_the_identitys_role(
    world: World, identity: dict[str, Any], workload_issuer: WorkloadIssuer
) -> None:
    answer = exchange(world.client, identity["id"], workload_issuer.mint(AUD))

    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["issued_token_type"] == ACCESS_TOKEN and body["token_type"] == "Bearer"
    assert body["expires_in"] == 900 and answer.headers["cache-control"] == "no-store"
    token = decoded(body["access_token"])
    assert token["sub"] == token["client_id"] == identity["id"]
    assert token["kp_kind"] == "WORKLOAD_IDENTITY" and token["exp"] - token["iat"] == 900

    me = world.client.get("/v1/self", headers=bearer(body["access_token"])).json()
    assert me["kind"] == "WORKLOAD_IDENTITY" and me["id"] == identity["id"]
    assert me["roles"] == [
        {"entityType": "DEPLOYMENT", "entityId": identity["entityId"], "role": "DEPLOYMENT_ADMIN"}
    ]
    assert me["workloadIdentity"] == {
        "id": identity["id"],
        "name": "deploy from main",
        "claims": {
            "repository": REPOSITORY,
            "ref": "refs/heads/main",
            "environment": "production",
            "sub": f"repo:{REPOSITORY}:ref:refs/heads/main",
        },
    }


def test_the_token_acts_only_within_the_identitys_role(
    world: World, identity: dict[str, Any], workload_issuer: WorkloadIssuer
) -> None:
    token = exchange(world.client, identity["id"], workload_issuer.mint(AUD)).json()
    headers = bearer(token["access_token"])
    org = f"/v1/organizations/{world.org.id}"
    d1, d2 = world.org.deployments["d1"], world.org.deployments["d2"]

    variable = {"key": "FROM_CI", "value": "1"}
    set_variable = world.client.post(
        f"{org}/deployments/{d1}/variables", json=variable, headers=headers
    )
    assert set_variable.status_code == 201, set_variable.text
    assert world.client.get(f"{org}/deployments/{d1}", headers=headers).status_code == 200
    assert world.client.get(f"{org}/deployments/{d2}", headers=headers).status_code == 404
    made = world.client.post(f"{org}/workspaces", json={"name": "x"}, headers=headers)
    assert made.status_code == 403 and made.json()["missingPermission"] == "workspace:create"


def test_other_users_of_the_session_see_no_workload_identity(world: World) -> None:
    assert (
        world.client.get("/v1/self", headers=bearer(world.org.owner_token)).json()[
            "workloadIdentity"
        ]
        is None
    )


def test_each_exchange_records_last_use(
    world: World, identity: dict[str, Any], workload_issuer: WorkloadIssuer
) -> None:
    path = f"/v1/organizations/{world.org.id}/workload-identities/{identity['id']}"
    assert exchange(world.client, identity["id"], workload_issuer.mint(AUD)).status_code == 200

    after = world.client.get(path, headers=bearer(world.org.owner_token)).json()
    assert after["lastUsedAt"] is not None and after["updatedAt"] == identity["updatedAt"]


def test_es256_id_tokens_are_accepted(
    world: World, identity: dict[str, Any], workload_issuer: WorkloadIssuer
) -> None:
    answer = exchange(world.client, identity["id"], workload_issuer.mint(AUD, alg="ES256"))
    assert answer.status_code == 200, answer.text


def test_an_id_token_that_lives_a_year_is_accepted(
    world: World, identity: dict[str, Any], workload_issuer: WorkloadIssuer
) -> None:
    """Kubernetes extends a projected service-account token to a year for old clients."""
    token = workload_issuer.mint(AUD, exp=int(time.time()) + 365 * 86_400)
    answer = exchange(world.client, identity["id"], token)
    assert answer.status_code == 200, answer.text


NOW = int(time.time())
REFUSALS: list[tuple[str, dict[str, Any], str]] = [
    ("wrong repository_id", {"repository_id": "1"}, "condition repository_id"),
    ("wrong owner", {"repository_owner_id": "2"}, "condition repository_owner_id"),
    ("wrong ref", {"ref": "refs/heads/dev"}, "condition ref"),
    ("no ref", {"drop": ("ref",)}, "condition ref"),
    ("wrong audience", {"audience": "https://elsewhere.example"}, "aud"),
    ("expired", {"exp": NOW - 120, "iat": NOW - 600, "nbf": NOW - 600}, "exp"),
    ("expires in 30 million years", {"exp": 10**15}, "exp"),
    ("not yet valid", {"nbf": NOW + 600}, "nbf"),
    ("issued in the future", {"iat": NOW + 600}, "iat"),
    ("unknown kid", {"kid": "stranger"}, "kid"),
    ("alg none", {"alg": "none"}, "alg"),
    ("HS256 with the public key", {"alg": "HS256"}, "alg"),
    ("no jti", {"drop": ("jti",)}, "jti"),
    ("no exp", {"drop": ("exp",)}, "exp"),
    ("another issuer in iss", {"iss": "https://token.actions.githubusercontent.com"}, "iss"),
    ("pull_request_target", {"event_name": "pull_request_target"}, "event_name"),
    ("workflow_run", {"event_name": "workflow_run"}, "event_name"),
]


@pytest.mark.parametrize(
    ("options", "check"), [r[1:] for r in REFUSALS], ids=[r[0] for r in REFUSALS]
)
def test_bad_id_tokens_are_refused_naming_the_check(
    world: World,
    identity: dict[str, Any],
    workload_issuer: WorkloadIssuer,
    options: dict[str, Any],
    check: str,
) -> None:
    options = dict(options)
    audience = options.pop("audience", AUD)
    token = workload_issuer.mint(audience, **options)

    description = refused(exchange(world.client, identity["id"], token), check)

    assert not any(part and part in description for part in token.split("."))


def test_a_replayed_id_token_is_refused(
    world: World, identity: dict[str, Any], workload_issuer: WorkloadIssuer
) -> None:
    token = workload_issuer.mint(AUD)
    assert exchange(world.client, identity["id"], token).status_code == 200

    refused(exchange(world.client, identity["id"], token), "jti")


def test_a_risky_event_is_accepted_when_the_identity_names_it(
    world: World, workload_issuer: WorkloadIssuer
) -> None:
    body = identity_body(workload_issuer.url, world.org.deployments["d1"])
    body["conditions"]["event_name"] = ["push", "pull_request_target"]
    named = create_identity(world.client, world.org, body)
    token = workload_issuer.mint(AUD, event_name="pull_request_target")

    assert exchange(world.client, named["id"], token).status_code == 200


def test_a_glob_and_a_list_of_values_match(world: World, workload_issuer: WorkloadIssuer) -> None:
    body = identity_body(workload_issuer.url, world.org.deployments["d1"])
    body["conditions"].update(ref="refs/heads/release-*", environment=["staging", "production"])
    globbed = create_identity(world.client, world.org, body)

    ok = exchange(
        world.client, globbed["id"], workload_issuer.mint(AUD, ref="refs/heads/release-2")
    )
    assert ok.status_code == 200, ok.text
    for claims, check in (
        ({"ref": "refs/heads/main"}, "ref"),
        ({"environment": "dev"}, "environment"),
    ):
        token = workload_issuer.mint(AUD, **{"ref": "refs/heads/release-2", **claims})
        refused(exchange(world.client, globbed["id"], token), f"condition {check}")


def test_the_request_itself_is_checked(
    world: World, identity: dict[str, Any], workload_issuer: WorkloadIssuer
) -> None:
    token = workload_issuer.mint(AUD)
    client, ident = world.client, identity["id"]

    def error(**form: str) -> str:
        answer = exchange(client, ident, token, **form)
        assert answer.status_code in (400, 401), answer.text
        return str(answer.json()["error"])

    assert error(subject_token_type="urn:ietf:params:oauth:token-type:saml2") == "invalid_request"
    assert error(scope="admin") == "invalid_scope"
    assert error(resource="https://elsewhere.example") == "invalid_target"
    assert error(actor_token=token, actor_token_type="urn:x") == "invalid_request"
    assert error(client_secret="guess") == "unauthorized_client"
    assert error(requested_token_type="urn:ietf:params:oauth:token-type:refresh_token") == (
        "invalid_request"
    )
    missing = client.post("/oauth/token", data={"grant_type": GRANT, "client_id": ident})
    assert missing.json()["error"] == "invalid_request" and "subject_token" in missing.text
    unknown = exchange(client, "c" + "0" * 24, token)
    assert unknown.json()["error"] == "invalid_client", unknown.text
    cli = exchange(client, "keyplane-cli", token)
    assert cli.json()["error"] == "invalid_client", cli.text
    # Nothing was spent by the refused requests: the token still works.
    assert exchange(client, ident, token).status_code == 200


def test_the_metadata_advertises_the_grant(client: TestClient) -> None:
    metadata = client.get("/.well-known/oauth-authorization-server").json()
    assert GRANT in metadata["grant_types_supported"]
    assert "none" in metadata["token_endpoint_auth_methods_supported"]
    # A workload identity introspects the tokens issued to it, as a public client.
    assert "none" in metadata["introspection_endpoint_auth_methods_supported"]


def test_the_jwks_is_fetched_once_and_refetched_for_a_rotated_key(
    world: World, runtime: Runtime, fresh_issuer: WorkloadIssuer, settings: Settings
) -> None:
    runtime.settings.federation_issuers += f",{fresh_issuer.url}"
    body = identity_body(fresh_issuer.url, world.org.deployments["d1"])
    ident = create_identity(world.client, world.org, body)["id"]
    for _ in range(3):
        assert exchange(world.client, ident, fresh_issuer.mint(AUD)).status_code == 200
    assert fresh_issuer.hits["/.well-known/jwks"] == 1
    assert fresh_issuer.hits["/.well-known/openid-configuration"] == 1

    for _ in range(5):  # forged kids: the bound allows no refetch so soon after the last
        refused(exchange(world.client, ident, fresh_issuer.mint(AUD, kid="stranger")), "kid")
    assert fresh_issuer.hits["/.well-known/jwks"] == 1

    rotated = fresh_issuer.add_key()
    runtime.federation.keys.refetch_after = 0  # as if the bound had passed
    answer = exchange(world.client, ident, fresh_issuer.mint(AUD, kid=rotated))
    assert answer.status_code == 200, answer.text
    assert fresh_issuer.hits["/.well-known/jwks"] == 2


def test_an_issuer_the_operator_unlisted_is_refused(
    world: World, runtime: Runtime, identity: dict[str, Any], workload_issuer: WorkloadIssuer
) -> None:
    runtime.settings.federation_issuers = "https://token.actions.githubusercontent.com"

    refused(exchange(world.client, identity["id"], workload_issuer.mint(AUD)), "iss")


def test_an_unreachable_issuer_answers_503(
    world: World, runtime: Runtime, fresh_issuer: WorkloadIssuer
) -> None:
    runtime.settings.federation_issuers += f",{fresh_issuer.url}"
    ident = create_identity(
        world.client, world.org, identity_body(fresh_issuer.url, world.org.deployments["d1"])
    )["id"]
    token = fresh_issuer.mint(AUD)
    fresh_issuer.answer = lambda path, query, auth: (500, {"message": "down"})  # type: ignore[method-assign]

    answer = exchange(world.client, ident, token)

    assert answer.status_code == 503 and answer.json()["error"] == "temporarily_unavailable"
    assert token not in answer.text


def test_refusals_are_rate_limited(
    world: World, runtime: Runtime, identity: dict[str, Any], workload_issuer: WorkloadIssuer
) -> None:
    runtime.federation.failure_limit = RateLimitItemPerMinute(3)
    bad = [workload_issuer.mint(AUD, ref="refs/heads/dev") for _ in range(4)]
    statuses = [exchange(world.client, identity["id"], t).status_code for t in bad]

    assert statuses[:3] == [400, 400, 400] and statuses[3] == 429


def test_uses_and_refusals_are_in_the_audit_trail(
    world: World, runtime: Runtime, identity: dict[str, Any], workload_issuer: WorkloadIssuer
) -> None:
    exchange(world.client, identity["id"], workload_issuer.mint(AUD))
    exchange(world.client, identity["id"], workload_issuer.mint(AUD))  # the same job: once
    bad = workload_issuer.mint(AUD, ref="refs/heads/dev")
    exchange(world.client, identity["id"], bad)

    logs = world.client.get(
        f"/v1/organizations/{world.org.id}/audit-logs", headers=bearer(world.org.owner_token)
    ).json()["auditLogs"]
    uses = [e for e in logs if e["action"] == "workload_identity.use"]
    assert len(uses) == 1 and uses[0]["details"]["claims"]["ref"] == "refs/heads/main"
    assert uses[0]["actor"]["kind"] == "WORKLOAD_IDENTITY"
    with runtime.sessions() as db:
        refusals = [
            e.details
            for e in db.scalars(select(AuditEvent).where(AuditEvent.action == "oauth.token"))
        ]
    assert [r["workloadIdentityId"] for r in refusals] == [identity["id"]]
    assert "(condition ref)" in refusals[0]["refusal"] and bad not in str(refusals)


def test_an_issuer_that_writes_its_name_with_a_final_slash_works(
    world: World, runtime: Runtime, workload_issuer: WorkloadIssuer
) -> None:
    runtime.settings.federation_issuers = workload_issuer.url + "/"
    slashed = create_identity(
        world.client,
        world.org,
        identity_body(workload_issuer.url + "/", world.org.deployments["d1"]),
    )
    token = workload_issuer.mint(AUD, iss=workload_issuer.url + "/")

    answer = exchange(world.client, slashed["id"], token)

    assert answer.status_code == 200, answer.text
    other = workload_issuer.mint(AUD, iss=workload_issuer.url + "/other/")
    refused(exchange(world.client, slashed["id"], other), "iss")
