"""JWT access tokens per RFC 9068: issuing them (``oauth.verifier`` verifies them).

A token carries ``iss aud sub client_id iat exp jti`` (RFC 9068 §2.2), the
principal's organization (``org_id``), its role set (``kp_roles``, informational)
and the kind of subject (``kp_kind``) that says how the verifier finds the
subject again. Rights are never read from the token: the verifier loads the
subject on every cache miss, so deleting a key, its deployment or a user ends
access at once, including for tokens already issued.
"""

from __future__ import annotations

import base64
import json
import secrets
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from sqlalchemy.orm import Session

from keyplane.apikeys.principal import KeyRecord
from keyplane.auth.principal import PrincipalKind
from keyplane.config import Settings
from keyplane.db.unit import read_only
from keyplane.domain.access import Binding
from keyplane.oauth.signing_keys import ALGORITHM, KeySet
from keyplane.oauth.subjects import user_principal

if TYPE_CHECKING:
    from keyplane.oauth.context import ServerContext

ALGORITHMS = [ALGORITHM]  # pinned: the header's alg is never trusted beyond this list
TOKEN_TYPE = "at+jwt"
CLI_CLIENT_ID = "keyplane-cli"

_ECDSA_SHA256 = ec.ECDSA(hashes.SHA256())


def issuer_of(settings: Settings) -> str:
    return settings.public_url.rstrip("/")


def audience_of(settings: Settings) -> str:
    """The API, as the resource server named in ``aud``."""
    return issuer_of(settings) + "/v1"


@dataclass(frozen=True)
class IssuedToken:
    access_token: str
    expires_in: int
    jti: str
    expires_at: int  # seconds since the epoch

    def response(self) -> dict[str, Any]:
        """The RFC 6749 §5.1 success body."""
        return {
            "access_token": self.access_token,
            "token_type": "Bearer",
            "expires_in": self.expires_in,
        }


def roles_claim(bindings: Iterable[Binding]) -> list[dict[str, str]]:
    return [
        {"entityType": b.level.value, "entityId": b.entity_id, "role": b.role} for b in bindings
    ]


def sign_access_token(
    keys: KeySet,
    settings: Settings,
    *,
    kind: str,
    subject: str,
    client_id: str,
    organization_id: str | None = None,
    roles: list[dict[str, str]] | None = None,
    lifetime: int | None = None,
    extra_claims: dict[str, Any] | None = None,
) -> IssuedToken:
    """Sign a token with the current key; pure CPU, no I/O."""
    lifetime = lifetime or settings.access_token_lifetime_seconds
    now = int(time.time())
    jti = secrets.token_urlsafe(16)
    claims: dict[str, Any] = {
        "iss": issuer_of(settings),
        "aud": audience_of(settings),
        "sub": subject,
        "client_id": client_id,
        "iat": now,
        "exp": now + lifetime,
        "jti": jti,
        "kp_kind": kind,
        "kp_roles": roles or [],
        **(extra_claims or {}),
    }
    if organization_id:
        claims["org_id"] = organization_id
    return IssuedToken(_sign(keys, claims), lifetime, jti, now + lifetime)


def _sign(keys: KeySet, claims: dict[str, Any]) -> str:
    """JWS compact serialization with ES256 (RFC 7515, RFC 7518 §3.4), by hand.

    Why not ``jwt.encode``: on the token endpoint it cost more than the signature
    itself (a header built and serialized per call). The header is cached per key;
    verification still goes through PyJWT.
    """
    payload = json.dumps(claims, separators=(",", ":")).encode()
    signing_input = keys.access_token_header + b"." + _b64(payload)
    r, s = decode_dss_signature(keys.signer.sign(signing_input, _ECDSA_SHA256))
    signature = r.to_bytes(32, "big") + s.to_bytes(32, "big")
    return (signing_input + b"." + _b64(signature)).decode("ascii")


def _b64(data: bytes) -> bytes:
    return base64.urlsafe_b64encode(data).rstrip(b"=")


def issue_access_token(runtime: ServerContext, **fields: Any) -> IssuedToken:
    """Sign a token for any subject; see :func:`sign_access_token` for the fields.

    May read the database once (to load or create the signing keys).
    """
    return sign_access_token(runtime.oauth.keys.current(), runtime.settings, **fields)


def issue_key_access_token(keys: KeySet, settings: Settings, key: KeyRecord) -> IssuedToken:
    """The client-credentials token of a deployment API key (``sub`` = ``client_id``)."""
    return sign_access_token(
        keys,
        settings,
        kind=PrincipalKind.DEPLOYMENT_KEY.value,
        subject=key.id,
        client_id=key.id,
        organization_id=key.organization_id,
        roles=roles_claim(key.principal.grants.bindings),
    )


def issue_user_access_token(
    runtime: ServerContext,
    user_id: str,
    *,
    db: Session | None = None,
    client_id: str = CLI_CLIENT_ID,
    lifetime: int | None = None,
    session_id: str | None = None,
    extra_claims: dict[str, Any] | None = None,
) -> IssuedToken:
    """A token acting as the user with the user's current roles (a USER principal).

    ``session_id`` becomes the ``sid`` claim, for a login session to be checked by a
    resolver registered for it. The user's roles are read in ``db`` when given (a unit
    of work under way), else in a read-only session of its own. Raises
    NotAuthenticated if the user does not exist.
    """
    if db is not None:
        return _user_token(runtime, db, user_id, client_id, lifetime, session_id, extra_claims)
    with read_only(runtime.sessions) as own:
        return _user_token(runtime, own, user_id, client_id, lifetime, session_id, extra_claims)


def _user_token(
    runtime: ServerContext,
    db: Session,
    user_id: str,
    client_id: str,
    lifetime: int | None,
    session_id: str | None,
    extra_claims: dict[str, Any] | None,
) -> IssuedToken:
    principal = user_principal(db, {"sub": user_id})
    orgs = principal.grants.organization_ids()
    extra = {**(extra_claims or {}), **({"sid": session_id} if session_id else {})}
    return issue_access_token(
        runtime,
        kind=PrincipalKind.USER.value,
        subject=user_id,
        client_id=client_id,
        organization_id=next(iter(orgs)) if len(orgs) == 1 else None,
        roles=roles_claim(principal.grants.bindings),
        lifetime=lifetime,
        extra_claims=extra,
    )
