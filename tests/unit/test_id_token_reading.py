"""Reading an ID token before it is verified (keyplane.federation.verification.unverified):
as strict as PyJWT's reading, so that what it refuses is refused as "format"."""

from __future__ import annotations

import base64
import json

import jwt
import pytest

from keyplane.federation.verification import unverified
from keyplane.oauth.errors import InvalidGrant
from tests.workload_issuer import WorkloadIssuer


def b64(data: object) -> str:
    raw = data if isinstance(data, bytes) else json.dumps(data).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


HEADER, CLAIMS = b64({"alg": "RS256", "kid": "k"}), b64({"iss": "https://i", "jti": "j"})
BAD = {
    "two segments": f"{HEADER}.{CLAIMS}",
    "four segments": f"{HEADER}.{CLAIMS}.sig.more",
    "not base64url": f"{HEADER}.{CLAIMS}!.sig",
    "standard base64": f"{HEADER}.{CLAIMS}+/.sig",
    "three pads": f"{HEADER}.{CLAIMS}===.sig",
    "a length base64 never has": f"{HEADER}.{CLAIMS}.abcde",
    "not canonical": f"{HEADER}.{CLAIMS}.AB",  # trailing bits set: decodes, never encoded so
    "not JSON": f"{HEADER}.{b64(b'not json')}.sig",
    "claims a list": f"{HEADER}.{b64([1, 2])}.sig",
    "header a string": f"{b64('RS256')}.{CLAIMS}.sig",
    "a kid that is no string": f"{b64({'alg': 'RS256', 'kid': 7})}.{CLAIMS}.sig",
    "detached payload": f"{b64({'alg': 'RS256', 'b64': False})}.{CLAIMS}.sig",
}


@pytest.mark.parametrize("token", BAD.values(), ids=BAD.keys())
def test_what_is_no_jwt_is_refused_as_format(token: str) -> None:
    with pytest.raises(InvalidGrant, match=r"\(format\)"):
        unverified(token)
    with pytest.raises(jwt.PyJWTError):  # and PyJWT would not read it either
        jwt.decode(token, options={"verify_signature": False})


def test_a_real_id_token_reads_as_pyjwt_reads_it() -> None:
    issuer = WorkloadIssuer(url="https://issuer.example")
    token = issuer.mint("aud")
    padded = ".".join(part + "=" * (-len(part) % 4) for part in token.split("."))

    for given in (token, padded):  # some issuers pad their segments
        read = unverified(given)
        assert read.header == jwt.get_unverified_header(token)
        assert read.claims == jwt.decode(token, options={"verify_signature": False})
        assert read.signing_input == given.rpartition(".")[0].encode()  # as PyJWT signs
