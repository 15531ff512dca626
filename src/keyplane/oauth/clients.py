"""Client authentication at the OAuth endpoints (RFC 6749 §2.3.1, §3.2.1).

Confidential clients are deployment API keys: ``client_id`` is the key ID,
``client_secret`` the ``kpk_`` secret, sent with HTTP Basic (``client_secret_basic``)
or in the form (``client_secret_post``). Public clients (the CLI) are registered by
``client_id`` and authenticate with it alone (``none``).

The hot path for a known key: SHA-256 of the secret, one dict lookup, one
constant-time comparison of the key ID. The database is read only on a cache miss
(one indexed lookup by hash). Only failures are rate limited (per client IP and per
key ID), after the check, so a valid secret is never refused for others' failures.
"""

from __future__ import annotations

import base64
import binascii
import secrets
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import unquote_plus

from limits import RateLimitItemPerMinute
from starlette.concurrency import run_in_threadpool

from keyplane.apikeys.principal import KeyRecord, key_by_secret_hash
from keyplane.cache import Cache
from keyplane.domain import credentials
from keyplane.domain.errors import NotAuthenticated
from keyplane.domain.ids import shown
from keyplane.oauth.errors import InvalidClient, InvalidRequest, TemporarilyUnavailable

if TYPE_CHECKING:
    from keyplane.oauth.context import ServerContext

BASIC = "client_secret_basic"
POST = "client_secret_post"
NONE = "none"
FAILED = (
    "client authentication failed: unknown key ID or wrong secret "
    "(the key may have been deleted, or its deployment)"
)


@dataclass(frozen=True)
class Client:
    client_id: str
    method: str
    key: KeyRecord | None = None  # the deployment API key of a confidential client
    # A public client that may introspect the tokens issued to it (RFC 7662 §2.1).
    introspects_own: bool = False


# Whether a client_id names a public client of a kind registered at run time (a
# workload identity); registered on the server: OAuthServer.register_public_clients.
PublicClientCheck = Callable[[str], Awaitable[bool]]


@dataclass(frozen=True)
class PublicClients:
    """Public clients recognised by ``check`` rather than listed by id."""

    check: PublicClientCheck
    introspects_own: bool = False


@dataclass(frozen=True)
class Presented:
    client_id: str
    secret: str | None
    method: str


def presented_credentials(form: Mapping[str, str], authorization: str | None) -> Presented:
    """What the client sent; InvalidRequest for several methods, InvalidClient for none."""
    if authorization:
        scheme, _, encoded = authorization.partition(" ")
        if scheme.lower() != "basic":
            raise InvalidClient(
                "the token endpoint takes HTTP Basic client authentication", basic=True
            )
        client_id, secret = _decode_basic(encoded.strip())
        if "client_secret" in form or form.get("client_id", client_id) != client_id:
            raise InvalidRequest("use one client authentication method, not several (§2.3)")
        return Presented(client_id, secret, BASIC)
    client_id = form.get("client_id", "")
    if "client_secret" in form:
        if not client_id:
            raise InvalidRequest("client_secret was sent without client_id")
        return Presented(client_id, form["client_secret"], POST)
    if client_id:
        return Presented(client_id, None, NONE)
    raise InvalidClient(
        "client authentication required: HTTP Basic with the key ID and secret", basic=True
    )


def _decode_basic(encoded: str) -> tuple[str, str]:
    try:
        decoded = base64.b64decode(encoded, validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        raise InvalidClient("malformed Basic credentials", basic=True) from None
    client_id, colon, secret = decoded.partition(":")
    if not colon or not client_id:
        raise InvalidClient("malformed Basic credentials: expected id:secret", basic=True)
    # §2.3.1: both parts are form-urlencoded before they are joined.
    return unquote_plus(client_id), unquote_plus(secret)


# Clients cached per process at most; beyond, the cache starts again empty.
_CACHE_LIMIT = 100_000


class ClientAuthenticator:
    def __init__(
        self,
        runtime: ServerContext,
        public_clients: set[str],
        public_kinds: list[PublicClients],
    ) -> None:
        self._sessions = runtime.sessions
        self._public = public_clients  # the server's registries: read on each call
        self._public_kinds = public_kinds
        self.cache: Cache[str, KeyRecord] = Cache(
            runtime.settings.auth_cache_ttl_seconds, _CACHE_LIMIT
        )
        self._limiter = runtime.limiter  # shared through Redis when configured
        self._limit = RateLimitItemPerMinute(runtime.settings.auth_failure_limit_per_minute)

    async def authenticate(
        self, form: Mapping[str, str], authorization: str | None, client_ip: str
    ) -> Client:
        """The authenticated client; raises InvalidClient, InvalidRequest or 429."""
        presented = presented_credentials(form, authorization)
        basic = presented.method == BASIC
        if presented.secret is None:
            if presented.client_id in self._public:
                return Client(presented.client_id, NONE)
            for kind in self._public_kinds:
                if await kind.check(presented.client_id):
                    return Client(presented.client_id, NONE, introspects_own=kind.introspects_own)
            raise InvalidClient(
                f"client {shown(presented.client_id)} must authenticate with its secret",
                basic=basic,
            )
        secret_hash = credentials.hash_secret(presented.secret)
        record = self.cache.get(secret_hash)
        if record is None:
            record = await self._load(presented.secret, secret_hash)
        if record is None or not secrets.compare_digest(
            record.id.encode(), presented.client_id.encode()
        ):
            # Only failures are limited, after the check: the real secret of a key
            # whose ID others know (it is the JWT client_id), or from an address
            # shared with a broken job, still authenticates.
            self._check_limits(presented.client_id, client_ip)
            self._record_failure(presented.client_id, client_ip)
            raise InvalidClient(FAILED, basic=basic)
        return Client(presented.client_id, presented.method, record)

    async def _load(self, secret: str, secret_hash: str) -> KeyRecord | None:
        try:
            if credentials.parse(secret) is not credentials.SecretKind.DEPLOYMENT_KEY:
                return None
        except NotAuthenticated:
            return None
        return await self.cache.fill(
            secret_hash, lambda: run_in_threadpool(self._load_from_db, secret_hash)
        )

    def _load_from_db(self, secret_hash: str) -> KeyRecord | None:
        with self._sessions() as db:
            return key_by_secret_hash(db, secret_hash)

    def _check_limits(self, client_id: str, client_ip: str) -> None:
        for namespace, identity in (("ip", client_ip), ("client", client_id)):
            retry = self._limiter.retry_after(
                self._limit, "oauth-client-failure", namespace, identity
            )
            if retry is not None:
                who = "this address" if namespace == "ip" else "this client"
                raise TemporarilyUnavailable(
                    f"too many failed client authentications for {who}: "
                    f"try again in {retry} seconds",
                    retry_after=retry,
                )

    def _record_failure(self, client_id: str, client_ip: str) -> None:
        self._limiter.hit(self._limit, "oauth-client-failure", "ip", client_ip)
        self._limiter.hit(self._limit, "oauth-client-failure", "client", client_id)
