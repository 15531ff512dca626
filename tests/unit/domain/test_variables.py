"""The CLI's key check is the server's: both read keyplane.domain.variables."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from keyplane.domain.variables import is_key
from keyplane.variables.schemas import VariableCreate

SAMPLES = ["A", "_", "GOOD_1", "a" * 255, "a" * 256, "BAD KEY", "1X", "", "A-B", "A\n", "É"]


@pytest.mark.parametrize("key", SAMPLES)
def test_the_cli_accepts_what_the_server_accepts(key: str) -> None:
    try:
        VariableCreate.model_validate({"key": key, "value": "v"})
        accepted = True
    except ValidationError:
        accepted = False
    assert is_key(key) is accepted
