"""HTTP routes for SSO connections."""

from __future__ import annotations

from fastapi import Request, Response
from sqlalchemy.orm import Session

from keyplane.audit import notes as audit_notes
from keyplane.http.deps import CurrentPrincipal, DbSession, Paging, get_runtime
from keyplane.http.routing import APIRouter
from keyplane.identity import sso
from keyplane.identity import sso_schemas as schemas
from keyplane.identity.models import SsoConnection

router = APIRouter(prefix="/v1/organizations/{orgId}/sso-connections", tags=["sso"])


def connection_out(db: Session, row: SsoConnection) -> schemas.SsoConnectionOut:
    claims = sso.domains_of(db, [row.id])[row.id]
    return schemas.SsoConnectionOut(
        id=row.id,
        name=row.name,
        issuer=row.issuer,
        client_id=row.client_id,
        domains=[claim.domain for claim in claims],
        verified_domains=sso.verified_domains(claims),
        default_role=row.default_role,
        enforce_sso=row.enforce_sso,
        created_at=row.created_at,
        updated_at=row.updated_at,
        created_by=row.created_by,
    )


@router.get("", response_model=schemas.SsoConnectionList)
def list_connections(
    orgId: str, db: DbSession, principal: CurrentPrincipal, page: Paging
) -> object:
    rows, total = sso.list_connections(db, principal, orgId, page)
    return schemas.SsoConnectionList(
        connections=[connection_out(db, r) for r in rows],
        offset=page.offset,
        limit=page.limit,
        total_count=total,
    )


@router.post("", response_model=schemas.SsoConnectionOut, status_code=201)
def create_connection(
    orgId: str,
    body: schemas.SsoConnectionCreate,
    request: Request,
    db: DbSession,
    principal: CurrentPrincipal,
) -> object:
    box = get_runtime(request).secret_box
    return connection_out(db, sso.create_connection(db, principal, box, orgId, body))


@router.get("/{connectionId}", response_model=schemas.SsoConnectionOut)
def read_connection(
    orgId: str, connectionId: str, db: DbSession, principal: CurrentPrincipal
) -> object:
    return connection_out(db, sso.get_connection(db, principal, orgId, connectionId))


@router.post("/{connectionId}", response_model=schemas.SsoConnectionOut)
def update_connection(
    orgId: str,
    connectionId: str,
    body: schemas.SsoConnectionUpdate,
    request: Request,
    db: DbSession,
    principal: CurrentPrincipal,
) -> object:
    box = get_runtime(request).secret_box
    answer = connection_out(
        db, sso.update_connection(db, principal, box, orgId, connectionId, body)
    )
    audit_notes.changes(request, body, answer, secret={"clientSecret"})  # named, never shown
    return answer


@router.delete("/{connectionId}", status_code=204)
def delete_connection(
    orgId: str, connectionId: str, db: DbSession, principal: CurrentPrincipal
) -> Response:
    sso.delete_connection(db, principal, orgId, connectionId)
    return Response(status_code=204)
