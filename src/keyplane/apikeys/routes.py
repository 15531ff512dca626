"""HTTP routes for deployment API keys."""

from __future__ import annotations

from fastapi import Request, Response

from keyplane.apikeys import audit as key_audit
from keyplane.apikeys import migration, schemas, service
from keyplane.apikeys.models import DeploymentApiKey
from keyplane.audit import notes as audit_notes
from keyplane.audit.recorder import SUCCESS, EventDraft
from keyplane.auth.principal import Principal
from keyplane.domain.credentials import PlaintextSecret
from keyplane.http.deps import SHOWS_SECRET, CurrentPrincipal, DbSession, Paging
from keyplane.http.routing import APIRouter
from keyplane.http.schemas import Actor
from keyplane.tokens import audit as token_audit

router = APIRouter(
    prefix="/v1/organizations/{orgId}/deployments/{deploymentId}/api-keys", tags=["api keys"]
)
migration_router = APIRouter(prefix="/v1/organizations/{orgId}/api-keys", tags=["api keys"])


def key_out(key: DeploymentApiKey, secret: PlaintextSecret | None = None) -> schemas.ApiKeyOut:
    return schemas.ApiKeyOut(
        id=key.id,
        name=key.name,
        description=key.description,
        deployment_id=key.deployment_id,
        created_at=key.created_at,
        last_used_at=key.last_used_at,
        created_by=Actor(**key.created_by),
        secret=secret,
    )


@router.get("", response_model=schemas.ApiKeyList)
def list_keys(
    orgId: str, deploymentId: str, db: DbSession, principal: CurrentPrincipal, page: Paging
) -> schemas.ApiKeyList:
    rows, total = service.list_keys(db, principal, orgId, deploymentId, page)
    return schemas.ApiKeyList(
        api_keys=[key_out(k) for k in rows],
        offset=page.offset,
        limit=page.limit,
        total_count=total,
    )


@router.post("", response_model=schemas.ApiKeyOut, status_code=201, dependencies=[SHOWS_SECRET])
def create_key(
    orgId: str,
    deploymentId: str,
    body: schemas.ApiKeyCreate,
    request: Request,
    db: DbSession,
    principal: CurrentPrincipal,
) -> schemas.ApiKeyOut:
    key, secret = service.create_key(db, principal, orgId, deploymentId, body)
    audit_notes.detail(request, key_audit.created(key))
    return key_out(key, secret)


@router.delete("/{keyId}", status_code=204)
def delete_key(
    orgId: str, deploymentId: str, keyId: str, db: DbSession, principal: CurrentPrincipal
) -> Response:
    service.delete_key(db, principal, orgId, deploymentId, keyId)
    return Response(status_code=204)


@migration_router.post("/migrate", response_model=schemas.MigrationOut, dependencies=[SHOWS_SECRET])
def migrate_keys(
    orgId: str,
    body: schemas.MigrationRequest,
    request: Request,
    db: DbSession,
    principal: CurrentPrincipal,
) -> schemas.MigrationOut:
    """Replace deployment API keys with Deployment API tokens of the same rights, at once.

    A dry run lists the plan and changes nothing. Otherwise every key in the plan gets
    a DEPLOYMENT_ADMIN token on its deployment (values shown once, in this answer) and
    is deleted, in one transaction; a second run finds nothing left to migrate.
    """
    steps = migration.migrate(db, principal, orgId, body)
    key_ids = [step.key.id for step in steps]
    token_ids = [step.token.id for step in steps if step.token]
    audit_notes.detail(request, {"dryRun": body.dry_run, "keyIds": key_ids, "tokenIds": token_ids})
    for step in steps:
        for draft in _migrated(principal, orgId, step):
            audit_notes.note_on_commit(request, db, draft)
    return schemas.MigrationOut(dry_run=body.dry_run, migrations=[_step_out(s) for s in steps])


def _migrated(principal: Principal, org_id: str, step: migration.Step) -> list[EventDraft]:
    """What the key's own delete and the token's own create would have recorded, each
    naming the other, so that ``--target-id`` finds either (none for a dry run)."""
    if step.token is None:
        return []
    made = EventDraft("token.create", SUCCESS, org_id, status_code=200).by(principal)
    made.target_type, made.target_id = "token", step.token.id
    made.details = {**token_audit.created(step.token, migration.ROLE), "migratedFrom": step.key.id}
    gone = EventDraft("api_key.delete", SUCCESS, org_id, status_code=200).by(principal)
    gone.target_type, gone.target_id = "api_key", step.key.id
    gone.details = {"name": step.key.name, "migratedTo": step.token.id}
    return [gone, made]


def _step_out(step: migration.Step) -> schemas.MigrationStep:
    return schemas.MigrationStep(
        key_id=step.key.id,
        key_name=step.key.name,
        deployment_id=step.key.deployment_id,
        token_name=step.token.name if step.token else step.key.name,
        role=migration.ROLE,
        token_id=step.token.id if step.token else None,
        token=step.value,
    )
