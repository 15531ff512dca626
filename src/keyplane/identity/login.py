"""The identifier-first login flow: which way an email signs in, and the password step."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from keyplane.db.models import User
from keyplane.domain.emails import canonical
from keyplane.domain.errors import InvalidInput, NotAuthenticated
from keyplane.identity.guard import LoginGuard
from keyplane.identity.models import SsoConnection, SsoDomain
from keyplane.identity.passwords import Passwords

WRONG = "wrong email or password"


def normalize_email(email: str) -> str:
    """In its one form (:func:`keyplane.domain.emails.canonical`: lower case, trimmed,
    an ASCII domain); raises InvalidInput for anything that is not an email."""
    try:
        email = canonical(email)
    except ValueError:
        raise InvalidInput(
            "enter an email address", field_errors={"email": "not an email"}
        ) from None
    local, at, domain = email.rpartition("@")
    if not at or not local or "." not in domain or len(email) > 320 or " " in email:
        raise InvalidInput("enter an email address", field_errors={"email": "not an email"})
    return email


def domain_of(email: str) -> str:
    return email.rpartition("@")[2]


def sso_connection_for(db: Session, email: str) -> SsoConnection | None:
    """The SSO connection whose verified claim holds the email's domain, if any (an
    unverified claim routes nobody).

    Depends on the domain only, never on whether the account exists.
    """
    return db.scalar(
        select(SsoConnection)
        .join(SsoDomain, SsoDomain.connection_id == SsoConnection.id)
        .where(SsoDomain.domain == domain_of(email), SsoDomain.verified_at.is_not(None))
    )


def password_login(
    db: Session,
    passwords: Passwords,
    guard: LoginGuard,
    email: str,
    password: str,
    client_ip: str,
) -> User:
    """The user whose password this is; raises NotAuthenticated or TooManyRequests
    (InvalidInput for what is not an email).

    Unknown emails, users without a password and wrong passwords all cost one
    argon2 verification and get the same message. A hash made with older
    parameters is replaced on success. Every NotAuthenticated is counted against the
    guard's limits.
    """
    email = normalize_email(email)
    guard.check(email, client_ip)
    connection = sso_connection_for(db, email)
    if connection is not None and connection.enforce_sso:
        # Counted like a wrong password: each refusal is an audit event, and unbounded
        # ones would let anyone fill the organization's log.
        guard.failed(email, client_ip)
        raise NotAuthenticated(
            f"{domain_of(email)} signs in with single sign-on only: start again from the email step"
        )
    user = db.scalar(select(User).where(User.email == email))
    matches, new_hash = passwords.check(user.password_hash if user else None, password)
    if not matches or user is None:
        guard.failed(email, client_ip)
        raise NotAuthenticated(WRONG)
    if new_hash:
        user.password_hash = new_hash
        db.flush()
    return user
