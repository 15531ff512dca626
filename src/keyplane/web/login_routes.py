"""Identifier-first sign-in: the email step, the password step, sign-out."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import urlencode

from fastapi import Form, Request
from fastapi.responses import Response
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from keyplane.audit.notes import detail, note
from keyplane.db.models import User
from keyplane.domain.errors import NotAuthenticated
from keyplane.http.deps import DbSession, client_ip
from keyplane.http.errors import show_errors_as
from keyplane.http.routing import APIRouter
from keyplane.identity import login, login_audit, sessions
from keyplane.web import csrf
from keyplane.web.context import Web, web_of
from keyplane.web.errors import ErrorPage, message_page, pages_fail_as
from keyplane.web.pages import redirect, render, safe_next, set_cookie, signed_in

router = APIRouter(
    include_in_schema=False,
    dependencies=[pages_fail_as(message_page("That did not work", "/login"))],
)
Text = Annotated[str, Form(max_length=2000)]
Token = Annotated[str, Form(alias=csrf.FIELD, max_length=200)]


@router.get("/")
def home(request: Request, *, db: DbSession) -> Response:
    return redirect(request, "/console" if signed_in(request, db) else "/login")


@router.get("/login")
def email_step(request: Request, *, next: str | None = None, email: str = "") -> Response:
    return render(request, "login_email.html", {"next": safe_next(next), "email": email[:320]})


@router.post("/login")
def submit_email(
    request: Request, *, db: DbSession, email: Text, token: Token = "", next: Text = ""
) -> Response:
    """Send SSO domains to their provider; every other email gets the password step.

    Whether the account exists is not looked up here, so the answer cannot tell.
    """
    csrf.verify(request, token)
    target = safe_next(next)
    show_errors_as(request, _form("login_email.html", target, email))
    email = login.normalize_email(email)
    connection = login.sso_connection_for(db, email)
    if connection is not None:
        query = urlencode({"login_hint": email, "next": target})
        return redirect(request, f"/sso/{connection.id}/start?{query}")
    return render(request, "login_password.html", {"next": target, "email": email})


@router.post("/login/password")
async def submit_password(
    request: Request,
    *,
    db: DbSession,
    email: Text,
    password: Text,
    token: Token = "",
    next: Text = "",
) -> Response:
    csrf.verify(request, token)
    web = web_of(request)
    target = safe_next(next)
    ip = client_ip(request)
    show_errors_as(request, _form("login_password.html", target, email))
    user = await run_in_threadpool(_checked, request, db, web, email, password, ip)
    # The request's event (login.password) has the person as its actor.
    request.state.principal = sessions.user_principal(db, user)
    name = sessions.cookie_name(web.settings)
    value = sessions.start_session(
        db, web.settings, user, client_ip=ip, user_agent=request.headers.get("user-agent", ""),
        replaces=request.cookies.get(name),
    )  # fmt: skip
    response = redirect(request, target)
    set_cookie(request, response, name, value)
    return response


def _checked(request: Request, db: Session, web: Web, email: str, password: str, ip: str) -> User:
    """The user whose password this is. A refusal is noted for the audit trail with the
    email typed and why; one over the guard's limits (429) is not: floods must not fill
    the log, and the guard's limits bound the refusals that are."""
    try:
        return login.password_login(db, web.passwords, web.guard, email, password, ip)
    except NotAuthenticated as refused:
        typed = login.normalize_email(email)  # an email, or password_login had said so
        for draft in login_audit.refused_password(db, typed, str(refused)):
            note(request, draft)
        raise


def _form(template: str, target: str, email: str) -> ErrorPage:
    """A sign-in step again, with the email typed and what went wrong."""
    return ErrorPage(template, "error", context={"next": target, "email": email[:320]})


@router.post("/logout")
def logout(
    request: Request, *, db: DbSession, token: Token = "", everywhere: Text = ""
) -> Response:
    csrf.verify(request, token)
    settings = web_of(request).settings
    name = sessions.cookie_name(settings)
    found = signed_in(request, db)
    if found is not None:  # the request's event (logout) has the person as its actor
        request.state.principal = found.principal
        detail(request, {"everywhere": bool(everywhere)})
    if everywhere and found is not None:
        sessions.end_all_sessions(db, found.user.id)
    else:
        sessions.end_session(db, request.cookies.get(name))
    response = redirect(request, "/login?signed_out=1")
    response.delete_cookie(name, path="/", secure=settings.cookie_secure, httponly=True)
    return response
