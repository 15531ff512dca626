"""Use cases for deploys: push a bundle, list and read deploys, fetch a bundle."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.sql.elements import ColumnElement
from starlette.concurrency import run_in_threadpool

from keyplane.auth.principal import Principal, PrincipalKind
from keyplane.db.models import Deployment
from keyplane.db.paging import PageParams, page_of_query
from keyplane.db.unit import read_only, unit_of_work
from keyplane.deploys import upload
from keyplane.deploys.models import Deploy
from keyplane.deploys.store import BundleStore
from keyplane.domain.access import authorize
from keyplane.domain.errors import InvalidInput, NotFound, RefusedByPolicy
from keyplane.domain.roles import Permission
from keyplane.tenancy.entities import deployment_entity, get_deployment

SORT_COLUMNS: dict[str, ColumnElement[Any]] = {
    "createdAt": Deploy.created_at,  # type: ignore[dict-item]
    "sizeBytes": Deploy.size_bytes,  # type: ignore[dict-item]
}
CHUNK = 1024 * 1024


def check_can_deploy(db: Session, principal: Principal, org_id: str, dep_id: str) -> Deployment:
    """The deployment, if this principal may push code to it now.

    Raises NotFound, Forbidden (missing ``deployment:deploy``), or RefusedByPolicy when
    the deployment enforces CI/CD and the caller is a person rather than a credential.
    """
    deployment = get_deployment(db, org_id, dep_id)
    authorize(principal, Permission.DEPLOYMENT_DEPLOY, deployment_entity(deployment))
    if deployment.is_cicd_enforced and principal.kind is PrincipalKind.USER:
        raise RefusedByPolicy(
            f"deployment {dep_id} enforces CI/CD: deploys must come from an API token, a "
            "deployment API key or a workload identity, not a personal login (deploy from "
            "your CI job, or ask an operator to run "
            "`keyplane deployment update --no-cicd-enforcement`)"
        )
    return deployment


async def create_deploy(
    sessions: sessionmaker[Session],
    store: BundleStore,
    limits: upload.Limits,
    principal: Principal,
    org_id: str,
    dep_id: str,
    body: AsyncIterator[bytes],
    *,
    principal_now: Callable[[], Awaitable[Principal]],
    declared_size: int | None,
    description: str,
    expected_sha256: str | None,
) -> Deploy:
    """Store the streamed bundle under its SHA-256 and record the deploy.

    Authorization is checked before a byte of the body is read, and again once the
    body has arrived, on the credential as it is then (``principal_now``: a token
    deleted or re-roled while a slow upload streamed must not deploy). No transaction
    is open while the body streams in; the deploy is recorded in a unit of work of its
    own, which checks the deployment and the permission once more. Raises
    PayloadTooLarge (declared or streamed size, or what it unpacks to, over
    ``limits``), UploadInterrupted, InvalidInput (empty, not gzip, digest mismatch, not
    a whole tar.gz, a member unsafe to unpack); in every case nothing is stored and
    nothing is recorded.
    """
    deployment = await run_in_threadpool(_checked, sessions, principal, org_id, dep_id)
    if declared_size is not None and declared_size > limits.size:
        raise upload.too_large(limits.size)
    staged = await upload.receive(body, store.staging_dir, limits.size)
    try:
        if expected_sha256 and expected_sha256 != staged.digest:
            raise InvalidInput(
                f"the bundle arrived damaged: its SHA-256 is {staged.digest}, not the "
                "sha256 the request gave; nothing was stored",
                field_errors={"sha256": "does not match the body"},
            )
        await run_in_threadpool(upload.check_bundle, staged.path, limits)
        principal = await principal_now()
        deployment = await run_in_threadpool(_checked, sessions, principal, org_id, dep_id)
        await run_in_threadpool(store.put, staged.path, staged.digest)
        return await run_in_threadpool(
            _record, sessions, principal, deployment, staged, description
        )
    finally:
        staged.path.unlink(missing_ok=True)


def _checked(
    sessions: sessionmaker[Session], principal: Principal, org_id: str, dep_id: str
) -> Deployment:
    with read_only(sessions) as db:
        return check_can_deploy(db, principal, org_id, dep_id)


def _record(
    sessions: sessionmaker[Session],
    principal: Principal,
    deployment: Deployment,
    staged: upload.Staged,
    description: str,
) -> Deploy:
    with unit_of_work(sessions) as db:
        check_can_deploy(db, principal, deployment.organization_id, deployment.id)
        deploy = Deploy(
            organization_id=deployment.organization_id,
            workspace_id=deployment.workspace_id,
            deployment_id=deployment.id,
            digest=staged.digest,
            size_bytes=staged.size,
            description=description,
            created_by=principal.actor(),
            credential_fingerprint=principal.fingerprint,
        )
        db.add(deploy)
        try:
            db.flush()
        except IntegrityError as error:  # the deployment went since it was checked
            raise NotFound(f"deployment {deployment.id} not found") from error
    return deploy


def list_deploys(
    db: Session, principal: Principal, org_id: str, dep_id: str, page: PageParams
) -> tuple[list[Deploy], int]:
    """The deployment's deploys, newest first unless sorted otherwise."""
    deployment = get_deployment(db, org_id, dep_id)
    authorize(principal, Permission.DEPLOYMENT_READ, deployment_entity(deployment))
    query = select(Deploy).where(Deploy.deployment_id == dep_id)
    return page_of_query(
        db, query, page.or_sorted_by("createdAt:desc"), SORT_COLUMNS, tiebreak=Deploy.id
    )


