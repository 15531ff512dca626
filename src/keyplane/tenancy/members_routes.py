"""HTTP routes for members, workspace users, custom roles and the role catalogue.

Invitations, which mail a link, belong to the identity area (``keyplane.identity``).
"""

from __future__ import annotations

from fastapi import Request, Response

from keyplane.audit import notes as audit_notes
from keyplane.domain.roles import Level
from keyplane.http.deps import CurrentPrincipal, DbSession, Paging
from keyplane.http.routing import APIRouter
from keyplane.tenancy import custom_roles, members
from keyplane.tenancy import members_schemas as schemas
from keyplane.tenancy.granting import described

router = APIRouter(prefix="/v1/organizations/{orgId}", tags=["members"])
WS_USERS = "/workspaces/{workspaceId}/users"


def user_out(member: members.Member) -> schemas.UserOut:
    by_level = {level: [b for b in member.bindings if b.level == level] for level in Level}
    return schemas.UserOut(
        id=member.user.id,
        email=member.user.email,
        full_name=member.user.full_name,
        organization_role=member.role_at(Level.ORGANIZATION),
        workspace_roles=[
            schemas.WorkspaceRoleOut(workspace_id=b.entity_id, role=b.role)
            for b in by_level[Level.WORKSPACE]
        ],
        deployment_roles=[
            schemas.DeploymentRoleOut(deployment_id=b.entity_id, role=b.role)
            for b in by_level[Level.DEPLOYMENT]
        ],
        created_at=member.user.created_at,
    )


def ws_user_out(member: members.Member, role: str) -> schemas.WorkspaceUserOut:
    user = member.user
    return schemas.WorkspaceUserOut(
        id=user.id, email=user.email, full_name=user.full_name, role=role
    )


@router.get("/users", response_model=schemas.UserList)
def list_users(orgId: str, db: DbSession, principal: CurrentPrincipal, page: Paging) -> object:
    rows, total = members.list_users(db, principal, orgId, page)
    return schemas.UserList(
        users=[user_out(m) for m in rows], offset=page.offset, limit=page.limit, total_count=total
    )


@router.get("/users/{userId}", response_model=schemas.UserOut)
def read_user(orgId: str, userId: str, db: DbSession, principal: CurrentPrincipal) -> object:
    return user_out(members.get_member(db, principal, orgId, userId))


@router.post("/users/{userId}/roles", response_model=schemas.UserOut)
def replace_user_roles(
    orgId: str,
    userId: str,
    body: schemas.UserRolesUpdate,
    request: Request,
    db: DbSession,
    principal: CurrentPrincipal,
) -> object:
    member, previous = members.replace_user_roles(db, principal, orgId, userId, body)
    roles = described(member.bindings)
    audit_notes.detail(request, {"previousRoles": previous, "roles": roles})
    return user_out(member)


@router.delete("/users/{userId}", status_code=204)
def remove_user(orgId: str, userId: str, db: DbSession, principal: CurrentPrincipal) -> Response:
    members.remove_user(db, principal, orgId, userId)
    return Response(status_code=204)


@router.get(WS_USERS, response_model=schemas.WorkspaceUserList)
def list_workspace_users(
    orgId: str, workspaceId: str, db: DbSession, principal: CurrentPrincipal, page: Paging
) -> object:
    rows, total = members.list_workspace_users(db, principal, orgId, workspaceId, page)
    return schemas.WorkspaceUserList(
        users=[ws_user_out(m, role) for m, role in rows],
        offset=page.offset,
        limit=page.limit,
        total_count=total,
    )


@router.post(WS_USERS, response_model=schemas.WorkspaceUserOut, status_code=201)
def add_workspace_user(
    orgId: str,
    workspaceId: str,
    body: schemas.WorkspaceUserAdd,
    db: DbSession,
    principal: CurrentPrincipal,
) -> object:
    member, role = members.set_workspace_role(
        db, principal, orgId, workspaceId, body.email, body.role, adding=True
    )
    return ws_user_out(member, role)


@router.post(WS_USERS + "/{userId}", response_model=schemas.WorkspaceUserOut)
def update_workspace_user(
    orgId: str,
    workspaceId: str,
    userId: str,
    body: schemas.WorkspaceUserUpdate,
    db: DbSession,
    principal: CurrentPrincipal,
) -> object:
    member, role = members.set_workspace_role(
        db, principal, orgId, workspaceId, userId, body.role, adding=False
    )
    return ws_user_out(member, role)


@router.delete(WS_USERS + "/{userId}", status_code=204)
def remove_workspace_user(
    orgId: str, workspaceId: str, userId: str, db: DbSession, principal: CurrentPrincipal
) -> Response:
    members.remove_workspace_user(db, principal, orgId, workspaceId, userId)
    return Response(status_code=204)


@router.get("/roles", response_model=schemas.RoleCatalogue)
def list_roles(orgId: str, db: DbSession, principal: CurrentPrincipal) -> object:
    return schemas.RoleCatalogue(roles=custom_roles.role_catalogue(db, principal, orgId))


@router.get("/custom-roles", response_model=schemas.CustomRoleList)
def list_custom_roles(
    orgId: str, db: DbSession, principal: CurrentPrincipal, page: Paging
) -> object:
    rows, total = custom_roles.list_custom_roles(db, principal, orgId, page)
    return schemas.CustomRoleList(
        roles=rows, offset=page.offset, limit=page.limit, total_count=total
    )


@router.post("/custom-roles", response_model=schemas.CustomRoleOut, status_code=201)
def create_custom_role(
    orgId: str, body: schemas.CustomRoleCreate, db: DbSession, principal: CurrentPrincipal
) -> object:
    return custom_roles.create_custom_role(db, principal, orgId, body)


@router.delete("/custom-roles/{roleId}", status_code=204)
def delete_custom_role(
    orgId: str, roleId: str, db: DbSession, principal: CurrentPrincipal
) -> Response:
    custom_roles.delete_custom_role(db, principal, orgId, roleId)
    return Response(status_code=204)
