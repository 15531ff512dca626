"""Load a subject's role bindings from the database as :class:`Grants`."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from keyplane.db.models import CustomRole, RoleBinding
from keyplane.domain.access import Binding, Grants
from keyplane.domain.roles import Level, Permission, level_of


def load_grants(db: Session, subject_id: str) -> Grants:
    rows = db.scalars(select(RoleBinding).where(RoleBinding.subject_id == subject_id)).all()
    return grants_of(db, {subject_id: rows})[subject_id]


def grants_of(db: Session, rows_of: Mapping[str, Sequence[RoleBinding]]) -> dict[str, Grants]:
    """The grants of several subjects from their loaded bindings (subject id → rows),
    reading custom roles' permissions in one query for all of them."""
    custom = _custom_role_permissions(db, [row for rows in rows_of.values() for row in rows])
    return {
        subject_id: Grants.of(
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
        for subject_id, rows in rows_of.items()
    }


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
