"""Use cases for organizations, workspaces and deployments."""

from __future__ import annotations

from typing import Any

from sqlalchemy import SQLColumnExpression, func, select
from sqlalchemy.orm import Session

from keyplane.auth.principal import Principal
from keyplane.db.models import Deployment, Organization, Workspace
from keyplane.db.paging import PageParams, page_of_query
from keyplane.db.unit import (
    CHECK_AND_CHANGE,
    DELETE_ROW,
    KEEP_ROW,
    credentials_changed,
    flush_unique,
)
from keyplane.domain.access import Entity, authorize
from keyplane.domain.errors import Conflict
from keyplane.domain.roles import Permission
from keyplane.tenancy import schemas
from keyplane.tenancy.ended import Ended, credentials_of
from keyplane.tenancy.entities import (
    deployment_entity,
    get_deployment,
    get_organization,
    get_workspace,
    organization_entity,
    workspace_entity,
)
from keyplane.tenancy.visibility import where_deployments, where_workspaces


def _sort_columns(
    model: type[Organization | Workspace | Deployment],
) -> dict[str, SQLColumnExpression[Any]]:
    return {
        "name": func.lower(model.name),  # case-insensitive, as people read names
        "createdAt": model.created_at,
        "updatedAt": model.updated_at,
    }


ORGANIZATION_SORTS = _sort_columns(Organization)
WORKSPACE_SORTS = _sort_columns(Workspace)
DEPLOYMENT_SORTS = _sort_columns(Deployment)


def list_organizations(
    db: Session, principal: Principal, page: PageParams
) -> tuple[list[Organization], int]:
    """The organizations the principal holds any role in."""
    ids = sorted(principal.grants.organization_ids())
    query = select(Organization).where(Organization.id.in_(ids))
    return page_of_query(db, query, page, ORGANIZATION_SORTS, tiebreak=Organization.id)


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
    db.flush()
    return org


def list_workspaces(
    db: Session, principal: Principal, org_id: str, page: PageParams
) -> tuple[list[Workspace], int]:
    """The organization's workspaces that the principal can see."""
    authorize(principal, None, Entity.organization(org_id))
    query = select(Workspace).where(
        Workspace.organization_id == org_id,
        where_workspaces(principal, org_id, Workspace.id),
    )
    return page_of_query(db, query, page, WORKSPACE_SORTS, tiebreak=Workspace.id)


def create_workspace(
    db: Session, principal: Principal, org_id: str, data: schemas.WorkspaceCreate
) -> Workspace:
    authorize(principal, Permission.WORKSPACE_CREATE, Entity.organization(org_id))
    workspace = Workspace(organization_id=org_id, name=data.name, description=data.description)
    db.add(workspace)
    flush_unique(db, f"a workspace named {data.name!r} already exists in this organization")
    return workspace


def read_workspace(db: Session, principal: Principal, org_id: str, ws_id: str) -> Workspace:
    workspace = get_workspace(db, org_id, ws_id)
    authorize(principal, Permission.WORKSPACE_READ, workspace_entity(workspace))
    return workspace


def update_workspace(
    db: Session, principal: Principal, org_id: str, ws_id: str, change: schemas.WorkspaceUpdate
) -> Workspace:
    workspace = get_workspace(db, org_id, ws_id, lock=CHECK_AND_CHANGE)
    authorize(principal, Permission.WORKSPACE_UPDATE, workspace_entity(workspace))
    _apply(workspace, change)
    flush_unique(db, f"a workspace named {change.name!r} already exists in this organization")
    return workspace


def delete_workspace(db: Session, principal: Principal, org_id: str, ws_id: str) -> list[Ended]:
    """Delete an empty workspace, with its tokens, workload identities and role
    bindings; returns the credentials that went with it.

    Raises Conflict while it still has deployments: deleting those is a decision of
    its own (it ends their API keys), so it is never a side effect.
    """
    # Locked first: a deployment being created here meanwhile keeps the row (KEEP_ROW),
    # so it is either counted below or refused, never deleted with the workspace.
    workspace = get_workspace(db, org_id, ws_id, lock=DELETE_ROW)
    authorize(principal, Permission.WORKSPACE_DELETE, workspace_entity(workspace))
    count = db.scalar(select(func.count()).where(Deployment.workspace_id == ws_id)) or 0
    if count:
        raise Conflict(
            f"workspace {ws_id} still has {count} deployment(s): delete them first "
            "(`keyplane deployment delete`)"
        )
    ended = credentials_of(db, "workspace_id", ws_id)
    db.delete(workspace)
    credentials_changed(db)
    db.flush()
    return ended


def list_deployments(
    db: Session, principal: Principal, org_id: str, page: PageParams, workspace_id: str | None
) -> tuple[list[Deployment], int]:
    """The organization's (or one workspace's) deployments that the principal can see."""
    authorize(principal, None, Entity.organization(org_id))
    query = select(Deployment).where(
        Deployment.organization_id == org_id,
        where_deployments(principal, org_id, Deployment.id, Deployment.workspace_id),
    )
    if workspace_id:
        read_workspace(db, principal, org_id, workspace_id)
        query = query.where(Deployment.workspace_id == workspace_id)
    return page_of_query(db, query, page, DEPLOYMENT_SORTS, tiebreak=Deployment.id)


def create_deployment(
    db: Session, principal: Principal, org_id: str, data: schemas.DeploymentCreate
) -> Deployment:
    workspace = get_workspace(db, org_id, data.workspace_id, lock=KEEP_ROW)
    authorize(principal, Permission.DEPLOYMENT_CREATE, workspace_entity(workspace))
    deployment = Deployment(
        organization_id=org_id,
        workspace_id=workspace.id,
        name=data.name,
        description=data.description,
        is_cicd_enforced=data.is_cicd_enforced,
    )
    db.add(deployment)
    flush_unique(db, f"a deployment named {data.name!r} already exists in this workspace")
    return deployment


def read_deployment(db: Session, principal: Principal, org_id: str, dep_id: str) -> Deployment:
    deployment = get_deployment(db, org_id, dep_id)
    authorize(principal, Permission.DEPLOYMENT_READ, deployment_entity(deployment))
    return deployment


def update_deployment(
    db: Session, principal: Principal, org_id: str, dep_id: str, change: schemas.DeploymentUpdate
) -> Deployment:
    deployment = get_deployment(db, org_id, dep_id, lock=CHECK_AND_CHANGE)
    authorize(principal, Permission.DEPLOYMENT_UPDATE, deployment_entity(deployment))
    _apply(deployment, change)
    flush_unique(db, f"a deployment named {change.name!r} already exists in this workspace")
    return deployment


def delete_deployment(db: Session, principal: Principal, org_id: str, dep_id: str) -> list[Ended]:
    """Delete a deployment; its tokens, keys, workload identities and role bindings go
    with it, at once. Returns the credentials that went."""
    deployment = get_deployment(db, org_id, dep_id, lock=DELETE_ROW)
    authorize(principal, Permission.DEPLOYMENT_DELETE, deployment_entity(deployment))
    ended = credentials_of(db, "deployment_id", dep_id)
    db.delete(deployment)
    credentials_changed(db)
    db.flush()
    return ended


def _apply(row: object, change: Any) -> None:
    for field, value in change.model_dump(exclude_unset=True).items():
        if value is not None:
            setattr(row, field, value)
