"""Answers to authenticated reads, kept per process and dropped on every change.

CI jobs poll the same reads (``/v1/self``, a deployment listing) with the same
token, and the answer is the same bytes until something changes: the caller's
credential or roles, or an organization, workspace or deployment. A read route
marked :func:`cacheable` keeps its ``200`` answers here, keyed by the caller's
cached principal, the path and the query string; the next identical request is
answered before routing, parameter parsing and the database.

Correctness rests on the credential cache's rules: every answer is dropped whenever
the credential cache is (any committed change to credentials, roles or the directory,
on any replica, see ``keyplane.runtime``), and lives at most as long as a cached
credential. A principal is a new object after every such change and keys hold the
object itself, so an answer can never be served to grants other than those it was
computed for. Anything unusual (no cached principal, a lastUsedAt write due, an
expired token, an address outside its allowedIpRanges, a JWT) goes the ordinary
way, which also records it or refuses it.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from typing import Any, TypeVar

from fastapi.routing import APIRoute
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from keyplane.auth.principal import Principal
from keyplane.http.headers import bearer, header, scope_client_ip
from keyplane.http.process import Process
from keyplane.http.responses import SharedResponse
from keyplane.http.routing import unnamed
from keyplane.ops import metrics

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


class AnswerCacheMiddleware:
    """Answers a cacheable read from the cache, or keeps the app's ``200`` answer.

    Innermost but for the router: request ids, metrics, audit and deprecation headers
    apply to cached answers as to any other (it sets ``scope["route"]`` and the
    principal in the request state, as routing and authentication would).
    """

    def __init__(self, app: ASGIApp, runtime: Process, routes: Iterable[Any]) -> None:
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
        address = scope_client_ip(scope)
        principal = self._cached(authorization, address)
        path, query = scope["path"], scope["query_string"]
        answers = self.runtime.answers
        if principal is not None:
            found = answers.answer(principal, path, query)
            if found is not None:
                metrics.CACHE_HITS.inc()
                scope["route"] = route
                scope.setdefault("state", {})["principal"] = principal
                await found(scope, receive, send)
                return
        ticket = answers.ticket()
        held: list[Message] = []

        async def keep(message: Message) -> None:
            held.append(message)
            if message["type"] == "http.response.body" and not message.get("more_body"):
                start, body = held[0], b"".join(m.get("body", b"") for m in held[1:])
                caller = scope.get("state", {}).get("principal")
                # Only for a principal from the credential cache (not a JWT's, made anew
                # for each request): the only kind a later request can find again.
                cached = self._cached(authorization, address)
                if start["status"] == 200 and cached is not None and caller is cached:
                    answer = SharedResponse(body)
                    answer.raw_headers = list(start.get("headers", []))
                    answers.keep(cached, path, query, ticket, answer)
            await send(message)

        await self.app(scope, receive, keep)

    def _cached(self, authorization: str | None, address: str) -> Principal | None:
        authenticator = self.runtime.authenticator
        return authenticator.peek(authorization, address) if authorization else None

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
