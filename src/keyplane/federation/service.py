"""Use cases for workload identities: create, list, read, update, delete.

An identity holds one role, as a token does, so managing one is managing a credential:
the tokens-manage permission of its scope, and every permission its role holds there
(``authorize_managing``, no escalation). Deleting one, or changing its issuer,
conditions or audience, ends the access tokens it issued at once, on every replica.
"""

from __future__ import annotations

from sqlalchemy import or_, select
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from keyplane.auth.principal import Principal
from keyplane.config import Settings
from keyplane.db.models import WorkloadIdentity
from keyplane.db.paging import PageParams, page_of_query
from keyplane.db.unit import CHECK_AND_CHANGE, DELETE_ROW, RowLock, credentials_changed
from keyplane.domain.access import Entity, authorize, authorize_managing, holds
from keyplane.domain.errors import InvalidInput, NotFound
from keyplane.domain.roles import Level, Permission
from keyplane.federation import conditions, schemas
from keyplane.federation.records import IdentityRecord, record_of
from keyplane.oauth.access_tokens import issuer_of
from keyplane.tenancy.entities import scope_entity
from keyplane.tenancy.granting import check_grantable
from keyplane.tenancy.visibility import where_deployments, where_workspaces
from keyplane.tokens.service import MANAGE

SORT_COLUMNS: dict[str, ColumnElement[object]] = {
    "name": WorkloadIdentity.name,  # type: ignore[dict-item]
    "createdAt": WorkloadIdentity.created_at,  # type: ignore[dict-item]
    "lastUsedAt": WorkloadIdentity.last_used_at,  # type: ignore[dict-item]
}


def _listed_issuer(settings: Settings, issuer: str) -> str:
    wanted = issuer.rstrip("/")
    listed = settings.federation_issuer_list
    if wanted not in listed:
        raise InvalidInput(
            f"issuer {wanted[:300]} is not one this server trusts: the operator lists them "
            f"in KEYPLANE_FEDERATION_ISSUERS ({', '.join(listed) or 'none'})",
            field_errors={"issuer": "not in KEYPLANE_FEDERATION_ISSUERS"},
        )
    return wanted


def create_identity(
    db: Session,
    principal: Principal,
    settings: Settings,
    org_id: str,
    data: schemas.WorkloadIdentityCreate,
) -> WorkloadIdentity:
    """A new identity; InvalidInput, NotFound or Forbidden as its fields or rights say."""
    own = scope_entity(db, org_id, data.scope, data.entity_id, "workload identity")
    authorize(principal, MANAGE[data.scope], own)
    check_grantable(db, principal, org_id, [(own.level, own.id, data.role)], own, set())
    issuer = _listed_issuer(settings, data.issuer)
    identity = WorkloadIdentity(
        organization_id=org_id,
        workspace_id=own.workspace_id,
        deployment_id=own.id if own.level is Level.DEPLOYMENT else None,
        scope=own.level.value,
        entity_id=own.id,
        role=data.role,
        name=data.name,
        description=data.description,
        issuer=issuer,
        audience=data.audience or issuer_of(settings),
        conditions=conditions.validate(data.conditions, issuer),
        token_lifetime_seconds=data.token_lifetime_seconds,
        policy_revision=1,
        created_by=principal.actor(),
        updated_by=principal.actor(),
    )
    db.add(identity)
    db.flush()
    return identity


def list_identities(
    db: Session, principal: Principal, org_id: str, page: PageParams
) -> tuple[list[WorkloadIdentity], int]:
    """The identities whose scope's tokens the principal may manage."""
    authorize(principal, None, Entity.organization(org_id))
    query = select(WorkloadIdentity).where(WorkloadIdentity.organization_id == org_id)
    if not holds(principal, Permission.ORGANIZATION_TOKENS_MANAGE, Entity.organization(org_id)):
        workspaces = where_workspaces(
            principal, org_id, WorkloadIdentity.workspace_id, Permission.WORKSPACE_TOKENS_MANAGE
        )
        deployments = where_deployments(
            principal,
            org_id,
            WorkloadIdentity.deployment_id,
            WorkloadIdentity.workspace_id,
            Permission.DEPLOYMENT_TOKENS_MANAGE,
        )
        query = query.where(
            or_(
                (WorkloadIdentity.scope == Level.WORKSPACE.value) & workspaces,
                (WorkloadIdentity.scope == Level.DEPLOYMENT.value) & deployments,
            )
        )
    return page_of_query(db, query, page, SORT_COLUMNS, tiebreak=WorkloadIdentity.id)


