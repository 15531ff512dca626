"""Tokens of a CLI login: short JWT access tokens and rotating refresh tokens.

Each login is a chain. A refresh token is used once: using it returns a new access
token and the next refresh token. Presenting a refresh token that was already used
means a copy exists somewhere else, so the whole chain is revoked (RFC 9700
§4.14.2): the login row goes, with every refresh token, and the access tokens that
name it in ``kp_login`` stop verifying.
"""

from __future__ import annotations

import secrets
from datetime import timedelta
from typing import Any, NoReturn

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from keyplane.db.base import utcnow
from keyplane.db.unit import credentials_changed
from keyplane.domain.credentials import hash_secret
from keyplane.domain.errors import NotAuthenticated
from keyplane.identity.models import CliLogin, RefreshToken
from keyplane.oauth.access_tokens import issue_user_access_token
from keyplane.oauth.context import ServerContext
from keyplane.oauth.errors import InvalidGrant

CLI_CLIENT_ID = "keyplane-cli"
REFRESH_PREFIX = "kpr_"
# The claim naming the login an access token belongs to (``sid`` stays free for others).
LOGIN_CLAIM = "kp_login"
UNKNOWN = "unknown refresh token: it was revoked, or never existed"


def start_login(runtime: ServerContext, db: Session, user_id: str, method: str) -> dict[str, Any]:
    """A new login chain for the user; returns the RFC 6749 §5.1 token response."""
    return first_tokens(runtime, db, new_login(runtime, db, user_id, method))


def new_login(runtime: ServerContext, db: Session, user_id: str, method: str) -> CliLogin:
    """A new login chain for the user, with no tokens yet (flushed, so it has its id)."""
    login = CliLogin(
        user_id=user_id,
        client_id=CLI_CLIENT_ID,
        method=method,
        expires_at=utcnow() + timedelta(days=runtime.settings.cli_login_days),
    )
    db.add(login)
    db.flush()
    return login


def first_tokens(runtime: ServerContext, db: Session, login: CliLogin) -> dict[str, Any]:
    """The RFC 6749 §5.1 token response that opens ``login``."""
    return _tokens(runtime, db, login)


def refresh(runtime: ServerContext, db: Session, value: str) -> dict[str, Any]:
    """Rotate: the presented token is spent and a new pair is issued.

    The token is spent by one conditional UPDATE, so that of any number of uses at
    once, on any replica, exactly one wins (on PostgreSQL the others wait for its row
    lock, then find it spent; SQLite has one writer). Every other use is reuse: the
    whole chain is revoked, the winner's new tokens with it.

    Raises InvalidGrant for an unknown, expired or already used token; a used one
    revokes its chain first (the caller commits that despite the error).
    """
    secret_hash = hash_secret(value)
    login_id = db.execute(
        update(RefreshToken)
        .where(RefreshToken.secret_hash == secret_hash, RefreshToken.used_at.is_(None))
        .values(used_at=utcnow())
        .returning(RefreshToken.login_id)
        .execution_options(synchronize_session=False)
    ).scalar_one_or_none()
    if login_id is None:
        _refuse_reuse(db, secret_hash)
    login = db.get(CliLogin, login_id)
    if login is None:
        raise InvalidGrant(UNKNOWN)
    if login.expires_at <= utcnow():
        revoke_login(db, login.id)
        raise InvalidGrant("this login has expired: sign in again with `keyplane login`")
    return _tokens(runtime, db, login)


def _refuse_reuse(db: Session, secret_hash: str) -> NoReturn:
    """The token was spent before (or just now, by a concurrent use): revoke its chain."""
    login_id = db.scalar(
        select(RefreshToken.login_id).where(RefreshToken.secret_hash == secret_hash)
    )
    if login_id is None:
        raise InvalidGrant(UNKNOWN)
    revoke_login(db, login_id)
    raise InvalidGrant(
        "this refresh token was already used, so a copy of it is in other hands: "
        "the login is revoked, sign in again with `keyplane login`"
    )


def revoke_login(db: Session, login_id: str) -> None:
    db.execute(delete(CliLogin).where(CliLogin.id == login_id))
    credentials_changed(db)  # drops access tokens cached as verified


def revoke_by_refresh_token(db: Session, value: str) -> str | None:
    """Revoke the chain a refresh token belongs to; the login's id, None if the token
    is unknown."""
    found = db.scalar(
        select(RefreshToken.login_id).where(RefreshToken.secret_hash == hash_secret(value))
    )
    if found is not None:
        revoke_login(db, found)
    return found


def revoke_user_logins(db: Session, user_id: str) -> None:
    """Sign-out everywhere: every CLI login of the user."""
    db.execute(delete(CliLogin).where(CliLogin.user_id == user_id))
    credentials_changed(db)


def check_login(db: Session, claims: dict[str, Any]) -> None:
    """For the verifier: a token naming a login (``kp_login``) is valid while the login exists."""
    login_id = claims.get(LOGIN_CLAIM)
    if login_id is not None and db.get(CliLogin, login_id) is None:
        raise NotAuthenticated("this CLI login was signed out or revoked: run `keyplane login`")


def _tokens(runtime: ServerContext, db: Session, login: CliLogin) -> dict[str, Any]:
    value = REFRESH_PREFIX + secrets.token_urlsafe(32)
    db.add(RefreshToken(login_id=login.id, secret_hash=hash_secret(value)))
    db.flush()
    issued = issue_user_access_token(
        runtime,
        login.user_id,
        db=db,
        client_id=CLI_CLIENT_ID,
        lifetime=runtime.settings.cli_access_token_seconds,
        extra_claims={LOGIN_CLAIM: login.id},
    )
    return {**issued.response(), "refresh_token": value}
