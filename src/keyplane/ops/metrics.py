"""Prometheus metrics: what they are, the ASGI middleware that counts requests, /metrics.

With several worker processes (``keyplane server --workers N``) a scrape reaches one
worker at random, so per-worker registries would each show a slice. The server then
runs prometheus-client's multiprocess mode (``PROMETHEUS_MULTIPROC_DIR``, set by
``keyplane server``): every worker writes to memory-mapped files and ``/metrics``
sums them, so one scrape of any worker shows the whole server.
"""

from __future__ import annotations

import logging
import os
import time
from typing import Any

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)
from prometheus_client import REGISTRY as DEFAULT_REGISTRY
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from keyplane.domain.credentials import recorded_path

REQUESTS = Counter(
    "keyplane_http_requests_total",
    "HTTP requests by method, route template and status code.",
    ["method", "route", "status"],
)
LATENCY = Histogram(
    "keyplane_http_request_duration_seconds",
    "Time from request to the end of the response, by route template "
    "(the token endpoint is route=/oauth/token).",
    ["route"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0),
)
AUTH_FAILURES = Counter(
    "keyplane_auth_failures_total",
    "Refused credentials by reason (missing, malformed, unknown, expired, rate_limited, ...).",
    ["reason"],
)
CACHE_LOOKUPS = Counter(
    "keyplane_auth_cache_lookups_total",
    "Credential cache lookups; hit rate = hit / (hit + miss).",
    ["result"],
)
CACHE_HITS = CACHE_LOOKUPS.labels(result="hit")
CACHE_MISSES = CACHE_LOOKUPS.labels(result="miss")
INVALIDATIONS = Counter(
    "keyplane_auth_cache_invalidations_total",
    "Credential cache flushes: local (this process committed a change), "
    "notification (another replica or this one announced one), reconnect.",
    ["source"],
)
INVALIDATION_LAG = Histogram(
    "keyplane_cache_invalidation_lag_seconds",
    "From publishing a credential change to a replica receiving it.",
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0),
)
NOTIFIER_LIVE = Gauge(
    "keyplane_cache_notifier_live",
    "1 while the cache-invalidation listener is connected (min over workers).",
    multiprocess_mode="livemin",
)
SHARED_LIMITS = Gauge(
    "keyplane_rate_limits_shared",
    "1 while rate limits are counted in Redis, 0 while local (min over workers).",
    multiprocess_mode="livemin",
)

UNMATCHED = "<unmatched>"
# (method, route, status) → its counter and histogram children: labels() takes a lock
# and builds a key on every call; routes and statuses are few, so keep them.
_children: dict[tuple[str, str, int], tuple[Any, Any]] = {}
# Any other method a client invents is counted as OTHER, so labels stay bounded.
_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
access_log = logging.getLogger("keyplane.access")


class MetricsMiddleware:
    """Counts every HTTP request by route template and status, times it, and logs it.

    Pure ASGI: one wrapped ``send``, two clock reads and two metric updates per request,
    plus one access-log line when ``log_requests`` (never the query string, which can
    carry codes).
    """

    def __init__(self, app: ASGIApp, log_requests: bool = False) -> None:
        self.app = app
        self.log_requests = log_requests

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status = 500

        async def send_and_note(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_and_note)
        finally:
            route = route_of(scope)
            elapsed = time.perf_counter() - start
            method = scope["method"] if scope["method"] in _METHODS else "OTHER"
            key = (method, route, status)
            children = _children.get(key)
            if children is None:
                children = _children[key] = (
                    REQUESTS.labels(method, route, str(status)),
                    LATENCY.labels(route),
                )
            children[0].inc()
            children[1].observe(elapsed)
            if self.log_requests:
                _log_request(scope, route, status, elapsed)


def _log_request(scope: Scope, route: str, status: int, elapsed: float) -> None:
    client = scope.get("client")
    path = recorded_path(scope["path"])  # a token value pasted in place of its id, say
    access_log.info(
        "%s %s %d",
        scope["method"],
        path,
        status,
        extra={
            "method": scope["method"],
            "path": path,
            "route": route,
            "status": status,
            "durationMs": round(elapsed * 1000, 2),
            "client": client[0] if client else None,
        },
    )


def route_of(scope: Scope) -> str:
    """The matched route's template (``/v1/organizations/{orgId}``), never the raw path."""
    route = scope.get("route")
    path = getattr(route, "path_format", None) or getattr(route, "path", None)
    return str(path) if path else UNMATCHED


def metrics_endpoint(_request: Request) -> Response:
    """``GET /metrics`` in the Prometheus text format (all workers in multiprocess mode)."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
    else:
        registry = DEFAULT_REGISTRY
    return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)


def worker_exited(pid: int) -> None:
    """Drop a stopped worker's live gauges (multiprocess mode)."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        multiprocess.mark_process_dead(pid)  # type: ignore[no-untyped-call]
