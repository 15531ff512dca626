"""Leaked credentials revoke themselves: API tokens of every scope and deployment API
key secrets, reported by a secret scanner or by anyone.

A reported value that is a live credential is deleted in the caller's unit of work
(so it stops working on every replica when that commits, like any deletion), and
its SHA-256 is kept in ``leaked_secrets`` so that reporting it again is the same
true positive and changes nothing. Every report does the same reads whatever the
value, so that the answer's timing says as little as its body. The value itself is
never stored, logged or put in an error.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from keyplane.apikeys.models import DeploymentApiKey
from keyplane.db.base import utcnow
from keyplane.db.models import ApiToken, RoleBinding
from keyplane.db.unit import credentials_changed
from keyplane.domain.credentials import SecretHash, hash_secret
from keyplane.domain.roles import DEPLOYMENT_ADMIN, Level
from keyplane.hygiene.models import LeakedSecret

TOKEN = "token"
API_KEY = "api_key"


@dataclass(frozen=True)
class Sighting:
    """Where a value was seen (a scanner's ``url``, ``source`` and pattern type), and
    who reported it."""

    url: str = ""
    source: str = ""
    pattern: str = ""
    reporter: str = "a public report"


@dataclass(frozen=True)
class Revoked:
    """A credential this report revoked, as the owners' mail and the audit trail name it."""

    credential_type: str
    credential_id: str
    organization_id: str
    name: str
    short_token: str
    scope: str
    role: str
    entity_id: str
    sighting: Sighting


@dataclass(frozen=True)
class Finding:
    token_hash: SecretHash
    true_positive: bool
    revoked: Revoked | None  # set only by the report that revoked it


def report(db: Session, value: str, sighting: Sighting) -> Finding:
    """Revoke ``value`` if it is a live token or key secret; say whether it was one.

    A value reported before is a true positive again, with ``revoked`` None: nothing
    more happens. Concurrent reports of one value revoke it once (the delete is
    conditional; the one that deleted nothing learns it was already gone).
    """
    secret_hash = hash_secret(value)
    seen = db.get(LeakedSecret, secret_hash)
    token = db.scalar(select(ApiToken).where(ApiToken.secret_hash == secret_hash))
    key = db.scalar(select(DeploymentApiKey).where(DeploymentApiKey.secret_hash == secret_hash))
    revoked: Revoked | None = None
    if token is not None:
        revoked = _revoke_token(db, token, sighting)
    elif key is not None:
        revoked = _revoke_key(db, key, sighting)
    if revoked is not None:
        db.add(_leaked(secret_hash, revoked))
        credentials_changed(db)
        db.flush()
    live = seen is not None or token is not None or key is not None
    return Finding(secret_hash, live, revoked)


def _revoke_token(db: Session, token: ApiToken, sighting: Sighting) -> Revoked | None:
    role = db.scalar(
        select(RoleBinding.role).where(
            RoleBinding.token_id == token.id, RoleBinding.level == token.scope
        )
    )
    revoked = Revoked(
        TOKEN,
        token.id,
        token.organization_id,
        token.name,
        token.short_token,
        token.scope,
        role or "",
        token.deployment_id or token.workspace_id or token.organization_id,
        sighting,
    )
    gone = db.execute(
        delete(ApiToken)
        .where(ApiToken.id == token.id)
        .returning(ApiToken.id)
        .execution_options(synchronize_session=False)
    ).scalar_one_or_none()
    db.expunge(token)
    return revoked if gone else None


def _revoke_key(db: Session, key: DeploymentApiKey, sighting: Sighting) -> Revoked | None:
    revoked = Revoked(
        API_KEY,
        key.id,
        key.organization_id,
        key.name,
        "kpk_",  # a key secret has no stored excerpt: its key ID names it
        Level.DEPLOYMENT.value,
        DEPLOYMENT_ADMIN,
        key.deployment_id,
        sighting,
    )
    gone = db.execute(
        delete(DeploymentApiKey)
        .where(DeploymentApiKey.id == key.id)
        .returning(DeploymentApiKey.id)
        .execution_options(synchronize_session=False)
    ).scalar_one_or_none()
    db.expunge(key)
    return revoked if gone else None


def _leaked(secret_hash: SecretHash, revoked: Revoked) -> LeakedSecret:
    """The row of a revoked credential; its mail is claimed by this report."""
    return LeakedSecret(
        secret_hash=secret_hash,
        organization_id=revoked.organization_id,
        credential_type=revoked.credential_type,
        credential_id=revoked.credential_id,
        name=revoked.name,
        url=revoked.sighting.url[:2000],
        source=revoked.sighting.source[:120],
        short_token=revoked.short_token,
        scope=revoked.scope,
        role=revoked.role,
        entity_id=revoked.entity_id,
        reporter=revoked.sighting.reporter[:120],
        mail_claimed_at=utcnow(),
    )


def revoked_of(row: LeakedSecret) -> Revoked:
    """What a stored leak's mail names, as when it was revoked (the type of pattern a
    scanner matched is in the audit event only)."""
    sighting = Sighting(url=row.url, source=row.source, reporter=row.reporter)
    return Revoked(
        row.credential_type,
        row.credential_id,
        row.organization_id,
        row.name,
        row.short_token,
        row.scope,
        row.role,
        row.entity_id,
        sighting,
    )
