"""API models for members, their roles, invitations and custom roles."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import EmailStr, Field, StringConstraints

from keyplane.domain.roles import BUILT_IN_ROLES, DEPLOYMENT_PERMISSIONS, Role
from keyplane.http.schemas import ApiModel, Page

# A built-in role, or (on a deployment) a custom deployment role's name, which each
# organization chooses: the schema lists the first and allows any string for the second.
RoleName = Annotated[
    str,
    StringConstraints(min_length=1, max_length=64),
    Field(
        description="a built-in role, or on a deployment a custom deployment role's name",
        json_schema_extra={"anyOf": [{"enum": sorted(BUILT_IN_ROLES)}, {"type": "string"}]},
    ),
]


class WorkspaceRoleIn(ApiModel):
    workspace_id: str = Field(min_length=1, max_length=32)
    role: RoleName


class DeploymentRoleIn(ApiModel):
    deployment_id: str = Field(min_length=1, max_length=32)
    role: RoleName


class UserRolesUpdate(ApiModel):
    """Replaces all of a member's roles in the organization."""

    organization_role: RoleName
    workspace_roles: list[WorkspaceRoleIn] = Field(default_factory=list, max_length=500)
    deployment_roles: list[DeploymentRoleIn] = Field(default_factory=list, max_length=500)


class WorkspaceRoleOut(ApiModel):
    workspace_id: str
    role: str


class DeploymentRoleOut(ApiModel):
    deployment_id: str
    role: str


class UserOut(ApiModel):
    id: str
    email: str
    full_name: str
    organization_role: str | None
    workspace_roles: list[WorkspaceRoleOut]
    deployment_roles: list[DeploymentRoleOut]
    created_at: datetime


class UserList(Page[UserOut]):
    users: list[UserOut]


class InviteCreate(ApiModel):
    email: EmailStr
    role: RoleName = Role.ORGANIZATION_MEMBER.value


class WorkspaceUserAdd(ApiModel):
    email: EmailStr
    role: RoleName = Role.WORKSPACE_MEMBER.value


class WorkspaceUserUpdate(ApiModel):
    role: RoleName


class WorkspaceUserOut(ApiModel):
    id: str
    email: str
    full_name: str
    role: str


class WorkspaceUserList(Page[WorkspaceUserOut]):
    users: list[WorkspaceUserOut]


# Checked by the use case, which names the permissions a custom role may hold.
DeploymentPermissionName = Annotated[
    str,
    Field(json_schema_extra={"enum": sorted(p.value for p in DEPLOYMENT_PERMISSIONS)}),
]
CustomRoleName = Annotated[
    str, StringConstraints(strip_whitespace=True, pattern=r"^[A-Za-z][A-Za-z0-9_ -]{0,63}$")
]


class CustomRoleCreate(ApiModel):
    name: CustomRoleName
    description: Annotated[str, StringConstraints(max_length=2000)] = ""
    permissions: list[DeploymentPermissionName] = Field(min_length=1, max_length=50)


class CustomRoleOut(ApiModel):
    id: str
    name: str
    description: str
    permissions: list[str]
    created_at: datetime


class CustomRoleList(Page[CustomRoleOut]):
    roles: list[CustomRoleOut]


class RoleInfo(ApiModel):
    role: str
    entity_type: str
    permissions: list[str]
    custom: bool = False


class RoleCatalogue(ApiModel):
    roles: list[RoleInfo]
