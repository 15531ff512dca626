"""Tables for tenancy, membership and what holds a role: API tokens, workload identities."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from keyplane.db.base import Base, Cached, EntityCredential, UTCDateTime, utcnow
from keyplane.domain.ids import new_id


def fk(target: str) -> ForeignKey:
    """A foreign key whose row goes when its target goes."""
    return ForeignKey(target, ondelete="CASCADE")


class Timestamps:
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class Organization(Timestamps, Cached, Base):
    __tablename__ = "organizations"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(String(120))
    api_keys_enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    # CIDR ranges (canonical form) every credential of the organization must be used
    # from; empty: anywhere (keyplane.domain.networks).
    allowed_ip_ranges: Mapped[list[str]] = mapped_column(JSON, default=list)


class Workspace(Timestamps, Cached, Base):
    __tablename__ = "workspaces"
    __table_args__ = (UniqueConstraint("organization_id", "name"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    organization_id: Mapped[str] = mapped_column(fk("organizations.id"), index=True)
    name: Mapped[str] = mapped_column(String(120))
    description: Mapped[str] = mapped_column(Text, default="")


class Deployment(Timestamps, Cached, Base):
    __tablename__ = "deployments"
    __table_args__ = (
        UniqueConstraint("workspace_id", "name"),
        # Listings read "this organization's deployments in these workspaces".
        Index("ix_deployments_organization_workspace", "organization_id", "workspace_id"),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    organization_id: Mapped[str] = mapped_column(fk("organizations.id"))
    workspace_id: Mapped[str] = mapped_column(fk("workspaces.id"), index=True)
    name: Mapped[str] = mapped_column(String(120))
    description: Mapped[str] = mapped_column(Text, default="")
    # CI/CD enforcement: deploys only from API tokens or keys, never a person's login.
    is_cicd_enforced: Mapped[bool] = mapped_column(Boolean, default=False)


class User(Timestamps, Cached, Base):
    __tablename__ = "users"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    email: Mapped[str] = mapped_column(String(320), unique=True)
    full_name: Mapped[str] = mapped_column(String(200), default="")
    password_hash: Mapped[str | None] = mapped_column(String(200), default=None)

    def __repr__(self) -> str:
        return f"User(id={self.id!r}, email={self.email!r})"


class CustomRole(Timestamps, Cached, Base):
    """A named subset of deployment permissions, defined per organization."""

    __tablename__ = "custom_roles"
    __table_args__ = (UniqueConstraint("organization_id", "name"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    organization_id: Mapped[str] = mapped_column(fk("organizations.id"))
    name: Mapped[str] = mapped_column(String(64))
    description: Mapped[str] = mapped_column(Text, default="")
    permissions: Mapped[list[str]] = mapped_column(JSON)


class OfEntity:
    """The columns of a credential that belongs to its entity (an API token, a workload
    identity), not to whoever made it: ``scope`` names the level, and the workspace or
    deployment id is set for the narrower scopes so that deleting that entity deletes
    the credential with it."""

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    organization_id: Mapped[str] = mapped_column(fk("organizations.id"), index=True)
    workspace_id: Mapped[str | None] = mapped_column(fk("workspaces.id"), index=True)
    deployment_id: Mapped[str | None] = mapped_column(fk("deployments.id"), index=True)
    scope: Mapped[str] = mapped_column(String(16))
    name: Mapped[str] = mapped_column(String(120))
    description: Mapped[str] = mapped_column(Text, default="")


class ApiToken(OfEntity, Timestamps, Cached, EntityCredential, Base):
    __tablename__ = "api_tokens"
    audit_type = "token"
    uncached_columns = frozenset({"last_used_at", "updated_at"})

    secret_hash: Mapped[str] = mapped_column(String(64), unique=True)
    short_token: Mapped[str] = mapped_column(String(16))
    expiry_period_days: Mapped[int | None] = mapped_column(Integer)
    start_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # Indexed: expiry notices and `expiringWithinDays` read tokens by when they end.
    end_at: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_rotated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # The token's own allowedIpRanges, within the organization's; empty: no more than it.
    allowed_ip_ranges: Mapped[list[str]] = mapped_column(JSON, default=list)
    created_by: Mapped[dict[str, Any]] = mapped_column(JSON)
    updated_by: Mapped[dict[str, Any]] = mapped_column(JSON)

    def __repr__(self) -> str:  # the hash is not a secret, but there is no need to show it
        return f"ApiToken(id={self.id!r}, scope={self.scope!r}, name={self.name!r})"


class RoleBinding(Cached, Base):
    """One role held by a user or an API token on one entity.

    ``level`` and ``entity_id`` say what the role is held on; the typed foreign keys
    (workspace, deployment, user, token) exist so that deleting any of them deletes
    the binding with it.
    """

    __tablename__ = "role_bindings"
    __table_args__ = (UniqueConstraint("subject_id", "level", "entity_id"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    subject_id: Mapped[str] = mapped_column(String(32), index=True)
    user_id: Mapped[str | None] = mapped_column(fk("users.id"))
    token_id: Mapped[str | None] = mapped_column(fk("api_tokens.id"))
    level: Mapped[str] = mapped_column(String(16))
    entity_id: Mapped[str] = mapped_column(String(32), index=True)
    role: Mapped[str] = mapped_column(String(64))
    organization_id: Mapped[str] = mapped_column(fk("organizations.id"), index=True)
    workspace_id: Mapped[str | None] = mapped_column(fk("workspaces.id"))
    deployment_id: Mapped[str | None] = mapped_column(fk("deployments.id"))


class WorkloadIdentity(OfEntity, Timestamps, Cached, EntityCredential, Base):
    """A trust policy: ID tokens of ``issuer`` for ``audience`` whose claims meet
    ``conditions`` are exchanged for access tokens holding ``role`` on the entity.

    Its id is the OAuth ``client_id`` of the exchange (a public client). Like an API
    token it belongs to its entity (deleting a workspace or deployment deletes it),
    not to whoever made it. ``policy_revision`` grows when the conditions or the
    audience change: tokens issued under an older policy stop working.
    """

    __tablename__ = "workload_identities"
    audit_type = "workload_identity"
    uncached_columns = frozenset({"last_used_at", "updated_at"})

    entity_id: Mapped[str] = mapped_column(String(32))
    role: Mapped[str] = mapped_column(String(64))
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
