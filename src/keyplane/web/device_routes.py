"""Pages where a signed-in person approves a CLI login: /device and /oauth/authorize."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import urlencode

from fastapi import Form, Request
from fastapi.responses import Response

from keyplane.http.deps import DbSession
from keyplane.http.errors import show_errors_as
from keyplane.http.routing import APIRouter
from keyplane.identity import authorize, device
from keyplane.web import csrf
from keyplane.web.errors import ErrorPage, message_page, pages_fail_as
from keyplane.web.pages import redirect, render, require_signed_in

router = APIRouter(
    include_in_schema=False,
    dependencies=[pages_fail_as(message_page("That did not work", "/console", error_role=1))],
)
Text = Annotated[str, Form(max_length=2000)]
Token = Annotated[str, Form(alias=csrf.FIELD, max_length=200)]


def _code_form(user_code: str) -> ErrorPage:
    """The user-code form again, with what was typed and what is wrong with it."""
    return ErrorPage("device_code.html", "error", context={"user_code": user_code[:20]})


@router.get("/device")
def device_page(request: Request, db: DbSession, user_code: str = "") -> Response:
    me = require_signed_in(request, db)
    if not user_code:
        return render(request, "device_code.html", {})
    show_errors_as(request, _code_form(user_code))
    pending = device.pending(db, user_code)
    context = {"user_code": pending.user_code, "email": me.user.email}
    return render(request, "device_confirm.html", context)


@router.post("/device")
def device_decision(
    request: Request, db: DbSession, *, user_code: Text, decision: Text = "", token: Token = ""
) -> Response:
    csrf.verify(request, token)
    me = require_signed_in(request, db)
    show_errors_as(request, _code_form(user_code))
    if not decision:  # the code form: show the confirmation
        code = device.check_user_code_input(user_code)
        return redirect(request, f"/device?{urlencode({'user_code': code})}")
    device.decide(db, user_code, me.user.id, approve=decision == "approve")
    title = "Device approved" if decision == "approve" else "Sign-in refused"
    message = (
        "You can close this window: the CLI is signed in as you."
        if decision == "approve"
        else "The CLI was not signed in."
    )
    return render(request, "message.html", {"title": title, "message": message, "back": "/console"})


@router.get("/oauth/authorize")
def authorize_page(
    request: Request,
    db: DbSession,
    client_id: str = "",
    redirect_uri: str = "",
    response_type: str = "",
    state: str = "",
    code_challenge: str = "",
    code_challenge_method: str = "",
) -> Response:
    """RFC 6749 §4.1.1: ask the signed-in person whether the CLI may act as them."""
    me = require_signed_in(request, db)
    show_errors_as(request, message_page("Cannot sign in the CLI", "", error_role=1))
    if response_type != "code":
        raise authorize.InvalidInput("response_type must be code")
    authorize.check_request(client_id, redirect_uri, code_challenge, code_challenge_method)
    context = {
        "email": me.user.email,
        "client_id": client_id,
        "redirect_uri": redirect_uri,
        "state": state[:500],
        "code_challenge": code_challenge,
    }
    return render(request, "authorize.html", context)


@router.post("/oauth/authorize")
def authorize_decision(
    request: Request,
    db: DbSession,
    *,
    client_id: Text,
    redirect_uri: Text,
    code_challenge: Text,
    state: Text = "",
    decision: Text = "",
    token: Token = "",
) -> Response:
    csrf.verify(request, token)
    me = require_signed_in(request, db)
    show_errors_as(request, ErrorPage(context={"title": "Error"}))
    authorize.check_request(client_id, redirect_uri, code_challenge, "S256")
    if decision != "approve":
        query = urlencode({"error": "access_denied", "state": state})
    else:
        code = authorize.issue_code(db, me.user.id, client_id, redirect_uri, code_challenge)
        query = urlencode({"code": code, "state": state})
    separator = "&" if "?" in redirect_uri else "?"
    return redirect(request, f"{redirect_uri}{separator}{query}")
