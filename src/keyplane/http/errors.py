"""One place that turns errors into answers: the API's error body (DESIGN §4), or a page.

A domain error maps to one :class:`ErrorAnswer` (status, message, field errors, the
missing permission, Retry-After), whoever shows it. API routes answer it as JSON;
a page that called :func:`show_errors_as` renders it with its own template, so the
console answers exactly what the API would, with no ``try`` in its routes.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any, Protocol

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from sqlalchemy.exc import DBAPIError
from starlette.exceptions import HTTPException
from starlette.routing import BaseRoute
from starlette.types import Scope

from keyplane.domain.credentials import screened
from keyplane.domain.errors import DomainError, Forbidden, NotAuthenticated, TooManyRequests
from keyplane.domain.ids import shown

log = logging.getLogger("keyplane.http")


def request_id_of(scope: Scope) -> str:
    return str(scope.get("state", {}).get("request_id", ""))


def error_response(
    scope: Scope,
    status: int,
    message: str,
    field_errors: dict[str, str] | None = None,
    headers: Mapping[str, str] | None = None,
    missing_permission: str | None = None,
) -> JSONResponse:
    request_id = request_id_of(scope)
    body: dict[str, Any] = {"message": message, "requestId": request_id, "statusCode": status}
    if field_errors:
        body["fieldErrors"] = field_errors
    if missing_permission:
        body["missingPermission"] = missing_permission
    return JSONResponse(
        body, status_code=status, headers={**(headers or {}), "X-Request-Id": request_id}
    )


@dataclass(frozen=True)
class ErrorAnswer:
    """What a domain error answers, as JSON or as a page."""

    status: int
    message: str
    field_errors: dict[str, str] | None = None
    missing_permission: str | None = None  # on 403: the permission the principal lacks
    retry_after: int | None = None  # on 429: seconds

    @classmethod
    def of(cls, error: DomainError) -> ErrorAnswer:
        return cls(
            status=error.status_code,
            message=error.message,
            field_errors=error.field_errors,
            missing_permission=error.permission if isinstance(error, Forbidden) else None,
            retry_after=error.retry_after if isinstance(error, TooManyRequests) else None,
        )


class ErrorPage(Protocol):
    """How a page shows an :class:`ErrorAnswer` (``keyplane.web`` makes them)."""

    def __call__(self, request: Request, answer: ErrorAnswer) -> Response: ...


def show_errors_as(request: Request, page: ErrorPage) -> None:
    """Answer a domain error raised while serving ``request`` with ``page``, not JSON.

    The last call wins, so a router can set its pages' default and a route narrow it
    (a form shown again with the message) just before the step that may fail.
    """
    request.state.error_page = page


async def _domain_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, DomainError)
    answer = ErrorAnswer.of(exc)
    given = {**request.path_params, **request.query_params}
    answer = replace(answer, message=_unechoed(answer.message, given))
    page: ErrorPage | None = getattr(request.state, "error_page", None)
    if page is not None:
        return page(request, answer)
    headers = {}
    if isinstance(exc, NotAuthenticated):
        headers["WWW-Authenticate"] = bearer_challenge(request, answer.message)
    if answer.retry_after is not None:
        headers["Retry-After"] = str(answer.retry_after)
    return error_response(
        request.scope,
        answer.status,
        answer.message,
        answer.field_errors,
        headers,
        answer.missing_permission,
    )


CHALLENGE = 'Bearer realm="keyplane"'
# RFC 6750 §3: what error_description may hold, printable ASCII but " and \.
_DESCRIBABLE = frozenset(map(chr, range(0x20, 0x7F))) - {'"', "\\"}
_DESCRIPTION_MAX = 160
_INVALID_TOKEN = "the access token is not valid"


def bearer_challenge(request: Request, message: str) -> str:
    """RFC 6750 §3.1: a credential that was presented and refused is ``invalid_token``,
    described by ``message`` made header-safe; with none presented, the bare challenge."""
    authorization = request.headers.get("authorization")
    if authorization is None:
        return CHALLENGE
    described = "".join(c for c in message if c in _DESCRIBABLE)[:_DESCRIPTION_MAX].strip()
    credential = authorization.partition(" ")[2].strip()
    if not described or (credential and credential in described):  # never the token
        described = _INVALID_TOKEN
    return f'{CHALLENGE}, error="invalid_token", error_description="{described}"'


def _unechoed(message: str, given: Mapping[str, Any]) -> str:
    """The message without the values of the path and query unless they could be ids,
    and without any word that starts as a secret does (a token pasted into a body field,
    say): a misplaced token must not come back in the answer (services name what was
    not found by the id they were given)."""
    for value in given.values():
        if isinstance(value, str) and shown(value) != value:
            message = message.replace(value, shown(value))
    return screened(message)


async def _validation_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    fields: dict[str, str] = {}
    for error in exc.errors():
        if error.get("type") == "json_invalid":  # its location is a character position
            reason = (error.get("ctx") or {}).get("error", "")
            fields["body"] = f"not valid JSON: {reason} at character {error['loc'][-1]}"
            continue
        location = [str(part) for part in error.get("loc", ()) if part not in ("body", "query")]
        fields[".".join(location) or "body"] = _describe(error)
    page: ErrorPage | None = getattr(request.state, "error_page", None)
    if page is not None:  # a form: the page says what is wrong, as there is no fieldErrors
        return page(request, ErrorAnswer(400, invalid_input(fields), fields))
    return error_response(request.scope, 400, "invalid request: see fieldErrors", fields)


def invalid_input(fields: Mapping[str, str]) -> str:
    """A message for a person: what is wrong with each field."""
    return "Invalid input: " + "; ".join(f"{name}: {problem}" for name, problem in fields.items())


def _describe(error: Any) -> str:
    if error.get("type") == "extra_forbidden":
        return "unknown field"
    return str(error.get("msg", "invalid value"))


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, HTTPException)
    message = {404: "no such route", 405: "method not allowed"}.get(
        exc.status_code, str(exc.detail)
    )
    headers = dict(exc.headers or {})
    if exc.status_code == 405:
        headers["Allow"] = ", ".join(allowed_methods(request))
    return error_response(request.scope, exc.status_code, message, headers=headers)


def allowed_methods(request: Request) -> list[str]:
    """Every method some route of this path takes (RFC 9110 §15.5.6): a path's GET, POST
    and DELETE are separate routes, and the one that answered 405 knows only its own."""
    routes: list[BaseRoute] = getattr(request.app.state, "routes", None) or request.app.routes
    path = request.scope.get("route_path") or request.url.path
    methods: set[str] = set()
    for route in routes:
        regex = getattr(route, "path_regex", None)
        if regex is not None and regex.match(path):
            methods |= set(getattr(route, "methods", None) or ())
    return sorted(methods)


# PostgreSQL ended the transaction because another one, at the same moment, needed
# what it held (a deadlock) or could not be ordered with it: nothing was changed, and
# the same request again will most likely succeed.
_RETRYABLE = {"40P01": "deadlock_detected", "40001": "serialization_failure"}


async def _database_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, DBAPIError)
    state = getattr(exc.orig, "sqlstate", None)
    if state not in _RETRYABLE:
        return await _unexpected(request, exc)
    log.warning("%s in %s %s: answered 409", _RETRYABLE[state], request.method, request.url.path)
    return error_response(
        request.scope,
        409,
        "this conflicted with another change made at the same moment, and nothing was "
        "changed: try again",
    )


async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    log.error("unhandled error in %s %s", request.method, request.url.path, exc_info=exc)
    return error_response(request.scope, 500, "internal error: the server logged the details")


def install(app: FastAPI) -> None:
    app.add_exception_handler(DomainError, _domain_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(HTTPException, _http_error)
    app.add_exception_handler(DBAPIError, _database_error)
    app.add_exception_handler(Exception, _unexpected)
