"""What the exchange and the verifier need of a workload identity, and its principal."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from keyplane.auth.principal import Principal, PrincipalKind
from keyplane.db.models import Organization, WorkloadIdentity
from keyplane.domain.access import Binding, Entity, Grants
from keyplane.domain.errors import NotAuthenticated
from keyplane.domain.networks import AllowedRanges
from keyplane.domain.roles import Level, Permission
from keyplane.federation.conditions import Conditions
from keyplane.oauth.subjects import INVALID
from keyplane.tenancy.granting import custom_roles

# The claims an exchanged token carries (``kp_wi``) and /v1/self shows, when present.
ATTESTED = ("repository", "ref", "environment", "sub")
GONE = "the workload identity behind this access token was deleted"
CHANGED = (
    "the workload identity's conditions or audience changed after this token was issued: "
    "exchange a new ID token"
)


@dataclass(frozen=True)
class IdentityRecord:
    """A workload identity as of one read; cached by id until any credential changes."""

    id: str
    name: str
    organization_id: str
    workspace_id: str | None
    level: Level
    entity_id: str
    role: str
    issuer: str
    audience: str
    conditions: Conditions
    lifetime: int
    revision: int
    custom_permissions: frozenset[Permission] | None = None
    # The organization's allowedIpRanges, checked at the exchange.
    allowed_ranges: AllowedRanges | None = field(default=None, compare=False)
    grants: Grants = field(init=False, compare=False)

    def __post_init__(self) -> None:
        binding = Binding(
            level=self.level,
            entity_id=self.entity_id,
            role=self.role,
            organization_id=self.organization_id,
            workspace_id=self.workspace_id,
            custom_permissions=self.custom_permissions,
        )
        object.__setattr__(self, "grants", Grants.of([binding]))

    @property
    def entity(self) -> Entity:
        return self.grants.bindings[0].entity

    def principal(self, attested: dict[str, str] | None = None) -> Principal:
        return Principal(
            kind=PrincipalKind.WORKLOAD_IDENTITY,
            id=self.id,
            name=self.name,
            grants=self.grants,
            organization_id=self.organization_id,
            scope_entity=self.entity,
            attested=attested,
        )


def record_of(db: Session, row: WorkloadIdentity) -> IdentityRecord:
    level = Level(row.scope)
    custom = None
    if level is Level.DEPLOYMENT:
        custom = custom_roles(db, row.organization_id).get(row.role)
    return IdentityRecord(
        id=row.id,
        name=row.name,
        organization_id=row.organization_id,
        workspace_id=row.workspace_id,
        level=level,
        entity_id=row.entity_id,
        role=row.role,
        issuer=row.issuer,
        audience=row.audience,
        conditions=dict(row.conditions),
        lifetime=row.token_lifetime_seconds,
        revision=row.policy_revision,
        custom_permissions=custom,
        allowed_ranges=AllowedRanges.of(
            db.scalar(
                select(Organization.allowed_ip_ranges).where(Organization.id == row.organization_id)
            )
        ),
    )


def load_record(db: Session, identity_id: str) -> IdentityRecord | None:
    row = db.get(WorkloadIdentity, identity_id)
    return record_of(db, row) if row is not None else None


def attested_claims(claims: dict[str, Any]) -> dict[str, str]:
    """The claims of an ID token that say where the job runs, those present only."""
    return {name: claims[name] for name in ATTESTED if isinstance(claims.get(name), str)}


def workload_principal(db: Session, claims: dict[str, Any]) -> Principal:
    """The subject of an exchanged access token (``kp_kind`` WORKLOAD_IDENTITY): the
    identity's principal while it exists with the policy the token was issued under."""
    if claims["sub"] != claims["client_id"]:
        raise NotAuthenticated(INVALID)
    record = load_record(db, claims["sub"])
    if record is None:
        raise NotAuthenticated(f"{GONE}: ask an owner of its organization")
    if claims.get("kp_rev") != record.revision:
        raise NotAuthenticated(CHANGED)
    attested = claims.get("kp_wi")
    return record.principal(dict(attested) if isinstance(attested, dict) else None)
