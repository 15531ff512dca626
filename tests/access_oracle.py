"""An oracle for DESIGN §2, written from the role table alone.

It reads only :data:`keyplane.domain.roles.PERMISSIONS` and the role orders, and
implements the rules in the design's words (an organization owner is a workspace
owner everywhere; a deployment role implies WORKSPACE_ACCESSOR on its workspace;
404 for what cannot be seen, 403 for what can be seen but not done; no escalation:
granting a role, or managing a credential that holds one, needs every permission
the role holds there). The authorization matrix and the unit tests of
``keyplane.domain.access`` compare the server with it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from keyplane.domain.roles import (
    DEPLOYMENT_ADMIN,
    ORGANIZATION_ROLES,
    PERMISSIONS,
    WORKSPACE_ROLES,
    Level,
    Permission,
)

P = Permission
ORG, WS, DEP = Level.ORGANIZATION, Level.WORKSPACE, Level.DEPLOYMENT
CUSTOM_ROLE = "deployer"
CUSTOM_PERMISSIONS = frozenset({P.DEPLOYMENT_DEPLOY, P.DEPLOYMENT_UPDATE})
# Issue 10's escalation: a role that may manage a deployment's tokens and keys, and
# read the deployment, but holds nothing else there.
KEEPER_ROLE = "token-keeper"
KEEPER_PERMISSIONS = frozenset({P.DEPLOYMENT_TOKENS_MANAGE})
CUSTOM = {CUSTOM_ROLE: CUSTOM_PERMISSIONS, KEEPER_ROLE: KEEPER_PERMISSIONS}


def role_permissions(
    level: Level, role: str, custom: Mapping[str, frozenset[Permission]] = CUSTOM
) -> set[Permission]:
    """What holding ``role`` on an entity of ``level`` grants on that entity itself."""
    if level is ORG:
        return {
            p for p, r in PERMISSIONS.items() if _at_least(ORGANIZATION_ROLES, role, r.organization)
        }
    if level is WS:
        return {p for p, r in PERMISSIONS.items() if _at_least(WORKSPACE_ROLES, role, r.workspace)}
    if role == DEPLOYMENT_ADMIN:
        return {p for p, r in PERMISSIONS.items() if r.deployment}
    return set(custom[role]) | {P.DEPLOYMENT_READ}


@dataclass(frozen=True)
class Held:
    """One role binding of a principal, as the oracle sees it."""

    level: Level
    entity_id: str
    organization_id: str
    workspace_id: str | None
    role: str


@dataclass(frozen=True)
class Target:
    """The entity a request acts on."""

    level: Level
    organization_id: str
    workspace_id: str | None = None
    deployment_id: str | None = None


def _at_least(order: tuple[str, ...], role: str, minimum: str | None) -> bool:
    return minimum is not None and order.index(role) >= order.index(minimum)


def held_permissions(
    bindings: list[Held], target: Target, custom: Mapping[str, frozenset[Permission]] = CUSTOM
) -> set[Permission]:
    """What the bindings hold on the target, per DESIGN §2 (``custom``: custom roles)."""
    org_roles = [
        b.role for b in bindings if b.level is ORG and b.entity_id == target.organization_id
    ]
    held = {
        p
        for role in org_roles
        for p, rule in PERMISSIONS.items()
        if _at_least(ORGANIZATION_ROLES, role, rule.organization)
    }
    if target.workspace_id:
        ws_roles = [
            b.role for b in bindings if b.level is WS and b.entity_id == target.workspace_id
        ]
        if "ORGANIZATION_OWNER" in org_roles:
            ws_roles.append("WORKSPACE_OWNER")
        if any(b.level is DEP and b.workspace_id == target.workspace_id for b in bindings):
            ws_roles.append("WORKSPACE_ACCESSOR")
        held |= {
            p
            for role in ws_roles
            for p, rule in PERMISSIONS.items()
            if _at_least(WORKSPACE_ROLES, role, rule.workspace)
        }
    if target.level is DEP:
        for b in bindings:
            if b.level is DEP and b.entity_id == target.deployment_id:
                if b.role == DEPLOYMENT_ADMIN:
                    held |= {p for p, rule in PERMISSIONS.items() if rule.deployment}
                else:
                    held |= custom[b.role] | {P.DEPLOYMENT_READ}
    return held


def visible(
    bindings: list[Held], target: Target, custom: Mapping[str, frozenset[Permission]] = CUSTOM
) -> bool:
    if target.level is ORG:
        return any(b.organization_id == target.organization_id for b in bindings)
    read = P.WORKSPACE_READ if target.level is WS else P.DEPLOYMENT_READ
    return read in held_permissions(bindings, target, custom)


def target_of(held: Held) -> Target:
    """The entity a role binding is held on."""
    if held.level is ORG:
        return Target(ORG, held.organization_id)
    if held.level is WS:
        return Target(WS, held.organization_id, held.entity_id)
    return Target(DEP, held.organization_id, held.workspace_id, held.entity_id)


def expected_answer(
    bindings: list[Held],
    permission: Permission | None,
    target: Target | None,
    success: int,
    custom: Mapping[str, frozenset[Permission]] = CUSTOM,
    credential: list[Held] | None = None,
) -> tuple[int, set[Permission]]:
    """The status, and for a 403 the permissions it may name (the first one missing).

    404 if the target is invisible, 403 if the permission is missing; for a request that
    manages a credential holding ``credential``, 404/403 too unless the principal sees
    each entity the credential has a role on and holds there all that role holds.
    """
    if target is None:
        return success, set()
    if not visible(bindings, target, custom):
        return 404, set()
    if permission is not None and permission not in held_permissions(bindings, target, custom):
        return 403, {permission}
    for held in credential or []:
        where = target_of(held)
        if not visible(bindings, where, custom):
            return 404, set()
        missing = role_permissions(held.level, held.role, custom) - held_permissions(
            bindings, where, custom
        )
        if missing:
            return 403, missing
    return success, set()


def expected_status(
    bindings: list[Held],
    permission: Permission | None,
    target: Target | None,
    success: int,
    custom: Mapping[str, frozenset[Permission]] = CUSTOM,
    credential: list[Held] | None = None,
) -> int:
    """The status alone of :func:`expected_answer`."""
    return expected_answer(bindings, permission, target, success, custom, credential)[0]
