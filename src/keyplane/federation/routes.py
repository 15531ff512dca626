"""HTTP routes for workload identities (trust policies of the token exchange)."""

from __future__ import annotations

from fastapi import Request, Response

from keyplane.audit import notes as audit_notes
from keyplane.db.models import WorkloadIdentity
from keyplane.domain.roles import Level
from keyplane.federation import audit as identity_audit
from keyplane.federation import schemas, service
from keyplane.http.deps import CurrentPrincipal, DbSession, Paging, get_runtime
from keyplane.http.routing import APIRouter
from keyplane.http.schemas import Actor

router = APIRouter(
    prefix="/v1/organizations/{orgId}/workload-identities", tags=["workload identities"]
)
ONE = "/{identityId}"


def identity_out(identity: WorkloadIdentity) -> schemas.WorkloadIdentityOut:
    return schemas.WorkloadIdentityOut(
        id=identity.id,
        name=identity.name,
        description=identity.description,
        issuer=identity.issuer,
        audience=identity.audience,
        conditions=identity.conditions,
        scope=Level(identity.scope),
        entity_id=identity.entity_id,
        role=identity.role,
        token_lifetime_seconds=identity.token_lifetime_seconds,
        created_at=identity.created_at,
        updated_at=identity.updated_at,
        created_by=Actor(**identity.created_by),
        updated_by=Actor(**identity.updated_by),
        last_used_at=identity.last_used_at,
    )


@router.get("", response_model=schemas.WorkloadIdentityList)
def list_identities(
    orgId: str, db: DbSession, principal: CurrentPrincipal, page: Paging
) -> schemas.WorkloadIdentityList:
    rows, total = service.list_identities(db, principal, orgId, page)
    return schemas.WorkloadIdentityList(
        workload_identities=[identity_out(row) for row in rows],
        offset=page.offset,
        limit=page.limit,
        total_count=total,
    )


@router.post("", response_model=schemas.WorkloadIdentityOut, status_code=201)
def create_identity(
    orgId: str,
    body: schemas.WorkloadIdentityCreate,
    request: Request,
    db: DbSession,
    principal: CurrentPrincipal,
) -> schemas.WorkloadIdentityOut:
    settings = get_runtime(request).settings
    made = service.create_identity(db, principal, settings, orgId, body)
    audit_notes.detail(request, identity_audit.created(made))
    return identity_out(made)


@router.get(ONE, response_model=schemas.WorkloadIdentityOut)
def read_identity(
    orgId: str, identityId: str, db: DbSession, principal: CurrentPrincipal
) -> schemas.WorkloadIdentityOut:
    return identity_out(service.get_identity(db, principal, orgId, identityId))


@router.post(ONE, response_model=schemas.WorkloadIdentityOut)
def update_identity(
    orgId: str,
    identityId: str,
    body: schemas.WorkloadIdentityUpdate,
    request: Request,
    db: DbSession,
    principal: CurrentPrincipal,
) -> schemas.WorkloadIdentityOut:
    settings = get_runtime(request).settings
    answer = identity_out(service.update_identity(db, principal, settings, orgId, identityId, body))
    audit_notes.changes(request, body, answer)
    return answer


@router.delete(ONE, status_code=204)
def delete_identity(
    orgId: str, identityId: str, db: DbSession, principal: CurrentPrincipal
) -> Response:
    service.delete_identity(db, principal, orgId, identityId)
    return Response(status_code=204)
