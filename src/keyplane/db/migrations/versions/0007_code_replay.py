"""Keep a redeemed authorization code until it expires, with the login it started.

RFC 6749 §4.1.2: when a code is presented again, the tokens first issued from it
should be revoked. A spent code therefore stays (``used_at`` set) naming its login,
instead of being deleted on use; codes live 60 seconds, and expired ones are swept.

Revision ID: 0007_code_replay
Revises: 0006_listing_indexes
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import keyplane.db.base

revision = "0007_code_replay"
down_revision = "0006_listing_indexes"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("authorization_codes", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("used_at", keyplane.db.base.UTCDateTime(timezone=True), nullable=True)
        )
        batch_op.add_column(sa.Column("login_id", sa.String(length=32), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("authorization_codes", schema=None) as batch_op:
        batch_op.drop_column("login_id")
        batch_op.drop_column("used_at")
