"""Where a principal holds permissions, as ids a query can filter on.

A listing must cost the same whatever the caller cannot see, so it is never
filtered row by row. The principal's own role bindings are enough to say, without
reading a single row, which workspaces and deployments of an organization it holds
a set of permissions on: :func:`held_on` answers with a few ids (bounded by the
bindings, not by the organization's size), and the query turns them into a
``WHERE`` clause.

Pure: it reads :class:`~keyplane.domain.access.Grants` and nothing else, and asks it
rather than restating its rules, so a listing can never disagree with the check made
on one object. What it finds held is told to the principal as used, as
:func:`~keyplane.domain.access.authorize` does: a listing exercises the permissions
it is narrowed by.
"""

from __future__ import annotations

from dataclasses import dataclass

from keyplane.domain.access import ANY, Entity, Subject
from keyplane.domain.roles import Level, Permission, in_table_order


@dataclass(frozen=True)
class HeldOn:
    """The entities of one level on which every needed permission is held.

    ``everywhere``: all of them in the organization. Otherwise, at the workspace
    level, the workspaces in ``workspaces``; at the deployment level, every
    deployment of the workspaces in ``workspaces`` and, besides, those in
    ``deployments``.
    """

    everywhere: bool = False
    workspaces: frozenset[str] = frozenset()
    deployments: frozenset[str] = frozenset()


def held_on(principal: Subject, org_id: str, level: Level, needed: frozenset[Permission]) -> HeldOn:
    """Where ``principal`` holds all of ``needed`` on workspaces or deployments of ``org_id``.

    Exact: an entity is in the answer if and only if the principal holds every one of
    ``needed`` on it, as :func:`~keyplane.domain.access.authorize` decides. Only ids
    named by a binding are tried one by one; every other entity holds what an unbound
    one holds. Each of ``needed`` is told to the principal as used where it was found
    held (on :data:`~keyplane.domain.access.ANY` for "every one").
    """
    found = _held_on(principal, org_id, level, needed)
    for entity in _where(principal, found, org_id, level):
        for permission in in_table_order(needed):
            principal.exercised(permission, entity)
    return found


def _where(principal: Subject, found: HeldOn, org_id: str, level: Level) -> list[Entity]:
    """The entities ``found`` stands for, as :class:`Entity` values."""
    if found.everywhere:
        return [Entity(level, ANY, org_id, ANY)]
    if level is Level.WORKSPACE:
        return [Entity(level, ws, org_id, ws) for ws in sorted(found.workspaces)]
    whole = [Entity(level, ANY, org_id, ws) for ws in sorted(found.workspaces)]
    workspace_of = {
        b.entity_id: b.workspace_id for b in principal.grants.bindings if b.level is level
    }
    return whole + [
        Entity(level, d, org_id, workspace_of.get(d)) for d in sorted(found.deployments)
    ]


def _held_on(
    principal: Subject, org_id: str, level: Level, needed: frozenset[Permission]
) -> HeldOn:
    if level is Level.ORGANIZATION:
        raise ValueError("held_on is for workspaces and deployments")
    grants = principal.grants
    if org_id not in grants.organization_ids():
        return HeldOn()
    if needed <= grants.permissions_at(Entity(level, ANY, org_id, ANY)):
        return HeldOn(everywhere=True)
    own = [b for b in grants.bindings if b.organization_id == org_id]
    candidates = {b.entity_id for b in own if b.level is Level.WORKSPACE}
    candidates |= {b.workspace_id for b in own if b.level is Level.DEPLOYMENT and b.workspace_id}
    if level is Level.WORKSPACE:
        held = {
            ws
            for ws in candidates
            if needed <= grants.permissions_at(Entity(level, ws, org_id, ws))
        }
        return HeldOn(workspaces=frozenset(held))
    whole = {
        ws for ws in candidates if needed <= grants.permissions_at(Entity(level, ANY, org_id, ws))
    }
    single = {
        b.entity_id
        for b in own
        if b.level is Level.DEPLOYMENT
        and b.workspace_id not in whole
        and needed <= grants.permissions_at(Entity(level, b.entity_id, org_id, b.workspace_id))
    }
    return HeldOn(workspaces=frozenset(whole), deployments=frozenset(single))
