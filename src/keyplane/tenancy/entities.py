"""Find organizations, workspaces and deployments by id, answering 404 across tenants."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from keyplane.db.models import Deployment, Organization, Workspace
from keyplane.db.unit import RowLock
from keyplane.domain.access import Entity
from keyplane.domain.errors import InvalidInput, NotFound
from keyplane.domain.roles import Level


def organization_entity(org: Organization) -> Entity:
    return Entity.organization(org.id)


def workspace_entity(workspace: Workspace) -> Entity:
    return Entity(Level.WORKSPACE, workspace.id, workspace.organization_id, workspace.id)


def deployment_entity(deployment: Deployment) -> Entity:
    return Entity(
        Level.DEPLOYMENT, deployment.id, deployment.organization_id, deployment.workspace_id
    )


def get_organization(db: Session, org_id: str) -> Organization:
    org = db.get(Organization, org_id)
    if org is None:
        raise NotFound(f"organization {org_id} not found")
    return org


def organization_named(db: Session, id_or_name: str) -> Organization:
    """The organization of this id or, failing that, this name, for an operator's
    command on the database; NotFound otherwise."""
    org = db.get(Organization, id_or_name) or db.scalar(
        select(Organization).where(Organization.name == id_or_name)
    )
    if org is None:
        raise NotFound(f"no organization with id or name {id_or_name!r}")
    return org


def get_workspace(
    db: Session, org_id: str, workspace_id: str, lock: RowLock | None = None
) -> Workspace:
    """The workspace, locked with ``lock`` (one of ``keyplane.db.unit``'s) if given."""
    workspace = db.get(Workspace, workspace_id, with_for_update=lock)
    if workspace is None or workspace.organization_id != org_id:
        raise NotFound(f"workspace {workspace_id} not found")
    return workspace


def get_deployment(
    db: Session, org_id: str, deployment_id: str, lock: RowLock | None = None
) -> Deployment:
    """The deployment, locked with ``lock`` (one of ``keyplane.db.unit``'s) if given."""
    deployment = db.get(Deployment, deployment_id, with_for_update=lock)
    if deployment is None or deployment.organization_id != org_id:
        raise NotFound(f"deployment {deployment_id} not found")
    return deployment


def get_entity(db: Session, org_id: str, level: Level, entity_id: str) -> Entity:
    """The entity of any level inside one organization; NotFound otherwise."""
    if level is Level.ORGANIZATION:
        if entity_id != org_id:
            raise NotFound(f"organization {entity_id} not found")
        return organization_entity(get_organization(db, org_id))
    if level is Level.WORKSPACE:
        return workspace_entity(get_workspace(db, org_id, entity_id))
    return deployment_entity(get_deployment(db, org_id, entity_id))


def scope_entity(
    db: Session, org_id: str, scope: Level, entity_id: str | None, what: str
) -> Entity:
    """The entity a credential of ``scope`` is made for (``what``: "token", say).

    ``entityId`` may be left out for the organization itself; InvalidInput when it is
    left out (or empty) for a narrower scope, NotFound as :func:`get_entity`.
    """
    entity_id = entity_id or None
    if scope is Level.ORGANIZATION and entity_id in (None, org_id):
        return get_entity(db, org_id, Level.ORGANIZATION, org_id)
    if entity_id is None:
        raise InvalidInput(
            f"entityId is required for a {scope.value.lower()} {what}",
            field_errors={"entityId": "required for this scope"},
        )
    return get_entity(db, org_id, scope, entity_id)
