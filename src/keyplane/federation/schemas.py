"""API models for workload identities."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import Field, StringConstraints

from keyplane.domain.roles import Level
from keyplane.http.schemas import Actor, ApiModel, Page
from keyplane.tenancy.schemas import Description, Name
from keyplane.tokens.schemas import Role

MAX_LIFETIME = 3600
DEFAULT_LIFETIME = 900

Url = Annotated[str, StringConstraints(min_length=1, max_length=300)]
ConditionValue = str | list[str]
Conditions = Annotated[
    dict[str, ConditionValue],
    Field(
        description="claim name → an allowed value or a list of them; `*` matches any run "
        "of characters except in `*_id` claims. For GitHub, `repository_id` or "
        "`repository_owner_id` is required.",
        examples=[{"repository_id": "892314", "ref": "refs/heads/main"}],
    ),
]
Lifetime = Annotated[int, Field(ge=60, le=MAX_LIFETIME)]


class WorkloadIdentityCreate(ApiModel):
    name: Name
    description: Description = ""
    issuer: Url = Field(description="one of the operator's KEYPLANE_FEDERATION_ISSUERS")
    audience: Url | None = Field(
        default=None, description="the `aud` the ID token must carry; default: this server's URL"
    )
    conditions: Conditions
    scope: Level
    entity_id: str | None = Field(
        default=None,
        max_length=32,
        description="the workspace or deployment id; optional for ORGANIZATION scope",
    )
    role: Role
    token_lifetime_seconds: Lifetime = DEFAULT_LIFETIME


class WorkloadIdentityUpdate(ApiModel):
    """Fields to change (absent: unchanged); ``conditions`` replaces them all."""

    name: Name | None = None
    description: Description | None = None
    issuer: Url | None = None
    audience: Url | None = None
    conditions: Conditions | None = None
    scope: Level | None = None
    entity_id: str | None = Field(default=None, max_length=32)
    role: Role | None = None
    token_lifetime_seconds: Lifetime | None = None


class WorkloadIdentityOut(ApiModel):
    id: str = Field(description="also the `client_id` of the token exchange")
    name: str
    description: str
    issuer: str
    audience: str
    conditions: dict[str, ConditionValue]
    scope: Level
    entity_id: str
    role: str
    token_lifetime_seconds: int
    created_at: datetime
    updated_at: datetime
    created_by: Actor
    updated_by: Actor
    last_used_at: datetime | None


class WorkloadIdentityList(Page[WorkloadIdentityOut]):
    workload_identities: list[WorkloadIdentityOut]
