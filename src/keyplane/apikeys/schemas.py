"""API models for deployment API keys (DESIGN §4)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import Field, StrictBool, StringConstraints

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


class MigrationRequest(ApiModel):
    """Which keys to turn into deployment API tokens; every key the caller may migrate
    when nothing narrows it."""

    dry_run: StrictBool = Field(default=False, description="list the plan; change nothing")
    workspace_id: str | None = Field(default=None, max_length=32)
    deployment_id: str | None = Field(default=None, max_length=32)
    key_ids: list[Annotated[str, StringConstraints(min_length=1, max_length=32)]] | None = Field(
        default=None,
        max_length=1000,
        description="exactly these keys (the ids of a dry run's plan): if any of them can no "
        "longer be migrated, nothing changes and the answer is 409",
    )


class MigrationStep(ApiModel):
    key_id: str
    key_name: str
    deployment_id: str
    token_name: str
    role: str
    token_id: str | None = Field(default=None, description="absent in a dry run")
    token: str | None = Field(
        default=None, description="the new token's value: shown once, absent in a dry run"
    )


class MigrationOut(ApiModel):
    dry_run: bool
    migrations: list[MigrationStep]
