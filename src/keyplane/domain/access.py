"""The one authorization API: what a principal may do on an entity (DESIGN §2).

:func:`authorize` is the check every use case makes, :func:`can` the question a
page asks to show or hide an action, and :func:`authorize_holding` the rule against
escalation, for granting a role and for managing a credential that holds roles.
All three read the role table of :mod:`keyplane.domain.roles` through
:class:`Grants`. Pure: the caller loads the role bindings.

A permission that :func:`authorize` or :func:`authorize_holding` finds held is told to
the principal (:meth:`Subject.exercised`), which is how a credential's use of its
rights is recorded for least-privilege advice (:mod:`keyplane.domain.advice`); ``can``
only asks, so what a page merely shows or hides is never counted as used.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Protocol

from keyplane.domain.errors import Forbidden, NotFound
from keyplane.domain.ids import shown
from keyplane.domain.roles import (
    IMPLICATIONS,
    READ_PERMISSION,
    Implication,
    Level,
    Permission,
    Reach,
    Role,
    granted_by,
    in_table_order,
)

# An id no entity has ("*" is no id's shape). What grants hold on an entity of this id
# is what they hold on every entity of its level that no role binding names: in its
# workspace, or, with the workspace id ANY too, anywhere in the organization. A listing
# narrowed to what is held records its use on such an entity.
ANY = "*"


@dataclass(frozen=True)
class Entity:
    """An organization, workspace or deployment, with the ids of its parents."""

    level: Level
    id: str
    organization_id: str
    workspace_id: str | None = None  # the workspace itself, or a deployment's workspace

    @classmethod
    def organization(cls, org_id: str) -> Entity:
        return cls(Level.ORGANIZATION, org_id, org_id)

    @property
    def noun(self) -> str:
        return self.level.value.lower()


@dataclass(frozen=True)
class Binding:
    """One role held on one entity."""

    level: Level
    entity_id: str
    role: str  # a Role, or the name of a custom deployment role
    organization_id: str
    workspace_id: str | None = None  # for deployment bindings: the deployment's workspace
    custom_permissions: frozenset[Permission] | None = None  # for custom deployment roles

    @property
    def entity(self) -> Entity:
        workspace_id = {Level.ORGANIZATION: None, Level.WORKSPACE: self.entity_id}.get(
            self.level, self.workspace_id
        )
        return Entity(self.level, self.entity_id, self.organization_id, workspace_id)

    @property
    def permissions(self) -> frozenset[Permission]:
        """What the role grants on its own entity."""
        return granted_by(self.level, self.role, self.custom_permissions)


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

    def workspace_role(self, organization_id: str, workspace_id: str) -> Role | None:
        """The effective workspace role: the one held there, or a higher implied one."""
        held = self.role_at(Level.WORKSPACE, workspace_id)
        roles = [Role(held)] if held else []
        roles += [
            rule.gives
            for rule in IMPLICATIONS
            for b in self.bindings
            if rule.applies(b.level, b.role) and _reaches(rule, b, organization_id, workspace_id)
        ]
        return max(roles, key=lambda role: role.rank) if roles else None

    def permissions_at(self, entity: Entity) -> frozenset[Permission]:
        held: set[Permission] = set()
        org_role = self.role_at(Level.ORGANIZATION, entity.organization_id)
        if org_role:
            held |= granted_by(Level.ORGANIZATION, org_role)
        if entity.workspace_id:
            ws_role = self.workspace_role(entity.organization_id, entity.workspace_id)
            if ws_role:
                held |= granted_by(Level.WORKSPACE, ws_role)
        if entity.level is Level.DEPLOYMENT:
            binding = self._index.get((Level.DEPLOYMENT, entity.id))
            if binding:
                held |= binding.permissions
        return frozenset(held)

    def sees(self, entity: Entity) -> bool:
        if entity.level is Level.ORGANIZATION and entity.id in self.organization_ids():
            # Anyone holding a role inside an organization knows that it exists.
            return True
        return READ_PERMISSION[entity.level] in self.permissions_at(entity)


def _reaches(rule: Implication, binding: Binding, organization_id: str, workspace_id: str) -> bool:
    if rule.reach is Reach.EVERY_WORKSPACE:
        return binding.organization_id == organization_id
    return binding.workspace_id == workspace_id


class Subject(Protocol):
    """Whoever is asking: a request's principal (``keyplane.auth.principal``)."""

    @property
    def grants(self) -> Grants: ...

    def exercised(self, permission: Permission, entity: Entity) -> None:
        """Told each permission found held for an action on ``entity``; returns at once
        (a credential notes it in memory, a person ignores it)."""


