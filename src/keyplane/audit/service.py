"""Reading the audit trail, exporting it, verifying its chain and pruning it."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Select, delete, func, select
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.sql.elements import ColumnElement

from keyplane.audit import actions, chain
from keyplane.audit.models import AuditEvent
from keyplane.audit.recorder import EventDraft, append_locked, locked_chain
from keyplane.audit.schemas import AuditEventOut
from keyplane.auth.principal import Principal
from keyplane.db.base import utcnow
from keyplane.db.models import Organization
from keyplane.db.paging import PageParams, page_of_query
from keyplane.db.unit import read_only
from keyplane.domain.access import Entity, authorize
from keyplane.domain.errors import NotFound
from keyplane.domain.roles import Permission

SORT_COLUMNS: dict[str, ColumnElement[Any]] = {
    "occurredAt": AuditEvent.seq,  # type: ignore[dict-item]  # seq orders as time does
    "action": AuditEvent.action,  # type: ignore[dict-item]
}
_BATCH = 500
EXPORT_COMPLETE = "exportComplete"  # the key of an export's last line


@dataclass(frozen=True)
class AuditFilter:
    since: datetime | None = None
    until: datetime | None = None
    actor_id: str | None = None
    action: str | None = None  # exact, or a prefix ending in "*": "token.*"
    target_id: str | None = None


def require_audit_read(db: Session, principal: Principal, org_id: str) -> None:
    # Read here, not through tenancy: every area may note events (keyplane.audit.notes),
    # tenancy among them, so the audit package imports none of them.
    if db.get(Organization, org_id) is None:
        raise NotFound(f"organization {org_id} not found")
    authorize(principal, Permission.ORGANIZATION_AUDIT_READ, Entity.organization(org_id))


def list_events(
    db: Session, principal: Principal, org_id: str, filters: AuditFilter, page: PageParams
) -> tuple[list[AuditEvent], int]:
    """One page of the organization's events, newest first unless sorted otherwise."""
    require_audit_read(db, principal, org_id)
    page = page.or_sorted_by("occurredAt:desc")
    return page_of_query(db, _query(org_id, filters), page, SORT_COLUMNS, tiebreak=AuditEvent.seq)


def export_lines(
    sessions: sessionmaker[Session], org_id: str, filters: AuditFilter
) -> Iterator[str]:
    """Every matching event as JSON lines, oldest first, read in batches (never all at once),
    then the :data:`EXPORT_COMPLETE` line with their count.

    The answer's status is sent before the first batch is read, so a failure on the way
    can only cut the stream: the missing last line is how a reader knows it was cut.
    The caller checks :func:`require_audit_read` first.
    """
    after = count = 0
    while True:
        with read_only(sessions) as db:
            rows = db.scalars(
                _query(org_id, filters)
                .where(AuditEvent.seq > after)
                .order_by(AuditEvent.seq)
                .limit(_BATCH)
            ).all()
        if not rows:
            yield json.dumps({EXPORT_COMPLETE: True, "count": count}) + "\n"
            return
        for row in rows:
            yield AuditEventOut.of(row).model_dump_json(by_alias=True) + "\n"
        count += len(rows)
        after = rows[-1].seq


def operator_events(
    db: Session, filters: AuditFilter, limit: int, organization_id: str | None, none: bool
) -> list[AuditEvent]:
    """The newest events of the whole chain for the operator (``keyplane admin audit
    list``), on the database, with no principal: every organization's, or only
    ``organization_id``'s, or with ``none`` only those in no organization's log
    (unknown credentials, refusals for unknown accounts, the operator's own commands)."""
    query = _filtered(select(AuditEvent), filters)
    if none:
        query = query.where(AuditEvent.organization_id.is_(None))
    elif organization_id:
        query = query.where(AuditEvent.organization_id == organization_id)
    return list(db.scalars(query.order_by(AuditEvent.seq.desc()).limit(limit)))


def _query(org_id: str, f: AuditFilter) -> Select[Any]:
    return _filtered(select(AuditEvent).where(AuditEvent.organization_id == org_id), f)


def _filtered(query: Select[Any], f: AuditFilter) -> Select[Any]:
    if f.since:
        query = query.where(AuditEvent.occurred_at >= f.since)
    if f.until:
        query = query.where(AuditEvent.occurred_at < f.until)
    if f.actor_id:
        query = query.where(AuditEvent.actor_id == f.actor_id)
    if f.action and f.action.endswith("*"):
        query = query.where(AuditEvent.action.startswith(f.action[:-1], autoescape=True))
    elif f.action:
        query = query.where(AuditEvent.action == f.action)
    if f.target_id:
        query = query.where(AuditEvent.target_id == f.target_id)
    return query


@dataclass(frozen=True)
class Verification:
    checked: int
    head_seq: int | None
    head_hash: str
    broken: chain.Break | None


def verify(db: Session) -> Verification:
    """Walk the whole chain in order; report the first event where it does not hold."""
    start_seq, start_prev = _start(db)
    walk = chain.Walk(expected_prev=start_prev, expected_seq=start_seq)
    after = 0
    head_seq: int | None = None
    while True:
        rows = db.scalars(
            select(AuditEvent).where(AuditEvent.seq > after).order_by(AuditEvent.seq).limit(_BATCH)
        ).all()
        if not rows or not walk.feed(rows):
            break
        after = head_seq = rows[-1].seq
        db.expunge_all()
    return Verification(walk.checked, head_seq, walk.head_hash, walk.broken)


def _start(db: Session) -> tuple[int | None, str]:
    """Where the chain must begin: at seq 1, or right after the last recorded prune."""
    last_prune = db.scalar(
        select(AuditEvent)
        .where(AuditEvent.action == actions.AUDIT_PRUNE)
        .order_by(AuditEvent.seq.desc())
        .limit(1)
    )
    if last_prune is None:
        return 1, chain.GENESIS
    return int(last_prune.details["throughSeq"]) + 1, str(last_prune.details["lastHash"])


def prune(sessions: sessionmaker[Session], retention_days: int) -> int:
    """Delete events older than the retention period; returns how many went.

    The deletion is itself recorded as an ``audit.prune`` event that names the last
    deleted event's seq and hash, so the shortened chain still verifies from there.
    """
    cutoff = utcnow() - timedelta(days=retention_days)
    with locked_chain(sessions) as db:
        last = db.scalar(
            select(AuditEvent)
            .where(AuditEvent.occurred_at < cutoff)
            .order_by(AuditEvent.seq.desc())
            .limit(1)
        )
        if last is None:
            return 0
        count = db.scalar(select(func.count()).where(AuditEvent.seq <= last.seq)) or 0
        details = {
            "throughSeq": last.seq,
            "lastHash": last.hash,
            "deleted": count,
            "before": cutoff.isoformat(),
            "retentionDays": retention_days,
        }
        db.execute(delete(AuditEvent).where(AuditEvent.seq <= last.seq))
        draft = EventDraft(actions.AUDIT_PRUNE, actor_kind="OPERATOR", actor_name="keyplane admin")
        draft.details = details
        append_locked(db, [draft])
        return count


def to_json(event: AuditEvent) -> str:
    return json.dumps(AuditEventOut.of(event).model_dump(mode="json", by_alias=True))
