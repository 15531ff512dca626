"""What the CLI says when a CI job's setup is wrong (issue 11, items 20-25).

Each case is the CLI as a subprocess against one real server: a revoked cached
access token, TLS to a plain-http port, a URL that is not keyplane's, half a key
pair, KEYPLANE_URL missing, and what whoami says about a key pair.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest

from keyplane.client import KeyplaneClient, client_credentials_grant
from tests.e2e.conftest import Server

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def key(server: Server) -> dict[str, Any]:
    """A deployment API key: ``{id, secret, ...}``."""
    with KeyplaneClient(server.url, server.acme.owner_token) as owner:
        org = server.acme.org_id
        ws = owner.create_workspace(org, "setup-errors")["id"]
        dep = owner.create_deployment(org, ws, "setup-errors")["id"]
        return owner.create_api_key(org, dep, "ci")


def key_env(key: dict[str, Any], home: Path) -> dict[str, str]:
    return {
        "ASTRONOMER_KEY_ID": key["id"],
        "ASTRONOMER_KEY_SECRET": key["secret"],
        "KEYPLANE_CONFIG_DIR": str(home),
    }


def cached_token(home: Path) -> str:
    (cached,) = (home / "access-tokens").iterdir()
    return str(json.loads(cached.read_text())["accessToken"])


def test_a_revoked_cached_access_token_is_exchanged_again(
    server: Server, key: dict[str, Any], tmp_path: Path
) -> None:
    env = key_env(key, tmp_path)
    assert server.cli("whoami", **env).code == 0
    first = cached_token(tmp_path)
    revoked = httpx.post(
        f"{server.url}/oauth/revoke", data={"token": first}, auth=(key["id"], key["secret"])
    )
    assert revoked.status_code == 200
    again = server.cli("whoami", "-o", "json", **env)
    assert again.code == 0, again.stderr
    assert cached_token(tmp_path) != first  # one new exchange, cached in its place


def test_whoami_with_a_key_pair_names_the_key_as_permanent(
    server: Server, key: dict[str, Any], tmp_path: Path
) -> None:
    env = key_env(key, tmp_path)
    table = server.cli("whoami", **env)
    assert table.code == 0, table.stderr
    assert "never (a deployment API key is permanent)" in table.stdout
    assert "access token" in table.stdout and "renewed" in table.stderr
    me = json.loads(server.cli("whoami", "--json", **env).stdout)
    assert me["expiresAt"] is None and me["accessTokenExpiresAt"]


def test_whoami_with_a_keys_access_token_shows_when_it_expires(
    server: Server, key: dict[str, Any], tmp_path: Path
) -> None:
    """The JWT a key is exchanged for, given as a bearer: it lives an hour, unrenewed."""
    answer, _ = client_credentials_grant(server.url, key["id"], key["secret"])
    lifetime = timedelta(seconds=answer["expires_in"])
    env = {"KEYPLANE_CONFIG_DIR": str(tmp_path)}
    me = json.loads(server.cli("whoami", "--json", token=answer["access_token"], **env).stdout)
    expires = datetime.fromisoformat(me["expiresAt"])
    assert abs(expires - (datetime.now(UTC) + lifetime)) < timedelta(minutes=1)
    table = server.cli("whoami", token=answer["access_token"], **env)
    assert table.code == 0, table.stderr
    assert f"access token expires  {expires:%Y-%m-%d %H:%M} UTC" in table.stdout
    assert "never" not in table.stdout and "renewed" not in table.stderr
    assert "nothing renews it" in table.stderr and "ASTRONOMER_KEY_SECRET" in table.stderr


@pytest.mark.parametrize(
    ("given", "missing"),
    [
        ("ASTRONOMER_KEY_ID", "ASTRONOMER_KEY_SECRET"),
        ("ASTRONOMER_KEY_SECRET", "ASTRONOMER_KEY_ID"),
    ],
)
def test_half_a_key_pair_names_the_missing_variable(
    server: Server, key: dict[str, Any], given: str, missing: str
) -> None:
    result = server.cli("whoami", **{given: "something"})
    assert result.code == 3
    assert f"{given} is set but {missing} is not" in result.stderr


def test_tls_to_a_plain_http_port_is_named(server: Server) -> None:
    url = server.url.replace("http://", "https://")
    result = server.cli("whoami", token=server.acme.owner_token, KEYPLANE_URL=url)
    assert result.code == 1
    assert "TLS handshake with 127.0.0.1 failed" in result.stderr
    assert "SSL_CERT_FILE" in result.stderr


class NotKeyplane(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(404)
        self.send_header("Content-Type", "text/html")
        self.end_headers()
        self.wfile.write(b"<html><body><h1>Not Found</h1></body></html>")

    def log_message(self, *_: Any) -> None:
        pass


@pytest.fixture
def other_server() -> Iterator[str]:
    httpd = HTTPServer(("127.0.0.1", 0), NotKeyplane)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()


def test_a_url_that_is_not_keyplane_says_so(server: Server, other_server: str) -> None:
    result = server.cli("whoami", token=server.acme.owner_token, KEYPLANE_URL=other_server)
    assert result.code == 1
    assert f"{other_server} did not answer as a keyplane server" in result.stderr
    assert "set KEYPLANE_URL" in result.stderr and "<html>" not in result.stderr


def test_a_url_ending_in_v1_says_what_to_set(server: Server) -> None:
    result = server.cli("whoami", token=server.acme.owner_token, KEYPLANE_URL=server.url + "/v1")
    assert result.code == 2
    assert f"export KEYPLANE_URL={server.url}" in result.stderr


def test_no_keyplane_url_with_a_token_stops_before_sending_it(server: Server) -> None:
    token = server.acme.owner_token
    result = server.cli("whoami", token=token, KEYPLANE_URL="")
    assert result.code == 1
    assert "KEYPLANE_URL is not set" in result.stderr and token not in result.stderr


def test_set_password_prints_the_public_url(server: Server) -> None:
    env = {
        "PATH": os.environ["PATH"],
        "HOME": str(server.home),
        "KEYPLANE_DATABASE_URL": server.database_url,
        "KEYPLANE_PUBLIC_URL": "https://keyplane.example.com",
    }
    done = subprocess.run(
        [sys.executable, "-m", "keyplane", "admin", "set-password", "--email",
         "owner@acme.example", "--password-stdin"],
        input="plum vestibule 77\n", env=env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "sign in at https://keyplane.example.com/login" in done.stderr
    del env["KEYPLANE_PUBLIC_URL"]
    done = subprocess.run(
        [sys.executable, "-m", "keyplane", "admin", "set-password", "--email",
         "owner@acme.example", "--password-stdin"],
        input="plum vestibule 78\n", env=env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "127.0.0.1:8080" not in done.stderr and "KEYPLANE_PUBLIC_URL" in done.stderr
