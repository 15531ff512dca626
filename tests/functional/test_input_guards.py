"""Hostile but well-formed input gets a 4xx naming the rule, never a 500 (issue 11).

Each case runs on SQLite and PostgreSQL: the two refuse different things (a NUL
character, an OFFSET past 64 bits) deep in the driver unless the server stops them first.
"""

from __future__ import annotations

import json

import pytest

from tests.factories import World, bearer
from tests.functional.test_bad_input import assert_error, snapshot

HUGE = [2**63, 2**63 - 1, 2**64, 10**30]


def _lists(world: World) -> list[str]:
    org = f"/v1/organizations/{world.org.id}"
    dep = f"{org}/deployments/{world.org.deployments['d1']}"
    return [
        f"{org}/tokens",
        f"{org}/audit-logs",
        f"{org}/workspaces",
        f"{dep}/deploys",
        f"{dep}/api-keys",
        f"{dep}/variables",
    ]


@pytest.mark.parametrize("offset", HUGE)
def test_an_offset_past_the_limit_gets_400_naming_it(world, offset):
    for url in _lists(world):
        answer = world.client.get(
            url, params={"offset": offset}, headers=bearer(world.org.owner_token)
        )
        error = assert_error(answer, 400)
        assert "2147483647" in error["fieldErrors"]["offset"], (url, error)


def test_the_largest_offset_answers_an_empty_page(world):
    for url in _lists(world):
        answer = world.client.get(
            url, params={"offset": 2**31 - 1}, headers=bearer(world.org.owner_token)
        )
        assert answer.status_code == 200, (url, answer.text)
        assert answer.json()["offset"] == 2**31 - 1


def test_nul_anywhere_in_a_request_gets_400_and_changes_nothing(world):
    org = f"/v1/organizations/{world.org.id}"
    headers = bearer(world.org.owner_token)
    before = snapshot(world)
    token = {"name": "a\u0000b", "scope": "ORGANIZATION", "role": "ORGANIZATION_MEMBER"}
    for method, url, kwargs in (
        ("POST", f"{org}/workspaces", {"json": {"name": "a\u0000b"}}),
        ("POST", f"{org}/tokens", {"json": token}),
        ("POST", f"{org}/tokens", {"json": {**token, "name": "t", "description": "x\u0000"}}),
        ("GET", "/v1/organizations/%00", {}),
        ("GET", f"{org}/workspaces/ab%00cd", {}),
        ("GET", f"{org}/audit-logs?action=%00", {}),
        ("GET", f"{org}/tokens?workspaceId=%00", {}),
        # Every body FastAPI reads as JSON: any application/*+json, and none named at all.
        (
            "POST",
            f"{org}/workspaces",
            _json_as({"name": "a\u0000b"}, "application/merge-patch+json"),
        ),
        ("POST", f"{org}/workspaces", _json_as({"name": "a\u0000b"}, "")),
    ):
        answer = world.client.request(
            method, url, headers={**headers, **kwargs.pop("headers", {})}, **kwargs
        )
        assert "NUL" in assert_error(answer, 400)["message"], (method, url)
    assert snapshot(world) == before


def _json_as(body: object, content_type: str) -> dict[str, object]:
    return {"content": json.dumps(body).encode(), "headers": {"Content-Type": content_type}}


def test_nul_at_the_oauth_endpoints_gets_an_oauth_error(world):
    for path in ("/oauth/token", "/oauth/introspect", "/oauth/revoke"):
        answer = world.client.post(path, data={"grant_type": "client_credentials", "token": "\0"})
        assert answer.status_code == 400 and answer.headers["cache-control"] == "no-store"
        assert answer.json()["error"] == "invalid_request", answer.text
        assert "NUL" in answer.json()["error_description"]


def test_nul_in_a_multipart_form_gets_400(world):
    answer = world.client.post(
        "/login/password", files={"email": (None, "a\x00@acme.example"), "password": (None, "x")}
    )
    assert answer.status_code == 400 and "NUL" in answer.text


def test_the_text_of_an_escape_is_not_a_nul(world):
    answer = world.client.post(
        f"/v1/organizations/{world.org.id}/workspaces",
        json={"name": "ws9", "description": "a literal \\u0000 in text"},
        headers=bearer(world.org.owner_token),
    )
    assert answer.status_code == 201, answer.text
    assert answer.json()["description"] == "a literal \\u0000 in text"


@pytest.mark.parametrize("since", ["2000-01-01", "2000-01-01T00:00", "2000-01-01 00:00:00"])
def test_audit_filters_take_dates_and_naive_times_as_utc(world, since):
    url = f"/v1/organizations/{world.org.id}/audit-logs"
    headers = bearer(world.org.owner_token)
    world.token("ORGANIZATION", None, "ORGANIZATION_MEMBER")
    page = world.client.get(url, params={"since": since, "action": "token.*"}, headers=headers)
    assert page.status_code == 200, page.text
    assert page.json()["totalCount"] == 1
    later = world.client.get(url, params={"since": "2999-01-01"}, headers=headers)
    assert later.status_code == 200 and later.json()["totalCount"] == 0
    export = world.client.get(
        url, params={"since": since, "until": "2999-12-31", "format": "jsonl"}, headers=headers
    )
    assert export.status_code == 200
    assert export.text.splitlines()[-1].startswith('{"exportComplete": true')


def test_an_audit_time_in_no_known_format_gets_400(world):
    answer = world.client.get(
        f"/v1/organizations/{world.org.id}/audit-logs",
        params={"since": "last tuesday"},
        headers=bearer(world.org.owner_token),
    )
    error = assert_error(answer, 400)
    assert "since" in error["fieldErrors"]


def test_an_audit_time_past_the_range_of_dates_in_utc_gets_400(world):
    url = f"/v1/organizations/{world.org.id}/audit-logs"
    headers = bearer(world.org.owner_token)
    for params in (
        {"since": "0001-01-01T00:00:00+01:00"},
        {"until": "9999-12-31T23:59:59-01:00", "format": "jsonl"},
    ):
        answer = world.client.get(url, params=params, headers=headers)
        body = assert_error(answer, 400)
        assert set(body["fieldErrors"]) & {"since", "until"}, body
    inside = world.client.get(url, params={"since": "2000-01-01T01:00:00+01:00"}, headers=headers)
    assert inside.status_code == 200
