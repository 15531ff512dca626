"""Index deployments by organization and workspace together, for visible listings.

A listing asks for the deployments of one organization that lie in the caller's
workspaces (``organization_id = :org AND workspace_id IN (…)``). With one index per
column, PostgreSQL combined both, and the organization's side of that grows with
every deployment of the organization, visible or not; one index on the pair reads
only the rows returned. It also serves what the organization index served (its
leading column), which goes.

Revision ID: 0006_listing_indexes
Revises: 0005_merge_areas
"""

from __future__ import annotations

from alembic import op

revision = "0006_listing_indexes"
down_revision = "0005_merge_areas"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("deployments", schema=None) as batch_op:
        batch_op.create_index(
            "ix_deployments_organization_workspace", ["organization_id", "workspace_id"]
        )
        batch_op.drop_index("ix_deployments_organization_id")


def downgrade() -> None:
    with op.batch_alter_table("deployments", schema=None) as batch_op:
        batch_op.create_index("ix_deployments_organization_id", ["organization_id"])
        batch_op.drop_index("ix_deployments_organization_workspace")
