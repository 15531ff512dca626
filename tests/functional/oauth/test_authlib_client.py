"""An independently written OAuth client (Authlib, with joserfc for JOSE) against a real server.

It discovers the metadata (RFC 8414), gets a token with client credentials, verifies
it against the published JWKS, introspects it (RFC 7662) and revokes it (RFC 7009).
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
import uvicorn
from authlib.common.security import generate_token
from authlib.integrations.base_client.errors import OAuthError
from authlib.integrations.requests_client import OAuth2Session
from joserfc import jwt
from joserfc.jwk import KeySet

from keyplane.app import create_app
from keyplane.config import Settings
from keyplane.runtime import Runtime
from tests.factories import World
from tests.functional.oauth.helpers import create_key


@pytest.fixture
def served(settings: Settings, engine) -> Iterator[tuple[str, World]]:
    """The app on a real socket; the world is built through the in-process client."""
    from fastapi.testclient import TestClient

    from tests.conftest import _empty

    _empty(engine)
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    url = f"http://127.0.0.1:{port}"
    live = settings.model_copy(update={"public_url": url})
    runtime = Runtime.create(live, engine=engine)
    app = create_app(live, runtime)
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    assert server.started
    try:
        yield url, World.create(TestClient(app), runtime)
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        runtime.close()


def test_authlib_client_end_to_end(served):
    url, world = served
    key_id, secret = create_key(world)
    meta = requests.get(f"{url}/.well-known/oauth-authorization-server", timeout=10).json()
    assert meta["issuer"] == url
    client = OAuth2Session(
        client_id=key_id,
        client_secret=secret,
        token_endpoint_auth_method="client_secret_basic",
        revocation_endpoint_auth_method="client_secret_basic",
    )
    token = client.fetch_token(meta["token_endpoint"], grant_type="client_credentials")
    assert token["token_type"] == "Bearer"
    assert token["expires_in"] == 3600
    access = token["access_token"]

    keys = KeySet.import_key_set(requests.get(meta["jwks_uri"], timeout=10).json())
    decoded = jwt.decode(access, keys, algorithms=["ES256"])
    assert decoded.header["typ"] == "at+jwt"
    jwt.JWTClaimsRegistry(
        iss={"essential": True, "value": meta["issuer"]},
        aud={"essential": True, "value": f"{url}/v1"},
        sub={"essential": True, "value": key_id},
        client_id={"essential": True, "value": key_id},
        exp={"essential": True},
        jti={"essential": True},
    ).validate(decoded.claims)

    me = client.get(f"{url}/v1/self", timeout=10)
    assert me.status_code == 200
    assert me.json()["kind"] == "DEPLOYMENT_KEY"

    introspected = client.introspect_token(meta["introspection_endpoint"], token=access)
    assert introspected.status_code == 200
    assert introspected.json()["active"] is True
    assert introspected.json()["client_id"] == key_id

    revoked = client.revoke_token(meta["revocation_endpoint"], token=access)
    assert revoked.status_code == 200
    after = client.introspect_token(meta["introspection_endpoint"], token=access)
    assert after.json() == {"active": False}
    assert client.get(f"{url}/v1/self", timeout=10).status_code == 401


def _approve(world: World, authorization_url: str) -> str:
    """A signed-in person approves the CLI login in the browser; the redirect's URL."""
    from fastapi.testclient import TestClient

    from tests.functional.identity.conftest import csrf_of, set_password, sign_in

    browser = TestClient(world.client.app, base_url="https://testserver", follow_redirects=False)
    set_password(world.runtime, "owner@acme.example")
    sign_in(browser, "owner@acme.example")
    parts = urlsplit(authorization_url)
    page = browser.get(f"{parts.path}?{parts.query}")
    assert page.status_code == 200, page.text
    query = parse_qs(parts.query)
    answer = browser.post(
        "/oauth/authorize",
        data={name: query[name][0] for name in ("client_id", "redirect_uri", "state",
              "code_challenge")} | {"decision": "approve", "csrf_token": csrf_of(page.text)},
    )  # fmt: skip
    assert answer.status_code == 303
    return str(answer.headers["location"])


def test_authlib_cli_login_with_pkce(served):
    """The CLI's flow as Authlib runs it: code + S256 PKCE, iss in the response (RFC 9207),
    no introspection for the public client, no revocation of its login by another
    client, and a replayed code revoking the login (the refreshed tokens with it)."""
    url, world = served
    meta = requests.get(f"{url}/.well-known/oauth-authorization-server", timeout=10).json()
    assert meta["authorization_response_iss_parameter_supported"] is True
    # "none" is there for workload identities (their own tokens only); not for the CLI:
    # its refusal is checked below.
    assert meta["introspection_endpoint_auth_methods_supported"][:2] == [
        "client_secret_basic",
        "client_secret_post",
    ]
    cli = OAuth2Session(
        client_id="keyplane-cli",
        redirect_uri="http://127.0.0.1:53999/callback",
        code_challenge_method="S256",
        token_endpoint_auth_method="none",
    )
    verifier = generate_token(48)
    authorization_url, _ = cli.create_authorization_url(
        meta["authorization_endpoint"], code_verifier=verifier
    )
    location = _approve(world, authorization_url)
    assert parse_qs(urlsplit(location).query)["iss"] == [meta["issuer"]]
    token = cli.fetch_token(
        meta["token_endpoint"], authorization_response=location, code_verifier=verifier
    )
    me = requests.get(f"{url}/v1/self", headers=_bearer(token["access_token"]), timeout=10)
    assert me.status_code == 200 and me.json()["kind"] == "USER"

    refused = requests.post(
        meta["introspection_endpoint"],
        data={"client_id": "keyplane-cli", "token": token["access_token"]},
        timeout=10,
    )
    assert refused.status_code == 401 and refused.json()["error"] == "invalid_client"

    # RFC 7009 §2.1: a deployment API key cannot end the person's login: refused as
    # for an access token issued to another client.
    key_id, secret = create_key(world)
    key = OAuth2Session(client_id=key_id, client_secret=secret)
    revoked = key.revoke_token(meta["revocation_endpoint"], token=token["refresh_token"])
    assert revoked.status_code == 400 and revoked.json()["error"] == "invalid_request"
    token = cli.refresh_token(meta["token_endpoint"], refresh_token=token["refresh_token"])

    with pytest.raises(OAuthError) as replay:
        cli.fetch_token(
            meta["token_endpoint"], authorization_response=location, code_verifier=verifier
        )
    assert replay.value.error == "invalid_grant"
    after = requests.get(f"{url}/v1/self", headers=_bearer(token["access_token"]), timeout=10)
    assert after.status_code == 401


def test_authlib_sees_authorization_errors_on_its_redirect_uri(served):
    """RFC 6749 §4.1.2.1: without PKCE the answer goes back to the client, with state."""
    url, _ = served
    meta = requests.get(f"{url}/.well-known/oauth-authorization-server", timeout=10).json()
    cli = OAuth2Session(client_id="keyplane-cli", redirect_uri="http://127.0.0.1:53999/cb")
    authorization_url, state = cli.create_authorization_url(meta["authorization_endpoint"])
    answer = requests.get(authorization_url, allow_redirects=False, timeout=10)
    assert answer.status_code in (302, 303)
    params = parse_qs(urlsplit(answer.headers["location"]).query)
    assert params["error"] == ["invalid_request"] and params["state"] == [state]
    assert params["iss"] == [meta["issuer"]] and "code" not in params


def _bearer(value: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {value}"}
