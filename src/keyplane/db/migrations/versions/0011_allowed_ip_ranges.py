"""IP restrictions: ``allowed_ip_ranges`` on organizations and API tokens.

A JSON list of CIDR ranges in canonical form; empty (every existing row) means no
restriction, so the upgrade changes no one's access.

Revision ID: 0011_allowed_ip_ranges
Revises: 0008_workload_identities
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011_allowed_ip_ranges"
down_revision = "0008_workload_identities"
branch_labels = None
depends_on = None

TABLES = ("organizations", "api_tokens")


def upgrade() -> None:
    for table in TABLES:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.add_column(
                sa.Column(
                    "allowed_ip_ranges", sa.JSON(), nullable=False, server_default=sa.text("'[]'")
                )
            )


def downgrade() -> None:
    for table in TABLES:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_column("allowed_ip_ranges")
