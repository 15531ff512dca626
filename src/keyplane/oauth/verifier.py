"""Verifying JWT access tokens on every API route (RFC 9068 §4); see ``access_tokens``."""

from __future__ import annotations

import time
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import jwt
from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from keyplane.apikeys.models import DeploymentApiKey
from keyplane.auth.principal import Principal, PrincipalKind
from keyplane.cache import Cache
from keyplane.db.models import Organization
from keyplane.domain.credentials import hash_secret
from keyplane.domain.errors import NotAuthenticated
from keyplane.domain.networks import AllowedRanges
from keyplane.oauth.access_tokens import ALGORITHMS, TOKEN_TYPE, audience_of, issuer_of
from keyplane.oauth.models import RevokedAccessToken
from keyplane.oauth.signing_keys import KeyRing
from keyplane.oauth.subjects import INVALID, ClaimsCheck, SubjectResolver

if TYPE_CHECKING:
    from keyplane.oauth.context import ServerContext

CLOCK_LEEWAY_SECONDS = 5
_CACHE_LIMIT = 50_000
_REQUIRED = ["iss", "aud", "sub", "client_id", "iat", "exp", "jti"]
EXPIRED = "access token expired: get a new one at /oauth/token (the CLI does this by itself)"


def _well_typed(claims: dict[str, Any]) -> bool:
    """RFC 7519 §4.1: times are NumericDate and ids are strings. PyJWT accepts a
    numeric string for ``exp`` and ``iat`` (it calls ``int()``), which would then fail
    further on, so the types are checked here."""
    times = (claims[name] for name in ("exp", "iat"))
    ids = (claims[name] for name in ("sub", "jti", "client_id"))
    return all(isinstance(t, int | float) and not isinstance(t, bool) for t in times) and all(
        isinstance(i, str) for i in ids
    )


@dataclass(frozen=True)
class VerifiedToken:
    claims: dict[str, Any]
    principal: Principal


class AccessTokenVerifier:
    """Verifies JWT access tokens: ``Authenticator.jwt_verifier`` calls it.

    Checks the signature against the published keys with the pinned algorithm list,
    then ``typ``, ``iss``, ``aud``, ``exp``, that the token was not revoked and that
    its subject still exists (and may act). Results are cached per token for
    ``auth_cache_ttl_seconds``; the runtime clears the cache after every committed
    change to credentials or roles, here or on another replica.
    """

    def __init__(
        self,
        runtime: ServerContext,
        keys: KeyRing,
        subject_kinds: dict[str, SubjectResolver],
        claims_checks: list[ClaimsCheck],
    ) -> None:
        self._sessions = runtime.sessions
        # The server's registries, read on each verification.
        self._subject_kinds = subject_kinds
        self._claims_checks = claims_checks
        self._keys = keys
        self._last_used = runtime.authenticator.last_used
        self._uses = runtime.authenticator.uses
        self._issuer = issuer_of(runtime.settings)
        self._audience = audience_of(runtime.settings)
        self.cache: Cache[str, VerifiedToken] = Cache(
            runtime.settings.auth_cache_ttl_seconds, _CACHE_LIMIT
        )

    async def __call__(self, value: str) -> Principal:
        principal = (await self.verify(value)).principal
        if principal.kind is PrincipalKind.DEPLOYMENT_KEY and self._last_used.due(principal.id):
            await run_in_threadpool(self._last_used.write, DeploymentApiKey, principal.id)
        return principal

    async def verify(self, value: str) -> VerifiedToken:
        """The claims and current principal of a valid token; raises NotAuthenticated."""
        found = self.cache.get(value)
        if found is not None:
            if found.claims["exp"] <= time.time():
                raise NotAuthenticated(EXPIRED)
            return found
        verified = await self.cache.fill(value, lambda: self._verify(value))
        assert verified is not None  # a refusal is raised
        return verified

    async def _verify(self, value: str) -> VerifiedToken:
        claims = await self.check_signature(value)
        principal = await run_in_threadpool(self._resolve, claims, value)
        return VerifiedToken(claims, principal)

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
        if not _well_typed(claims):
            raise NotAuthenticated(INVALID)
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
        resolver = self._subject_kinds.get(str(claims.get("kp_kind")))
        if resolver is None:
            raise NotAuthenticated(INVALID)
        with self._sessions() as db:
            if db.get(RevokedAccessToken, claims["jti"]) is not None:
                raise NotAuthenticated("access token was revoked")
            for check in self._claims_checks:
                check(db, claims)
            principal = resolver(db, claims)
            ranges = _organization_ranges(db, principal)
        return replace(
            principal,
            expires_at=datetime.fromtimestamp(claims["exp"], UTC),
            fingerprint=hash_secret(value),
            allowed_ranges=ranges,
            uses=None if principal.kind is PrincipalKind.USER else self._uses,
        )


def _organization_ranges(db: Session, principal: Principal) -> AllowedRanges | None:
    """The organization's allowedIpRanges for a credential's token (a deployment API
    key's, a workload identity's); none for a person's login."""
    if principal.kind is PrincipalKind.USER or principal.organization_id is None:
        return None
    ranges = db.scalar(
        select(Organization.allowed_ip_ranges).where(Organization.id == principal.organization_id)
    )
    return AllowedRanges.of(ranges)
