"""Use cases for organization and workspace membership."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Select, SQLColumnExpression, and_, delete, or_, select
from sqlalchemy.orm import Session

from keyplane.auth.principal import Principal
from keyplane.db.models import Organization, RoleBinding, User
from keyplane.db.paging import PageParams, page_of_query
from keyplane.db.unit import CHECK_AND_CHANGE, credentials_changed, flush_unique, locked
from keyplane.domain.access import Entity, authorize
from keyplane.domain.emails import canonical, comparable
from keyplane.domain.errors import Conflict, NotFound
from keyplane.domain.roles import Level, Permission, Role
from keyplane.tenancy import members_schemas as schemas
from keyplane.tenancy.entities import get_workspace, workspace_entity
from keyplane.tenancy.granting import check_grantable, described

OWNER = Role.ORGANIZATION_OWNER
SORT_COLUMNS: dict[str, SQLColumnExpression[Any]] = {
    "email": User.email,
    "createdAt": User.created_at,
}


@dataclass
class Member:
    user: User
    bindings: list[RoleBinding] = field(default_factory=list)

    def role_at(self, level: Level, entity_id: str | None = None) -> str | None:
        for binding in self.bindings:
            if binding.level == level and (entity_id is None or binding.entity_id == entity_id):
                return binding.role
        return None


def _members_query(org_id: str) -> Select[Any]:
    """Users holding the organization role that makes them members of ``org_id``."""
    return select(User).join(
        RoleBinding,
        and_(
            RoleBinding.user_id == User.id,
            RoleBinding.organization_id == org_id,
            RoleBinding.level == Level.ORGANIZATION.value,
        ),
    )


def _with_bindings(db: Session, org_id: str, users: Sequence[User]) -> list[Member]:
    """Members with every binding they hold in the organization, in one query."""
    found = {user.id: Member(user) for user in users}
    if found:
        bindings = db.scalars(
            select(RoleBinding).where(
                RoleBinding.organization_id == org_id, RoleBinding.user_id.in_(list(found))
            )
        )
        for binding in bindings:
            found[binding.subject_id].bindings.append(binding)
    return list(found.values())


def find_member(db: Session, org_id: str, email_or_id: str) -> Member | None:
    """The member with this user id or email, or None if they are not one."""
    user = db.scalar(_members_query(org_id).where(_is(email_or_id)))
    return _with_bindings(db, org_id, [user])[0] if user else None


def _is(email_or_id: str) -> SQLColumnExpression[bool]:
    return or_(User.id == email_or_id, User.email == comparable(email_or_id))


def list_users(
    db: Session, principal: Principal, org_id: str, page: PageParams
) -> tuple[list[Member], int]:
    authorize(principal, Permission.ORGANIZATION_READ, Entity.organization(org_id))
    users, total = page_of_query(db, _members_query(org_id), page, SORT_COLUMNS, tiebreak=User.id)
    return _with_bindings(db, org_id, users), total


def get_member(db: Session, principal: Principal, org_id: str, user_id: str) -> Member:
    authorize(principal, Permission.ORGANIZATION_READ, Entity.organization(org_id))
    member = find_member(db, org_id, user_id)
    if member is None or member.user.id != user_id:
        raise NotFound(f"user {user_id} not found in this organization")
    return member


def _changing_member(db: Session, principal: Principal, org_id: str, user_id: str) -> Member:
    """As :func:`get_member`, read under the user's row lock, so that two changes of
    one member's roles at once take turns instead of both replacing what they read."""
    db.get(User, user_id, with_for_update=CHECK_AND_CHANGE)
    return get_member(db, principal, org_id, user_id)


def replace_user_roles(
    db: Session, principal: Principal, org_id: str, user_id: str, data: schemas.UserRolesUpdate
) -> tuple[Member, list[str]]:
    """Replace every role a member holds in the organization (no escalation); the
    member with their new roles, and their roles before (``described``)."""
    own = Entity.organization(org_id)
    authorize(principal, Permission.ORGANIZATION_USERS_MANAGE, own)
    member = _changing_member(db, principal, org_id, user_id)
    wanted = [(Level.ORGANIZATION, org_id, data.organization_role)]
    wanted += [(Level.WORKSPACE, r.workspace_id, r.role) for r in data.workspace_roles]
    wanted += [(Level.DEPLOYMENT, r.deployment_id, r.role) for r in data.deployment_roles]
    roles = check_grantable(db, principal, org_id, wanted, own, {Level.WORKSPACE, Level.DEPLOYMENT})
    if data.organization_role != OWNER:
        _keep_an_owner(db, org_id, user_id)
    previous = described(member.bindings)
    _unbind(db, org_id, user_id)
    member.bindings = [bind_user(db, member.user, entity, role) for entity, role in roles]
    credentials_changed(db)
    db.flush()
    return member, previous


def remove_user(db: Session, principal: Principal, org_id: str, user_id: str) -> None:
    """Remove a member and all their roles; tokens they created are unaffected."""
    authorize(principal, Permission.ORGANIZATION_USERS_MANAGE, Entity.organization(org_id))
    _changing_member(db, principal, org_id, user_id)
    _keep_an_owner(db, org_id, user_id)
    _unbind(db, org_id, user_id)
    credentials_changed(db)


