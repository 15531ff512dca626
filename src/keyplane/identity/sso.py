"""Use cases for organization SSO connections (``organization.sso:manage``)."""

from __future__ import annotations

from sqlalchemy import delete, func, or_, select
from sqlalchemy.orm import Session

from keyplane.auth.principal import Principal
from keyplane.db.base import utcnow
from keyplane.db.models import Organization, User
from keyplane.db.paging import PageParams, page_of_query
from keyplane.db.unit import CHECK_AND_CHANGE, DELETE_ROW, RowLock
from keyplane.domain.access import Entity, authorize
from keyplane.domain.errors import Conflict, InvalidInput, NotFound
from keyplane.domain.roles import ORGANIZATION_ROLES, Permission
from keyplane.identity import sso_schemas as schemas
from keyplane.identity.models import SsoConnection, SsoDomain
from keyplane.identity.sessions import end_password_sign_ins
from keyplane.secretbox import SecretBox
from keyplane.tenancy.entities import organization_named

# Domains whose addresses anyone can get: no organization may route them to its provider.
PUBLIC_MAIL_DOMAINS = frozenset(
    {
        "aol.com", "gmail.com", "gmx.com", "gmx.de", "gmx.net", "googlemail.com",
        "hotmail.com", "icloud.com", "live.com", "mac.com", "mail.com", "mail.ru", "me.com",
        "msn.com", "outlook.com", "pm.me", "proton.me", "protonmail.com", "qq.com",
        "tutanota.com", "web.de", "yahoo.com", "yandex.com", "yandex.ru", "zoho.com",
        "163.com", "126.com",
    }
)  # fmt: skip


def _manage(db: Session, principal: Principal, org_id: str) -> None:
    authorize(principal, Permission.ORGANIZATION_SSO_MANAGE, Entity.organization(org_id))


def domains_of(db: Session, connection_ids: list[str]) -> dict[str, list[SsoDomain]]:
    """Each connection's domain claims, by domain."""
    found: dict[str, list[SsoDomain]] = {cid: [] for cid in connection_ids}
    if connection_ids:
        rows = db.scalars(
            select(SsoDomain)
            .where(SsoDomain.connection_id.in_(connection_ids))
            .order_by(SsoDomain.domain)
        )
        for row in rows:
            found[row.connection_id].append(row)
    return found


def list_connections(
    db: Session, principal: Principal, org_id: str, page: PageParams
) -> tuple[list[SsoConnection], int]:
    _manage(db, principal, org_id)
    query = select(SsoConnection).where(SsoConnection.organization_id == org_id)
    columns = {"name": func.lower(SsoConnection.name), "createdAt": SsoConnection.created_at}
    return page_of_query(db, query, page, columns, tiebreak=SsoConnection.id)


def get_connection(
    db: Session, principal: Principal, org_id: str, conn_id: str, lock: RowLock | None = None
) -> SsoConnection:
    """The organization's connection of this id, read under ``lock``; NotFound if none."""
    _manage(db, principal, org_id)
    connection = db.get(SsoConnection, conn_id, with_for_update=lock)
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
    connection = get_connection(db, principal, org_id, conn_id, CHECK_AND_CHANGE)
    enforced_before = connection.enforce_sso
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
        db.execute(
            delete(SsoDomain).where(
                SsoDomain.connection_id == connection.id, SsoDomain.domain.not_in(change.domains)
            )
        )
        db.flush()
        _claim_domains(db, connection, change.domains)
    db.flush()
    if connection.enforce_sso and not enforced_before:
        _end_password_sign_ins(db, verified_domains(domains_of(db, [connection.id])[connection.id]))
    return connection


def delete_connection(db: Session, principal: Principal, org_id: str, conn_id: str) -> None:
    connection = get_connection(db, principal, org_id, conn_id, DELETE_ROW)
    db.delete(connection)
    db.flush()


