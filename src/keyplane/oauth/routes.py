"""HTTP routes of the authorization server. ``async``: none touches the database when warm."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import JSONResponse, Response

from keyplane.http.headers import scope_client_ip
from keyplane.http.routing import APIRouter
from keyplane.oauth import introspection, refusals, revocation, token_endpoint
from keyplane.oauth.context import ServerContext, server_context
from keyplane.oauth.errors import OAuthError, error_response
from keyplane.oauth.signing_keys import JWKS_MAX_AGE

router = APIRouter(tags=["oauth"])


def _form(properties: dict[str, Any], required: list[str]) -> dict[str, Any]:
    schema = {"type": "object", "properties": properties, "required": required}
    content = {token_endpoint.FORM: {"schema": schema}}
    return {"requestBody": {"required": True, "content": content}}


_STRING = {"type": "string"}
_CLIENT = {"client_id": _STRING, "client_secret": _STRING}


@router.get("/.well-known/oauth-authorization-server")
async def authorization_server_metadata(request: Request) -> Response:
    """RFC 8414 authorization server metadata."""
    document = server_context(request).oauth.metadata()
    return JSONResponse(document, headers={"Cache-Control": "public, max-age=300"})


@router.get("/.well-known/jwks.json")
async def jwks(request: Request) -> Response:
    """The public signing keys, retired ones included while tokens they signed live."""
    ring = server_context(request).oauth.keys
    keys = ring.current() if not ring.stale else await run_in_threadpool(ring.current)
    cache = f"public, max-age={JWKS_MAX_AGE}"
    return JSONResponse(keys.jwks, headers={"Cache-Control": cache})


@router.post(
    "/oauth/token",
    openapi_extra=_form({"grant_type": _STRING, "scope": _STRING, **_CLIENT}, ["grant_type"]),
)
async def token(request: Request) -> Response:
    """RFC 6749 token endpoint: client_credentials for deployment API keys, and more."""
    return await limited(token_endpoint.token, request, server_context(request))


@router.post(
    "/oauth/revoke",
    openapi_extra=_form({"token": _STRING, "token_type_hint": _STRING, **_CLIENT}, ["token"]),
)
async def revoke(request: Request) -> Response:
    """RFC 7009 token revocation."""
    return await limited(revocation.revoke, request, server_context(request))


@router.post(
    "/oauth/introspect",
    openapi_extra=_form({"token": _STRING, "token_type_hint": _STRING, **_CLIENT}, ["token"]),
)
async def introspect(request: Request) -> Response:
    """RFC 7662 token introspection."""
    return await limited(introspection.introspect, request, server_context(request))


async def limited(
    endpoint: Callable[[Request, ServerContext], Awaitable[Response]],
    request: Request,
    runtime: ServerContext,
) -> Response:
    """The endpoint's answer; its refusals counted per address (``refusals``)."""
    try:
        return await endpoint(request, runtime)
    except OAuthError as error:
        return error_response(refusals.counted(runtime, scope_client_ip(request.scope), error))
