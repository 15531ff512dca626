"""The assembly point: everything one server process holds, built with explicit arguments.

It sits above every area: it builds the engine and sessions, the caches, the rate
limiter, the notifier, the secret box, the bundle store and the OAuth server, and
wires the one after-commit path that drops caches here and on every replica. Areas
receive what they need from here; they never look it up, and read it through
protocols (``keyplane.http.process.Process``, ``keyplane.oauth.context.ServerContext``,
an area's own), so only ``keyplane.app``, which installs the areas' routes on top of
it, imports this module.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING, Any

import anyio
from fastapi import FastAPI
from sqlalchemy import Engine, event, text
from sqlalchemy.orm import Session, sessionmaker

from keyplane.auth.authenticator import Authenticator
from keyplane.cache import AnswerCache, Cache
from keyplane.config import Settings
from keyplane.db.session import make_engine, make_sessionmaker
from keyplane.db.unit import after_commit, reading, reads_engine
from keyplane.hygiene.uses import PermissionUses
from keyplane.identity import login_grants
from keyplane.oauth import signing_keys
from keyplane.oauth.server import OAuthServer
from keyplane.oauth.token_endpoint import client_credentials
from keyplane.ops import changes
from keyplane.ops.health import scale_checks
from keyplane.ops.limiter import SharedLimiter
from keyplane.ops.notifier import Notifier, make_notifier
from keyplane.secretbox import SecretBox, load_secret_box

if TYPE_CHECKING:
    from keyplane.deploys.store import BundleStore
    from keyplane.federation.exchange import Federation
    from keyplane.hygiene.scanning import ScanningKeys

# Answers to GET /v1/self kept per principal: one per credential in use.
SELF_ANSWER_LIMIT = 4096
# Requests holding a unit of work at once when the pool does not say how many it keeps.
UNIT_SLOTS = 10


@dataclass
class Runtime:
    settings: Settings
    engine: Engine
    sessions: sessionmaker[Session]
    authenticator: Authenticator
    answers: AnswerCache[Any]
    self_answers: AnswerCache[Any]
    # Every per-process cache: all are cleared after a committed change to a Cached row,
    # here or (through the notifier) on any replica.
    caches: list[Cache[Any, Any]] = field(default_factory=list)
    owns_engine: bool = True
    # Every rate limit: in Redis with KEYPLANE_REDIS_URL, else (and while Redis is away)
    # in this process.
    limiter: SharedLimiter = field(default_factory=SharedLimiter)
    notifier: Notifier | None = None
    _unit_slots: anyio.CapacityLimiter | None = field(default=None, repr=False)
    # What credentials exercised: noted by authorize(), written after each commit.
    permission_uses: PermissionUses | None = None

    @classmethod
    def create(cls, settings: Settings, engine: Engine | None = None) -> Runtime:
        """A runtime on ``engine``, or on a new engine for the configured database."""
        owns_engine = engine is None
        engine = engine or make_engine(settings.resolved_database_url)
        sessions = make_sessionmaker(engine)
        limiter = SharedLimiter(settings.redis_url)
        uses = PermissionUses(sessions, settings.last_used_interval_seconds)
        authenticator = Authenticator(
            sessions,
            cache_ttl_seconds=settings.auth_cache_ttl_seconds,
            last_used_interval_seconds=settings.last_used_interval_seconds,
            failures_per_minute=settings.auth_failure_limit_per_minute,
            limiter=limiter,
            uses=uses,
        )
        notifier = make_notifier(settings.notifier, engine, settings.redis_url)
        runtime = cls(
            settings,
            engine,
            sessions,
            authenticator,
            AnswerCache(settings.auth_cache_ttl_seconds),
            AnswerCache(settings.auth_cache_ttl_seconds, limit=SELF_ANSWER_LIMIT),
            owns_engine=owns_engine,
            limiter=limiter,
            notifier=notifier,
            permission_uses=uses,
        )
        runtime.caches += [authenticator.cache, runtime.answers, runtime.self_answers]
        runtime.oauth.attach(runtime)  # JWT access tokens on every route
        if notifier is not None:
            notifier.on_change = runtime._changed_elsewhere
            notifier.on_live = runtime._notifier_live
        changes.watch(sessions, notifier, runtime._invalidate)
        event.listen(sessions, "before_commit", runtime._before_commit)
        return runtime

    def start(self) -> None:
        """Start background work (the notifier's listener); the app calls it on startup."""
        if self.notifier is not None:
            self.notifier.start()

    def _before_commit(self, db: Session) -> None:
        uses = self.permission_uses
        if uses is not None and uses.queued:
            # Written once this unit has committed and handed its connection back (no
            # second connection, no lock of its own held), in a unit of its own.
            after_commit(db, uses.flush)

    def _changed_elsewhere(self) -> None:
        self._invalidate()

    def _invalidate(self) -> None:
        for cache in self.caches:
            cache.clear()

    def _notifier_live(self, live: bool) -> None:
        settings = self.settings
        ttl = settings.auth_cache_ttl_notified_seconds if live else settings.auth_cache_ttl_seconds
        for cache in self.caches:
            cache.ttl = ttl

    @cached_property
    def _reads_engine(self) -> Engine:
        return reads_engine(self.engine)

    def reading(self) -> Session:
        """A unit of work for a request that only reads (``keyplane.db.unit.reading``)."""
        return reading(self.sessions, self._reads_engine)

    @cached_property
    def secret_box(self) -> SecretBox:
        return load_secret_box(self.settings)

    @cached_property
    def bundle_store(self) -> BundleStore:
        from keyplane.deploys.store import load_store

        return load_store(self.settings)

    @cached_property
    def federation(self) -> Federation:
        """Workload identity federation: the token exchange's keys and identity cache."""
        from keyplane.federation.exchange import Federation

        return Federation(self)

    @cached_property
    def scanning_keys(self) -> ScanningKeys:
        """The secret-scanning partner's public keys (their own cache: not credentials,
        so not dropped with the others)."""
        from keyplane.hygiene.scanning import ScanningKeys

        return ScanningKeys(self.settings.secret_scanning_keys_url)

    @cached_property
    def oauth(self) -> OAuthServer:
        return _oauth_server(self)

    def readiness(self) -> dict[str, str]:
        """The checks /readyz reports: "ok…", "degraded…" (still in service) or other."""
        checks: dict[str, str] = {}
        try:
            with self.engine.connect() as connection:
                connection.execute(text("SELECT 1"))
            checks["database"] = "ok"
        except Exception as error:  # readiness reports; it never raises
            checks["database"] = f"unavailable: {type(error).__name__}"
        checks["signingKeys"] = signing_keys.readiness(self.oauth.keys, self.sessions)
        checks.update(scale_checks(self.limiter, self.notifier, self.authenticator.cache_ttl))
        return checks

    def unit_slots(self) -> anyio.CapacityLimiter:
        """How many requests may hold a unit of work at once: as many as the pool keeps
        connections. A burst beyond that waits here, in the event loop, instead of each
        extra request opening a database connection the pool closes again on return
        (under 32 concurrent listings, one request in ten did). Made on first use, in
        the event loop."""
        if self._unit_slots is None:
            size = getattr(self.engine.pool, "size", None)
            self._unit_slots = anyio.CapacityLimiter(size() if callable(size) else UNIT_SLOTS)
        return self._unit_slots

    def close(self) -> None:
        if self.notifier is not None:
            self.notifier.stop()
        if self.permission_uses is not None:
            self.permission_uses.flush()  # what this process noted and did not write yet
        self.limiter.close()
        if self.owns_engine:
            self.engine.dispose()


def _oauth_server(runtime: Runtime) -> OAuthServer:
    """The authorization server, with every grant this process serves registered here."""
    server = OAuthServer(runtime)
    server.register_grant("client_credentials", client_credentials)  # deployment API keys
    login_grants.install(server)  # keyplane login: authorization_code, refresh_token, device_code
    runtime.federation.install(server)  # workload identities: token-exchange (RFC 8693)
    return server


class KeyplaneApp(FastAPI):
    """The ASGI app, holding its runtime as a plain attribute: read on every request,
    where ``app.state``'s attribute lookup would cost more than the rest of the cache hit."""

    runtime: Runtime
