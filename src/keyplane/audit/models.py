"""The audit event table.

Events are never updated or deleted by the API. Each one stores the hash of the
event before it (``prev_hash``) and its own hash over its content, so that an
edited, inserted or removed row breaks the chain (see :mod:`keyplane.audit.chain`).
There is deliberately no foreign key to organizations: an event must outlive the
objects it talks about, or deleting them would break the chain.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from keyplane.db.base import Base, UTCDateTime
from keyplane.domain.ids import new_id


class AuditEvent(Base):
    __tablename__ = "audit_events"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    # Position in the one global chain: 1, 2, 3, ... assigned under a lock.
    seq: Mapped[int] = mapped_column(BigInteger, unique=True)
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    organization_id: Mapped[str | None] = mapped_column(String(32), index=True)
    actor_kind: Mapped[str] = mapped_column(String(32))
    actor_id: Mapped[str | None] = mapped_column(String(64), index=True)
    actor_name: Mapped[str] = mapped_column(String(320))
    # SHA-256 of the credential that was presented; never the credential.
    credential_fingerprint: Mapped[str | None] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(64), index=True)
    target_type: Mapped[str | None] = mapped_column(String(64))
    target_id: Mapped[str | None] = mapped_column(String(128), index=True)
    details: Mapped[dict[str, Any]] = mapped_column(JSON)
    outcome: Mapped[str] = mapped_column(String(16))
    status_code: Mapped[int | None] = mapped_column(Integer)
    client_ip: Mapped[str | None] = mapped_column(String(64))
    user_agent: Mapped[str | None] = mapped_column(String(512))
    request_id: Mapped[str | None] = mapped_column(String(64))
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))

    def __repr__(self) -> str:
        return f"AuditEvent(seq={self.seq}, action={self.action!r}, actor={self.actor_id!r})"
