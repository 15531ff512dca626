"""Bearer credential → :class:`Principal`, with a per-process cache.

The hot path for a known token is: check the format, SHA-256, one dict lookup, an
expiry comparison. The database is read only on a cache miss; the cache is cleared
whenever any replica commits a change to credentials or roles (this process at
once, others through the notifier in ``keyplane.ops.notifier``), and entries live at
most ``cache_ttl`` seconds: long while a notifier is live, short while none is, so
that a lost notification costs seconds of staleness, not minutes.
"""

from __future__ import annotations

import math
import time
from collections.abc import Awaitable, Callable
from dataclasses import replace
from typing import NoReturn

from limits import RateLimitItemPerMinute
from sqlalchemy.orm import Session, sessionmaker
from starlette.concurrency import run_in_threadpool

from keyplane.auth.last_used import LastUsedRecorder
from keyplane.auth.principal import Principal, UseLog
from keyplane.auth.tokens import load_token_principal
from keyplane.cache import Cache
from keyplane.db.models import ApiToken
from keyplane.domain import credentials, networks
from keyplane.domain.errors import NotAuthenticated, OutsideAllowedRanges, TooManyRequests
from keyplane.ops import metrics
from keyplane.ops.limiter import SharedLimiter

JwtVerifier = Callable[[str], Awaitable[Principal]]
# A cached credential: its principal and when it expires (epoch seconds, inf for
# never), so that a hit reads no datetime.
_Entry = tuple[Principal, float]
# Credentials cached per process at most; beyond, the cache starts again empty.
CACHE_LIMIT = 100_000
UNKNOWN = "unknown API token: it was deleted, rotated or never existed"


class CredentialExpired(NotAuthenticated):
    """A known credential used after its expiry; carries its principal for the audit trail."""

    def __init__(self, message: str, principal: Principal) -> None:
        super().__init__(message)
        self.principal = principal


