"""The first organization, its owner and a one-time owner token (``keyplane admin init``)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from keyplane.db.base import utcnow
from keyplane.db.models import ApiToken, Organization, RoleBinding, User
from keyplane.domain import credentials
from keyplane.domain.credentials import PlaintextSecret, SecretKind
from keyplane.domain.errors import Conflict
from keyplane.domain.roles import Level, Role

SYSTEM_ACTOR = {"id": "system", "kind": "SYSTEM", "name": "keyplane admin init"}


@dataclass(frozen=True)
class Bootstrap:
    organization_id: str
    user_id: str
    token: PlaintextSecret


def init_organization(db: Session, name: str, email: str) -> Bootstrap:
    """Create an organization owned by ``email`` and an Organization Owner token, in the
    caller's unit of work.

    Raises Conflict if an organization of that name already exists.
    """
    if db.scalar(select(Organization).where(Organization.name == name)):
        raise Conflict(f"an organization named {name!r} already exists")
    email = email.strip().lower()
    org = Organization(name=name)
    user = db.scalar(select(User).where(User.email == email)) or User(email=email)
    db.add_all([org, user])
    db.flush()
    value = credentials.generate(SecretKind.ORGANIZATION_TOKEN)
    token = ApiToken(
        organization_id=org.id,
        scope=Level.ORGANIZATION.value,
        name="bootstrap owner token",
        description=f"created by `keyplane admin init` for {email}",
        secret_hash=credentials.hash_secret(value),
        short_token=credentials.short(value),
        start_at=utcnow(),
        created_by=SYSTEM_ACTOR,
        updated_by=SYSTEM_ACTOR,
    )
    db.add(token)
    db.flush()
    for subject, column in ((user.id, "user_id"), (token.id, "token_id")):
        db.add(
            RoleBinding(
                subject_id=subject,
                level=Level.ORGANIZATION.value,
                entity_id=org.id,
                role=Role.ORGANIZATION_OWNER.value,
                organization_id=org.id,
                **{column: subject},
            )
        )
    db.flush()
    return Bootstrap(org.id, user.id, value)