def get_identity(
    db: Session,
    principal: Principal,
    org_id: str,
    identity_id: str,
    lock: RowLock | None = None,
) -> WorkloadIdentity:
    """An identity whose scope's tokens the principal may manage, read under ``lock``;
    NotFound, Forbidden."""
    identity = db.get(WorkloadIdentity, identity_id, with_for_update=lock)
    if identity is None or identity.organization_id != org_id:
        raise NotFound(f"workload identity {identity_id} not found")
    record = record_of(db, identity)
    asked_for = f"workload identity {identity_id}"
    authorize(principal, MANAGE[record.level], record.entity, asked_for=asked_for)
    return identity


def _managed(
    db: Session,
    principal: Principal,
    org_id: str,
    identity_id: str,
    action: str,
    lock: RowLock = CHECK_AND_CHANGE,
) -> tuple[WorkloadIdentity, IdentityRecord]:
    """An identity the principal may change, read under the row's lock, so that changes
    of one identity at once take turns (a delete finds nothing left to delete)."""
    identity = get_identity(db, principal, org_id, identity_id, lock)
    record = record_of(db, identity)
    authorize_managing(principal, record.grants, f"{action} workload identity {identity_id}")
    return identity, record


def update_identity(
    db: Session,
    principal: Principal,
    settings: Settings,
    org_id: str,
    identity_id: str,
    change: schemas.WorkloadIdentityUpdate,
) -> WorkloadIdentity:
    """Change what ``change`` sets. A new issuer, conditions or audience ends the tokens
    issued under the old policy; a new role or entity applies to them at once."""
    identity, record = _managed(db, principal, org_id, identity_id, "update")
    if (change.scope, change.entity_id, change.role) != (None, None, None):
        _move(db, principal, org_id, identity, change)
    if change.issuer is not None:
        identity.issuer = _listed_issuer(settings, change.issuer)
    if change.issuer is not None or change.conditions is not None:
        wanted = change.conditions if change.conditions is not None else identity.conditions
        identity.conditions = conditions.validate(wanted, identity.issuer)
    if change.audience is not None:
        identity.audience = change.audience
    if (change.issuer, change.conditions, change.audience) != (None, None, None):
        identity.policy_revision = record.revision + 1
    for name in ("name", "description", "token_lifetime_seconds"):
        if getattr(change, name) is not None:
            setattr(identity, name, getattr(change, name))
    identity.updated_by = principal.actor()
    credentials_changed(db)
    db.flush()
    return identity


def _move(
    db: Session,
    principal: Principal,
    org_id: str,
    identity: WorkloadIdentity,
    change: schemas.WorkloadIdentityUpdate,
) -> None:
    """Give the identity another role, on its entity or another one (granting rules)."""
    scope = change.scope or Level(identity.scope)
    entity_id = change.entity_id
    if entity_id is None and scope.value == identity.scope:
        entity_id = identity.entity_id
    own = scope_entity(db, org_id, scope, entity_id, "workload identity")
    role = change.role or identity.role
    authorize(principal, MANAGE[own.level], own)
    check_grantable(db, principal, org_id, [(own.level, own.id, role)], own, set())
    identity.scope, identity.entity_id, identity.role = own.level.value, own.id, role
    identity.workspace_id = own.workspace_id
    identity.deployment_id = own.id if own.level is Level.DEPLOYMENT else None


def delete_identity(db: Session, principal: Principal, org_id: str, identity_id: str) -> None:
    """Delete it: the access tokens it issued stop working at once, on every replica."""
    identity, _ = _managed(db, principal, org_id, identity_id, "delete", DELETE_ROW)
    db.delete(identity)
    credentials_changed(db)
    db.flush()
