"""Invitations: a signed, single-use, expiring link mailed to the person invited.

The link is ``/invite/<nonce>.<expiry>.<signature>``: the HMAC (a key derived from
the encryption keys) lets a forged or altered link be refused without a database
read; the database keeps only a SHA-256 of the whole value and marks it used.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from email.message import EmailMessage

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from keyplane.auth.principal import Principal
from keyplane.config import Settings
from keyplane.db.base import utcnow
from keyplane.db.models import Organization, User
from keyplane.db.unit import after_commit
from keyplane.domain.access import Entity, authorize
from keyplane.domain.credentials import hash_secret
from keyplane.domain.errors import Conflict, NotFound
from keyplane.domain.roles import Level, Permission
from keyplane.identity.mail import MailNotSent, MailSender, compose
from keyplane.identity.models import Invitation
from keyplane.tenancy import members
from keyplane.tenancy import members_schemas as schemas
from keyplane.tenancy.granting import check_grantable

LINK_KEY = "keyplane links v1"  # what the links' HMAC key is derived for
INVALID = "this invitation link is not valid: it was used already, has expired, or was altered"


@dataclass(frozen=True)
class OpenInvitation:
    invitation: Invitation
    user: User
    organization: Organization


@dataclass(frozen=True)
class Invited:
    member: members.Member
    resent: bool  # already a member with a pending invitation: a new link goes out


def invite(
    db: Session,
    principal: Principal,
    settings: Settings,
    key: bytes,
    sender: MailSender,
    org_id: str,
    data: schemas.InviteCreate,
) -> Invited:
    """Make the email a member with a pending invitation, and mail the link after commit.

    The membership and the invitation are stored in the caller's unit of work; the
    mail goes out only once it commits. Inviting a member whose invitation is still
    pending (not used yet) sends a new link, and the old one stops working: that is
    how a mail that did not go out is sent again. Raises Conflict for a member with
    no pending invitation (or one pending with another role), and, after the commit,
    MailNotSent if the mail server could not take the message: the invitation stands.
    """
    own = Entity.organization(org_id)
    authorize(principal, Permission.ORGANIZATION_USERS_MANAGE, own)
    member = members.find_member(db, org_id, data.email)
    resent = member is not None
    if member is None:
        member = members.invite(db, principal, org_id, data)
        # A removed member's invitation may linger: it is renewed, not doubled.
        invitation = _pending(db, org_id, member.user.id) or _new(db, org_id, member.user.id)
    else:
        invitation = _to_resend(db, principal, org_id, own, member, data.role)
    link = _renew(invitation, principal, settings, key, member.user.email, data.role)
    db.flush()
    message = _message(db, principal, settings, org_id, member.user.email, data.role, link)
    after_commit(db, lambda: _send(sender, message))
    return Invited(member, resent)


def _to_resend(
    db: Session, principal: Principal, org_id: str, own: Entity, member: members.Member, role: str
) -> Invitation:
    """The member's pending invitation, if inviting them again may re-send it."""
    invitation = _pending(db, org_id, member.user.id)
    if invitation is None:
        raise Conflict(f"{member.user.email} is already a member of this organization")
    # Re-sending is inviting again: only with the role it holds, and one the caller may grant.
    check_grantable(db, principal, org_id, [(Level.ORGANIZATION, org_id, role)], own, set())
    if invitation.role != role:
        raise Conflict(
            f"{member.user.email} is already invited as {invitation.role}: invite them "
            "with that role to re-send the invitation, or change their roles once they joined"
        )
    return invitation


def _new(db: Session, org_id: str, user_id: str) -> Invitation:
    invitation = Invitation(organization_id=org_id, user_id=user_id)
    db.add(invitation)
    return invitation


def _pending(db: Session, org_id: str, user_id: str) -> Invitation | None:
    return db.scalar(
        select(Invitation)
        .where(
            Invitation.organization_id == org_id,
            Invitation.user_id == user_id,
            Invitation.used_at.is_(None),
        )
        .order_by(Invitation.created_at.desc())
        .limit(1)
    )


def _renew(
    invitation: Invitation,
    principal: Principal,
    settings: Settings,
    key: bytes,
    email: str,
    role: str,
) -> str:
    """Give the invitation a new link (any older one stops working) and a new expiry."""
    expires = int(time.time()) + settings.invitation_ttl_hours * 3600
    link = sign(key, secrets.token_urlsafe(24), expires)
    invitation.email = email
    invitation.role = role
    invitation.secret_hash = hash_secret(link)
    invitation.expires_at = datetime.fromtimestamp(expires, UTC)
    invitation.created_by = principal.actor()
    return link


def _message(
    db: Session,
    principal: Principal,
    settings: Settings,
    org_id: str,
    email: str,
    role: str,
    link: str,
) -> EmailMessage:
    org = db.get(Organization, org_id)
    name = org.name if org else org_id
    url = f"{settings.public_url.rstrip('/')}/invite/{link}"
    body = (
        f"{principal.name} invited you to the organization {name} on keyplane, "
        f"as {role}.\n\nSet up your sign-in here (the link works once, "
        f"for {settings.invitation_ttl_hours} hours):\n\n{url}\n"
    )
    return compose(settings, email, f"You are invited to {name} on keyplane", body)


def _send(sender: MailSender, message: EmailMessage) -> None:
    try:
        sender.send(message)
    except OSError as error:  # smtplib's errors are OSErrors too
        raise MailNotSent(
            f"the invitation for {message['To']} is stored, but its mail could not be sent "
            f"({type(error).__name__}): invite {message['To']} again to re-send it with a "
            "new link"
        ) from error


def sign(key: bytes, nonce: str, expires: int) -> str:
    signature = hmac.new(key, f"{nonce}.{expires}".encode(), hashlib.sha256).hexdigest()[:32]
    return f"{nonce}.{expires}.{signature}"


def open_invitation(db: Session, key: bytes, link: str) -> OpenInvitation:
    """The live invitation behind a link; NotFound (one message for every reason) otherwise."""
    nonce, _, rest = link.partition(".")
    expires, _, _ = rest.partition(".")
    # ASCII digits only: "²".isdigit() is true and int() refuses it.
    well_formed = expires.isascii() and expires.isdigit() and len(expires) <= 12
    if not well_formed or not hmac.compare_digest(sign(key, nonce, int(expires)), link):
        raise NotFound(INVALID)
    if int(expires) < time.time():
        raise NotFound(INVALID)
    row = db.scalar(select(Invitation).where(Invitation.secret_hash == hash_secret(link)))
    if row is None or row.used_at is not None or row.expires_at <= utcnow():
        raise NotFound(INVALID)
    user, org = db.get(User, row.user_id), db.get(Organization, row.organization_id)
    if user is None or org is None:
        raise NotFound(INVALID)
    if members.find_member(db, org.id, user.id) is None:
        raise NotFound(INVALID)  # removed since the invitation was sent: it ended with them
    return OpenInvitation(row, user, org)


def use(db: Session, opened: OpenInvitation) -> None:
    """Spend the invitation: one conditional UPDATE, so that of acceptances racing for
    one link exactly one wins; the others (their row came back used) get NotFound, and
    their unit of work, a password set included, rolls back."""
    spent = db.execute(
        update(Invitation)
        .where(Invitation.id == opened.invitation.id, Invitation.used_at.is_(None))
        .values(used_at=utcnow())
        .returning(Invitation.id)
    ).first()
    if spent is None:
        raise NotFound(INVALID)
