"""Grants against the DESIGN §2 oracle, for every role at every place, plus the named rules."""

from __future__ import annotations

import itertools

import pytest

from keyplane.domain.access import Binding, Entity, Grants
from keyplane.domain.errors import Forbidden, NotFound
from keyplane.domain.roles import (
    DEPLOYMENT_ADMIN,
    ORGANIZATION_ROLES,
    WORKSPACE_ROLES,
    Level,
    Permission,
    workspace_permissions,
)
from tests.access_oracle import CUSTOM, CUSTOM_ROLE, Held, Target, held_permissions, visible

ORG, WS, DEP = Level.ORGANIZATION, Level.WORKSPACE, Level.DEPLOYMENT
# Two tenants; o1 has workspaces w1 (deployment d1) and w2 (deployment d2).
TARGETS = [
    Target(ORG, "o1"),
    Target(WS, "o1", "w1"),
    Target(WS, "o1", "w2"),
    Target(DEP, "o1", "w1", "d1"),
    Target(DEP, "o1", "w2", "d2"),
    Target(ORG, "o2"),
    Target(WS, "o2", "x1"),
    Target(DEP, "o2", "x1", "e1"),
]
SINGLE = [
    *(Held(ORG, "o1", "o1", None, role) for role in ORGANIZATION_ROLES),
    *(Held(WS, "w1", "o1", "w1", role) for role in WORKSPACE_ROLES),
    *(Held(DEP, "d1", "o1", "w1", role) for role in (DEPLOYMENT_ADMIN, CUSTOM_ROLE)),
]
# Every single binding, and every pair at different levels (a member with a workspace
# role, an organization token with extra roles, ...).
COMBINATIONS = [[b] for b in SINGLE] + [
    [a, b] for a, b in itertools.combinations(SINGLE, 2) if a.level is not b.level
]


def grants_of(bindings: list[Held]) -> Grants:
    return Grants.of(
        Binding(
            level=b.level,
            entity_id=b.entity_id,
            role=b.role,
            organization_id=b.organization_id,
            workspace_id=b.workspace_id if b.level is DEP else None,
            custom_permissions=CUSTOM.get(b.role),
        )
        for b in bindings
    )


def entity_of(target: Target) -> Entity:
    entity_id = {ORG: target.organization_id, WS: target.workspace_id, DEP: target.deployment_id}
    return Entity(
        target.level, entity_id[target.level] or "", target.organization_id, target.workspace_id
    )


@pytest.mark.parametrize("bindings", COMBINATIONS, ids=lambda bs: "+".join(b.role for b in bs))
def test_grants_agree_with_the_design(bindings):
    grants = grants_of(bindings)
    for target in TARGETS:
        entity = entity_of(target)
        expected = held_permissions(bindings, target)
        assert grants.permissions_at(entity) == expected, target
        assert grants.can_see(entity) == visible(bindings, target), target
        for permission in Permission:
            if not visible(bindings, target):
                with pytest.raises(NotFound):
                    grants.require(permission, entity)
            elif permission in expected:
                grants.require(permission, entity)
            else:
                with pytest.raises(Forbidden) as refused:
                    grants.require(permission, entity)
                assert permission.value in refused.value.message


def test_organization_owner_is_workspace_owner_everywhere():
    grants = grants_of([Held(ORG, "o1", "o1", None, "ORGANIZATION_OWNER")])
    assert grants.workspace_role("o1", "w2") == "WORKSPACE_OWNER"
    assert Permission.DEPLOYMENT_TOKENS_MANAGE in grants.permissions_at(entity_of(TARGETS[4]))


def test_a_deployment_role_implies_workspace_accessor():
    grants = grants_of([Held(DEP, "d1", "o1", "w1", CUSTOM_ROLE)])
    assert grants.workspace_role("o1", "w1") == "WORKSPACE_ACCESSOR"
    assert grants.workspace_role("o1", "w2") is None
    assert grants.can_see(entity_of(TARGETS[1])) and not grants.can_see(entity_of(TARGETS[2]))
    # ...but not the workspace's other deployments: ACCESSOR lacks deployment:read.
    assert not grants.can_see(entity_of(TARGETS[4]))


def test_other_tenants_are_invisible_whatever_the_role():
    grants = grants_of([Held(ORG, "o1", "o1", None, "ORGANIZATION_OWNER")])
    for target in TARGETS[5:]:
        assert not grants.can_see(entity_of(target))
        with pytest.raises(NotFound):
            grants.require(Permission.ORGANIZATION_READ, entity_of(target))
    with pytest.raises(NotFound):
        grants.require_visible_organization("o2")


def test_covers_is_no_escalation():
    grants = grants_of([Held(WS, "w1", "o1", "w1", "WORKSPACE_OPERATOR")])
    ws = entity_of(TARGETS[1])
    assert grants.covers(workspace_permissions("WORKSPACE_OPERATOR"), ws)
    assert grants.covers(workspace_permissions("WORKSPACE_ACCESSOR"), ws)
    assert not grants.covers(workspace_permissions("WORKSPACE_OWNER"), ws)
