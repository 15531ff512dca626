"""The table of deployment API keys."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from keyplane.db.base import Base, Cached, EntityCredential, UTCDateTime
from keyplane.db.models import Timestamps, fk
from keyplane.domain.ids import new_id


class DeploymentApiKey(Timestamps, Cached, EntityCredential, Base):
    """A key ID (also the OAuth ``client_id``) and the SHA-256 of its ``kpk_`` secret.

    It belongs to its deployment, not to the user who made it: deleting the
    deployment deletes the key (cascade), removing the creator changes nothing.
    """

    __tablename__ = "deployment_api_keys"
    audit_type = "api_key"
    uncached_columns = frozenset({"last_used_at", "updated_at"})

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    organization_id: Mapped[str] = mapped_column(fk("organizations.id"), index=True)
    workspace_id: Mapped[str] = mapped_column(fk("workspaces.id"), index=True)
    deployment_id: Mapped[str] = mapped_column(fk("deployments.id"), index=True)
    name: Mapped[str] = mapped_column(String(120))
    description: Mapped[str] = mapped_column(Text, default="")
    secret_hash: Mapped[str] = mapped_column(String(64), unique=True)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_by: Mapped[dict[str, Any]] = mapped_column(JSON)

    def __repr__(self) -> str:
        return f"DeploymentApiKey(id={self.id!r}, deployment_id={self.deployment_id!r})"
