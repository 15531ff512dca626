"""Setting a user's password."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from keyplane.config import Settings
from keyplane.db.models import RoleBinding, User
from keyplane.domain.errors import InvalidInput, NotFound
from keyplane.identity.login import domain_of, normalize_email
from keyplane.identity.models import SsoConnection, SsoDomain
from keyplane.identity.passwords import Passwords, check_policy, hasher_for
from keyplane.identity.sessions import end_all_sessions


def set_password(db: Session, settings: Settings, email: str, password: str) -> User:
    """Give an existing user a new password (policy checked); the caller's unit commits.

    Replacing a password ends every session and CLI login of the user. Raises NotFound
    for an unknown email and InvalidInput for a refused password or
    a domain whose organization enforces single sign-on.
    """
    email = normalize_email(email)
    user = db.scalar(select(User).where(User.email == email))
    if user is None:
        raise NotFound(f"no user with email {email}")
    refuse_if_sso_enforced(db, email)
    check_policy(password, email, settings.password_min_length)
    replaced = user.password_hash is not None
    user.password_hash = Passwords(hasher_for(settings)).hash(password)
    if replaced:
        # A new password is a reset: whoever signed in with the old one (or holds a
        # CLI login made with it) is signed out, as after "sign out everywhere".
        end_all_sessions(db, user.id)
    db.flush()
    return user


def organizations_of(db: Session, user_id: str) -> list[str]:
    """The organizations the user is a member of (holds any role in), by id."""
    query = select(RoleBinding.organization_id).where(RoleBinding.user_id == user_id)
    return sorted(set(db.scalars(query)))


def refuse_if_sso_enforced(db: Session, email: str) -> None:
    domain = domain_of(email)
    enforced = db.scalar(
        select(SsoConnection.id)
        .join(SsoDomain, SsoDomain.connection_id == SsoConnection.id)
        .where(
            SsoDomain.domain == domain,
            SsoDomain.verified_at.is_not(None),
            SsoConnection.enforce_sso.is_(True),
        )
    )
    if enforced:
        raise InvalidInput(
            f"{domain} signs in with single sign-on only: passwords are disabled for it"
        )
