"""Tables of credential hygiene: leaked secrets seen, expiry notices claimed, permissions
used."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, String, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from keyplane.db.base import Base, UTCDateTime, utcnow
from keyplane.db.models import fk
from keyplane.domain.ids import new_id


class LeakedSecret(Base):
    """A credential revoked because its value was reported leaked.

    The credential itself is deleted (the path every replica already honours); this
    row keeps the SHA-256 of the value so that a second report of it is recognized as
    the same true positive, with no second mail or audit event. The value is never kept.

    It also holds what the owners' mail names, so that a mail the report could not
    send (the mail server was down) is sent by a later ``keyplane admin notify``:
    ``mail_claimed_at`` is when a run (or the report) took it on, ``mailed_at`` when
    the mail server took it.
    """

    __tablename__ = "leaked_secrets"
    __table_args__ = (
        Index(
            "ix_leaked_secrets_unmailed",
            "mail_claimed_at",
            postgresql_where=text("mailed_at IS NULL"),
            sqlite_where=text("mailed_at IS NULL"),
        ),
    )

    secret_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    organization_id: Mapped[str] = mapped_column(fk("organizations.id"), index=True)
    credential_type: Mapped[str] = mapped_column(String(16))  # "token" or "api_key"
    credential_id: Mapped[str] = mapped_column(String(32))
    name: Mapped[str] = mapped_column(String(120))
    url: Mapped[str] = mapped_column(Text, default="")
    source: Mapped[str] = mapped_column(String(120), default="")
    reported_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    short_token: Mapped[str] = mapped_column(String(16), default="", server_default="")
    scope: Mapped[str] = mapped_column(String(16), default="", server_default="")
    role: Mapped[str] = mapped_column(String(64), default="", server_default="")
    entity_id: Mapped[str] = mapped_column(String(32), default="", server_default="")
    reporter: Mapped[str] = mapped_column(String(120), default="", server_default="")
    mail_claimed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=utcnow)
    mailed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class ExpiryNotice(Base):
    """One announcement that a token expires: claimed before its mail goes, sent after.

    Unique per token, notice (14 or 3 days) and expiry, so concurrent runs of
    ``keyplane admin notify`` claim each notice once; a rotated token has a new expiry
    and is announced again. ``sent_at`` stays empty until the mail server took the
    message: a later run re-claims what was claimed and not sent.
    """

    __tablename__ = "expiry_notices"
    __table_args__ = (UniqueConstraint("token_id", "days_before", "end_at"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    token_id: Mapped[str] = mapped_column(ForeignKey("api_tokens.id", ondelete="CASCADE"))
    days_before: Mapped[int] = mapped_column(Integer)
    end_at: Mapped[datetime] = mapped_column(UTCDateTime)
    claimed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class PermissionUse(Base):
    """When a credential last exercised one permission on one entity.

    One row per credential, permission and entity, written at most once per
    ``KEYPLANE_LAST_USED_INTERVAL_SECONDS`` per process (``keyplane.hygiene.uses``), so a
    token in use costs one small upsert per permission, entity and replica a minute,
    not one per request. ``entity_id`` and ``workspace_id`` may be ``*``: every entity
    no role binding names (a listing). ``workspace_id`` is ``""`` for an organization,
    not NULL, so that it can be part of the key. Exactly one of the typed foreign keys
    is set, so that deleting the credential deletes its rows; not Cached: recording a
    use drops no cache.
    """

    __tablename__ = "permission_uses"

    credential_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    permission: Mapped[str] = mapped_column(String(64), primary_key=True)
    entity_level: Mapped[str] = mapped_column(String(16), primary_key=True)
    entity_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    workspace_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    credential_kind: Mapped[str] = mapped_column(String(24))
    organization_id: Mapped[str] = mapped_column(fk("organizations.id"), index=True)
    token_id: Mapped[str | None] = mapped_column(fk("api_tokens.id"), index=True)
    api_key_id: Mapped[str | None] = mapped_column(fk("deployment_api_keys.id"), index=True)
    workload_identity_id: Mapped[str | None] = mapped_column(
        fk("workload_identities.id"), index=True
    )
    last_used_at: Mapped[datetime] = mapped_column(UTCDateTime)
