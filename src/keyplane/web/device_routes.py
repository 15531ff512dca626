"""Pages where a signed-in person approves a CLI login: /device and /oauth/authorize."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import urlencode

from fastapi import Form, Request
from fastapi.responses import Response

from keyplane.http.deps import DbSession, client_ip, get_runtime
from keyplane.http.errors import show_errors_as
from keyplane.http.routing import APIRouter
from keyplane.identity import authorize, device, device_limits
from keyplane.oauth.access_tokens import issuer_of
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


def _approver(request: Request, user_id: str) -> device_limits.Approver:
    """The person deciding, for the limit on wrong codes (RFC 8628 §5.1)."""
    return device_limits.Approver(user_id, client_ip(request), get_runtime(request).limiter)


@router.get("/device")
def device_page(request: Request, db: DbSession, user_code: str = "") -> Response:
    me = require_signed_in(request, db)
    if not user_code:
        return render(request, "device_code.html", {})
    show_errors_as(request, _code_form(user_code))
    pending = device.pending(db, user_code, _approver(request, me.user.id))
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
    device.decide(db, user_code, _approver(request, me.user.id), approve=decision == "approve")
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
    """RFC 6749 §4.1.1: ask the signed-in person whether the CLI may act as them.

    Only an invalid client or redirect URI is shown here; any other error goes back to
    the client on its redirect URI (§4.1.2.1).
    """
    show_errors_as(request, message_page("Cannot sign in the CLI", "", error_role=1))
    authorize.check_redirect(client_id, redirect_uri)
    state = state[:500]
    wrong = authorize.request_error(response_type, code_challenge, code_challenge_method)
    if wrong is not None:
        return _respond(
            request, redirect_uri, state, error=wrong.error, error_description=wrong.description
        )
    me = require_signed_in(request, db)
    context = {
        "email": me.user.email,
        "client_id": client_id,
        "redirect_uri": redirect_uri,
        "state": state,
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
    authorize.check_redirect(client_id, redirect_uri)
    wrong = authorize.request_error("code", code_challenge, "S256")
    if wrong is not None:
        return _respond(
            request, redirect_uri, state, error=wrong.error, error_description=wrong.description
        )
    if decision != "approve":
        return _respond(request, redirect_uri, state, error="access_denied")
    code = authorize.issue_code(db, me.user.id, client_id, redirect_uri, code_challenge)
    return _respond(request, redirect_uri, state, code=code)


def _respond(request: Request, redirect_uri: str, state: str, **params: str) -> Response:
    """Back to the client's redirect URI with the authorization response (§4.1.2)."""
    issuer = issuer_of(get_runtime(request).settings)
    return redirect(request, authorize.response_uri(redirect_uri, issuer, state, **params))
