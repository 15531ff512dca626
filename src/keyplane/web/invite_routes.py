"""The page an invitation link opens: set a password, or continue with SSO."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import urlencode

from fastapi import Form, Request
from fastapi.responses import Response

from keyplane.domain.errors import DomainError
from keyplane.http.deps import DbSession, client_ip
from keyplane.http.routing import APIRouter
from keyplane.identity import invitations, sessions
from keyplane.identity.accounts import set_password
from keyplane.identity.login import sso_connection_for
from keyplane.web import csrf
from keyplane.web.context import web_of
from keyplane.web.pages import redirect, render, set_cookie

router = APIRouter(prefix="/invite", include_in_schema=False)
Text = Annotated[str, Form(max_length=2000)]
Token = Annotated[str, Form(alias=csrf.FIELD, max_length=200)]


def _page(
    request: Request, db: DbSession, link: str, error: str = "", status: int = 200
) -> Response:
    opened = invitations.open_invitation(db, web_of(request).signing_key, link)
    connection = sso_connection_for(db, opened.user.email)
    context = {
        "invitation": opened.invitation,
        "organization": opened.organization,
        "email": opened.user.email,
        "sso": connection,
        "has_password": opened.user.password_hash is not None,
        "error": error,
    }
    response = render(request, "invite.html", context, status)
    response.headers["Referrer-Policy"] = "no-referrer"  # the URL holds the secret
    return response


def _invalid(request: Request, error: DomainError) -> Response:
    context = {"title": "Invitation not valid", "message": error.message, "back": "/login"}
    return render(request, "message.html", context, error.status_code)


@router.get("/{link}")
def invitation_page(request: Request, db: DbSession, link: str) -> Response:
    try:
        return _page(request, db, link)
    except DomainError as error:
        return _invalid(request, error)


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
    try:
        opened = invitations.open_invitation(db, web.signing_key, link)
    except DomainError as error:
        return _invalid(request, error)
    email = opened.user.email
    if action == "sso" and (connection := sso_connection_for(db, email)) is not None:
        invitations.use(db, opened)
        query = urlencode({"login_hint": email, "next": "/console"})
        return redirect(request, f"/sso/{connection.id}/start?{query}")
    if opened.user.password_hash is not None:
        invitations.use(db, opened)  # already set up: the membership is all there was to do
        return redirect(request, "/login?" + urlencode({"email": email}))
    try:
        user = set_password(db, web.settings, email, password)
    except DomainError as error:
        return _page(request, db, link, error.message, error.status_code)
    invitations.use(db, opened)
    value = sessions.start_session(
        db, web.settings, user, client_ip=client_ip(request),
        user_agent=request.headers.get("user-agent", ""),
    )  # fmt: skip
    response = redirect(request, "/console")
    set_cookie(request, response, sessions.cookie_name(web.settings), value)
    return response
