"""The deploy record: one bundle pushed to one deployment, by whom, with which credential."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from keyplane.db.base import Base, UTCDateTime, utcnow
from keyplane.db.models import fk
from keyplane.domain.ids import new_id


class Deploy(Base):
    __tablename__ = "deploys"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    organization_id: Mapped[str] = mapped_column(fk("organizations.id"), index=True)
    workspace_id: Mapped[str] = mapped_column(fk("workspaces.id"))
    deployment_id: Mapped[str] = mapped_column(fk("deployments.id"), index=True)
    # SHA-256 of the bundle, hex: also its address in the bundle store.
    digest: Mapped[str] = mapped_column(String(64), index=True)
    size_bytes: Mapped[int] = mapped_column(BigInteger)
    description: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    created_by: Mapped[dict[str, Any]] = mapped_column(JSON)
    # SHA-256 of the credential that pushed it (tells a rotated token's old and new value apart).
    credential_fingerprint: Mapped[str | None] = mapped_column(String(64))
