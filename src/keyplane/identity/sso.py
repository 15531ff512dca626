"""Use cases for organization SSO connections (``organization.sso:manage``)."""

from __future__ import annotations

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from keyplane.auth.principal import Principal
from keyplane.db.paging import PageParams, page_of_query
from keyplane.domain.access import Entity, authorize
from keyplane.domain.errors import Conflict, InvalidInput, NotFound
from keyplane.domain.roles import ORGANIZATION_ROLES, Permission
from keyplane.identity import sso_schemas as schemas
from keyplane.identity.models import SsoConnection, SsoDomain
from keyplane.secretbox import SecretBox


def _manage(db: Session, principal: Principal, org_id: str) -> None:
    authorize(principal, Permission.ORGANIZATION_SSO_MANAGE, Entity.organization(org_id))


def domains_of(db: Session, connection_ids: list[str]) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {cid: [] for cid in connection_ids}
    if connection_ids:
        rows = db.scalars(select(SsoDomain).where(SsoDomain.connection_id.in_(connection_ids)))
        for row in rows:
            found[row.connection_id].append(row.domain)
    return {cid: sorted(domains) for cid, domains in found.items()}


def list_connections(
    db: Session, principal: Principal, org_id: str, page: PageParams
) -> tuple[list[SsoConnection], int]:
    _manage(db, principal, org_id)
    query = select(SsoConnection).where(SsoConnection.organization_id == org_id)
    columns = {"name": func.lower(SsoConnection.name), "createdAt": SsoConnection.created_at}
    return page_of_query(db, query, page, columns, tiebreak=SsoConnection.id)


def get_connection(db: Session, principal: Principal, org_id: str, conn_id: str) -> SsoConnection:
    _manage(db, principal, org_id)
    connection = db.get(SsoConnection, conn_id)
    if connection is None or connection.organization_id != org_id:
        raise NotFound(f"SSO connection {conn_id} not found")
    return connection


def create_connection(
    db: Session,
    principal: Principal,
    box: SecretBox,
    org_id: str,
    data: schemas.SsoConnectionCreate,
) -> SsoConnection:
    _manage(db, principal, org_id)
    _check_role(data.default_role)
    connection = SsoConnection(
        organization_id=org_id,
        name=data.name,
        issuer=data.issuer,
        client_id=data.client_id,
        client_secret_encrypted=box.encrypt(data.client_secret.encode()),
        default_role=data.default_role,
        enforce_sso=data.enforce_sso,
        created_by=principal.actor(),
    )
    db.add(connection)
    db.flush()
    _claim_domains(db, connection, data.domains)
    return connection


def update_connection(
    db: Session,
    principal: Principal,
    box: SecretBox,
    org_id: str,
    conn_id: str,
    change: schemas.SsoConnectionUpdate,
) -> SsoConnection:
    connection = get_connection(db, principal, org_id, conn_id)
    for name in ("name", "issuer", "client_id", "enforce_sso"):
        value = getattr(change, name)
        if value is not None:
            setattr(connection, name, value)
    if change.default_role is not None:
        _check_role(change.default_role)
        connection.default_role = change.default_role
    if change.client_secret is not None:
        connection.client_secret_encrypted = box.encrypt(change.client_secret.encode())
    if change.domains is not None:
        db.execute(delete(SsoDomain).where(SsoDomain.connection_id == connection.id))
        db.flush()
        _claim_domains(db, connection, change.domains)
    db.flush()
    return connection


def delete_connection(db: Session, principal: Principal, org_id: str, conn_id: str) -> None:
    connection = get_connection(db, principal, org_id, conn_id)
    db.delete(connection)
    db.flush()


def _claim_domains(db: Session, connection: SsoConnection, domains: list[str]) -> None:
    """Route each domain to this connection; a domain can belong to one connection only."""
    for domain in sorted(set(domains)):
        if db.get(SsoDomain, domain) is not None:
            raise Conflict(
                f"the domain {domain} already belongs to an SSO connection",
                field_errors={"domains": f"{domain} is taken"},
            )
        db.add(
            SsoDomain(
                domain=domain,
                connection_id=connection.id,
                organization_id=connection.organization_id,
            )
        )
    db.flush()


def _check_role(role: str) -> None:
    if role not in ORGANIZATION_ROLES:
        raise InvalidInput(
            f"defaultRole must be an organization role: one of {', '.join(ORGANIZATION_ROLES)}",
            field_errors={"defaultRole": "not an organization role"},
        )
