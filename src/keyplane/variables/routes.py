"""HTTP routes for deployment environment variables."""

from __future__ import annotations

from fastapi import Request, Response

from keyplane.audit import notes as audit_notes
from keyplane.domain.credentials import recorded
from keyplane.http.deps import CurrentPrincipal, DbSession, Paging, get_runtime
from keyplane.http.routing import APIRouter
from keyplane.variables import schemas, service

router = APIRouter(
    prefix="/v1/organizations/{orgId}/deployments/{deploymentId}/variables",
    tags=["deployment variables"],
)


@router.get("", response_model=schemas.VariableList)
def list_variables(
    orgId: str, deploymentId: str, db: DbSession, principal: CurrentPrincipal, page: Paging
) -> schemas.VariableList:
    """Names and plain values (``deployment.env:read``); secret values are never returned."""
    rows, total = service.list_variables(db, principal, orgId, deploymentId, page)
    return schemas.VariableList(
        variables=[schemas.VariableOut.of(r) for r in rows],
        offset=page.offset,
        limit=page.limit,
        total_count=total,
    )


@router.post("", response_model=schemas.VariableOut, status_code=201)
def create_variable(
    orgId: str,
    deploymentId: str,
    body: schemas.VariableCreate,
    request: Request,
    db: DbSession,
    principal: CurrentPrincipal,
) -> schemas.VariableOut:
    box = get_runtime(request).secret_box
    row = service.create_variable(db, box, principal, orgId, deploymentId, body)
    # Its key, as the paths of its update and delete name it (the key is unique in
    # its deployment, which the event's params name).
    audit_notes.target(request, "variable", recorded(row.key))
    return schemas.VariableOut.of(row)


@router.post("/{variableKey}", response_model=schemas.VariableOut)
def update_variable(
    orgId: str,
    deploymentId: str,
    variableKey: str,
    body: schemas.VariableUpdate,
    request: Request,
    db: DbSession,
    principal: CurrentPrincipal,
) -> schemas.VariableOut:
    box = get_runtime(request).secret_box
    row = service.update_variable(db, box, principal, orgId, deploymentId, variableKey, body)
    return schemas.VariableOut.of(row)


@router.delete("/{variableKey}", status_code=204)
def delete_variable(
    orgId: str, deploymentId: str, variableKey: str, db: DbSession, principal: CurrentPrincipal
) -> Response:
    service.delete_variable(db, principal, orgId, deploymentId, variableKey)
    return Response(status_code=204)
