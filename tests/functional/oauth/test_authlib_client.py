"""An independently written OAuth client (Authlib, with joserfc for JOSE) against a real server.

It discovers the metadata (RFC 8414), gets a token with client credentials, verifies
it against the published JWKS, introspects it (RFC 7662) and revokes it (RFC 7009).
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator

import pytest
import requests
import uvicorn
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
