"""The principal behind a request."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any, Protocol

from keyplane.domain.access import Entity, Grants
from keyplane.domain.networks import AllowedRanges
from keyplane.domain.roles import Level, Permission


class PrincipalKind(StrEnum):
    USER = "USER"
    ORGANIZATION_TOKEN = "ORGANIZATION_TOKEN"
    WORKSPACE_TOKEN = "WORKSPACE_TOKEN"
    DEPLOYMENT_TOKEN = "DEPLOYMENT_TOKEN"
    DEPLOYMENT_KEY = "DEPLOYMENT_KEY"
    WORKLOAD_IDENTITY = "WORKLOAD_IDENTITY"  # an access token from a CI job's ID token


TOKEN_KIND_BY_SCOPE = {
    Level.ORGANIZATION: PrincipalKind.ORGANIZATION_TOKEN,
    Level.WORKSPACE: PrincipalKind.WORKSPACE_TOKEN,
    Level.DEPLOYMENT: PrincipalKind.DEPLOYMENT_TOKEN,
}


class UseLog(Protocol):
    """Where a credential's exercised permissions are noted (``auth.permission_uses``)."""

    def note(self, principal: Principal, permission: Permission, entity: Entity) -> None: ...


@dataclass(frozen=True)
class Principal:
    """An authenticated caller. Immutable, so one instance can be cached and shared.

    What it may do is asked of :func:`keyplane.domain.access.authorize` and ``can``.
    """

    kind: PrincipalKind
    id: str
    name: str
    grants: Grants
    organization_id: str | None = None  # credentials belong to one organization; users may not
    scope_entity: Entity | None = None  # the entity a credential is scoped to
    expires_at: datetime | None = None
    # SHA-256 of the credential, for the audit trail; never the credential itself.
    fingerprint: str | None = field(default=None, repr=False)
    # A workload identity's: the claims of the ID token it was exchanged for (repository,
    # ref, environment, sub), as /v1/self shows them.
    attested: dict[str, str] | None = field(default=None, compare=False)
    # A credential's: the organization's and its own allowedIpRanges, parsed; None when
    # neither is set (people's logins are never restricted by address).
    allowed_ranges: AllowedRanges | None = field(default=None, compare=False, repr=False)
    # A credential's: where what it exercises is noted (set by whoever authenticated it).
    uses: UseLog | None = field(default=None, compare=False, repr=False)

    def exercised(self, permission: Permission, entity: Entity) -> None:
        """What ``authorize`` found held: noted for a credential, ignored for a person."""
        uses = self.uses
        if uses is not None:
            uses.note(self, permission, entity)

    @property
    def is_token(self) -> bool:
        return self.kind in TOKEN_KIND_BY_SCOPE.values()

    def actor(self) -> dict[str, Any]:
        """How this principal is recorded as the creator or updater of an object."""
        return {"id": self.id, "kind": self.kind.value, "name": self.name}
