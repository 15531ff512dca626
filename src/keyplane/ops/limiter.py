"""Rate limits shared through Redis, with local limits while Redis is away.

Every limit (failed credential checks, logins, the token endpoint) goes through one
:class:`SharedLimiter`. With ``KEYPLANE_REDIS_URL`` the moving windows live in Redis,
so an attempt spread over replicas is counted once. When Redis fails, the limiter
switches to in-process windows at once (serving never depends on Redis), logs that
once, reports it in ``/readyz``, and a background thread switches back when Redis
answers again.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

from limits import RateLimitItem
from limits.storage import MemoryStorage, RedisStorage
from limits.strategies import MovingWindowRateLimiter
from limits.util import WindowStats

from keyplane.ops import metrics

log = logging.getLogger(__name__)

_RETRY_SECONDS = 1.0


class SharedLimiter:
    """``hit``/``test``/``get_window_stats`` as in ``limits``, on Redis or in memory."""

    def __init__(self, redis_url: str | None = None) -> None:
        self._local = MovingWindowRateLimiter(MemoryStorage())
        self._redis_storage: RedisStorage | None = None
        self._shared: MovingWindowRateLimiter | None = None
        self._failure: str | None = None
        self._lock = threading.Lock()
        self._stop = threading.Event()
        if redis_url:
            self._redis_storage = RedisStorage(
                redis_url, socket_connect_timeout=0.25, socket_timeout=0.25
            )
            self._shared = MovingWindowRateLimiter(self._redis_storage)
        metrics.SHARED_LIMITS.set(1 if redis_url else 0)

    @property
    def status(self) -> str | None:
        """None without Redis; "ok"; or "degraded: …" while limits are local."""
        if self._shared is None:
            return None
        if self._failure:
            return f"degraded: rate limits are per process until Redis is back ({self._failure})"
        return "ok"

    def check(self) -> str | None:
        """Ask Redis now (for /readyz) and return :attr:`status`."""
        if self._redis_storage is not None and self._failure is None:
            try:
                if not self._redis_storage.check():
                    self._degrade("no answer to PING")
            except Exception as error:  # limits wraps driver errors in its own types
                self._degrade(type(error).__name__)
        return self.status

    def hit(self, item: RateLimitItem, *identifiers: str) -> bool:
        return bool(self._call("hit", item, *identifiers))

    def test(self, item: RateLimitItem, *identifiers: str) -> bool:
        return bool(self._call("test", item, *identifiers))

    def get_window_stats(self, item: RateLimitItem, *identifiers: str) -> WindowStats:
        stats: WindowStats = self._call("get_window_stats", item, *identifiers)
        return stats

    def retry_after(self, item: RateLimitItem, *identifiers: str) -> int | None:
        """None while ``item`` allows one more hit for ``identifiers``; else the whole
        seconds (at least 1) until its moving window does, for a Retry-After header."""
        if self.test(item, *identifiers):
            return None
        reset, _ = self.get_window_stats(item, *identifiers)
        return max(1, int(reset - time.time()) + 1)

    def close(self) -> None:
        self._stop.set()

    def _call(self, method: str, item: RateLimitItem, *identifiers: str) -> Any:
        if self._shared is not None and self._failure is None:
            try:
                return getattr(self._shared, method)(item, *identifiers)
            except Exception as error:  # Redis away: count locally from now on
                self._degrade(type(error).__name__)
        return getattr(self._local, method)(item, *identifiers)

    def _degrade(self, reason: str) -> None:
        with self._lock:
            if self._failure is not None:
                return
            self._failure = reason
        metrics.SHARED_LIMITS.set(0)
        log.warning(
            "Redis is unavailable (%s): rate limits are counted per process until it is back",
            reason,
        )
        threading.Thread(target=self._wait_for_redis, name="redis-limits", daemon=True).start()

    def _answers(self) -> bool:
        assert self._redis_storage is not None
        try:
            return bool(self._redis_storage.check())
        except Exception:  # still away
            return False

    def _wait_for_redis(self) -> None:
        assert self._redis_storage is not None
        while not self._stop.wait(_RETRY_SECONDS):
            if self._answers():
                break
        else:
            return
        with self._lock:
            self._failure = None
        metrics.SHARED_LIMITS.set(1)
        log.warning("Redis is back: rate limits are shared across replicas again")
