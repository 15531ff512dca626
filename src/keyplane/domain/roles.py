"""Roles and permissions (DESIGN §2), as data.

The built-in roles and their order (:class:`Role`, :data:`ROLE_ORDER`), the minimum
role holding each permission (:data:`PERMISSIONS`) and the roles one role implies
elsewhere (:data:`IMPLICATIONS`) are written here once. Everything that decides or
describes access reads them: the authorization check (:mod:`keyplane.domain.access`),
the API docs, the CLI's ``roles`` listing and the tests that generate the
authorization matrix. No other module spells a role's name.
"""

from __future__ import annotations

from collections.abc import Iterable
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


class Role(StrEnum):
    """The built-in roles. A custom deployment role is a name of the organization's own
    (a plain ``str``), so role fields hold ``Role | str``; compare them with these."""

    ORGANIZATION_MEMBER = "ORGANIZATION_MEMBER"
    ORGANIZATION_BILLING_ADMIN = "ORGANIZATION_BILLING_ADMIN"
    ORGANIZATION_OWNER = "ORGANIZATION_OWNER"
    WORKSPACE_ACCESSOR = "WORKSPACE_ACCESSOR"
    WORKSPACE_MEMBER = "WORKSPACE_MEMBER"
    WORKSPACE_AUTHOR = "WORKSPACE_AUTHOR"
    WORKSPACE_OPERATOR = "WORKSPACE_OPERATOR"
    WORKSPACE_OWNER = "WORKSPACE_OWNER"
    DEPLOYMENT_ADMIN = "DEPLOYMENT_ADMIN"

    @property
    def level(self) -> Level:
        return BUILT_IN_ROLES[self]

    @property
    def rank(self) -> int:
        """Position in its level's order: a higher rank holds what every lower one does."""
        return ROLE_ORDER[self.level].index(self)


R = Role
# Ascending: each role holds every permission of the roles before it.
ROLE_ORDER: dict[Level, tuple[Role, ...]] = {
    Level.ORGANIZATION: (R.ORGANIZATION_MEMBER, R.ORGANIZATION_BILLING_ADMIN, R.ORGANIZATION_OWNER),
    Level.WORKSPACE: (
        R.WORKSPACE_ACCESSOR,
        R.WORKSPACE_MEMBER,
        R.WORKSPACE_AUTHOR,
        R.WORKSPACE_OPERATOR,
        R.WORKSPACE_OWNER,
    ),
    Level.DEPLOYMENT: (R.DEPLOYMENT_ADMIN,),
}
ORGANIZATION_ROLES = ROLE_ORDER[Level.ORGANIZATION]
WORKSPACE_ROLES = ROLE_ORDER[Level.WORKSPACE]
DEPLOYMENT_ADMIN = R.DEPLOYMENT_ADMIN
BUILT_IN_ROLES: dict[str, Level] = {
    role: level for level, order in ROLE_ORDER.items() for role in order
}


class Reach(StrEnum):
    """Where an implied role is held."""

    EVERY_WORKSPACE = "every workspace of the organization"
    OWN_WORKSPACE = "the workspace of the deployment"


@dataclass(frozen=True)
class Implication:
    """Holding ``held`` at ``level`` gives the workspace role ``gives`` where ``reach``
    says, with no role binding of its own (DESIGN §2)."""

    level: Level
    held: Role | None  # None: any role at that level, custom deployment roles included
    gives: Role
    reach: Reach

    def applies(self, level: Level, role: str) -> bool:
        return level is self.level and (self.held is None or role == self.held)


IMPLICATIONS = (
    Implication(Level.ORGANIZATION, R.ORGANIZATION_OWNER, R.WORKSPACE_OWNER, Reach.EVERY_WORKSPACE),
    Implication(Level.DEPLOYMENT, None, R.WORKSPACE_ACCESSOR, Reach.OWN_WORKSPACE),
)


def implied_in_every_workspace(level: Level, role: str) -> Role | None:
    """The workspace role that ``role`` gives in every workspace of its organization."""
    everywhere = (i for i in IMPLICATIONS if i.reach is Reach.EVERY_WORKSPACE)
    return next((i.gives for i in everywhere if i.applies(level, role)), None)


