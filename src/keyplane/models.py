"""Imports every area's models so that the metadata knows all tables."""

from keyplane.db.models import (  # noqa: F401
    ApiToken,
    CustomRole,
    Deployment,
    Organization,
    RoleBinding,
    User,
    Workspace,
)
