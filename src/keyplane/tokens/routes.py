"""HTTP routes for API tokens and the role catalogue."""

from __future__ import annotations

from typing import Annotated

from fastapi import Query, Request, Response
from sqlalchemy.orm import Session

from keyplane.audit import notes as audit_notes
from keyplane.db.models import ApiToken, RoleBinding
from keyplane.domain.credentials import PlaintextSecret
from keyplane.domain.roles import Level
from keyplane.http.deps import SHOWS_SECRET, CurrentPrincipal, DbSession, Paging
from keyplane.http.routing import APIRouter
from keyplane.http.schemas import Actor
from keyplane.tenancy.granting import described
from keyplane.tenancy.schemas import RoleOut
from keyplane.tokens import audit as token_audit
from keyplane.tokens import schemas, service

router = APIRouter(prefix="/v1/organizations/{orgId}", tags=["tokens"])
TOKEN = "/tokens/{tokenId}"


def token_out(
    token: ApiToken, bindings: list[RoleBinding], value: PlaintextSecret | None = None
) -> schemas.TokenOut:
    return schemas.TokenOut(
        id=token.id,
        name=token.name,
        description=token.description,
        short_token=token.short_token,
        scope=Level(token.scope),
        entity_id=token.deployment_id or token.workspace_id or token.organization_id,
        roles=[
            RoleOut(entity_type=b.level, entity_id=b.entity_id, role=b.role)
            for b in sorted(bindings, key=lambda b: (b.level != token.scope, b.level, b.entity_id))
        ],
        start_at=token.start_at,
        end_at=token.end_at,
        expiry_period_in_days=token.expiry_period_days,
        allowed_ip_ranges=token.allowed_ip_ranges,
        last_used_at=token.last_used_at,
        last_rotated_at=token.last_rotated_at,
        created_at=token.created_at,
        updated_at=token.updated_at,
        created_by=Actor(**token.created_by),
        updated_by=Actor(**token.updated_by),
        token=value,
    )


def _one(db: Session, token: ApiToken, value: PlaintextSecret | None = None) -> schemas.TokenOut:
    return token_out(token, service.roles_of(db, [token])[token.id], value)


@router.get("/tokens", response_model=schemas.TokenList, response_model_exclude_none=False)
def list_tokens(
    orgId: str,
    db: DbSession,
    principal: CurrentPrincipal,
    page: Paging,
    workspaceId: str | None = None,
    deploymentId: str | None = None,
    scope: Level | None = None,
    expiringWithinDays: Annotated[
        int | None,
        Query(ge=0, le=3650, description="only tokens still valid that expire within N days"),
    ] = None,
) -> schemas.TokenList:
    rows, total = service.list_tokens(
        db, principal, orgId, page, workspaceId, deploymentId, scope, expiringWithinDays
    )
    roles = service.roles_of(db, rows)
    return schemas.TokenList(
        tokens=[token_out(t, roles[t.id]) for t in rows],
        offset=page.offset,
        limit=page.limit,
        total_count=total,
    )


@router.post(
    "/tokens", response_model=schemas.TokenOut, status_code=201, dependencies=[SHOWS_SECRET]
)
def create_token(
    orgId: str,
    body: schemas.TokenCreate,
    request: Request,
    db: DbSession,
    principal: CurrentPrincipal,
) -> schemas.TokenOut:
    token, value = service.create_token(db, principal, orgId, body)
    audit_notes.detail(request, token_audit.created(token, body.role))
    return _one(db, token, value)


@router.get(TOKEN, response_model=schemas.TokenOut)
def read_token(
    orgId: str, tokenId: str, db: DbSession, principal: CurrentPrincipal
) -> schemas.TokenOut:
    return _one(db, service.get_token(db, principal, orgId, tokenId))


@router.post(TOKEN, response_model=schemas.TokenOut)
def update_token(
    orgId: str,
    tokenId: str,
    body: schemas.TokenUpdate,
    request: Request,
    db: DbSession,
    principal: CurrentPrincipal,
) -> schemas.TokenOut:
    answer = _one(db, service.update_token(db, principal, orgId, tokenId, body))
    audit_notes.changes(request, body, answer)
    return answer


@router.post(TOKEN + "/roles", response_model=schemas.TokenOut)
def replace_token_roles(
    orgId: str,
    tokenId: str,
    body: schemas.TokenRolesUpdate,
    request: Request,
    db: DbSession,
    principal: CurrentPrincipal,
) -> schemas.TokenOut:
    token, previous = service.replace_roles(db, principal, orgId, tokenId, body)
    roles = service.roles_of(db, [token])[token.id]
    audit_notes.detail(request, {"previousRoles": previous, "roles": described(roles)})
    return token_out(token, roles)


@router.post(TOKEN + "/rotate", response_model=schemas.TokenOut, dependencies=[SHOWS_SECRET])
def rotate_token(
    orgId: str, tokenId: str, db: DbSession, principal: CurrentPrincipal
) -> schemas.TokenOut:
    token, value = service.rotate_token(db, principal, orgId, tokenId)
    return _one(db, token, value)


@router.delete(TOKEN, status_code=204)
def delete_token(orgId: str, tokenId: str, db: DbSession, principal: CurrentPrincipal) -> Response:
    service.delete_token(db, principal, orgId, tokenId)
    return Response(status_code=204)
