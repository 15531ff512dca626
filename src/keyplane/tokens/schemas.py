"""API models for API tokens."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import Field, StringConstraints

from keyplane.domain.roles import BUILT_IN_ROLES, Level
from keyplane.http.schemas import Actor, ApiModel, Page
from keyplane.tenancy.schemas import AllowedIpRanges, Description, Name, RoleOut

# A built-in role (listed in the schema), or a custom deployment role's name: those are
# per organization, so the schema can only say "a string" for them.
Role = Annotated[
    str,
    StringConstraints(min_length=1, max_length=64),
    Field(
        description="a built-in role, or the name of one of the organization's custom "
        "deployment roles (`GET …/custom-roles`)",
        json_schema_extra={"anyOf": [{"enum": sorted(BUILT_IN_ROLES)}, {"type": "string"}]},
    ),
]


class RoleIn(ApiModel):
    entity_type: Level
    entity_id: str = Field(min_length=1, max_length=32)
    role: Role


class TokenCreate(ApiModel):
    name: Name
    description: Description = ""
    scope: Level
    entity_id: str | None = Field(
        default=None,
        max_length=32,
        description="the workspace or deployment id; optional for ORGANIZATION scope",
    )
    role: Role
    token_expiry_period_in_days: int | None = Field(
        default=None, ge=1, le=3650, description="absent: the token never expires"
    )
    allowed_ip_ranges: AllowedIpRanges = None


class TokenUpdate(ApiModel):
    name: Name | None = None
    description: Description | None = None
    allowed_ip_ranges: AllowedIpRanges = None


class TokenRolesUpdate(ApiModel):
    roles: list[RoleIn] = Field(min_length=1, max_length=200)


class TokenOut(ApiModel):
    id: str
    name: str
    description: str
    short_token: str
    scope: Level
    entity_id: str
    roles: list[RoleOut]
    start_at: datetime
    end_at: datetime | None
    expiry_period_in_days: int | None
    allowed_ip_ranges: list[str] = Field(
        description="requests with this token must come from inside these, and inside the "
        "organization's allowedIpRanges; empty: no narrower than the organization's"
    )
    last_used_at: datetime | None
    last_rotated_at: datetime | None
    created_at: datetime
    updated_at: datetime
    created_by: Actor
    updated_by: Actor
    token: str | None = Field(
        default=None, description="the token value: only in the answer to create and rotate"
    )


class TokenList(Page[TokenOut]):
    tokens: list[TokenOut]
