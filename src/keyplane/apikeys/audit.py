"""What the audit trail keeps of a new deployment API key: never its secret."""

from __future__ import annotations

from typing import Any

from keyplane.apikeys.models import DeploymentApiKey
from keyplane.domain.roles import DEPLOYMENT_ADMIN


def created(key: DeploymentApiKey) -> dict[str, Any]:
    """The details of ``api_key.create``: its name, deployment and the role it acts as."""
    return {"name": key.name, "deploymentId": key.deployment_id, "role": DEPLOYMENT_ADMIN}
