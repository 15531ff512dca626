"""What the audit trail keeps of a new workload identity: its whole trust policy (no
part of it is a secret)."""

from __future__ import annotations

from typing import Any

from keyplane.db.models import WorkloadIdentity


def created(identity: WorkloadIdentity) -> dict[str, Any]:
    """The details of ``workload_identity.create``: who it trusts, and with which role."""
    return {
        "name": identity.name,
        "scope": identity.scope,
        "entityId": identity.entity_id,
        "role": identity.role,
        "issuer": identity.issuer,
        "audience": identity.audience,
        "conditions": identity.conditions,
        "tokenLifetimeSeconds": identity.token_lifetime_seconds,
    }