def authorize(
    principal: Subject,
    permission: Permission | None,
    entity: Entity,
    *,
    asked_for: str | None = None,
) -> None:
    """Return if ``principal`` holds ``permission`` on ``entity``.

    ``permission`` None asks only that the entity be visible (a listing that is
    filtered to what the principal may see). Raises NotFound when the entity is
    invisible to the principal, other tenants' objects included, and Forbidden
    naming the permission when it is visible but the permission is not held.
    ``asked_for`` names what the request was for in the NotFound message, when that
    is an object inside the entity ("API token …"): naming the entity would tell
    where a hidden object lives.
    """
    grants = principal.grants
    if not grants.sees(entity):
        raise NotFound(f"{asked_for or f'{entity.noun} {shown(entity.id)}'} not found")
    if permission is not None:
        if permission not in grants.permissions_at(entity):
            raise Forbidden(permission.value)
        principal.exercised(permission, entity)


def can(principal: Subject, permission: Permission | None, entity: Entity) -> bool:
    """Whether :func:`authorize` would return, for pages that show or hide an action."""
    grants = principal.grants
    return grants.sees(entity) and (
        permission is None or permission in grants.permissions_at(entity)
    )


def holds(principal: Subject, permission: Permission, entity: Entity) -> bool:
    """As :func:`can`, for a use case that acts on the answer (a listing narrowed to
    what the principal may manage): a yes is a use of ``permission``."""
    held = can(principal, permission, entity)
    if held:
        principal.exercised(permission, entity)
    return held


def authorize_holding(principal: Subject, bindings: Iterable[Binding], action: str) -> None:
    """Return if ``principal`` holds, on the entity of each binding, every permission
    that the binding's role holds there.

    This is the rule against escalation (DESIGN §2), for granting roles and for
    managing a credential that holds them (rotating, re-roling, renaming or deleting
    it hands its rights to whoever does it, or takes them from whoever relies on it).
    ``action`` completes "cannot …" in the message. Raises NotFound for an entity the
    principal cannot see, Forbidden naming the first missing permission otherwise.
    """
    bindings = tuple(bindings)
    for binding in bindings:
        entity = binding.entity
        authorize(principal, None, entity)
        missing = in_table_order(binding.permissions - principal.grants.permissions_at(entity))
        if missing:
            raise Forbidden(
                missing[0].value,
                f"cannot {action}: {binding.role} on {entity.noun} {entity.id} holds "
                f"{', '.join(missing)}, which you do not hold there",
            )
    for binding in bindings:  # all held: handing them on is a use of each
        for permission in in_table_order(binding.permissions):
            principal.exercised(permission, binding.entity)


def authorize_managing(principal: Subject, credential: Grants, action: str) -> None:
    """Return if ``principal`` may ``action`` (rotate, change the roles of, update,
    delete) a credential whose roles are ``credential``: an API token of any scope, a
    deployment API key, a workload identity.

    Whoever manages a credential takes what it holds (a rotation shows its new value)
    or changes what its users rely on, so it must hold, on each entity the credential
    has a role on, every permission that role holds there: the rule for granting
    (:func:`authorize_holding`). Raises as that does.
    """
    authorize_holding(principal, credential.bindings, action)