def invite(db: Session, principal: Principal, org_id: str, data: schemas.InviteCreate) -> Member:
    """Make an email a member with an organization role, creating the user if new."""
    own = Entity.organization(org_id)
    authorize(principal, Permission.ORGANIZATION_USERS_MANAGE, own)
    roles = check_grantable(
        db, principal, org_id, [(Level.ORGANIZATION, org_id, data.role)], own, set()
    )
    email = canonical(data.email)
    user = db.scalar(select(User).where(User.email == email))
    if user is None:
        user = User(email=email)
        db.add(user)
        flush_unique(db, f"{email} is being invited by another request at this moment")
    elif find_member(db, org_id, user.id) is not None:
        raise Conflict(f"{email} is already a member of this organization")
    member = Member(user, [bind_user(db, user, entity, role) for entity, role in roles])
    credentials_changed(db)
    db.flush()
    return member


def bind_user(db: Session, user: User, entity: Entity, role: str) -> RoleBinding:
    binding = RoleBinding(
        subject_id=user.id,
        user_id=user.id,
        level=entity.level.value,
        entity_id=entity.id,
        role=role,
        organization_id=entity.organization_id,
        workspace_id=entity.workspace_id,
        deployment_id=entity.id if entity.level is Level.DEPLOYMENT else None,
    )
    db.add(binding)
    return binding


def _unbind(db: Session, org_id: str, user_id: str) -> None:
    db.execute(
        delete(RoleBinding).where(
            RoleBinding.user_id == user_id, RoleBinding.organization_id == org_id
        )
    )


def _keep_an_owner(db: Session, org_id: str, user_id: str) -> None:
    """Refuse to take the last user owner's role away.

    Two such changes at once (each removing one of two owners) take turns on the
    organization's row, so the second counts what the first left.
    """
    db.get(Organization, org_id, with_for_update=CHECK_AND_CHANGE)
    owners = db.scalars(
        select(RoleBinding.user_id).where(
            RoleBinding.organization_id == org_id,
            RoleBinding.level == Level.ORGANIZATION.value,
            RoleBinding.role == OWNER,
            RoleBinding.user_id.is_not(None),
        )
    ).all()
    if owners == [user_id]:
        raise Conflict("this is the organization's last owner: make someone else owner first")


def list_workspace_users(
    db: Session, principal: Principal, org_id: str, ws_id: str, page: PageParams
) -> tuple[list[tuple[Member, str]], int]:
    """Members holding a role in the workspace, with that role."""
    workspace = get_workspace(db, org_id, ws_id)
    authorize(principal, Permission.WORKSPACE_READ, workspace_entity(workspace))
    in_workspace = select(RoleBinding.user_id).where(
        RoleBinding.level == Level.WORKSPACE.value, RoleBinding.entity_id == ws_id
    )
    query = _members_query(org_id).where(User.id.in_(in_workspace))
    users, total = page_of_query(db, query, page, SORT_COLUMNS, tiebreak=User.id)
    found = _with_bindings(db, org_id, users)
    return [(m, m.role_at(Level.WORKSPACE, ws_id) or "") for m in found], total


def set_workspace_role(
    db: Session,
    principal: Principal,
    org_id: str,
    ws_id: str,
    email_or_id: str,
    role: str,
    *,
    adding: bool,
) -> tuple[Member, str]:
    """Give an organization member a role in a workspace (add, or change with adding=False)."""
    workspace = get_workspace(db, org_id, ws_id)
    entity = workspace_entity(workspace)
    authorize(principal, Permission.WORKSPACE_USERS_MANAGE, entity)
    member = _changing_member_by(db, org_id, email_or_id)
    current = member.role_at(Level.WORKSPACE, ws_id)
    if adding and current:
        raise Conflict(f"{member.user.email} already has {current} in this workspace")
    if not adding and not current:
        raise NotFound(f"user {email_or_id} has no role in this workspace")
    check_grantable(db, principal, org_id, [(Level.WORKSPACE, ws_id, role)], entity, set())
    _drop_workspace_role(db, member, ws_id)
    member.bindings.append(bind_user(db, member.user, entity, role))
    credentials_changed(db)
    flush_unique(db, f"{member.user.email}'s role in this workspace changed meanwhile: try again")
    return member, role


def remove_workspace_user(
    db: Session, principal: Principal, org_id: str, ws_id: str, user_id: str
) -> None:
    workspace = get_workspace(db, org_id, ws_id)
    authorize(principal, Permission.WORKSPACE_USERS_MANAGE, workspace_entity(workspace))
    member = _changing_member_by(db, org_id, user_id)
    if not member.role_at(Level.WORKSPACE, ws_id):
        raise NotFound(f"user {user_id} has no role in this workspace")
    _drop_workspace_role(db, member, ws_id)
    credentials_changed(db)


def _drop_workspace_role(db: Session, member: Member, ws_id: str) -> None:
    for binding in [b for b in member.bindings if b.entity_id == ws_id]:
        member.bindings.remove(binding)
        db.delete(binding)
    db.flush()


def _changing_member_by(db: Session, org_id: str, email_or_id: str) -> Member:
    """The member of this id or email, read under the user's row lock as
    :func:`_changing_member` reads one: a workspace role given while the member is
    removed is given first (and removed with them) or refused, never left behind."""
    db.scalar(locked(select(User.id).where(_is(email_or_id)), CHECK_AND_CHANGE))
    member = find_member(db, org_id, email_or_id)
    if member is None:
        raise NotFound(
            f"no member {email_or_id} in this organization: invite them first "
            "(`POST /v1/organizations/{orgId}/invites`)"
        )
    return member
