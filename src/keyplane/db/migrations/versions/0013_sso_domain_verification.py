"""SSO domain claims need the operator's verification before they route sign-ins:
``sso_domains`` gains ``verified_at`` and ``verified_by``, and its primary key becomes
(domain, connection) so that several organizations may claim a domain while only one
claim of it can be verified (a partial unique index). Claims made before this revision
stay unverified: nothing proved that the organization that made them owns the domain
(``keyplane admin sso verify`` verifies one).

Revision ID: 0013_sso_domain_verification
Revises: 0012_leak_notices
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import keyplane.db.base

revision = "0013_sso_domain_verification"
down_revision = "0012_leak_notices"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("sso_domains", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("verified_at", keyplane.db.base.UTCDateTime(timezone=True), nullable=True)
        )
        batch_op.add_column(
            sa.Column("verified_by", sa.String(length=120), nullable=False, server_default="")
        )
        batch_op.drop_constraint("pk_sso_domains", type_="primary")
        batch_op.create_primary_key("pk_sso_domains", ["domain", "connection_id"])
    op.create_index(
        "ux_sso_domains_verified",
        "sso_domains",
        ["domain"],
        unique=True,
        postgresql_where=sa.text("verified_at IS NOT NULL"),
        sqlite_where=sa.text("verified_at IS NOT NULL"),
    )


def downgrade() -> None:
    op.drop_index("ux_sso_domains_verified", table_name="sso_domains")
    op.execute(sa.text("DELETE FROM sso_domains WHERE verified_at IS NULL"))
    with op.batch_alter_table("sso_domains", schema=None) as batch_op:
        batch_op.drop_constraint("pk_sso_domains", type_="primary")
        batch_op.create_primary_key("pk_sso_domains", ["domain"])
        batch_op.drop_column("verified_by")
        batch_op.drop_column("verified_at")
