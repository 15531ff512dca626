"""Use cases for deployment API keys: create, list, delete.

A key acts as DEPLOYMENT_ADMIN on its deployment, so making one is granting that
role: the creator must hold every permission of it there (no escalation).
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from keyplane.apikeys import schemas
from keyplane.apikeys.models import DeploymentApiKey
from keyplane.apikeys.principal import key_grants
from keyplane.auth.principal import Principal
from keyplane.db.paging import PageParams, page_of_query
from keyplane.db.unit import DELETE_ROW, RowLock, credentials_changed
from keyplane.domain import credentials
from keyplane.domain.access import authorize, authorize_managing
from keyplane.domain.credentials import PlaintextSecret, SecretKind
from keyplane.domain.errors import NotFound
from keyplane.domain.roles import DEPLOYMENT_ADMIN, Level, Permission
from keyplane.tenancy.entities import deployment_entity, get_deployment
from keyplane.tenancy.granting import check_grantable

SORT_COLUMNS: dict[str, ColumnElement[object]] = {
    "name": DeploymentApiKey.name,  # type: ignore[dict-item]
    "createdAt": DeploymentApiKey.created_at,  # type: ignore[dict-item]
    "lastUsedAt": DeploymentApiKey.last_used_at,  # type: ignore[dict-item]
}


def _managed_deployment(db: Session, principal: Principal, org_id: str, dep_id: str) -> None:
    deployment = get_deployment(db, org_id, dep_id)
    authorize(principal, Permission.DEPLOYMENT_TOKENS_MANAGE, deployment_entity(deployment))


def create_key(
    db: Session, principal: Principal, org_id: str, dep_id: str, data: schemas.ApiKeyCreate
) -> tuple[DeploymentApiKey, PlaintextSecret]:
    """A new key and its secret; the database keeps only the secret's SHA-256."""
    deployment = get_deployment(db, org_id, dep_id)
    entity = deployment_entity(deployment)
    authorize(principal, Permission.DEPLOYMENT_TOKENS_MANAGE, entity)
    check_grantable(
        db, principal, org_id, [(Level.DEPLOYMENT, dep_id, DEPLOYMENT_ADMIN)], entity, set()
    )
    secret = credentials.generate(SecretKind.DEPLOYMENT_KEY)
    key = DeploymentApiKey(
        organization_id=org_id,
        workspace_id=deployment.workspace_id,
        deployment_id=deployment.id,
        name=data.name,
        description=data.description,
        secret_hash=credentials.hash_secret(secret),
        created_by=principal.actor(),
    )
    db.add(key)
    db.flush()
    return key, secret


def list_keys(
    db: Session, principal: Principal, org_id: str, dep_id: str, page: PageParams
) -> tuple[list[DeploymentApiKey], int]:
    _managed_deployment(db, principal, org_id, dep_id)
    query = select(DeploymentApiKey).where(DeploymentApiKey.deployment_id == dep_id)
    return page_of_query(db, query, page, SORT_COLUMNS, tiebreak=DeploymentApiKey.id)


def get_key(
    db: Session,
    principal: Principal,
    org_id: str,
    dep_id: str,
    key_id: str,
    lock: RowLock | None = None,
) -> DeploymentApiKey:
    """A key of a deployment whose tokens the principal may manage (as listing them),
    read under ``lock``."""
    _managed_deployment(db, principal, org_id, dep_id)
    key = db.get(DeploymentApiKey, key_id, with_for_update=lock)
    if key is None or key.deployment_id != dep_id:
        raise NotFound(f"deployment API key {key_id} not found")
    return key


def delete_key(db: Session, principal: Principal, org_id: str, dep_id: str, key_id: str) -> None:
    """Delete a key: it, and every access token issued for it, stop working at once."""
    key = get_key(db, principal, org_id, dep_id, key_id, lock=DELETE_ROW)  # one delete wins
    held = key_grants(key.organization_id, key.workspace_id, key.deployment_id)
    authorize_managing(principal, held, f"delete deployment API key {key_id}")
    db.delete(key)
    credentials_changed(db)
    db.flush()
