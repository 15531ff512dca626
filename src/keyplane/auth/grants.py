"""Load a subject's role bindings from the database as :class:`Grants`."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from keyplane.db.models import CustomRole, RoleBinding
from keyplane.domain.access import Binding, Grants
from keyplane.domain.roles import Level, Permission, level_of


def load_grants(db: Session, subject_id: str) -> Grants:
    rows = db.scalars(select(RoleBinding).where(RoleBinding.subject_id == subject_id)).all()
    custom = _custom_role_permissions(db, rows)
    return Grants.of(
        Binding(
            level=Level(row.level),
            entity_id=row.entity_id,
            role=row.role,
            organization_id=row.organization_id,
            workspace_id=row.workspace_id,
            custom_permissions=custom.get((row.organization_id, row.role)),
        )
        for row in rows
    )


def _custom_role_permissions(
    db: Session, rows: Sequence[RoleBinding]
) -> dict[tuple[str, str], frozenset[Permission]]:
    wanted = {
        (row.organization_id, row.role)
        for row in rows
        if row.level == Level.DEPLOYMENT and level_of(row.role) is None
    }
    if not wanted:
        return {}
    roles = db.scalars(
        select(CustomRole).where(CustomRole.organization_id.in_({org for org, _ in wanted}))
    )
    return {
        (role.organization_id, role.name): frozenset(Permission(p) for p in role.permissions)
        for role in roles
    }