class DeploymentGrant(StrEnum):
    ANY = "any deployment role"  # every deployment role holds it, custom ones included
    ADMIN = "DEPLOYMENT_ADMIN"  # DEPLOYMENT_ADMIN holds it; a custom role may


@dataclass(frozen=True)
class Rule:
    """The minimum role at each level that holds a permission; None: not at that level."""

    organization: Role | None = None
    workspace: Role | None = None
    deployment: DeploymentGrant | None = None


P = Permission
PERMISSIONS: dict[Permission, Rule] = {
    P.ORGANIZATION_READ: Rule(organization=R.ORGANIZATION_MEMBER),
    P.ORGANIZATION_UPDATE: Rule(organization=R.ORGANIZATION_OWNER),
    P.ORGANIZATION_BILLING_READ: Rule(organization=R.ORGANIZATION_BILLING_ADMIN),
    P.ORGANIZATION_BILLING_UPDATE: Rule(organization=R.ORGANIZATION_BILLING_ADMIN),
    P.ORGANIZATION_USERS_MANAGE: Rule(organization=R.ORGANIZATION_OWNER),
    P.ORGANIZATION_TOKENS_MANAGE: Rule(organization=R.ORGANIZATION_OWNER),
    P.ORGANIZATION_AUDIT_READ: Rule(organization=R.ORGANIZATION_OWNER),
    P.ORGANIZATION_SSO_MANAGE: Rule(organization=R.ORGANIZATION_OWNER),
    P.WORKSPACE_CREATE: Rule(organization=R.ORGANIZATION_OWNER),
    P.WORKSPACE_READ: Rule(workspace=R.WORKSPACE_ACCESSOR),
    P.WORKSPACE_UPDATE: Rule(workspace=R.WORKSPACE_OWNER),
    P.WORKSPACE_DELETE: Rule(workspace=R.WORKSPACE_OWNER),
    P.WORKSPACE_USERS_MANAGE: Rule(workspace=R.WORKSPACE_OWNER),
    P.WORKSPACE_TOKENS_MANAGE: Rule(workspace=R.WORKSPACE_OWNER),
    P.DEPLOYMENT_READ: Rule(workspace=R.WORKSPACE_MEMBER, deployment=DeploymentGrant.ANY),
    P.DEPLOYMENT_DEPLOY: Rule(workspace=R.WORKSPACE_AUTHOR, deployment=DeploymentGrant.ADMIN),
    P.DEPLOYMENT_ENV_READ: Rule(workspace=R.WORKSPACE_AUTHOR, deployment=DeploymentGrant.ADMIN),
    P.DEPLOYMENT_CREATE: Rule(workspace=R.WORKSPACE_OPERATOR),
    P.DEPLOYMENT_DELETE: Rule(workspace=R.WORKSPACE_OPERATOR),
    P.DEPLOYMENT_UPDATE: Rule(workspace=R.WORKSPACE_OPERATOR, deployment=DeploymentGrant.ADMIN),
    P.DEPLOYMENT_TOKENS_MANAGE: Rule(workspace=R.WORKSPACE_OWNER, deployment=DeploymentGrant.ADMIN),
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
    """Position of a built-in role in its level's order (see :attr:`Role.rank`)."""
    return Role(role).rank


@cache
def organization_permissions(role: str) -> frozenset[Permission]:
    return frozenset(
        p
        for p, rule in PERMISSIONS.items()
        if rule.organization and Role(role).rank >= rule.organization.rank
    )


@cache
def workspace_permissions(role: str) -> frozenset[Permission]:
    return frozenset(
        p
        for p, rule in PERMISSIONS.items()
        if rule.workspace and Role(role).rank >= rule.workspace.rank
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


def granted_by(
    level: Level, role: str, custom: frozenset[Permission] | None = None
) -> frozenset[Permission]:
    """What holding ``role`` on an entity of ``level`` grants on that entity itself;
    ``custom`` is a custom deployment role's own set."""
    if level is Level.ORGANIZATION:
        return organization_permissions(role)
    if level is Level.WORKSPACE:
        return workspace_permissions(role)
    return deployment_permissions(role, custom)


def in_table_order(permissions: Iterable[Permission]) -> list[Permission]:
    """``permissions`` in the order of :data:`PERMISSIONS` (the design's table)."""
    return sorted(permissions, key=_ORDER.__getitem__)


_ORDER = {p: i for i, p in enumerate(PERMISSIONS)}
