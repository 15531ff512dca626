"""API models for audit events."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from keyplane.audit.models import AuditEvent
from keyplane.http.schemas import ApiModel, Page


class AuditActor(ApiModel):
    kind: str
    id: str | None
    name: str
    credential_fingerprint: str | None  # SHA-256 of the credential used, never the credential


class AuditTarget(ApiModel):
    type: str | None
    id: str | None


class AuditEventOut(ApiModel):
    id: str
    seq: int
    occurred_at: datetime
    organization_id: str | None
    actor: AuditActor
    action: str
    target: AuditTarget
    outcome: str
    status_code: int | None
    client_ip: str | None
    user_agent: str | None
    request_id: str | None
    details: dict[str, Any]
    prev_hash: str
    hash: str

    @classmethod
    def of(cls, event: AuditEvent) -> AuditEventOut:
        return cls(
            id=event.id,
            seq=event.seq,
            occurred_at=event.occurred_at,
            organization_id=event.organization_id,
            actor=AuditActor(
                kind=event.actor_kind,
                id=event.actor_id,
                name=event.actor_name,
                credential_fingerprint=event.credential_fingerprint,
            ),
            action=event.action,
            target=AuditTarget(type=event.target_type, id=event.target_id),
            outcome=event.outcome,
            status_code=event.status_code,
            client_ip=event.client_ip,
            user_agent=event.user_agent,
            request_id=event.request_id,
            details=event.details,
            prev_hash=event.prev_hash,
            hash=event.hash,
        )


class AuditEventList(Page[AuditEventOut]):
    audit_logs: list[AuditEventOut]
