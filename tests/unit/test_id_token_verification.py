"""The ID token's signature and registered claims are checked as PyJWT checks them.

keyplane.federation.verification checks them on the token as it read it once (PyJWT
would read it again, which costs more than the RSA check). Each case here is judged
both ways, ours and ``jwt.decode`` with the options the exchange used to pass it, and
the verdicts (the check a refusal names) must agree."""

from __future__ import annotations

import re
import time
from types import SimpleNamespace
from typing import Any, cast

import jwt
import pytest

from keyplane.federation.records import IdentityRecord
from keyplane.federation.verification import LEEWAY_SECONDS, REQUIRED, _verified, unverified
from keyplane.oauth.errors import InvalidGrant
from tests.workload_issuer import WorkloadIssuer

AUD = "https://keyplane.example"
ISSUER = WorkloadIssuer(url="https://issuer.example")
RECORD = cast(IdentityRecord, SimpleNamespace(issuer=ISSUER.url, audience=AUD))
NOW = int(time.time())
CASES: dict[str, dict[str, Any]] = {
    "valid": {},
    "valid ES256": {"alg": "ES256"},
    "expired": {"exp": NOW - 120},
    "expired within the leeway": {"exp": NOW - 10},
    "exp as a numeric string": {"exp": str(NOW + 60)},
    "exp not a number": {"exp": "soon"},
    "exp a float": {"exp": NOW + 60.5},
    "exp a list": {"exp": [NOW]},
    "no exp": {"drop": ("exp",)},
    "exp null": {"exp": None},
    "nbf ahead": {"nbf": NOW + 600},
    "nbf ahead within the leeway": {"nbf": NOW + 10},
    "nbf not a number": {"nbf": "x"},
    "no nbf": {"drop": ("nbf",)},
    "iat ahead": {"iat": NOW + 600},
    "iat not a number": {"iat": {}},
    "no iat": {"drop": ("iat",)},
    "aud a list naming it": {"audience": ["other", AUD]},
    "aud a list not naming it": {"audience": ["other"]},
    "aud another": {"audience": "https://elsewhere.example"},
    "aud empty": {"audience": ""},
    "aud an empty list": {"audience": []},
    "aud numbers": {"audience": [1, AUD]},
    "aud an object": {"aud": {"x": AUD}},
    "no aud": {"drop": ("aud",)},
    "another iss": {"iss": "https://elsewhere.example"},
    "no iss": {"drop": ("iss",)},
    "sub a number": {"sub": 5},
    "no jti": {"drop": ("jti",)},
    "jti a number": {"jti": 7},
    "jti empty": {"jti": ""},
    "jti too long": {"jti": "j" * 300},
    "an unpublished key": {"kid": "stranger"},
}


def judged_by_pyjwt(token: str, key: jwt.PyJWK) -> str:
    """The exchange's check before it read tokens once: jwt.decode, errors mapped."""
    try:
        claims = jwt.decode(
            token, key, algorithms=[key.algorithm_name], audience=AUD, issuer=ISSUER.url,
            leeway=LEEWAY_SECONDS, options={"require": REQUIRED},
        )  # fmt: skip
    except jwt.InvalidSignatureError:
        return "signature"
    except jwt.ExpiredSignatureError:
        return "exp"
    except jwt.ImmatureSignatureError as error:
        return "iat" if "iat" in str(error) else "nbf"
    except jwt.InvalidAudienceError:
        return "aud"
    except jwt.MissingRequiredClaimError as error:
        return str(error.claim)
    except jwt.PyJWTError:
        return "claims"
    if not isinstance(claims["jti"], str) or not 0 < len(claims["jti"]) <= 256:
        return "jti"
    return "ok"


def judged_by_us(token: str, key: jwt.PyJWK) -> str:
    try:
        _verified(unverified(token), key, RECORD)
    except InvalidGrant as refusal:
        found = re.search(r"\(([^)]+)\)", refusal.description)
        assert found, refusal.description
        return found.group(1)
    return "ok"


def key_for(alg: str) -> jwt.PyJWK:
    kid = "es-1" if alg == "ES256" else "rs-1"
    return jwt.PyJWK(next(k for k in ISSUER.jwks()["keys"] if k["kid"] == kid))


@pytest.mark.parametrize("options", CASES.values(), ids=CASES.keys())
def test_the_verdict_is_pyjwts(options: dict[str, Any]) -> None:
    options = dict(options)
    audience = options.pop("audience", AUD)
    token = ISSUER.mint(audience, **options)
    key = key_for(options.get("alg", "RS256"))

    assert judged_by_us(token, key) == judged_by_pyjwt(token, key)


def test_a_changed_claim_breaks_the_signature() -> None:
    token = ISSUER.mint(AUD)
    header, _, signature = token.split(".")
    forged = ISSUER.mint(AUD, ref="refs/heads/anything").split(".")[1]
    tampered = f"{header}.{forged}.{signature}"

    assert judged_by_us(tampered, key_for("RS256")) == "signature"
    assert judged_by_pyjwt(tampered, key_for("RS256")) == "signature"
    # An ES256 signature checked with the RSA key, and the reverse.
    assert judged_by_us(ISSUER.mint(AUD, alg="ES256"), key_for("RS256")) == "signature"
