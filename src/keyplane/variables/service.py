"""Use cases for deployment environment variables.

Secret values are encrypted with the runtime's SecretBox before they reach the
database and no use case returns them: listing needs ``deployment.env:read`` and
shows names (and plain values); changing needs ``deployment:update``.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from keyplane.auth.principal import Principal
from keyplane.db.models import Deployment
from keyplane.db.paging import PageParams, page_of_query
from keyplane.db.unit import CHECK_AND_CHANGE, DELETE_ROW, RowLock, flush_unique, locked
from keyplane.domain.access import authorize
from keyplane.domain.errors import InvalidInput, NotFound
from keyplane.domain.roles import Permission
from keyplane.secretbox import SecretBox
from keyplane.tenancy.entities import deployment_entity, get_deployment
from keyplane.variables import schemas
from keyplane.variables.models import DeploymentVariable

SORT_COLUMNS: dict[str, ColumnElement[Any]] = {
    "key": DeploymentVariable.key,  # type: ignore[dict-item]
    "createdAt": DeploymentVariable.created_at,  # type: ignore[dict-item]
    "updatedAt": DeploymentVariable.updated_at,  # type: ignore[dict-item]
}


def _deployment(
    db: Session, principal: Principal, org_id: str, dep_id: str, permission: Permission
) -> Deployment:
    deployment = get_deployment(db, org_id, dep_id)
    authorize(principal, permission, deployment_entity(deployment))
    return deployment


def list_variables(
    db: Session, principal: Principal, org_id: str, dep_id: str, page: PageParams
) -> tuple[list[DeploymentVariable], int]:
    _deployment(db, principal, org_id, dep_id, Permission.DEPLOYMENT_ENV_READ)
    query = select(DeploymentVariable).where(DeploymentVariable.deployment_id == dep_id)
    return page_of_query(
        db, query, page.or_sorted_by("key:asc"), SORT_COLUMNS, tiebreak=DeploymentVariable.id
    )


def create_variable(
    db: Session,
    box: SecretBox,
    principal: Principal,
    org_id: str,
    dep_id: str,
    data: schemas.VariableCreate,
) -> DeploymentVariable:
    deployment = _deployment(db, principal, org_id, dep_id, Permission.DEPLOYMENT_UPDATE)
    row = DeploymentVariable(
        organization_id=deployment.organization_id,
        deployment_id=dep_id,
        key=data.key,
        created_by=principal.actor(),
        updated_by=principal.actor(),
    )
    _set_value(row, box, data.value.get_secret_value(), data.is_secret)
    db.add(row)
    flush_unique(
        db,
        f"variable {data.key} already exists on deployment {dep_id}: "
        "change it with `keyplane deployment variable update`",
    )
    return row


def update_variable(
    db: Session,
    box: SecretBox,
    principal: Principal,
    org_id: str,
    dep_id: str,
    key: str,
    change: schemas.VariableUpdate,
) -> DeploymentVariable:
    """Change the value and/or secrecy. A secret never becomes plain without a new value:
    that would reveal it."""
    deployment = _deployment(db, principal, org_id, dep_id, Permission.DEPLOYMENT_UPDATE)
    row = _get(db, dep_id, key, CHECK_AND_CHANGE)
    secret = row.is_secret if change.is_secret is None else change.is_secret
    if change.value is None and secret == row.is_secret:
        # Nothing to change: answered as it is, without touching updatedBy. Its answer
        # holds a plain value, which deployment:update alone may not read.
        if not row.is_secret:
            authorize(principal, Permission.DEPLOYMENT_ENV_READ, deployment_entity(deployment))
        return row
    if change.value is not None:
        _set_value(row, box, change.value.get_secret_value(), secret)
    elif row.is_secret and not secret:
        raise InvalidInput(
            f"variable {key} is secret: its value cannot be revealed; "
            "give a new value to make it plain",
            field_errors={"value": "required to turn a secret into a plain variable"},
        )
    elif secret and not row.is_secret:
        _set_value(row, box, row.value or "", True)
    row.updated_by = principal.actor()
    db.flush()
    return row


def delete_variable(db: Session, principal: Principal, org_id: str, dep_id: str, key: str) -> None:
    _deployment(db, principal, org_id, dep_id, Permission.DEPLOYMENT_UPDATE)
    db.delete(_get(db, dep_id, key, DELETE_ROW))
    db.flush()


def _get(db: Session, dep_id: str, key: str, lock: RowLock | None = None) -> DeploymentVariable:
    """The variable, read under ``lock``: changes of one variable at once take turns, and
    one deleted meanwhile is not found."""
    query = select(DeploymentVariable).where(
        DeploymentVariable.deployment_id == dep_id, DeploymentVariable.key == key
    )
    row = db.scalar(locked(query, lock))
    if row is None:
        raise NotFound(f"variable {key} not found on deployment {dep_id}")
    return row


def _set_value(row: DeploymentVariable, box: SecretBox, value: str, secret: bool) -> None:
    row.is_secret = secret
    if secret:
        row.value, row.encrypted_value = None, box.encrypt(value.encode())
    else:
        row.value, row.encrypted_value = value, None
