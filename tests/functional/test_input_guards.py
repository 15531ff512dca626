"""Hostile but well-formed input gets a 4xx naming the rule, never a 500 (issue 11).

Each case runs on SQLite and PostgreSQL: the two refuse different things (a NUL
character, an OFFSET past 64 bits) deep in the driver unless the server stops them first.
"""

from __future__ import annotations

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
