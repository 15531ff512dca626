"""Answers to authenticated reads, kept per process and dropped on every change.

CI jobs poll the same reads (``/v1/self``, a deployment listing) with the same
token, and the answer is the same bytes until something changes: the caller's
credential or roles, or an organization, workspace or deployment. A read route
marked :func:`cacheable` keeps its ``200`` answers here, keyed by the caller's
cached principal, the path and the query string; the next identical request is
answered before routing, parameter parsing and the database.

Correctness rests on the credential cache's rules: every answer is dropped whenever
the credential cache is (any committed change to credentials, roles or the directory,
on any replica, see ``keyplane.http.runtime``), and lives at most as long as a cached
credential. A principal is a new object after every such change and keys hold the
object itself, so an answer can never be served to grants other than those it was
computed for. Anything unusual (no cached principal, a lastUsedAt write due, an
expired token, a JWT) goes the ordinary way, which also records it.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any, TypeVar

from fastapi.routing import APIRoute
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from keyplane.auth.principal import Principal
from keyplane.http.headers import bearer, header
from keyplane.http.responses import SharedResponse
from keyplane.http.routing import unnamed
from keyplane.ops import metrics

if TYPE_CHECKING:
    from keyplane.http.runtime import Runtime

# Answers, and bytes of answers, kept per process at most; beyond either, the cache
# starts again empty. Larger answers (a page of 1,000 deployments) are not kept.
ANSWER_LIMIT = 20_000
BYTES_LIMIT = 64 * 1024 * 1024
LARGEST_KEPT = 256 * 1024
_CACHEABLE = "__keyplane_cacheable__"
F = TypeVar("F", bound=Callable[..., Any])


def cacheable(endpoint: F) -> F:
    """Mark a GET route whose answer depends only on the caller and the directory.

    Put it under ``@router.get``. Only for reads of organizations, workspaces,
    deployments and the caller's own credential: anything else a route shows would
    not be covered by the invalidation.
    """
    setattr(endpoint, _CACHEABLE, True)
    return endpoint


_Key = tuple[int, str, bytes]


class AnswerCache:
    def __init__(self, ttl_seconds: float) -> None:
        self.ttl = ttl_seconds  # follows the credential cache's (see Runtime)
        self._entries: dict[_Key, tuple[Principal, float, SharedResponse]] = {}
        self._bytes = 0
        # Bumped by every invalidation: an answer computed across one is not kept.
        self.generation = 0

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, principal: Principal, path: str, query: bytes) -> SharedResponse | None:
        entry = self._entries.get((id(principal), path, query))
        if entry is None or entry[0] is not principal or time.monotonic() - entry[1] > self.ttl:
            return None
        return entry[2]

    def put(
        self, principal: Principal, path: str, query: bytes, generation: int, answer: SharedResponse
    ) -> None:
        size = len(answer.body)
        if generation != self.generation or size > LARGEST_KEPT:
            return
        if len(self._entries) >= ANSWER_LIMIT or self._bytes + size > BYTES_LIMIT:
            self._entries.clear()
            self._bytes = 0
        key = (id(principal), path, query)
        self._entries[key] = (principal, time.monotonic(), answer)
        self._bytes += size
        if generation != self.generation:  # an invalidation ran between check and store
            self._entries.pop(key, None)

    def invalidate(self) -> None:
        """Forget every answer. Called from request and notifier threads: each step is
        atomic, and an answer computed meanwhile is refused by its generation (the byte
        count may drift by that answer until the next start; it only bounds memory)."""
        self.generation += 1
        self._entries.clear()
        self._bytes = 0


class AnswerCacheMiddleware:
    """Answers a cacheable read from the cache, or keeps the app's ``200`` answer.

    Innermost but for the router: request ids, metrics, audit and deprecation headers
    apply to cached answers as to any other (it sets ``scope["route"]`` and the
    principal in the request state, as routing and authentication would).
    """

    def __init__(self, app: ASGIApp, runtime: Runtime, routes: Iterable[Any]) -> None:
        self.app = app
        self.runtime = runtime
        marked = [
            route
            for route in routes
            if isinstance(route, APIRoute) and getattr(route.endpoint, _CACHEABLE, False)
        ]
        # Each route is one capturing group of the union, its own groups made plain
        # capturing ones; the group that closes last in a match is the route's.
        self._paths = re.compile("|".join(f"({unnamed(r.path_regex, '(')})" for r in marked))
        self._by_group = dict(zip(_outer_groups(marked), marked, strict=True))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        route = self._route(scope)
        if route is None:
            await self.app(scope, receive, send)
            return
        value = header(scope, b"authorization")
        authorization = bearer(value) if value else None
        principal = self._cached(authorization)
        path, query = scope["path"], scope["query_string"]
        answers = self.runtime.answers
        if principal is not None:
            found = answers.get(principal, path, query)
            if found is not None:
                metrics.CACHE_HITS.inc()
                scope["route"] = route
                scope.setdefault("state", {})["principal"] = principal
                await found(scope, receive, send)
                return
        generation = answers.generation
        held: list[Message] = []

        async def keep(message: Message) -> None:
            held.append(message)
            if message["type"] == "http.response.body" and not message.get("more_body"):
                start, body = held[0], b"".join(m.get("body", b"") for m in held[1:])
                caller = scope.get("state", {}).get("principal")
                # Only for a principal from the credential cache (not a JWT's, made anew
                # for each request): the only kind a later request can find again.
                cached = self._cached(authorization)
                if start["status"] == 200 and cached is not None and caller is cached:
                    answer = SharedResponse(body)
                    answer.raw_headers = list(start.get("headers", []))
                    answers.put(cached, path, query, generation, answer)
            await send(message)

        await self.app(scope, receive, keep)

    def _cached(self, authorization: str | None) -> Principal | None:
        return self.runtime.authenticator.peek(authorization) if authorization else None

    def _route(self, scope: Scope) -> APIRoute | None:
        if scope["type"] != "http" or scope["method"] != "GET" or not self._by_group:
            return None
        if scope.get("root_path"):
            return None  # paths are matched as the router would only without a root path
        found = self._paths.fullmatch(scope["path"])
        if found is None or found.lastindex is None:
            return None
        return self._by_group[found.lastindex]


def _outer_groups(routes: list[APIRoute]) -> list[int]:
    groups, number = [], 1
    for route in routes:
        groups.append(number)
        number += 1 + route.path_regex.groups
    return groups
