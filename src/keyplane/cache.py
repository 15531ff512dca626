"""The one per-process cache: entries that expire, and a clear that a load cannot undo.

Every cache of the server (credentials, verified access tokens, OAuth clients,
answers to repeated reads) is a :class:`Cache`, and the runtime clears them all
after any committed change to what they hold, here or on another replica
(``keyplane.runtime``). A load reads its source outside the cache, so a clear can
run between the read and the store; the value would then be stale for as long as it
lives. :meth:`Cache.ticket` taken before the read and handed to :meth:`Cache.put`
after it refuses such a value: correctness does not depend on each caller
remembering to guard it.

Reads and writes come from request threads and the notifier's thread; each step is a
single dict operation, atomic under the GIL, so there is no lock on the hot path.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Hashable
from typing import Generic, Protocol, TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class Cache(Generic[K, V]):
    """At most ``limit`` entries (and ``max_weight`` by ``weigh``), each kept ``ttl`` s."""

    __slots__ = (
        "_entries",
        "_flights",
        "_generation",
        "_weight",
        "limit",
        "max_weight",
        "ttl",
        "weigh",
    )

    def __init__(
        self,
        ttl: float,
        limit: int,
        *,
        weigh: Callable[[V], int] | None = None,
        max_weight: int | None = None,
    ) -> None:
        self.ttl = ttl  # may change at run time (the runtime shortens it without a notifier)
        self.limit = limit
        self.weigh = weigh
        self.max_weight = max_weight
        self._entries: dict[K, tuple[V, float]] = {}
        self._generation = 0
        self._weight = 0
        # Loads in flight: their answer, and the generation they were started in.
        self._flights: dict[K, tuple[asyncio.Future[V | None], int]] = {}

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, key: K) -> V | None:
        """The value kept for ``key`` if it is younger than ``ttl``; else None."""
        entry = self._entries.get(key)
        if entry is None or time.monotonic() - entry[1] > self.ttl:
            return None
        return entry[0]

    def entry(self, key: K) -> tuple[V, float] | None:
        """The value and when it was stored (``time.monotonic()``), whatever its age."""
        return self._entries.get(key)

    def ticket(self) -> int:
        """Take before reading the source of a value that :meth:`put` will store."""
        return self._generation

    def put(self, key: K, value: V, ticket: int) -> bool:
        """Keep ``value`` unless the cache was cleared since ``ticket``; True if kept.

        Past ``limit`` entries or ``max_weight`` the cache starts again empty: rare, and
        cheaper than keeping an eviction order on every hit.
        """
        weight = self.weigh(value) if self.weigh else 0
        if ticket != self._generation or (self.max_weight and weight > self.max_weight):
            return False
        if len(self._entries) >= self.limit or (
            self.max_weight and self._weight + weight > self.max_weight
        ):
            self._entries.clear()
            self._weight = 0
        self._entries[key] = (value, time.monotonic())
        self._weight += weight
        if ticket != self._generation:  # a clear ran between the check and the store
            self._entries.pop(key, None)
            return False
        return True

    async def fill(self, key: K, fetch: Callable[[], Awaitable[V | None]]) -> V | None:
        """The value for ``key``, found missing or stale, from one ``fetch`` however many
        ask at once: while it runs, callers of the same key in this event loop wait for
        its value (or its exception) instead of reading the source again. A caller that
        comes after a clear never waits for a read begun before it (a revoked token is
        read again, not handed the answer from before its revocation). The value is kept
        as by :meth:`put`; None (nothing there) is returned and not kept.

        Without it a hot credential whose entry expires under 32 concurrent requests is
        read from the database 32 times at once.
        """
        loop = asyncio.get_running_loop()
        while (running := self._flights.get(key)) is not None:
            flight, started = running
            if started != self._generation or flight.get_loop() is not loop:
                break  # begun before a clear, or on another event loop: read anew
            try:
                return await asyncio.shield(flight)
            except asyncio.CancelledError:
                task = asyncio.current_task()
                if not flight.cancelled() or (task is not None and task.cancelling()):
                    raise  # this caller was cancelled (perhaps with the one loading)
                # The loading request went away (its client hung up): load again.
        flight = loop.create_future()
        ticket = self._generation
        self._flights[key] = (flight, ticket)
        try:
            value = await fetch()
        except BaseException as error:
            if isinstance(error, asyncio.CancelledError):
                flight.cancel()
            else:
                flight.set_exception(error)
                flight.exception()  # retrieved, so that no one waiting is not an error
            raise
        finally:
            if (running := self._flights.get(key)) is not None and running[0] is flight:
                del self._flights[key]
        if value is not None:
            self.put(key, value, ticket)
        flight.set_result(value)
        return value

    def pop(self, key: K) -> None:
        self._entries.pop(key, None)

    def clear(self) -> None:
        """Forget every entry, and refuse every value loaded before now."""
        self._generation += 1
        self._entries.clear()
        self._weight = 0


class Throttle(Generic[K]):
    """Says yes to each key at most once per ``interval`` seconds (per process): the
    gate of the bookkeeping writes (``lastUsedAt``, permission uses), so a credential in
    constant use costs one write per interval, not one per request.

    Past ``limit`` keys it forgets them all (each is then written once more, which is
    harmless). Used from request threads without a lock: two threads may both be told
    yes for one key at once, and write the same thing twice.
    """

    __slots__ = ("_last", "interval", "limit")

    def __init__(self, interval: float, limit: int = 100_000) -> None:
        self.interval = interval
        self.limit = limit
        self._last: dict[K, float] = {}

    def is_due(self, key: K, now: float) -> bool:
        """Whether ``key`` would be let through at monotonic ``now`` (claims nothing)."""
        last = self._last.get(key)
        return last is None or now - last >= self.interval

    def claim(self, key: K, now: float | None = None) -> bool:
        """True, once per interval, when ``key`` at monotonic ``now`` is let through."""
        now = time.monotonic() if now is None else now
        if not self.is_due(key, now):
            return False
        if len(self._last) >= self.limit:
            self._last.clear()
        self._last[key] = now
        return True

    def forget(self, key: K) -> None:
        """Let ``key`` through next time (its write failed)."""
        self._last.pop(key, None)


class Body(Protocol):
    body: bytes


A = TypeVar("A", bound=Body)
_AnswerKey = tuple[int, str, bytes]

# Answers, and bytes of answers, kept per process at most; beyond either, the cache
# starts again empty. Larger answers (a page of 1,000 deployments) are not kept.
ANSWER_LIMIT = 20_000
BYTES_LIMIT = 64 * 1024 * 1024
LARGEST_KEPT = 256 * 1024


class AnswerCache(Cache[_AnswerKey, tuple[object, A]]):
    """Answers to a caller's reads, keyed by the caller's principal *object*, the path
    and the query string (see ``keyplane.http.answers``).

    The credential cache makes a new principal after every change, so an answer can
    never be served to grants other than those it was computed for; keying by the
    object's id is also far cheaper than hashing its grants.
    """

    __slots__ = ()

    def __init__(self, ttl: float, limit: int = ANSWER_LIMIT, max_bytes: int = BYTES_LIMIT):
        super().__init__(ttl, limit, weigh=lambda kept: len(kept[1].body), max_weight=max_bytes)

    def answer(self, principal: object, path: str, query: bytes = b"") -> A | None:
        found = self.get((id(principal), path, query))
        if found is None or found[0] is not principal:
            return None
        return found[1]

    def keep(self, principal: object, path: str, query: bytes, ticket: int, answer: A) -> None:
        if len(answer.body) <= LARGEST_KEPT:
            self.put((id(principal), path, query), (principal, answer), ticket)
