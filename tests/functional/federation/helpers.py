"""Workload identities and token exchanges through the real API, for the federation tests."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient
from httpx import Response

from tests.factories import Org, bearer
from tests.workload_issuer import OWNER_ID, REPOSITORY_ID

AUD = "http://testserver"  # the default audience: the tests' server's public URL
GRANT = "urn:ietf:params:oauth:grant-type:token-exchange"
ID_TOKEN = "urn:ietf:params:oauth:token-type:id_token"
ACCESS_TOKEN = "urn:ietf:params:oauth:token-type:access_token"


def identity_body(issuer: str, entity_id: str | None = None, **fields: Any) -> dict[str, Any]:
    """A deployment identity (DEPLOYMENT_ADMIN) for the test issuer's main branch."""
    body: dict[str, Any] = {
        "name": "deploy from main",
        "issuer": issuer,
        "conditions": {
            "repository_id": REPOSITORY_ID,
            "repository_owner_id": OWNER_ID,
            "ref": "refs/heads/main",
        },
        "scope": "DEPLOYMENT",
        "entityId": entity_id,
        "role": "DEPLOYMENT_ADMIN",
    }
    body.update(fields)
    return {k: v for k, v in body.items() if v is not None}


def create_identity(client: TestClient, org: Org, body: dict[str, Any]) -> dict[str, Any]:
    answer = client.post(
        f"/v1/organizations/{org.id}/workload-identities",
        json=body,
        headers=bearer(org.owner_token),
    )
    assert answer.status_code == 201, answer.text
    return dict(answer.json())


def exchange(client: TestClient, identity_id: str, id_token: str, **form: str) -> Response:
    data = {
        "grant_type": GRANT,
        "subject_token": id_token,
        "subject_token_type": ID_TOKEN,
        "client_id": identity_id,
        **form,
    }
    return client.post("/oauth/token", data=data)


def refused(answer: Response, check: str, error: str = "invalid_grant") -> str:
    """The description of a refusal naming ``check``; fails on any other answer."""
    assert answer.status_code == 400, answer.text
    body = answer.json()
    assert body["error"] == error, body
    assert f"({check})" in body["error_description"], body
    assert answer.headers["cache-control"] == "no-store"
    return str(body["error_description"])
