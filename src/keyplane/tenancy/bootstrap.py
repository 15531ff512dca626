"""The first organization, its owner and a one-time owner token (``keyplane admin init``),
and the operator's recovery token (``keyplane admin token create``)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from keyplane.db.base import utcnow
from keyplane.db.models import ApiToken, Organization, RoleBinding, User
from keyplane.domain import credentials
from keyplane.domain.credentials import PlaintextSecret, SecretKind
from keyplane.domain.emails import canonical
from keyplane.domain.errors import Conflict, InvalidInput
from keyplane.domain.roles import Level, Role, level_of
from keyplane.tenancy.entities import organization_named

SYSTEM_ACTOR = {"id": "system", "kind": "SYSTEM", "name": "keyplane admin init"}
BOOTSTRAP_TOKEN = "bootstrap owner token"


@dataclass(frozen=True)
class Bootstrap:
    organization_id: str
    user_id: str
    token: PlaintextSecret
    token_id: str


def init_organization(db: Session, name: str, email: str) -> Bootstrap:
    """Create an organization owned by ``email`` and an Organization Owner token, in the
    caller's unit of work.

    Raises Conflict if an organization of that name already exists.
    """
    if db.scalar(select(Organization).where(Organization.name == name)):
        raise Conflict(f"an organization named {name!r} already exists")
    try:
        email = canonical(email)
    except ValueError as error:
        raise InvalidInput(f"--email: {error}") from None
    org = Organization(name=name)
    user = db.scalar(select(User).where(User.email == email)) or User(email=email)
    db.add_all([org, user])
    db.flush()
    description = f"created by `keyplane admin init` for {email}"
    token, value = _organization_token(
        db, org.id, Role.ORGANIZATION_OWNER, BOOTSTRAP_TOKEN, description, SYSTEM_ACTOR
    )
    db.add(_owner_binding(org.id, user.id, "user_id", Role.ORGANIZATION_OWNER))
    db.flush()
    return Bootstrap(org.id, user.id, value, token.id)


def recovery_token(
    db: Session, organization: str, role: Role, name: str
) -> tuple[ApiToken, PlaintextSecret]:
    """A new Organization token holding ``role`` in the organization of that id or name,
    made by the operator on the database (``keyplane admin token create``): the way back
    in when the owner token is lost. The caller records it in the audit trail.

    Raises NotFound for no such organization, InvalidInput for a role of another level.
    """
    if level_of(role) is not Level.ORGANIZATION:
        raise InvalidInput("the role must be an organization role")
    org = organization_named(db, organization)
    actor = {**SYSTEM_ACTOR, "name": "keyplane admin token create"}
    description = "created on the database by `keyplane admin token create`"
    return _organization_token(db, org.id, role, name, description, actor)


def _organization_token(
    db: Session, org_id: str, role: Role, name: str, description: str, actor: dict[str, str]
) -> tuple[ApiToken, PlaintextSecret]:
    value = credentials.generate(SecretKind.ORGANIZATION_TOKEN)
    token = ApiToken(
        organization_id=org_id,
        scope=Level.ORGANIZATION.value,
        name=name,
        description=description,
        secret_hash=credentials.hash_secret(value),
        short_token=credentials.short(value),
        start_at=utcnow(),
        created_by=actor,
        updated_by=actor,
    )
    db.add(token)
    db.flush()
    db.add(_owner_binding(org_id, token.id, "token_id", role))
    db.flush()
    return token, value


def _owner_binding(org_id: str, subject: str, column: str, role: Role) -> RoleBinding:
    return RoleBinding(
        subject_id=subject,
        level=Level.ORGANIZATION.value,
        entity_id=org_id,
        role=role.value,
        organization_id=org_id,
        **{column: subject},
    )
