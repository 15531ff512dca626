"""Rate limits on failed password logins, per account and per client IP.

With ``KEYPLANE_REDIS_URL`` set the counters live in Redis, so that an attack spread
over several replicas is counted once; otherwise in this process.
"""

from __future__ import annotations

import time

from limits import RateLimitItem, RateLimitItemPerMinute
from limits.storage import MemoryStorage, Storage, storage_from_string
from limits.strategies import MovingWindowRateLimiter

from keyplane.config import Settings
from keyplane.domain.errors import TooManyRequests

WINDOW_MINUTES = 15


class LoginGuard:
    def __init__(self, per_account: int, per_ip: int, storage: Storage | None = None) -> None:
        self._limiter = MovingWindowRateLimiter(storage or MemoryStorage())
        self._account: RateLimitItem = RateLimitItemPerMinute(per_account, WINDOW_MINUTES)
        self._ip: RateLimitItem = RateLimitItemPerMinute(per_ip, WINDOW_MINUTES)

    @classmethod
    def from_settings(cls, settings: Settings) -> LoginGuard:
        storage = storage_from_string(settings.redis_url) if settings.redis_url else None
        assert storage is None or isinstance(storage, Storage)
        return cls(settings.login_failures_per_account, settings.login_failures_per_ip, storage)

    def check(self, email: str, client_ip: str) -> None:
        """Raise TooManyRequests while the account or the address has too many failures.

        The message is the same whether or not the account exists.
        """
        for item, key in ((self._account, email.lower()), (self._ip, client_ip)):
            if not self._limiter.test(item, "login-failure", key):
                reset, _ = self._limiter.get_window_stats(item, "login-failure", key)
                retry = max(1, int(reset - time.time()) + 1)
                raise TooManyRequests(
                    f"too many failed sign-in attempts: try again in {retry} seconds",
                    retry_after=retry,
                )

    def failed(self, email: str, client_ip: str) -> None:
        self._limiter.hit(self._account, "login-failure", email.lower())
        self._limiter.hit(self._ip, "login-failure", client_ip)
