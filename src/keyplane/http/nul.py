"""Refuses the NUL character in any string a request carries, before a route sees it.

PostgreSQL cannot store NUL in text (the driver raises, the request would answer 500),
and no name, id or filter needs one. One check here, on the path, the query string and
JSON or form bodies, covers every route and field alike, including ids looked up in
the database and filters compared there.
"""

from __future__ import annotations

import contextlib
import json
from typing import Any

from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from keyplane.http.errors import error_response
from keyplane.http.headers import header
from keyplane.http.responses import NO_STORE

# The bodies that a route's parser turns into strings, as FastAPI and Starlette tell
# them: JSON (no content type at all, application/json, application/*+json), forms.
JSON, FORM, MULTIPART = "json", "form", "multipart"


def _body_kind(content_type: bytes) -> str | None:
    media = content_type.split(b";", 1)[0].strip().lower()
    if not media or media == b"application/json":
        return JSON
    if media.startswith(b"application/") and media.endswith(b"+json"):
        return JSON
    if media == b"application/x-www-form-urlencoded":
        return FORM
    if media == b"multipart/form-data":
        return MULTIPART
    return None  # bytes a route reads as bytes (a deploy bundle): NUL is data there


class NulRefusalMiddleware:
    def __init__(self, app: ASGIApp, largest_parsed: int) -> None:
        self.app = app
        # No route parses a larger body (the body limit refuses one; the upload routes
        # it exempts read bytes): past it, the body is passed on without being kept.
        self.largest_parsed = largest_parsed

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        where = _in_url(scope)
        if where:
            await _refuse(scope, receive, send, where)
            return
        kind = _body_kind(header(scope, b"content-type") or b"")
        if kind is None:
            await self.app(scope, receive, send)
            return
        chunks: list[bytes] = []
        kept: int | None = 0  # bytes in chunks; None once past largest_parsed
        refused = False
        started = False

        async def checked() -> Message:
            nonlocal refused, kept
            message = await receive()
            if message["type"] != "http.request" or kept is None:
                return message
            chunk = message.get("body", b"")
            kept += len(chunk)
            if kept > self.largest_parsed:
                chunks.clear()
                kept = None  # bytes for an upload: not kept
                return message
            chunks.append(chunk)
            if not message.get("more_body", False) and _has_nul(b"".join(chunks), kind):
                refused = True
                raise _Refused
            return message

        async def guarded(message: Message) -> None:
            nonlocal started
            if refused and not started:
                return  # a body parser's own answer to _Refused: replaced by the 400
            started = True
            await send(message)

        with contextlib.suppress(_Refused):
            await self.app(scope, checked, guarded)
        if refused and not started:
            await _refuse(scope, receive, send, "the request body")


def _in_url(scope: Scope) -> str:
    if "\x00" in scope["path"]:
        return "the path"
    query: bytes = scope.get("query_string", b"")
    if b"%00" in query or b"\x00" in query:
        return "the query string"
    return ""


def _has_nul(body: bytes, kind: str) -> bool:
    if kind != JSON:
        return b"\x00" in body or (kind == FORM and b"%00" in body)
    # JSON cannot hold a raw NUL (the parser refuses it; and a body with no content
    # type may be bytes a route reads as they are): only the escape counts.
    if b"\\u0000" not in body:
        return False
    try:  # the escape may be text (a backslash then "u0000"): look at the parsed strings
        return _any_nul(json.loads(body))
    except ValueError:
        return False  # malformed JSON: the route's parser answers it


def _any_nul(value: Any) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(_any_nul(key) or _any_nul(item) for key, item in value.items())
    if isinstance(value, list):
        return any(_any_nul(item) for item in value)
    return False


async def _refuse(scope: Scope, receive: Receive, send: Send, where: str) -> None:
    message = f"invalid request: {where} holds a NUL character (\\u0000), which is never accepted"
    if scope["path"].startswith("/oauth/"):  # the OAuth endpoints answer in RFC 6749's words
        body = {"error": "invalid_request", "error_description": message}
        await JSONResponse(body, 400, NO_STORE)(scope, receive, send)
        return
    await error_response(scope, 400, message)(scope, receive, send)


class _Refused(Exception):
    pass
