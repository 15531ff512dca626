"""Readiness checks for the scale-out parts: Redis (rate limits) and the notifier."""

from __future__ import annotations

from keyplane.ops.limiter import SharedLimiter
from keyplane.ops.notifier import Notifier


def scale_checks(
    limiter: SharedLimiter, notifier: Notifier | None, cache_ttl: float
) -> dict[str, str]:
    """``redis`` and ``cacheInvalidation`` entries for /readyz, when configured.

    Both are "degraded", never failing: without Redis the limits are per process,
    without the listener cached credentials expire after the short TTL.
    """
    checks: dict[str, str] = {}
    redis_status = limiter.check()
    if redis_status is not None:
        checks["redis"] = redis_status
    if notifier is not None:
        checks["cacheInvalidation"] = (
            f"ok ({notifier.kind})"
            if notifier.live
            else f"degraded: {notifier.kind} listener not connected; cached credentials "
            f"expire after {cache_ttl:g} s"
        )
    return checks
