"""The invalidation listener reconnects quickly after every loss, not only the first."""

from __future__ import annotations

import threading

import pytest

from keyplane.ops import notifier
from keyplane.ops.notifier import Notifier


class Stop(threading.Event):
    """The listener's stop event, noting each wait before a reconnect."""

    def __init__(self) -> None:
        super().__init__()
        self.waits: list[float] = []

    def wait(self, timeout: float | None = None) -> bool:
        if timeout is not None:
            self.waits.append(timeout)
        return super().wait(timeout)


class Flaky(Notifier):
    """Loses its connection ``losses`` times (having come up each time, if ``connects``),
    then stops."""

    kind = "test"

    def __init__(self, losses: int, connects: bool) -> None:
        super().__init__()
        self._stop = self.stop_event = Stop()
        self.losses, self.connects = losses, connects

    def _listen(self) -> None:
        if self.losses == 0:
            self._stop.set()
            return
        self.losses -= 1
        if self.connects:
            self._connected()
        raise ConnectionError("lost")


@pytest.fixture(autouse=True)
def quick(monkeypatch: pytest.MonkeyPatch) -> None:
    """The same doubling, in milliseconds rather than tenths of seconds."""
    monkeypatch.setattr(notifier, "_BACKOFF_FIRST", 0.001)
    monkeypatch.setattr(notifier, "_BACKOFF_MAX", 0.05)


def test_each_loss_after_a_connection_that_held_waits_the_first_backoff_only() -> None:
    listener = Flaky(losses=6, connects=True)
    listener.backoff, listener.stable_after = notifier._BACKOFF_FIRST, 0.0  # each held
    listener._run()
    assert listener.stop_event.waits == [0.001] * 6


def test_a_link_that_drops_as_soon_as_it_is_up_is_tried_less_and_less_often() -> None:
    listener = Flaky(losses=8, connects=True)
    listener.backoff = notifier._BACKOFF_FIRST  # stable_after: the default 10 s
    listener._run()
    assert listener.stop_event.waits == [0.001, 0.002, 0.004, 0.008, 0.016, 0.032, 0.05, 0.05]


def test_a_server_that_stays_down_is_tried_less_and_less_often() -> None:
    listener = Flaky(losses=8, connects=False)
    listener.backoff = notifier._BACKOFF_FIRST
    listener._run()
    assert listener.stop_event.waits == [0.001, 0.002, 0.004, 0.008, 0.016, 0.032, 0.05, 0.05]
