"""How the pages answer a failure: a domain error, a rejected form, nobody signed in.

A domain error raised while a page is served is mapped by the API's one handler
(``keyplane.http.errors``) to the status and message the API would answer; the page
only says how that looks, with an :class:`ErrorPage`: a router sets its pages'
default with :func:`pages_fail_as`, and a form that shows the message beside its
fields narrows it with ``show_errors_as`` just before the step that may fail. Routes
hold no ``try``.

The page is rendered after the request's unit of work has rolled back, so what it
shows must not be read from the database: plain values, given when it is declared.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

from fastapi import Depends, FastAPI, Request
from fastapi.responses import Response
from pydantic import BaseModel, ValidationError

from keyplane.domain.errors import InvalidInput
from keyplane.http.errors import ErrorAnswer, invalid_input, show_errors_as
from keyplane.web.csrf import CsrfRejected
from keyplane.web.pages import LoginRequired, login_redirect, render

M = TypeVar("M", bound=BaseModel)


@dataclass(frozen=True)
class ErrorPage:
    """``template`` with the error's message as ``message_field``, answered with the
    API's status for the error unless ``status`` says otherwise."""

    template: str = "message.html"
    message_field: str = "message"
    status: int | None = None
    context: Mapping[str, Any] = field(default_factory=dict)

    def __call__(self, request: Request, answer: ErrorAnswer) -> Response:
        values = {**self.context, self.message_field: answer.message}
        page = render(request, self.template, values, self.status or answer.status)
        if answer.retry_after is not None:
            page.headers["Retry-After"] = str(answer.retry_after)
        return page


def message_page(title: str, back: str, status: int | None = None, **extra: Any) -> ErrorPage:
    """The message page: a title, what went wrong, and a link back."""
    return ErrorPage(status=status, context={"title": title, "back": back, **extra})


def pages_fail_as(page: ErrorPage) -> Any:
    """A router dependency: its pages show a domain error with ``page``."""

    async def declare(request: Request) -> None:
        show_errors_as(request, page)

    return Depends(declare)


async def _console_page(request: Request) -> None:
    """A failed console action says why, with a way back to the page it came from:
    the organization's tab for an action, the console itself for a tab that failed."""
    back = "/console"
    if request.method != "GET":
        back = "/".join(request.url.path.split("/")[:5])  # /console/orgs/{org}/{tab}
    show_errors_as(request, message_page("That did not work", back, error_role=1))


CONSOLE = Depends(_console_page)
"""The console routers' dependency that shows their failures."""


def form_input(model: type[M], values: Mapping[str, Any]) -> M:
    """``values`` as ``model``; InvalidInput saying what is wrong, for the error page."""
    try:
        return model.model_validate(values)
    except ValidationError as error:
        fields = {".".join(str(p) for p in e["loc"]): e["msg"] for e in error.errors()}
        raise InvalidInput(invalid_input(fields), field_errors=fields) from None


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
