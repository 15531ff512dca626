"""HTTP routes for the caller, organizations, workspaces and deployments."""

from __future__ import annotations

from fastapi import Request, Response
from sqlalchemy.orm import Session

from keyplane.audit.notes import changes, detail, note_on_commit
from keyplane.auth.principal import Principal, PrincipalKind
from keyplane.http.answers import cacheable
from keyplane.http.deps import CurrentPrincipal, DbSession, Paging, current_principal
from keyplane.http.responses import SharedResponse
from keyplane.http.routing import APIRouter
from keyplane.tenancy import ended, schemas, service

router = APIRouter(prefix="/v1", tags=["tenancy"])
ORG = "/organizations/{orgId}"


# The first call of every CI job, and the one the auth overhead benchmark measures. It
# resolves the principal without FastAPI's dependency machinery, which costs more than
# authentication itself, and renders the answer once per cached principal (so it is
# cheap even with the answer cache turned off).
self_router = APIRouter(prefix="/v1", tags=["tenancy"])


@self_router.get("/self", response_model=schemas.SelfOut)
@cacheable
async def read_self(request: Request) -> Response:
    principal = await current_principal(request)
    answers = request.scope["app"].runtime.self_answers
    answer: SharedResponse | None = answers.answer(principal, "")
    if answer is None:
        ticket = answers.ticket()
        answer = _self_answer(principal)
        answers.keep(principal, "", b"", ticket, answer)
    return answer


def _self_answer(principal: Principal) -> SharedResponse:
    body = (
        schemas.SelfOut(
            kind=principal.kind.value,
            id=principal.id,
            name=principal.name,
            organization_id=principal.organization_id,
            roles=[
                schemas.RoleOut(entity_type=b.level.value, entity_id=b.entity_id, role=b.role)
                for b in principal.grants.bindings
            ],
            expires_at=principal.expires_at,
            workload_identity=_workload_identity(principal),
        )
        .model_dump_json(by_alias=True)
        .encode()
    )
    return SharedResponse(body)


def _workload_identity(principal: Principal) -> schemas.WorkloadIdentitySelf | None:
    if principal.kind is not PrincipalKind.WORKLOAD_IDENTITY:
        return None
    claims = principal.attested or {}
    return schemas.WorkloadIdentitySelf(id=principal.id, name=principal.name, claims=claims)


@router.get("/organizations", response_model=schemas.OrganizationList)
@cacheable
def list_organizations(db: DbSession, principal: CurrentPrincipal, page: Paging) -> object:
    rows, total = service.list_organizations(db, principal, page)
    return schemas.OrganizationList(
        organizations=rows, offset=page.offset, limit=page.limit, total_count=total
    )


@router.get(ORG, response_model=schemas.OrganizationOut)
@cacheable
def read_organization(orgId: str, db: DbSession, principal: CurrentPrincipal) -> object:
    return service.read_organization(db, principal, orgId)


@router.post(ORG, response_model=schemas.OrganizationOut)
def update_organization(
    orgId: str,
    body: schemas.OrganizationUpdate,
    request: Request,
    db: DbSession,
    principal: CurrentPrincipal,
) -> object:
    answer = schemas.OrganizationOut.model_validate(
        service.update_organization(db, principal, orgId, body)
    )
    changes(request, body, answer)
    return answer


@router.get(ORG + "/workspaces", response_model=schemas.WorkspaceList)
@cacheable
def list_workspaces(orgId: str, db: DbSession, principal: CurrentPrincipal, page: Paging) -> object:
    rows, total = service.list_workspaces(db, principal, orgId, page)
    return schemas.WorkspaceList(
        workspaces=rows, offset=page.offset, limit=page.limit, total_count=total
    )


@router.post(ORG + "/workspaces", response_model=schemas.WorkspaceOut, status_code=201)
def create_workspace(
    orgId: str, body: schemas.WorkspaceCreate, db: DbSession, principal: CurrentPrincipal
) -> object:
    return service.create_workspace(db, principal, orgId, body)


@router.get(ORG + "/workspaces/{workspaceId}", response_model=schemas.WorkspaceOut)
@cacheable
def read_workspace(
    orgId: str, workspaceId: str, db: DbSession, principal: CurrentPrincipal
) -> object:
    return service.read_workspace(db, principal, orgId, workspaceId)


@router.post(ORG + "/workspaces/{workspaceId}", response_model=schemas.WorkspaceOut)
def update_workspace(
    orgId: str,
    workspaceId: str,
    body: schemas.WorkspaceUpdate,
    db: DbSession,
    principal: CurrentPrincipal,
) -> object:
    return service.update_workspace(db, principal, orgId, workspaceId, body)


@router.delete(ORG + "/workspaces/{workspaceId}", status_code=204)
def delete_workspace(
    orgId: str, workspaceId: str, request: Request, db: DbSession, principal: CurrentPrincipal
) -> Response:
    gone = service.delete_workspace(db, principal, orgId, workspaceId)
    _record_ended(request, db, principal, orgId, gone, ("workspace", workspaceId))
    return Response(status_code=204)


@router.get(ORG + "/deployments", response_model=schemas.DeploymentList)
@cacheable
def list_deployments(
    orgId: str,
    db: DbSession,
    principal: CurrentPrincipal,
    page: Paging,
    workspaceId: str | None = None,
) -> object:
    rows, total = service.list_deployments(db, principal, orgId, page, workspaceId)
    return schemas.DeploymentList(
        deployments=rows, offset=page.offset, limit=page.limit, total_count=total
    )


@router.post(ORG + "/deployments", response_model=schemas.DeploymentOut, status_code=201)
def create_deployment(
    orgId: str, body: schemas.DeploymentCreate, db: DbSession, principal: CurrentPrincipal
) -> object:
    return service.create_deployment(db, principal, orgId, body)


@router.get(ORG + "/deployments/{deploymentId}", response_model=schemas.DeploymentOut)
@cacheable
def read_deployment(
    orgId: str, deploymentId: str, db: DbSession, principal: CurrentPrincipal
) -> object:
    return service.read_deployment(db, principal, orgId, deploymentId)


@router.post(ORG + "/deployments/{deploymentId}", response_model=schemas.DeploymentOut)
def update_deployment(
    orgId: str,
    deploymentId: str,
    body: schemas.DeploymentUpdate,
    db: DbSession,
    principal: CurrentPrincipal,
) -> object:
    return service.update_deployment(db, principal, orgId, deploymentId, body)


@router.delete(ORG + "/deployments/{deploymentId}", status_code=204)
def delete_deployment(
    orgId: str, deploymentId: str, request: Request, db: DbSession, principal: CurrentPrincipal
) -> Response:
    gone = service.delete_deployment(db, principal, orgId, deploymentId)
    _record_ended(request, db, principal, orgId, gone, ("deployment", deploymentId))
    return Response(status_code=204)


def _record_ended(
    request: Request,
    db: Session,
    principal: Principal,
    org_id: str,
    gone: list[ended.Ended],
    entity: tuple[str, str],
) -> None:
    """Once the delete commits: each credential that went with it, as its own delete."""
    detail(request, {"credentialsEnded": len(gone)})
    for draft in ended.events(principal, org_id, gone, entity):
        note_on_commit(request, db, draft)
