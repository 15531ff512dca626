"""API models for deploys."""

from __future__ import annotations

from datetime import datetime

from keyplane.deploys.models import Deploy
from keyplane.http.schemas import Actor, ApiModel, Page


class DeployOut(ApiModel):
    id: str
    organization_id: str
    workspace_id: str
    deployment_id: str
    digest: str  # "sha256:<hex>" of the bundle
    size_bytes: int
    description: str
    created_at: datetime
    created_by: Actor
    credential_fingerprint: str | None  # SHA-256 of the credential that pushed it

    @classmethod
    def of(cls, deploy: Deploy) -> DeployOut:
        return cls(
            id=deploy.id,
            organization_id=deploy.organization_id,
            workspace_id=deploy.workspace_id,
            deployment_id=deploy.deployment_id,
            digest=f"sha256:{deploy.digest}",
            size_bytes=deploy.size_bytes,
            description=deploy.description,
            created_at=deploy.created_at,
            created_by=Actor(**deploy.created_by),
            credential_fingerprint=deploy.credential_fingerprint,
        )


class DeployList(Page[DeployOut]):
    deploys: list[DeployOut]
