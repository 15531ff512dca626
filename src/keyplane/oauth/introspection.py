"""Token introspection (RFC 7662).

A confidential client may introspect the tokens issued to it; a public client (the
CLI) may not introspect at all (§2.1, §4), except a kind registered as introspecting
its own tokens (a workload identity): what it learns of a token issued to it, its
holder can read from the token itself or ``/v1/self``. Anything else, an invalid,
expired or revoked token, or one whose subject is gone, answers only
``{"active": false}`` (§2.2). Other areas add token types with
:func:`register_introspector`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import Response

from keyplane.domain.errors import NotAuthenticated
from keyplane.oauth.clients import NONE, Client
from keyplane.oauth.errors import InvalidClient, oauth_response
from keyplane.oauth.token_endpoint import TokenRequest, check_address

if TYPE_CHECKING:
    from keyplane.oauth.context import ServerContext

INACTIVE = {"active": False}
# (request, client, token, hint) -> the active answer, or None when not one it knows.
# Registered on the server: OAuthServer.register_introspector.
Introspector = Callable[[TokenRequest, Client, str, str | None], Awaitable[dict[str, Any] | None]]


async def introspect(request: Request, runtime: ServerContext) -> Response:
    """POST /oauth/introspect (§2.1). Invalid caller credentials, however they were
    sent, answer 401 with ``WWW-Authenticate`` (§2.3)."""
    call = await TokenRequest.of(request, runtime)
    try:
        client = await call.authenticate_client()
    except InvalidClient as error:
        raise InvalidClient(error.description, basic=True) from None
    if client.method == NONE and not client.introspects_own:
        # §2.1, §4: a public client cannot be told apart from anyone who knows its id.
        raise InvalidClient(
            "public clients may not introspect tokens: authenticate with a client secret",
            basic=True,
        )
    if client.key is not None:  # for the audit trail and the Deprecation headers
        request.state.principal = client.key.principal
        # The key's secret is a credential like its access tokens: not from outside.
        check_address(client.key.allowed_ranges, call.client_ip)
    (token,) = call.require("token")
    hint = call.form.get("token_type_hint") or None
    for introspector in runtime.oauth.introspectors:
        answer = await introspector(call, client, token, hint)
        if answer is not None:
            return oauth_response(answer)
    return oauth_response(INACTIVE)


async def introspect_access_token(
    call: TokenRequest, client: Client, token: str, _hint: str | None
) -> dict[str, Any] | None:
    try:
        verified = await call.runtime.oauth.verifier.verify(token)
    except NotAuthenticated:
        return None
    claims = verified.claims
    if claims["client_id"] != client.client_id:
        return None
    answer = {
        "active": True,
        "token_type": "Bearer",
        "username": verified.principal.name,
        **{name: claims[name] for name in ("client_id", "sub", "iss", "aud", "iat", "exp", "jti")},
    }
    if "org_id" in claims:
        answer["org_id"] = claims["org_id"]
    return answer
