"""The hash chain over audit events: pure functions, no I/O.

``hash = SHA-256(canonical JSON of the event's content, prev_hash included)``.
The canonical form sorts keys and has no whitespace, so any backend that returns
the same values gives the same hash.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

GENESIS = "0" * 64  # prev_hash of the first event ever written

HASHED_FIELDS = (
    "id",
    "seq",
    "occurred_at",
    "organization_id",
    "actor_kind",
    "actor_id",
    "actor_name",
    "credential_fingerprint",
    "action",
    "target_type",
    "target_id",
    "details",
    "outcome",
    "status_code",
    "client_ip",
    "user_agent",
    "request_id",
    "prev_hash",
)


class Hashable(Protocol):
    """What the chain reads of an event (the ORM row satisfies it)."""

    id: str
    seq: int
    prev_hash: str
    hash: str


def content_hash(event: Any) -> str:
    """The hash an event must carry, computed from its content."""
    content = {name: _plain(getattr(event, name)) for name in HASHED_FIELDS}
    canonical = json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return hashlib.sha256(canonical.encode()).hexdigest()


def _plain(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    return value


@dataclass(frozen=True)
class Break:
    """The first event where the chain does not hold, and why."""

    event_id: str
    seq: int
    reason: str


@dataclass
class Walk:
    """State of a verification walk, fed one event at a time in ``seq`` order."""

    expected_prev: str
    expected_seq: int | None
    checked: int = 0
    head_hash: str = GENESIS
    broken: Break | None = None

    def feed(self, events: Iterable[Any]) -> bool:
        """Check events in order; False once the chain is broken (then stop feeding)."""
        for event in events:
            reason = self._problem(event)
            if reason:
                self.broken = Break(event.id, event.seq, reason)
                return False
            self.expected_prev = event.hash
            self.expected_seq = event.seq + 1
            self.head_hash = event.hash
            self.checked += 1
        return True

    def _problem(self, event: Any) -> str | None:
        if self.expected_seq is not None and event.seq != self.expected_seq:
            return f"missing event(s): expected seq {self.expected_seq}, found {event.seq}"
        if event.prev_hash != self.expected_prev:
            return "prev_hash does not match the hash of the event before it"
        if content_hash(event) != event.hash:
            return "stored hash does not match the event's content (the event was altered)"
        return None
