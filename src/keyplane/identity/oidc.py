"""The OpenID Connect relying party: authorization code + PKCE + state + nonce.

Authlib's OAuth 2.0 client builds the authorization URL (with the S256 code
challenge) and redeems the code; joserfc verifies the ID token against the
provider's JWKS, pinning the issuer, the audience (our client ID, and ``azp`` when
there are several audiences or ``azp`` is sent), the nonce, ``iat`` and the expiry
(OpenID Connect Core §3.1.3.7). The ``iss`` of the authorization response is checked
too when the provider sends it or announces it (RFC 9207 §2.4).
"""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import httpx

from keyplane.domain.errors import NotAuthenticated
from keyplane.identity.egress import client_options

if TYPE_CHECKING:
    from authlib.integrations.httpx_client import (  # type: ignore[import-untyped]
        AsyncOAuth2Client,
    )
    from joserfc.jwk import KeySet

DISCOVERY_TTL = 600.0
ALGORITHMS = ["RS256", "ES256", "PS256", "EdDSA"]
SCOPE = "openid email profile"


@dataclass(frozen=True)
class Provider:
    issuer: str
    authorization_endpoint: str
    token_endpoint: str
    jwks_uri: str
    # RFC 9207 §3: the provider puts ``iss`` in every authorization response.
    iss_parameter_supported: bool = False

    def check_response_issuer(self, iss: str | None) -> None:
        """RFC 9207 §2.4: an authorization response from another issuer (a mix-up) is
        refused; without ``iss`` it is refused only if the provider announces it."""
        if iss is None:
            if self.iss_parameter_supported:
                raise NotAuthenticated("the identity provider's answer does not name its issuer")
            return
        if iss != self.issuer:
            raise NotAuthenticated("the identity provider's answer names another issuer")


@dataclass(frozen=True)
class Attempt:
    """What must survive the round trip through the provider (kept in an encrypted cookie)."""

    state: str
    nonce: str
    code_verifier: str

    @classmethod
    def new(cls) -> Attempt:
        return cls(secrets.token_urlsafe(24), secrets.token_urlsafe(24), secrets.token_urlsafe(48))


