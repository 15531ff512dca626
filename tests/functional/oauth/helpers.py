"""Helpers for the OAuth tests: make keys, get tokens, decode them."""

from __future__ import annotations

import base64
import json
from typing import Any

from fastapi.testclient import TestClient

from tests.factories import Org, World, bearer

FORM = {"Content-Type": "application/x-www-form-urlencoded"}


def keys_url(org: Org, dep: str = "d1") -> str:
    return f"/v1/organizations/{org.id}/deployments/{org.deployments[dep]}/api-keys"


def create_key(world: World, dep: str = "d1", org: Org | None = None, token: str | None = None):
    org = org or world.org
    answer = world.client.post(
        keys_url(org, dep), json={"name": f"ci {dep}"}, headers=bearer(token or org.owner_token)
    )
    assert answer.status_code == 201, answer.text
    body = answer.json()
    return body["id"], body["secret"]


def basic(client_id: str, secret: str) -> dict[str, str]:
    value = base64.b64encode(f"{client_id}:{secret}".encode()).decode()
    return {"Authorization": f"Basic {value}"}


def grant(client: TestClient, key_id: str, secret: str, **extra: str):
    return client.post(
        "/oauth/token",
        data={"grant_type": "client_credentials", **extra},
        headers=basic(key_id, secret),
    )


def access_token(client: TestClient, key_id: str, secret: str) -> str:
    answer = grant(client, key_id, secret)
    assert answer.status_code == 200, answer.text
    return str(answer.json()["access_token"])


def claims(token: str) -> dict[str, Any]:
    payload = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))


def header(token: str) -> dict[str, Any]:
    part = token.split(".")[0]
    return json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))
