"""An APIRouter that a request for none of its paths costs one regular expression.

FastAPI matches a request against every route of every included router in turn, at
about a microsecond a route, and then once more inside the router that matched; with
~90 routes a request for the last of them spent over 100 µs just being routed. Each
router here compiles its routes' paths into one expression and answers "no match"
from it alone, so a request pays that for the routers before its own, and the full
per-route check only inside its own router.
"""

from __future__ import annotations

import re

from fastapi import APIRouter as FastAPIRouter
from starlette._utils import get_route_path  # what every route matches the path by
from starlette.routing import BaseRoute, Match
from starlette.types import Scope

_GROUP_NAME = re.compile(r"\(\?P<[^>]+>")


class APIRouter(FastAPIRouter):
    _paths: re.Pattern[str] | None = None
    _paths_of: int = -1  # len(self.routes) when _paths was compiled

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
