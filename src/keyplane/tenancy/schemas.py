"""API models for organizations, workspaces, deployments and the caller itself."""

from __future__ import annotations

import unicodedata
from datetime import datetime
from typing import Annotated

from pydantic import AfterValidator, Field, StrictBool, StringConstraints
from pydantic_core import PydanticCustomError

from keyplane.domain.networks import MAX_RANGES, normalise_ranges
from keyplane.http.schemas import ApiModel, Page

# Names are one line: they go into mail subjects, tables and log lines, where a line
# break (\n, \r, U+2028, U+0085…) or another control character would split or corrupt
# them.
_NOT_IN_A_NAME = frozenset({"Cc", "Zl", "Zp"})


def _one_line(value: str) -> str:
    if any(unicodedata.category(c) in _NOT_IN_A_NAME for c in value):
        raise PydanticCustomError("one_line", "a name is one line with no control characters")
    return value


# At least one character that is not a space (the pattern says so in the schema too, as
# the surrounding spaces are stripped before the length is checked), on one line.
Name = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=120, pattern=r"\S"),
    AfterValidator(_one_line),
]
Description = Annotated[str, StringConstraints(max_length=2000)]


def _ranges(value: list[str] | None) -> list[str]:
    try:
        return normalise_ranges(value or [])
    except ValueError as error:
        raise PydanticCustomError("ip_range", str(error)) from None


# In a create or update body: absent leaves the list as it is; null or [] clears it.
AllowedIpRanges = Annotated[
    Annotated[list[Annotated[str, StringConstraints(max_length=64)]], Field(max_length=MAX_RANGES)]
    | None,
    AfterValidator(_ranges),
    Field(
        description="CIDR ranges (IPv4 or IPv6; one address is a /32 or /128) that requests "
        f"with this credential must come from; at most {MAX_RANGES}; null or [] for anywhere",
        examples=[["203.0.113.0/24", "2001:db8::/32"]],
    ),
]


class RoleOut(ApiModel):
    entity_type: str
    entity_id: str
    role: str


class WorkloadIdentitySelf(ApiModel):
    """The workload identity an exchanged token acts as, and where its ID token came from."""

    id: str
    name: str
    claims: dict[str, str] = Field(
        description="the ID token's repository, ref, environment and sub, those present"
    )


class SelfOut(ApiModel):
    kind: str
    id: str
    name: str
    organization_id: str | None
    roles: list[RoleOut]
    expires_at: datetime | None = None
    workload_identity: WorkloadIdentitySelf | None = Field(
        default=None, description="only for a token exchanged by a workload identity"
    )


class OrganizationOut(ApiModel):
    id: str
    name: str
    api_keys_enabled: bool
    allowed_ip_ranges: list[str] = Field(
        description="every credential of the organization (API tokens, deployment API "
        "keys, workload identities) is refused from outside these; empty: no restriction"
    )
    created_at: datetime
    updated_at: datetime


class OrganizationUpdate(ApiModel):
    name: Name | None = None
    api_keys_enabled: StrictBool | None = None
    allowed_ip_ranges: AllowedIpRanges = None


class OrganizationList(Page[OrganizationOut]):
    organizations: list[OrganizationOut]


class WorkspaceCreate(ApiModel):
    name: Name
    description: Description = ""


class WorkspaceUpdate(ApiModel):
    name: Name | None = None
    description: Description | None = None


class WorkspaceOut(ApiModel):
    id: str
    organization_id: str
    name: str
    description: str
    created_at: datetime
    updated_at: datetime


class WorkspaceList(Page[WorkspaceOut]):
    workspaces: list[WorkspaceOut]


class DeploymentCreate(ApiModel):
    workspace_id: str = Field(min_length=1, max_length=32)
    name: Name
    description: Description = ""
    is_cicd_enforced: StrictBool = False


class DeploymentUpdate(ApiModel):
    name: Name | None = None
    description: Description | None = None
    # When true, deploys must come from an API token or key, not a person's login.
    is_cicd_enforced: StrictBool | None = None


class DeploymentOut(ApiModel):
    id: str
    organization_id: str
    workspace_id: str
    name: str
    description: str
    is_cicd_enforced: bool
    created_at: datetime
    updated_at: datetime


class DeploymentList(Page[DeploymentOut]):
    deployments: list[DeploymentOut]
