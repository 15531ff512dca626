"""Join the areas' migration branches into one head.

The core, OAuth, deploys/audit and identity areas were built in parallel, each
branching from 0001_core. From here on there is a single head again, so a new
migration has one obvious parent.

Revision ID: 0005_merge_areas
Revises: 0002_oauth, 0003_deploys_audit, 0004_identity_cli
"""

from __future__ import annotations

revision = "0005_merge_areas"
down_revision = ("0002_oauth", "0003_deploys_audit", "0004_identity_cli")
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
