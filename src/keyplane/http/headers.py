"""Reading request headers straight from the ASGI scope (no Starlette wrappers).

Used on every request by the pure-ASGI middleware and the principal dependency, where
building a ``Headers`` object would cost more than the lookup itself.
"""

from __future__ import annotations

from starlette.types import Scope


def header(scope: Scope, name: bytes) -> bytes | None:
    """The first value of header ``name`` (lower case, as ASGI gives names), or None."""
    for key, value in scope["headers"]:
        if key == name:
            return value  # type: ignore[no-any-return]
    return None


def bearer(authorization: bytes) -> str | None:
    """The credential of an ``Authorization: Bearer <credential>`` value; None for
    another scheme or an empty credential."""
    scheme, _, raw = authorization.partition(b" ")
    credential = raw.decode("latin-1").strip()
    return credential if credential and scheme.lower() == b"bearer" else None


def scope_client_ip(scope: Scope) -> str:
    """The client's address as the server saw it: the peer, or the address that a
    proxy trusted by ``--forwarded-allow-ips`` put in X-Forwarded-For (uvicorn rewrites
    the scope; keyplane never reads that header itself). "unknown" without a client."""
    client = scope.get("client")
    return str(client[0]) if client else "unknown"
