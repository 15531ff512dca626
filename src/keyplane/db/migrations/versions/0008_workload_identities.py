"""Workload identities (trust policies for RFC 8693 token exchange) and spent ID tokens.

Revision ID: 0008_workload_identities
Revises: 0009_credential_hygiene
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import keyplane.db.base

revision = "0008_workload_identities"
down_revision = "0009_credential_hygiene"
branch_labels = None
depends_on = None

UTC = keyplane.db.base.UTCDateTime(timezone=True)


def _fk(column: str, table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        [column],
        [f"{table}.id"],
        name=op.f(f"fk_workload_identities_{column}_{table}"),
        ondelete="CASCADE",
    )


def upgrade() -> None:
    op.create_table(
        "workload_identities",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("organization_id", sa.String(length=32), nullable=False),
        sa.Column("workspace_id", sa.String(length=32), nullable=True),
        sa.Column("deployment_id", sa.String(length=32), nullable=True),
        sa.Column("scope", sa.String(length=16), nullable=False),
        sa.Column("entity_id", sa.String(length=32), nullable=False),
        sa.Column("role", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=120), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("issuer", sa.String(length=300), nullable=False),
        sa.Column("audience", sa.String(length=300), nullable=False),
        sa.Column("conditions", sa.JSON(), nullable=False),
        sa.Column("token_lifetime_seconds", sa.Integer(), nullable=False),
        sa.Column("policy_revision", sa.Integer(), nullable=False),
        sa.Column("last_used_at", UTC, nullable=True),
        sa.Column("created_by", sa.JSON(), nullable=False),
        sa.Column("updated_by", sa.JSON(), nullable=False),
        sa.Column("created_at", UTC, nullable=False),
        sa.Column("updated_at", UTC, nullable=False),
        _fk("organization_id", "organizations"),
        _fk("workspace_id", "workspaces"),
        _fk("deployment_id", "deployments"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_workload_identities")),
    )
    with op.batch_alter_table("workload_identities", schema=None) as batch_op:
        for column in ("organization_id", "workspace_id", "deployment_id"):
            batch_op.create_index(
                batch_op.f(f"ix_workload_identities_{column}"), [column], unique=False
            )
    op.create_table(
        "exchanged_id_tokens",
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("expires_at", UTC, nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_exchanged_id_tokens")),
    )
    with op.batch_alter_table("exchanged_id_tokens", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_exchanged_id_tokens_expires_at"), ["expires_at"], unique=False
        )


def downgrade() -> None:
    op.drop_table("exchanged_id_tokens")
    op.drop_table("workload_identities")
