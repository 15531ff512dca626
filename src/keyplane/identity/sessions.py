"""Server-side browser sessions.

The cookie carries 256 random bits; the database keeps only their SHA-256, so a
copy of the database signs nobody in. A session ends after ``session_idle_minutes``
without a request, or ``session_absolute_hours`` after sign-in, whichever is first.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from keyplane.auth.grants import load_grants
from keyplane.auth.principal import Principal, PrincipalKind
from keyplane.config import Settings
from keyplane.db.base import utcnow
from keyplane.db.models import User
from keyplane.domain.credentials import PlaintextSecret, hash_secret
from keyplane.identity import cli_tokens
from keyplane.identity.models import WebSession

# last_seen_at is written at most this often, so that browsing costs no write per page.
TOUCH_INTERVAL = timedelta(seconds=60)


def cookie_name(settings: Settings) -> str:
    # Browsers accept a __Host- cookie only with Secure, Path=/ and no Domain.
    return "__Host-keyplane_session" if settings.cookie_secure else "keyplane_session"


@dataclass(frozen=True)
class SignedIn:
    session: WebSession
    user: User
    principal: Principal


def user_principal(db: Session, user: User) -> Principal:
    """A signed-in person as a principal: their role bindings, nothing more."""
    return Principal(
        kind=PrincipalKind.USER, id=user.id, name=user.email, grants=load_grants(db, user.id)
    )


def start_session(
    db: Session,
    settings: Settings,
    user: User,
    *,
    client_ip: str,
    user_agent: str,
    method: str = "password",
    replaces: str | None = None,
) -> PlaintextSecret:
    """Create a session; returns the cookie value (the only copy).

    ``replaces`` is the session cookie the browser sent, if any: that session ends, so
    that a second sign-in in one browser (another person's, or the same one's) leaves
    no first session that a copy of the old cookie could still use. The session exists
    once the caller's unit of work commits.
    """
    end_session(db, replaces)
    value = PlaintextSecret(secrets.token_urlsafe(32))
    now = utcnow()
    db.add(
        WebSession(
            user_id=user.id,
            secret_hash=hash_secret(value),
            created_at=now,
            last_seen_at=now,
            expires_at=now + timedelta(hours=settings.session_absolute_hours),
            client_ip=client_ip[:64],
            user_agent=user_agent[:300],
            method=method,
        )
    )
    db.flush()
    return value


def _find(db: Session, value: str | None) -> WebSession | None:
    if not value or len(value) > 100:
        return None
    return db.scalar(select(WebSession).where(WebSession.secret_hash == hash_secret(value)))


def _expired(settings: Settings, session: WebSession) -> bool:
    now = utcnow()
    idle = timedelta(minutes=settings.session_idle_minutes)
    return session.expires_at <= now or session.last_seen_at + idle <= now


def resume_session(db: Session, settings: Settings, value: str | None) -> SignedIn | None:
    """The live session for a cookie value, or None (unknown, idle too long, expired).

    An expired session is left for :func:`end_expired_session`, and a session due to be
    seen again for :func:`touch_session`, which the caller runs in units of their own:
    the page that found it may well fail (it needs a sign-in), or only read.
    """
    session = _find(db, value)
    if session is None or _expired(settings, session):
        return None
    user = db.get(User, session.user_id)
    if user is None:
        return None
    return SignedIn(session, user, user_principal(db, user))


def touch_due(session: WebSession) -> bool:
    """Whether the session's last-seen time (its idle limit) is due to be written again."""
    return utcnow() - session.last_seen_at >= TOUCH_INTERVAL


def touch_session(db: Session, session_id: str) -> None:
    """Note that the session was seen now: its idle limit starts again."""
    # A statement, not an ORM change: another request may end this session meanwhile.
    db.execute(update(WebSession).where(WebSession.id == session_id).values(last_seen_at=utcnow()))


def end_expired_session(db: Session, settings: Settings, value: str | None) -> None:
    """Delete the session of this cookie value if it is past its idle or absolute limit."""
    session = _find(db, value)
    if session is not None and _expired(settings, session):
        db.execute(delete(WebSession).where(WebSession.id == session.id))


def end_session(db: Session, value: str | None) -> None:
    if value:
        db.execute(delete(WebSession).where(WebSession.secret_hash == hash_secret(value)))


def end_password_sign_ins(db: Session, user_id: str) -> None:
    """End what a password may have signed in: the user's browser sessions made with a
    password, and every CLI login (approved in some browser session; a person signs in
    again through single sign-on). Sessions made through SSO stay."""
    db.execute(
        delete(WebSession).where(WebSession.user_id == user_id, WebSession.method == "password")
    )
    cli_tokens.revoke_user_logins(db, user_id)


def end_all_sessions(db: Session, user_id: str) -> None:
    """Sign the user out of every browser (and, through the hooks, every CLI login)."""
    db.execute(delete(WebSession).where(WebSession.user_id == user_id))
    cli_tokens.revoke_user_logins(db, user_id)
