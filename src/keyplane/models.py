"""Imports every area's models so that the metadata knows all tables."""

from keyplane.apikeys.models import DeploymentApiKey  # noqa: F401
from keyplane.audit.models import AuditEvent  # noqa: F401
from keyplane.db.models import (  # noqa: F401
    ApiToken,
    CustomRole,
    Deployment,
    Organization,
    RoleBinding,
    User,
    WorkloadIdentity,
    Workspace,
)
from keyplane.deploys.models import Deploy  # noqa: F401
from keyplane.federation.models import ExchangedIdToken  # noqa: F401
from keyplane.hygiene.models import ExpiryNotice, LeakedSecret, PermissionUse  # noqa: F401
from keyplane.identity.models import (  # noqa: F401
    AuthorizationCode,
    CliLogin,
    DeviceAuthorization,
    Invitation,
    RefreshToken,
    SsoConnection,
    SsoDomain,
    WebSession,
)
from keyplane.oauth.models import RevokedAccessToken, SigningKey  # noqa: F401
from keyplane.variables.models import DeploymentVariable  # noqa: F401
