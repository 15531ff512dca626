"""Roles and permissions (DESIGN §2), as data.

Everything that decides or describes access reads :data:`PERMISSIONS`: the
authorization check, the API docs, the CLI's ``roles`` listing and the tests that
generate the authorization matrix.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from functools import cache


class Level(StrEnum):
    """The kind of entity a role is held on."""

    ORGANIZATION = "ORGANIZATION"
    WORKSPACE = "WORKSPACE"
    DEPLOYMENT = "DEPLOYMENT"


class Permission(StrEnum):
    ORGANIZATION_READ = "organization:read"
    ORGANIZATION_UPDATE = "organization:update"
    ORGANIZATION_BILLING_READ = "organization.billing:read"
    ORGANIZATION_BILLING_UPDATE = "organization.billing:update"
    ORGANIZATION_USERS_MANAGE = "organization.users:manage"
    ORGANIZATION_TOKENS_MANAGE = "organization.tokens:manage"
    ORGANIZATION_AUDIT_READ = "organization.audit:read"
    ORGANIZATION_SSO_MANAGE = "organization.sso:manage"
    WORKSPACE_CREATE = "workspace:create"
    WORKSPACE_READ = "workspace:read"
    WORKSPACE_UPDATE = "workspace:update"
    WORKSPACE_DELETE = "workspace:delete"
    WORKSPACE_USERS_MANAGE = "workspace.users:manage"
    WORKSPACE_TOKENS_MANAGE = "workspace.tokens:manage"
    DEPLOYMENT_READ = "deployment:read"
    DEPLOYMENT_DEPLOY = "deployment:deploy"
    DEPLOYMENT_ENV_READ = "deployment.env:read"
    DEPLOYMENT_CREATE = "deployment:create"
    DEPLOYMENT_DELETE = "deployment:delete"
    DEPLOYMENT_UPDATE = "deployment:update"
    DEPLOYMENT_TOKENS_MANAGE = "deployment.tokens:manage"


# Ascending: each role holds every permission of the roles before it.
ORGANIZATION_ROLES = ("ORGANIZATION_MEMBER", "ORGANIZATION_BILLING_ADMIN", "ORGANIZATION_OWNER")
WORKSPACE_ROLES = (
    "WORKSPACE_ACCESSOR",
    "WORKSPACE_MEMBER",
    "WORKSPACE_AUTHOR",
    "WORKSPACE_OPERATOR",
    "WORKSPACE_OWNER",
)
DEPLOYMENT_ADMIN = "DEPLOYMENT_ADMIN"
BUILT_IN_ROLES = {
    **{role: Level.ORGANIZATION for role in ORGANIZATION_ROLES},
    **{role: Level.WORKSPACE for role in WORKSPACE_ROLES},
    DEPLOYMENT_ADMIN: Level.DEPLOYMENT,
}


class DeploymentGrant(StrEnum):
    ANY = "any deployment role"  # every deployment role holds it, custom ones included
    ADMIN = "DEPLOYMENT_ADMIN"  # DEPLOYMENT_ADMIN holds it; a custom role may


@dataclass(frozen=True)
class Rule:
    """The minimum role at each level that holds a permission; None: not at that level."""

    organization: str | None = None
    workspace: str | None = None
    deployment: DeploymentGrant | None = None


P = Permission
PERMISSIONS: dict[Permission, Rule] = {
    P.ORGANIZATION_READ: Rule(organization="ORGANIZATION_MEMBER"),
    P.ORGANIZATION_UPDATE: Rule(organization="ORGANIZATION_OWNER"),
    P.ORGANIZATION_BILLING_READ: Rule(organization="ORGANIZATION_BILLING_ADMIN"),
    P.ORGANIZATION_BILLING_UPDATE: Rule(organization="ORGANIZATION_BILLING_ADMIN"),
    P.ORGANIZATION_USERS_MANAGE: Rule(organization="ORGANIZATION_OWNER"),
    P.ORGANIZATION_TOKENS_MANAGE: Rule(organization="ORGANIZATION_OWNER"),
    P.ORGANIZATION_AUDIT_READ: Rule(organization="ORGANIZATION_OWNER"),
    P.ORGANIZATION_SSO_MANAGE: Rule(organization="ORGANIZATION_OWNER"),
    P.WORKSPACE_CREATE: Rule(organization="ORGANIZATION_OWNER"),
    P.WORKSPACE_READ: Rule(workspace="WORKSPACE_ACCESSOR"),
    P.WORKSPACE_UPDATE: Rule(workspace="WORKSPACE_OWNER"),
    P.WORKSPACE_DELETE: Rule(workspace="WORKSPACE_OWNER"),
    P.WORKSPACE_USERS_MANAGE: Rule(workspace="WORKSPACE_OWNER"),
    P.WORKSPACE_TOKENS_MANAGE: Rule(workspace="WORKSPACE_OWNER"),
    P.DEPLOYMENT_READ: Rule(workspace="WORKSPACE_MEMBER", deployment=DeploymentGrant.ANY),
    P.DEPLOYMENT_DEPLOY: Rule(workspace="WORKSPACE_AUTHOR", deployment=DeploymentGrant.ADMIN),
    P.DEPLOYMENT_ENV_READ: Rule(workspace="WORKSPACE_AUTHOR", deployment=DeploymentGrant.ADMIN),
    P.DEPLOYMENT_CREATE: Rule(workspace="WORKSPACE_OPERATOR"),
    P.DEPLOYMENT_DELETE: Rule(workspace="WORKSPACE_OPERATOR"),
    P.DEPLOYMENT_UPDATE: Rule(workspace="WORKSPACE_OPERATOR", deployment=DeploymentGrant.ADMIN),
    P.DEPLOYMENT_TOKENS_MANAGE: Rule(workspace="WORKSPACE_OWNER", deployment=DeploymentGrant.ADMIN),
}

DEPLOYMENT_PERMISSIONS = frozenset(p for p, rule in PERMISSIONS.items() if rule.deployment)
"""What a custom deployment role may hold (it always holds deployment:read)."""

# Which permission makes an entity visible at all; without it the entity answers 404.
READ_PERMISSION = {
    Level.ORGANIZATION: P.ORGANIZATION_READ,
    Level.WORKSPACE: P.WORKSPACE_READ,
    Level.DEPLOYMENT: P.DEPLOYMENT_READ,
}


def rank(role: str) -> int:
    """Position of a built-in organization or workspace role in its order."""
    order = ORGANIZATION_ROLES if role.startswith("ORGANIZATION_") else WORKSPACE_ROLES
    return order.index(role)


@cache
def organization_permissions(role: str) -> frozenset[Permission]:
    return frozenset(
        p
        for p, rule in PERMISSIONS.items()
        if rule.organization and rank(role) >= rank(rule.organization)
    )


@cache
def workspace_permissions(role: str) -> frozenset[Permission]:
    return frozenset(
        p
        for p, rule in PERMISSIONS.items()
        if rule.workspace and rank(role) >= rank(rule.workspace)
    )


def deployment_permissions(
    role: str, custom: frozenset[Permission] | None
) -> frozenset[Permission]:
    """Permissions of a deployment role: DEPLOYMENT_ADMIN, or a custom role's own set."""
    if role == DEPLOYMENT_ADMIN:
        return DEPLOYMENT_PERMISSIONS
    return (custom or frozenset()) | {P.DEPLOYMENT_READ}


def level_of(role: str) -> Level | None:
    """The level of a built-in role; None for a name that may be a custom deployment role."""
    return BUILT_IN_ROLES.get(role)
