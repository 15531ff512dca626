"""Tables for browser sessions, SSO connections and invitations."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, Index, Integer, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from keyplane.db.base import Base, Cached, UTCDateTime, utcnow
from keyplane.db.models import Timestamps, fk
from keyplane.domain.ids import new_id


class WebSession(Base):
    """A signed-in browser. The cookie holds a random value; only its SHA-256 is here."""

    __tablename__ = "web_sessions"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    user_id: Mapped[str] = mapped_column(fk("users.id"), index=True)
    secret_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    client_ip: Mapped[str] = mapped_column(String(64), default="")
    user_agent: Mapped[str] = mapped_column(String(300), default="")
    # How the user proved who they are: "password" or "sso:<connection id>".
    method: Mapped[str] = mapped_column(String(64), default="password")

    def __repr__(self) -> str:
        return f"WebSession(id={self.id!r}, user_id={self.user_id!r})"


class SsoConnection(Timestamps, Base):
    """An organization's OpenID Connect identity provider."""

    __tablename__ = "sso_connections"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    organization_id: Mapped[str] = mapped_column(fk("organizations.id"), index=True)
    name: Mapped[str] = mapped_column(String(120))
    issuer: Mapped[str] = mapped_column(String(500))
    client_id: Mapped[str] = mapped_column(String(300))
    # Fernet ciphertext (runtime.secret_box): the provider needs the secret itself.
    client_secret_encrypted: Mapped[str] = mapped_column(Text)
    default_role: Mapped[str] = mapped_column(String(64))
    enforce_sso: Mapped[bool] = mapped_column(Boolean, default=False)
    created_by: Mapped[dict[str, Any]] = mapped_column(JSON)

    def __repr__(self) -> str:
        return f"SsoConnection(id={self.id!r}, issuer={self.issuer!r})"


class SsoDomain(Base):
    """An email domain an SSO connection claims. A claim routes sign-ins (and can turn
    passwords off) only once the operator has verified it; any number of connections
    may claim a domain, one claim of it may be verified."""

    __tablename__ = "sso_domains"
    __table_args__ = (
        Index(
            "ux_sso_domains_verified",
            "domain",
            unique=True,
            postgresql_where=text("verified_at IS NOT NULL"),
            sqlite_where=text("verified_at IS NOT NULL"),
        ),
    )

    domain: Mapped[str] = mapped_column(String(253), primary_key=True)
    connection_id: Mapped[str] = mapped_column(
        fk("sso_connections.id"), primary_key=True, index=True
    )
    organization_id: Mapped[str] = mapped_column(fk("organizations.id"))
    verified_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    verified_by: Mapped[str] = mapped_column(String(120), default="")


class Invitation(Base):
    """A pending invitation link. Only a SHA-256 of the link's secret is stored."""

    __tablename__ = "invitations"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    organization_id: Mapped[str] = mapped_column(fk("organizations.id"), index=True)
    user_id: Mapped[str] = mapped_column(fk("users.id"), index=True)
    email: Mapped[str] = mapped_column(String(320))
    role: Mapped[str] = mapped_column(String(64))
    secret_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_by: Mapped[dict[str, Any]] = mapped_column(JSON)

    def __repr__(self) -> str:
        return f"Invitation(id={self.id!r}, email={self.email!r})"


class CliLogin(Cached, Base):
    """One ``keyplane login``: the chain of refresh tokens its access tokens name.

    Deleting the row signs that login out: its refresh tokens go with it, and access
    tokens naming it in ``kp_login`` stop verifying.
    """

    __tablename__ = "cli_logins"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    user_id: Mapped[str] = mapped_column(fk("users.id"), index=True)
    client_id: Mapped[str] = mapped_column(String(64))
    method: Mapped[str] = mapped_column(String(32))  # authorization_code or device_code
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)


class RefreshToken(Base):
    """A refresh token of a CLI login; rotated on every use (RFC 9700 §4.14.2)."""

    __tablename__ = "refresh_tokens"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    login_id: Mapped[str] = mapped_column(fk("cli_logins.id"), index=True)
    secret_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class DeviceAuthorization(Base):
    """A pending device flow (RFC 8628): the CLI polls with the device code."""

    __tablename__ = "device_authorizations"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    device_code_hash: Mapped[str] = mapped_column(String(64), unique=True)
    user_code: Mapped[str] = mapped_column(String(16), unique=True)
    client_id: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    interval: Mapped[int] = mapped_column(Integer, default=5)
    last_polled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    status: Mapped[str] = mapped_column(String(16), default="pending")
    user_id: Mapped[str | None] = mapped_column(fk("users.id"))


class AuthorizationCode(Base):
    """A one-time code of the authorization code flow, bound to its PKCE challenge.

    A spent code stays until it expires (``used_at``), naming the login it started, so
    that presenting it again revokes that login (RFC 6749 §4.1.2).
    """

    __tablename__ = "authorization_codes"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    code_hash: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[str] = mapped_column(fk("users.id"))
    client_id: Mapped[str] = mapped_column(String(64))
    redirect_uri: Mapped[str] = mapped_column(String(500))
    code_challenge: Mapped[str] = mapped_column(String(128))
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Not a foreign key: the login may be revoked (deleted) while the code remains.
    login_id: Mapped[str | None] = mapped_column(String(32))
