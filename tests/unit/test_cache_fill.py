"""Cache.fill: concurrent misses of one key share one read of the source."""

from __future__ import annotations

import asyncio

import pytest

from keyplane.cache import Cache


class Source:
    """A slow source that counts its reads; ``gate`` holds every read until set."""

    def __init__(self, value: str | None = "v") -> None:
        self.value, self.reads, self.gate = value, 0, asyncio.Event()

    async def read(self) -> str | None:
        self.reads += 1
        value = self.value  # what the source holds when the read begins
        await self.gate.wait()
        if isinstance(value, Exception):
            raise value
        return value


def run(coroutine):  # type: ignore[no-untyped-def]
    return asyncio.run(coroutine)


def test_concurrent_misses_read_the_source_once_and_all_get_its_value():
    async def scenario() -> None:
        cache, source = Cache[str, str](ttl=60, limit=10), Source()
        waiting = [asyncio.create_task(cache.fill("k", source.read)) for _ in range(32)]
        await asyncio.sleep(0)
        source.gate.set()
        assert await asyncio.gather(*waiting) == ["v"] * 32
        assert source.reads == 1
        assert cache.get("k") == "v"

    run(scenario())


def test_nothing_found_is_shared_but_not_kept():
    async def scenario() -> None:
        cache, source = Cache[str, str](ttl=60, limit=10), Source(None)
        waiting = [asyncio.create_task(cache.fill("k", source.read)) for _ in range(3)]
        await asyncio.sleep(0)
        source.gate.set()
        assert await asyncio.gather(*waiting) == [None] * 3
        assert source.reads == 1 and cache.get("k") is None
        source.gate.set()
        await cache.fill("k", source.read)
        assert source.reads == 2  # a later miss reads again

    run(scenario())


def test_a_clear_during_the_read_lets_the_value_through_but_not_into_the_cache():
    async def scenario() -> None:
        cache, source = Cache[str, str](ttl=60, limit=10), Source()
        filling = asyncio.create_task(cache.fill("k", source.read))
        await asyncio.sleep(0)
        cache.clear()  # a change committed while the source was being read
        source.gate.set()
        assert await filling == "v"
        assert cache.get("k") is None

    run(scenario())


def test_a_caller_after_a_clear_does_not_wait_for_a_read_begun_before_it():
    async def scenario() -> None:
        cache, source = Cache[str, str](ttl=60, limit=10), Source("before")
        before = asyncio.create_task(cache.fill("k", source.read))
        await asyncio.sleep(0)
        cache.clear()  # the token was revoked while it was being read
        source.value = "after"
        after = asyncio.create_task(cache.fill("k", source.read))
        await asyncio.sleep(0)
        source.gate.set()
        assert (await before, await after) == ("before", "after")
        assert source.reads == 2
        assert cache.get("k") == "after"

    run(scenario())


def test_an_error_reaches_every_caller_and_the_next_miss_reads_again():
    async def scenario() -> None:
        cache, source = Cache[str, str](ttl=60, limit=10), Source(RuntimeError("db down"))
        waiting = [asyncio.create_task(cache.fill("k", source.read)) for _ in range(3)]
        await asyncio.sleep(0)
        source.gate.set()
        results = await asyncio.gather(*waiting, return_exceptions=True)
        assert [str(r) for r in results] == ["db down"] * 3 and source.reads == 1
        source.value = "v"
        assert await cache.fill("k", source.read) == "v"
        assert source.reads == 2

    run(scenario())


async def _reader_and_waiter(source: Source, *cancel: str) -> tuple[asyncio.Task, asyncio.Task]:  # type: ignore[type-arg]
    """The caller that reads (``first``) and one that waits for it (``second``), with
    those named in ``cancel`` cancelled, at once, before the read ends."""
    cache = Cache[str, str](ttl=60, limit=10)
    first = asyncio.create_task(cache.fill("k", source.read))
    await asyncio.sleep(0)
    second = asyncio.create_task(cache.fill("k", source.read))
    await asyncio.sleep(0)
    for name, task in (("first", first), ("second", second)):
        if name in cancel:
            task.cancel()
    for _ in range(3):
        await asyncio.sleep(0)
    source.gate.set()
    return first, second


def test_when_the_reading_caller_is_cancelled_a_waiting_one_reads_for_itself():
    async def scenario() -> None:
        source = Source()
        first, second = await _reader_and_waiter(source, "first")  # its client hung up
        assert await second == "v"
        assert source.reads == 2
        with pytest.raises(asyncio.CancelledError):
            await first

    run(scenario())


def test_a_cancelled_waiter_does_not_stop_the_read():
    async def scenario() -> None:
        source = Source()
        first, second = await _reader_and_waiter(source, "second")
        assert await first == "v" and source.reads == 1
        assert second.cancelled()

    run(scenario())


def test_a_waiter_cancelled_with_the_reader_stays_cancelled():
    async def scenario() -> None:
        source = Source()
        # Both at once, as at a server's shutdown.
        first, second = await _reader_and_waiter(source, "first", "second")
        results = await asyncio.gather(first, second, return_exceptions=True)
        assert all(isinstance(r, asyncio.CancelledError) for r in results)
        assert source.reads == 1  # no second read for a caller that went away

    run(scenario())
