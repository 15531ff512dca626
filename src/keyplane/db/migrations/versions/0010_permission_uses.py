"""Permission uses: which permissions each credential exercised, and when last.

One row per credential, permission and entity (the primary key), upserted at most
once per interval per process. The typed foreign keys (token, deployment API key,
workload identity) delete a credential's rows with it; the organization's, with it.

Revision ID: 0010_permission_uses
Revises: 0011_allowed_ip_ranges
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import keyplane.db.base

revision = "0010_permission_uses"
down_revision = "0011_allowed_ip_ranges"
branch_labels = None
depends_on = None

TABLE = "permission_uses"
TYPED = (
    ("token_id", "api_tokens"),
    ("api_key_id", "deployment_api_keys"),
    ("workload_identity_id", "workload_identities"),
)


def upgrade() -> None:
    op.create_table(
        TABLE,
        sa.Column("credential_id", sa.String(length=32), nullable=False),
        sa.Column("permission", sa.String(length=64), nullable=False),
        sa.Column("entity_level", sa.String(length=16), nullable=False),
        sa.Column("entity_id", sa.String(length=32), nullable=False),
        sa.Column("workspace_id", sa.String(length=32), nullable=False),
        sa.Column("credential_kind", sa.String(length=24), nullable=False),
        sa.Column("organization_id", sa.String(length=32), nullable=False),
        *(sa.Column(column, sa.String(length=32), nullable=True) for column, _ in TYPED),
        sa.Column("last_used_at", keyplane.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["organization_id"],
            ["organizations.id"],
            name=op.f("fk_permission_uses_organization_id_organizations"),
            ondelete="CASCADE",
        ),
        *(
            sa.ForeignKeyConstraint(
                [column],
                [f"{table}.id"],
                name=op.f(f"fk_permission_uses_{column}_{table}"),
                ondelete="CASCADE",
            )
            for column, table in TYPED
        ),
        sa.PrimaryKeyConstraint(
            "credential_id",
            "permission",
            "entity_level",
            "entity_id",
            "workspace_id",
            name=op.f("pk_permission_uses"),
        ),
    )
    for column in ("organization_id", *(c for c, _ in TYPED)):
        op.create_index(op.f(f"ix_permission_uses_{column}"), TABLE, [column])


def downgrade() -> None:
    for column in ("organization_id", *(c for c, _ in TYPED)):
        op.drop_index(op.f(f"ix_permission_uses_{column}"), table_name=TABLE)
    op.drop_table(TABLE)
