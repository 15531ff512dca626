"""Least-privilege advice for a credential, from the permissions it exercised.

Whoever may read a credential may read its advice: the token's, key's or identity's
own read rule decides (404 for other tenants, 403 naming the missing permission).
The rule itself is :func:`keyplane.domain.advice.advise`; this module loads what it
reads: the credential's bindings, its recorded uses inside the window (filtered in
SQL) and, for a deployment-level credential, its organization's custom roles.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from keyplane.apikeys import service as apikeys
from keyplane.apikeys.principal import key_grants
from keyplane.auth.grants import grants_of, load_grants
from keyplane.auth.principal import Principal
from keyplane.db.base import utcnow
from keyplane.db.models import ApiToken, RoleBinding
from keyplane.domain.access import Binding, Entity, Grants
from keyplane.domain.advice import DEFAULT_DAYS, Advice, Use, advise
from keyplane.domain.roles import Level, Permission
from keyplane.federation import service as federation
from keyplane.federation.records import record_of
from keyplane.hygiene.models import PermissionUse
from keyplane.hygiene.uses import API_KEY, TOKEN, WORKLOAD_IDENTITY
from keyplane.tenancy.granting import custom_roles
from keyplane.tokens import service as tokens


@dataclass(frozen=True)
class Credential:
    """What the advice reads of one credential."""

    type: str  # API_TOKEN, DEPLOYMENT_API_KEY or WORKLOAD_IDENTITY
    id: str
    organization_id: str
    grants: Grants
    own: Binding  # its role on its own entity
    last_used_at: datetime | None


@dataclass(frozen=True)
class CredentialAdvice:
    credential: Credential
    days: int
    advice: Advice


def token_advice(
    db: Session, principal: Principal, org_id: str, token_id: str, days: int = DEFAULT_DAYS
) -> CredentialAdvice:
    """The advice for a token the principal may read (``tokens.get_token``'s rule)."""
    token = tokens.get_token(db, principal, org_id, token_id)
    credential = _token_credential(token, load_grants(db, token.id))
    return CredentialAdvice(credential, days, _advise(db, org_id, [credential], days)[token.id])


def key_advice(
    db: Session,
    principal: Principal,
    org_id: str,
    deployment_id: str,
    key_id: str,
    days: int = DEFAULT_DAYS,
) -> CredentialAdvice:
    """The advice for a deployment API key: it holds DEPLOYMENT_ADMIN, so the advice is
    the role of the deployment token to migrate it to."""
    key = apikeys.get_key(db, principal, org_id, deployment_id, key_id)
    grants = key_grants(key.organization_id, key.workspace_id, key.deployment_id)
    credential = Credential(
        API_KEY, key.id, key.organization_id, grants, grants.bindings[0], key.last_used_at
    )
    return CredentialAdvice(credential, days, _advise(db, org_id, [credential], days)[key.id])


def identity_advice(
    db: Session, principal: Principal, org_id: str, identity_id: str, days: int = DEFAULT_DAYS
) -> CredentialAdvice:
    """The advice for a workload identity the principal may read."""
    identity = federation.get_identity(db, principal, org_id, identity_id)
    grants = record_of(db, identity).grants
    credential = Credential(
        WORKLOAD_IDENTITY,
        identity.id,
        identity.organization_id,
        grants,
        grants.bindings[0],
        identity.last_used_at,
    )
    advice = _advise(db, org_id, [credential], days)[identity.id]
    return CredentialAdvice(credential, days, advice)


def tokens_advice(
    db: Session,
    org_id: str,
    rows: Sequence[ApiToken],
    bindings: dict[str, list[RoleBinding]],
    days: int = DEFAULT_DAYS,
) -> dict[str, Advice]:
    """The advice for tokens already listed for the caller (a console page), with their
    loaded bindings: the uses of all of them in one query."""
    grants = grants_of(db, {t.id: bindings.get(t.id, []) for t in rows})
    credentials = [_token_credential(t, grants[t.id]) for t in rows]
    return _advise(db, org_id, credentials, days)


def _token_credential(token: ApiToken, grants: Grants) -> Credential:
    scope = Level(token.scope)
    entity_id = token.deployment_id or token.workspace_id or token.organization_id
    own = next(b for b in grants.bindings if (b.level, b.entity_id) == (scope, entity_id))
    return Credential(TOKEN, token.id, token.organization_id, grants, own, token.last_used_at)


def _advise(
    db: Session, org_id: str, credentials: Sequence[Credential], days: int
) -> dict[str, Advice]:
    now = utcnow()
    uses = _uses(db, org_id, [c.id for c in credentials], now - timedelta(days=days))
    deployment_level = any(c.own.level is Level.DEPLOYMENT for c in credentials)
    custom = custom_roles(db, org_id) if deployment_level else {}
    return {
        c.id: advise(
            c.grants,
            c.own,
            uses.get(c.id, []),
            custom,
            last_used_at=c.last_used_at,
            now=now,
            days=days,
        )
        for c in credentials
    }


def _uses(
    db: Session, org_id: str, credential_ids: list[str], since: datetime
) -> dict[str, list[Use]]:
    found: dict[str, list[Use]] = {}
    if not credential_ids:
        return found
    rows = db.scalars(
        select(PermissionUse).where(
            PermissionUse.credential_id.in_(credential_ids),
            PermissionUse.organization_id == org_id,
            PermissionUse.last_used_at >= since,
        )
    )
    known = {p.value for p in Permission}
    for row in rows:
        if row.permission not in known:  # recorded by a version with other permissions
            continue
        level = Level(row.entity_level)
        entity = Entity(level, row.entity_id, row.organization_id, row.workspace_id or None)
        use = Use(Permission(row.permission), entity, row.last_used_at)
        found.setdefault(row.credential_id, []).append(use)
    return found
