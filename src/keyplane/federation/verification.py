"""Verifying a CI job's ID token against a workload identity (RFC 8693 §2.1 subject_token).

In order: the JWS header (a JWT, ``alg`` pinned to RS256 or ES256, a ``kid``), ``iss``
(the identity's issuer, still listed by the operator), the signature with the issuer's
published key of that ``kid`` (whose own algorithm must be the header's), ``aud``
(the identity's audience), ``exp``, ``nbf`` and ``iat`` with a small leeway, a
``jti``, then the identity's conditions and the rule for risky GitHub events. Each
refusal is an ``invalid_grant`` whose description names the check or the claim that
failed, and never repeats the token.
"""

from __future__ import annotations

import base64
import json
import re
import time
from dataclasses import dataclass, field
from typing import Any

import jwt

from keyplane.config import Settings
from keyplane.federation import conditions
from keyplane.federation.issuers import IssuerKeys, IssuerUnreachable
from keyplane.federation.records import IdentityRecord
from keyplane.oauth.errors import InvalidGrant, OAuthError

ALGORITHMS = ("RS256", "ES256")  # pinned: never none, never HMAC
LEEWAY_SECONDS = 30
# The spent jti is kept until the token expires. Kubernetes extends a projected token
# to a year for older clients; nothing that lives longer is a workload's ID token.
MAX_EXP_AHEAD_SECONDS = 400 * 86_400
REQUIRED = ["iss", "aud", "exp", "iat", "jti"]
INSPECT = "see `keyplane organization workload-identity inspect {}`"
NOT_A_JWT = "it is not a signed JWT (an OIDC ID token)"
NOT_YET_VALID = "the token is not valid yet (check the clocks)"
MALFORMED = "its registered claims are malformed"


class IssuerUnavailable(OAuthError):
    """The issuer's keys could not be fetched: the client may retry (503)."""

    error = "temporarily_unavailable"
    status_code = 503


def _refused(check: str, why: str) -> InvalidGrant:
    return InvalidGrant(f"subject_token refused ({check}): {why}")


@dataclass(frozen=True)
class Read:
    """An ID token as read, before anything in it is trusted."""

    header: dict[str, Any]
    claims: dict[str, Any]
    signing_input: bytes = field(repr=False)
    signature: bytes = field(repr=False)


def unverified(token: str) -> Read:
    """The token's parts, unverified; InvalidGrant unless it is a JWT at all.

    As strict as PyJWT's reading (three canonical base64url segments, JSON objects, a
    string ``kid``, no critical extension), in one pass; the signature is then checked
    over exactly the bytes these claims were read from (:func:`_verified`)."""
    parts = token.split(".")
    if len(parts) != 3:
        raise _refused("format", NOT_A_JWT)
    try:
        header, claims = (json.loads(_segment(part)) for part in parts[:2])
        signature = _segment(parts[2])
    except (ValueError, RecursionError):
        raise _refused("format", NOT_A_JWT) from None
    if (
        not isinstance(header, dict)
        or not isinstance(claims, dict)
        or header.get("b64", True) is not True
        or "crit" in header
        or ("kid" in header and not isinstance(header["kid"], str))
    ):
        raise _refused("format", NOT_A_JWT)
    return Read(header, claims, f"{parts[0]}.{parts[1]}".encode(), signature)


_BASE64URL = re.compile(r"[A-Za-z0-9_-]*")


def _segment(text: str) -> bytes:
    """A JWS segment's bytes; ValueError unless it is canonical base64url (at most two
    ``=`` of padding, as some issuers send), the checks PyJWT makes."""
    stripped = text.rstrip("=")
    padding = len(text) - len(stripped)
    if padding > 2 or (padding and len(text) % 4) or len(stripped) % 4 == 1:
        raise ValueError("bad padding")
    if not _BASE64URL.fullmatch(stripped):
        raise ValueError("not base64url")
    decoded = base64.urlsafe_b64decode(stripped + "=" * (-len(stripped) % 4))
    if base64.urlsafe_b64encode(decoded).rstrip(b"=").decode() != stripped:
        raise ValueError("not canonical")
    return decoded


