from dataclasses import dataclass, field, replace
from datetime import UTC, datetime

from keyplane.audit.chain import GENESIS, Walk, content_hash


@dataclass
class Event:
    id: str
    seq: int
    prev_hash: str
    hash: str = ""
    occurred_at: datetime = datetime(2026, 11, 28, 12, 0, 0, 123456, tzinfo=UTC)
    organization_id: str | None = "org"
    actor_kind: str = "WORKSPACE_TOKEN"
    actor_id: str | None = "tok"
    actor_name: str = "ci"
    credential_fingerprint: str | None = "ab" * 32
    action: str = "deploy.create"
    target_type: str | None = "deploy"
    target_id: str | None = "d1"
    details: dict = field(default_factory=lambda: {"digest": "sha256:00"})
    outcome: str = "success"
    status_code: int | None = 201
    client_ip: str | None = "10.0.0.1"
    user_agent: str | None = "keyplane-cli/0.1.0"
    request_id: str | None = "r1"


def chain(n):
    events, prev = [], GENESIS
    for seq in range(1, n + 1):
        event = Event(f"e{seq}", seq, prev)
        event.hash = content_hash(event)
        prev = event.hash
        events.append(event)
    return events


def test_an_intact_chain_verifies():
    walk = Walk(GENESIS, 1)
    assert walk.feed(chain(5)) and walk.checked == 5 and walk.broken is None


def test_every_hashed_field_matters():
    event = chain(1)[0]
    for name, value in [
        ("actor_name", "x"),
        ("details", {"digest": "sha256:01"}),
        ("outcome", "failure"),
        ("occurred_at", datetime.now(UTC)),
    ]:
        assert content_hash(replace(event, **{name: value})) != event.hash


def test_an_altered_event_is_named():
    events = chain(5)
    events[2].target_id = "d2"
    walk = Walk(GENESIS, 1)
    assert not walk.feed(events)
    assert (walk.broken.event_id, walk.broken.seq) == ("e3", 3)
    assert "altered" in walk.broken.reason and walk.checked == 2


def test_a_removed_event_is_named():
    events = chain(5)
    del events[1]
    walk = Walk(GENESIS, 1)
    assert not walk.feed(events)
    assert walk.broken.seq == 3 and "expected seq 2" in walk.broken.reason


def test_a_rehashed_forgery_still_breaks_the_link():
    events = chain(3)
    events[1].actor_name = "someone else"
    events[1].hash = content_hash(events[1])  # the forger recomputes this event's hash...
    walk = Walk(GENESIS, 1)
    assert not walk.feed(events)  # ...but the next event still points at the original
    assert walk.broken.event_id == "e3"
