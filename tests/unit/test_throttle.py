"""Throttle: each key let through at most once per interval."""

from __future__ import annotations

from keyplane.cache import Throttle


def test_a_key_is_let_through_once_per_interval():
    gate: Throttle[str] = Throttle(60)
    assert gate.claim("t1", now=1000.0) and not gate.claim("t1", now=1059.9)
    assert gate.claim("t2", now=1059.9)  # each key on its own
    assert not gate.is_due("t1", 1059.9) and gate.is_due("t1", 1060.0)
    assert gate.is_due("t1", 1060.0)  # asking claims nothing
    assert gate.claim("t1", now=1060.0) and not gate.claim("t1", now=1060.0)


def test_a_forgotten_key_is_let_through_again():
    gate: Throttle[str] = Throttle(60)
    assert gate.claim("t1", now=1.0)
    gate.forget("t1")  # its write failed
    assert gate.claim("t1", now=2.0)


def test_past_its_limit_it_forgets_every_key():
    gate: Throttle[int] = Throttle(60, limit=3)
    assert all(gate.claim(key, now=1.0) for key in range(3))
    assert not gate.claim(0, now=2.0)
    assert gate.claim(3, now=2.0)  # the fourth key: the memory starts again
    assert gate.claim(0, now=2.0)
