"""Moving deployment API keys to deployment API tokens (DESIGN §5), in one unit of work.

A key acts as DEPLOYMENT_ADMIN on its deployment and never expires, so it becomes a
Deployment API token holding DEPLOYMENT_ADMIN there, without an expiry. The tokens
are made and the keys deleted in the caller's unit of work: either every selected
key is replaced or none is. The keys are deleted first, with one conditional
``DELETE … RETURNING``, and tokens are minted only if every one of them was still
there: of migrations racing for a key (a client retrying after a timeout), the
first to delete it wins and the others end in Conflict with nothing minted, so a key
is migrated once and running the migration again mints nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from keyplane.apikeys.models import DeploymentApiKey
from keyplane.apikeys.schemas import MigrationRequest
from keyplane.auth.principal import Principal
from keyplane.db.models import ApiToken
from keyplane.db.unit import credentials_changed
from keyplane.domain.access import Entity, authorize
from keyplane.domain.credentials import PlaintextSecret
from keyplane.domain.errors import Conflict
from keyplane.domain.roles import DEPLOYMENT_ADMIN, DEPLOYMENT_PERMISSIONS, Level, Permission
from keyplane.tenancy.entities import (
    deployment_entity,
    get_deployment,
    get_workspace,
    workspace_entity,
)
from keyplane.tenancy.granting import check_grantable
from keyplane.tenancy.visibility import where_deployments
from keyplane.tokens import schemas as token_schemas
from keyplane.tokens.service import create_token

ROLE = DEPLOYMENT_ADMIN  # what a key acts as, and so what its token holds
_DESCRIPTION_MAX = 2000


@dataclass(frozen=True)
class Step:
    """One key and, once migrated, the token that replaced it with its value."""

    key: DeploymentApiKey
    token: ApiToken | None = None
    value: PlaintextSecret | None = None


def plan(db: Session, principal: Principal, org_id: str, wanted: MigrationRequest) -> list[Step]:
    """The keys a migration would replace, oldest first per deployment; changes nothing.

    Without ``deploymentId``, the keys of every deployment where the principal holds
    all of DEPLOYMENT_ADMIN (managing a key and granting its role both need that);
    keys elsewhere are left out, unnamed. With it: NotFound or Forbidden, as for
    creating a key there. ``keyIds`` narrows the plan to exactly those keys, and
    raises Conflict if one of them is not in it.
    """
    authorize(principal, None, Entity.organization(org_id))
    query = select(DeploymentApiKey).where(
        DeploymentApiKey.organization_id == org_id,
        where_deployments(
            principal,
            org_id,
            DeploymentApiKey.deployment_id,
            DeploymentApiKey.workspace_id,
            *DEPLOYMENT_PERMISSIONS,
        ),
    )
    if wanted.workspace_id:
        workspace = get_workspace(db, org_id, wanted.workspace_id)
        authorize(principal, Permission.WORKSPACE_READ, workspace_entity(workspace))
        query = query.where(DeploymentApiKey.workspace_id == workspace.id)
    if wanted.deployment_id:
        _check_deployment(db, principal, org_id, wanted.deployment_id)
        query = query.where(DeploymentApiKey.deployment_id == wanted.deployment_id)
    if wanted.key_ids is not None:
        query = query.where(DeploymentApiKey.id.in_(wanted.key_ids))
    order = (DeploymentApiKey.deployment_id, DeploymentApiKey.created_at, DeploymentApiKey.id)
    keys = db.scalars(query.order_by(*order)).all()
    if wanted.key_ids is not None:
        _check_all_found(wanted.key_ids, [key.id for key in keys])
    return [Step(key) for key in keys]


def migrate(db: Session, principal: Principal, org_id: str, wanted: MigrationRequest) -> list[Step]:
    """Replace each planned key with a token of the same rights, and delete the key.

    With ``dryRun``, the plan alone. The token values exist only in the answer.
    """
    steps = plan(db, principal, org_id, wanted)
    if wanted.dry_run or not steps:
        return steps
    bodies = [_token_for(step.key) for step in steps]
    _delete_all(db, [step.key.id for step in steps])
    done = []
    for step, body in zip(steps, bodies, strict=True):
        token, value = create_token(db, principal, org_id, body)
        done.append(Step(step.key, token, value))
    credentials_changed(db)
    db.flush()
    return done


def _delete_all(db: Session, key_ids: list[str]) -> None:
    """Delete the keys, or raise Conflict if one is gone already (the unit of work
    then rolls back whatever it deleted). A migration racing this one for a key waits
    on its row and finds it gone once this one commits."""
    deleted = db.scalars(
        delete(DeploymentApiKey)
        .where(DeploymentApiKey.id.in_(key_ids))
        .returning(DeploymentApiKey.id)
    ).all()
    _check_all_found(key_ids, deleted)


def _check_deployment(db: Session, principal: Principal, org_id: str, dep_id: str) -> None:
    entity = deployment_entity(get_deployment(db, org_id, dep_id))
    authorize(principal, Permission.DEPLOYMENT_TOKENS_MANAGE, entity)
    check_grantable(db, principal, org_id, [(Level.DEPLOYMENT, dep_id, ROLE)], entity, set())


def _check_all_found(key_ids: Sequence[str], found: Sequence[str]) -> None:
    missing = sorted(set(key_ids) - set(found))
    if missing:
        raise Conflict(
            f"API key(s) {', '.join(missing)} can no longer be migrated (deleted, migrated "
            "already, or not yours to manage): nothing changed; look at the plan again "
            "with a dry run"
        )


def _token_for(key: DeploymentApiKey) -> token_schemas.TokenCreate:
    description = f"migrated from deployment API key {key.id}"
    if key.description:
        description = f"{description}: {key.description}"[:_DESCRIPTION_MAX]
    return token_schemas.TokenCreate(
        name=key.name,
        description=description,
        scope=Level.DEPLOYMENT,
        entity_id=key.deployment_id,
        role=ROLE,
    )