def _claim_domains(db: Session, connection: SsoConnection, domains: list[str]) -> None:
    """Claim each domain for this connection, unverified: a claim routes nobody until the
    operator verifies it (``keyplane admin sso verify``), since nothing here proves that
    the organization owns the domain. Another organization's claim does not stand in the
    way (claims cannot squat); a claim verified for another connection does."""
    public = sorted(d for d in domains if d in PUBLIC_MAIL_DOMAINS)
    if public:
        raise InvalidInput(
            f"{', '.join(public)}: a public mail provider's domain cannot be claimed for "
            "single sign-on (its users belong to no organization)",
            field_errors={"domains": "a public mail domain"},
        )
    held = set(db.scalars(select(SsoDomain.domain).where(SsoDomain.connection_id == connection.id)))
    for domain in sorted(set(domains) - held):
        if _verified_elsewhere(db, domain, connection.id) is not None:
            raise Conflict(
                f"the domain {domain} is verified for another SSO connection",
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


def verify_domain(db: Session, domain: str, organization: str) -> SsoDomain:
    """The operator's word that ``organization`` (id or name) owns ``domain``: its claim
    of it now routes sign-ins. NotFound without such a claim; Conflict if another
    organization's claim of the domain is verified (unverify that one first)."""
    claim = _claim_of(db, domain, organization)
    if claim.domain in PUBLIC_MAIL_DOMAINS:  # a claim made before they were refused
        raise InvalidInput(
            f"{claim.domain} is a public mail provider's domain: its users belong to no "
            "organization, so it is never verified for one"
        )
    other = _verified_elsewhere(db, claim.domain, claim.connection_id)
    if other is not None:
        raise Conflict(
            f"{claim.domain} is verified for another organization ({other.organization_id}): "
            f"`keyplane admin sso unverify {claim.domain} --organization "
            f"{other.organization_id}` first"
        )
    if claim.verified_at is None:
        claim.verified_at, claim.verified_by = utcnow(), "operator"
        db.flush()
        connection = db.get(SsoConnection, claim.connection_id)
        if connection is not None and connection.enforce_sso:
            _end_password_sign_ins(db, [claim.domain])
    return claim


def _verified_elsewhere(db: Session, domain: str, connection_id: str) -> SsoDomain | None:
    """The verified claim of ``domain`` by another connection than this one, if any."""
    return db.scalar(
        select(SsoDomain).where(
            SsoDomain.domain == domain,
            SsoDomain.verified_at.is_not(None),
            SsoDomain.connection_id != connection_id,
        )
    )


def verified_domains(claims: list[SsoDomain]) -> list[str]:
    """The domains of ``claims`` (one connection's, from :func:`domains_of`) that the
    operator has verified: only these route sign-ins."""
    return [claim.domain for claim in claims if claim.verified_at is not None]


def _end_password_sign_ins(db: Session, domains: list[str]) -> None:
    """Passwords just stopped working for ``domains`` (enforce-SSO took effect there):
    whoever of those users signed in with one is signed out, or the ban would wait for
    their sessions and CLI logins (30 days) to run out."""
    if not domains:
        return
    users = db.scalars(select(User.id).where(or_(*(User.email.like(f"%@{d}") for d in domains))))
    for user_id in list(users):
        end_password_sign_ins(db, user_id)


def unverify_domain(db: Session, domain: str, organization: str) -> SsoDomain:
    """Take the operator's verification back: the domain signs in with passwords again."""
    claim = _claim_of(db, domain, organization)
    claim.verified_at, claim.verified_by = None, ""
    db.flush()
    return claim


def domain_claims(db: Session, domain: str | None = None) -> list[tuple[SsoDomain, str]]:
    """Every claim (of ``domain``, if given) with its organization's name, for the operator."""
    query = (
        select(SsoDomain, Organization.name)
        .join(Organization, Organization.id == SsoDomain.organization_id)
        .order_by(SsoDomain.domain, Organization.name)
    )
    if domain is not None:
        query = query.where(SsoDomain.domain == domain.strip().lower())
    return [(claim, name) for claim, name in db.execute(query).tuples()]


def _claim_of(db: Session, domain: str, organization: str) -> SsoDomain:
    org = organization_named(db, organization)
    domain = domain.strip().lower()
    claim = db.scalar(
        select(SsoDomain).where(SsoDomain.domain == domain, SsoDomain.organization_id == org.id)
    )
    if claim is None:
        raise NotFound(f"{org.name} has no SSO connection claiming {domain}")
    return claim


def _check_role(role: str) -> None:
    if role not in ORGANIZATION_ROLES:
        raise InvalidInput(
            f"defaultRole must be an organization role: one of {', '.join(ORGANIZATION_ROLES)}",
            field_errors={"defaultRole": "not an organization role"},
        )
