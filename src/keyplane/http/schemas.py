"""Base models for the JSON API: camelCase on the wire, unknown fields refused."""

from __future__ import annotations

from typing import Generic, TypeVar

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

T = TypeVar("T")


class ApiModel(BaseModel):
    """A request or response body."""

    model_config = ConfigDict(
        alias_generator=to_camel, populate_by_name=True, extra="forbid", from_attributes=True
    )


class Actor(ApiModel):
    id: str
    kind: str
    name: str


class ErrorBody(ApiModel):
    """Every error answer of the API (DESIGN §4)."""

    message: str
    request_id: str
    status_code: int
    field_errors: dict[str, str] | None = Field(
        default=None, description="on 400: what is wrong with each field, by its name"
    )
    missing_permission: str | None = Field(
        default=None,
        description="on 403: the permission the caller lacks on the object, e.g. "
        "`deployment:update`; the message names it too",
        examples=["deployment.tokens:manage"],
    )


class Page(ApiModel, Generic[T]):
    offset: int
    limit: int
    total_count: int
