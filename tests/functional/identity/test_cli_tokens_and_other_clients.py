"""What the CLI's tokens allow other clients: RFC 7662 §2.1 and RFC 7009 §2.1.

The public client ``keyplane-cli`` cannot introspect (anyone can claim its id), and a
deployment API key cannot revoke a person's CLI login.
"""

from __future__ import annotations

from tests.factories import bearer
from tests.functional.identity.test_cli_login import CLI, device_login, refresh, signed_in
from tests.functional.oauth.helpers import basic, create_key


def test_the_public_cli_client_cannot_introspect(browser, world) -> None:
    signed_in(browser, world)
    tokens = device_login(browser, world)
    answer = world.client.post("/oauth/introspect", data={**CLI, "token": tokens["access_token"]})
    assert answer.status_code == 401 and answer.json()["error"] == "invalid_client"
    assert "active" not in answer.json()
    document = world.client.get("/.well-known/oauth-authorization-server").json()
    # ``none`` is listed for introspection only for workload identities, which may
    # introspect the tokens issued to them (test_lifecycle); the CLI never may.
    assert {"client_secret_basic", "client_secret_post"} <= set(
        document["introspection_endpoint_auth_methods_supported"]
    )
    assert "none" in document["token_endpoint_auth_methods_supported"]


def test_a_deployment_key_cannot_revoke_a_cli_login(browser, world) -> None:
    signed_in(browser, world)
    tokens = device_login(browser, world)
    key = create_key(world)
    answer = world.client.post(
        "/oauth/revoke", data={"token": tokens["refresh_token"]}, headers=basic(*key)
    )
    # Refused as for an access token issued to another client (RFC 7009 §2.1).
    assert answer.status_code == 400 and answer.json()["error"] == "invalid_request"
    assert world.client.get("/v1/self", headers=bearer(tokens["access_token"])).status_code == 200
    assert refresh(world.client, tokens["refresh_token"]).status_code == 200
