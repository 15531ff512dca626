"""OAuth error responses: one class per RFC error code, rendered in one place.

RFC 6749 §5.2 (token endpoint), RFC 7009 §2.2.1 (revocation). Every OAuth answer,
error or not, carries ``Cache-Control: no-store`` and ``Pragma: no-cache`` (§5.1).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, ClassVar

from fastapi import FastAPI, Request
from starlette.responses import Response

from keyplane.http.responses import NO_STORE


class OAuthError(Exception):
    """An RFC error; ``description`` is shown to the client and never holds a secret."""

    error: ClassVar[str] = "invalid_request"
    status_code: ClassVar[int] = 400

    def __init__(self, description: str, *, headers: Mapping[str, str] | None = None) -> None:
        super().__init__(description)
        self.description = description
        self.headers = dict(headers or {})

    def body(self) -> dict[str, Any]:
        return {"error": self.error, "error_description": self.description}


class InvalidRequest(OAuthError):
    error = "invalid_request"


class InvalidClient(OAuthError):
    """RFC 6749 §5.2: 401 with ``WWW-Authenticate`` when the client used Basic."""

    error = "invalid_client"

    def __init__(self, description: str, *, basic: bool) -> None:
        headers = {"WWW-Authenticate": 'Basic realm="keyplane", charset="UTF-8"'} if basic else {}
        super().__init__(description, headers=headers)
        self.status = 401 if basic else 400


class InvalidGrant(OAuthError):
    error = "invalid_grant"


class UnauthorizedClient(OAuthError):
    error = "unauthorized_client"


class UnsupportedGrantType(OAuthError):
    error = "unsupported_grant_type"


class InvalidScope(OAuthError):
    error = "invalid_scope"


class InvalidTarget(OAuthError):
    """RFC 8707 §2: the ``resource`` is not one this server issues tokens for."""

    error = "invalid_target"


class UnsupportedTokenType(OAuthError):
    """RFC 7009 §2.2.1."""

    error = "unsupported_token_type"


class TemporarilyUnavailable(OAuthError):
    """Too many failed client authentications: 429 with ``Retry-After``."""

    error = "temporarily_unavailable"
    status_code = 429

    def __init__(self, description: str, *, retry_after: int) -> None:
        super().__init__(description, headers={"Retry-After": str(retry_after)})


def oauth_response(
    body: Mapping[str, Any], status: int = 200, headers: Mapping[str, str] | None = None
) -> Response:
    """A JSON answer with the no-store headers; built by hand, it is on the hot path."""
    return Response(
        json.dumps(body, separators=(",", ":")),
        status_code=status,
        media_type="application/json",
        headers={**NO_STORE, **(headers or {})},
    )


def error_response(error: OAuthError) -> Response:
    status = error.status if isinstance(error, InvalidClient) else error.status_code
    return oauth_response(error.body(), status, error.headers)


async def _handle(_: Request, exc: Exception) -> Response:
    assert isinstance(exc, OAuthError)
    return error_response(exc)


def install(app: FastAPI) -> None:
    app.add_exception_handler(OAuthError, _handle)
