"""A 4xx never repeats the value that was refused: a token pasted into the wrong field
must not come back in the answer, or in whatever logs the answers (issue 11, item 15)."""

from __future__ import annotations

import pytest

from keyplane.domain import credentials
from keyplane.domain.credentials import SecretKind
from tests.factories import World, bearer
from tests.functional.oauth.helpers import FORM


def _requests(world: World, value: str) -> list[tuple[str, str, dict[str, object]]]:
    org = f"/v1/organizations/{world.org.id}"
    dep = f"{org}/deployments/{world.org.deployments['d1']}"
    token = {"name": "t", "scope": "ORGANIZATION"}
    member = {**token, "role": "ORGANIZATION_MEMBER"}
    in_ws = {**token, "role": "WORKSPACE_OWNER", "scope": "WORKSPACE"}
    grant = {"grant_type": "client_credentials"}
    authorize = {"response_type": "code", "redirect_uri": "http://127.0.0.1:9/cb"}
    return [
        ("POST", f"{org}/tokens", {"json": {**token, "role": value}}),
        ("POST", f"{org}/tokens", {"json": {**member, "scope": value}}),
        ("POST", f"{org}/custom-roles", {"json": {"name": "r", "permissions": [value]}}),
        ("GET", f"{org}/tokens", {"params": {"sorts": value}}),
        ("GET", f"/v1/organizations/{value}", {}),
        ("GET", f"{org}/workspaces/{value}", {}),
        ("GET", f"{org}/deployments/{value}", {}),
        ("GET", f"{org}/tokens/{value}", {}),
        ("GET", f"{dep}/deploys/{value}", {}),
        ("DELETE", f"{dep}/api-keys/{value}", {}),
        ("DELETE", f"{dep}/variables/{value}", {}),
        ("POST", f"{org}/tokens", {"json": {**in_ws, "entityId": value}}),
        ("GET", f"{org}/deployments", {"params": {"workspaceId": value}}),
        ("GET", f"{org}/tokens", {"params": {"workspaceId": value}}),
        ("GET", f"{org}/tokens", {"params": {"deploymentId": value}}),
        ("POST", f"{org}/deployments", {"json": {"name": "d9", "workspaceId": value}}),
        ("POST", "/oauth/token", {"data": {"grant_type": value}, "headers": FORM}),
        ("POST", "/oauth/token", {"data": {**grant, "client_id": value}, "headers": FORM}),
        ("GET", "/oauth/authorize", {"params": {**authorize, "client_id": value}}),
    ]  # fmt: skip


@pytest.mark.parametrize("kind", [SecretKind.ORGANIZATION_TOKEN, SecretKind.DEPLOYMENT_KEY])
def test_refused_values_are_not_echoed(world, kind):
    value = credentials.generate(kind)
    echoed = []
    for method, url, kwargs in _requests(world, value):
        headers = {**bearer(world.org.owner_token), **kwargs.pop("headers", {})}  # type: ignore[dict-item]
        answer = world.client.request(method, url, headers=headers, **kwargs)  # type: ignore[arg-type]
        assert 400 <= answer.status_code < 500, (method, url, answer.text)
        if value[4:20] in answer.text or value[4:20] in str(answer.headers):
            echoed.append((method, url.replace(value, "<value>"), answer.text))
    assert echoed == [], "\n".join(map(str, echoed))
