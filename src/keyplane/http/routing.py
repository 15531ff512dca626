"""An APIRouter that a request for none of its paths costs one regular expression.

FastAPI matches a request against every route of every included router in turn, at
about a microsecond a route, and then once more inside the router that matched; with
~90 routes a request for the last of them spent over 100 µs just being routed. Each
router here compiles its routes' paths into one expression and answers "no match"
from it alone, so a request pays that for the routers before its own, and the full
per-route check only inside its own router.
"""

from __future__ import annotations

import functools
import inspect
import re
from collections.abc import Callable
from typing import Any

from fastapi import APIRouter as FastAPIRouter
from sqlalchemy.orm import Session
from starlette._utils import get_route_path  # what every route matches the path by
from starlette.concurrency import run_in_threadpool
from starlette.routing import BaseRoute, Match
from starlette.types import Scope

from keyplane.db import unit

_GROUP_NAME = re.compile(r"\(\?P<[^>]+>")


class APIRouter(FastAPIRouter):
    _paths: re.Pattern[str] | None = None
    _paths_of: int = -1  # len(self.routes) when _paths was compiled

    def add_api_route(self, path: str, endpoint: Callable[..., Any], **kwargs: Any) -> None:
        super().add_api_route(path, in_one_hop(endpoint), **kwargs)

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        if scope["type"] == "http":
            paths = self._any_path()
            if paths is not None and paths.match(get_route_path(scope)) is None:
                return Match.NONE, {}
        return super().matches(scope)

    def _any_path(self) -> re.Pattern[str] | None:
        """One expression matching exactly the paths some route here would match."""
        if self._paths_of != len(self.routes):
            self._paths, self._paths_of = _union(self.routes), len(self.routes)
        return self._paths


def _union(routes: list[BaseRoute]) -> re.Pattern[str] | None:
    patterns = []
    for route in routes:
        regex: re.Pattern[str] | None = getattr(route, "path_regex", None)
        if regex is None:
            return None  # a mount or a nested router: always check it route by route
        patterns.append(unnamed(regex))
    return re.compile("|".join(f"(?:{p})" for p in patterns)) if patterns else None


def unnamed(regex: re.Pattern[str], group: str = "(?:") -> str:
    """A route's path pattern with its named groups turned into ``group`` (by default
    non-capturing), so that patterns sharing names (orgId…) can be joined in one."""
    return _GROUP_NAME.sub(group, regex.pattern)


def in_one_hop(endpoint: Callable[..., Any]) -> Callable[..., Any]:
    """A plain-``def`` endpoint as a coroutine that runs it, and commits its unit of
    work, in one trip to the thread pool.

    FastAPI would run the endpoint in the pool, then validate its answer there, and the
    session dependency would commit there a third time: each trip is a thread handoff
    and a wait for the GIL, which cost more than the rest of an uncached read. FastAPI
    reads the signature through ``functools.wraps``, so parameters and dependencies
    are the endpoint's own.
    """
    if inspect.iscoroutinefunction(endpoint):
        return endpoint

    @functools.wraps(endpoint)
    async def run(*args: Any, **kwargs: Any) -> Any:
        return await run_in_threadpool(_run_and_commit, endpoint, args, kwargs)

    return run


def _run_and_commit(endpoint: Callable[..., Any], args: Any, kwargs: dict[str, Any]) -> Any:
    result = endpoint(*args, **kwargs)
    for value in kwargs.values():
        if isinstance(value, Session):
            unit.commit(value)  # the session dependency then only closes it
    return result