def get_deploy(
    db: Session, principal: Principal, org_id: str, dep_id: str, deploy_id: str
) -> Deploy:
    deployment = get_deployment(db, org_id, dep_id)
    authorize(principal, Permission.DEPLOYMENT_READ, deployment_entity(deployment))
    deploy = db.get(Deploy, deploy_id)
    if deploy is None or deploy.deployment_id != dep_id:
        raise NotFound(f"deploy {deploy_id} not found")
    return deploy


def open_bundle(
    store: BundleStore, db: Session, principal: Principal, org_id: str, dep_id: str, deploy_id: str
) -> tuple[Deploy, Iterator[bytes]]:
    """The deploy and its bundle's bytes, read in chunks as they are sent."""
    deploy = get_deploy(db, principal, org_id, dep_id, deploy_id)
    try:
        handle = store.open(deploy.digest)
    except FileNotFoundError as error:
        raise NotFound(
            f"the bundle of deploy {deploy_id} is missing from the bundle store"
        ) from error

    def chunks() -> Iterator[bytes]:
        with handle:
            while block := handle.read(CHUNK):
                yield block

    return deploy, chunks()


def prune_bundles(
    sessions: sessionmaker[Session], store: BundleStore, older_than_seconds: float, now: float
) -> list[str]:
    """Delete the stored bundles that no deploy names any more (their deployments were
    deleted), if stored at least ``older_than_seconds`` before ``now``; their digests.

    The age keeps a bundle stored for an upload whose deploy record is being written at
    this moment (every upload stores its bundle anew, even bytes stored before); a
    bundle whose store does not say when it was stored is kept.
    """

    def old(stored_at: float | None) -> bool:
        return stored_at is not None and now - stored_at >= older_than_seconds

    with read_only(sessions) as db:
        named = set(db.scalars(select(Deploy.digest).distinct()))
    pruned = []
    for digest, stored_at in store.stored():
        if digest in named or not old(stored_at):
            continue
        with read_only(sessions) as db:  # named meanwhile, by a deploy of the same bytes?
            if db.scalar(select(Deploy.id).where(Deploy.digest == digest).limit(1)):
                continue
        if old(store.stored_at(digest)):  # and not stored again just now
            store.delete(digest)
            pruned.append(digest)
    return pruned
