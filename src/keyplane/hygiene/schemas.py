"""Bodies of the leak-report endpoints.

The secret-scanning ones are GitHub's partner format, field names as GitHub sends
and expects them (snake_case), not keyplane's camelCase.
"""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field, RootModel

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
