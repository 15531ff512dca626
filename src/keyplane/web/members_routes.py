"""Console page for an organization's members (owners): list, invite, remove."""

from __future__ import annotations

from typing import Annotated

from fastapi import Form, Request
from fastapi.responses import Response

from keyplane.audit import notes as audit_notes
from keyplane.db.paging import PageParams
from keyplane.http.deps import DbSession
from keyplane.http.routing import APIRouter
from keyplane.identity import invitations
from keyplane.identity.mail import mail_sender
from keyplane.tenancy import members
from keyplane.tenancy import members_schemas as schemas
from keyplane.web import csrf
from keyplane.web.console import org_view, principal_of
from keyplane.web.context import web_of
from keyplane.web.errors import CONSOLE, form_input
from keyplane.web.pages import redirect, render

router = APIRouter(
    prefix="/console/orgs/{org_id}/members", include_in_schema=False, dependencies=[CONSOLE]
)
Text = Annotated[str, Form(max_length=2000)]
Token = Annotated[str, Form(alias=csrf.FIELD, max_length=200)]
BY_EMAIL = PageParams(offset=0, limit=1000, sorts=["email:asc"])


@router.get("")
def member_list(
    request: Request, db: DbSession, org_id: str, note: str = "", sig: str = ""
) -> Response:
    principal = principal_of(request, db)
    view = org_view(db, principal, org_id)
    rows, _ = members.list_users(db, principal, org_id, BY_EMAIL)
    context = {"view": view, "tab": "members", "members": rows,
               "note": csrf.note_of(request, "note", note, sig)[:300],
               "invite_role": schemas.InviteCreate.model_fields["role"].default}  # fmt: skip
    return render(request, "members.html", context)


@router.post("/invite")
def invite(
    request: Request, db: DbSession, org_id: str, *, email: Text, role: Text, token: Token = ""
) -> Response:
    csrf.verify(request, token)
    principal = principal_of(request, db)
    web = web_of(request)
    body = form_input(schemas.InviteCreate, {"email": email, "role": role})
    invited = invitations.invite(
        db, principal, web.settings, web.signing_key, mail_sender(web.settings), org_id, body
    )
    audit_notes.target(request, "user", invited.member.user.id)  # as the API names it
    sent = "sent again" if invited.resent else "sent"
    note = csrf.signed_note(request, "note", f"Invitation {sent} to {email}.")
    return redirect(request, f"/console/orgs/{org_id}/members?{note}")


@router.post("/{user_id}/remove")
def remove(
    request: Request, db: DbSession, org_id: str, user_id: str, token: Token = ""
) -> Response:
    csrf.verify(request, token)
    principal = principal_of(request, db)
    members.remove_user(db, principal, org_id, user_id)
    note = csrf.signed_note(request, "note", "Member removed.")
    return redirect(request, f"/console/orgs/{org_id}/members?{note}")
