"""Which roles a token may hold, and who may grant them (DESIGN §2, granting rules)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from keyplane.auth.principal import Principal
from keyplane.db.models import CustomRole, RoleBinding
from keyplane.db.unit import KEEP_ROW, RowLock, locked
from keyplane.domain.access import Binding, Entity, authorize, authorize_holding
from keyplane.domain.errors import InvalidInput
from keyplane.domain.roles import ROLE_ORDER, Level, Permission, level_of
from keyplane.domain.words import with_article
from keyplane.tenancy.entities import get_entity

# What a token of each scope may hold roles on, besides its own entity.
EXTRA_LEVELS = {
    Level.ORGANIZATION: {Level.WORKSPACE, Level.DEPLOYMENT},
    Level.WORKSPACE: {Level.DEPLOYMENT},
    Level.DEPLOYMENT: set(),
}


def custom_roles(
    db: Session, org_id: str, lock: RowLock | None = None
) -> dict[str, frozenset[Permission]]:
    """The organization's custom roles by name, their rows read under ``lock``."""
    rows = db.scalars(locked(select(CustomRole).where(CustomRole.organization_id == org_id), lock))
    return {row.name: frozenset(Permission(p) for p in row.permissions) for row in rows}


def binding_of(entity: Entity, role: str, custom: dict[str, frozenset[Permission]]) -> Binding:
    """``role`` held on ``entity``; InvalidInput if it is no role of the entity's level."""
    built_in = level_of(role)
    if not (built_in is entity.level or (entity.level is Level.DEPLOYMENT and role in custom)):
        raise InvalidInput(
            f"the role given is not {with_article(entity.noun)} role: "
            f"use one of {_roles_of(entity.level)}",
            field_errors={"role": "unknown role for this entity"},
        )
    return Binding(
        level=entity.level,
        entity_id=entity.id,
        role=role,
        organization_id=entity.organization_id,
        workspace_id=entity.workspace_id,
        custom_permissions=None if built_in else custom[role],
    )


def _roles_of(level: Level) -> str:
    """The roles of ``level``, lowest first (custom role names are not listed: the
    caller may not be one who can read them)."""
    names = ", ".join(ROLE_ORDER[level])
    return f"{names} or a custom deployment role" if level is Level.DEPLOYMENT else names


def check_grantable(
    db: Session,
    principal: Principal,
    org_id: str,
    wanted: Sequence[tuple[Level, str, str]],
    own: Entity,
    extra_levels: set[Level],
) -> list[tuple[Entity, str]]:
    """Validate a role set for a subject whose own entity is ``own``.

    Returns each role with its entity. Raises InvalidInput for a malformed set,
    NotFound for an entity the principal cannot see, Forbidden for escalation.
    """
    # Kept until the grant commits: a custom role deleted meanwhile waits for it (and
    # then finds it held), or was deleted first and is no role here.
    custom = custom_roles(db, org_id, KEEP_ROW)
    resolved: list[tuple[Entity, str]] = []
    seen: set[str] = set()
    for level, entity_id, role in wanted:
        entity = get_entity(db, org_id, level, entity_id)
        if entity.id in seen:
            raise InvalidInput(f"more than one role on {level.value.lower()} {entity_id}")
        seen.add(entity.id)
        authorize(principal, None, entity)  # 404 if unseen: placement would tell it exists
        if entity != own:
            _check_placement(entity, own, extra_levels)
        authorize_holding(principal, [binding_of(entity, role, custom)], f"grant {role}")
        resolved.append((entity, role))
    if own.id not in seen:
        raise InvalidInput(
            f"exactly one role on the token's own {own.noun} {own.id} is required",
            field_errors={"roles": "missing the role on the token's own entity"},
        )
    return resolved


def _check_placement(entity: Entity, own: Entity, extra_levels: set[Level]) -> None:
    inside = own.level is Level.ORGANIZATION or entity.workspace_id == own.workspace_id
    if entity.level not in extra_levels or not inside:
        raise InvalidInput(
            f"{with_article(own.noun)} token cannot hold a role on {entity.noun} {entity.id}",
            field_errors={"roles": "role outside the token's scope"},
        )


def described(bindings: Iterable[RoleBinding]) -> list[str]:
    """Roles as the audit trail keeps them: ``WORKSPACE_MEMBER on workspace <id>``."""
    return sorted(f"{b.role} on {b.level.lower()} {b.entity_id}" for b in bindings)
