"""The device flow's limits (RFC 8628 §5.1): wrong user codes per person and per
address, and starts per address, counted by the shared limiter (in Redis when
configured, per process while it is away)."""

from __future__ import annotations

from dataclasses import dataclass

from limits import RateLimitItem, RateLimitItemPerMinute

from keyplane.domain.errors import TooManyRequests
from keyplane.oauth.errors import TemporarilyUnavailable
from keyplane.ops.limiter import SharedLimiter

# §5.1: a user code has only about 2^34 values, so wrong ones are limited. Ten per
# person per ten minutes (one code's lifetime) leaves room for typos and a code read
# off the wrong screen, and makes a guess of any live code hopeless: past it, every
# code that person types is refused, the right one too. Per address more, and only
# wrong codes are refused past it: an office or a VPN puts many people behind one
# address, and a few of them mistyping must not lock the others out (accounts are
# invited, so the per-person limit is what bounds a guesser).
WRONG_CODES_PER_USER: RateLimitItem = RateLimitItemPerMinute(10, 10)
WRONG_CODES_PER_IP: RateLimitItem = RateLimitItemPerMinute(50, 10)
WRONG_CODES = "device-user-code-failure"  # the limiter's namespace
# Every start is a row: thirty a minute per address is more than any person signing
# in needs, and bounds what an anonymous caller can make the server store.
STARTS_PER_IP: RateLimitItem = RateLimitItemPerMinute(30)


def count_start(limiter: SharedLimiter, client_ip: str) -> None:
    retry = limiter.retry_after(STARTS_PER_IP, "device-start", client_ip)
    if retry is not None:
        raise TemporarilyUnavailable(
            f"too many device sign-ins started from this address: try again in {retry} seconds",
            retry_after=retry,
        )
    limiter.hit(STARTS_PER_IP, "device-start", client_ip)


@dataclass(frozen=True)
class Approver:
    """The signed-in person who types a user code, from where, and the limiter that
    counts their wrong codes (in Redis when configured, per process while it is away)."""

    user_id: str
    client_ip: str
    limiter: SharedLimiter

    def refuse_if_limited(self) -> None:
        """Before the lookup: a person past their limit gets no code at all."""
        self._refuse_past(WRONG_CODES_PER_USER, "user", self.user_id)

    def wrong_code(self) -> None:
        """After a lookup that found nothing: count it, for the person and the address;
        past the address's limit, the answer is 429 rather than "not found"."""
        self.limiter.hit(WRONG_CODES_PER_USER, WRONG_CODES, "user", self.user_id)
        self.limiter.hit(WRONG_CODES_PER_IP, WRONG_CODES, "ip", self.client_ip)
        self._refuse_past(WRONG_CODES_PER_IP, "ip", self.client_ip)

    def _refuse_past(self, item: RateLimitItem, namespace: str, key: str) -> None:
        retry = self.limiter.retry_after(item, WRONG_CODES, namespace, key)
        if retry is not None:
            raise TooManyRequests(
                f"too many wrong codes: try again in {retry} seconds, "
                "with the code that the CLI shows",
                retry_after=retry,
            )
