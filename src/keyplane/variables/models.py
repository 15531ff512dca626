"""Environment variables of a deployment."""

from __future__ import annotations

from typing import Any

from sqlalchemy import JSON, Boolean, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from keyplane.db.base import Base
from keyplane.db.models import Timestamps, fk
from keyplane.domain.ids import new_id


class DeploymentVariable(Timestamps, Base):
    __tablename__ = "deployment_variables"
    __table_args__ = (UniqueConstraint("deployment_id", "key"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    organization_id: Mapped[str] = mapped_column(fk("organizations.id"), index=True)
    deployment_id: Mapped[str] = mapped_column(fk("deployments.id"), index=True)
    key: Mapped[str] = mapped_column(String(255))
    is_secret: Mapped[bool] = mapped_column(Boolean, default=False)
    # Exactly one of the two is set: the plain value, or the SecretBox ciphertext.
    value: Mapped[str | None] = mapped_column(Text)
    encrypted_value: Mapped[str | None] = mapped_column(Text)
    created_by: Mapped[dict[str, Any]] = mapped_column(JSON)
    updated_by: Mapped[dict[str, Any]] = mapped_column(JSON)

    def __repr__(self) -> str:  # never the value: it may be a secret
        return f"DeploymentVariable(key={self.key!r}, is_secret={self.is_secret})"
