"""Responses rendered once and sent many times, and the headers of answers that no
cache may keep."""

from __future__ import annotations

from starlette.responses import Response
from starlette.types import Receive, Scope, Send

# An answer that holds or refuses a credential (RFC 6749 §5.1): the OAuth endpoints'
# every answer, and the NUL guard's refusal in their words.
NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}


class SharedResponse(Response):
    """A JSON answer built once (for a cached principal, say) and returned to any number
    of requests. Each sending gets its own header list, so a middleware that adds a
    header cannot change what the next request receives; there are no background tasks.
    """

    media_type = "application/json"

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await send(
            {
                "type": "http.response.start",
                "status": self.status_code,
                "headers": list(self.raw_headers),
            }
        )
        await send({"type": "http.response.body", "body": self.body})
