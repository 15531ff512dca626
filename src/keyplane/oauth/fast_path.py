"""``POST /oauth/token`` without FastAPI's router.

Why: the token endpoint is the one hot path that CI fleets hit, and on it route
matching and dependency solving cost more than the grant itself (SHA-256, a dict
lookup and one ES256 signature). This ASGI middleware sits inside the request-id,
audit and body-limit middleware, so those still apply (it sets ``scope["route"]`` as
the router would, for the audit trail); the FastAPI route stays registered for the
OpenAPI document. OAuth errors are rendered and counted here, as the route does
(``routes.limited``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from starlette.requests import Request
from starlette.types import ASGIApp, Receive, Scope, Send

from keyplane.oauth import token_endpoint
from keyplane.oauth.routes import limited, router

if TYPE_CHECKING:
    from keyplane.oauth.context import ServerContext

PATH = "/oauth/token"
# The route FastAPI would have matched: the audit middleware reads its template.
ROUTE = next(route for route in router.routes if getattr(route, "path", None) == PATH)


class TokenEndpointFastPath:
    def __init__(self, app: ASGIApp, runtime: ServerContext) -> None:
        self.app = app
        self.runtime = runtime

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] != PATH or scope["method"] != "POST":
            await self.app(scope, receive, send)
            return
        scope["route"] = ROUTE
        response = await limited(token_endpoint.token, Request(scope, receive), self.runtime)
        await response(scope, receive, send)
