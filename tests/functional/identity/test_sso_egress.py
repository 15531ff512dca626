"""A tenant cannot make the server fetch loopback, private or link-local addresses
through its SSO issuer, unless the operator allows it (issue 11, item 18)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from keyplane.identity.egress import is_public
from keyplane.identity.oidc import RelyingParty
from tests.factories import bearer


@pytest.fixture
def settings(settings):  # type: ignore[no-untyped-def]
    """The default: the identity tests' conftest allows private networks for its idp."""
    return settings.model_copy(update={"sso_allow_private_networks": False})


class Recorder(ThreadingHTTPServer):
    hits = 0


@pytest.fixture
def listener() -> Iterator[Recorder]:
    """Something on 127.0.0.1 that must not be reached; it counts requests."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            server.hits += 1
            self.send_response(404)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = Recorder(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server
    server.shutdown()
    server.server_close()


def _start_sso(world, issuer: str):  # type: ignore[no-untyped-def]
    body = {
        "name": "probe",
        "issuer": issuer,
        "clientId": "c",
        "clientSecret": "s" * 16,
        "domains": ["probe.example"],
    }
    created = world.client.post(
        f"/v1/organizations/{world.org.id}/sso-connections",
        json=body,
        headers=bearer(world.org.owner_token),
    )
    assert created.status_code == 201, created.text
    return world.client.get(f"/sso/{created.json()['id']}/start", follow_redirects=False)


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost", "[::1]"])
def test_sso_discovery_never_reaches_loopback_by_default(world, listener, host):
    port = listener.server_address[1]
    answer = _start_sso(world, f"http://{host}:{port}")
    assert answer.status_code == 401
    assert listener.hits == 0


@pytest.mark.parametrize(
    "issuer", ["http://10.1.2.3", "http://169.254.169.254", "http://192.168.0.1:8443"]
)
def test_sso_discovery_never_reaches_private_or_link_local_addresses(world, issuer):
    answer = _start_sso(world, issuer)
    assert answer.status_code == 401  # refused before any connection is tried


@pytest.mark.parametrize(
    "address, public",
    [("127.0.0.1", False), ("10.0.0.1", False), ("169.254.169.254", False),
     ("172.16.5.4", False), ("100.64.0.1", False), ("::1", False), ("fe80::1%eth0", False),
     ("::ffff:127.0.0.1", False), ("fd00::1", False), ("0.0.0.0", False),
     ("224.0.0.1", False), ("93.184.216.34", True), ("2606:4700::1111", True)],
)  # fmt: skip
def test_which_addresses_are_public(address, public):
    assert is_public(address) is public


def test_the_operator_setting_allows_private_networks(world, listener):
    # What KEYPLANE_SSO_ALLOW_PRIVATE_NETWORKS=true builds (the SSO tests run that way).
    world.client.app.state.relying_party = RelyingParty(allow_private_networks=True)
    answer = _start_sso(world, f"http://127.0.0.1:{listener.server_address[1]}")
    assert answer.status_code == 401  # the listener is no identity provider
    assert listener.hits == 1
