"""HTTP routes for deploys: push a bundle, list, read, download."""

from __future__ import annotations

import base64
import re
from typing import Annotated, Protocol

from fastapi import Query, Request
from fastapi.responses import StreamingResponse

from keyplane.audit import notes as audit_notes
from keyplane.deploys import service, upload
from keyplane.deploys.schemas import DeployList, DeployOut
from keyplane.deploys.store import BundleStore
from keyplane.http.deps import CurrentPrincipal, DbSession, Paging, current_principal
from keyplane.http.process import Process, process_of
from keyplane.http.routing import APIRouter

router = APIRouter(
    prefix="/v1/organizations/{orgId}/deployments/{deploymentId}/deploys", tags=["deploys"]
)
# The upload route reads its body as a stream and enforces its own size limit, so the
# generic body limit must let it through.
UPLOAD_PATHS = re.compile(r"/v1/organizations/[^/]+/deployments/[^/]+/deploys/?")


class DeploysProcess(Process, Protocol):
    """What these routes need of the process: also where bundles are stored."""

    @property
    def bundle_store(self) -> BundleStore: ...


BUNDLE_BODY = {
    "requestBody": {
        "required": True,
        "description": "The bundle: a gzip-compressed tar of the project folder.",
        "content": {"application/gzip": {"schema": {"type": "string", "format": "binary"}}},
    }
}


@router.post("", response_model=DeployOut, status_code=201, openapi_extra=BUNDLE_BODY)
async def create_deploy(
    orgId: str,
    deploymentId: str,
    request: Request,
    principal: CurrentPrincipal,
    description: Annotated[str, Query(max_length=2000)] = "",
    sha256: Annotated[
        str | None,
        Query(pattern="^[0-9a-f]{64}$", description="Expected SHA-256 of the body (hex)."),
    ] = None,
) -> DeployOut:
    """Push a bundle (the raw body, streamed). Needs ``deployment:deploy``."""
    length = request.headers.get("content-length")
    runtime: DeploysProcess = process_of(request)
    deploy = await service.create_deploy(
        runtime.sessions,
        runtime.bundle_store,
        upload.Limits.of(runtime.settings),
        principal,
        orgId,
        deploymentId,
        request.stream(),
        principal_now=lambda: current_principal(request),
        declared_size=int(length) if length and length.isdigit() else None,
        description=description,
        expected_sha256=sha256,
    )
    audit_notes.detail(
        request,
        {
            "digest": f"sha256:{deploy.digest}",
            "sizeBytes": deploy.size_bytes,
            "description": deploy.description,
        },
    )
    return DeployOut.of(deploy)


@router.get("", response_model=DeployList)
def list_deploys(
    orgId: str, deploymentId: str, db: DbSession, principal: CurrentPrincipal, page: Paging
) -> DeployList:
    rows, total = service.list_deploys(db, principal, orgId, deploymentId, page)
    return DeployList(
        deploys=[DeployOut.of(row) for row in rows],
        offset=page.offset,
        limit=page.limit,
        total_count=total,
    )


@router.get("/{deployId}", response_model=DeployOut)
def read_deploy(
    orgId: str, deploymentId: str, deployId: str, db: DbSession, principal: CurrentPrincipal
) -> DeployOut:
    return DeployOut.of(service.get_deploy(db, principal, orgId, deploymentId, deployId))


@router.get(
    "/{deployId}/bundle",
    response_class=StreamingResponse,
    responses={200: {"content": {"application/gzip": {}}, "description": "The bundle"}},
)
def download_bundle(
    orgId: str,
    deploymentId: str,
    deployId: str,
    request: Request,
    db: DbSession,
    principal: CurrentPrincipal,
) -> StreamingResponse:
    """The bundle, for the deployment's runtime (a Deployment token with ``deployment:read``)."""
    runtime: DeploysProcess = process_of(request)
    deploy, chunks = service.open_bundle(
        runtime.bundle_store, db, principal, orgId, deploymentId, deployId
    )
    digest = base64.b64encode(bytes.fromhex(deploy.digest)).decode()
    return StreamingResponse(
        chunks,
        media_type="application/gzip",
        headers={
            "Content-Length": str(deploy.size_bytes),
            "Content-Digest": f"sha-256=:{digest}:",
            "ETag": f'"sha256:{deploy.digest}"',
            "Content-Disposition": f'attachment; filename="{deploy.id}.tar.gz"',
        },
    )
