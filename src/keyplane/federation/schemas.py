"""API models for workload identities."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import BeforeValidator, Field, StringConstraints
from pydantic_core import PydanticCustomError

from keyplane.domain.roles import Level
from keyplane.http.schemas import Actor, ApiModel, Page
from keyplane.tenancy.schemas import Description, Name
from keyplane.tokens.schemas import Role

MAX_LIFETIME = 3600
DEFAULT_LIFETIME = 900

Url = Annotated[str, StringConstraints(min_length=1, max_length=300)]
ConditionValue = str | list[str]


def _numbers_as_text(conditions: Any) -> Any:
    """An id written as a JSON number (``"repository_id": 892314``) is taken as the
    text it is compared as (a token's claims are compared as text); anything else but
    text is refused in one sentence, not pydantic's one per type of the union."""

    def text(value: Any) -> str:
        if isinstance(value, int) and not isinstance(value, bool):
            return str(value)
        if not isinstance(value, str):
            raise PydanticCustomError(
                "condition", "each value is a string or a whole number (or a list of them)"
            )
        return value

    if not isinstance(conditions, dict):
        return conditions
    return {
        claim: [text(v) for v in value] if isinstance(value, list) else text(value)
        for claim, value in conditions.items()
    }


Conditions = Annotated[
    dict[str, ConditionValue],
    BeforeValidator(_numbers_as_text),
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
