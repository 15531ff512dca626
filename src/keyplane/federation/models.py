"""The table of spent ID tokens (the trust policies themselves, ``WorkloadIdentity``,
hold a role, so they live beside the API tokens in :mod:`keyplane.db.models`)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from keyplane.db.base import Base, UTCDateTime


class ExchangedIdToken(Base):
    """An ID token already exchanged, kept until it expires so it is exchanged once.

    ``key`` is the SHA-256 of its issuer and ``jti``: the primary key makes the second
    exchange fail on insert, on any replica, with no read before the write.
    """

    __tablename__ = "exchanged_id_tokens"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
