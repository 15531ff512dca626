"""Grants against the DESIGN §2 oracle, for every role at every place, plus the named rules."""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field

import pytest

from keyplane.domain.access import (
    Binding,
    Entity,
    Grants,
    authorize,
    authorize_holding,
    authorize_managing,
    can,
)
from keyplane.domain.errors import Forbidden, NotFound
from keyplane.domain.roles import (
    DEPLOYMENT_ADMIN,
    ORGANIZATION_ROLES,
    PERMISSIONS,
    WORKSPACE_ROLES,
    Level,
    Permission,
)
from tests.access_oracle import (
    CUSTOM,
    CUSTOM_ROLE,
    KEEPER_ROLE,
    Held,
    Target,
    held_permissions,
    role_permissions,
    target_of,
    visible,
)

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
    *(Held(DEP, "d1", "o1", "w1", role) for role in (DEPLOYMENT_ADMIN, CUSTOM_ROLE, KEEPER_ROLE)),
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


@dataclass(frozen=True)
class Who:
    """A principal, as the domain sees it: its grants, and what it was told it used."""

    grants: Grants
    used: list[tuple[Permission, Entity]] = field(default_factory=list, compare=False)

    def exercised(self, permission: Permission, entity: Entity) -> None:
        self.used.append((permission, entity))


def who(bindings: list[Held]) -> Who:
    return Who(grants_of(bindings))


@pytest.mark.parametrize("bindings", COMBINATIONS, ids=lambda bs: "+".join(b.role for b in bs))
def test_authorize_agrees_with_the_design(bindings):
    principal = who(bindings)
    for target in TARGETS:
        entity = entity_of(target)
        expected = held_permissions(bindings, target)
        seen = visible(bindings, target)
        assert principal.grants.permissions_at(entity) == expected, target
        assert can(principal, None, entity) == seen, target
        for permission in Permission:
            assert can(principal, permission, entity) == (seen and permission in expected)
            if not seen:
                with pytest.raises(NotFound):
                    authorize(principal, permission, entity)
            elif permission in expected:
                authorize(principal, permission, entity)
            else:
                with pytest.raises(Forbidden) as refused:
                    authorize(principal, permission, entity)
                assert refused.value.permission == permission.value
                assert permission.value in refused.value.message


def test_organization_owner_is_workspace_owner_everywhere():
    grants = grants_of([Held(ORG, "o1", "o1", None, "ORGANIZATION_OWNER")])
    assert grants.workspace_role("o1", "w2") == "WORKSPACE_OWNER"
    assert Permission.DEPLOYMENT_TOKENS_MANAGE in grants.permissions_at(entity_of(TARGETS[4]))
    assert grants.workspace_role("o2", "x1") is None


def test_a_deployment_role_implies_workspace_accessor():
    principal = who([Held(DEP, "d1", "o1", "w1", CUSTOM_ROLE)])
    assert principal.grants.workspace_role("o1", "w1") == "WORKSPACE_ACCESSOR"
    assert principal.grants.workspace_role("o1", "w2") is None
    assert can(principal, None, entity_of(TARGETS[1]))
    assert not can(principal, None, entity_of(TARGETS[2]))
    # ...but not the workspace's other deployments: ACCESSOR lacks deployment:read.
    assert not can(principal, None, entity_of(TARGETS[4]))


def test_other_tenants_are_invisible_whatever_the_role():
    principal = who([Held(ORG, "o1", "o1", None, "ORGANIZATION_OWNER")])
    for target in TARGETS[5:]:
        assert not can(principal, None, entity_of(target))
        with pytest.raises(NotFound):
            authorize(principal, Permission.ORGANIZATION_READ, entity_of(target))
    with pytest.raises(NotFound, match=r"^organization o2 not found$"):
        authorize(principal, None, Entity.organization("o2"))


def test_a_hidden_object_is_not_found_by_its_own_name():
    """The 404 for a token in an invisible deployment names the token, not the deployment."""
    principal = who([Held(WS, "w2", "o1", "w2", "WORKSPACE_OWNER")])
    with pytest.raises(NotFound) as hidden:
        authorize(principal, None, entity_of(TARGETS[3]), asked_for="API token t1")
    assert hidden.value.message == "API token t1 not found"


