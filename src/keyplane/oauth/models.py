"""Tables of the authorization server: signing keys and revoked access tokens."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from keyplane.db.base import Base, Cached, UTCDateTime, utcnow


class SigningKey(Cached, Base):
    """An ES256 key pair. The private key is a PEM encrypted with the runtime's SecretBox.

    The newest key signs, once published long enough (keyplane.oauth.signing_keys). A
    key rotated out signs nothing from ``retired_at`` on (a rotation sets it a little
    ahead) but stays published in the JWKS until ``unpublish_at``, when every token it
    signed has expired.
    """

    __tablename__ = "signing_keys"

    kid: Mapped[str] = mapped_column(String(64), primary_key=True)
    algorithm: Mapped[str] = mapped_column(String(16))
    private_key: Mapped[str] = mapped_column(Text)
    public_jwk: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    retired_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    unpublish_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    def __repr__(self) -> str:
        return f"SigningKey(kid={self.kid!r}, algorithm={self.algorithm!r})"


class RevokedAccessToken(Cached, Base):
    """The ``jti`` of an access token revoked before its expiry (RFC 7009).

    Kept until the token would have expired anyway; then it is purged.
    """

    __tablename__ = "revoked_access_tokens"

    jti: Mapped[str] = mapped_column(String(64), primary_key=True)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
