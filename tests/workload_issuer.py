"""A real OpenID Connect issuer of CI job ID tokens, for the federation tests.

It plays GitHub Actions' token service on a free loopback port, in a thread: OIDC
discovery at ``/.well-known/openid-configuration``, the JWKS it names, and a stand-in
for the ``ACTIONS_ID_TOKEN_REQUEST_URL`` endpoint a job asks for its ID token. Tokens
are shaped like GitHub's (``sub`` ``repo:owner/name:ref:refs/heads/main``,
``repository_id``, ``event_name``, …) and signed RS256 by default (ES256 on request).

Use it from a test::

    def test_exchange(workload_issuer: WorkloadIssuer) -> None:
        jwt = workload_issuer.mint(audience="http://testserver", ref="refs/heads/dev")
        # an ID token with ref refs/heads/dev; other claims keep GitHub's defaults

    # a keyplane server must list the issuer: KEYPLANE_FEDERATION_ISSUERS=<issuer.url>
    env = workload_issuer.github_env()  # ACTIONS_ID_TOKEN_REQUEST_URL / _TOKEN for a job
    # `GET <url>&audience=<aud>` with `Authorization: Bearer <token>` answers
    # {"value": <jwt>} minted from `workload_issuer.job_claims` (edit them per test).

Bad tokens for refusal tests: ``mint(kid="stranger")`` signs with a key the JWKS does
not hold; ``mint(alg="none")`` is unsigned; ``mint(alg="HS256")`` is the algorithm
confusion attack (HMAC keyed with the public RSA key); ``mint(drop=("jti",))`` leaves
claims out; ``exp``/``nbf``/``iat`` may be overridden like any claim. ``add_key()``
publishes a new key (a rotation), ``hits`` counts requests per path, so a test can see
that discovery and the JWKS were fetched once and cached.

The ``workload_issuer`` fixture is one issuer for the whole session (tokens carry a
fresh ``jti`` each, so tests do not disturb each other); a test that rotates keys or
counts fetches should start its own with ``running_issuer()``.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import threading
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from jwt.algorithms import ECAlgorithm, RSAAlgorithm

REPOSITORY = "acme/pipelines"
REPOSITORY_ID = "892314"
OWNER_ID = "71042"
REQUEST_PATH = "/_actions/id-token"

PrivateKey = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey


def github_claims(repository: str = REPOSITORY, ref: str = "refs/heads/main") -> dict[str, Any]:
    """The claims GitHub puts in a push-triggered job's ID token (less iss/aud/times/jti)."""
    owner = repository.split("/")[0]
    return {
        "sub": f"repo:{repository}:ref:{ref}",
        "repository": repository,
        "repository_id": REPOSITORY_ID,
        "repository_owner": owner,
        "repository_owner_id": OWNER_ID,
        "repository_visibility": "private",
        "ref": ref,
        "ref_type": "branch",
        "environment": "production",
        "event_name": "push",
        "actor": "octocat",
        "workflow": "deploy",
        "workflow_ref": f"{repository}/.github/workflows/deploy.yml@{ref}",
        "job_workflow_ref": f"{repository}/.github/workflows/deploy.yml@{ref}",
        "run_id": "5000000001",
        "runner_environment": "github-hosted",
    }


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _compact(header: dict[str, Any], claims: dict[str, Any], key: bytes | None) -> str:
    """A JWS by hand, for the tokens no honest library will make (none, HS256 on a PEM)."""
    signing_input = f"{_b64(json.dumps(header).encode())}.{_b64(json.dumps(claims).encode())}"
    if key is None:
        return signing_input + "."
    mac = hmac.new(key, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{_b64(mac)}"


@dataclass
class WorkloadIssuer:
    """The issuer's state; ``url`` is its ``iss`` once it runs."""

    url: str = ""
    keys: dict[str, PrivateKey] = field(default_factory=dict)
    request_token: str = field(default_factory=lambda: secrets.token_urlsafe(24))
    job_claims: dict[str, Any] = field(default_factory=github_claims)
    hits: Counter[str] = field(default_factory=Counter)
    requested_audiences: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.add_key("rs-1")
        self.add_key("es-1", alg="ES256")
        # Held back from the JWKS: a token signed with it has a kid the issuer never published.
        self.stranger = rsa.generate_private_key(public_exponent=65537, key_size=2048)

    def add_key(self, kid: str | None = None, alg: str = "RS256") -> str:
        """Publish a new signing key (RS256 or ES256); returns its ``kid``."""
        kid = kid or f"{alg.lower()}-{secrets.token_hex(4)}"
        self.keys[kid] = (
            ec.generate_private_key(ec.SECP256R1())
            if alg == "ES256"
            else rsa.generate_private_key(public_exponent=65537, key_size=2048)
        )
        return kid

    def jwks(self) -> dict[str, Any]:
        published = []
        for kid, key in self.keys.items():
            if isinstance(key, ec.EllipticCurvePrivateKey):
                jwk = ECAlgorithm.to_jwk(key.public_key(), as_dict=True)
                jwk.update(kid=kid, alg="ES256", use="sig")
            else:
                jwk = RSAAlgorithm.to_jwk(key.public_key(), as_dict=True)
                jwk.update(kid=kid, alg="RS256", use="sig")
            published.append(jwk)
        return {"keys": published}

    def discovery(self) -> dict[str, Any]:
        return {
            "issuer": self.url,
            "jwks_uri": f"{self.url}/.well-known/jwks",
            "subject_types_supported": ["public", "pairwise"],
            "response_types_supported": ["id_token"],
            "id_token_signing_alg_values_supported": ["RS256", "ES256"],
            "claims_supported": sorted({"sub", "aud", "exp", "iat", "iss", "jti", "nbf"}),
            "scopes_supported": ["openid"],
        }

    def claims(self, audience: str | Sequence[str], **overrides: Any) -> dict[str, Any]:
        now = int(time.time())
        claims: dict[str, Any] = {
            "jti": secrets.token_hex(16),
            "iss": self.url,
            "aud": audience if isinstance(audience, str) else list(audience),
            **self.job_claims,
            "iat": now,
            "nbf": now - 5,
            "exp": now + 300,
        }
        claims.update(overrides)
        return claims

    def mint(
        self,
        audience: str | Sequence[str] = "http://testserver",
        *,
        alg: str = "RS256",
        kid: str | None = None,
        drop: Sequence[str] = (),
        **overrides: Any,
    ) -> str:
        """An ID token for ``audience`` with GitHub's claims, ``overrides`` on top.

        ``alg``: RS256 or ES256 (signed with a published key, or ``kid``'s), ``none`` or
        ``HS256`` (forged); ``kid="stranger"`` signs with an unpublished key."""
        claims = self.claims(audience, **overrides)
        for name in drop:
            claims.pop(name, None)
        if alg in ("none", "HS256"):
            header = {"alg": alg, "typ": "JWT", "kid": kid or "rs-1"}
            public_pem = (
                self.keys["rs-1"]
                .public_key()
                .public_bytes(
                    serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
                )
            )
            return _compact(header, claims, public_pem if alg == "HS256" else None)
        if kid == "stranger":
            key: PrivateKey = self.stranger
        else:
            kid = kid or ("es-1" if alg == "ES256" else "rs-1")
            key = self.keys[kid]
        return jwt.encode(claims, key, algorithm=alg, headers={"kid": kid, "typ": "JWT"})

    @property
    def request_url(self) -> str:
        """ACTIONS_ID_TOKEN_REQUEST_URL; it has a query like GitHub's: callers add ``&audience``."""
        return f"{self.url}{REQUEST_PATH}?api-version=2.0"

    def github_env(self) -> dict[str, str]:
        """The two variables GitHub sets in a job with ``permissions: id-token: write``."""
        return {
            "GITHUB_ACTIONS": "true",
            "ACTIONS_ID_TOKEN_REQUEST_URL": self.request_url,
            "ACTIONS_ID_TOKEN_REQUEST_TOKEN": self.request_token,
        }

    def answer(self, path: str, query: str, authorization: str) -> tuple[int, dict[str, Any]]:
        """What the issuer answers to ``GET path?query``: (status, JSON body)."""
        self.hits[path] += 1
        if path == "/.well-known/openid-configuration":
            return 200, self.discovery()
        if path == "/.well-known/jwks":
            return 200, self.jwks()
        if path == REQUEST_PATH:
            if not hmac.compare_digest(authorization, f"Bearer {self.request_token}"):
                return 401, {"message": "Bad credentials"}
            audience = parse_qs(query).get("audience", [self.url])[0]
            self.requested_audiences.append(audience)
            return 200, {"count": 1, "value": self.mint(audience)}
        return 404, {"message": "Not Found"}


def _handler(issuer: WorkloadIssuer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            parts = urlsplit(self.path)
            status, body = issuer.answer(
                parts.path, parts.query, self.headers.get("Authorization", "")
            )
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: Any) -> None:
            pass  # a test's output is no place for an access log

    return Handler


@contextmanager
def running_issuer() -> Iterator[WorkloadIssuer]:
    """Serve a fresh issuer on a free loopback port until the block ends."""
    issuer = WorkloadIssuer()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(issuer))
    server.daemon_threads = True
    issuer.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, name="workload-issuer", daemon=True)
    thread.start()
    try:
        yield issuer
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


@pytest.fixture(scope="session")
def workload_issuer() -> Iterator[WorkloadIssuer]:
    """One issuer for the session; see the module docstring."""
    with running_issuer() as issuer:
        yield issuer


@pytest.fixture
def fresh_issuer() -> Iterator[WorkloadIssuer]:
    """An issuer of this test's own: rotate its keys or count its fetches freely."""
    with running_issuer() as issuer:
        yield issuer
