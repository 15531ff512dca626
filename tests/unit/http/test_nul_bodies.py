"""The NUL guard keeps a body only as large as a route may parse."""

from __future__ import annotations

import asyncio
import tracemalloc
from typing import Any

from keyplane.http.nul import NulRefusalMiddleware

ESCAPED = b'{"name": "a\\u0000b"}'


def run(body_chunks: list[bytes], largest: int) -> tuple[int, int]:
    """(status sent, bytes the app read) for a body with no content type."""
    read = 0

    async def app(scope: Any, receive: Any, send: Any) -> None:
        nonlocal read
        while True:
            message = await receive()
            read += len(message.get("body", b""))
            if not message.get("more_body"):
                break
        await send({"type": "http.response.start", "status": 204, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    messages = [
        {"type": "http.request", "body": c, "more_body": i < len(body_chunks) - 1}
        for i, c in enumerate(body_chunks)
    ]
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return messages.pop(0)

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {"type": "http", "path": "/v1/x", "query_string": b"", "headers": [], "method": "POST"}
    asyncio.run(NulRefusalMiddleware(app, largest_parsed=largest)(scope, receive, send))
    return sent[0]["status"], read


def test_a_json_body_with_the_escape_is_refused() -> None:
    assert run([ESCAPED], largest=1000)[0] == 400


def test_a_body_larger_than_any_parsed_one_passes_and_is_not_kept() -> None:
    chunk = b"\x00" * 1024 * 1024
    tracemalloc.start()
    status, read = run([ESCAPED, *[chunk] * 20], largest=1000)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert (status, read) == (204, len(ESCAPED) + 20 * len(chunk))
    assert peak < 5 * len(chunk)  # no copy of the whole body joined for a check
