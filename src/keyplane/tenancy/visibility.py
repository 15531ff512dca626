"""Where a principal holds permissions, as ``WHERE`` clauses built from its grants alone.

:func:`keyplane.domain.visibility.held_on` says, from the bindings, where a principal
holds some permissions; these helpers turn that into a condition on the ids of a
query's rows, so that a listing reads only what it returns, on the indexes of
``workspace_id`` and ``deployment_id``.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import SQLColumnExpression, false, or_, select, true
from sqlalchemy.sql.elements import ColumnElement

from keyplane.auth.principal import Principal
from keyplane.db.models import Deployment
from keyplane.domain.roles import READ_PERMISSION, Level, Permission
from keyplane.domain.visibility import HeldOn, held_on

Column = SQLColumnExpression[Any]


def where_workspaces(
    principal: Principal, org_id: str, workspace_id: Column, *needed: Permission
) -> ColumnElement[bool]:
    """Rows whose workspace the principal holds ``needed`` on (default: can see)."""
    found = held_on(principal, org_id, Level.WORKSPACE, _needed(Level.WORKSPACE, needed))
    if found.everywhere:
        return true()
    return workspace_id.in_(sorted(found.workspaces)) if found.workspaces else false()


def where_deployments(
    principal: Principal,
    org_id: str,
    deployment_id: Column,
    workspace_id: Column | None,
    *needed: Permission,
) -> ColumnElement[bool]:
    """Rows whose deployment the principal holds ``needed`` on (default: can see).

    ``workspace_id`` is the rows' own workspace column; for rows that have none
    (deployment tokens), pass None and the deployment's workspace is looked up in a
    subquery on the deployments' workspace index.
    """
    found = held_on(principal, org_id, Level.DEPLOYMENT, _needed(Level.DEPLOYMENT, needed))
    return _deployment_condition(found, deployment_id, workspace_id)


def _deployment_condition(
    found: HeldOn, deployment_id: Column, workspace_id: Column | None
) -> ColumnElement[bool]:
    if found.everywhere:
        return true()
    conditions: list[ColumnElement[bool]] = []
    if found.workspaces:
        workspaces = sorted(found.workspaces)
        if workspace_id is None:
            inside = select(Deployment.id).where(Deployment.workspace_id.in_(workspaces))
            conditions.append(deployment_id.in_(inside))
        else:
            conditions.append(workspace_id.in_(workspaces))
    if found.deployments:
        conditions.append(deployment_id.in_(sorted(found.deployments)))
    return or_(*conditions) if conditions else false()


def _needed(level: Level, needed: tuple[Permission, ...]) -> frozenset[Permission]:
    return frozenset(needed or (READ_PERMISSION[level],))
