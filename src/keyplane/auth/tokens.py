"""Load the principal behind an API token."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from keyplane.auth.grants import load_grants
from keyplane.auth.principal import TOKEN_KIND_BY_SCOPE, Principal
from keyplane.db.models import ApiToken, Deployment, Organization
from keyplane.domain.access import Entity
from keyplane.domain.credentials import SecretHash
from keyplane.domain.networks import AllowedRanges
from keyplane.domain.roles import Level


def load_token_principal(db: Session, secret_hash: SecretHash) -> Principal | None:
    """The principal of the token with this hash, with the allowedIpRanges of the
    token and its organization; None if there is none."""
    row = db.execute(
        select(ApiToken, Organization.allowed_ip_ranges)
        .join(Organization, Organization.id == ApiToken.organization_id)
        .where(ApiToken.secret_hash == secret_hash)
    ).first()
    if row is None:
        return None
    token, organization_ranges = row
    scope = Level(token.scope)
    return Principal(
        kind=TOKEN_KIND_BY_SCOPE[scope],
        id=token.id,
        name=token.name,
        grants=load_grants(db, token.id),
        organization_id=token.organization_id,
        scope_entity=token_entity(db, token),
        expires_at=token.end_at,
        fingerprint=secret_hash,
        allowed_ranges=AllowedRanges.of(organization_ranges, token.allowed_ip_ranges),
    )


def token_entity(db: Session, token: ApiToken) -> Entity:
    """The organization, workspace or deployment that a token is scoped to."""
    if token.deployment_id:
        workspace_id = db.scalar(
            select(Deployment.workspace_id).where(Deployment.id == token.deployment_id)
        )
        return Entity(Level.DEPLOYMENT, token.deployment_id, token.organization_id, workspace_id)
    if token.workspace_id:
        return Entity(
            Level.WORKSPACE, token.workspace_id, token.organization_id, token.workspace_id
        )
    return Entity(Level.ORGANIZATION, token.organization_id, token.organization_id)
