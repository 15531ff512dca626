"""What a refused sign-in leaves in the audit trail: the email typed and why, never the
password (the request adds its client IP).

A person belongs to no one organization, so a refusal for an account is recorded in
each organization that account is a member of, whose owners would want to know; one
for an email no account has (or an account in no organization) in none, which only
the operators see (``keyplane admin audit list``). A successful sign-in is the
request's own event, with the person as its actor (``keyplane.audit.middleware``
puts it in the same organizations).
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from keyplane.audit.recorder import FAILURE, EventDraft, in_each
from keyplane.db.models import RoleBinding, User

LOGIN_PASSWORD = "login.password"


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
