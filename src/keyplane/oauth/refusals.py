"""Refused requests at the OAuth endpoints are limited per address.

Each endpoint's own checks limit what they check (a client's secret, a workload
identity's ID tokens), but a request can be refused before any of them: no or an
unknown ``grant_type``, a ``scope`` or ``resource`` on a grant that takes none, an
unknown public client. Every refusal is an audit event, so unlimited refusals would
let anyone fill the log. Past the limit (``KEYPLANE_AUTH_FAILURE_LIMIT_PER_MINUTE``
per address) a refusal answers 429 instead, which is not recorded. Only refusals
count, after the request was handled: a valid request is never refused for others'
mistakes from the same address. "Wait" answers (``authorization_pending``,
``slow_down`` while the device flow polls, and ``temporarily_unavailable``) are not
refusals.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from limits import RateLimitItemPerMinute

from keyplane.oauth.errors import OAuthError, TemporarilyUnavailable

if TYPE_CHECKING:
    from keyplane.oauth.context import ServerContext

NAMESPACE = "oauth-refusal"
_NOT_REFUSALS = frozenset({"authorization_pending", "slow_down", "temporarily_unavailable"})


def counted(runtime: ServerContext, client_ip: str, error: OAuthError) -> OAuthError:
    """What to answer for ``error``: itself, or 429 once this address has had as many
    refusals in the last minute as the limit allows."""
    if error.error in _NOT_REFUSALS:
        return error
    limit = RateLimitItemPerMinute(runtime.settings.auth_failure_limit_per_minute)
    retry = runtime.limiter.retry_after(limit, NAMESPACE, client_ip)
    if retry is not None:
        return TemporarilyUnavailable(
            f"too many refused requests from this address: try again in {retry} seconds",
            retry_after=retry,
        )
    runtime.limiter.hit(limit, NAMESPACE, client_ip)
    return error
