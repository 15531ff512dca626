"""Everything one server process holds: settings, database, credential cache."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING, Any

from fastapi import FastAPI
from sqlalchemy import Engine, event
from sqlalchemy.orm import Session, sessionmaker

from keyplane.auth.authenticator import Authenticator
from keyplane.config import Settings
from keyplane.db.models import Deployment, Organization, Workspace
from keyplane.db.session import make_engine, make_sessionmaker
from keyplane.http.answers import AnswerCache
from keyplane.ops import metrics
from keyplane.ops.limiter import SharedLimiter
from keyplane.ops.notifier import Notifier, make_notifier
from keyplane.secretbox import SecretBox, load_secret_box

if TYPE_CHECKING:
    from keyplane.deploys.store import BundleStore
    from keyplane.oauth.server import OAuthServer

from keyplane.db.unit import CHANGED as CREDENTIALS_CHANGED
from keyplane.db.unit import credentials_changed

# Changes to these are noticed at flush time; credentials and roles are marked by the
# use cases that change them, with credentials_changed.
DIRECTORY_MODELS = (Organization, Workspace, Deployment)


@dataclass
class Runtime:
    settings: Settings
    engine: Engine
    sessions: sessionmaker[Session]
    authenticator: Authenticator
    answers: AnswerCache
    # Called after a commit that changed credentials, here or (through the notifier) on
    # any replica; from request threads and the notifier thread, so keep them atomic.
    on_credentials_changed: list[Callable[[], None]] = field(default_factory=list)
    owns_engine: bool = True
    # Every rate limit: in Redis with KEYPLANE_REDIS_URL, else (and while Redis is away)
    # in this process.
    limiter: SharedLimiter = field(default_factory=SharedLimiter)
    notifier: Notifier | None = None

    @classmethod
    def create(cls, settings: Settings, engine: Engine | None = None) -> Runtime:
        """A runtime on ``engine``, or on a new engine for the configured database."""
        owns_engine = engine is None
        engine = engine or make_engine(settings.resolved_database_url)
        sessions = make_sessionmaker(engine)
        limiter = SharedLimiter(settings.redis_url)
        authenticator = Authenticator(
            sessions,
            cache_ttl_seconds=settings.auth_cache_ttl_seconds,
            last_used_interval_seconds=settings.last_used_interval_seconds,
            failures_per_minute=settings.auth_failure_limit_per_minute,
            limiter=limiter,
        )
        notifier = make_notifier(settings.notifier, engine, settings.redis_url)
        runtime = cls(
            settings,
            engine,
            sessions,
            authenticator,
            AnswerCache(settings.auth_cache_ttl_seconds),
            owns_engine=owns_engine,
            limiter=limiter,
            notifier=notifier,
        )
        runtime.on_credentials_changed += [authenticator.invalidate, runtime.answers.invalidate]
        runtime.oauth.attach(runtime)  # JWT access tokens on every route
        if notifier is not None:
            notifier.on_change = runtime._changed_elsewhere
            notifier.on_live = runtime._notifier_live
        event.listen(sessions, "before_flush", _mark_directory_changes)
        event.listen(sessions, "before_commit", runtime._before_commit)
        event.listen(sessions, "after_commit", runtime._after_commit)
        event.listen(sessions, "after_rollback", _forget_mark)
        return runtime

    def start(self) -> None:
        """Start background work (the notifier's listener); the app calls it on startup."""
        if self.notifier is not None:
            self.notifier.start()

    def _before_commit(self, db: Session) -> None:
        _mark_directory_changes(db)  # the commit's own flush comes after this event
        notifier = self.notifier
        if notifier is not None and notifier.transactional and db.info.get(CREDENTIALS_CHANGED):
            # Part of the transaction: delivered to every replica iff it commits.
            notifier.publish_in(db.connection())

    def _after_commit(self, db: Session) -> None:
        if db.info.pop(CREDENTIALS_CHANGED, False):
            metrics.INVALIDATIONS.labels(source="local").inc()
            self._invalidate()
            if self.notifier is not None and not self.notifier.transactional:
                self.notifier.publish()

    def _changed_elsewhere(self) -> None:
        self._invalidate()

    def _invalidate(self) -> None:
        for callback in self.on_credentials_changed:
            callback()

    def _notifier_live(self, live: bool) -> None:
        settings = self.settings
        ttl = settings.auth_cache_ttl_notified_seconds if live else settings.auth_cache_ttl_seconds
        self.authenticator.cache_ttl = self.answers.ttl = ttl

    @cached_property
    def secret_box(self) -> SecretBox:
        return load_secret_box(self.settings)

    @cached_property
    def bundle_store(self) -> BundleStore:
        from keyplane.deploys.store import load_store

        return load_store(self.settings)

    @cached_property
    def oauth(self) -> OAuthServer:
        from keyplane.oauth.server import OAuthServer  # the oauth package imports this module

        return OAuthServer(self)

    def close(self) -> None:
        if self.notifier is not None:
            self.notifier.stop()
        self.limiter.close()
        if self.owns_engine:
            self.engine.dispose()


class KeyplaneApp(FastAPI):
    """The ASGI app, holding its runtime as a plain attribute: read on every request,
    where ``app.state``'s attribute lookup would cost more than the rest of the cache hit."""

    runtime: Runtime


def _mark_directory_changes(db: Session, *_: Any) -> None:
    """Cached answers show organizations, workspaces and deployments: any change to
    one of them is a change to what cached principals may see."""
    if any(isinstance(o, DIRECTORY_MODELS) for o in (*db.new, *db.dirty, *db.deleted)):
        credentials_changed(db)


def _forget_mark(db: Session, *_: Any) -> None:
    db.info.pop(CREDENTIALS_CHANGED, None)
