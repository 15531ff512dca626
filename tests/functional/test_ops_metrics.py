"""/metrics counts what an operator needs: routes by template, auth failures, cache hits."""

from __future__ import annotations

import re

from tests.factories import bearer


def _value(client, name: str, **labels: str) -> float:
    body = client.get("/metrics").text
    wanted = ",".join(f'{k}="{v}"' for k, v in labels.items())
    pattern = (
        rf"^{re.escape(name)}\{{{re.escape(wanted)}\}} (\S+)$" if labels else rf"^{name} (\S+)$"
    )
    found = re.search(pattern, body, re.MULTILINE)
    return float(found.group(1)) if found else 0.0


def test_requests_are_counted_by_route_template_and_status(world):
    client, org = world.client, world.org
    route = "/v1/organizations/{orgId}/workspaces"
    before = _value(client, "keyplane_http_requests_total", method="GET", route=route, status="200")
    for _ in range(3):
        answer = client.get(
            f"/v1/organizations/{org.id}/workspaces", headers=bearer(org.owner_token)
        )
        assert answer.status_code == 200
    after = _value(client, "keyplane_http_requests_total", method="GET", route=route, status="200")
    assert after - before == 3
    body = client.get("/metrics").text
    assert org.id not in body  # templates, never raw paths
    assert "keyplane_http_request_duration_seconds_bucket" in body


def test_auth_failures_are_counted_by_reason(client):
    reasons = {
        "missing": {},
        "malformed": bearer("kpo_not-a-token"),
        "malformed_header": {"Authorization": "Basic x"},
    }
    before = {r: _value(client, "keyplane_auth_failures_total", reason=r) for r in reasons}
    for headers in reasons.values():
        assert client.get("/v1/self", headers=headers).status_code == 401
    for reason in reasons:
        assert _value(client, "keyplane_auth_failures_total", reason=reason) - before[reason] == 1


def test_cache_hits_are_counted(world):
    token = world.token("WORKSPACE", world.org.workspaces["ws1"], "WORKSPACE_MEMBER")
    client = world.client
    hits = _value(client, "keyplane_auth_cache_lookups_total", result="hit")
    misses = _value(client, "keyplane_auth_cache_lookups_total", result="miss")
    for _ in range(4):
        assert client.get("/v1/self", headers=bearer(token)).status_code == 200
    assert _value(client, "keyplane_auth_cache_lookups_total", result="miss") - misses == 1
    assert _value(client, "keyplane_auth_cache_lookups_total", result="hit") - hits == 3
