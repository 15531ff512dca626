"""A token signed with our key but whose claims have the wrong types is refused (401).

Only the server holds the key, but a bug elsewhere (or a future grant) must not turn
a claim of the wrong type into a 500 on every API route.
"""

from __future__ import annotations

import pytest

from keyplane.oauth.access_tokens import _sign
from tests.factories import bearer
from tests.functional.oauth.helpers import access_token, claims, create_key


@pytest.mark.parametrize(
    "change",
    [
        {"exp": "9999999999"},
        {"exp": True},
        {"iat": "1"},
        {"jti": ["a"]},
        {"sub": 7},
    ],
)
def test_a_claim_of_the_wrong_type_is_an_invalid_token(world, change):
    key_id, secret = create_key(world)
    good = access_token(world.client, key_id, secret)
    forged = _sign(world.runtime.oauth.keys.current(), {**claims(good), **change})
    answer = world.client.get("/v1/self", headers=bearer(forged))
    assert answer.status_code == 401, answer.text
    assert answer.json()["message"].startswith(("invalid access token", "access token expired"))
