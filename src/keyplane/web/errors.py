"""How the pages answer a rejected form or a visitor who is not signed in."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.responses import Response

from keyplane.web.csrf import CsrfRejected
from keyplane.web.pages import LoginRequired, login_redirect, render


async def _csrf_rejected(request: Request, exc: Exception) -> Response:
    message = (
        "This form has expired or did not come from keyplane. "
        "Go back, reload the page and try again."
    )
    return render(request, "message.html", {"title": "Form rejected", "message": message}, 403)


async def _login_required(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, LoginRequired)
    return login_redirect(request, exc.next_path)


def install(app: FastAPI) -> None:
    app.add_exception_handler(CsrfRejected, _csrf_rejected)
    app.add_exception_handler(LoginRequired, _login_required)