async def verify(
    token: str, record: IdentityRecord, keys: IssuerKeys, settings: Settings
) -> dict[str, Any]:
    """The verified claims of ``token`` for ``record``; raises InvalidGrant (or 503)."""
    read = unverified(token)
    header, claims = read.header, read.claims
    alg = header.get("alg")
    if alg not in ALGORITHMS:
        raise _refused("alg", f"the token's alg is not one of {', '.join(ALGORITHMS)}")
    if not _same_issuer(claims.get("iss"), record.issuer):
        raise _refused("iss", f"the token was not issued by {record.issuer}")
    if record.issuer not in settings.federation_issuer_list:
        raise _refused("iss", f"{record.issuer} is no longer in KEYPLANE_FEDERATION_ISSUERS")
    kid = header.get("kid")
    if not isinstance(kid, str) or not kid:
        raise _refused("kid", "the token's header names no kid")
    try:
        key = await keys.key(record.issuer, kid)
    except IssuerUnreachable as error:
        raise IssuerUnavailable(f"cannot read the issuer's signing keys: {error}") from None
    if key is None:
        raise _refused("kid", f"{record.issuer} publishes no signing key with the token's kid")
    if key.algorithm_name != alg:
        raise _refused("alg", "the token's alg is not the algorithm of its signing key")
    verified = _verified(read, key, record)
    _check_conditions(verified, record)
    return verified


def _verified(read: Read, key: jwt.PyJWK, record: IdentityRecord) -> dict[str, Any]:
    """The claims once the signature verifies and the registered claims hold.

    PyJWT's checks, in its order and with its rules (:func:`jwt.decode` with ``require``,
    ``audience``, ``issuer`` and ``leeway``), on the token as :func:`unverified` read it:
    PyJWT would read it again, and its reading costs three times the RSA check."""
    algorithm = key.Algorithm
    try:
        valid = algorithm.verify(read.signing_input, algorithm.prepare_key(key.key), read.signature)
    except (jwt.PyJWTError, ValueError, TypeError):
        valid = False
    if not valid:
        raise _refused("signature", "it does not verify with the issuer's key")
    claims = read.claims
    for name in REQUIRED:
        if claims.get(name) is None:
            raise _refused(name, f"the token has no {name} claim")
    now = time.time()
    if _integer(claims["iat"]) > now + LEEWAY_SECONDS:
        raise _refused("iat", NOT_YET_VALID)
    if "nbf" in claims and _integer(claims["nbf"]) > now + LEEWAY_SECONDS:
        raise _refused("nbf", NOT_YET_VALID)
    expires = _integer(claims["exp"])
    if expires <= now - LEEWAY_SECONDS:
        raise _refused("exp", "the token has expired: ask the issuer for a new one")
    if expires > now + MAX_EXP_AHEAD_SECONDS:
        raise _refused("exp", "the token expires more than 400 days from now")
    if not _same_issuer(claims["iss"], record.issuer):
        raise _refused("claims", MALFORMED)
    audiences = [claims["aud"]] if isinstance(claims["aud"], str) else claims["aud"]
    if not audiences:
        raise _refused("aud", "the token has no aud claim")
    if (
        not isinstance(audiences, list)
        or not all(isinstance(audience, str) for audience in audiences)
        or record.audience not in audiences
    ):
        why = f"the token's aud does not name {record.audience}: request that audience"
        raise _refused("aud", why)
    if not isinstance(claims.get("sub", ""), str) or not isinstance(claims["jti"], str):
        raise _refused("claims", MALFORMED)
    if not 0 < len(claims["jti"]) <= 256:
        raise _refused("jti", "the token's jti is not a string of 1 to 256 characters")
    return claims


def _integer(value: Any) -> int:
    """A time claim as PyJWT reads one (``int(value)``); refused if it is none."""
    try:
        return int(value)
    except (ValueError, TypeError, OverflowError):
        raise _refused("claims", MALFORMED) from None


def _check_conditions(claims: dict[str, Any], record: IdentityRecord) -> None:
    event = conditions.risky_event(record.conditions, claims)
    if event is not None:
        raise _refused(
            "event_name",
            f"tokens of {event} runs may run a fork's code, and are refused unless the "
            f"identity's event_name condition names {event}",
        )
    failed = conditions.first_failed(record.conditions, claims)
    if failed is not None:
        value = conditions.claim_text(claims.get(failed))
        said = "is missing" if value is None else f"is {value[:120]!r}"
        raise _refused(
            f"condition {failed}",
            f"the token's {failed} {said}, which this workload identity does not allow "
            f"({INSPECT.format(record.id)})",
        )


def _same_issuer(iss: object, issuer: str) -> bool:
    """Whether a token's ``iss`` names ``issuer``: issuers are kept without a final
    ``/`` (as the operator's list is read), and some issuers write theirs with one."""
    return isinstance(iss, str) and iss.removesuffix("/") == issuer
