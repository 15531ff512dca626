"""Everything one server process holds: settings, database, credential cache."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING, Any

from sqlalchemy import Engine, event
from sqlalchemy.orm import Session, sessionmaker

from keyplane.auth.authenticator import Authenticator
from keyplane.config import Settings
from keyplane.db.session import make_engine, make_sessionmaker
from keyplane.secretbox import SecretBox, load_secret_box

if TYPE_CHECKING:
    from keyplane.deploys.store import BundleStore
    from keyplane.oauth.server import OAuthServer

CREDENTIALS_CHANGED = "keyplane.credentials_changed"


def credentials_changed(db: Session) -> None:
    """Mark that this transaction changes credentials or roles.

    When it commits, every cached principal is dropped (and, with a notifier, every
    other replica is told to do the same).
    """
    db.info[CREDENTIALS_CHANGED] = True


@dataclass
class Runtime:
    settings: Settings
    engine: Engine
    sessions: sessionmaker[Session]
    authenticator: Authenticator
    # Called after a commit that changed credentials; cross-replica notifiers add theirs.
    on_credentials_changed: list[Callable[[], None]] = field(default_factory=list)
    owns_engine: bool = True

    @classmethod
    def create(cls, settings: Settings, engine: Engine | None = None) -> Runtime:
        """A runtime on ``engine``, or on a new engine for the configured database."""
        owns_engine = engine is None
        engine = engine or make_engine(settings.resolved_database_url)
        sessions = make_sessionmaker(engine)
        authenticator = Authenticator(
            sessions,
            cache_ttl_seconds=settings.auth_cache_ttl_seconds,
            last_used_interval_seconds=settings.last_used_interval_seconds,
            failures_per_minute=settings.auth_failure_limit_per_minute,
        )
        runtime = cls(settings, engine, sessions, authenticator, owns_engine=owns_engine)
        runtime.on_credentials_changed.append(authenticator.invalidate)
        runtime.oauth.attach(runtime)  # JWT access tokens on every route
        event.listen(sessions, "after_commit", runtime._after_commit)
        event.listen(sessions, "after_rollback", _forget_mark)
        return runtime

    def _after_commit(self, db: Session) -> None:
        if db.info.pop(CREDENTIALS_CHANGED, False):
            for callback in self.on_credentials_changed:
                callback()

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
        if self.owns_engine:
            self.engine.dispose()


def _forget_mark(db: Session, *_: Any) -> None:
    db.info.pop(CREDENTIALS_CHANGED, None)
