"""Which values a log line or an audit event may keep as they are."""

from __future__ import annotations

import pytest

from keyplane.domain import credentials
from keyplane.domain.credentials import SecretKind, may_be_secret, recorded, recorded_path
from keyplane.domain.ids import new_id


@pytest.mark.parametrize("kind", list(SecretKind))
def test_every_issued_secret_is_recorded_as_its_hash(kind: SecretKind) -> None:
    value = credentials.generate(kind)
    assert may_be_secret(value)
    assert recorded(value) == f"sha256:{credentials.hash_secret(value)}"


@pytest.mark.parametrize(
    "value",
    [
        "c" + "0123456789abcdefghijklmn",
        "AIRFLOW__CORE__LOAD_EXAMPLES",
        "AIRFLOW__SECRETS__BACKEND_KWARGS_CONNECTION_PREFIX",  # long, but a variable key
        "alexandra.konstantinopoulou@engineering.example",  # long, but an email
        "prod",
        "dag-bundle",
        "123",
    ],
)
def test_ids_names_and_variable_keys_are_kept(value: str) -> None:
    assert not may_be_secret(value) and recorded(value) == value


def test_refresh_tokens_jwts_and_long_strings_are_secrets() -> None:
    for value in ("kpr_" + "x" * 40, "eyJhbGciOiJFUzI1NiJ9.e30.sig", "aB3" * 20):
        assert may_be_secret(value)


def test_a_path_keeps_its_shape_with_the_secret_replaced() -> None:
    token = credentials.generate(SecretKind.ORGANIZATION_TOKEN)
    org = new_id()
    path = recorded_path(f"/v1/organizations/{org}/tokens/{token}/rotate")
    assert path == f"/v1/organizations/{org}/tokens/sha256:{credentials.hash_secret(token)}/rotate"
    plain = f"/v1/organizations/{org}/deployments"
    assert recorded_path(plain) is plain
