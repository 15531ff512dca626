"""Workload identities on two replicas of one PostgreSQL database: an ID token is
exchanged once across both, and deleting the identity on one ends its tokens on the
other at once."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx

from tests.e2e import test_replicas
from tests.e2e.test_replicas import Replica, until
from tests.functional.federation.helpers import GRANT, ID_TOKEN, identity_body
from tests.workload_issuer import WorkloadIssuer

AUDIENCE = "keyplane-e2e"
pytestmark = test_replicas.pytestmark  # PostgreSQL only
cluster = test_replicas.cluster  # the fixture: replicas on a fresh PostgreSQL database


def exchange(replica: Replica, identity_id: str, id_token: str) -> httpx.Response:
    form = {
        "grant_type": GRANT,
        "subject_token": id_token,
        "subject_token_type": ID_TOKEN,
        "client_id": identity_id,
    }
    return httpx.post(f"{replica.url}/oauth/token", data=form, timeout=10)


def start_two(cluster: Any, issuer: WorkloadIssuer) -> tuple[Replica, Replica]:
    settings = {"KEYPLANE_FEDERATION_ISSUERS": issuer.url}
    return cluster.start(**settings), cluster.start(**settings)


def create_identity(replica: Replica, cluster: Any, issuer: WorkloadIssuer) -> str:
    body = identity_body(issuer.url, scope="ORGANIZATION", role="ORGANIZATION_MEMBER")
    body["audience"] = AUDIENCE
    answer = httpx.post(
        f"{replica.url}/v1/organizations/{cluster.tenant.org_id}/workload-identities",
        json=body,
        headers={"Authorization": f"Bearer {cluster.tenant.owner_token}"},
        timeout=10,
    )
    assert answer.status_code == 201, answer.text
    return str(answer.json()["id"])


def test_deleting_an_identity_on_a_ends_its_tokens_on_b(
    cluster: Any, workload_issuer: WorkloadIssuer
) -> None:
    a, b = start_two(cluster, workload_issuer)
    identity = create_identity(a, cluster, workload_issuer)
    answer = exchange(b, identity, workload_issuer.mint(AUDIENCE))
    assert answer.status_code == 200, answer.text
    token = answer.json()["access_token"]
    assert b.get("/v1/self", token).json()["workloadIdentity"]["id"] == identity  # cached on B

    gone = httpx.delete(
        f"{a.url}/v1/organizations/{cluster.tenant.org_id}/workload-identities/{identity}",
        headers={"Authorization": f"Bearer {cluster.tenant.owner_token}"},
        timeout=10,
    )

    assert gone.status_code == 204
    elapsed = until(lambda: b.get("/v1/self", token).status_code == 401, "B refuses it", 1.0)
    assert elapsed < 1.0


def test_an_id_token_is_exchanged_once_across_replicas(
    cluster: Any, workload_issuer: WorkloadIssuer
) -> None:
    a, b = start_two(cluster, workload_issuer)
    identity = create_identity(a, cluster, workload_issuer)
    exchange(a, identity, workload_issuer.mint(AUDIENCE))  # both replicas warm
    exchange(b, identity, workload_issuer.mint(AUDIENCE))
    tokens = [workload_issuer.mint(AUDIENCE) for _ in range(5)]

    with ThreadPoolExecutor(max_workers=8) as pool:
        # Each token sent to both replicas at once, twice each.
        calls = [(replica, t) for t in tokens for replica in (a, b, a, b)]
        statuses = list(pool.map(lambda call: exchange(call[0], identity, call[1]), calls))

    for index in range(len(tokens)):
        four = [s.status_code for s in statuses[index * 4 : index * 4 + 4]]
        assert sorted(four) == [200, 400, 400, 400], four
    assert all("(jti)" in s.json()["error_description"] for s in statuses if s.status_code == 400)
