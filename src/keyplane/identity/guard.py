"""Rate limits on failed password logins, per account and per client IP.

The counters are the runtime's one :class:`~keyplane.ops.limiter.SharedLimiter`: in
Redis with ``KEYPLANE_REDIS_URL`` (an attack spread over replicas is counted once),
per process without it, and per process too while Redis is away (sign-in goes on,
``/readyz`` says the limits are degraded).
"""

from __future__ import annotations

from limits import RateLimitItem, RateLimitItemPerMinute

from keyplane.domain.errors import TooManyRequests
from keyplane.ops.limiter import SharedLimiter

WINDOW_MINUTES = 15


class LoginGuard:
    def __init__(self, limiter: SharedLimiter, per_account: int, per_ip: int) -> None:
        self._limiter = limiter
        self._account: RateLimitItem = RateLimitItemPerMinute(per_account, WINDOW_MINUTES)
        self._ip: RateLimitItem = RateLimitItemPerMinute(per_ip, WINDOW_MINUTES)

    def check(self, email: str, client_ip: str) -> None:
        """Raise TooManyRequests while the account or the address has too many failures.

        The message is the same whether or not the account exists.
        """
        for item, key in ((self._account, email.lower()), (self._ip, client_ip)):
            retry = self._limiter.retry_after(item, "login-failure", key)
            if retry is not None:
                raise TooManyRequests(
                    f"too many failed sign-in attempts: try again in {retry} seconds",
                    retry_after=retry,
                )

    def failed(self, email: str, client_ip: str) -> None:
        self._limiter.hit(self._account, "login-failure", email.lower())
        self._limiter.hit(self._ip, "login-failure", client_ip)
