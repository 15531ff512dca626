"""Appending events to the chain, one writer at a time.

Writers are serialized so that each event links to the one before it: on
PostgreSQL with a transaction-scoped advisory lock (every replica shares it), on
SQLite with ``BEGIN IMMEDIATE`` (SQLite's single writer, across processes too),
and within a process with a lock so threads do not queue on the database. The
unique ``seq`` column is the last line of defence: a second writer that got past
the lock would fail to insert rather than fork the chain.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from typing import Any

from sqlalchemy import select, text
from sqlalchemy.orm import Session, sessionmaker

from keyplane.audit.chain import GENESIS, content_hash
from keyplane.audit.models import AuditEvent
from keyplane.auth.principal import Principal
from keyplane.db.base import utcnow
from keyplane.db.unit import unit_of_work
from keyplane.domain.ids import new_id

log = logging.getLogger(__name__)

# pg_advisory_xact_lock key: "kp-audit" as a number; any constant that no one else uses.
_PG_LOCK_KEY = 0x6B702D6175646974
_process_lock = threading.Lock()

ANONYMOUS = "ANONYMOUS"
SUCCESS = "success"
FAILURE = "failure"


@dataclass
class EventDraft:
    """An event before it takes its place in the chain."""

    action: str
    outcome: str = SUCCESS
    organization_id: str | None = None
    actor_kind: str = ANONYMOUS
    actor_id: str | None = None
    actor_name: str = "anonymous"
    credential_fingerprint: str | None = None
    target_type: str | None = None
    target_id: str | None = None
    details: dict[str, Any] = field(default_factory=dict)
    status_code: int | None = None
    client_ip: str | None = None
    user_agent: str | None = None
    request_id: str | None = None

    def by(self, principal: Principal) -> EventDraft:
        """Set the actor from a principal (its fingerprint, never its credential)."""
        self.actor_kind = principal.kind.value
        self.actor_id = principal.id
        self.actor_name = principal.name
        self.credential_fingerprint = principal.fingerprint
        if self.organization_id is None:
            self.organization_id = principal.organization_id
        return self


def in_each(draft: EventDraft, organization_ids: Iterable[str]) -> list[EventDraft]:
    """``draft`` once in the log of each of these organizations; with none, ``draft``
    itself, in no organization's log (the operators' view: ``keyplane admin audit list``)."""
    return [
        replace(draft, organization_id=org_id, details=dict(draft.details))
        for org_id in sorted(set(organization_ids))
    ] or [draft]


def append(sessions: sessionmaker[Session], drafts: Sequence[EventDraft]) -> list[AuditEvent]:
    """Write the events at the end of the chain, in order, in a unit of work of their own."""
    if not drafts:
        return []
    with locked_chain(sessions) as db:
        return append_locked(db, drafts)


@contextmanager
def locked_chain(sessions: sessionmaker[Session]) -> Iterator[Session]:
    """A unit of work holding the chain's write lock; it commits when the block ends
    (rolls back if it raises), and the lock goes with the transaction."""
    with _process_lock, unit_of_work(sessions) as db:
        _lock_chain(db)
        yield db


def append_locked(db: Session, drafts: Sequence[EventDraft]) -> list[AuditEvent]:
    """Add the events after the current head; the caller holds the lock (its unit of
    work commits them)."""
    head = db.execute(
        select(AuditEvent.seq, AuditEvent.hash).order_by(AuditEvent.seq.desc()).limit(1)
    ).first()
    seq, prev = (head[0], head[1]) if head else (0, GENESIS)
    events = []
    for draft in drafts:
        seq += 1
        event = _event(draft, seq, prev)
        prev = event.hash
        events.append(event)
    db.add_all(events)
    db.flush()
    return events


def _lock_chain(db: Session) -> None:
    if db.get_bind().dialect.name == "postgresql":
        db.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _PG_LOCK_KEY})
    else:
        # Take SQLite's write lock before reading the head, so the read cannot go stale.
        db.execute(text("BEGIN IMMEDIATE"))


def _event(draft: EventDraft, seq: int, prev_hash: str) -> AuditEvent:
    event = AuditEvent(
        id=new_id(),
        seq=seq,
        occurred_at=utcnow(),
        organization_id=draft.organization_id,
        actor_kind=draft.actor_kind,
        actor_id=draft.actor_id,
        actor_name=draft.actor_name[:320],
        credential_fingerprint=draft.credential_fingerprint,
        action=draft.action,
        target_type=draft.target_type,
        target_id=draft.target_id,
        details=draft.details,
        outcome=draft.outcome,
        status_code=draft.status_code,
        client_ip=draft.client_ip,
        user_agent=(draft.user_agent or "")[:512] or None,
        request_id=draft.request_id,
        prev_hash=prev_hash,
    )
    event.hash = content_hash(event)
    return event


def safe_append(sessions: sessionmaker[Session], drafts: Sequence[EventDraft]) -> None:
    """Append, logging instead of raising: the action itself has already happened."""
    try:
        append(sessions, drafts)
    except Exception:
        log.exception(
            "AUDIT WRITE FAILED for %s", ", ".join(d.action for d in drafts) or "no events"
        )
