"""ID token verification: issuer, audience, nonce, expiry and signature are all pinned."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest
from joserfc import jwt
from joserfc.jwk import KeySet, RSAKey

from keyplane.domain.errors import NotAuthenticated
from keyplane.identity.oidc import Provider, RelyingParty

ISSUER = "https://idp.example"
PROVIDER = Provider(ISSUER, f"{ISSUER}/auth", f"{ISSUER}/token", f"{ISSUER}/jwks")
KEY = RSAKey.generate_key(2048, parameters={"kid": "k1"})
OTHER_KEY = RSAKey.generate_key(2048, parameters={"kid": "k1"})


def party() -> RelyingParty:
    rp = RelyingParty()
    # What the provider's JWKS would answer, as if fetched a moment ago.
    rp._keys[PROVIDER.jwks_uri] = (KeySet([KEY]), time.monotonic() + 3600)
    return rp


def token(key: RSAKey = KEY, **changes: Any) -> str:
    now = int(time.time())
    claims = {"iss": ISSUER, "aud": "keyplane", "sub": "u1", "nonce": "n1",
              "iat": now, "exp": now + 300, "email": "a@sso.example", **changes}  # fmt: skip
    claims = {name: value for name, value in claims.items() if value is not None}
    return jwt.encode({"alg": "RS256", "kid": "k1"}, claims, key)


def verify(value: str) -> dict[str, Any]:
    return asyncio.run(party().verify_id_token(PROVIDER, "keyplane", value, "n1"))


def test_a_good_token_verifies() -> None:
    assert verify(token())["email"] == "a@sso.example"


def test_several_audiences_with_our_azp_verify() -> None:
    claims = verify(token(aud=["keyplane", "api.example"], azp="keyplane"))
    assert claims["azp"] == "keyplane"


def test_the_response_issuer_is_checked() -> None:
    PROVIDER.check_response_issuer(None)  # not announced: may be absent
    PROVIDER.check_response_issuer(ISSUER)
    with pytest.raises(NotAuthenticated, match="another issuer"):
        PROVIDER.check_response_issuer("https://evil.example")
    announced = Provider(ISSUER, f"{ISSUER}/auth", f"{ISSUER}/token", f"{ISSUER}/jwks", True)
    with pytest.raises(NotAuthenticated, match="does not name"):
        announced.check_response_issuer(None)


@pytest.mark.parametrize(
    "changes",
    [
        {"iss": "https://evil.example"},
        {"aud": "another-client"},
        {"nonce": "replayed"},
        {"exp": int(time.time()) - 600},
        {"iat": None},
        {"aud": ["keyplane", "untrusted-rp"]},
        {"aud": ["keyplane", "untrusted-rp"], "azp": "untrusted-rp"},
        {"azp": "untrusted-rp"},
    ],
    ids=["iss", "aud", "nonce", "exp", "no iat", "audiences without azp", "azp other", "azp"],
)
def test_wrong_claims_are_refused(changes: dict[str, Any]) -> None:
    with pytest.raises(NotAuthenticated):
        verify(token(**changes))


def test_a_token_signed_by_another_key_is_refused() -> None:
    rp = party()
    rp._key_set = _fixed(KeySet([KEY]))  # type: ignore[method-assign]
    with pytest.raises(NotAuthenticated, match="signature"):
        asyncio.run(rp.verify_id_token(PROVIDER, "keyplane", token(OTHER_KEY), "n1"))


def _fixed(keys: KeySet):  # type: ignore[no-untyped-def]
    async def key_set(provider: Provider, fresh: bool = False) -> KeySet:
        return keys

    return key_set
