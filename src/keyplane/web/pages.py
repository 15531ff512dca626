"""Rendering pages: templates, security headers, cookies, the signed-in user."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, TypeVar
from urllib.parse import quote

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy.orm import Session

from keyplane.db.unit import unit_of_work
from keyplane.identity.sessions import (
    SignedIn,
    cookie_name,
    end_expired_session,
    resume_session,
    touch_due,
    touch_session,
)
from keyplane.web.context import web_of
from keyplane.web.csrf import anon_cookie_name, csrf_token

R = TypeVar("R", bound=Response)

SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; "
    "frame-ancestors 'none'; base-uri 'none'; object-src 'none'",
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    # Pages show per-user data and, once, new secrets: never keep them in a cache.
    "Cache-Control": "no-store",
}


@dataclass(frozen=True)
class Me:
    """Who is signed in, as every page's header shows it. Plain values: an error page
    is rendered after the request's unit of work has ended."""

    email: str


class LoginRequired(Exception):
    """Raised by a console page when nobody is signed in; answered with a redirect."""

    def __init__(self, next_path: str) -> None:
        self.next_path = next_path


def safe_next(value: str | None) -> str:
    """A same-site path to go to after sign-in; anything else becomes the console."""
    if value and value.startswith("/") and not value.startswith(("//", "/\\")):
        return value
    return "/console"


def signed_in(request: Request, db: Session) -> SignedIn | None:
    cached: SignedIn | None = getattr(request.state, "signed_in", None)
    if cached is None:
        web = web_of(request)
        value = request.cookies.get(cookie_name(web.settings))
        cached = resume_session(db, web.settings, value)
        if cached is None and value:
            # Its own unit: a page that needs a sign-in raises, rolling its own back.
            with unit_of_work(web.runtime.sessions) as own:
                end_expired_session(own, web.settings, value)
        elif cached is not None and touch_due(cached.session):
            # Its own unit too: a page that only reads (any GET) cannot write in its own.
            with unit_of_work(web.runtime.sessions) as own:
                touch_session(own, cached.session.id)
        request.state.signed_in = cached
        request.state.me = Me(cached.user.email) if cached else None
    return cached


def require_signed_in(request: Request, db: Session) -> SignedIn:
    found = signed_in(request, db)
    if found is None:
        path = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        raise LoginRequired(path)
    # The audit middleware records the signed-in person as the actor of what follows.
    request.state.principal = found.principal
    return found


def render(
    request: Request, template: str, context: dict[str, Any] | None = None, status: int = 200
) -> HTMLResponse:
    web = web_of(request)
    values = {
        "csrf_token": csrf_token(request),
        "me": getattr(request.state, "me", None),
        **(context or {}),
    }
    # Rendered here rather than with TemplateResponse: that one sends an extra ASGI
    # "http.response.debug" message under the test client, which middlewares need not expect.
    html = web.templates.env.get_template(template).render({"request": request, **values})
    return finish(request, HTMLResponse(html, status_code=status))


def redirect(request: Request, url: str) -> RedirectResponse:
    return finish(request, RedirectResponse(url, status_code=303))


def finish(request: Request, response: R) -> R:
    response.headers.update(SECURITY_HEADERS)
    new_anon = getattr(request.state, "new_csrf_cookie", None)
    if new_anon:
        set_cookie(request, response, anon_cookie_name(request), new_anon)
    return response


def set_cookie(request: Request, response: Response, name: str, value: str) -> None:
    response.set_cookie(
        name,
        value,
        path="/",
        secure=web_of(request).settings.cookie_secure,
        httponly=True,
        samesite="lax",
    )


def login_redirect(request: Request, next_path: str) -> RedirectResponse:
    return redirect(request, f"/login?next={quote(next_path, safe='/')}")
