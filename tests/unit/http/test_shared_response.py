"""A response rendered once is sent to many requests unchanged."""

from __future__ import annotations

import asyncio
from typing import Any

from keyplane.http.responses import SharedResponse


def _send_through_header_adding_middleware(response: SharedResponse) -> list[dict[str, Any]]:
    sent: list[dict[str, Any]] = []

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            message["headers"].append((b"x-added", b"1"))  # edits the list in place
        sent.append(message)

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b""}

    asyncio.run(response({"type": "http", "method": "GET"}, receive, send))
    return sent


def test_each_sending_gets_its_own_headers() -> None:
    response = SharedResponse(b'{"id":"x"}')
    first = _send_through_header_adding_middleware(response)
    second = _send_through_header_adding_middleware(response)
    assert first[0]["headers"].count((b"x-added", b"1")) == 1
    assert second[0]["headers"].count((b"x-added", b"1")) == 1
    assert (b"content-type", b"application/json") in second[0]["headers"]
    assert second[1] == {"type": "http.response.body", "body": b'{"id":"x"}'}
