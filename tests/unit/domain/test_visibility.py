"""held_on against the DESIGN §2 oracle: a listing's WHERE clause shows exactly what
the check on one object allows, for every role and pair of roles at every place."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest

from keyplane.domain.access import Entity, Grants
from keyplane.domain.roles import DEPLOYMENT_PERMISSIONS, PERMISSIONS, Level, Permission
from keyplane.domain.visibility import HeldOn, held_on
from tests.access_oracle import Held, Target, held_permissions
from tests.unit.domain.test_access import COMBINATIONS, grants_of

ORG, WS, DEP = Level.ORGANIZATION, Level.WORKSPACE, Level.DEPLOYMENT
# Places no binding names (w3, d3 beside d1 in w1, d4 in w2) as well as the bound ones.
PLACES = {
    WS: [Target(WS, "o1", ws) for ws in ("w1", "w2", "w3")] + [Target(WS, "o2", "x1")],
    DEP: [
        Target(DEP, "o1", ws, dep)
        for ws, dep in (("w1", "d1"), ("w1", "d3"), ("w2", "d2"), ("w2", "d4"), ("w3", "d5"))
    ]
    + [Target(DEP, "o2", "x1", "e1")],
}
NEEDS = {
    WS: [frozenset({p}) for p, rule in PERMISSIONS.items() if rule.workspace],
    DEP: [frozenset({p}) for p in DEPLOYMENT_PERMISSIONS] + [DEPLOYMENT_PERMISSIONS],
}


@dataclass(frozen=True)
class Asking:
    grants: Grants
    used: list[tuple[Permission, Entity]] = field(default_factory=list, compare=False)

    def exercised(self, permission: Permission, entity: Entity) -> None:
        self.used.append((permission, entity))


def contains(found: HeldOn, target: Target) -> bool:
    if target.organization_id != "o1":
        return False  # held_on was asked about o1
    if found.everywhere or target.workspace_id in found.workspaces:
        return True
    return target.level is DEP and target.deployment_id in found.deployments


@pytest.mark.parametrize("level", [WS, DEP])
@pytest.mark.parametrize("bindings", COMBINATIONS, ids=lambda bs: "+".join(b.role for b in bs))
def test_held_on_is_exactly_where_the_permissions_are_held(level: Level, bindings: list[Held]):
    principal = Asking(grants_of(bindings))
    for needed in NEEDS[level]:
        found = held_on(principal, "o1", level, needed)
        for target in PLACES[level]:
            expected = target.organization_id == "o1" and needed <= held_permissions(
                bindings, target
            )
            assert contains(found, target) == expected, (sorted(needed), target, found)


def test_it_is_bounded_by_the_bindings_not_by_the_organization():
    # An organization owner reaches everything without a single id to list.
    owner = Asking(grants_of([Held(ORG, "o1", "o1", None, "ORGANIZATION_OWNER")]))
    assert held_on(owner, "o1", DEP, frozenset({Permission.DEPLOYMENT_READ})) == HeldOn(
        everywhere=True
    )
    assert held_on(owner, "o2", DEP, frozenset({Permission.DEPLOYMENT_READ})) == HeldOn()
    member = Asking(grants_of([Held(ORG, "o1", "o1", None, "ORGANIZATION_MEMBER")]))
    assert held_on(member, "o1", WS, frozenset({Permission.WORKSPACE_READ})) == HeldOn()


def target_of_entity(entity: Entity) -> Target:
    if entity.level is WS:
        return Target(WS, entity.organization_id, entity.id)
    return Target(DEP, entity.organization_id, entity.workspace_id, entity.id)


@pytest.mark.parametrize("level", [WS, DEP])
@pytest.mark.parametrize("bindings", COMBINATIONS, ids=lambda bs: "+".join(b.role for b in bs))
def test_a_listing_records_uses_that_keep_it_whole(level: Level, bindings: list[Held]):
    """What held_on tells the principal it used is held, and is enough: other grants
    that hold every recorded use find at least what these found (so advice computed
    from the record never suggests a role that would shrink the listing)."""
    principal = Asking(grants_of(bindings))
    for needed in NEEDS[level]:
        principal.used.clear()
        found = held_on(principal, "o1", level, needed)
        for permission, entity in principal.used:
            assert permission in held_permissions(bindings, target_of_entity(entity))
        for others in COMBINATIONS:
            grants = grants_of(others)
            if all(p in grants.permissions_at(e) for p, e in principal.used):
                wider = held_on(Asking(grants), "o1", level, needed)
                for target in PLACES[level]:
                    assert not contains(found, target) or contains(wider, target), (
                        others,
                        target,
                    )
