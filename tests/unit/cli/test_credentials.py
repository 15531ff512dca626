"""Which credential and server the CLI uses (DESIGN §5 precedence)."""

from __future__ import annotations

import pytest

from keyplane.cli import credentials
from keyplane.cli.errors import CliError, ExitCode, NotAuthenticated, UsageError

URL = {"KEYPLANE_URL": "https://kp.example.com"}


def test_api_token_comes_first() -> None:
    env = {
        **URL,
        "ASTRO_API_TOKEN": " kpw_value ",
        "ASTRONOMER_KEY_ID": "id",
        "ASTRONOMER_KEY_SECRET": "secret",
    }
    credential = credentials.resolve(env)
    assert credential.bearer == "kpw_value"
    assert credential.source == "ASTRO_API_TOKEN"
    assert "kpw_value" not in repr(credential)


@pytest.mark.parametrize(
    ("given", "missing"),
    [
        ("ASTRONOMER_KEY_ID", "ASTRONOMER_KEY_SECRET"),
        ("ASTRONOMER_KEY_SECRET", "ASTRONOMER_KEY_ID"),
    ],
)
def test_half_a_key_pair_names_the_missing_half(given: str, missing: str) -> None:
    with pytest.raises(NotAuthenticated) as half:
        credentials.resolve({**URL, given: "value"})
    assert f"{given} is set but {missing} is not" in half.value.message
    assert half.value.exit_code == ExitCode.NOT_AUTHENTICATED


def test_half_a_key_pair_does_not_hide_an_api_token() -> None:
    env = {**URL, "ASTRONOMER_KEY_ID": "id", "ASTRO_API_TOKEN": "kpw_value"}
    assert credentials.resolve(env).source == "ASTRO_API_TOKEN"


def test_a_credential_in_the_environment_needs_keyplane_url() -> None:
    with pytest.raises(CliError) as error:
        credentials.resolve({"ASTRO_API_TOKEN": "kpw_value"})
    assert "KEYPLANE_URL is not set" in error.value.message
    assert "kpw_value" not in f"{error.value.message} {error.value.hint}"


@pytest.mark.parametrize("url", ["https://kp.example.com/v1", "https://kp.example.com/v1/"])
def test_a_url_ending_in_v1_says_what_to_set(url: str) -> None:
    with pytest.raises(UsageError) as error:
        credentials.server_url({"KEYPLANE_URL": url})
    assert error.value.hint == "export KEYPLANE_URL=https://kp.example.com"


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
