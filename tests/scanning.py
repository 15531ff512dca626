"""A stand-in for GitHub's secret-scanning key URL, and reports signed as GitHub signs them.

A real HTTP server on a loopback port, in a thread, answering
``{"public_keys": [{"key_identifier", "key", "is_current"}]}`` with P-256 keys of its
own; :meth:`KeyServer.sign` signs a body with one of them (base64 DER ECDSA/SHA-256).
"""

from __future__ import annotations

import base64
import json
import secrets
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec


class KeyServer:
    def __init__(self) -> None:
        self.keys: dict[str, ec.EllipticCurvePrivateKey] = {}
        self.fetches = 0
        self.url = ""
        self.add_key()

    def add_key(self) -> str:
        """A new published key; returns its identifier."""
        identifier = secrets.token_hex(32)
        self.keys[identifier] = ec.generate_private_key(ec.SECP256R1())
        return identifier

    @property
    def current(self) -> str:
        return list(self.keys)[-1]

    def published(self) -> bytes:
        entries = [
            {
                "key_identifier": identifier,
                "key": key.public_key()
                .public_bytes(
                    serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
                )
                .decode(),
                "is_current": identifier == self.current,
            }
            for identifier, key in self.keys.items()
        ]
        return json.dumps({"public_keys": entries}).encode()

    def sign(self, body: bytes, identifier: str | None = None) -> dict[str, str]:
        """The headers GitHub sends with ``body``, signed by ``identifier``'s key."""
        identifier = identifier or self.current
        signature = self.keys[identifier].sign(body, ec.ECDSA(hashes.SHA256()))
        return {
            "Github-Public-Key-Identifier": identifier,
            "Github-Public-Key-Signature": base64.b64encode(signature).decode(),
            "Content-Type": "application/json",
        }


def report_body(*matches: tuple[str, str], kind: str = "keyplane_api_token") -> bytes:
    """A report of (value, url) pairs in GitHub's format."""
    return json.dumps(
        [{"token": value, "type": kind, "url": url, "source": "commit"} for value, url in matches]
    ).encode()


@contextmanager
def key_server() -> Iterator[KeyServer]:
    keys = KeyServer()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            keys.fetches += 1
            body = keys.published()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    keys.url = f"http://127.0.0.1:{server.server_address[1]}/meta/public_keys/secret_scanning"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield keys
    finally:
        server.shutdown()
        server.server_close()