def binding_of(held: Held) -> Binding:
    return grants_of([held]).bindings[0]


def first_missing(manager: list[Held], credential: Held) -> Permission | None:
    """What the oracle says a manager lacks of a credential's role, first in table order."""
    missing = role_permissions(credential.level, credential.role) - held_permissions(
        manager, target_of(credential)
    )
    return min(missing, key=list(PERMISSIONS).index) if missing else None


@pytest.mark.parametrize("manager", SINGLE, ids=lambda b: b.role)
def test_managing_a_credential_needs_every_permission_it_holds(manager):
    """Every manager role by every credential role of the table: allowed exactly when the
    manager holds, on the credential's entity, all that the credential's role holds there."""
    principal = who([manager])
    for credential in SINGLE:
        held = grants_of([credential])
        missing = first_missing([manager], credential)
        if not visible([manager], target_of(credential)):
            with pytest.raises(NotFound):
                authorize_managing(principal, held, "rotate API token t1")
        elif missing is None:
            authorize_managing(principal, held, "rotate API token t1")
        else:
            with pytest.raises(Forbidden) as refused:
                authorize_managing(principal, held, "rotate API token t1")
            assert refused.value.permission == missing.value
            assert refused.value.message.startswith("cannot rotate API token t1: ")


def test_the_token_keeper_cannot_take_a_deployment_admin_credential():
    """The escalation of issue 10: deployment:read and deployment.tokens:manage alone."""
    keeper = who([Held(DEP, "d1", "o1", "w1", KEEPER_ROLE)])
    admin = grants_of([Held(DEP, "d1", "o1", "w1", DEPLOYMENT_ADMIN)])
    with pytest.raises(Forbidden) as refused:
        authorize_managing(keeper, admin, "rotate API token t1")
    assert refused.value.permission == Permission.DEPLOYMENT_DEPLOY.value
    assert refused.value.message == (
        "cannot rotate API token t1: DEPLOYMENT_ADMIN on deployment d1 holds "
        "deployment:deploy, deployment.env:read, deployment:update, "
        "which you do not hold there"
    )


def test_granting_is_the_same_rule():
    operator = who([Held(WS, "w1", "o1", "w1", "WORKSPACE_OPERATOR")])
    for role, allowed in (("WORKSPACE_OPERATOR", True), ("WORKSPACE_ACCESSOR", True),
                          ("WORKSPACE_OWNER", False)):  # fmt: skip
        wanted = binding_of(Held(WS, "w1", "o1", "w1", role))
        if allowed:
            authorize_holding(operator, [wanted], f"grant {role}")
        else:
            with pytest.raises(Forbidden, match=r"^cannot grant WORKSPACE_OWNER: "):
                authorize_holding(operator, [wanted], f"grant {role}")


@pytest.mark.parametrize("bindings", COMBINATIONS, ids=lambda bs: "+".join(b.role for b in bs))
def test_authorize_tells_the_principal_what_it_found_held_and_can_does_not(bindings):
    """The record of least-privilege advice: each permission granted, once, nothing else."""
    principal = who(bindings)
    for target in TARGETS:
        entity = entity_of(target)
        for permission in Permission:
            can(principal, permission, entity)
            assert principal.used == []
            try:
                authorize(principal, permission, entity)
            except (NotFound, Forbidden):
                assert principal.used == []
            else:
                assert principal.used == [(permission, entity)]
            principal.used.clear()


def test_granting_a_role_uses_every_permission_it_hands_on():
    operator = who([Held(WS, "w1", "o1", "w1", "WORKSPACE_OPERATOR")])
    wanted = binding_of(Held(WS, "w1", "o1", "w1", "WORKSPACE_AUTHOR"))
    authorize_holding(operator, [wanted], "grant WORKSPACE_AUTHOR")
    assert sorted(p for p, _ in operator.used) == sorted(wanted.permissions)
    assert {e for _, e in operator.used} == {wanted.entity}
