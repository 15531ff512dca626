"""The signing keys of the operator's federation issuers: OIDC discovery, then the JWKS.

Only issuers listed in ``KEYPLANE_FEDERATION_ISSUERS`` are ever fetched (a tenant names
an issuer, never a URL), so the operator's list is also the egress list, and an
``http://`` issuer works only when the operator wrote it there. Key sets are kept in
a :class:`keyplane.cache.Cache` for ``KEY_TTL`` seconds. A token naming a ``kid`` the
cached set lacks (the issuer rotated its keys) makes one fetch, at most once per
issuer per ``refetch_after`` seconds, so forged ``kid`` values cannot make the server
hammer an issuer; a failed fetch is remembered as long, so neither can an issuer that is
down (each request meanwhile gets its error at once). Requests that need a fetch at the
same time (a burst of jobs after a restart) wait for one fetch and share its outcome.
This cache is not dropped on credential changes: the keys belong to the issuer, not to
the database.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any
from weakref import WeakKeyDictionary

import httpx
import jwt

from keyplane.cache import Cache

KEY_TTL = 600.0
REFETCH_AFTER = 10.0
TIMEOUT = 5.0
MAX_DOCUMENT = 256 * 1024


class IssuerUnreachable(Exception):
    """Discovery or the JWKS could not be fetched or read; the message says why."""


class IssuerKeys:
    def __init__(
        self,
        *,
        refetch_after: float = REFETCH_AFTER,
        timeout: float = TIMEOUT,
        transport: httpx.AsyncBaseTransport | None = None,  # another than the network's
    ) -> None:
        self.refetch_after = refetch_after
        self._timeout = timeout
        self._transport = transport
        self._sets: Cache[str, dict[str, jwt.PyJWK]] = Cache(KEY_TTL, 1024)
        self._fetched: dict[str, float] = {}  # issuer -> monotonic time of the last fetch
        self._ended: dict[str, tuple[float, str]] = {}  # issuer -> when it ended, its error
        self._locks: WeakKeyDictionary[asyncio.AbstractEventLoop, dict[str, asyncio.Lock]] = (
            WeakKeyDictionary()
        )

    async def key(self, issuer: str, kid: str) -> jwt.PyJWK | None:
        """The issuer's published key ``kid``; None if it publishes none of that id.

        Raises IssuerUnreachable. ``issuer`` must come from the operator's list. Requests
        that need the keys at the same time wait for one fetch, and share its outcome."""
        keys = self._sets.get(issuer)
        if keys is not None and (kid in keys or not self._may_refetch(issuer)):
            return keys.get(kid)
        ended, error = self._ended.get(issuer, (-1e9, ""))
        if keys is None and error and time.monotonic() - ended < self.refetch_after:
            raise IssuerUnreachable(error)  # it failed moments ago: its error, no new fetch
        asked = time.monotonic()
        async with self._lock(issuer):
            ended, error = self._ended.get(issuer, (-1e9, ""))
            keys = self._sets.get(issuer)
            if ended >= asked:  # fetched while this request waited: its outcome is ours
                if keys is None:
                    raise IssuerUnreachable(error)
            elif keys is None or (kid not in keys and self._may_refetch(issuer)):
                keys = await self._fetch(issuer)
        return keys.get(kid)

    def _lock(self, issuer: str) -> asyncio.Lock:
        locks = self._locks.setdefault(asyncio.get_running_loop(), {})
        return locks.setdefault(issuer, asyncio.Lock())

    def _may_refetch(self, issuer: str) -> bool:
        return time.monotonic() - self._fetched.get(issuer, -1e9) >= self.refetch_after

    async def _fetch(self, issuer: str) -> dict[str, jwt.PyJWK]:
        ticket = self._sets.ticket()
        self._fetched[issuer] = time.monotonic()
        try:
            keys = await self._read(issuer)
        except IssuerUnreachable as error:
            self._ended[issuer] = (time.monotonic(), str(error))
            raise
        self._sets.put(issuer, keys, ticket)
        self._ended[issuer] = (time.monotonic(), "")
        return keys

    async def _read(self, issuer: str) -> dict[str, jwt.PyJWK]:
        async with httpx.AsyncClient(
            timeout=self._timeout, follow_redirects=False, transport=self._transport
        ) as http:
            discovery = await _json(http, f"{issuer}/.well-known/openid-configuration")
            if str(discovery.get("issuer", "")).rstrip("/") != issuer:
                raise IssuerUnreachable(f"the discovery document of {issuer} names another issuer")
            jwks_uri = discovery.get("jwks_uri")
            # An https issuer's keys come over https too: its own document cannot
            # downgrade them (an http issuer is the operator's explicit choice).
            schemes = ("https://",) if issuer.startswith("https://") else ("https://", "http://")
            if not isinstance(jwks_uri, str) or not jwks_uri.startswith(schemes):
                raise IssuerUnreachable(
                    f"the discovery document of {issuer} has no jwks_uri over {schemes[-1][:-3]}"
                )
            return _usable(await _json(http, jwks_uri))


def _usable(document: dict[str, Any]) -> dict[str, jwt.PyJWK]:
    """The signing keys with a ``kid``; keys of other kinds or uses are left out."""
    found: dict[str, jwt.PyJWK] = {}
    entries = document.get("keys")
    if not isinstance(entries, list):
        raise IssuerUnreachable("the issuer's key set has no list of keys")
    for entry in entries:
        if not isinstance(entry, dict) or entry.get("use", "sig") != "sig":
            continue
        try:
            key = jwt.PyJWK(entry)
        except (jwt.PyJWTError, ValueError, TypeError, KeyError):  # a malformed key: skipped
            continue
        if key.key_id:
            found[key.key_id] = key
    return found


async def _json(http: httpx.AsyncClient, url: str) -> dict[str, Any]:
    try:
        answer = await http.get(url, headers={"Accept": "application/json"})
        answer.raise_for_status()
        if len(answer.content) > MAX_DOCUMENT:
            raise IssuerUnreachable(f"{url} sent more than {MAX_DOCUMENT} bytes")
        data = answer.json()
    except (httpx.HTTPError, ValueError) as error:
        reason = str(error).splitlines()[0][:200] if str(error) else type(error).__name__
        raise IssuerUnreachable(f"cannot fetch {url}: {reason}") from None
    if not isinstance(data, dict):
        raise IssuerUnreachable(f"{url} is not a JSON object")
    return data
