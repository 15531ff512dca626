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

from sqlalchemy import select
from sqlalchemy.orm import Session

from keyplane.auth.principal import Principal
from keyplane.config import Settings
from keyplane.db.base import utcnow
from keyplane.db.models import Organization, User
from keyplane.domain.credentials import hash_secret
from keyplane.domain.errors import NotFound
from keyplane.identity.mail import MailSender, compose
from keyplane.identity.models import Invitation
from keyplane.tenancy import members
from keyplane.tenancy import members_schemas as schemas

INVALID = "this invitation link is not valid: it was used already, has expired, or was altered"


@dataclass(frozen=True)
class OpenInvitation:
    invitation: Invitation
    user: User
    organization: Organization


def invite(
    db: Session,
    principal: Principal,
    settings: Settings,
    key: bytes,
    sender: MailSender,
    org_id: str,
    data: schemas.InviteCreate,
) -> members.Member:
    """Make the email a member (as before) and mail them a link to set up their sign-in."""
    member = members.invite(db, principal, org_id, data)
    expires = int(time.time()) + settings.invitation_ttl_hours * 3600
    link = sign(key, secrets.token_urlsafe(24), expires)
    db.add(
        Invitation(
            organization_id=org_id,
            user_id=member.user.id,
            email=member.user.email,
            role=data.role,
            secret_hash=hash_secret(link),
            expires_at=datetime.fromtimestamp(expires, UTC),
            created_by=principal.actor(),
        )
    )
    db.commit()
    org = db.get(Organization, org_id)
    name = org.name if org else org_id
    url = f"{settings.public_url.rstrip('/')}/invite/{link}"
    body = (
        f"{principal.name} invited you to the organization {name} on keyplane, "
        f"as {data.role}.\n\nSet up your sign-in here (the link works once, "
        f"for {settings.invitation_ttl_hours} hours):\n\n{url}\n"
    )
    sender.send(
        compose(settings, member.user.email, f"You are invited to {name} on keyplane", body)
    )
    return member


def sign(key: bytes, nonce: str, expires: int) -> str:
    signature = hmac.new(key, f"{nonce}.{expires}".encode(), hashlib.sha256).hexdigest()[:32]
    return f"{nonce}.{expires}.{signature}"


def open_invitation(db: Session, key: bytes, link: str) -> OpenInvitation:
    """The live invitation behind a link; NotFound (one message for every reason) otherwise."""
    nonce, _, rest = link.partition(".")
    expires, _, _ = rest.partition(".")
    if not expires.isdigit() or not hmac.compare_digest(sign(key, nonce, int(expires)), link):
        raise NotFound(INVALID)
    if int(expires) < time.time():
        raise NotFound(INVALID)
    row = db.scalar(select(Invitation).where(Invitation.secret_hash == hash_secret(link)))
    if row is None or row.used_at is not None or row.expires_at <= utcnow():
        raise NotFound(INVALID)
    user, org = db.get(User, row.user_id), db.get(Organization, row.organization_id)
    if user is None or org is None:
        raise NotFound(INVALID)
    return OpenInvitation(row, user, org)


def use(db: Session, opened: OpenInvitation) -> None:
    opened.invitation.used_at = utcnow()
    db.commit()
