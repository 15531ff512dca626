"""Expiry announced: one mail 14 days and one 3 days before a token expires.

``keyplane admin notify`` runs :func:`notify` from cron, on as many replicas as the
operator likes. Each notice is claimed with one statement before its mail is
composed: an ``INSERT … ON CONFLICT DO NOTHING RETURNING`` on the unique (token,
notice, expiry) key, so of concurrent runs exactly one gets each notice. The claim
commits first, the mail goes after the commit, and only a mail the server took
marks the notice sent. If the mail server is down the claim stays unsent and a run
after :data:`keyplane.hygiene.mail.LEASE` claims it again: nothing is lost. A run that
dies between sending and marking sends that notice again once the lease is over (at
least once, never silently dropped).

A notice is due when the token's time left is within its window and above the next
one: a run that missed the 14-day window sends only the 3-day one, and a token made
with less than 14 days to live gets the notices of the windows it is in from the
next run on.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from email.message import EmailMessage

from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from keyplane.config import Settings
from keyplane.db import upsert
from keyplane.db.base import utcnow
from keyplane.db.models import ApiToken, RoleBinding
from keyplane.db.unit import after_commit, unit_of_work
from keyplane.domain.ids import new_id
from keyplane.hygiene import leak_notices
from keyplane.hygiene.leaks import Revoked
from keyplane.hygiene.mail import LEASE, expiry_messages, send_all
from keyplane.hygiene.models import ExpiryNotice
from keyplane.identity.mail import MailSender

WINDOWS = (14, 3)  # days before expiry, widest first


@dataclass
class Claimed:
    notice_id: str
    messages: list[EmailMessage]


@dataclass
class Outcome:
    sent: int = 0
    failed: int = 0
    claimed: list[Claimed] = field(default_factory=list)
    # Leak notices a report could not mail (keyplane.hygiene.leak_notices).
    leaks: list[Revoked] = field(default_factory=list)
    leaks_sent: int = 0
    leaks_failed: int = 0


def notify(
    sessions: sessionmaker[Session], settings: Settings, sender: MailSender, now: datetime | None
) -> Outcome:
    """Claim every notice due at ``now`` (default: the current time), and every leak
    notice a report could not mail, then mail them."""
    now = now or utcnow()
    outcome = Outcome()
    with unit_of_work(sessions) as db:
        outcome.claimed = claim_due(db, settings, now)
        outcome.leaks = leak_notices.claim_unmailed(db, now)
        after_commit(db, lambda: _deliver(sessions, settings, sender, outcome))
    return outcome


def claim_due(db: Session, settings: Settings, now: datetime) -> list[Claimed]:
    """Claim the notices due now (new ones, and unsent ones past their lease)."""
    claimed = _reclaim_unsent(db, settings, now)
    for days, inner in zip(WINDOWS, (*WINDOWS[1:], 0), strict=True):
        due = db.scalars(
            select(ApiToken).where(
                ApiToken.end_at > now + timedelta(days=inner),
                ApiToken.end_at <= now + timedelta(days=days),
            )
        )
        for token in due:
            assert token.end_at is not None
            notice_id = _claim(db, token.id, days, token.end_at, now)
            if notice_id:
                claimed.append(Claimed(notice_id, _messages(db, settings, token)))
    return claimed


def _claim(db: Session, token_id: str, days: int, end_at: datetime, now: datetime) -> str | None:
    """The new notice's id, or None if another run claimed it first."""
    statement = (
        upsert.insert(db, ExpiryNotice)
        .values(id=new_id(), token_id=token_id, days_before=days, end_at=end_at, claimed_at=now)
        .on_conflict_do_nothing(index_elements=["token_id", "days_before", "end_at"])
        .returning(ExpiryNotice.id)
    )
    return db.execute(statement).scalar_one_or_none()


def _reclaim_unsent(db: Session, settings: Settings, now: datetime) -> list[Claimed]:
    """Notices claimed before the lease and never sent, whose token still ends then."""
    ids = db.scalars(
        update(ExpiryNotice)
        .where(
            ExpiryNotice.sent_at.is_(None),
            ExpiryNotice.claimed_at < now - LEASE,
            ExpiryNotice.end_at > now,
            select(ApiToken.id)
            .where(ApiToken.id == ExpiryNotice.token_id, ApiToken.end_at == ExpiryNotice.end_at)
            .exists(),
        )
        .values(claimed_at=now)
        .returning(ExpiryNotice.id)
        .execution_options(synchronize_session=False)
    ).all()
    claimed = []
    for notice_id in ids:
        notice = db.get(ExpiryNotice, notice_id)
        token = db.get(ApiToken, notice.token_id) if notice else None
        if token is not None:
            claimed.append(Claimed(notice_id, _messages(db, settings, token)))
    return claimed


def _messages(db: Session, settings: Settings, token: ApiToken) -> list[EmailMessage]:
    role = db.scalar(
        select(RoleBinding.role).where(
            RoleBinding.token_id == token.id, RoleBinding.level == token.scope
        )
    )
    assert token.end_at is not None
    return expiry_messages(db, settings, token, role or "", token.end_at)


def _deliver(
    sessions: sessionmaker[Session], settings: Settings, sender: MailSender, outcome: Outcome
) -> None:
    """After the claims committed: send each notice's mail, and mark the ones that went."""
    if outcome.leaks:
        outcome.leaks_sent, outcome.leaks_failed = leak_notices.deliver(
            sessions, settings, sender, outcome.leaks
        )
    sent = []
    for notice in outcome.claimed:
        if send_all(sender, notice.messages):
            sent.append(notice.notice_id)
            outcome.sent += 1
        else:
            outcome.failed += 1
    if sent:
        with unit_of_work(sessions) as db:
            db.execute(
                update(ExpiryNotice)
                .where(ExpiryNotice.id.in_(sent))
                .values(sent_at=utcnow())
                .execution_options(synchronize_session=False)
            )
