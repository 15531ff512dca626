"""What a sign-in leaves in the audit trail (the request adds its client IP).

A password sign-in: a refusal names the email typed and why, never the password. A
person belongs to no one organization, so a refusal for an account is recorded in
each organization that account is a member of, whose owners would want to know; one
for an email no account has (or an account in no organization) in none, which only
the operators see. A success is the request's own event, with the person as its
actor (``keyplane.audit.middleware`` puts it in the same organizations).

A single sign-on goes to the connection's organization, whose provider vouched (or
would not): the person, and whether their account or membership was made just now;
or why it was refused.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from keyplane.audit.recorder import FAILURE, SUCCESS, EventDraft, in_each
from keyplane.auth.principal import Principal
from keyplane.db.models import RoleBinding, User
from keyplane.domain.credentials import screened
from keyplane.identity.models import SsoConnection
from keyplane.identity.sso_login import SsoSignIn

LOGIN_PASSWORD = "login.password"
LOGIN_SSO = "login.sso"


def refused_password(db: Session, email: str, reason: str) -> list[EventDraft]:
    """The events of a refused password sign-in for ``email`` (in its one form)."""
    # One query whether or not the account exists, so the refusal costs the same reads.
    rows = db.execute(
        select(User.id, RoleBinding.organization_id)
        .outerjoin(RoleBinding, RoleBinding.user_id == User.id)
        .where(User.email == email)
    ).all()
    draft = EventDraft(LOGIN_PASSWORD, FAILURE, status_code=401)
    draft.details = {"email": email, "reason": reason}
    if rows:
        draft.target_type, draft.target_id = "user", rows[0][0]
    return in_each(draft, [org_id for _, org_id in rows if org_id is not None])


def sso_signed_in(connection: SsoConnection, signed: SsoSignIn, person: Principal) -> EventDraft:
    """The event of a single sign-on through ``connection`` (the request answers 303)."""
    draft = EventDraft(LOGIN_SSO, SUCCESS, connection.organization_id, status_code=303)
    draft.by(person)
    draft.target_type, draft.target_id = "sso_connection", connection.id
    draft.details = {"justInTime": signed.created, "joined": signed.joined}
    return draft


def sso_refused(connection: SsoConnection, reason: str) -> EventDraft:
    """The event of a single sign-on through ``connection`` that was refused (401)."""
    draft = EventDraft(LOGIN_SSO, FAILURE, connection.organization_id, status_code=401)
    draft.target_type, draft.target_id = "sso_connection", connection.id
    draft.details = {"reason": screened(reason)[:300]}  # the provider's words, perhaps
    return draft
