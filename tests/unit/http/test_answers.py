"""The answer cache's own rules: whose answer, how long, and never across a change."""

from __future__ import annotations

import time

from keyplane.auth.principal import Principal, PrincipalKind
from keyplane.domain.access import Grants
from keyplane.http.answers import AnswerCache
from keyplane.http.responses import SharedResponse


def _principal() -> Principal:
    return Principal(PrincipalKind.WORKSPACE_TOKEN, "t1", "ci", Grants(()))


def test_an_answer_is_only_for_the_principal_object_it_was_computed_for():
    cache, principal = AnswerCache(ttl_seconds=60), _principal()
    answer = SharedResponse(b"{}")
    cache.put(principal, "/v1/x", b"", cache.generation, answer)
    assert cache.get(principal, "/v1/x", b"") is answer
    assert cache.get(principal, "/v1/x", b"limit=1") is None
    assert cache.get(_principal(), "/v1/x", b"") is None  # equal, but a later load


def test_an_answer_computed_across_an_invalidation_is_not_kept():
    cache, principal = AnswerCache(ttl_seconds=60), _principal()
    started = cache.generation
    cache.invalidate()  # a change commits while the answer is being computed
    cache.put(principal, "/v1/x", b"", started, SharedResponse(b"{}"))
    assert cache.get(principal, "/v1/x", b"") is None
    assert len(cache) == 0


def test_answers_expire_with_the_ttl_and_go_with_an_invalidation():
    cache, principal = AnswerCache(ttl_seconds=0.05), _principal()
    cache.put(principal, "/v1/x", b"", cache.generation, SharedResponse(b"{}"))
    cache.put(principal, "/v1/y", b"", cache.generation, SharedResponse(b"{}"))
    time.sleep(0.06)
    assert cache.get(principal, "/v1/x", b"") is None
    cache.ttl = 60
    assert cache.get(principal, "/v1/y", b"") is not None
    cache.invalidate()
    assert cache.get(principal, "/v1/y", b"") is None


def test_large_answers_are_not_kept_and_memory_is_bounded(monkeypatch):
    from keyplane.http import answers

    monkeypatch.setattr(answers, "BYTES_LIMIT", 1000)
    cache, principal = AnswerCache(ttl_seconds=60), _principal()
    large = SharedResponse(b"x" * (answers.LARGEST_KEPT + 1))
    cache.put(principal, "/v1/large", b"", cache.generation, large)
    assert cache.get(principal, "/v1/large", b"") is None
    for n in range(3):  # 3 x 400 bytes > 1000: the third starts the cache again
        cache.put(principal, f"/v1/{n}", b"", cache.generation, SharedResponse(b"x" * 400))
    assert len(cache) == 1
    assert cache.get(principal, "/v1/2", b"") is not None


def test_an_invalidation_between_the_check_and_the_store_still_wins(monkeypatch):
    from keyplane.http import answers

    cache, principal = AnswerCache(ttl_seconds=60), _principal()

    class InvalidatingClock:  # put reads the clock between its check and its store
        @staticmethod
        def monotonic() -> float:
            cache.invalidate()
            return time.monotonic()

    monkeypatch.setattr(answers, "time", InvalidatingClock)
    cache.put(principal, "/v1/x", b"", cache.generation, SharedResponse(b"{}"))
    monkeypatch.undo()
    assert cache.get(principal, "/v1/x", b"") is None
