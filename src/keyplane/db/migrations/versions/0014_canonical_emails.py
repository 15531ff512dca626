"""Email addresses in their one form (``keyplane.domain.emails``): a domain stored in
Unicode (``carol@münchen.example``, as the invitation schema used to store it) is
rewritten to ASCII (``carol@xn--mnchen-3ya.example``), which is how every lookup now
writes it, in ``users`` and ``invitations``. A user whose ASCII form another row
already has is left as it is and named in the log, for the operator to merge: two
accounts are never folded into one silently.

Revision ID: 0014_canonical_emails
Revises: 0013_sso_domain_verification
"""

from __future__ import annotations

import logging

import sqlalchemy as sa
from alembic import op

from keyplane.domain.emails import canonical

revision = "0014_canonical_emails"
down_revision = "0013_sso_domain_verification"
branch_labels = None
depends_on = None

log = logging.getLogger("alembic.runtime.migration")


def upgrade() -> None:
    connection = op.get_bind()
    users = sa.table("users", sa.column("id"), sa.column("email"))
    taken = {email for (email,) in connection.execute(sa.select(users.c.email))}
    for user_id, email in connection.execute(sa.select(users.c.id, users.c.email)).all():
        new = _canonical(email)
        if new == email:
            continue
        if new in taken:
            log.warning("user %s (%s): another account has %s; left as it is", user_id, email, new)
            continue
        connection.execute(users.update().where(users.c.id == user_id).values(email=new))
        taken.add(new)
    invitations = sa.table("invitations", sa.column("id"), sa.column("email"))
    for row_id, email in connection.execute(sa.select(invitations.c.id, invitations.c.email)).all():
        new = _canonical(email)
        if new != email:
            connection.execute(
                invitations.update().where(invitations.c.id == row_id).values(email=new)
            )


def downgrade() -> None:
    """Nothing to undo: the ASCII form is the same address."""


def _canonical(email: str) -> str:
    try:
        return canonical(email)
    except ValueError:
        return email
