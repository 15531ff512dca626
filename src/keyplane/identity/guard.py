"""Rate limits on failed password logins: per account from one client IP, per account
from all of them (a higher bound), and per client IP.

Counting an account's failures per address first means that a stranger who types
wrong passwords for someone's email locks out only their own address; the person
signs in from theirs. The bound over all addresses still stops a guess spread over
many (at the cost that such an attack also holds the person back, as any lockout
must).

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
    def __init__(
        self, limiter: SharedLimiter, per_account: int, per_ip: int, per_account_anywhere: int
    ) -> None:
        self._limiter = limiter
        self._account_here = RateLimitItemPerMinute(per_account, WINDOW_MINUTES)
        self._account = RateLimitItemPerMinute(per_account_anywhere, WINDOW_MINUTES)
        self._ip: RateLimitItem = RateLimitItemPerMinute(per_ip, WINDOW_MINUTES)

    def _counters(self, email: str, client_ip: str) -> list[tuple[RateLimitItem, str]]:
        account = email.lower()
        return [
            (self._account_here, f"{account} {client_ip}"),
            (self._account, account),
            (self._ip, client_ip),
        ]

    def check(self, email: str, client_ip: str) -> None:
        """Raise TooManyRequests while the account (from here or from anywhere) or the
        address has too many failures.

        The message is the same whether or not the account exists.
        """
        for item, key in self._counters(email, client_ip):
            retry = self._limiter.retry_after(item, "login-failure", key)
            if retry is not None:
                raise TooManyRequests(
                    f"too many failed sign-in attempts: try again in {retry} seconds",
                    retry_after=retry,
                )

    def failed(self, email: str, client_ip: str) -> None:
        for item, key in self._counters(email, client_ip):
            self._limiter.hit(item, "login-failure", key)
