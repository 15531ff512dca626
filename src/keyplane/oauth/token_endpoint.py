"""The token endpoint (RFC 6749 §3.2).

Each grant type is a handler registered on the process's OAuth server
(``OAuthServer.register_grant``, called from the assembly point); the endpoint
parses the form, picks the handler by ``grant_type`` and renders what it returns
(or the OAuthError it raises). This module implements ``client_credentials``
(§4.4) for deployment API keys; other areas install the grants they own.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING
from urllib.parse import parse_qsl

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from keyplane.apikeys.deprecation import deprecation_headers
from keyplane.apikeys.models import DeploymentApiKey
from keyplane.apikeys.principal import KEYS_DISABLED
from keyplane.domain import networks
from keyplane.domain.networks import AllowedRanges
from keyplane.http.headers import scope_client_ip
from keyplane.oauth.access_tokens import audience_of, issue_key_access_token
from keyplane.oauth.audit import audit_key_use
from keyplane.oauth.clients import Client
from keyplane.oauth.errors import (
    InvalidRequest,
    InvalidScope,
    InvalidTarget,
    UnauthorizedClient,
    UnsupportedGrantType,
    oauth_response,
)
from keyplane.ops import metrics

if TYPE_CHECKING:
    from keyplane.oauth.context import ServerContext

FORM = "application/x-www-form-urlencoded"


@dataclass
class TokenRequest:
    """One call of the token endpoint, as a grant handler sees it."""

    runtime: ServerContext
    form: dict[str, str]
    http: Request

    @classmethod
    async def of(cls, request: Request, runtime: ServerContext) -> TokenRequest:
        return cls(runtime, await parse_form(request), request)

    @property
    def client_ip(self) -> str:
        return scope_client_ip(self.http.scope)

    async def authenticate_client(self) -> Client:
        """Authenticate the client (RFC 6749 §2.3); raises InvalidClient and friends."""
        return await self.runtime.oauth.clients.authenticate(
            self.form, self.http.headers.get("authorization"), self.client_ip
        )

    def require(self, *names: str) -> list[str]:
        """The values of required parameters; InvalidRequest naming the first missing."""
        missing = [name for name in names if not self.form.get(name)]
        if missing:
            raise InvalidRequest(f"missing parameter: {missing[0]}")
        return [self.form[name] for name in names]


@dataclass
class TokenResponse:
    body: dict[str, object]
    headers: dict[str, str] = field(default_factory=dict)


# Registered on the server: OAuthServer.register_grant.
GrantHandler = Callable[[TokenRequest], Awaitable[TokenResponse]]


def check_address(ranges: AllowedRanges | None, client_ip: str) -> None:
    """Refuse to issue an access token to a client outside its organization's
    allowedIpRanges (the token would be refused on every route anyway)."""
    refusal = ranges.refusal(client_ip) if ranges is not None else None
    if refusal is not None:
        metrics.AUTH_FAILURES.labels(reason="ip_range").inc()
        raise UnauthorizedClient(f"{refusal}: {networks.HINT}")


async def parse_form(request: Request) -> dict[str, str]:
    """The form body; InvalidRequest unless it is form-encoded with no repeated names (§3.2)."""
    content_type = request.headers.get("content-type", "").partition(";")[0].strip().lower()
    body = await request.body()
    if content_type != FORM and (body or content_type):
        raise InvalidRequest(f"the request body must be {FORM}")
    try:
        pairs = parse_qsl(body.decode("utf-8"), keep_blank_values=True)
    except (UnicodeDecodeError, ValueError):
        raise InvalidRequest("the request body is not a valid form") from None
    form = dict(pairs)
    if len(form) != len(pairs):
        repeated = next(name for name, _ in pairs if sum(n == name for n, _ in pairs) > 1)
        raise InvalidRequest(f"parameter {repeated} was sent more than once")
    return form


async def token(request: Request, runtime: ServerContext) -> Response:
    """POST /oauth/token: dispatch on ``grant_type``."""
    call = await TokenRequest.of(request, runtime)
    grant_type = call.form.get("grant_type")
    if not grant_type:
        raise InvalidRequest("missing parameter: grant_type")
    grants = runtime.oauth.grants
    handler = grants.get(grant_type)
    if handler is None:
        raise UnsupportedGrantType(f"this grant_type is not supported: use one of {sorted(grants)}")
    result = await handler(call)
    return oauth_response(result.body, 200, result.headers)


async def client_credentials(request: TokenRequest) -> TokenResponse:
    """RFC 6749 §4.4: a deployment API key gets an access token, and no refresh token."""
    client = await request.authenticate_client()
    key = client.key
    if key is None:
        raise UnauthorizedClient("client_credentials is only for deployment API keys")
    if request.form.get("scope", "").strip():
        raise InvalidScope("deployment API keys carry no scopes: omit scope")
    runtime = request.runtime
    resource = request.form.get("resource")
    if resource and resource != audience_of(runtime.settings):
        raise InvalidTarget(f"this server issues tokens only for {audience_of(runtime.settings)}")
    if not key.enabled:
        raise UnauthorizedClient(KEYS_DISABLED)
    check_address(key.allowed_ranges, request.client_ip)
    ring = runtime.oauth.keys
    keys = ring.current() if not ring.stale else await run_in_threadpool(ring.current)
    issued = issue_key_access_token(keys, runtime.settings, key)
    recorder = runtime.authenticator.last_used
    if recorder.due(key.id):
        # Once per key per interval, not per grant: lastUsedAt and an audit event.
        await run_in_threadpool(recorder.write, DeploymentApiKey, key.id)
        audit_key_use(request.http, key.principal)
    return TokenResponse(issued.response(), deprecation_headers(runtime.settings))
