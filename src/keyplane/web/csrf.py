"""CSRF tokens for every form.

A token is an HMAC of the browser's session cookie (signed in) or of a random
pre-session cookie (signed out), so it is useless to any other browser and dies
with the session. SameSite=Lax cookies are a second line, not the only one.

The same browser-bound HMAC signs the note a form leaves for the page it redirects
to ("Member removed."), so that only the browser that acted sees it.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from urllib.parse import urlencode

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


def signed_note(request: Request, name: str, text: str) -> str:
    """A query string carrying ``text`` as ``name`` to the next page (what a form did),
    signed for this browser: a link someone else made cannot put words on the page."""
    return urlencode({name: text, "sig": _note_signature(request, name, text)})


def note_of(request: Request, name: str, text: str, signature: str) -> str:
    """``text`` if :func:`signed_note` signed it for this browser, else nothing."""
    if text and hmac.compare_digest(_note_signature(request, name, text), signature):
        return text
    return ""


def _note_signature(request: Request, name: str, text: str) -> str:
    binding = _binding(request) or ""
    return _sign(web_of(request).csrf_key, f"note\n{binding}\n{name}\n{text}")


def _sign(key: bytes, binding: str) -> str:
    return hmac.new(key, binding.encode(), hashlib.sha256).hexdigest()
