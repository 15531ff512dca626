"""The authorization server of one process, and the registries the areas plug into.

Like authlib's ``AuthorizationServer.register_grant(...)``, the grants, public clients,
subject kinds, token checks, revokers, introspectors and metadata fields are held by
the server object that the assembly point (``keyplane.runtime``) builds, and are
registered there explicitly: which grants exist never depends on which modules
happened to be imported, and the metadata lists exactly what is registered.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from keyplane.auth.principal import PrincipalKind
from keyplane.oauth.clients import ClientAuthenticator, PublicClients
from keyplane.oauth.introspection import Introspector, introspect_access_token
from keyplane.oauth.metadata import MetadataExtension, metadata_document
from keyplane.oauth.revocation import Revoker, revoke_access_token
from keyplane.oauth.signing_keys import KeyRing
from keyplane.oauth.subjects import ClaimsCheck, SubjectResolver, key_principal, user_principal
from keyplane.oauth.token_endpoint import GrantHandler
from keyplane.oauth.verifier import AccessTokenVerifier

if TYPE_CHECKING:
    from keyplane.oauth.context import ServerContext


class OAuthServer:
    """Signing keys, the access-token verifier, the client authenticator and registries."""

    def __init__(self, runtime: ServerContext) -> None:
        self._settings = runtime.settings
        self.grants: dict[str, GrantHandler] = {}
        self.public_clients: set[str] = set()
        self.public_client_kinds: list[PublicClients] = []
        # Each ``kp_kind`` claim's resolver loads the subject's current principal.
        self.subject_kinds: dict[str, SubjectResolver] = {
            PrincipalKind.USER.value: user_principal,
            PrincipalKind.DEPLOYMENT_KEY.value: key_principal,
        }
        self.claims_checks: list[ClaimsCheck] = []
        self.revokers: list[Revoker] = [revoke_access_token]
        self.introspectors: list[Introspector] = [introspect_access_token]
        self.metadata_extensions: list[MetadataExtension] = []
        # The SecretBox is read lazily: it may create the key file in the data dir.
        self.keys = KeyRing(runtime.sessions, lambda: runtime.secret_box)
        self.verifier = AccessTokenVerifier(
            runtime, self.keys, self.subject_kinds, self.claims_checks
        )
        self.clients = ClientAuthenticator(runtime, self.public_clients, self.public_client_kinds)

    def register_grant(self, grant_type: str, handler: GrantHandler) -> None:
        """Serve ``grant_type`` at the token endpoint (RFC 6749 §3.2) with ``handler``."""
        if grant_type in self.grants:
            raise ValueError(f"grant_type {grant_type!r} is registered already")
        self.grants[grant_type] = handler

    def register_public_client(self, client_id: str) -> None:
        """Let ``client_id`` authenticate without a secret (method ``none``, §2.1)."""
        self.public_clients.add(client_id)

    def register_public_clients(self, kind: PublicClients) -> None:
        """Let the clients ``kind.check`` recognises (workload identities, whose ids are
        made at run time) authenticate with their client_id alone (method ``none``)."""
        self.public_client_kinds.append(kind)

    def register_subject_kind(self, kind: str, resolver: SubjectResolver) -> None:
        """Teach the verifier a new ``kp_kind``: ``resolver`` loads the subject's current
        principal or raises NotAuthenticated."""
        if kind in self.subject_kinds:
            raise ValueError(f"subject kind {kind!r} is registered already")
        self.subject_kinds[kind] = resolver

    def register_claims_check(self, check: ClaimsCheck) -> None:
        """Run ``check`` on every access token before its subject is resolved; it raises
        NotAuthenticated when a claim names something gone (a signed-out login)."""
        self.claims_checks.append(check)

    def register_revoker(self, revoker: Revoker) -> None:
        """Let RFC 7009 revocation recognise another token type."""
        self.revokers.append(revoker)

    def register_introspector(self, introspector: Introspector) -> None:
        """Let RFC 7662 introspection recognise another token type."""
        self.introspectors.append(introspector)

    def register_metadata(self, extension: MetadataExtension) -> None:
        """Add fields to the RFC 8414 document (an authorization endpoint, PKCE methods)."""
        self.metadata_extensions.append(extension)

    def metadata(self) -> dict[str, Any]:
        """The RFC 8414 document: what is registered on this server, and nothing else."""
        public = bool(self.public_clients or self.public_client_kinds)
        introspecting = any(kind.introspects_own for kind in self.public_client_kinds)
        return metadata_document(
            self._settings, self.grants, public, self.metadata_extensions, introspecting
        )

    def attach(self, runtime: ServerContext) -> None:
        """Accept access tokens on every route; forget cached answers on credential changes."""
        runtime.authenticator.jwt_verifier = self.verifier
        runtime.caches.extend([self.verifier.cache, self.clients.cache])
