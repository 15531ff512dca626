"""Shared pieces of the console pages: the signed-in principal and what an organization shows."""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import Request
from sqlalchemy.orm import Session

from keyplane.auth.principal import Principal
from keyplane.db.models import Deployment, Organization, Workspace
from keyplane.db.paging import PageParams
from keyplane.domain.access import Entity, can
from keyplane.domain.roles import Level, Permission
from keyplane.tenancy import custom_roles, service
from keyplane.web.pages import require_signed_in

EVERYTHING = PageParams(offset=0, limit=1000, sorts=["name:asc"])


@dataclass
class OrgView:
    """What every page of one organization shows: its name, places and roles."""

    org: Organization
    workspaces: list[Workspace]
    deployments: list[Deployment]
    roles: dict[str, list[str]]  # level -> role names
    can_manage_users: bool

    def workspace_name(self, ws_id: str | None) -> str:
        return next((w.name for w in self.workspaces if w.id == ws_id), ws_id or "")

    def deployment_name(self, dep_id: str | None) -> str:
        return next((d.name for d in self.deployments if d.id == dep_id), dep_id or "")


def principal_of(request: Request, db: Session) -> Principal:
    return require_signed_in(request, db).principal


def org_view(db: Session, principal: Principal, org_id: str) -> OrgView:
    org = service.read_organization(db, principal, org_id)
    workspaces, _ = service.list_workspaces(db, principal, org_id, EVERYTHING)
    deployments, _ = service.list_deployments(db, principal, org_id, EVERYTHING, None)
    roles: dict[str, list[str]] = {level.value: [] for level in Level}
    for info in custom_roles.role_catalogue(db, principal, org_id):
        roles[info.entity_type].append(info.role)
    manage = can(principal, Permission.ORGANIZATION_USERS_MANAGE, Entity.organization(org.id))
    return OrgView(org, list(workspaces), list(deployments), roles, manage)
