"""Who hears about a credential, and what the mail says: the token, and the fix.

Recipients are the organization's owners (and, for expiry, the token's creator
while still a member). Messages are composed inside the unit of work, which reads
the recipients, and sent only after it commits (:func:`send_all`). A message never
holds a credential's value: the ``shortToken`` excerpt names it.
"""

from __future__ import annotations

import logging
import smtplib
from collections.abc import Iterable
from datetime import datetime, timedelta
from email.message import EmailMessage

from sqlalchemy import select
from sqlalchemy.orm import Session

from keyplane.auth.principal import PrincipalKind
from keyplane.config import Settings
from keyplane.db.models import ApiToken, Organization, RoleBinding, User
from keyplane.domain.roles import Level, Role
from keyplane.hygiene.leaks import API_KEY, Revoked
from keyplane.identity.mail import MailSender, compose

log = logging.getLogger(__name__)

# A notice claimed and not sent (the mail server did not take it) is claimed again by a
# run of ``keyplane admin notify`` this long after: expiry and leak notices alike.
LEASE = timedelta(minutes=10)


def owners(db: Session, org_id: str) -> list[str]:
    """The emails of the organization's owners, in a stable order."""
    return list(
        db.scalars(
            select(User.email)
            .join(RoleBinding, RoleBinding.user_id == User.id)
            .where(
                RoleBinding.organization_id == org_id,
                RoleBinding.level == Level.ORGANIZATION.value,
                RoleBinding.role == Role.ORGANIZATION_OWNER.value,
            )
            .order_by(User.email)
        )
    )


def creator(db: Session, token: ApiToken) -> str | None:
    """The email of the user who created the token, if they are still a member."""
    made_by = token.created_by or {}
    if made_by.get("kind") != PrincipalKind.USER.value:
        return None
    return db.scalar(
        select(User.email)
        .join(RoleBinding, RoleBinding.user_id == User.id)
        .where(
            User.id == made_by.get("id"),
            RoleBinding.organization_id == token.organization_id,
            RoleBinding.level == Level.ORGANIZATION.value,
        )
        .limit(1)
    )


def organization_name(db: Session, org_id: str) -> str:
    org = db.get(Organization, org_id)
    return org.name if org else org_id


def leak_messages(db: Session, settings: Settings, revoked: Revoked) -> list[EmailMessage]:
    """The owners' mail about one revoked credential."""
    org = organization_name(db, revoked.organization_id)
    what = "deployment API key" if revoked.credential_type == API_KEY else "API token"
    where = revoked.sighting.url or "(no address given)"
    body = (
        f"The {what} {revoked.name!r} of the organization {org} was found where it "
        f"should not be, and keyplane has revoked it: it no longer works.\n\n"
        f"  {what}:  {revoked.name} ({revoked.credential_id})\n"
        f"  shortToken: {revoked.short_token}…\n"
        f"  scope:      {revoked.scope} ({revoked.entity_id})\n"
        f"  role:       {revoked.role}\n"
        f"  found by:   {revoked.sighting.reporter}\n"
        f"  where:      {where}\n"
        f"  source:     {revoked.sighting.source or '(not given)'}\n\n"
        f"What to do now:\n"
        f"1. Make a new credential with the same role and put it where the old one was "
        f"used (your CI secret store):\n     {_fix(revoked)}\n"
        f"2. Remove the value from where it was found: it is dead, but keep secrets out "
        f"of logs, commits and tickets.\n"
        f"3. Read what it did before it was revoked: keyplane audit list --target-id "
        f"{revoked.credential_id}\n"
    )
    subject = f"keyplane: the {what} {revoked.name!r} of {org} leaked and was revoked"
    return [compose(settings, to, subject, body) for to in owners(db, revoked.organization_id)]


def _fix(revoked: Revoked) -> str:
    """The command that makes its replacement."""
    level = Level(revoked.scope)
    entity = {
        Level.ORGANIZATION: "",
        Level.WORKSPACE: f" --workspace-id {revoked.entity_id}",
        Level.DEPLOYMENT: f" --deployment-id {revoked.entity_id}",
    }[level]
    return (
        f"keyplane {level.value.lower()} token create{entity} --name {revoked.name!r} "
        f"--role {revoked.role}"
    )


def expiry_messages(
    db: Session, settings: Settings, token: ApiToken, role: str, end_at: datetime
) -> list[EmailMessage]:
    """The owners' (and the creator's) mail announcing that a token expires."""
    org = organization_name(db, token.organization_id)
    recipients = owners(db, token.organization_id)
    made_by = creator(db, token)
    if made_by and made_by not in recipients:
        recipients.append(made_by)
    scope = token.scope.lower()
    days = max(0, (end_at.date() - datetime.now(end_at.tzinfo).date()).days)
    body = (
        f"The API token {token.name!r} of the organization {org} expires on "
        f"{end_at:%Y-%m-%d %H:%M} UTC, in {days} day(s). After that, every job using it "
        f"is refused.\n\n"
        f"  token:      {token.name} ({token.id})\n"
        f"  shortToken: {token.short_token}…\n"
        f"  scope:      {token.scope}\n"
        f"  role:       {role}\n\n"
        f"To keep it working, rotate it before then and put the new value where the old "
        f"one is used (the expiry period starts again):\n"
        f"     keyplane {scope} token rotate {token.id}\n"
        f"If nothing uses it any more, let it expire, or delete it.\n"
    )
    subject = f"keyplane: the API token {token.name!r} of {org} expires in {days} day(s)"
    return [compose(settings, to, subject, body) for to in recipients]


def send_all(sender: MailSender, messages: Iterable[EmailMessage]) -> bool:
    """Send each message; True unless one may go if tried again. Failures are logged,
    never raised: what the mail announces has already happened.

    A mail server that is away or answers 4xx may take the message later: False, and
    the notice is claimed again after its lease. One that refuses a message for good
    (5xx, such as an unknown mailbox) will refuse it on every retry, and a retry would
    only send the other recipients the same mail again: that refusal is logged, and
    final."""
    sent = True
    for message in messages:
        try:
            sender.send(message)
        except OSError as error:  # smtplib's errors are OSErrors too
            final = _refused_for_good(error)
            log.warning(
                "a mail to %s was not sent%s: %s",
                message["To"],
                " (refused for good: not retried)" if final else "",
                type(error).__name__,
            )
            sent = sent and final
    return sent


def _refused_for_good(error: OSError) -> bool:
    if isinstance(error, smtplib.SMTPRecipientsRefused):
        return all(code >= 500 for code, _ in error.recipients.values())
    return isinstance(error, smtplib.SMTPResponseException) and error.smtp_code >= 500
