"""The advice against the role table: for every role held and every permission used,
the suggestion is the least role of the table that holds what was used."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from keyplane.domain.access import ANY, Binding, Entity, Grants
from keyplane.domain.advice import Use, advise
from keyplane.domain.roles import (
    DEPLOYMENT_ADMIN,
    ORGANIZATION_ROLES,
    PERMISSIONS,
    WORKSPACE_ROLES,
    Level,
    Permission,
    granted_by,
)

ORG, WS, DEP = Level.ORGANIZATION, Level.WORKSPACE, Level.DEPLOYMENT
NOW = datetime(2026, 12, 2, tzinfo=UTC)
ORG_E = Entity(ORG, "o1", "o1")
WS_E = Entity(WS, "w1", "o1", "w1")
DEP_E = Entity(DEP, "d1", "o1", "w1")


def binding(level: Level, role: str, custom: frozenset[Permission] | None = None) -> Binding:
    entity = {ORG: ORG_E, WS: WS_E, DEP: DEP_E}[level]
    return Binding(level, entity.id, role, "o1", entity.workspace_id, custom)


def used(*uses: tuple[Permission, Entity], days_ago: int = 1) -> list[Use]:
    return [Use(p, e, NOW - timedelta(days=days_ago)) for p, e in uses]


def least(level: Level, permission: Permission) -> str | None:
    """The oracle: the first role of the design's order at ``level`` holding it."""
    order = {ORG: ORGANIZATION_ROLES, WS: WORKSPACE_ROLES}[level]
    return next((r for r in order if permission in granted_by(level, r)), None)


WORKSPACE_CASES = [
    (held, p, on)
    for held in WORKSPACE_ROLES
    for p, rule in PERMISSIONS.items()
    for on in (WS_E, DEP_E, Entity(DEP, ANY, "o1", "w1"))
    if rule.workspace
    and (on.level is WS) == (p.value.startswith("workspace"))
    and p in granted_by(WS, held)
]


@pytest.mark.parametrize(("held", "permission", "on"), WORKSPACE_CASES)
def test_a_workspace_token_is_advised_the_least_workspace_role_holding_its_use(
    held: str, permission: Permission, on: Entity
) -> None:
    own = binding(WS, held)
    found = advise(Grants.of([own]), own, used((permission, on)), {}, last_used_at=None, now=NOW)
    assert found.suggested_role == least(WS, permission)
    assert found.fits == (held == least(WS, permission))
    assert found.used == (permission,) and not found.stale


@pytest.mark.parametrize("held", ORGANIZATION_ROLES)
def test_an_organization_token_is_never_advised_above_what_it_holds(held: str) -> None:
    own = binding(ORG, held)
    uses = used(
        (Permission.ORGANIZATION_BILLING_READ, ORG_E), (Permission.DEPLOYMENT_DEPLOY, DEP_E)
    )
    found = advise(Grants.of([own]), own, uses, {}, last_used_at=None, now=NOW)
    # Deploying needs the owner's implied WORKSPACE_OWNER: no lower organization role
    # covers it, so whatever is held is kept; never a larger one.
    assert found.suggested_role == held


def test_an_extra_role_elsewhere_is_kept_and_narrows_the_organization_role() -> None:
    own = binding(ORG, "ORGANIZATION_OWNER")
    extra = binding(WS, "WORKSPACE_AUTHOR")
    uses = used((Permission.DEPLOYMENT_DEPLOY, DEP_E), (Permission.ORGANIZATION_READ, ORG_E))
    found = advise(Grants.of([own, extra]), own, uses, {}, last_used_at=None, now=NOW)
    assert found.suggested_role == "ORGANIZATION_MEMBER"


def test_a_listing_everywhere_needs_the_owner_implication() -> None:
    own = binding(ORG, "ORGANIZATION_OWNER")
    everywhere = Entity(DEP, ANY, "o1", ANY)
    found = advise(
        Grants.of([own]), own, used((Permission.DEPLOYMENT_READ, everywhere)), {},
        last_used_at=None, now=NOW,
    )  # fmt: skip
    assert found.suggested_role == "ORGANIZATION_OWNER" and found.fits


CUSTOM = {
    "pusher": frozenset({Permission.DEPLOYMENT_DEPLOY}),
    "pusher-and-env": frozenset({Permission.DEPLOYMENT_DEPLOY, Permission.DEPLOYMENT_ENV_READ}),
    "another-pusher": frozenset({Permission.DEPLOYMENT_DEPLOY}),
    "updater": frozenset({Permission.DEPLOYMENT_UPDATE}),
}


def test_the_smallest_covering_custom_role_is_named_ties_by_name() -> None:
    own = binding(DEP, DEPLOYMENT_ADMIN)
    uses = used((Permission.DEPLOYMENT_DEPLOY, DEP_E), (Permission.DEPLOYMENT_READ, DEP_E))
    found = advise(Grants.of([own]), own, uses, CUSTOM, last_used_at=None, now=NOW)
    assert found.suggested_role == DEPLOYMENT_ADMIN
    assert found.suggested_custom_role == "another-pusher"
    assert not found.fits


def test_a_custom_role_is_not_advised_one_holding_what_it_does_not() -> None:
    own = binding(DEP, "pusher-and-env", CUSTOM["pusher-and-env"])
    uses = used((Permission.DEPLOYMENT_DEPLOY, DEP_E))
    found = advise(Grants.of([own]), own, uses, CUSTOM, last_used_at=None, now=NOW)
    assert found.suggested_role == "pusher-and-env"  # DEPLOYMENT_ADMIN would be larger
    assert found.suggested_custom_role == "another-pusher"
    narrow = binding(DEP, "pusher", CUSTOM["pusher"])
    found = advise(Grants.of([narrow]), narrow, uses, CUSTOM, last_used_at=None, now=NOW)
    assert (found.suggested_custom_role, found.fits) == (None, True)  # same size: not smaller


def test_staleness_and_the_window() -> None:
    own = binding(WS, "WORKSPACE_OWNER")
    grants = Grants.of([own])
    old = used((Permission.DEPLOYMENT_DEPLOY, DEP_E), days_ago=100)
    never = advise(grants, own, [], {}, last_used_at=None, now=NOW)
    assert never.stale and never.used == ()
    outside = advise(grants, own, old, {}, last_used_at=NOW - timedelta(days=100), now=NOW)
    assert outside.stale and outside.suggested_role == "WORKSPACE_ACCESSOR"
    inside = advise(grants, own, old, {}, last_used_at=None, now=NOW, days=120)
    assert not inside.stale and inside.suggested_role == "WORKSPACE_AUTHOR"
    # Authenticated lately but exercised nothing (only /v1/self): not stale.
    seen = advise(grants, own, old, {}, last_used_at=NOW - timedelta(days=2), now=NOW)
    assert not seen.stale and seen.used == ()


def test_a_use_the_current_role_no_longer_covers_keeps_the_current_role() -> None:
    own = binding(WS, "WORKSPACE_MEMBER")  # lowered after it had deployed
    uses = used((Permission.DEPLOYMENT_DEPLOY, DEP_E))
    found = advise(Grants.of([own]), own, uses, {}, last_used_at=None, now=NOW)
    assert found.suggested_role == "WORKSPACE_MEMBER"
