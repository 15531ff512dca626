"""Leak notices: the owners' mail about a leaked credential that was revoked, sent
until the mail server took it.

The report that revokes a credential claims its notice (``leaked_secrets``
``mail_claimed_at``) in its own unit of work and mails it after the answer
(:mod:`keyplane.hygiene.routes`); only a mail the server took sets ``mailed_at``. A
notice the mail server did not take is claimed again by ``keyplane admin notify`` once
its lease (:data:`keyplane.hygiene.mail.LEASE`) is over, by one run of any number at
once (a conditional ``UPDATE … RETURNING``), like an expiry notice: a mail outage
delays the owners' warning, it never loses it.
"""

from __future__ import annotations

import logging
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from keyplane.config import Settings
from keyplane.db.base import utcnow
from keyplane.db.unit import read_only, unit_of_work
from keyplane.hygiene.leaks import Revoked, revoked_of
from keyplane.hygiene.mail import LEASE, leak_messages, send_all
from keyplane.hygiene.models import LeakedSecret
from keyplane.identity.mail import MailSender

log = logging.getLogger(__name__)


def claim_unmailed(db: Session, now: datetime) -> list[Revoked]:
    """The notices claimed before the lease and never mailed, claimed again now.

    Only notices a report claimed: a row without a claim was written by a release that
    did not keep the mail's state (a replica not yet upgraded), which tried its mail
    itself and did not store what the mail names."""
    hashes = db.scalars(
        update(LeakedSecret)
        .where(LeakedSecret.mailed_at.is_(None), LeakedSecret.mail_claimed_at < now - LEASE)
        .values(mail_claimed_at=now)
        .returning(LeakedSecret.secret_hash)
        .execution_options(synchronize_session=False)
    ).all()
    if not hashes:
        return []
    rows = db.scalars(select(LeakedSecret).where(LeakedSecret.secret_hash.in_(hashes)))
    return [revoked_of(row) for row in rows]


def deliver(
    sessions: sessionmaker[Session], settings: Settings, sender: MailSender, revoked: list[Revoked]
) -> tuple[int, int]:
    """Compose and send each notice, then mark those that are done (the mail server
    took or finally refused every copy; or the organization has no owner left to
    tell); returns (sent, not sent). Runs after the unit that claimed them committed.
    One notice that fails, however, never keeps the others from going."""
    went, sent, failed = [], 0, 0
    for each in revoked:
        try:
            with read_only(sessions) as db:
                messages = leak_messages(db, settings, each)
            done = send_all(sender, messages)
        except Exception:
            log.exception("could not compose the leak notice of %s", each.credential_id)
            done = False
        if done:
            went.append(each.credential_id)
            sent += bool(messages)
        else:
            failed += 1
    if went:
        with unit_of_work(sessions) as db:
            db.execute(
                update(LeakedSecret)
                .where(LeakedSecret.credential_id.in_(went), LeakedSecret.mailed_at.is_(None))
                .values(mailed_at=utcnow())
                .execution_options(synchronize_session=False)
            )
    return sent, failed
