"""API models for organization SSO (OIDC) connections."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import BeforeValidator, Field, StrictBool, StringConstraints, field_validator

from keyplane.domain.roles import Role
from keyplane.http.schemas import Actor, ApiModel, Page
from keyplane.tenancy.schemas import Name

Domain = Annotated[
    str,
    BeforeValidator(lambda value: value.strip().lower() if isinstance(value, str) else value),
    StringConstraints(
        min_length=3,
        max_length=253,
        pattern=r"^[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)+$",
    ),
]
Issuer = Annotated[str, StringConstraints(strip_whitespace=True, min_length=8, max_length=500)]
Secret = Annotated[str, StringConstraints(min_length=1, max_length=1000)]


def _check_issuer(value: str | None) -> str | None:
    if value is not None and not value.startswith(("https://", "http://")):
        raise ValueError("the issuer must be an http(s) URL")
    return value.rstrip("/") if value else value


class SsoConnectionCreate(ApiModel):
    name: Name
    issuer: Issuer = Field(description="the provider's issuer URL (OpenID discovery base)")
    client_id: Annotated[str, StringConstraints(min_length=1, max_length=300)]
    client_secret: Secret = Field(description="write-only: stored encrypted, never returned")
    domains: list[Domain] = Field(min_length=1, max_length=50)
    default_role: str = Field(default=Role.ORGANIZATION_MEMBER.value, max_length=64)
    enforce_sso: StrictBool = Field(
        default=False, description="disable passwords for these domains"
    )

    _issuer = field_validator("issuer")(_check_issuer)


class SsoConnectionUpdate(ApiModel):
    name: Name | None = None
    issuer: Issuer | None = None
    client_id: Annotated[str, StringConstraints(min_length=1, max_length=300)] | None = None
    client_secret: Secret | None = None
    domains: list[Domain] | None = Field(default=None, min_length=1, max_length=50)
    default_role: str | None = Field(default=None, max_length=64)
    enforce_sso: StrictBool | None = None

    _issuer = field_validator("issuer")(_check_issuer)


class SsoConnectionOut(ApiModel):
    id: str
    name: str
    issuer: str
    client_id: str
    domains: list[str]
    verified_domains: list[str] = Field(
        description="the domains the operator has verified: only these route sign-ins "
        "to the provider (and, with enforceSso, turn passwords off)"
    )
    default_role: str
    enforce_sso: bool
    created_at: datetime
    updated_at: datetime
    created_by: Actor


class SsoConnectionList(Page[SsoConnectionOut]):
    connections: list[SsoConnectionOut]