class Authenticator:
    def __init__(
        self,
        sessions: sessionmaker[Session],
        *,
        cache_ttl_seconds: float,
        last_used_interval_seconds: float,
        failures_per_minute: int,
        limiter: SharedLimiter | None = None,
        uses: UseLog | None = None,
    ) -> None:
        self._sessions = sessions
        # Given to every credential principal this process authenticates (opaque tokens
        # here, access tokens in the JWT verifier): where authorize() notes their uses.
        self.uses = uses
        # Cleared by the runtime after every committed change to credentials or roles;
        # its TTL follows the notifier's state (see keyplane.runtime).
        self.cache: Cache[str, _Entry] = Cache(cache_ttl_seconds, CACHE_LIMIT)
        self.last_used = LastUsedRecorder(sessions, last_used_interval_seconds)
        self._limiter = limiter or SharedLimiter()
        self._failure_limit = RateLimitItemPerMinute(failures_per_minute)
        self.jwt_verifier: JwtVerifier | None = None

    @property
    def cache_ttl(self) -> float:
        return self.cache.ttl

    async def authenticate(self, value: str, client_ip: str) -> Principal:
        """The principal for a bearer value; raises NotAuthenticated or TooManyRequests.

        A valid credential is never refused for the failures of others: the value is
        checked first (a cache hit, a signature, one indexed lookup by hash, all cheap),
        and only a failed check is counted and, past the limit, answered 429.
        """
        if value.startswith("eyJ") and value.count(".") == 2 and self.jwt_verifier:
            try:
                principal = await self.jwt_verifier(value)
            except NotAuthenticated as error:
                self.refuse(client_ip, "jwt", error)
            if principal.allowed_ranges is not None:
                _check_address(principal, client_ip)
            return principal
        secret_hash = credentials.hash_secret(value)
        cache = self.cache
        entry = cache.entry(secret_hash)
        now = time.monotonic()
        if entry is None or now - entry[1] > cache.ttl:
            metrics.CACHE_MISSES.inc()
            principal, expires = await self._load(value, secret_hash, client_ip)
        else:
            metrics.CACHE_HITS.inc()
            principal, expires = entry[0]
        if time.time() >= expires:
            _refuse_expired(principal)
        if principal.allowed_ranges is not None:
            _check_address(principal, client_ip)
        if self.last_used.due(principal.id, now):
            await run_in_threadpool(self.last_used.write, ApiToken, principal.id)
        return principal

    def peek(self, value: str, client_ip: str) -> Principal | None:
        """The cached principal for this credential when using it needs nothing more (no
        load, no lastUsedAt write, not expired, allowed from ``client_ip``); else None,
        and ``authenticate`` does the rest. Never counts a failure: an unknown value is
        simply not cached."""
        entry = self.cache.entry(credentials.hash_secret(value))
        if entry is None:
            return None
        (principal, expires), loaded = entry
        now = time.monotonic()
        ranges = principal.allowed_ranges
        if (
            now - loaded > self.cache.ttl
            or time.time() >= expires
            or self.last_used.is_due(principal.id, now)
            or (ranges is not None and ranges.refusal(client_ip) is not None)
        ):
            return None
        return principal

    async def _load(self, value: str, secret_hash: str, client_ip: str) -> _Entry:
        try:
            credentials.parse(value)
        except NotAuthenticated as error:
            self.refuse(client_ip, "malformed", error)
        entry = await self.cache.fill(
            secret_hash, lambda: run_in_threadpool(self._load_from_db, secret_hash)
        )
        if entry is None:  # each caller's failure counts against its own address
            unknown = NotAuthenticated(
                "unknown API token: it was deleted, rotated or never existed"
            )
            self.refuse(client_ip, "unknown", unknown)
        return entry

    def _load_from_db(self, secret_hash: str) -> _Entry | None:
        with self._sessions() as db:
            principal = load_token_principal(db, credentials.SecretHash(secret_hash))
        if principal is None:
            return None
        expires_at = principal.expires_at
        expires = expires_at.timestamp() if expires_at else math.inf
        return replace(principal, uses=self.uses), expires

    def refuse(self, client_ip: str, reason: str, error: NotAuthenticated) -> NoReturn:
        """A failed check: 429 while this address is over its failure limit; else the
        failure is counted and ``error`` raised."""
        self.check_failure_limit(client_ip)
        self.record_failure(client_ip, reason)
        raise error

    def check_failure_limit(self, client_ip: str) -> None:
        """Raise TooManyRequests while this client has too many recent failures."""
        retry = self._limiter.retry_after(self._failure_limit, "auth-failure", client_ip)
        if retry is not None:
            metrics.AUTH_FAILURES.labels(reason="rate_limited").inc()
            raise TooManyRequests(
                "too many failed authentication attempts from this address: "
                f"try again in {retry} seconds",
                retry_after=retry,
            )

    def record_failure(self, client_ip: str, reason: str = "invalid") -> None:
        """Count a failed secret check against the client (and in the metrics by reason)."""
        metrics.AUTH_FAILURES.labels(reason=reason).inc()
        self._limiter.hit(self._failure_limit, "auth-failure", client_ip)


class AddressRefused(OutsideAllowedRanges):
    """A credential used from outside its allowedIpRanges; carries its principal, so
    that the audit trail records who tried."""

    def __init__(self, message: str, principal: Principal) -> None:
        super().__init__(message)
        self.principal = principal


def _check_address(principal: Principal, client_ip: str) -> None:
    assert principal.allowed_ranges is not None
    refusal = principal.allowed_ranges.refusal(client_ip)
    if refusal is not None:
        metrics.AUTH_FAILURES.labels(reason="ip_range").inc()
        raise AddressRefused(f"{refusal}: {networks.HINT}", principal)


def _refuse_expired(principal: Principal) -> NoReturn:
    expires_at = principal.expires_at
    assert expires_at is not None
    metrics.AUTH_FAILURES.labels(reason="expired").inc()
    scope = principal.kind.value.split("_")[0].lower()
    raise CredentialExpired(
        f"API token {principal.name!r} expired on {expires_at:%Y-%m-%d}: create a new one, "
        f"or rotate it with `keyplane {scope} token rotate {principal.id}`",
        principal,
    )
