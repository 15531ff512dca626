"""API models for deployment environment variables."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import AfterValidator, Field, SecretStr, StrictBool
from pydantic_core import PydanticCustomError

from keyplane.domain.variables import KEY_PATTERN
from keyplane.http.schemas import Actor, ApiModel, Page
from keyplane.variables.models import DeploymentVariable

Key = Annotated[str, Field(pattern=KEY_PATTERN, description="An environment variable name.")]


def _text(value: SecretStr) -> SecretStr:
    """Refuse what is not text (a lone UTF-16 surrogate, which JSON can spell as
    ``\\ud800``): it cannot be stored, and the error must not show the value."""
    try:
        value.get_secret_value().encode()
    except UnicodeEncodeError:
        raise PydanticCustomError("text", "the value is not valid Unicode text") from None
    return value


# SecretStr keeps the value out of reprs and logs; it is read only to store it.
Value = Annotated[SecretStr, Field(max_length=32_768), AfterValidator(_text)]


class VariableCreate(ApiModel):
    key: Key
    value: Value
    is_secret: StrictBool = False


class VariableUpdate(ApiModel):
    value: Value | None = None
    is_secret: StrictBool | None = None


class VariableOut(ApiModel):
    id: str
    deployment_id: str
    key: str
    is_secret: bool
    value: str | None = Field(description="The value; always null for a secret.")
    created_at: datetime
    updated_at: datetime
    created_by: Actor
    updated_by: Actor

    @classmethod
    def of(cls, row: DeploymentVariable) -> VariableOut:
        return cls(
            id=row.id,
            deployment_id=row.deployment_id,
            key=row.key,
            is_secret=row.is_secret,
            value=None if row.is_secret else row.value,
            created_at=row.created_at,
            updated_at=row.updated_at,
            created_by=Actor(**row.created_by),
            updated_by=Actor(**row.updated_by),
        )


class VariableList(Page[VariableOut]):
    variables: list[VariableOut]
