"""The test OIDC issuer answers like a real one: a relying party can verify its tokens."""

from __future__ import annotations

import httpx
import jwt
import pytest

from tests.workload_issuer import REPOSITORY, WorkloadIssuer


def verify(issuer: WorkloadIssuer, token: str, audience: str) -> dict[str, object]:
    """What a relying party does: discovery, then the JWKS it names, then the signature."""
    config = httpx.get(f"{issuer.url}/.well-known/openid-configuration").json()
    assert config["issuer"] == issuer.url
    keys = jwt.PyJWKSet.from_dict(httpx.get(config["jwks_uri"]).json())
    kid = jwt.get_unverified_header(token)["kid"]
    key = next((k for k in keys.keys if k.key_id == kid), None)
    if key is None:
        raise jwt.InvalidKeyError(f"no key {kid}")
    claims: dict[str, object] = jwt.decode(
        token, key, algorithms=["RS256", "ES256"], audience=audience, issuer=issuer.url
    )
    return claims


@pytest.mark.parametrize("alg", ["RS256", "ES256"])
def test_minted_tokens_verify_with_the_published_keys(
    workload_issuer: WorkloadIssuer, alg: str
) -> None:
    claims = verify(workload_issuer, workload_issuer.mint("aud-1", alg=alg), "aud-1")

    assert claims["sub"] == f"repo:{REPOSITORY}:ref:refs/heads/main"
    assert claims["repository_id"] == "892314" and claims["event_name"] == "push"
    assert {"jti", "iat", "nbf", "exp", "workflow_ref", "environment"} <= claims.keys()


def test_overrides_and_dropped_claims(workload_issuer: WorkloadIssuer) -> None:
    token = workload_issuer.mint("aud-1", ref="refs/heads/dev", drop=("environment",))
    claims = verify(workload_issuer, token, "aud-1")

    assert claims["ref"] == "refs/heads/dev" and "environment" not in claims
    assert claims["jti"] != verify(workload_issuer, workload_issuer.mint("aud-1"), "aud-1")["jti"]


@pytest.mark.parametrize(
    ("options", "refusal"),
    [
        ({"kid": "stranger"}, jwt.InvalidKeyError),
        ({"alg": "none"}, jwt.InvalidAlgorithmError),
        ({"alg": "HS256"}, jwt.InvalidAlgorithmError),
        ({"exp": 1}, jwt.ExpiredSignatureError),
    ],
)
def test_bad_tokens_are_bad(
    workload_issuer: WorkloadIssuer, options: dict[str, object], refusal: type[Exception]
) -> None:
    with pytest.raises(refusal):
        verify(workload_issuer, workload_issuer.mint("aud-1", **options), "aud-1")  # type: ignore[arg-type]


def test_a_rotated_key_is_published_and_counted(fresh_issuer: WorkloadIssuer) -> None:
    kid = fresh_issuer.add_key()

    assert verify(fresh_issuer, fresh_issuer.mint("a", kid=kid), "a")["iss"] == fresh_issuer.url
    assert fresh_issuer.hits["/.well-known/jwks"] == 1


def test_the_actions_endpoint_needs_the_request_token(workload_issuer: WorkloadIssuer) -> None:
    env = workload_issuer.github_env()
    url = env["ACTIONS_ID_TOKEN_REQUEST_URL"] + "&audience=https://kp.example"

    refused = httpx.get(url, headers={"Authorization": "Bearer wrong"})
    answer = httpx.get(
        url, headers={"Authorization": f"Bearer {env['ACTIONS_ID_TOKEN_REQUEST_TOKEN']}"}
    )

    assert refused.status_code == 401
    assert verify(workload_issuer, answer.json()["value"], "https://kp.example")["aud"] == (
        "https://kp.example"
    )
    assert workload_issuer.requested_audiences[-1] == "https://kp.example"
