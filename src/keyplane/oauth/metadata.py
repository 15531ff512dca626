"""Authorization server metadata (RFC 8414 §2) and the published JWKS (RFC 7517)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from keyplane.config import Settings
from keyplane.oauth.access_tokens import issuer_of
from keyplane.oauth.clients import BASIC, NONE, POST
from keyplane.oauth.signing_keys import ALGORITHM

# Fields an area adds to the document (OAuthServer.register_metadata).
MetadataExtension = Callable[[Settings], dict[str, Any]]


def metadata_document(
    settings: Settings,
    grant_types: Iterable[str],
    public_clients: bool,
    extensions: Iterable[MetadataExtension],
    public_introspection: bool = False,
) -> dict[str, Any]:
    """§2: the server's endpoints, its grant types and its client authentication methods
    (``none`` only when a public client is registered, and for introspection only when
    a kind of public client may introspect the tokens issued to it)."""
    issuer = issuer_of(settings)
    methods = [BASIC, POST, *([NONE] if public_clients else [])]
    document: dict[str, Any] = {
        "issuer": issuer,
        "token_endpoint": f"{issuer}/oauth/token",
        "jwks_uri": f"{issuer}/.well-known/jwks.json",
        "revocation_endpoint": f"{issuer}/oauth/revoke",
        "introspection_endpoint": f"{issuer}/oauth/introspect",
        "grant_types_supported": sorted(grant_types),
        "response_types_supported": [],
        "token_endpoint_auth_methods_supported": methods,
        "revocation_endpoint_auth_methods_supported": methods,
        # RFC 7662 §2.1, §4: confidential clients (deployment API keys) introspect; a
        # workload identity only the tokens issued to it (nothing its holder cannot read).
        "introspection_endpoint_auth_methods_supported": [
            BASIC,
            POST,
            *([NONE] if public_introspection else []),
        ],
        "access_token_signing_alg_values_supported": [ALGORITHM],
        "service_documentation": f"{issuer}/v1/docs",
    }
    for extension in extensions:
        document.update(extension(settings))
    return document
