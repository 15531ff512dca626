"""What a principal may do on an entity, computed from its role bindings.

Pure: the caller loads the bindings, this module reads the role table.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from keyplane.domain.errors import Forbidden, NotFound
from keyplane.domain.roles import (
    READ_PERMISSION,
    WORKSPACE_ROLES,
    Level,
    Permission,
    deployment_permissions,
    organization_permissions,
    rank,
    workspace_permissions,
)


@dataclass(frozen=True)
class Entity:
    """An organization, workspace or deployment, with the ids of its parents."""

    level: Level
    id: str
    organization_id: str
    workspace_id: str | None = None  # the workspace itself, or a deployment's workspace

    @property
    def noun(self) -> str:
        return self.level.value.lower()


@dataclass(frozen=True)
class Binding:
    """One role held on one entity."""

    level: Level
    entity_id: str
    role: str
    organization_id: str
    workspace_id: str | None = None  # for deployment bindings: the deployment's workspace
    custom_permissions: frozenset[Permission] | None = None  # for custom deployment roles


@dataclass(frozen=True)
class Grants:
    """All role bindings of one principal."""

    bindings: tuple[Binding, ...] = ()
    _index: dict[tuple[Level, str], Binding] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_index", {(b.level, b.entity_id): b for b in self.bindings})

    @classmethod
    def of(cls, bindings: Iterable[Binding]) -> Grants:
        return cls(tuple(bindings))

    def role_at(self, level: Level, entity_id: str | None) -> str | None:
        binding = self._index.get((level, entity_id or ""))
        return binding.role if binding else None

    def organization_ids(self) -> set[str]:
        return {b.organization_id for b in self.bindings}

    def workspace_role(self, organization_id: str, workspace_id: str) -> str | None:
        """The effective workspace role, with the two implied ones of DESIGN §2."""
        roles = [self.role_at(Level.WORKSPACE, workspace_id)]
        if self.role_at(Level.ORGANIZATION, organization_id) == "ORGANIZATION_OWNER":
            roles.append("WORKSPACE_OWNER")
        if any(
            b.level is Level.DEPLOYMENT and b.workspace_id == workspace_id for b in self.bindings
        ):
            roles.append(WORKSPACE_ROLES[0])
        held = [role for role in roles if role]
        return max(held, key=rank) if held else None

    def permissions_at(self, entity: Entity) -> frozenset[Permission]:
        held: set[Permission] = set()
        org_role = self.role_at(Level.ORGANIZATION, entity.organization_id)
        if org_role:
            held |= organization_permissions(org_role)
        if entity.workspace_id:
            ws_role = self.workspace_role(entity.organization_id, entity.workspace_id)
            if ws_role:
                held |= workspace_permissions(ws_role)
        if entity.level is Level.DEPLOYMENT:
            binding = self._index.get((Level.DEPLOYMENT, entity.id))
            if binding:
                held |= deployment_permissions(binding.role, binding.custom_permissions)
        return frozenset(held)

    def can_see(self, entity: Entity) -> bool:
        if entity.level is Level.ORGANIZATION and entity.id in self.organization_ids():
            # Anyone holding a role inside an organization knows that it exists.
            return True
        return READ_PERMISSION[entity.level] in self.permissions_at(entity)

    def require_visible_organization(self, org_id: str) -> None:
        """Raise NotFound unless the principal holds some role inside the organization."""
        if org_id not in self.organization_ids():
            raise NotFound(f"organization {org_id} not found")

    def require(self, permission: Permission, entity: Entity) -> None:
        """Return if the permission is held on the entity.

        Raises NotFound when the entity is invisible to the principal (other
        tenants' objects included), Forbidden naming the permission otherwise.
        """
        if not self.can_see(entity):
            raise NotFound(f"{entity.noun} {entity.id} not found")
        if permission not in self.permissions_at(entity):
            raise Forbidden(permission.value)

    def covers(self, wanted: frozenset[Permission], entity: Entity) -> bool:
        """True if every wanted permission is held on the entity (no escalation)."""
        return wanted <= self.permissions_at(entity)
