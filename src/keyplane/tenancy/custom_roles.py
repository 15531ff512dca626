"""Custom deployment roles: named subsets of deployment permissions, per organization."""

from __future__ import annotations

from typing import Any

from sqlalchemy import SQLColumnExpression, func, select
from sqlalchemy.orm import Session

from keyplane.auth.principal import Principal
from keyplane.db.models import CustomRole, RoleBinding, WorkloadIdentity
from keyplane.db.paging import PageParams, page_of_query
from keyplane.db.unit import DELETE_ROW, flush_unique
from keyplane.domain.access import Entity, authorize
from keyplane.domain.errors import Conflict, InvalidInput, NotFound
from keyplane.domain.roles import (
    BUILT_IN_ROLES,
    DEPLOYMENT_PERMISSIONS,
    Level,
    Permission,
    deployment_permissions,
    granted_by,
    in_table_order,
)
from keyplane.tenancy import members_schemas as schemas

SORT_COLUMNS: dict[str, SQLColumnExpression[Any]] = {
    "name": CustomRole.name,
    "createdAt": CustomRole.created_at,
}


def list_custom_roles(
    db: Session, principal: Principal, org_id: str, page: PageParams
) -> tuple[list[CustomRole], int]:
    authorize(principal, None, Entity.organization(org_id))
    query = select(CustomRole).where(CustomRole.organization_id == org_id)
    return page_of_query(db, query, page, SORT_COLUMNS, tiebreak=CustomRole.id)


def create_custom_role(
    db: Session, principal: Principal, org_id: str, data: schemas.CustomRoleCreate
) -> CustomRole:
    authorize(principal, Permission.ORGANIZATION_UPDATE, Entity.organization(org_id))
    if data.name.upper() in BUILT_IN_ROLES:
        raise InvalidInput(
            f"{data.name} is a built-in role name", field_errors={"name": "reserved"}
        )
    unknown = sorted(set(data.permissions) - {p.value for p in DEPLOYMENT_PERMISSIONS})
    if unknown:
        raise InvalidInput(
            f"{len(unknown)} unknown or not a deployment permission; a custom role may hold "
            f"{', '.join(sorted(p.value for p in DEPLOYMENT_PERMISSIONS))}",
            field_errors={"permissions": "unknown or not a deployment permission"},
        )
    permissions = sorted(set(data.permissions) | {Permission.DEPLOYMENT_READ.value})
    role = CustomRole(
        organization_id=org_id,
        name=data.name,
        description=data.description,
        permissions=permissions,
    )
    db.add(role)
    flush_unique(db, f"a custom role named {data.name!r} already exists")
    return role


def delete_custom_role(db: Session, principal: Principal, org_id: str, role_id: str) -> None:
    """Delete a custom role; Conflict while any user, token or workload identity holds
    it (a role made later under the same name would otherwise hand its rights to them)."""
    authorize(principal, Permission.ORGANIZATION_UPDATE, Entity.organization(org_id))
    role = db.get(CustomRole, role_id, with_for_update=DELETE_ROW)  # waits for grants of it
    if role is None or role.organization_id != org_id:
        raise NotFound(f"custom role {role_id} not found")
    bindings = select(func.count()).where(
        RoleBinding.organization_id == org_id,
        RoleBinding.level == Level.DEPLOYMENT.value,
        RoleBinding.role == role.name,
    )
    identities = select(func.count()).where(
        WorkloadIdentity.organization_id == org_id,
        WorkloadIdentity.scope == Level.DEPLOYMENT.value,
        WorkloadIdentity.role == role.name,
    )
    holders = (db.scalar(bindings) or 0) + (db.scalar(identities) or 0)
    if holders:
        raise Conflict(f"custom role {role.name} is held {holders} time(s): replace it first")
    db.delete(role)
    db.flush()


def role_catalogue(db: Session, principal: Principal, org_id: str) -> list[schemas.RoleInfo]:
    """Every role that can be granted in the organization, with its permissions."""
    authorize(principal, None, Entity.organization(org_id))
    found = [
        schemas.RoleInfo(role=role, entity_type=level, permissions=_sorted(granted_by(level, role)))
        for role, level in BUILT_IN_ROLES.items()
    ]
    for row in db.scalars(select(CustomRole).where(CustomRole.organization_id == org_id)):
        custom = frozenset(Permission(p) for p in row.permissions)
        found.append(
            schemas.RoleInfo(
                role=row.name,
                entity_type=Level.DEPLOYMENT,
                custom=True,
                permissions=_sorted(deployment_permissions(row.name, custom)),
            )
        )
    return found


def _sorted(permissions: frozenset[Permission]) -> list[str]:
    return [p.value for p in in_table_order(permissions)]
