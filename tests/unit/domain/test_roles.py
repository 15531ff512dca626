"""The role table says what DESIGN §2 says, and its helpers read it consistently."""

from __future__ import annotations

import itertools

import pytest

from keyplane.domain import roles
from keyplane.domain.roles import (
    DEPLOYMENT_ADMIN,
    DEPLOYMENT_PERMISSIONS,
    ORGANIZATION_ROLES,
    PERMISSIONS,
    READ_PERMISSION,
    WORKSPACE_ROLES,
    DeploymentGrant,
    Level,
    Permission,
)

# DESIGN §2, transcribed once: permission -> (org minimum, workspace minimum, deployment).
DESIGN = {
    "organization:read": ("MEMBER", None, None),
    "organization:update": ("OWNER", None, None),
    "organization.billing:read": ("BILLING_ADMIN", None, None),
    "organization.billing:update": ("BILLING_ADMIN", None, None),
    "organization.users:manage": ("OWNER", None, None),
    "organization.tokens:manage": ("OWNER", None, None),
    "organization.audit:read": ("OWNER", None, None),
    "organization.sso:manage": ("OWNER", None, None),
    "workspace:create": ("OWNER", None, None),
    "workspace:read": (None, "ACCESSOR", None),
    "workspace:update": (None, "OWNER", None),
    "workspace:delete": (None, "OWNER", None),
    "workspace.users:manage": (None, "OWNER", None),
    "workspace.tokens:manage": (None, "OWNER", None),
    "deployment:read": (None, "MEMBER", "any"),
    "deployment:deploy": (None, "AUTHOR", "ADMIN"),
    "deployment.env:read": (None, "AUTHOR", "ADMIN"),
    "deployment:create": (None, "OPERATOR", None),
    "deployment:delete": (None, "OPERATOR", None),
    "deployment:update": (None, "OPERATOR", "ADMIN"),
    "deployment.tokens:manage": (None, "OWNER", "ADMIN"),
}


def test_the_table_is_the_design():
    table = {}
    for permission, rule in PERMISSIONS.items():
        org = rule.organization.removeprefix("ORGANIZATION_") if rule.organization else None
        ws = rule.workspace.removeprefix("WORKSPACE_") if rule.workspace else None
        dep = {None: None, DeploymentGrant.ANY: "any", DeploymentGrant.ADMIN: "ADMIN"}[
            rule.deployment
        ]
        table[permission.value] = (org, ws, dep)
    assert table == DESIGN
    assert set(PERMISSIONS) == set(Permission)


def test_role_orders():
    assert ORGANIZATION_ROLES == (
        "ORGANIZATION_MEMBER",
        "ORGANIZATION_BILLING_ADMIN",
        "ORGANIZATION_OWNER",
    )
    assert WORKSPACE_ROLES == (
        "WORKSPACE_ACCESSOR",
        "WORKSPACE_MEMBER",
        "WORKSPACE_AUTHOR",
        "WORKSPACE_OPERATOR",
        "WORKSPACE_OWNER",
    )


@pytest.mark.parametrize(
    ("order", "permissions"),
    [
        (ORGANIZATION_ROLES, roles.organization_permissions),
        (WORKSPACE_ROLES, roles.workspace_permissions),
    ],
)
def test_a_higher_role_holds_everything_a_lower_one_does(order, permissions):
    for lower, higher in itertools.pairwise(order):
        assert permissions(lower) < permissions(higher), (lower, higher)


def test_each_permission_is_held_from_its_minimum_role_up():
    for permission, rule in PERMISSIONS.items():
        for order, minimum, held in (
            (ORGANIZATION_ROLES, rule.organization, roles.organization_permissions),
            (WORKSPACE_ROLES, rule.workspace, roles.workspace_permissions),
        ):
            for role in order:
                expected = minimum is not None and order.index(role) >= order.index(minimum)
                assert (permission in held(role)) == expected, (permission, role)


def test_deployment_roles():
    assert roles.deployment_permissions(DEPLOYMENT_ADMIN, None) == DEPLOYMENT_PERMISSIONS
    assert {
        Permission.DEPLOYMENT_READ,
        Permission.DEPLOYMENT_DEPLOY,
        Permission.DEPLOYMENT_ENV_READ,
        Permission.DEPLOYMENT_UPDATE,
        Permission.DEPLOYMENT_TOKENS_MANAGE,
    } == DEPLOYMENT_PERMISSIONS
    # A custom role holds its own subset, and always deployment:read.
    custom = frozenset({Permission.DEPLOYMENT_DEPLOY})
    assert roles.deployment_permissions("deployer", custom) == {
        Permission.DEPLOYMENT_DEPLOY,
        Permission.DEPLOYMENT_READ,
    }
    assert roles.deployment_permissions("empty", None) == {Permission.DEPLOYMENT_READ}


def test_levels_and_read_permissions():
    assert {roles.level_of(r) for r in ORGANIZATION_ROLES} == {Level.ORGANIZATION}
    assert {roles.level_of(r) for r in WORKSPACE_ROLES} == {Level.WORKSPACE}
    assert roles.level_of(DEPLOYMENT_ADMIN) is Level.DEPLOYMENT
    assert roles.level_of("deployer") is None  # may be a custom deployment role
    assert READ_PERMISSION == {
        Level.ORGANIZATION: Permission.ORGANIZATION_READ,
        Level.WORKSPACE: Permission.WORKSPACE_READ,
        Level.DEPLOYMENT: Permission.DEPLOYMENT_READ,
    }


def test_roles_carry_their_level_and_order():
    for level, order in roles.ROLE_ORDER.items():
        for rank, role in enumerate(order):
            assert role.level is level and role.rank == rank and roles.rank(role) == rank
    assert set(roles.Role) == set(roles.BUILT_IN_ROLES)


def test_the_implications_are_the_design():
    """DESIGN §2: "ORGANIZATION_OWNER implies WORKSPACE_OWNER in every workspace of the
    organization"; "a deployment role without a workspace role gets WORKSPACE_ACCESSOR"."""
    said = {(i.level, i.held, i.gives, i.reach) for i in roles.IMPLICATIONS}
    assert said == {
        (Level.ORGANIZATION, "ORGANIZATION_OWNER", "WORKSPACE_OWNER", roles.Reach.EVERY_WORKSPACE),
        (Level.DEPLOYMENT, None, "WORKSPACE_ACCESSOR", roles.Reach.OWN_WORKSPACE),
    }
    assert roles.implied_in_every_workspace(Level.ORGANIZATION, "ORGANIZATION_OWNER") == (
        "WORKSPACE_OWNER"
    )
    for role in ("ORGANIZATION_MEMBER", "ORGANIZATION_BILLING_ADMIN"):
        assert roles.implied_in_every_workspace(Level.ORGANIZATION, role) is None
    assert roles.implied_in_every_workspace(Level.DEPLOYMENT, "deployer") is None
