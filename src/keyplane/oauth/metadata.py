"""Authorization server metadata (RFC 8414 §2) and the published JWKS (RFC 7517)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from keyplane.config import Settings
from keyplane.oauth.access_tokens import issuer_of
from keyplane.oauth.clients import BASIC, NONE, POST, PUBLIC_CLIENTS
from keyplane.oauth.signing_keys import ALGORITHM
from keyplane.oauth.token_endpoint import GRANTS

MetadataExtension = Callable[[Settings], dict[str, Any]]
METADATA_EXTENSIONS: list[MetadataExtension] = []


def register_metadata(extension: MetadataExtension) -> None:
    """Add fields to the metadata document (an authorization endpoint, PKCE methods...)."""
    METADATA_EXTENSIONS.append(extension)


def metadata(settings: Settings) -> dict[str, Any]:
    issuer = issuer_of(settings)
    methods = [BASIC, POST, *([NONE] if PUBLIC_CLIENTS else [])]
    document: dict[str, Any] = {
        "issuer": issuer,
        "token_endpoint": f"{issuer}/oauth/token",
        "jwks_uri": f"{issuer}/.well-known/jwks.json",
        "revocation_endpoint": f"{issuer}/oauth/revoke",
        "introspection_endpoint": f"{issuer}/oauth/introspect",
        "grant_types_supported": sorted(GRANTS),
        "response_types_supported": [],
        "token_endpoint_auth_methods_supported": methods,
        "revocation_endpoint_auth_methods_supported": methods,
        "introspection_endpoint_auth_methods_supported": methods,
        "access_token_signing_alg_values_supported": [ALGORITHM],
        "service_documentation": f"{issuer}/v1/docs",
    }
    for extension in METADATA_EXTENSIONS:
        document.update(extension(settings))
    return document
