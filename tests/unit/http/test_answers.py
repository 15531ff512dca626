"""The cache primitive's own rules, and the answer cache built on it: whose answer,
how long, and never across a change."""

from __future__ import annotations

import time

from keyplane import cache as cache_module
from keyplane.auth.principal import Principal, PrincipalKind
from keyplane.cache import LARGEST_KEPT, AnswerCache, Cache
from keyplane.domain.access import Grants
from keyplane.http.responses import SharedResponse


def _principal() -> Principal:
    return Principal(PrincipalKind.WORKSPACE_TOKEN, "t1", "ci", Grants(()))


def test_an_answer_is_only_for_the_principal_object_it_was_computed_for():
    cache, principal = AnswerCache[SharedResponse](ttl=60), _principal()
    answer = SharedResponse(b"{}")
    cache.keep(principal, "/v1/x", b"", cache.ticket(), answer)
    assert cache.answer(principal, "/v1/x", b"") is answer
    assert cache.answer(principal, "/v1/x", b"limit=1") is None
    assert cache.answer(_principal(), "/v1/x", b"") is None  # equal, but a later load


def test_a_value_loaded_across_a_clear_is_not_kept():
    cache, principal = AnswerCache[SharedResponse](ttl=60), _principal()
    ticket = cache.ticket()
    cache.clear()  # a change commits while the answer is being computed
    cache.keep(principal, "/v1/x", b"", ticket, SharedResponse(b"{}"))
    assert cache.answer(principal, "/v1/x", b"") is None
    assert len(cache) == 0


def test_values_expire_with_the_ttl_and_go_with_a_clear():
    cache: Cache[str, int] = Cache(ttl=0.05, limit=10)
    cache.put("x", 1, cache.ticket())
    cache.put("y", 2, cache.ticket())
    time.sleep(0.06)
    assert cache.get("x") is None
    cache.ttl = 60
    assert cache.get("y") == 2
    cache.clear()
    assert cache.get("y") is None


def test_large_answers_are_not_kept_and_memory_is_bounded():
    cache, principal = AnswerCache[SharedResponse](ttl=60, max_bytes=1000), _principal()
    large = SharedResponse(b"x" * (LARGEST_KEPT + 1))
    cache.keep(principal, "/v1/large", b"", cache.ticket(), large)
    assert cache.answer(principal, "/v1/large", b"") is None
    for n in range(3):  # 3 x 400 bytes > 1000: the third starts the cache again
        cache.keep(principal, f"/v1/{n}", b"", cache.ticket(), SharedResponse(b"x" * 400))
    assert len(cache) == 1
    assert cache.answer(principal, "/v1/2", b"") is not None


def test_the_entry_limit_starts_the_cache_again():
    cache: Cache[int, int] = Cache(ttl=60, limit=2)
    for n in range(3):
        cache.put(n, n, cache.ticket())
    assert len(cache) == 1 and cache.get(2) == 2


def test_a_clear_between_the_check_and_the_store_still_wins(monkeypatch):
    cache: Cache[str, int] = Cache(ttl=60, limit=10)

    class ClearingClock:  # put reads the clock between its check and its store
        @staticmethod
        def monotonic() -> float:
            cache.clear()
            return time.monotonic()

    monkeypatch.setattr(cache_module, "time", ClearingClock)
    assert cache.put("x", 1, cache.ticket()) is False
    monkeypatch.undo()
    assert cache.get("x") is None
