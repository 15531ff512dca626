"""What one process holds for the authorization server, and how it plugs into a Runtime."""

from __future__ import annotations

from typing import TYPE_CHECKING

from keyplane.oauth.access_tokens import RUNTIME_INFO
from keyplane.oauth.clients import ClientAuthenticator
from keyplane.oauth.signing_keys import KeyRing
from keyplane.oauth.verifier import AccessTokenVerifier

if TYPE_CHECKING:
    from keyplane.runtime import Runtime


class OAuthServer:
    """The signing keys, the access-token verifier and the client authenticator."""

    def __init__(self, runtime: Runtime) -> None:
        # The SecretBox is read lazily: it may create the key file in the data dir.
        self.keys = KeyRing(runtime.sessions, lambda: runtime.secret_box)
        self.verifier = AccessTokenVerifier(runtime, self.keys)
        self.clients = ClientAuthenticator(runtime)

    def attach(self, runtime: Runtime) -> None:
        """Accept access tokens on every route; forget cached answers on credential changes."""
        runtime.authenticator.jwt_verifier = self.verifier
        runtime.caches += [self.verifier.cache, self.clients.cache]
        # Lets services holding only a Session find the runtime (issue_user_access_token).
        runtime.sessions.configure(info={RUNTIME_INFO: runtime})
