"""Leak notices that survive a mail server outage: ``leaked_secrets`` keeps what the
owners' mail names (``short_token``, ``scope``, ``role``, ``entity_id``,
``reporter``), when a mail was claimed (``mail_claimed_at``) and when it went
(``mailed_at``), so that ``keyplane admin notify`` can send a notice the report could
not. Rows reported before this revision count as mailed: their mail was tried then,
and nothing is left to compose it from.

Revision ID: 0012_leak_notices
Revises: 0010_permission_uses
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import keyplane.db.base

revision = "0012_leak_notices"
down_revision = "0010_permission_uses"
branch_labels = None
depends_on = None

TEXT_COLUMNS = (("short_token", 16), ("scope", 16), ("role", 64), ("entity_id", 32))


def upgrade() -> None:
    with op.batch_alter_table("leaked_secrets", schema=None) as batch_op:
        for name, length in (*TEXT_COLUMNS, ("reporter", 120)):
            batch_op.add_column(
                sa.Column(name, sa.String(length=length), nullable=False, server_default="")
            )
        for name in ("mail_claimed_at", "mailed_at"):
            batch_op.add_column(
                sa.Column(name, keyplane.db.base.UTCDateTime(timezone=True), nullable=True)
            )
    leaked = sa.table("leaked_secrets", sa.column("reported_at"), sa.column("mailed_at"))
    op.execute(leaked.update().values(mailed_at=leaked.c.reported_at))
    op.create_index(
        "ix_leaked_secrets_unmailed",
        "leaked_secrets",
        ["mail_claimed_at"],
        postgresql_where=sa.text("mailed_at IS NULL"),
        sqlite_where=sa.text("mailed_at IS NULL"),
    )


def downgrade() -> None:
    op.drop_index("ix_leaked_secrets_unmailed", table_name="leaked_secrets")
    with op.batch_alter_table("leaked_secrets", schema=None) as batch_op:
        for name in ("mailed_at", "mail_claimed_at", "reporter", *(n for n, _ in TEXT_COLUMNS)):
            batch_op.drop_column(name)
