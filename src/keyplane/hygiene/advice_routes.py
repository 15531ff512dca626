"""``GET …/advice``: least privilege from use, for tokens, API keys and workload identities."""

from __future__ import annotations

from typing import Annotated

from fastapi import Query

from keyplane.domain.access import ANY
from keyplane.domain.advice import DEFAULT_DAYS, MAX_DAYS
from keyplane.http.deps import CurrentPrincipal, DbSession
from keyplane.http.routing import APIRouter
from keyplane.hygiene import advice, schemas

router = APIRouter(prefix="/v1/organizations/{orgId}", tags=["credential hygiene"])
Days = Annotated[
    int,
    Query(
        ge=1,
        le=MAX_DAYS,
        description=f"the window: uses in the last N days count (1-{MAX_DAYS})",
    ),
]


def advice_out(found: advice.CredentialAdvice) -> schemas.AdviceOut:
    credential, result = found.credential, found.advice
    return schemas.AdviceOut(
        credential_type=schemas.CredentialType(credential.type),
        credential_id=credential.id,
        days=found.days,
        scope=credential.own.level,
        entity_id=credential.own.entity_id,
        current_role=result.current_role,
        used_permissions=[p.value for p in result.used],
        uses=[
            schemas.PermissionUseOut(
                permission=u.permission.value,
                entity_type=u.entity.level,
                entity_id=None if u.entity.id == ANY else u.entity.id,
                workspace_id=None if u.entity.workspace_id == ANY else u.entity.workspace_id,
                last_used_at=u.last_used_at,
            )
            for u in sorted(result.uses, key=lambda u: (u.permission, u.entity.id))
        ],
        suggested_role=result.suggested_role,
        suggested_custom_role=result.suggested_custom_role,
        fits=result.fits,
        stale=result.stale,
        last_used_at=credential.last_used_at,
    )


@router.get("/tokens/{tokenId}/advice", response_model=schemas.AdviceOut)
def token_advice(
    orgId: str, tokenId: str, db: DbSession, principal: CurrentPrincipal, days: Days = DEFAULT_DAYS
) -> schemas.AdviceOut:
    """The permissions an API token used in the last `days` days, the least role that
    covers them, and whether it is stale; whoever may read the token may read this."""
    return advice_out(advice.token_advice(db, principal, orgId, tokenId, days))


@router.get("/deployments/{deploymentId}/api-keys/{keyId}/advice", response_model=schemas.AdviceOut)
def key_advice(
    orgId: str,
    deploymentId: str,
    keyId: str,
    db: DbSession,
    principal: CurrentPrincipal,
    days: Days = DEFAULT_DAYS,
) -> schemas.AdviceOut:
    """As for a token: the role a deployment token replacing this key would need."""
    return advice_out(advice.key_advice(db, principal, orgId, deploymentId, keyId, days))


@router.get("/workload-identities/{identityId}/advice", response_model=schemas.AdviceOut)
def identity_advice(
    orgId: str,
    identityId: str,
    db: DbSession,
    principal: CurrentPrincipal,
    days: Days = DEFAULT_DAYS,
) -> schemas.AdviceOut:
    """As for a token, for a workload identity's role."""
    return advice_out(advice.identity_advice(db, principal, orgId, identityId, days))
