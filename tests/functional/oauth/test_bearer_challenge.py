"""The challenge of a 401 on the API (RFC 6750 §3): ``error="invalid_token"`` when a
credential was presented and refused, the bare challenge when none was sent (§3.1)."""

from __future__ import annotations

import re

import pytest

from tests.factories import bearer
from tests.functional.oauth.helpers import access_token, basic, create_key
from tests.functional.test_bad_input import BAD_TOKENS

CHALLENGE = re.compile(
    r'Bearer realm="keyplane", error="invalid_token", error_description="([^"]+)"'
)
# §3: error_description is %x20-21 / %x23-5B / %x5D-7E (no quote, no backslash).
HEADER_SAFE = re.compile(r"[\x20\x21\x23-\x5b\x5d-\x7e]+")


def _revoked(world) -> str:  # type: ignore[no-untyped-def]
    key = create_key(world)
    value = access_token(world.client, *key)
    assert world.client.post("/oauth/revoke", data={"token": value}, headers=basic(*key)).is_success
    return value


PRESENTED = {**{case: make for case, (make, _) in BAD_TOKENS.items()}, "revoked JWT": _revoked}


@pytest.mark.parametrize("case", list(PRESENTED))
def test_a_refused_credential_is_an_invalid_token(world, case) -> None:
    value = PRESENTED[case](world)
    answer = world.client.get("/v1/self", headers=bearer(value))
    assert answer.status_code == 401
    challenge = answer.headers["www-authenticate"]
    found = CHALLENGE.fullmatch(challenge)
    assert found, challenge
    assert HEADER_SAFE.fullmatch(found.group(1)), challenge
    assert value not in challenge


@pytest.mark.parametrize("authorization", ["Basic abc", "Bearer ", 'Bearer "quoted" \\ café'])
def test_a_malformed_header_is_an_invalid_token_too(world, authorization) -> None:
    answer = world.client.get("/v1/self", headers={"Authorization": authorization.encode()})
    assert answer.status_code == 401
    found = CHALLENGE.fullmatch(answer.headers["www-authenticate"])
    assert found and HEADER_SAFE.fullmatch(found.group(1))


def test_no_credential_gets_the_bare_challenge(world) -> None:
    answer = world.client.get("/v1/self")
    assert answer.status_code == 401
    assert answer.headers["www-authenticate"] == 'Bearer realm="keyplane"'
