"""Which credential and server the CLI uses (DESIGN §5 precedence)."""

from __future__ import annotations

import pytest

from keyplane.cli import credentials
from keyplane.cli.errors import ExitCode, NotAuthenticated


def test_api_token_comes_first() -> None:
    env = {
        "ASTRO_API_TOKEN": " kpw_value ",
        "ASTRONOMER_KEY_ID": "id",
        "ASTRONOMER_KEY_SECRET": "secret",
    }
    credential = credentials.resolve(env)
    assert credential.bearer == "kpw_value"
    assert credential.source == "ASTRO_API_TOKEN"
    assert "kpw_value" not in repr(credential)


def test_a_key_pair_counts_only_when_both_halves_are_set() -> None:
    with pytest.raises(NotAuthenticated) as only_id:
        credentials.resolve({"ASTRONOMER_KEY_ID": "id"})
    assert "no credential found" in only_id.value.message
    assert only_id.value.exit_code == ExitCode.NOT_AUTHENTICATED


def test_no_credential_says_what_to_set() -> None:
    with pytest.raises(NotAuthenticated) as error:
        credentials.resolve({"ASTRO_API_TOKEN": "  "})
    assert error.value.hint and "ASTRO_API_TOKEN" in error.value.hint


@pytest.mark.parametrize(
    ("env", "url"),
    [
        ({}, "http://127.0.0.1:8080"),
        ({"KEYPLANE_URL": "https://kp.example.com/"}, "https://kp.example.com"),
    ],
)
def test_server_url(env: dict[str, str], url: str) -> None:
    assert credentials.server_url(env) == url
