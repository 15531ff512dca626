"""The principal behind a deployment API key: DEPLOYMENT_ADMIN on its deployment, nothing else."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

from sqlalchemy import select
from sqlalchemy.orm import Session

from keyplane.apikeys.models import DeploymentApiKey
from keyplane.auth.principal import Principal, PrincipalKind
from keyplane.db.models import Organization
from keyplane.domain.access import Binding, Grants
from keyplane.domain.errors import NotAuthenticated
from keyplane.domain.networks import AllowedRanges
from keyplane.domain.roles import DEPLOYMENT_ADMIN, Level

KEYS_DISABLED = (
    "deployment API keys are switched off for this organization (setting apiKeysEnabled): "
    "use a deployment API token instead (`keyplane deployment api-key migrate`)"
)


@dataclass(frozen=True)
class KeyRecord:
    """What the token endpoint needs to know of a key, cached by secret hash."""

    id: str
    name: str
    organization_id: str
    workspace_id: str
    deployment_id: str
    enabled: bool  # the organization's apiKeysEnabled
    allowed_ranges: AllowedRanges | None = None  # the organization's allowedIpRanges

    @cached_property  # a record lives in the token endpoint's cache: build this once
    def principal(self) -> Principal:
        grants = key_grants(self.organization_id, self.workspace_id, self.deployment_id)
        return Principal(
            kind=PrincipalKind.DEPLOYMENT_KEY,
            id=self.id,
            name=self.name,
            grants=grants,
            organization_id=self.organization_id,
            scope_entity=grants.bindings[0].entity,
        )


def key_grants(organization_id: str, workspace_id: str, deployment_id: str) -> Grants:
    """What a key of this deployment holds: DEPLOYMENT_ADMIN there, nothing else."""
    binding = Binding(
        level=Level.DEPLOYMENT,
        entity_id=deployment_id,
        role=DEPLOYMENT_ADMIN,
        organization_id=organization_id,
        workspace_id=workspace_id,
    )
    return Grants.of([binding])


def _record(db: Session, condition: object) -> KeyRecord | None:
    row = db.execute(
        select(DeploymentApiKey, Organization.api_keys_enabled, Organization.allowed_ip_ranges)
        .join(Organization, Organization.id == DeploymentApiKey.organization_id)
        .where(condition)  # type: ignore[arg-type]
    ).first()
    if row is None:
        return None
    key, enabled, ranges = row
    return KeyRecord(
        key.id,
        key.name,
        key.organization_id,
        key.workspace_id,
        key.deployment_id,
        enabled,
        AllowedRanges.of(ranges),
    )


def key_by_secret_hash(db: Session, secret_hash: str) -> KeyRecord | None:
    return _record(db, DeploymentApiKey.secret_hash == secret_hash)


def key_by_id(db: Session, key_id: str) -> KeyRecord | None:
    return _record(db, DeploymentApiKey.id == key_id)


def load_key_principal(db: Session, key_id: str) -> Principal:
    """The principal of a key that still exists and may be used; NotAuthenticated otherwise."""
    record = key_by_id(db, key_id)
    if record is None:
        raise NotAuthenticated(
            f"deployment API key {key_id} no longer exists: it was deleted, or its deployment was"
        )
    if not record.enabled:
        raise NotAuthenticated(KEYS_DISABLED)
    return record.principal
