"""The page an invitation link opens: set a password, or continue with SSO."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import urlencode

from fastapi import Form, Request
from fastapi.responses import Response

from keyplane.http.deps import DbSession, client_ip
from keyplane.http.errors import show_errors_as
from keyplane.http.routing import APIRouter
from keyplane.identity import invitations, sessions
from keyplane.identity.accounts import set_password
from keyplane.identity.login import sso_connection_for
from keyplane.web import csrf
from keyplane.web.context import web_of
from keyplane.web.errors import ErrorPage, message_page, pages_fail_as
from keyplane.web.pages import redirect, render, set_cookie

router = APIRouter(
    prefix="/invite",
    include_in_schema=False,
    dependencies=[pages_fail_as(message_page("Invitation not valid", "/login"))],
)
Text = Annotated[str, Form(max_length=2000)]
Token = Annotated[str, Form(alias=csrf.FIELD, max_length=200)]
PAGE = "invite.html"


def _context(db: DbSession, opened: invitations.OpenInvitation) -> dict[str, object]:
    """What the invitation page shows, as plain values (it may be shown with an error)."""
    connection = sso_connection_for(db, opened.user.email)
    return {
        "organization_name": opened.organization.name,
        "role": opened.invitation.role,
        "email": opened.user.email,
        "sso_name": connection.name if connection else None,
        "enforce_sso": bool(connection and connection.enforce_sso),
        "has_password": opened.user.password_hash is not None,
    }


@router.get("/{link}")
def invitation_page(request: Request, db: DbSession, link: str) -> Response:
    opened = invitations.open_invitation(db, web_of(request).signing_key, link)
    response = render(request, PAGE, _context(db, opened))
    response.headers["Referrer-Policy"] = "no-referrer"  # the URL holds the secret
    return response


@router.post("/{link}")
def accept(
    request: Request,
    db: DbSession,
    link: str,
    *,
    password: Text = "",
    action: Text = "password",
    token: Token = "",
) -> Response:
    csrf.verify(request, token)
    web = web_of(request)
    opened = invitations.open_invitation(db, web.signing_key, link)
    # The link, mailed to the person, proves who accepts: the request's event
    # (member.accept_invite) has them as its actor, in their organizations' logs.
    request.state.principal = sessions.user_principal(db, opened.user)
    email = opened.user.email
    if action == "sso" and (connection := sso_connection_for(db, email)) is not None:
        invitations.use(db, opened)
        query = urlencode({"login_hint": email, "next": "/console"})
        return redirect(request, f"/sso/{connection.id}/start?{query}")
    if opened.user.password_hash is not None:
        invitations.use(db, opened)  # already set up: the membership is all there was to do
        return redirect(request, "/login?" + urlencode({"email": email}))
    show_errors_as(request, ErrorPage(PAGE, "error", context=_context(db, opened)))
    invitations.use(db, opened)  # first: a link raced from two browsers is spent once
    user = set_password(db, web.settings, email, password)
    name = sessions.cookie_name(web.settings)
    value = sessions.start_session(
        db, web.settings, user, client_ip=client_ip(request),
        user_agent=request.headers.get("user-agent", ""), replaces=request.cookies.get(name),
    )  # fmt: skip
    response = redirect(request, "/console")
    set_cookie(request, response, name, value)
    return response
