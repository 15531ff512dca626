"""Bodies of the leak-report and advice endpoints.

The secret-scanning ones are GitHub's partner format, field names as GitHub sends
and expects them (snake_case), not keyplane's camelCase.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field, RootModel

from keyplane.domain.roles import Level
from keyplane.http.schemas import ApiModel

MAX_VALUE = 512


class ScanningMatch(BaseModel):
    """One candidate GitHub found: the value, its pattern type, where and in what."""

    model_config = ConfigDict(extra="ignore")

    token: str = Field(max_length=MAX_VALUE, repr=False)
    type: str = Field(default="", max_length=120)
    url: str = Field(default="", max_length=2000)
    source: str = Field(default="", max_length=120)


class ScanningReport(RootModel[list[ScanningMatch]]):
    root: list[ScanningMatch] = Field(max_length=1000)


class Label(StrEnum):
    TRUE_POSITIVE = "true_positive"
    FALSE_POSITIVE = "false_positive"


class ScanningResult(BaseModel):
    token_hash: str = Field(description="hex SHA-256 of the reported value")
    token_type: str
    label: Label


class LeakReport(ApiModel):
    token: str = Field(
        min_length=1, max_length=MAX_VALUE, repr=False, description="the leaked value"
    )


class LeakReceived(ApiModel):
    message: str


class CredentialType(StrEnum):
    API_TOKEN = "API_TOKEN"
    DEPLOYMENT_API_KEY = "DEPLOYMENT_API_KEY"
    WORKLOAD_IDENTITY = "WORKLOAD_IDENTITY"


class PermissionUseOut(ApiModel):
    permission: str
    entity_type: Level
    entity_id: str | None = Field(
        description="null: every one of that type the credential's roles reach (a listing)"
    )
    workspace_id: str | None = Field(
        description="a deployment's workspace; null for an organization, or for every workspace"
    )
    last_used_at: datetime


class AdviceOut(ApiModel):
    """Least privilege from use: what the credential exercised in the last ``days`` days
    and the least role that covers it."""

    credential_type: CredentialType
    credential_id: str
    days: int
    scope: Level
    entity_id: str = Field(description="the credential's own entity")
    current_role: str
    used_permissions: list[str] = Field(description="distinct, in the role table's order")
    uses: list[PermissionUseOut]
    suggested_role: str = Field(
        description="the smallest built-in role of the credential's level that covers "
        "its use, never above the current one (the current role when none smaller does)"
    )
    suggested_custom_role: str | None = Field(
        description="an existing custom deployment role with fewer permissions that "
        "covers its use too (deployment level only)"
    )
    fits: bool = Field(description="the current role is already the least that covers it")
    stale: bool = Field(description="not used at all in the last `days` days")
    last_used_at: datetime | None
