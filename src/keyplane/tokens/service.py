"""Use cases for API tokens: create, list, read, update, replace roles, rotate, delete."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime, timedelta

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from keyplane.auth.grants import load_grants
from keyplane.auth.principal import Principal
from keyplane.auth.tokens import token_entity
from keyplane.db.base import utcnow
from keyplane.db.models import ApiToken, RoleBinding
from keyplane.db.paging import PageParams, page_of_query
from keyplane.db.unit import CHECK_AND_CHANGE, DELETE_ROW, RowLock, credentials_changed
from keyplane.domain import credentials
from keyplane.domain.access import Entity, authorize, authorize_managing, holds
from keyplane.domain.credentials import PlaintextSecret, SecretKind
from keyplane.domain.errors import Conflict, NotFound
from keyplane.domain.roles import Level, Permission
from keyplane.tenancy.entities import get_entity, scope_entity
from keyplane.tenancy.granting import EXTRA_LEVELS, check_grantable, described
from keyplane.tenancy.visibility import where_deployments, where_workspaces
from keyplane.tokens import schemas

MANAGE = {
    Level.ORGANIZATION: Permission.ORGANIZATION_TOKENS_MANAGE,
    Level.WORKSPACE: Permission.WORKSPACE_TOKENS_MANAGE,
    Level.DEPLOYMENT: Permission.DEPLOYMENT_TOKENS_MANAGE,
}
KIND = {
    Level.ORGANIZATION: SecretKind.ORGANIZATION_TOKEN,
    Level.WORKSPACE: SecretKind.WORKSPACE_TOKEN,
    Level.DEPLOYMENT: SecretKind.DEPLOYMENT_TOKEN,
}
SORT_COLUMNS: dict[str, ColumnElement[object]] = {
    "name": ApiToken.name,  # type: ignore[dict-item]
    "createdAt": ApiToken.created_at,  # type: ignore[dict-item]
    "updatedAt": ApiToken.updated_at,  # type: ignore[dict-item]
    "endAt": ApiToken.end_at,  # type: ignore[dict-item]
    "lastUsedAt": ApiToken.last_used_at,  # type: ignore[dict-item]
}


def create_token(
    db: Session, principal: Principal, org_id: str, data: schemas.TokenCreate
) -> tuple[ApiToken, PlaintextSecret]:
    """Create a token holding one role on its own entity; returns it with its value.

    The value exists only in the return value: the database keeps its SHA-256.
    """
    own = scope_entity(db, org_id, data.scope, data.entity_id, "token")
    authorize(principal, MANAGE[data.scope], own)
    roles = check_grantable(
        db, principal, org_id, [(data.scope, own.id, data.role)], own, EXTRA_LEVELS[data.scope]
    )
    value = credentials.generate(KIND[data.scope])
    now = utcnow()
    token = ApiToken(
        organization_id=org_id,
        workspace_id=own.id if own.level is Level.WORKSPACE else None,
        deployment_id=own.id if own.level is Level.DEPLOYMENT else None,
        scope=data.scope.value,
        name=data.name,
        description=data.description,
        secret_hash=credentials.hash_secret(value),
        short_token=credentials.short(value),
        expiry_period_days=data.token_expiry_period_in_days,
        start_at=now,
        end_at=_end(now, data.token_expiry_period_in_days),
        allowed_ip_ranges=data.allowed_ip_ranges or [],
        created_by=principal.actor(),
        updated_by=principal.actor(),
    )
    db.add(token)
    db.flush()
    _bind(db, token, roles)
    db.flush()
    return token, value


def list_tokens(
    db: Session,
    principal: Principal,
    org_id: str,
    page: PageParams,
    workspace_id: str | None = None,
    deployment_id: str | None = None,
    scope: Level | None = None,
    expiring_within_days: int | None = None,
) -> tuple[list[ApiToken], int]:
    """Tokens the principal may manage; with an entity filter, those holding a role on it;
    with ``expiring_within_days``, those still valid that expire within that many days."""
    authorize(principal, None, Entity.organization(org_id))
    query = select(ApiToken).where(ApiToken.organization_id == org_id)
    for level, entity_id in ((Level.WORKSPACE, workspace_id), (Level.DEPLOYMENT, deployment_id)):
        if entity_id:
            authorize(principal, MANAGE[level], get_entity(db, org_id, level, entity_id))
            holders = select(RoleBinding.token_id).where(RoleBinding.entity_id == entity_id)
            query = query.where(ApiToken.id.in_(holders))
    if scope:
        query = query.where(ApiToken.scope == scope.value)
    if expiring_within_days is not None:
        now = utcnow()
        query = query.where(
            ApiToken.end_at > now, ApiToken.end_at <= now + timedelta(days=expiring_within_days)
        )
    visible = _manageable_filter(principal, org_id)
    if visible is not None:
        query = query.where(visible)
    return page_of_query(db, query, page, SORT_COLUMNS, tiebreak=ApiToken.id)


def _manageable_filter(principal: Principal, org_id: str) -> ColumnElement[bool] | None:
    """A SQL condition for tokens this principal may manage; None: all in the organization.

    Built from the principal's grants alone: it reads no workspace or deployment.
    """
    if holds(principal, Permission.ORGANIZATION_TOKENS_MANAGE, Entity.organization(org_id)):
        return None
    workspaces = where_workspaces(
        principal, org_id, ApiToken.workspace_id, Permission.WORKSPACE_TOKENS_MANAGE
    )
    deployments = where_deployments(
        principal, org_id, ApiToken.deployment_id, None, Permission.DEPLOYMENT_TOKENS_MANAGE
    )
    return or_(
        (ApiToken.scope == Level.WORKSPACE.value) & workspaces,
        (ApiToken.scope == Level.DEPLOYMENT.value) & deployments,
    )


def get_token(
    db: Session, principal: Principal, org_id: str, token_id: str, lock: RowLock | None = None
) -> ApiToken:
    """A token whose entity's tokens the principal may manage, read under ``lock``.

    Raises NotFound if it cannot see that entity, Forbidden without the permission.
    """
    token = db.get(ApiToken, token_id, with_for_update=lock)
    if token is None or token.organization_id != org_id:
        raise NotFound(f"API token {token_id} not found")
    entity = token_entity(db, token)
    authorize(principal, MANAGE[entity.level], entity, asked_for=f"API token {token_id}")
    return token


def _managed_token(
    db: Session,
    principal: Principal,
    org_id: str,
    token_id: str,
    action: str,
    lock: RowLock | None = CHECK_AND_CHANGE,
) -> ApiToken:
    """A token the principal may change: as :func:`get_token`, and the principal holds
    everything the token holds; Forbidden naming what it lacks otherwise.

    Read under the row's lock, so that changes of one token at once take turns (each
    sees what the one before left; a delete finds nothing left to delete).
    """
    token = get_token(db, principal, org_id, token_id, lock)
    authorize_managing(principal, load_grants(db, token.id), f"{action} API token {token_id}")
    return token


def update_token(
    db: Session, principal: Principal, org_id: str, token_id: str, change: schemas.TokenUpdate
) -> ApiToken:
    token = _managed_token(db, principal, org_id, token_id, "update")
    if change.name is not None:
        token.name = change.name
    if change.description is not None:
        token.description = change.description
    if change.allowed_ip_ranges is not None:
        token.allowed_ip_ranges = change.allowed_ip_ranges
    token.updated_by = principal.actor()
    credentials_changed(db)  # the cached principal carries the name and the ranges
    db.flush()
    return token


def replace_roles(
    db: Session,
    principal: Principal,
    org_id: str,
    token_id: str,
    change: schemas.TokenRolesUpdate,
) -> tuple[ApiToken, list[str]]:
    """The token with its new roles, and its roles before (``described``)."""
    token = _managed_token(db, principal, org_id, token_id, "change the roles of")
    own = token_entity(db, token)
    wanted = [(r.entity_type, r.entity_id, r.role) for r in change.roles]
    roles = check_grantable(db, principal, org_id, wanted, own, EXTRA_LEVELS[own.level])
    before = list(db.scalars(select(RoleBinding).where(RoleBinding.token_id == token.id)))
    previous = described(before)
    for binding in before:
        db.delete(binding)
    db.flush()
    _bind(db, token, roles)
    token.updated_by = principal.actor()
    token.updated_at = utcnow()
    credentials_changed(db)
    db.flush()
    return token, previous


def rotate_token(
    db: Session, principal: Principal, org_id: str, token_id: str
) -> tuple[ApiToken, PlaintextSecret]:
    """Give the token a new value; the old one stops working at once.

    The expiry period, if any, starts again from now. The new value replaces the one
    read here by compare-and-set, so of concurrent rotations, on any replica, one
    wins and the others raise Conflict (each would otherwise answer a value that the
    next one at once makes void).
    """
    # No lock: concurrent rotations must not take turns (each would win in turn).
    token = _managed_token(db, principal, org_id, token_id, "rotate", lock=None)
    value = credentials.generate(KIND[Level(token.scope)])
    now = utcnow()
    swapped = db.execute(
        update(ApiToken)
        .where(ApiToken.id == token.id, ApiToken.secret_hash == token.secret_hash)
        .values(
            secret_hash=credentials.hash_secret(value),
            short_token=credentials.short(value),
            last_rotated_at=now,
            start_at=now,
            end_at=_end(now, token.expiry_period_days),
            updated_at=now,
            updated_by=principal.actor(),
        )
        .returning(ApiToken.id)
        .execution_options(synchronize_session="fetch")
    ).scalar_one_or_none()
    if swapped is None:
        raise Conflict(
            "this token was rotated by another request at the same moment: use its value"
        )
    credentials_changed(db)
    db.flush()
    return token, value


def delete_token(db: Session, principal: Principal, org_id: str, token_id: str) -> None:
    token = _managed_token(db, principal, org_id, token_id, "delete", lock=DELETE_ROW)
    db.delete(token)
    credentials_changed(db)
    db.flush()


def roles_of(db: Session, tokens: list[ApiToken]) -> dict[str, list[RoleBinding]]:
    """Role bindings of several tokens, in one query."""
    found: dict[str, list[RoleBinding]] = defaultdict(list)
    ids = [t.id for t in tokens]
    if ids:
        for binding in db.scalars(select(RoleBinding).where(RoleBinding.token_id.in_(ids))):
            found[binding.subject_id].append(binding)
    return found


def _bind(db: Session, token: ApiToken, roles: list[tuple[Entity, str]]) -> None:
    for entity, role in roles:
        db.add(
            RoleBinding(
                subject_id=token.id,
                token_id=token.id,
                level=entity.level.value,
                entity_id=entity.id,
                role=role,
                organization_id=entity.organization_id,
                workspace_id=entity.workspace_id,
                deployment_id=entity.id if entity.level is Level.DEPLOYMENT else None,
            )
        )


def _end(start: datetime, days: int | None) -> datetime | None:
    return start + timedelta(days=days) if days else None
