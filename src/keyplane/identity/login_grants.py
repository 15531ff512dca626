"""The CLI login's grants on the authorization server.

:func:`install` registers on the process's OAuth server (the assembly point,
``keyplane.runtime``, calls it) the public client ``keyplane-cli``, the grants
``authorization_code``, ``refresh_token`` and ``device_code``, a revoker for
refresh tokens, a check for access tokens of a login (``kp_login``) and the
metadata fields. Nothing here belongs to the HTTP edge: the grants see only the
token request, and the process through ``ServerContext``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from keyplane.audit.notes import target
from keyplane.config import Settings
from keyplane.db.unit import unit_of_work
from keyplane.identity import authorize, cli_tokens, device
from keyplane.oauth.clients import Client
from keyplane.oauth.context import ServerContext
from keyplane.oauth.errors import InvalidRequest, OAuthError, UnauthorizedClient
from keyplane.oauth.server import OAuthServer
from keyplane.oauth.token_endpoint import TokenRequest, TokenResponse

T = TypeVar("T")


def in_unit(runtime: ServerContext, work: Callable[[Session], T]) -> T:
    """Run ``work`` as this token request's unit of work (the grants take no DbSession).

    An OAuth error is an answer, not a failure: what the grant did before refusing (a
    spent code, a revoked login, a slower polling interval) commits all the same.
    """
    # The signing keys first, in a unit of their own (the first key is made there): on
    # SQLite, once this unit has written it holds the one write lock until it commits.
    runtime.oauth.keys.current()
    with unit_of_work(runtime.sessions, commit_on=(OAuthError,)) as db:
        return work(db)


async def _cli_client(request: TokenRequest) -> Client:
    client = await request.authenticate_client()
    if client.client_id != cli_tokens.CLI_CLIENT_ID:
        raise UnauthorizedClient(f"this grant is only for the client {cli_tokens.CLI_CLIENT_ID}")
    return client


async def authorization_code_grant(request: TokenRequest) -> TokenResponse:
    """RFC 6749 §4.1.3 with RFC 7636 §4.5."""
    client = await _cli_client(request)
    code, redirect_uri, verifier = request.require("code", "redirect_uri", "code_verifier")
    runtime = request.runtime
    body = await run_in_threadpool(
        in_unit,
        runtime,
        lambda db: authorize.redeem(db, runtime, client.client_id, code, redirect_uri, verifier),
    )
    return TokenResponse(body)


async def refresh_token_grant(request: TokenRequest) -> TokenResponse:
    """RFC 6749 §6, rotating the refresh token on every use."""
    await _cli_client(request)
    (value,) = request.require("refresh_token")
    runtime = request.runtime
    body = await run_in_threadpool(
        in_unit, runtime, lambda db: cli_tokens.refresh(runtime, db, value)
    )
    return TokenResponse(body)


async def device_code_grant(request: TokenRequest) -> TokenResponse:
    """RFC 8628 §3.4."""
    client = await _cli_client(request)
    (code,) = request.require("device_code")
    runtime = request.runtime
    body = await run_in_threadpool(
        in_unit, runtime, lambda db: device.poll(db, runtime, client.client_id, code)
    )
    return TokenResponse(body)


async def revoke_refresh_token(
    request: TokenRequest, client: Client, token: str, hint: str | None
) -> bool:
    """RFC 7009 §2.1: revoking a refresh token revokes its whole login.

    Refresh tokens are issued to ``keyplane-cli`` only; another client (a deployment
    API key) is refused as for an access token issued to another client (§2.1), by the
    value's prefix alone, so it learns nothing about whether the value is a live login.
    """
    if not token.startswith(cli_tokens.REFRESH_PREFIX):
        return False
    if client.client_id != cli_tokens.CLI_CLIENT_ID:
        raise InvalidRequest("this client may not revoke a token issued to another client")
    login_id = await run_in_threadpool(
        in_unit, request.runtime, lambda db: cli_tokens.revoke_by_refresh_token(db, token)
    )
    if login_id is not None:  # the revoked login, never the token
        target(request.http, "cli_login", login_id)
    return True


def _metadata(settings: Settings) -> dict[str, Any]:
    base = settings.public_url.rstrip("/")
    return {
        "authorization_endpoint": f"{base}/oauth/authorize",
        "device_authorization_endpoint": f"{base}/oauth/device/code",
        "response_types_supported": ["code"],
        "code_challenge_methods_supported": ["S256"],
        # RFC 9207 §3: every authorization response carries ``iss``.
        "authorization_response_iss_parameter_supported": True,
    }


def install(server: OAuthServer) -> None:
    """Serve the CLI login on ``server``: its client, grants, revoker, check and metadata."""
    server.register_public_client(cli_tokens.CLI_CLIENT_ID)
    server.register_grant("authorization_code", authorization_code_grant)
    server.register_grant("refresh_token", refresh_token_grant)
    server.register_grant(device.GRANT_TYPE, device_code_grant)
    server.register_revoker(revoke_refresh_token)
    server.register_claims_check(cli_tokens.check_login)
    server.register_metadata(_metadata)
