"""CSRF tokens for every form.

A token is an HMAC of the browser's session cookie (signed in) or of a random
pre-session cookie (signed out), so it is useless to any other browser and dies
with the session. SameSite=Lax cookies are a second line, not the only one.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

from fastapi import Request

from keyplane.identity.sessions import cookie_name
from keyplane.web.context import web_of

FIELD = "csrf_token"


class CsrfRejected(Exception):
    """The form carried no token or a wrong one."""


def anon_cookie_name(request: Request) -> str:
    return "__Host-keyplane_csrf" if web_of(request).settings.cookie_secure else "keyplane_csrf"


def _binding(request: Request) -> str | None:
    settings = web_of(request).settings
    return request.cookies.get(cookie_name(settings)) or request.cookies.get(
        anon_cookie_name(request)
    )


def csrf_token(request: Request) -> str:
    """The token to put in a form; sets up a pre-session cookie when there is none."""
    binding = getattr(request.state, "csrf_binding", None) or _binding(request)
    if binding is None:
        binding = secrets.token_urlsafe(32)
        request.state.new_csrf_cookie = binding
    request.state.csrf_binding = binding
    return _sign(web_of(request).csrf_key, binding)


def use_binding(request: Request, binding: str) -> None:
    """Forms rendered later in this request belong to ``binding`` (a new session)."""
    request.state.csrf_binding = binding


def verify(request: Request, token: str | None) -> None:
    binding = _binding(request)
    if not token or binding is None:
        raise CsrfRejected
    if not hmac.compare_digest(_sign(web_of(request).csrf_key, binding), token):
        raise CsrfRejected


def _sign(key: bytes, binding: str) -> str:
    return hmac.new(key, binding.encode(), hashlib.sha256).hexdigest()
