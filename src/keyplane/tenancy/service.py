"""Use cases for organizations, workspaces and deployments."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from keyplane.auth.principal import Principal
from keyplane.db.models import Deployment, Organization, Workspace
from keyplane.db.unit import credentials_changed
from keyplane.domain.access import Entity, authorize, can
from keyplane.domain.errors import Conflict
from keyplane.domain.roles import Permission
from keyplane.http.paging import page_of_list
from keyplane.http.schemas import PageParams
from keyplane.tenancy import schemas
from keyplane.tenancy.entities import (
    deployment_entity,
    get_deployment,
    get_organization,
    get_workspace,
    organization_entity,
    workspace_entity,
)

SORT_KEYS: dict[str, Callable[[Any], Any]] = {
    "name": lambda row: row.name.lower(),
    "createdAt": lambda row: row.created_at,
    "updatedAt": lambda row: row.updated_at,
}


def list_organizations(
    db: Session, principal: Principal, page: PageParams
) -> tuple[list[Organization], int]:
    ids = principal.grants.organization_ids()
    orgs = db.scalars(select(Organization).where(Organization.id.in_(ids))).all() if ids else []
    return page_of_list(orgs, page, SORT_KEYS)


def read_organization(db: Session, principal: Principal, org_id: str) -> Organization:
    org = get_organization(db, org_id)
    authorize(principal, Permission.ORGANIZATION_READ, organization_entity(org))
    return org


def update_organization(
    db: Session, principal: Principal, org_id: str, change: schemas.OrganizationUpdate
) -> Organization:
    org = get_organization(db, org_id)
    authorize(principal, Permission.ORGANIZATION_UPDATE, organization_entity(org))
    _apply(org, change)
    if change.api_keys_enabled is not None:
        credentials_changed(db)
    db.commit()
    return org


def list_workspaces(
    db: Session, principal: Principal, org_id: str, page: PageParams
) -> tuple[list[Workspace], int]:
    authorize(principal, None, Entity.organization(org_id))
    rows = db.scalars(select(Workspace).where(Workspace.organization_id == org_id)).all()
    visible = [ws for ws in rows if can(principal, Permission.WORKSPACE_READ, workspace_entity(ws))]
    return page_of_list(visible, page, SORT_KEYS)


def create_workspace(
    db: Session, principal: Principal, org_id: str, data: schemas.WorkspaceCreate
) -> Workspace:
    authorize(principal, Permission.WORKSPACE_CREATE, Entity.organization(org_id))
    workspace = Workspace(organization_id=org_id, name=data.name, description=data.description)
    db.add(workspace)
    _commit_unique(db, f"a workspace named {data.name!r} already exists in this organization")
    return workspace


def read_workspace(db: Session, principal: Principal, org_id: str, ws_id: str) -> Workspace:
    workspace = get_workspace(db, org_id, ws_id)
    authorize(principal, Permission.WORKSPACE_READ, workspace_entity(workspace))
    return workspace


def update_workspace(
    db: Session, principal: Principal, org_id: str, ws_id: str, change: schemas.WorkspaceUpdate
) -> Workspace:
    workspace = get_workspace(db, org_id, ws_id)
    authorize(principal, Permission.WORKSPACE_UPDATE, workspace_entity(workspace))
    _apply(workspace, change)
    _commit_unique(db, f"a workspace named {change.name!r} already exists in this organization")
    return workspace


def delete_workspace(db: Session, principal: Principal, org_id: str, ws_id: str) -> None:
    """Delete an empty workspace, with its tokens and role bindings.

    Raises Conflict while it still has deployments: deleting those is a decision of
    its own (it ends their API keys), so it is never a side effect.
    """
    workspace = get_workspace(db, org_id, ws_id)
    authorize(principal, Permission.WORKSPACE_DELETE, workspace_entity(workspace))
    count = db.scalar(select(func.count()).where(Deployment.workspace_id == ws_id)) or 0
    if count:
        raise Conflict(
            f"workspace {ws_id} still has {count} deployment(s): delete them first "
            "(`keyplane deployment delete`)"
        )
    db.delete(workspace)
    credentials_changed(db)
    db.commit()


def list_deployments(
    db: Session, principal: Principal, org_id: str, page: PageParams, workspace_id: str | None
) -> tuple[list[Deployment], int]:
    authorize(principal, None, Entity.organization(org_id))
    query = select(Deployment).where(Deployment.organization_id == org_id)
    if workspace_id:
        read_workspace(db, principal, org_id, workspace_id)
        query = query.where(Deployment.workspace_id == workspace_id)
    rows = db.scalars(query).all()
    visible = [d for d in rows if can(principal, Permission.DEPLOYMENT_READ, deployment_entity(d))]
    return page_of_list(visible, page, SORT_KEYS)


def create_deployment(
    db: Session, principal: Principal, org_id: str, data: schemas.DeploymentCreate
) -> Deployment:
    workspace = get_workspace(db, org_id, data.workspace_id)
    authorize(principal, Permission.DEPLOYMENT_CREATE, workspace_entity(workspace))
    deployment = Deployment(
        organization_id=org_id,
        workspace_id=workspace.id,
        name=data.name,
        description=data.description,
        is_cicd_enforced=data.is_cicd_enforced,
    )
    db.add(deployment)
    _commit_unique(db, f"a deployment named {data.name!r} already exists in this workspace")
    return deployment


def read_deployment(db: Session, principal: Principal, org_id: str, dep_id: str) -> Deployment:
    deployment = get_deployment(db, org_id, dep_id)
    authorize(principal, Permission.DEPLOYMENT_READ, deployment_entity(deployment))
    return deployment


def update_deployment(
    db: Session, principal: Principal, org_id: str, dep_id: str, change: schemas.DeploymentUpdate
) -> Deployment:
    deployment = get_deployment(db, org_id, dep_id)
    authorize(principal, Permission.DEPLOYMENT_UPDATE, deployment_entity(deployment))
    _apply(deployment, change)
    _commit_unique(db, f"a deployment named {change.name!r} already exists in this workspace")
    return deployment


def delete_deployment(db: Session, principal: Principal, org_id: str, dep_id: str) -> None:
    """Delete a deployment; its tokens, keys and role bindings go with it, at once."""
    deployment = get_deployment(db, org_id, dep_id)
    authorize(principal, Permission.DEPLOYMENT_DELETE, deployment_entity(deployment))
    db.delete(deployment)
    credentials_changed(db)
    db.commit()


def _apply(row: object, change: Any) -> None:
    for field, value in change.model_dump(exclude_unset=True).items():
        if value is not None:
            setattr(row, field, value)


def _commit_unique(db: Session, message: str) -> None:
    try:
        db.commit()
    except IntegrityError as error:
        db.rollback()
        raise Conflict(message) from error
