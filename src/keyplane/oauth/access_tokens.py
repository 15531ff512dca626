"""JWT access tokens per RFC 9068: issuing them, and verifying them on every API route.

A token carries ``iss aud sub client_id iat exp jti`` (RFC 9068 §2.2), the
principal's organization (``org_id``), its role set (``kp_roles``, informational)
and the kind of subject (``kp_kind``) that says how the verifier finds the
subject again. Rights are never read from the token: the verifier loads the
subject on every cache miss, so deleting a key, its deployment or a user ends
access at once, including for tokens already issued.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import jwt
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from keyplane.apikeys.models import DeploymentApiKey
from keyplane.apikeys.principal import KeyRecord, load_key_principal
from keyplane.auth.grants import load_grants
from keyplane.auth.principal import Principal, PrincipalKind
from keyplane.config import Settings
from keyplane.db.models import User
from keyplane.domain.access import Binding
from keyplane.domain.credentials import hash_secret
from keyplane.domain.errors import NotAuthenticated
from keyplane.oauth.models import RevokedAccessToken
from keyplane.oauth.signing_keys import ALGORITHM, KeyRing, KeySet

if TYPE_CHECKING:
    from keyplane.http.runtime import Runtime

ALGORITHMS = [ALGORITHM]  # pinned: the header's alg is never trusted beyond this list
TOKEN_TYPE = "at+jwt"
CLI_CLIENT_ID = "keyplane-cli"
RUNTIME_INFO = "keyplane.runtime"
CLOCK_LEEWAY_SECONDS = 5
_CACHE_LIMIT = 50_000
_REQUIRED = ["iss", "aud", "sub", "client_id", "iat", "exp", "jti"]

EXPIRED = "access token expired: get a new one at /oauth/token (the CLI does this by itself)"
INVALID = "invalid access token: its signature or claims do not verify"

SubjectResolver = Callable[[Session, dict[str, Any]], Principal]


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
    headers = {"kid": keys.signer_kid, "typ": TOKEN_TYPE}
    value = jwt.encode(claims, keys.signer, algorithm=ALGORITHM, headers=headers)
    return IssuedToken(value, lifetime, jti, now + lifetime)


def issue_access_token(runtime: Runtime, **fields: Any) -> IssuedToken:
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


def runtime_of(db: Session) -> Runtime:
    """The runtime whose session factory made ``db``."""
    runtime: Runtime = db.info[RUNTIME_INFO]
    return runtime


def issue_user_access_token(
    runtime_or_db: Runtime | Session,
    user_id: str,
    *,
    client_id: str = CLI_CLIENT_ID,
    lifetime: int | None = None,
    session_id: str | None = None,
    extra_claims: dict[str, Any] | None = None,
) -> IssuedToken:
    """A token acting as the user with the user's current roles (a USER principal).

    ``session_id`` becomes the ``sid`` claim, for a login session to be checked by a
    resolver registered for it. Raises NotAuthenticated if the user does not exist.
    """
    if isinstance(runtime_or_db, Session):
        runtime, db = runtime_of(runtime_or_db), runtime_or_db
        return _user_token(runtime, db, user_id, client_id, lifetime, session_id, extra_claims)
    with runtime_or_db.sessions() as db:
        return _user_token(
            runtime_or_db, db, user_id, client_id, lifetime, session_id, extra_claims
        )


def _user_token(
    runtime: Runtime,
    db: Session,
    user_id: str,
    client_id: str,
    lifetime: int | None,
    session_id: str | None,
    extra_claims: dict[str, Any] | None,
) -> IssuedToken:
    principal = _user_principal(db, {"sub": user_id})
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


def _user_principal(db: Session, claims: dict[str, Any]) -> Principal:
    user = db.get(User, claims["sub"])
    if user is None:
        raise NotAuthenticated("the user behind this access token no longer exists")
    return Principal(
        kind=PrincipalKind.USER,
        id=user.id,
        name=user.email,
        grants=load_grants(db, user.id),
        organization_id=claims.get("org_id"),
    )


def _key_principal(db: Session, claims: dict[str, Any]) -> Principal:
    if claims["sub"] != claims["client_id"]:
        raise NotAuthenticated(INVALID)
    return load_key_principal(db, claims["sub"])


SUBJECT_KINDS: dict[str, SubjectResolver] = {
    PrincipalKind.USER.value: _user_principal,
    PrincipalKind.DEPLOYMENT_KEY.value: _key_principal,
}


def register_subject_kind(kind: str, resolver: SubjectResolver) -> None:
    """Teach the verifier a new ``kp_kind`` (or replace one, e.g. to check ``sid``).

    The resolver loads the subject's current principal or raises NotAuthenticated.
    """
    SUBJECT_KINDS[kind] = resolver


@dataclass(frozen=True)
class VerifiedToken:
    claims: dict[str, Any]
    principal: Principal


class AccessTokenVerifier:
    """Verifies JWT access tokens: ``Authenticator.jwt_verifier`` calls it.

    Checks the signature against the published keys with the pinned algorithm list,
    then ``typ``, ``iss``, ``aud``, ``exp``, that the token was not revoked and that
    its subject still exists (and may act). Results are cached per token for
    ``auth_cache_ttl_seconds``; every credentials change in this process clears the
    cache (``Runtime.on_credentials_changed``).
    """

    def __init__(self, runtime: Runtime, keys: KeyRing) -> None:
        self._sessions = runtime.sessions
        self._keys = keys
        self._last_used = runtime.authenticator.last_used
        self._ttl = runtime.settings.auth_cache_ttl_seconds
        self._issuer = issuer_of(runtime.settings)
        self._audience = audience_of(runtime.settings)
        self._cache: dict[str, tuple[VerifiedToken, float]] = {}

    def invalidate(self) -> None:
        self._cache.clear()

    async def __call__(self, value: str) -> Principal:
        principal = (await self.verify(value)).principal
        if principal.kind is PrincipalKind.DEPLOYMENT_KEY and self._last_used.due(principal.id):
            await run_in_threadpool(self._last_used.write, DeploymentApiKey, principal.id)
        return principal

    async def verify(self, value: str) -> VerifiedToken:
        """The claims and current principal of a valid token; raises NotAuthenticated."""
        entry = self._cache.get(value)
        if entry is not None and time.monotonic() - entry[1] <= self._ttl:
            if entry[0].claims["exp"] <= time.time():
                raise NotAuthenticated(EXPIRED)
            return entry[0]
        claims = await self.check_signature(value)
        principal = await run_in_threadpool(self._resolve, claims, value)
        verified = VerifiedToken(claims, principal)
        if len(self._cache) >= _CACHE_LIMIT:
            self._cache.clear()
        self._cache[value] = (verified, time.monotonic())
        return verified

    async def check_signature(self, value: str) -> dict[str, Any]:
        """The claims of a token this server signed and that has not expired."""
        try:
            header = jwt.get_unverified_header(value)
        except jwt.PyJWTError:
            raise NotAuthenticated("malformed access token: it is not a JWT") from None
        typ = str(header.get("typ", "")).lower()
        if typ not in (TOKEN_TYPE, "application/" + TOKEN_TYPE):
            raise NotAuthenticated("not an access token: its typ is not at+jwt")
        if header.get("alg") not in ALGORITHMS:
            raise NotAuthenticated(f"access token algorithm not accepted: only {ALGORITHMS}")
        key = await self._public_key(str(header.get("kid", "")))
        try:
            claims: dict[str, Any] = jwt.decode(
                value,
                key,
                algorithms=ALGORITHMS,
                audience=self._audience,
                issuer=self._issuer,
                leeway=CLOCK_LEEWAY_SECONDS,
                options={"require": _REQUIRED},
            )
        except jwt.ExpiredSignatureError:
            raise NotAuthenticated(EXPIRED) from None
        except jwt.InvalidAudienceError:
            raise NotAuthenticated(f"access token is not meant for {self._audience}") from None
        except jwt.InvalidIssuerError:
            raise NotAuthenticated(f"access token was not issued by {self._issuer}") from None
        except jwt.PyJWTError:
            raise NotAuthenticated(INVALID) from None
        return claims

    async def _public_key(self, kid: str) -> Any:
        keys = self._keys.current() if not self._keys.stale else None
        if keys is None or (kid not in keys.public and self._keys.may_reload_for_unknown_kid()):
            keys = await run_in_threadpool(self._keys.load)
        key = keys.public.get(kid)
        if key is None:
            raise NotAuthenticated(
                "access token signed by an unknown or retired key: get a new one"
            )
        return key

    def _resolve(self, claims: dict[str, Any], value: str) -> Principal:
        resolver = SUBJECT_KINDS.get(str(claims.get("kp_kind")))
        if resolver is None:
            raise NotAuthenticated(INVALID)
        with self._sessions() as db:
            if db.get(RevokedAccessToken, claims["jti"]) is not None:
                raise NotAuthenticated("access token was revoked")
            principal = resolver(db, claims)
        return replace(
            principal,
            expires_at=datetime.fromtimestamp(claims["exp"], UTC),
            fingerprint=hash_secret(value),
        )
