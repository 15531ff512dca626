"""Who an access token acts for: each ``kp_kind`` claim has a resolver that loads the
subject's current principal, or raises NotAuthenticated when it is gone."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy.orm import Session

from keyplane.apikeys.principal import load_key_principal
from keyplane.auth.grants import load_grants
from keyplane.auth.principal import Principal, PrincipalKind
from keyplane.db.models import User
from keyplane.domain.errors import NotAuthenticated

INVALID = "invalid access token: its signature or claims do not verify"

SubjectResolver = Callable[[Session, dict[str, Any]], Principal]
# Run on every token's claims before its subject is resolved; raises NotAuthenticated.
ClaimsCheck = Callable[[Session, dict[str, Any]], None]


def user_principal(db: Session, claims: dict[str, Any]) -> Principal:
    """A USER principal with the user's current grants."""
    user = db.get(User, claims["sub"])
    if user is None:
        raise NotAuthenticated("the user behind this access token no longer exists")
    return Principal(
        kind=PrincipalKind.USER,
        id=user.id,
        name=user.email,
        grants=load_grants(db, user.id),
        organization_id=claims.get("org_id"),
    )


def key_principal(db: Session, claims: dict[str, Any]) -> Principal:
    """The key's principal, if the key exists and its organization allows keys."""
    if claims["sub"] != claims["client_id"]:
        raise NotAuthenticated(INVALID)
    return load_key_principal(db, claims["sub"])
