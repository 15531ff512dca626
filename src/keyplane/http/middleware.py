"""Pure ASGI middleware (no per-request task switching): request ids, body limits, and
reading an unread body before an early answer."""

from __future__ import annotations

import contextlib
import re
import secrets

import anyio
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from keyplane.http.errors import error_response
from keyplane.http.headers import header
from keyplane.ops.logs import request_id_var

_SAFE_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")


class RequestIdMiddleware:
    """Gives every request an id (or keeps a sane incoming X-Request-Id) and echoes it."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        incoming = (header(scope, b"x-request-id") or b"").decode("latin-1")
        request_id = incoming if _SAFE_ID.match(incoming) else secrets.token_hex(8)
        scope.setdefault("state", {})["request_id"] = request_id
        request_id_var.set(request_id)
        echoed = (b"x-request-id", request_id.encode())

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                # Error responses carry the id already: send it once, not twice.
                kept = [h for h in message.get("headers", []) if h[0].lower() != b"x-request-id"]
                message["headers"] = [*kept, echoed]
            await send(message)

        await self.app(scope, receive, send_with_id)


class BodyLimitMiddleware:
    """Refuses request bodies over a size with 413, whether declared or streamed.

    Routes that take large uploads (listed in ``exempt_prefixes``, or whose path matches
    ``exempt_pattern``) enforce their own.
    """

    def __init__(
        self,
        app: ASGIApp,
        max_bytes: int,
        exempt_prefixes: tuple[str, ...] = (),
        exempt_pattern: re.Pattern[str] | None = None,
    ) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.exempt = exempt_prefixes
        self.exempt_pattern = exempt_pattern

    def _exempt(self, path: str) -> bool:
        if self.exempt and path.startswith(self.exempt):
            return True
        return bool(self.exempt_pattern and self.exempt_pattern.fullmatch(path))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or self._exempt(scope["path"]):
            await self.app(scope, receive, send)
            return
        declared = header(scope, b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            await self._refuse(scope, receive, send)
            return
        seen = 0
        too_large = False
        started = False

        async def counted() -> Message:
            nonlocal seen, too_large
            if too_large:
                return {"type": "http.disconnect"}
            message = await receive()
            seen += len(message.get("body", b""))
            if seen > self.max_bytes:
                too_large = True
                raise _TooLarge
            return message

        async def guarded(message: Message) -> None:
            # Body parsers may catch _TooLarge and answer 400 themselves: once the
            # limit is crossed, their answer is replaced by the 413 below.
            nonlocal started
            if too_large and not started:
                return
            started = True
            await send(message)

        with contextlib.suppress(_TooLarge):
            await self.app(scope, counted, guarded)
        if too_large and not started:
            await self._refuse(scope, receive, send)

    async def _refuse(self, scope: Scope, receive: Receive, send: Send) -> None:
        response = error_response(
            scope, 413, f"request body too large: the limit is {self.max_bytes} bytes"
        )
        await response(scope, receive, send)


class _TooLarge(Exception):
    pass


# What an early answer reads of the body still on its way before it goes out.
LINGER_BYTES = 64 * 1024 * 1024
LINGER_SECONDS = 10.0


class LingerMiddleware:
    """Reads the rest of a request's body, and drops it, before an answer that comes
    before the body was read: a 401, 403 or 404 to an upload, or a 413 for its size.

    A server that answers and closes while the client is still sending makes the
    client's kernel reset the connection, and the reset can discard the answer before
    the client reads it (RFC 9112 §9.6): a CI job would see "connection reset" where
    the server said "bundle too large". So the answer waits until the client has sent
    everything, up to :data:`LINGER_BYTES` more or :data:`LINGER_SECONDS`, whichever
    comes first; past either, the connection is closed as before. Requests that declare
    no body pass through untouched.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not _has_body(scope):
            await self.app(scope, receive, send)
            return
        ended = False

        async def watched() -> Message:
            nonlocal ended
            message = await receive()
            if message["type"] == "http.disconnect" or not message.get("more_body"):
                ended = True
            return message

        async def answered(message: Message) -> None:
            nonlocal ended
            if message["type"] == "http.response.start" and not ended:
                ended = True
                await _drain(receive)
            await send(message)

        await self.app(scope, watched, answered)


def _has_body(scope: Scope) -> bool:
    declared = header(scope, b"content-length")
    if declared is not None:
        return declared not in (b"0", b"")
    return header(scope, b"transfer-encoding") is not None


async def _drain(receive: Receive) -> None:
    read = 0
    with anyio.move_on_after(LINGER_SECONDS):
        while read <= LINGER_BYTES:
            message = await receive()
            read += len(message.get("body", b""))
            if message["type"] == "http.disconnect" or not message.get("more_body"):
                return
