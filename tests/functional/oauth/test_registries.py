"""The authorization server's registries belong to the server that the runtime builds."""

from __future__ import annotations

from keyplane.identity.device import GRANT_TYPE as DEVICE_CODE
from keyplane.oauth.token_endpoint import TokenRequest, TokenResponse
from keyplane.runtime import Runtime

TOKEN_EXCHANGE = "urn:ietf:params:oauth:grant-type:token-exchange"  # workload identities
SERVED = {"client_credentials", "authorization_code", "refresh_token", DEVICE_CODE, TOKEN_EXCHANGE}


def test_the_metadata_lists_exactly_the_registered_grants(client, runtime) -> None:
    document = client.get("/.well-known/oauth-authorization-server").json()
    assert set(runtime.oauth.grants) == SERVED
    assert document["grant_types_supported"] == sorted(runtime.oauth.grants)
    assert "none" in document["token_endpoint_auth_methods_supported"]  # keyplane-cli
    assert document["device_authorization_endpoint"].endswith("/oauth/device/code")


def test_an_unsupported_grant_names_the_registered_ones(client) -> None:
    answer = client.post("/oauth/token", data={"grant_type": "password"})
    assert answer.status_code == 400
    assert answer.json()["error"] == "unsupported_grant_type"
    assert all(grant in answer.json()["error_description"] for grant in SERVED)


def test_what_one_server_registers_another_does_not_see(runtime, settings, engine) -> None:
    async def example(_: TokenRequest) -> TokenResponse:
        return TokenResponse({"access_token": "x", "token_type": "Bearer"})

    other = Runtime.create(settings, engine=engine)
    try:
        other.oauth.register_grant("urn:example:grant", example)
        assert "urn:example:grant" in other.oauth.metadata()["grant_types_supported"]
        assert "urn:example:grant" not in runtime.oauth.grants
        assert "urn:example:grant" not in runtime.oauth.metadata()["grant_types_supported"]
    finally:
        other.close()