class RelyingParty:
    """Talks to identity providers; caches discovery documents and key sets briefly."""

    def __init__(self, timeout: float = 10.0, *, allow_private_networks: bool = False) -> None:
        self._timeout = timeout
        self._allow_private = allow_private_networks  # see keyplane.identity.egress
        self._providers: dict[str, tuple[Provider, float]] = {}
        self._keys: dict[str, tuple[KeySet, float]] = {}

    async def provider(self, issuer: str) -> Provider:
        cached = self._providers.get(issuer)
        if cached and time.monotonic() - cached[1] < DISCOVERY_TTL:
            return cached[0]
        document = await self._get_json(f"{issuer}/.well-known/openid-configuration")
        if document.get("issuer", "").rstrip("/") != issuer:
            raise NotAuthenticated(
                "the identity provider's discovery document names another issuer"
            )
        try:
            found = Provider(
                issuer,
                document["authorization_endpoint"],
                document["token_endpoint"],
                document["jwks_uri"],
                document.get("authorization_response_iss_parameter_supported") is True,
            )
        except KeyError as missing:
            raise NotAuthenticated(f"the identity provider publishes no {missing}") from None
        self._providers[issuer] = (found, time.monotonic())
        return found

    def authorization_url(
        self, provider: Provider, client_id: str, redirect_uri: str, attempt: Attempt, hint: str
    ) -> str:
        client = _oauth_client()(
            client_id=client_id,
            scope=SCOPE,
            redirect_uri=redirect_uri,
            code_challenge_method="S256",
        )
        url, _ = client.create_authorization_url(
            provider.authorization_endpoint,
            state=attempt.state,
            nonce=attempt.nonce,
            code_verifier=attempt.code_verifier,
            login_hint=hint,
        )
        return str(url)

    async def redeem(
        self,
        provider: Provider,
        client_id: str,
        client_secret: str,
        redirect_uri: str,
        attempt: Attempt,
        code: str,
    ) -> dict[str, Any]:
        """Exchange the code and return the verified ID token's claims."""
        async with _oauth_client()(
            client_id=client_id,
            client_secret=client_secret,
            redirect_uri=redirect_uri,
            timeout=self._timeout,
            **client_options(self._allow_private),
        ) as client:
            try:
                token = await client.fetch_token(
                    provider.token_endpoint, code=code, code_verifier=attempt.code_verifier
                )
            except Exception as error:  # Authlib raises OAuthError and httpx errors
                raise NotAuthenticated(
                    f"the identity provider refused the sign-in: {_reason(error)}"
                ) from None
        id_token = token.get("id_token")
        if not id_token:
            raise NotAuthenticated("the identity provider returned no ID token")
        return await self.verify_id_token(provider, client_id, str(id_token), attempt.nonce)

    async def verify_id_token(
        self, provider: Provider, client_id: str, id_token: str, nonce: str
    ) -> dict[str, Any]:
        from joserfc import jwt
        from joserfc.errors import JoseError

        keys = await self._key_set(provider)
        try:
            decoded = jwt.decode(id_token, keys, algorithms=ALGORITHMS)
        except (JoseError, ValueError):
            # The provider may have rotated its keys since we cached them: fetch once more.
            keys = await self._key_set(provider, fresh=True)
            try:
                decoded = jwt.decode(id_token, keys, algorithms=ALGORITHMS)
            except (JoseError, ValueError) as error:
                raise NotAuthenticated(f"the ID token's signature is not valid: {error}") from None
        registry = jwt.JWTClaimsRegistry(
            leeway=60,
            iss={"essential": True, "value": provider.issuer},
            aud={"essential": True, "value": client_id},
            nonce={"essential": True, "value": nonce},
            sub={"essential": True},
            exp={"essential": True},
            iat={"essential": True},
        )
        try:
            registry.validate(decoded.claims)
        except JoseError as error:
            raise NotAuthenticated(f"the ID token was refused: {error}") from None
        _check_authorized_party(decoded.claims, client_id)
        return dict(decoded.claims)

    async def _key_set(self, provider: Provider, fresh: bool = False) -> KeySet:
        cached = self._keys.get(provider.jwks_uri)
        if cached and not fresh and time.monotonic() - cached[1] < DISCOVERY_TTL:
            return cached[0]
        from joserfc.jwk import KeySet

        keys = KeySet.import_key_set(await self._get_json(provider.jwks_uri))  # type: ignore[arg-type]
        self._keys[provider.jwks_uri] = (keys, time.monotonic())
        return keys

    async def _get_json(self, url: str) -> dict[str, Any]:
        try:
            options = client_options(self._allow_private)
            async with httpx.AsyncClient(timeout=self._timeout, **options) as client:
                answer = await client.get(url)
                answer.raise_for_status()
                data = answer.json()
        except (httpx.HTTPError, ValueError) as error:
            raise NotAuthenticated(
                f"cannot reach the identity provider: {_reason(error)}"
            ) from None
        if not isinstance(data, dict):
            raise NotAuthenticated("the identity provider sent an unexpected document")
        return data


def _check_authorized_party(claims: dict[str, Any], client_id: str) -> None:
    """OIDC Core §3.1.3.7 (4, 5): with several audiences ``azp`` is required, and when
    present it must be our client ID, so a token meant for another party is refused."""
    audiences = claims["aud"] if isinstance(claims["aud"], list) else [claims["aud"]]
    azp = claims.get("azp")
    if azp is None:
        if len(audiences) > 1:
            raise NotAuthenticated("the ID token has several audiences and no azp claim")
        return
    if azp != client_id:
        raise NotAuthenticated("the ID token was issued to another party (azp)")


def _oauth_client() -> type[AsyncOAuth2Client]:
    # Imported on first use: Authlib takes seconds to import, and only SSO needs it.
    from authlib.integrations.httpx_client import AsyncOAuth2Client

    return AsyncOAuth2Client  # type: ignore[no-any-return]


def _reason(error: Exception) -> str:
    return str(error).splitlines()[0][:200] if str(error) else type(error).__name__
