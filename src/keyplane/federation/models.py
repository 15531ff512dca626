"""Tables of workload identity federation: the trust policies and spent ID tokens."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from keyplane.db.base import Base, Cached, UTCDateTime
from keyplane.db.models import Timestamps, fk
from keyplane.domain.ids import new_id


class WorkloadIdentity(Timestamps, Cached, Base):
    """A trust policy: ID tokens of ``issuer`` for ``audience`` whose claims meet
    ``conditions`` are exchanged for access tokens holding ``role`` on the entity.

    Its id is the OAuth ``client_id`` of the exchange (a public client). Like an API
    token it belongs to its entity (deleting a workspace or deployment deletes it),
    not to whoever made it. ``policy_revision`` grows when the conditions or the
    audience change: tokens issued under an older policy stop working.
    """

    __tablename__ = "workload_identities"
    uncached_columns = frozenset({"last_used_at", "updated_at"})

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    organization_id: Mapped[str] = mapped_column(fk("organizations.id"), index=True)
    workspace_id: Mapped[str | None] = mapped_column(fk("workspaces.id"), index=True)
    deployment_id: Mapped[str | None] = mapped_column(fk("deployments.id"), index=True)
    scope: Mapped[str] = mapped_column(String(16))
    entity_id: Mapped[str] = mapped_column(String(32))
    role: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(120))
    description: Mapped[str] = mapped_column(Text, default="")
    issuer: Mapped[str] = mapped_column(String(300))
    audience: Mapped[str] = mapped_column(String(300))
    conditions: Mapped[dict[str, Any]] = mapped_column(JSON)
    token_lifetime_seconds: Mapped[int] = mapped_column(Integer)
    policy_revision: Mapped[int] = mapped_column(Integer, default=1)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_by: Mapped[dict[str, Any]] = mapped_column(JSON)
    updated_by: Mapped[dict[str, Any]] = mapped_column(JSON)

    def __repr__(self) -> str:
        return f"WorkloadIdentity(id={self.id!r}, scope={self.scope!r}, name={self.name!r})"


class ExchangedIdToken(Base):
    """An ID token already exchanged, kept until it expires so it is exchanged once.

    ``key`` is the SHA-256 of its issuer and ``jti``: the primary key makes the second
    exchange fail on insert, on any replica, with no read before the write.
    """

    __tablename__ = "exchanged_id_tokens"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
