"""Credential hygiene: leaked secrets seen, expiry notices claimed, tokens by expiry.

``leaked_secrets`` keeps the SHA-256 of each value reported leaked (the credential
itself is deleted), so a second report is the same true positive and changes
nothing. ``expiry_notices`` is unique per token, notice and expiry: concurrent runs
of ``keyplane admin notify`` claim each notice once. ``api_tokens.end_at`` is
indexed for both the notices and ``expiringWithinDays``.

Revision ID: 0009_credential_hygiene
Revises: 0007_code_replay
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import keyplane.db.base

revision = "0009_credential_hygiene"
down_revision = "0007_code_replay"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "leaked_secrets",
        sa.Column("secret_hash", sa.String(length=64), nullable=False),
        sa.Column("organization_id", sa.String(length=32), nullable=False),
        sa.Column("credential_type", sa.String(length=16), nullable=False),
        sa.Column("credential_id", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=120), nullable=False),
        sa.Column("url", sa.Text(), nullable=False),
        sa.Column("source", sa.String(length=120), nullable=False),
        sa.Column("reported_at", keyplane.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["organization_id"],
            ["organizations.id"],
            name=op.f("fk_leaked_secrets_organization_id_organizations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("secret_hash", name=op.f("pk_leaked_secrets")),
    )
    op.create_index(
        op.f("ix_leaked_secrets_organization_id"), "leaked_secrets", ["organization_id"]
    )
    op.create_table(
        "expiry_notices",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("token_id", sa.String(length=32), nullable=False),
        sa.Column("days_before", sa.Integer(), nullable=False),
        sa.Column("end_at", keyplane.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("claimed_at", keyplane.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("sent_at", keyplane.db.base.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["token_id"],
            ["api_tokens.id"],
            name=op.f("fk_expiry_notices_token_id_api_tokens"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_expiry_notices")),
        sa.UniqueConstraint(
            "token_id", "days_before", "end_at", name=op.f("uq_expiry_notices_token_id")
        ),
    )
    with op.batch_alter_table("api_tokens", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_api_tokens_end_at"), ["end_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("api_tokens", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_api_tokens_end_at"))
    op.drop_table("expiry_notices")
    op.drop_index(op.f("ix_leaked_secrets_organization_id"), table_name="leaked_secrets")
    op.drop_table("leaked_secrets")
