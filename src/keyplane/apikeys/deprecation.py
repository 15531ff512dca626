"""Deprecation (RFC 9745) and Sunset (RFC 8594) headers on every answer to a key's request."""

from __future__ import annotations

from datetime import UTC, datetime
from email.utils import format_datetime
from functools import cache

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from keyplane.auth.principal import PrincipalKind
from keyplane.config import Settings


@cache
def _headers(deprecated_on: str, sunset_on: str) -> tuple[tuple[str, str], ...]:
    deprecated = datetime.fromisoformat(deprecated_on).replace(tzinfo=UTC)
    sunset = datetime.fromisoformat(sunset_on).replace(tzinfo=UTC)
    return (
        ("Deprecation", f"@{int(deprecated.timestamp())}"),
        ("Sunset", format_datetime(sunset, usegmt=True)),
    )


def deprecation_headers(settings: Settings) -> dict[str, str]:
    return dict(_headers(settings.api_keys_deprecated_on, settings.api_keys_sunset_on))


class DeprecationHeadersMiddleware:
    """Adds the headers when the request was authenticated by a deployment API key.

    The principal is known only once the route's dependencies ran, so this looks at
    ``request.state.principal`` when the response starts.
    """

    def __init__(self, app: ASGIApp, settings: Settings) -> None:
        self.app = app
        self.headers = [
            (name.lower().encode(), value.encode())
            for name, value in deprecation_headers(settings).items()
        ]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                principal = scope.get("state", {}).get("principal")
                if principal is not None and principal.kind is PrincipalKind.DEPLOYMENT_KEY:
                    message["headers"] = [*message.get("headers", []), *self.headers]
            await send(message)

        await self.app(scope, receive, send_with_headers)
