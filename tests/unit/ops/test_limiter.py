"""The one rate limiter: its Retry-After arithmetic, and its fallback without Redis."""

from __future__ import annotations

from limits import RateLimitItemPerMinute

from keyplane.ops.limiter import SharedLimiter


def test_retry_after_is_none_until_the_limit_then_whole_seconds() -> None:
    limiter = SharedLimiter()
    item = RateLimitItemPerMinute(2)
    for _ in range(2):
        assert limiter.retry_after(item, "login-failure", "a@example.com") is None
        limiter.hit(item, "login-failure", "a@example.com")
    retry = limiter.retry_after(item, "login-failure", "a@example.com")
    assert retry is not None and 1 <= retry <= 61
    assert limiter.retry_after(item, "login-failure", "b@example.com") is None


def test_with_redis_unreachable_it_counts_in_this_process() -> None:
    limiter = SharedLimiter("redis://127.0.0.1:1/0")  # nobody listens there
    try:
        item = RateLimitItemPerMinute(1)
        assert limiter.retry_after(item, "k") is None
        limiter.hit(item, "k")
        assert limiter.retry_after(item, "k") is not None
        assert (limiter.status or "").startswith("degraded")
    finally:
        limiter.close()
