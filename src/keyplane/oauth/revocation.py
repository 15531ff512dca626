"""Token revocation (RFC 7009).

Access tokens are self-contained, so revoking one records its ``jti`` until it
would have expired; the verifier refuses it from then on, on every replica (the
verifier's cache is cleared by ``credentials_changed``). Other token types (refresh
tokens) are revoked by revokers their areas register.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import delete
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from keyplane.audit.notes import target
from keyplane.db.base import utcnow
from keyplane.db.unit import credentials_changed, unit_of_work
from keyplane.domain import credentials
from keyplane.domain.errors import NotAuthenticated
from keyplane.oauth.clients import Client
from keyplane.oauth.errors import (
    InvalidRequest,
    UnsupportedTokenType,
    oauth_response,
)
from keyplane.oauth.models import RevokedAccessToken
from keyplane.oauth.token_endpoint import TokenRequest

if TYPE_CHECKING:
    from keyplane.oauth.context import ServerContext

# (request, client, token, hint) -> True when it recognised the token (revoked or not).
# Registered on the server: OAuthServer.register_revoker.
Revoker = Callable[[TokenRequest, Client, str, str | None], Awaitable[bool]]


async def revoke(request: Request, runtime: ServerContext) -> Response:
    """POST /oauth/revoke (§2.1): 200 whether or not the token was valid (§2.2)."""
    call = await TokenRequest.of(request, runtime)
    client = await call.authenticate_client()
    if client.key is not None:  # for the audit trail and the Deprecation headers
        request.state.principal = client.key.principal
    (token,) = call.require("token")
    if _is_api_credential(token):
        raise UnsupportedTokenType(
            "API tokens and deployment API keys are not revoked here: delete or rotate them "
            "(`keyplane ... token delete`, `keyplane deployment api-key delete`)"
        )
    hint = call.form.get("token_type_hint") or None
    for revoker in runtime.oauth.revokers:
        if await revoker(call, client, token, hint):
            break
    return oauth_response({}, 200)


def _is_api_credential(token: str) -> bool:
    try:
        credentials.parse(token)
    except NotAuthenticated:
        return False
    return True


async def revoke_access_token(
    call: TokenRequest, client: Client, token: str, _hint: str | None
) -> bool:
    """Revoke one of our JWT access tokens if ``client`` holds it; False if not one of ours."""
    try:
        claims = await call.runtime.oauth.verifier.check_signature(token)
    except NotAuthenticated:
        return token.startswith("eyJ")  # an invalid or expired JWT: nothing to revoke
    if claims["client_id"] != client.client_id:
        raise InvalidRequest("this client may not revoke a token issued to another client")
    await run_in_threadpool(_record, call.runtime, claims)
    target(call.http, "access_token", claims["jti"])  # its id, never its value
    return True


def _record(runtime: ServerContext, claims: dict[str, Any]) -> None:
    with unit_of_work(runtime.sessions) as db:
        db.execute(delete(RevokedAccessToken).where(RevokedAccessToken.expires_at < utcnow()))
        if db.get(RevokedAccessToken, claims["jti"]) is None:
            db.add(
                RevokedAccessToken(
                    jti=claims["jti"], expires_at=datetime.fromtimestamp(claims["exp"], UTC)
                )
            )
        credentials_changed(db)
