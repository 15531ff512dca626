"""A change to an allowedIpRanges list on one replica is enforced by another at once."""

from __future__ import annotations

import httpx
import pytest

from tests.conftest import PG_URL
from tests.e2e import test_replicas
from tests.e2e.test_replicas import Cluster, Replica, create_token, until

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(
        not PG_URL, reason="KEYPLANE_TEST_DATABASE_URL is not set: replica tests need PostgreSQL"
    ),
]
cluster = test_replicas.cluster  # its fixture: replicas on a fresh PostgreSQL database


def change(replica: Replica, cluster: Cluster, path: str, ranges: list[str]) -> None:
    answer = httpx.post(
        f"{replica.url}/v1/organizations/{cluster.tenant.org_id}{path}",
        json={"allowedIpRanges": ranges},
        headers={"Authorization": f"Bearer {cluster.tenant.owner_token}"},
        timeout=10,
    )
    assert answer.status_code == 200, answer.text


def refused_by_b(b: Replica, token: str, setting: str) -> bool:
    answer = b.get("/v1/self", token)
    return answer.status_code == 403 and answer.json()["message"].startswith(
        f"request from 127.0.0.1 is outside {setting}'s allowedIpRanges"
    )


def test_a_list_changed_on_a_is_enforced_by_b_within_a_second(cluster: Cluster) -> None:
    a, b = cluster.start(), cluster.start()
    token_id, token = create_token(a, cluster.tenant, "narrowed")
    _, other = create_token(a, cluster.tenant, "left alone")
    assert b.get("/v1/self", token).status_code == 200  # cached on B
    assert b.get("/v1/self", other).status_code == 200

    change(a, cluster, f"/tokens/{token_id}", ["203.0.113.0/24"])

    assert until(lambda: refused_by_b(b, token, "this token"), "B refuses it", 1.0) < 1.0
    assert b.get("/v1/self", other).status_code == 200

    change(a, cluster, f"/tokens/{token_id}", [])
    until(lambda: b.get("/v1/self", token).status_code == 200, "B accepts it again", 1.0)

    # Last: the owner's own token is shut out by this list from 127.0.0.1 as well.
    change(a, cluster, "", ["203.0.113.0/24"])

    until(lambda: refused_by_b(b, other, "the organization"), "B refuses the other", 1.0)
    assert refused_by_b(b, token, "the organization")
