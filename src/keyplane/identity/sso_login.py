"""Signing a person in from a verified ID token: just-in-time users and membership."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from keyplane.db.models import User
from keyplane.db.unit import credentials_changed
from keyplane.domain.access import Entity
from keyplane.domain.errors import InvalidInput, NotAuthenticated, NotFound
from keyplane.domain.roles import Level
from keyplane.identity.login import domain_of, normalize_email
from keyplane.identity.models import SsoConnection
from keyplane.identity.sso import domains_of, verified_domains
from keyplane.tenancy.members import bind_user, find_member


def connection_for_login(db: Session, connection_id: str) -> SsoConnection:
    connection = db.get(SsoConnection, connection_id)
    if connection is None:
        raise NotFound("this single sign-on connection no longer exists")
    return connection


@dataclass(frozen=True)
class SsoSignIn:
    user: User
    created: bool  # the account was made just now, just in time
    joined: bool  # and made a member of the connection's organization just now


def user_from_claims(db: Session, connection: SsoConnection, claims: dict[str, Any]) -> SsoSignIn:
    """The user the provider vouches for, created and made a member on first sign-in.

    Only a verified email (``email_verified`` is true) in a domain of the connection that
    the operator has verified is accepted: an organization's provider must not be able
    to sign in as anybody else's user.
    """
    raw = claims.get("email")
    # Only the boolean true: a missing claim or the string "false" proves nothing.
    if not isinstance(raw, str) or claims.get("email_verified") is not True:
        raise NotAuthenticated("the identity provider did not send a verified email address")
    try:
        email = normalize_email(raw)
    except InvalidInput:
        raise NotAuthenticated("the identity provider sent an invalid email address") from None
    if domain_of(email) not in verified_domains(domains_of(db, [connection.id])[connection.id]):
        # Unverified, the claim proves nothing: any organization can make one.
        raise NotAuthenticated(
            f"{email} is not in a verified domain of this organization's single sign-on connection"
        )
    user = db.scalar(select(User).where(User.email == email))
    created = user is None
    if user is None:
        name = claims.get("name")
        user = User(email=email, full_name=name[:200] if isinstance(name, str) else "")
        db.add(user)
        db.flush()
    org_id = connection.organization_id
    joined = find_member(db, org_id, user.id) is None
    if joined:
        bind_user(db, user, Entity(Level.ORGANIZATION, org_id, org_id), connection.default_role)
        credentials_changed(db)
    db.flush()
    return SsoSignIn(user, created, joined)
