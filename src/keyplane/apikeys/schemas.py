"""API models for deployment API keys (DESIGN §4)."""

from __future__ import annotations

from datetime import datetime

from pydantic import Field

from keyplane.http.schemas import Actor, ApiModel, Page
from keyplane.tenancy.schemas import Description, Name


class ApiKeyCreate(ApiModel):
    name: Name
    description: Description = ""


class ApiKeyOut(ApiModel):
    id: str = Field(description="the key ID, also the OAuth client_id")
    name: str
    description: str
    deployment_id: str
    created_at: datetime
    last_used_at: datetime | None
    created_by: Actor
    secret: str | None = Field(
        default=None, description="the key secret: only in the answer to create"
    )


class ApiKeyList(Page[ApiKeyOut]):
    api_keys: list[ApiKeyOut]
